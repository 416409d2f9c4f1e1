"""ShiftedTestAccuracy: test accuracy under controlled input shifts, every k epochs."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf


class ShiftedTestAccuracy(keras.callbacks.Callback):
    """Test accuracy under each shift and severity (see :mod:`keras_dyn.data.shifts`).

    The shifted test sets are built once, in ``on_train_begin``, from a fixed seeded subset of at
    most ``max_examples`` test images; the same subset unshifted gives the reference
    ``clean_accuracy``. Every ``every`` epochs (and always after the last epoch) the model is
    evaluated on all of them.

    TensorBoard (in ``<log_dir>/<subdir>``, step = epoch index from 0):
    ``shift/<kind>/s<severity>/accuracy``, ``shift/mean_accuracy`` (mean over all kinds and
    severities) and ``shift/clean_accuracy``.

    :meth:`results` returns ``kinds``, ``severities``, ``epoch`` (the evaluated epochs, from 1),
    per evaluated epoch ``clean_accuracy``, ``mean_accuracy`` and ``accuracy.<kind>.s<sev>``, and
    the final table: ``final.<kind>`` = accuracy per severity at the last evaluation,
    ``final_mean``, ``final_clean`` and ``final_mean_by_severity``.

    Args:
        x_test, y_test: clean test images ``(N, H, W)`` and labels.
        kinds: shift names (default: all of ``keras_dyn.data.shifts.SHIFTS``).
        severities: severities to evaluate (default 1, 2, 3).
        every: evaluate every this many epochs (the last epoch is always evaluated).
        seed: seed of the test subset and of the shifts.
        max_examples: size cap of the test subset (0 = the whole test set).
        value_range: ``(low, high)`` of the pixel values (``Dataset.value_range``).
        log_dir: the run folder; ``None`` writes no summaries.
        subdir: subfolder of ``log_dir`` for the summaries (default ``"train"``).
        batch_size: prediction batch size.

    Example:
        >>> shift = ShiftedTestAccuracy(ds.x_test, ds.y_test, kinds=("rotation", "blur"),
        ...                             every=5, value_range=ds.value_range, log_dir=run_dir)
        >>> model.fit(ds.x_train, ds.y_train, epochs=20, callbacks=[shift])
        >>> shift.results()["final"]["rotation"]   # accuracy at severities 1, 2, 3
    """

    results_key = "shifts"

    def __init__(self, x_test, y_test, kinds=None, severities=(1, 2, 3), every=1, seed=0,
                 max_examples=2000, value_range=(0.0, 1.0), log_dir=None, subdir="train",
                 batch_size=1024):
        super().__init__()
        from keras_dyn.data.shifts import SHIFTS

        self.x_test, self.y_test = x_test, y_test
        self.kinds = tuple(kinds) if kinds else SHIFTS
        self.severities = tuple(int(s) for s in severities)
        self.every = max(1, int(every))
        self.seed = seed
        self.max_examples = int(max_examples)
        self.value_range = tuple(value_range)
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.subdir = subdir
        self.batch_size = batch_size

    def on_train_begin(self, logs=None):
        from keras_dyn.data.shifts import apply_shift

        x, y = np.asarray(self.x_test), np.asarray(self.y_test).astype(np.int64)
        if self.max_examples and len(x) > self.max_examples:
            idx = np.sort(np.random.default_rng(self.seed).choice(len(x), self.max_examples, replace=False))
            x, y = x[idx], y[idx]
        self._x, self._y = x, y
        self._shifted = {(kind, s): apply_shift(x, kind, s, seed=self.seed, value_range=self.value_range)
                         for kind in self.kinds for s in self.severities}
        self.history = {"epoch": [], "clean_accuracy": [], "mean_accuracy": [],
                        "accuracy": {k: {f"s{s}": [] for s in self.severities} for k in self.kinds}}
        self._last = {}
        self._writer = None
        if self.log_dir is not None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir / self.subdir))

    def _accuracy(self, x):
        probs = self.model.predict(x, batch_size=self.batch_size, verbose=0)
        return float(np.mean(np.argmax(np.asarray(probs), axis=-1) == self._y))

    def on_epoch_end(self, epoch, logs=None):
        last_epoch = (self.params or {}).get("epochs")
        if (epoch + 1) % self.every != 0 and (last_epoch is None or epoch + 1 != last_epoch):
            return
        self._evaluate(epoch)

    def _evaluate(self, epoch):
        clean = self._accuracy(self._x)
        accs = {key: self._accuracy(xs) for key, xs in self._shifted.items()}
        mean = float(np.mean(list(accs.values()))) if accs else float("nan")
        h = self.history
        h["epoch"].append(epoch + 1)
        h["clean_accuracy"].append(clean)
        h["mean_accuracy"].append(mean)
        for (kind, s), acc in accs.items():
            h["accuracy"][kind][f"s{s}"].append(acc)
        self._last = {"epoch": epoch, "clean": clean, "mean": mean, "accs": accs}
        if self._writer is not None:
            with self._writer.as_default():
                for (kind, s), acc in accs.items():
                    tf.summary.scalar(f"shift/{kind}/s{s}/accuracy", acc, step=epoch)
                tf.summary.scalar("shift/mean_accuracy", mean, step=epoch)
                tf.summary.scalar("shift/clean_accuracy", clean, step=epoch)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()

    def results(self) -> dict:
        """Per-evaluation history plus the final table (see the class doc)."""
        if not hasattr(self, "history"):
            return {}
        out = {"kinds": list(self.kinds), "severities": list(self.severities),
               "epoch": list(self.history["epoch"]),
               "clean_accuracy": list(self.history["clean_accuracy"]),
               "mean_accuracy": list(self.history["mean_accuracy"]),
               "accuracy": {k: {s: list(v) for s, v in d.items()} for k, d in self.history["accuracy"].items()}}
        if self._last:
            accs = self._last["accs"]
            out["final"] = {k: [accs[(k, s)] for s in self.severities] for k in self.kinds}
            out["final_mean"] = self._last["mean"]
            out["final_clean"] = self._last["clean"]
            out["final_mean_by_severity"] = [float(np.mean([accs[(k, s)] for k in self.kinds]))
                                             for s in self.severities]
        return out
