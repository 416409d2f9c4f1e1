"""StepLoss: the training loss of every optimiser step, raw (no smoothing, no filtering)."""

from __future__ import annotations

import numpy as np

from keras_dyn.callbacks._summaries import scalar_table_writer, sig
from keras_dyn.callbacks.base import DiagnosticCallback, Record


class BatchLoss:
    """Recovers each batch's own loss from the running mean Keras puts in the batch-end ``logs``.

    Keras 3 logs, after batch ``k`` of an epoch, the mean of the batch losses so far weighted by
    batch size: ``M_k = (sum_j n_j L_j) / (sum_j n_j)``. So ``L_k = (M_k S_k - M_{k-1} S_{k-1}) / n_k``
    with ``S_k = n_1 + ... + n_k``. Call :meth:`reset` at each epoch start.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self._mean, self._count = 0.0, 0

    def update(self, running_mean: float, batch_size: int) -> float:
        count = self._count + int(batch_size)
        loss = (float(running_mean) * count - self._mean * self._count) / int(batch_size)
        self._mean, self._count = float(running_mean), count
        return loss


class StepLoss(DiagnosticCallback):
    """Records the loss of every training step (the mini-batch loss Keras minimised at that
    step, before its update), epoch by epoch.

    Keras reports only a running mean over the epoch; this callback recovers each batch's own
    loss from it (:class:`BatchLoss`) and keeps the raw values, so a loss curve can show every
    step's sample as the from-scratch study did, and oscillation around the trend can be
    measured (the ``loss_volatility`` metric). The losses are also written to TensorBoard as
    ``step/loss`` at step = the number of updates done (1-based), at the epoch's end, every
    ``summary_every`` updates (on updates 1, 1 + k, ...; 0 = none). It needs the batch-end logs, so
    Keras calls it synchronously after every step (a small cost per step).

    ``results()`` (``results_key = "step_loss"``): ``epoch`` and ``loss`` (one list per epoch,
    one value per step, 6 significant digits).

    Args:
        log_dir: the run folder (``None``: results only).
        batch_size: the training batch size (the last batch of an epoch may be smaller: the
            number of training examples ``n_train`` tells).
        n_train: training examples per epoch.
        summary_every: steps between the ``step/loss`` scalars in TensorBoard (1 = every step,
            0 = none; ``results()`` keeps every step either way).

    Example:
        >>> cb = StepLoss("modellogs/demo/run", batch_size=32, n_train=1800)
        >>> model.fit(x, y, batch_size=32, epochs=3, callbacks=[cb])
        >>> len(cb.results()["loss"][0])   # steps in epoch 1
        57
    """

    results_key = "step_loss"

    def __init__(self, log_dir=None, *, batch_size: int, n_train: int, summary_every: int = 1):
        super().__init__(log_dir, every=1)
        self.batch_size, self.n_train = int(batch_size), int(n_train)
        self.summary_every = max(int(summary_every), 0)

    def setup(self):
        writer = self.writer()
        self._write = None if writer is None else scalar_table_writer(writer, ["step/loss"])
        self._tracker = BatchLoss()
        self._losses = []
        self._step = int(self.model.optimizer.iterations.numpy()) if self.model.optimizer else 0
        return None

    def on_epoch_begin(self, epoch, logs=None):
        self._tracker.reset()
        self._losses = []

    def on_train_batch_end(self, batch, logs=None):
        size = min(self.batch_size, self.n_train - int(batch) * self.batch_size)
        loss = self._tracker.update(float((logs or {}).get("loss", float("nan"))), max(size, 1))
        self._losses.append(loss)

    def record(self, epoch, logs):
        if self._write is not None and self.summary_every and self._losses:
            steps = np.arange(self._step + 1, self._step + 1 + len(self._losses), dtype=np.int64)
            rows = (steps - 1) % self.summary_every == 0  # the epoch's steps at once, one flush
            self._write(np.asarray(self._losses, np.float64)[rows, None], steps[rows])
            self.writer().flush()
        self._step += len(self._losses)
        return Record({"loss": [sig(v) for v in self._losses]})
