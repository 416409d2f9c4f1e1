"""ShiftedTestAccuracy: test accuracy under controlled input shifts, every k epochs."""

from __future__ import annotations

import numpy as np

from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.models import class_probabilities


class ShiftedTestAccuracy(DiagnosticCallback):
    """Test accuracy under each shift and severity (see :mod:`keras_dyn.data.shifts`).

    The shifted test sets are built once, in ``on_train_begin``, from a fixed seeded subset of at
    most ``max_examples`` test images; the same subset unshifted gives the reference
    ``clean_accuracy``. Every ``every`` epochs (epochs ``every``, ``2*every``, ... and always
    the last one; see :mod:`keras_dyn.callbacks.base`) the model is evaluated on all of them.

    TensorBoard (in ``<log_dir>/<subdir>``, step = epoch, from 1):
    ``shift/<kind>/s<severity>/accuracy``, ``shift/mean_accuracy`` (mean over all kinds and
    severities) and ``shift/clean_accuracy``.

    :meth:`results` returns ``kinds``, ``severities``, ``epoch`` (the evaluated epochs),
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
        super().__init__(log_dir, every=every, subdir=subdir)
        from keras_dyn.data.shifts import SHIFTS

        self.x_test, self.y_test = x_test, y_test
        self.kinds = tuple(kinds) if kinds else SHIFTS
        self.severities = tuple(int(s) for s in severities)
        self.seed = seed
        self.max_examples = int(max_examples)
        self.value_range = tuple(value_range)
        self.batch_size = batch_size

    def setup(self):
        from keras_dyn.data.shifts import apply_shift

        x, y = np.asarray(self.x_test), np.asarray(self.y_test).astype(np.int64)
        if self.max_examples and len(x) > self.max_examples:
            idx = np.sort(np.random.default_rng(self.seed).choice(len(x), self.max_examples, replace=False))
            x, y = x[idx], y[idx]
        self._x, self._y = x, y
        self._shifted = {(kind, s): apply_shift(x, kind, s, seed=self.seed, value_range=self.value_range)
                         for kind in self.kinds for s in self.severities}
        self._last = {}
        return {"kinds": list(self.kinds), "severities": list(self.severities),
                "clean_accuracy": [], "mean_accuracy": [],
                "accuracy": {k: {f"s{s}": [] for s in self.severities} for k in self.kinds}}

    def _accuracy(self, x):
        probs = class_probabilities(self.model.predict(x, batch_size=self.batch_size, verbose=0))
        return float(np.mean(np.argmax(np.asarray(probs), axis=-1) == self._y))

    def record(self, epoch, logs):
        clean = self._accuracy(self._x)
        accs = {key: self._accuracy(xs) for key, xs in self._shifted.items()}
        mean = float(np.mean(list(accs.values()))) if accs else float("nan")
        self._last = {"epoch": epoch, "clean": clean, "mean": mean, "accs": accs}
        values = {"clean_accuracy": clean, "mean_accuracy": mean,
                  "accuracy": {k: {f"s{s}": accs[(k, s)] for s in self.severities} for k in self.kinds}}
        scalars = {f"shift/{kind}/s{s}/accuracy": acc for (kind, s), acc in accs.items()}
        scalars.update({"shift/mean_accuracy": mean, "shift/clean_accuracy": clean})
        return Record(values, scalars)

    def teardown(self):
        self._shifted = self._x = self._y = None

    def results(self) -> dict:
        """Per-evaluation history plus the final table (see the class doc)."""
        out = super().results()
        if out and self._last:
            accs = self._last["accs"]
            out["final"] = {k: [accs[(k, s)] for s in self.severities] for k in self.kinds}
            out["final_mean"] = self._last["mean"]
            out["final_clean"] = self._last["clean"]
            out["final_mean_by_severity"] = [float(np.mean([accs[(k, s)] for k in self.kinds]))
                                             for s in self.severities]
        return out
