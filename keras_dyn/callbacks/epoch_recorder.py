"""EpochRecorder: the per-epoch numbers every run keeps (loss, accuracy, test metrics, time, lr)."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf


class EpochRecorder(keras.callbacks.Callback):
    """Records train/validation/test loss and accuracy, learning rate and wall time per epoch.

    The test set is evaluated at the end of every epoch (so that "accuracy after 3 epochs" can be
    read from a 10-epoch run) and written as ``epoch_loss`` / ``epoch_accuracy`` under
    ``<log_dir>/test``, beside the ``train`` and ``validation`` runs that Keras's own TensorBoard
    callback writes, so TensorBoard overlays all three. ``epoch_seconds`` goes to
    ``<log_dir>/train``. ``test_loss`` and ``test_accuracy`` are also added to the epoch's
    ``logs`` so callbacks after this one (progress output) can show them.

    Args:
        x_test, y_test: the test set (never used for any decision, only reported).
        log_dir: the run folder; ``None`` writes no summaries.
        batch_size: batch size for evaluating the test set.

    Example:
        >>> rec = EpochRecorder(x_test, y_test, log_dir="modellogs/demo/run")
        >>> model.fit(x, y, epochs=3, callbacks=[rec])
        >>> rec.history["test_accuracy"]
    """

    results_key = "epochs"

    def __init__(self, x_test=None, y_test=None, log_dir=None, batch_size=1024):
        super().__init__()
        self.x_test = x_test
        self.y_test = y_test
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.batch_size = batch_size

    def on_train_begin(self, logs=None):
        self.history = {key: [] for key in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                                            "test_loss", "test_accuracy", "learning_rate", "seconds")}
        self._test_writer = self._train_writer = None
        if self.log_dir is not None:
            self._train_writer = tf.summary.create_file_writer(str(self.log_dir / "train"))
            if self.x_test is not None:
                self._test_writer = tf.summary.create_file_writer(str(self.log_dir / "test"))
        self._epoch_start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._epoch_start  # training + validation, not the test pass
        logs = logs if logs is not None else {}
        if self.x_test is not None and len(self.x_test):
            test_loss, test_acc = self._evaluate_test()
            logs["test_loss"], logs["test_accuracy"] = test_loss, test_acc
        h = self.history
        h["epoch"].append(epoch + 1)
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"):
            if key in logs:
                h[key].append(float(logs[key]))
        h["learning_rate"].append(_current_lr(self.model.optimizer))
        h["seconds"].append(seconds)
        logs["epoch_seconds"] = seconds
        if self._train_writer is not None:
            with self._train_writer.as_default():
                tf.summary.scalar("epoch_seconds", seconds, step=epoch)
            self._train_writer.flush()
        if self._test_writer is not None and "test_loss" in logs:
            with self._test_writer.as_default():
                tf.summary.scalar("epoch_loss", logs["test_loss"], step=epoch)
                tf.summary.scalar("epoch_accuracy", logs["test_accuracy"], step=epoch)
            self._test_writer.flush()

    def on_train_end(self, logs=None):
        for writer in (self._train_writer, self._test_writer):
            if writer is not None:
                writer.close()

    def _evaluate_test(self):
        probs = self.model.predict(self.x_test, batch_size=self.batch_size, verbose=0)
        probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
        y = np.asarray(self.y_test).astype(np.int64)
        loss = float(-np.mean(np.log(probs[np.arange(len(y)), y])))
        acc = float(np.mean(np.argmax(probs, axis=1) == y))
        return loss, acc

    def results(self) -> dict:
        return {k: v for k, v in self.history.items() if v}


def _current_lr(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(lr))
