"""EpochRecorder: the per-epoch numbers every run keeps (loss, accuracy, test metrics, time, lr)."""

from __future__ import annotations

import time

import keras
import numpy as np

from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.models import class_probabilities

#: logs keys that are not metrics of the model (never written as ``epoch_<key>``)
_NOT_METRICS = ("test_loss", "test_accuracy", "epoch_seconds", "epoch_cpu_seconds", "learning_rate",
                "train_loss", "train_accuracy")


class EpochRecorder(DiagnosticCallback):
    """Records train/validation/test loss and accuracy, learning rate and time, every epoch.

    The test set is evaluated at the end of every epoch (so that "accuracy after 3 epochs" can be
    read from a 10-epoch run), and so is a fixed subset of the training set (``x_train_eval``,
    drawn once per run): ``train_loss`` and ``train_accuracy`` are measured with the end-of-epoch
    weights, like the validation and test numbers, so a train-test gap compares like with like.
    Keras's own training numbers, running means over the epoch's batches (each batch measured
    before its update, so biased towards the weights of mid-epoch), are kept as
    ``train_loss_running`` and ``train_accuracy_running``. This callback writes the run's
    epoch-level TensorBoard scalars, at step = epoch (1-based, see
    :mod:`keras_dyn.callbacks.base`), with the tag names of Keras's own
    ``keras.callbacks.TensorBoard`` (which numbers from 0 and is therefore not used):

    - ``<log_dir>/train``: ``epoch_loss`` and ``epoch_accuracy`` (the end-of-epoch evaluation on
      the training subset; Keras's running means when there is no subset),
      ``epoch_loss_running`` and ``epoch_accuracy_running`` (Keras's running means; any other
      training metric in the logs as ``epoch_<metric>``), ``epoch_learning_rate`` (the rate in
      force at the end of the epoch), ``epoch_seconds`` (wall) and ``epoch_cpu_seconds``
      (process CPU time);
    - ``<log_dir>/validation``: ``epoch_<metric>`` for each ``val_<metric>``;
    - ``<log_dir>/test``: ``epoch_loss``, ``epoch_accuracy``;

    so TensorBoard overlays train, validation and test in one chart. ``seconds`` and
    ``cpu_seconds`` cover training and validation of the epoch (``time.perf_counter`` and
    ``time.process_time``, all threads of the process), not the test pass or other callbacks'
    work (nor the training-subset pass). ``test_loss``, ``test_accuracy``, ``train_loss``,
    ``train_accuracy``, ``epoch_seconds`` and ``epoch_cpu_seconds`` are also added to the
    epoch's ``logs`` so callbacks after this one (progress output) can show them.

    A run stopped early (e.g. its loss became NaN) ends with its last, partial epoch: the lists
    then hold one item per epoch reached.

    ``results()`` (``results_key = "epochs"``): ``epoch``, ``train_loss``, ``train_accuracy``,
    ``train_loss_running``, ``train_accuracy_running``, ``val_loss``, ``val_accuracy``,
    ``test_loss``, ``test_accuracy``, ``learning_rate``, ``seconds``, ``cpu_seconds`` (keys
    without values, e.g. no validation set, are left out).

    Args:
        x_test, y_test: the test set (never used for any decision, only reported).
        log_dir: the run folder; ``None`` writes no summaries.
        batch_size: batch size for evaluating the test set and the training subset.
        x_train_eval, y_train_eval: the fixed training subset (the labels trained on) evaluated
            at every epoch's end; ``None``: ``train_loss``/``train_accuracy`` are left out.

    Example:
        >>> rec = EpochRecorder(x_test, y_test, log_dir="modellogs/demo/run",
        ...                     x_train_eval=x[:5000], y_train_eval=y[:5000])
        >>> model.fit(x, y, epochs=3, callbacks=[rec])
        >>> rec.results()["train_accuracy"]   # epochs 1, 2, 3, at each epoch's end
    """

    results_key = "epochs"

    def __init__(self, x_test=None, y_test=None, log_dir=None, batch_size=1024, *,
                 x_train_eval=None, y_train_eval=None):
        super().__init__(log_dir, every=1, subdir="train")
        self.x_test = x_test
        self.y_test = y_test
        self.batch_size = batch_size
        self.x_train_eval = x_train_eval
        self.y_train_eval = y_train_eval

    def setup(self):
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()
        return None

    def on_epoch_begin(self, epoch, logs=None):
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()

    def record(self, epoch, logs):
        seconds = time.perf_counter() - self._wall0  # training + validation, not the test pass
        cpu_seconds = time.process_time() - self._cpu0
        metrics = {k: float(v) for k, v in logs.items()
                   if k not in _NOT_METRICS and np.ndim(v) == 0}
        if self.x_test is not None and len(self.x_test):
            logs["test_loss"], logs["test_accuracy"] = self._evaluate(self.x_test, self.y_test)
        if self.x_train_eval is not None and len(self.x_train_eval):
            logs["train_loss"], logs["train_accuracy"] = self._evaluate(self.x_train_eval, self.y_train_eval)
        logs["epoch_seconds"], logs["epoch_cpu_seconds"] = seconds, cpu_seconds
        lr = _current_lr(self.model.optimizer)
        values = {}
        if "train_loss" in logs:
            values["train_loss"], values["train_accuracy"] = logs["train_loss"], logs["train_accuracy"]
        values.update({f"train_{k}_running": metrics[k] for k in ("loss", "accuracy") if k in metrics})
        values.update({k: metrics[k] for k in ("val_loss", "val_accuracy") if k in metrics})
        if "test_loss" in logs:
            values["test_loss"], values["test_accuracy"] = logs["test_loss"], logs["test_accuracy"]
        values.update(learning_rate=lr, seconds=seconds, cpu_seconds=cpu_seconds)
        train = {f"epoch_{k}{'_running' if k in ('loss', 'accuracy') else ''}": v
                 for k, v in metrics.items() if not k.startswith("val_")}
        if "train_loss" in logs:
            train.update(epoch_loss=logs["train_loss"], epoch_accuracy=logs["train_accuracy"])
        else:  # no subset: the running means under the usual tags too
            train.update({f"epoch_{k}": metrics[k] for k in ("loss", "accuracy") if k in metrics})
        train.update(epoch_learning_rate=lr, epoch_seconds=seconds, epoch_cpu_seconds=cpu_seconds)
        self.write(epoch, train, subdir="train")
        val = {f"epoch_{k[4:]}": v for k, v in metrics.items() if k.startswith("val_")}
        if val:
            self.write(epoch, val, subdir="validation")
        if "test_loss" in logs:
            self.write(epoch, {"epoch_loss": logs["test_loss"], "epoch_accuracy": logs["test_accuracy"]},
                       subdir="test")
        return Record(values)

    def cross_entropy(self, x, y):
        """Mean cross-entropy (no regularisation term) and accuracy of the current weights."""
        return self._evaluate(x, y)

    def _evaluate(self, x, y):
        """Mean cross-entropy and accuracy of the current weights on ``(x, y)``, in float64."""
        probs = class_probabilities(self.model.predict(x, batch_size=self.batch_size, verbose=0))
        probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)  # NaN stays NaN
        y = np.asarray(y).astype(np.int64)
        loss = float(-np.mean(np.log(probs[np.arange(len(y)), y])))
        acc = float(np.mean(np.argmax(probs, axis=1) == y))
        return loss, acc


def _current_lr(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(lr))
