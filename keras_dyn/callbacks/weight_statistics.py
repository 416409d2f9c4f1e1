"""WeightStatistics: weight histograms, the per-epoch update norm ||Δw|| and ratio ||Δw|| / ||w||."""

from __future__ import annotations

import numpy as np

from keras_dyn.callbacks._summaries import sig
from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.recording import variable_names


class WeightStatistics(DiagnosticCallback):
    """Weight histograms and how far each variable moved, per epoch.

    Every ``every`` epochs (epochs ``every``, ``2*every``, ... and the last one; see
    :mod:`keras_dyn.callbacks.base` for the epoch convention) writes to ``<log_dir>/train``, at
    step = epoch:

    - histograms ``weights/<layer>/<kernel|bias>``;
    - ``update_ratio/<layer>/<kernel|bias>`` = ``||w_now - w_then|| / ||w_then||`` where
      ``w_then`` is the variable at the previous recording (at the start of training for the
      first one), so with ``every = 1`` it is the relative change over one epoch. A variable
      that was exactly zero (Keras initialises biases to zero) is divided by its norm after the
      move instead, so its first ratio is 1.0 (or 0.0 if it did not move);
    - ``update_norm/<layer>/<kernel|bias>`` = ``||w_now - w_then||``: the size of the step the
      optimiser actually took over the interval (the net displacement, summed over its updates),
      whatever the raw gradient was; beside the gradient norms it shows what an adaptive
      optimiser's rescaling does to each layer.

    Only trainable variables are followed (kernels, biases, a normalisation layer's gamma and
    beta): non-trainable state such as BatchNormalization's moving mean and variance is not
    moved by the optimiser and is skipped; the table then lists it under ``skipped``.

    Epoch 0 is not a row of its own (a ratio needs a previous state); the norms at the start are
    kept in ``initial_norm``. Non-finite weights (a diverged run) give NaN norms and ratios and a
    histogram of the finite values only. The learning rate is not repeated here:
    :class:`~keras_dyn.callbacks.epoch_recorder.EpochRecorder` writes ``epoch_learning_rate``.

    ``results()`` (``results_key = "weights"``): ``variables``, ``epoch``, ``initial_norm`` (per
    variable, ``||w||`` before training), ``sizes`` (entries per variable) and per variable
    ``update_ratio``, ``update_norm`` and ``norm`` (``||w||`` at the recorded epoch), one item
    per recorded epoch.

    Args:
        log_dir: the run folder (``None``: results only).
        every: epochs between recordings.
        histograms: write the weight histograms.
        subdir: sub-folder of ``log_dir`` for the summaries.

    Example:
        >>> weights = WeightStatistics("modellogs/demo/run1")
        >>> model.fit(x, y, epochs=5, callbacks=[weights])
        >>> weights.results()["update_ratio"]["hidden1/kernel"]   # epochs 1..5
    """

    results_key = "weights"

    def __init__(self, log_dir=None, every: int = 1, histograms: bool = True, subdir: str = "train"):
        super().__init__(log_dir, every=every, subdir=subdir)
        self.histograms = histograms

    def setup(self):
        self.names = variable_names(self.model)
        self._previous = [np.array(w.numpy()) for w in self.model.trainable_weights]
        trainable = {id(w) for w in self.model.trainable_weights}
        skipped = [w.path for w in self.model.weights if id(w) not in trainable]
        return {"variables": list(self.names), **({"skipped": skipped} if skipped else {}),
                "initial_norm": {n: sig(_norm(w)) for n, w in zip(self.names, self._previous)},
                "sizes": {n: int(w.size) for n, w in zip(self.names, self._previous)},
                "update_ratio": {n: [] for n in self.names},
                "update_norm": {n: [] for n in self.names},
                "norm": {n: [] for n in self.names}}

    def record(self, epoch, logs):
        now = [np.array(w.numpy()) for w in self.model.trainable_weights]
        values = {"update_ratio": {}, "update_norm": {}, "norm": {}}
        scalars, hists = {}, {}
        for name, w, w0 in zip(self.names, now, self._previous):
            ratio = update_ratio(w0, w)
            moved = update_norm(w0, w)
            values["update_ratio"][name] = sig(ratio)
            values["update_norm"][name] = sig(moved)
            values["norm"][name] = sig(_norm(w))
            scalars[f"update_ratio/{name}"] = ratio
            scalars[f"update_norm/{name}"] = moved
            if self.histograms:
                hists[f"weights/{name}"] = w
        self._previous = now
        return Record(values, scalars, hists)

    def teardown(self):
        self._previous = None


def update_ratio(before, after) -> float:
    """``||after - before|| / ||before||`` (``/ ||after||`` if ``before`` is all zero); NaN
    when either holds a non-finite value."""
    before = np.asarray(before, np.float64)
    after = np.asarray(after, np.float64)
    if not (np.all(np.isfinite(before)) and np.all(np.isfinite(after))):
        return float("nan")
    base = np.linalg.norm(before)
    if base == 0:  # zero-initialised (biases): divide by the norm after the move
        base = np.linalg.norm(after)
    moved = np.linalg.norm(after - before)
    return float(moved / base) if base > 0 else 0.0


def update_norm(before, after) -> float:
    """``||after - before||`` (L2 over all entries); NaN when either holds a non-finite value."""
    before = np.asarray(before, np.float64)
    after = np.asarray(after, np.float64)
    if not (np.all(np.isfinite(before)) and np.all(np.isfinite(after))):
        return float("nan")
    return float(np.linalg.norm(after - before))


def _norm(w) -> float:
    w = np.asarray(w, np.float64)
    return float(np.linalg.norm(w)) if np.all(np.isfinite(w)) else float("nan")
