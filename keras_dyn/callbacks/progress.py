"""Progress: one line per epoch, with where the whole experiment stands and an ETA."""

from __future__ import annotations

import sys
import time

import keras


class Progress(keras.callbacks.Callback):
    """Prints ``[run k/n name] epoch e/E loss .. acc .. val .. test .. 3.1s  ETA run 20s, all 4m``.

    ``loss`` and ``acc`` are the epoch-end training numbers (``train_loss``/``train_accuracy``,
    put in the logs by :class:`~keras_dyn.callbacks.epoch_recorder.EpochRecorder`), else Keras's
    running means.

    Args:
        run_index: 1-based index of this run in the experiment.
        run_count: number of runs in the experiment.
        run_name: readable run name.
        remaining_epochs_after: epochs of the runs still to come after this one (for the ETA).
        stream: where to print (default stderr).

    Example:
        >>> model.fit(x, y, epochs=5, verbose=0, callbacks=[Progress(1, 3, "w64-64_bs64_s0", 10)])
    """

    def __init__(self, run_index, run_count, run_name, remaining_epochs_after=0, stream=None):
        super().__init__()
        self.run_index, self.run_count, self.run_name = run_index, run_count, run_name
        self.remaining_epochs_after = remaining_epochs_after
        self.stream = stream

    def on_train_begin(self, logs=None):
        self._epoch_times = []
        self._epochs = self.params.get("epochs", 0) if self.params else 0
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = time.perf_counter() - self._t0
        self._epoch_times.append(elapsed)
        per_epoch = sum(self._epoch_times) / len(self._epoch_times)
        left_run = per_epoch * (self._epochs - epoch - 1)
        left_all = left_run + per_epoch * self.remaining_epochs_after
        parts = [f"[run {self.run_index}/{self.run_count} {self.run_name}]",
                 f"epoch {epoch + 1}/{self._epochs}"]
        # the epoch-end training numbers (EpochRecorder puts them in logs), else Keras's running means
        for keys, label in ((("train_loss", "loss"), "loss"), (("train_accuracy", "accuracy"), "acc"),
                            (("val_accuracy",), "val_acc"), (("test_accuracy",), "test_acc")):
            key = next((k for k in keys if k in logs), None)
            if key is not None:
                parts.append(f"{label} {float(logs[key]):.4f}")
        parts.append(f"{elapsed:.1f}s")
        parts.append(f"ETA run {_fmt(left_run)}, all {_fmt(left_all)}")
        print("  ".join(parts), file=self.stream or sys.stderr, flush=True)


def _fmt(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
