"""WeightStatistics: weight histograms and the per-epoch update ratio ||Δw|| / ||w||."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_dyn.callbacks._summaries import sig, write_row
from keras_dyn.recording import variable_names


class WeightStatistics(keras.callbacks.Callback):
    """Weight histograms and how far each variable moved, per epoch.

    Every ``every`` epochs (and at the last epoch) writes to ``<log_dir>/train``:

    - histograms ``weights/<layer>/<kernel|bias>`` (step = epoch);
    - ``update_ratio/<layer>/<kernel|bias>`` = ``||w_now - w_then|| / ||w_then||`` where
      ``w_then`` is the variable at the previous recording (at the start of training for the
      first one), so with ``every = 1`` it is the relative change over one epoch. A variable
      that was exactly zero (Keras initialises biases to zero) is divided by its norm after the
      move instead, so its first ratio is 1.0 (or 0.0 if it did not move).

    The learning rate is not repeated here: Keras's TensorBoard callback writes
    ``epoch_learning_rate``.

    ``results()`` (``results_key = "weights"``): ``variables``, ``epoch`` and per variable
    ``update_ratio`` and ``norm`` (``||w||`` after the epoch), one item per recorded epoch.

    Args:
        log_dir: the run folder (``None``: results only).
        every: epochs between recordings.
        histograms: write the weight histograms.
        subdir: sub-folder of ``log_dir`` for the summaries.

    Example:
        >>> weights = WeightStatistics("modellogs/demo/run1")
        >>> model.fit(x, y, epochs=5, callbacks=[weights])
        >>> weights.results()["update_ratio"]["hidden1/kernel"]
    """

    results_key = "weights"

    def __init__(self, log_dir=None, every: int = 1, histograms: bool = True, subdir: str = "train"):
        super().__init__()
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.every = max(int(every), 1)
        self.histograms = histograms
        self.subdir = subdir

    def on_train_begin(self, logs=None):
        self.names = variable_names(self.model)
        self._previous = [np.array(w.numpy()) for w in self.model.trainable_weights]
        self._writer = (tf.summary.create_file_writer(str(self.log_dir / self.subdir))
                        if self.log_dir is not None else None)
        self._last_epoch = self.params.get("epochs", 0) - 1
        self._results = {"variables": list(self.names), "epoch": [],
                         "update_ratio": {n: [] for n in self.names},
                         "norm": {n: [] for n in self.names}}

    def on_epoch_end(self, epoch, logs=None):
        if epoch % self.every and epoch != self._last_epoch:
            return
        now = [np.array(w.numpy()) for w in self.model.trainable_weights]
        self._results["epoch"].append(int(epoch))
        scalars, hists = {}, {}
        for name, w, w0 in zip(self.names, now, self._previous):
            base = np.linalg.norm(w0.astype(np.float64))
            if base == 0:  # zero-initialised (biases): divide by the norm after the move
                base = np.linalg.norm(w.astype(np.float64))
            moved = np.linalg.norm((w.astype(np.float64) - w0))
            ratio = float(moved / base) if base > 0 else 0.0
            self._results["update_ratio"][name].append(sig(ratio))
            self._results["norm"][name].append(sig(np.linalg.norm(w.astype(np.float64))))
            scalars[f"update_ratio/{name}"] = ratio
            if self.histograms:
                hists[f"weights/{name}"] = w
        if self._writer is not None:
            write_row(self._writer, epoch, scalars, hists)
            self._writer.flush()
        self._previous = now

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def results(self) -> dict:
        return self._results
