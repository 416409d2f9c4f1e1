"""NoisyLabelGap: how much of the label noise a network memorises, epoch by epoch."""

from __future__ import annotations

import numpy as np

from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.models import class_probabilities

TAGS = ("clean_acc", "memorised_acc", "corrupted_true_acc", "train_acc", "val_acc", "test_acc", "gap")


class NoisyLabelGap(DiagnosticCallback):
    """Per-epoch accuracies that separate learning from memorising under label noise.

    At the end of every epoch (model in inference mode) it measures, on the training set:

    - ``clean_acc``: accuracy on the examples whose label was not corrupted;
    - ``memorised_acc``: accuracy on the corrupted examples *against the noisy labels* they were
      trained on (how much noise has been fitted);
    - ``corrupted_true_acc``: accuracy on the same corrupted examples against their *true* labels
      (how much the network still generalises on them);
    - ``train_acc``: accuracy on all training examples against the labels trained on;

    and ``val_acc``, ``test_acc`` (clean labels) and ``gap = train_acc - test_acc``.

    Measured after every epoch (``every = 1``; see :mod:`keras_dyn.callbacks.base` for the
    epoch convention). Scalars go to TensorBoard as ``noisy/<name>`` in ``<log_dir>/<subdir>``
    (step = epoch, from 1) and :meth:`results` returns ``epoch`` and one list per name.
    Quantities with no examples (e.g. ``memorised_acc`` when nothing is corrupted) are NaN in
    the results and not written to TensorBoard. A diverged network predicts class 0 for every
    example (``argmax`` of NaN): its accuracies are recorded as measured.

    For speed every set is evaluated with ``model.predict`` on a fixed, seeded random subset of
    at most ``max_examples`` examples (chosen once, in ``on_train_begin``); ``train_acc``'s
    subset is the union of the clean and corrupted ones. ``train_acc`` here is therefore an
    end-of-epoch, inference-mode number, unlike the running average in Keras's ``accuracy``.

    Args:
        x_train: training inputs.
        y_train: the labels the model is trained on (possibly noisy).
        y_train_clean: the labels before noise.
        corrupted: boolean mask over the training set, True where the label was corrupted.
        x_val, y_val: validation set (may be ``None`` or empty).
        x_test, y_test: test set (may be ``None`` or empty).
        log_dir: the run folder; ``None`` writes no summaries.
        subdir: subfolder of ``log_dir`` for the summaries (default ``"train"``).
        max_examples: cap per evaluated subset (clean train, corrupted train, val, test); 0 = all.
        seed: seed of the subset choice.
        batch_size: prediction batch size.

    Example:
        >>> gap = NoisyLabelGap(ds.x_train, ds.y_train, ds.y_train_clean, ds.corrupted,
        ...                     ds.x_val, ds.y_val, ds.x_test, ds.y_test, log_dir=run_dir)
        >>> model.fit(ds.x_train, ds.y_train, epochs=20, callbacks=[gap])
        >>> gap.results()["memorised_acc"][-1]
    """

    results_key = "noisy_labels"

    def __init__(self, x_train, y_train, y_train_clean, corrupted, x_val=None, y_val=None,
                 x_test=None, y_test=None, log_dir=None, subdir="train", max_examples=5000,
                 seed=0, batch_size=1024):
        super().__init__(log_dir, every=1, subdir=subdir)
        self.x_train, self.y_train = x_train, y_train
        self.y_train_clean, self.corrupted = y_train_clean, corrupted
        self.x_val, self.y_val = x_val, y_val
        self.x_test, self.y_test = x_test, y_test
        self.max_examples = int(max_examples)
        self.seed = seed
        self.batch_size = batch_size

    def setup(self):
        rng = np.random.default_rng(self.seed)
        corrupted = np.asarray(self.corrupted, dtype=bool)
        y_noisy = np.asarray(self.y_train).astype(np.int64)
        y_true = np.asarray(self.y_train_clean).astype(np.int64)
        clean_idx = self._cap(np.flatnonzero(~corrupted), rng)
        bad_idx = self._cap(np.flatnonzero(corrupted), rng)
        idx = np.concatenate([clean_idx, bad_idx])
        self._train = (np.asarray(self.x_train)[idx], y_noisy[idx], y_true[idx],
                       np.concatenate([np.zeros(len(clean_idx), bool), np.ones(len(bad_idx), bool)]))
        self._val = self._capped_set(self.x_val, self.y_val, rng)
        self._test = self._capped_set(self.x_test, self.y_test, rng)
        return {name: [] for name in TAGS}

    def _cap(self, idx, rng):
        if self.max_examples and len(idx) > self.max_examples:
            idx = np.sort(rng.choice(idx, size=self.max_examples, replace=False))
        return idx

    def _capped_set(self, x, y, rng):
        if x is None or y is None or len(x) == 0:
            return None
        idx = self._cap(np.arange(len(x)), rng)
        return np.asarray(x)[idx], np.asarray(y).astype(np.int64)[idx]

    def _predict(self, x):
        probs = class_probabilities(self.model.predict(x, batch_size=self.batch_size, verbose=0))
        return np.argmax(np.asarray(probs), axis=-1)

    def record(self, epoch, logs):
        x, y_noisy, y_true, bad = self._train
        pred = self._predict(x) if len(x) else np.zeros(0, int)
        values = {
            "clean_acc": _acc(pred[~bad], y_noisy[~bad]),
            "memorised_acc": _acc(pred[bad], y_noisy[bad]),
            "corrupted_true_acc": _acc(pred[bad], y_true[bad]),
            "train_acc": _acc(pred, y_noisy),
            "val_acc": _acc(self._predict(self._val[0]), self._val[1]) if self._val else float("nan"),
            "test_acc": _acc(self._predict(self._test[0]), self._test[1]) if self._test else float("nan"),
        }
        values["gap"] = values["train_acc"] - values["test_acc"]
        scalars = {f"noisy/{name}": values[name] for name in TAGS if np.isfinite(values[name])}
        return Record(values, scalars)

    def teardown(self):
        self._train = self._val = self._test = None

    def results(self) -> dict:
        """``{"epoch": [1, 2, ...], "clean_acc": [...], ..., "gap": [...]}`` (see the class doc)."""
        return super().results()


def _acc(pred, y) -> float:
    return float(np.mean(pred == y)) if len(y) else float("nan")
