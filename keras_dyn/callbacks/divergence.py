"""StopOnDivergence: stop a run whose training loss became NaN or infinite, and say where."""

from __future__ import annotations

import math

import keras


class StopOnDivergence(keras.callbacks.Callback):
    """Stops training at the first non-finite training loss and records when that happened.

    Like ``keras.callbacks.TerminateOnNaN`` it looks at the loss Keras reports after every
    batch, which is the running mean of the epoch's batch losses so far: it becomes NaN or
    infinite at the first batch whose loss is, so that batch is found exactly. Unlike
    ``TerminateOnNaN`` it is marked ``async_safe``: Keras keeps dispatching batch-end callbacks
    on its worker thread instead of waiting for every step's logs (the check costs the training
    loop nothing), so training may run a few more steps before it stops. Keras then ends the
    epoch as usual (validation, ``on_epoch_end`` of every callback, which records that last,
    partial epoch) and stops; ``on_train_end`` runs.

    After ``fit``:

    - ``diverged``: whether the loss became NaN or infinite;
    - ``diverged_epoch``: the epoch in which it did (1-based: epoch e = the e-th epoch of
      training, the convention of :mod:`keras_dyn.callbacks.base`);
    - ``diverged_step``: the optimiser update whose batch loss was the first non-finite one
      (1-based count of updates since the optimiser was created; that loss was computed on the
      weights the previous update left).

    Args:
        monitor: the logs key holding the training loss.

    Example:
        >>> stop = StopOnDivergence()
        >>> model.fit(x, y, epochs=10, callbacks=[stop])
        >>> stop.diverged, stop.diverged_epoch, stop.diverged_step
        (True, 2, 37)
    """

    async_safe = True  # only reads the logs it is given and sets model.stop_training

    def __init__(self, monitor: str = "loss"):
        super().__init__()
        self.monitor = monitor
        self.diverged = False
        self.diverged_epoch = None
        self.diverged_step = None

    def on_train_begin(self, logs=None):
        self.diverged = False
        self.diverged_epoch = self.diverged_step = None
        self._epoch = 0
        self._first_step = self._updates()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch) + 1
        self._first_step = self._updates()  # updates done before this epoch (read once per epoch)

    def on_train_batch_end(self, batch, logs=None):
        if not self.diverged and _non_finite((logs or {}).get(self.monitor)):
            self._stop(self._first_step + int(batch) + 1)

    def on_epoch_end(self, epoch, logs=None):
        # a safety net for loops that report no batch logs: the epoch's loss is the same mean
        if not self.diverged and _non_finite((logs or {}).get(self.monitor)):
            self._stop(self._updates())

    def _stop(self, step):
        self.diverged = True
        self.diverged_epoch = self._epoch
        self.diverged_step = int(step)
        self.model.stop_training = True

    def _updates(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return 0
        return int(keras.ops.convert_to_numpy(optimizer.iterations))

    def results(self) -> dict:
        """``{"status": "diverged" | "complete", "diverged_epoch": e, "diverged_step": s}``."""
        if not self.diverged:
            return {"status": "complete"}
        return {"status": "diverged", "diverged_epoch": self.diverged_epoch,
                "diverged_step": self.diverged_step}


def _non_finite(value) -> bool:
    if value is None:
        return False
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
