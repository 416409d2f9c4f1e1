"""EarlyStop: Keras's EarlyStopping with its epochs in keras_dyn's convention and a results table."""

from __future__ import annotations

import math

import keras


class EarlyStop(keras.callbacks.EarlyStopping):
    """Stop training when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs (``keras.callbacks.EarlyStopping``, whose logic this is, unchanged).

    ``keras_dyn.runs.fit`` puts it before every diagnostic, so the epoch it stops in is the last
    epoch each diagnostic records (:meth:`DiagnosticCallback.due` sees ``stop_training``) and
    every per-epoch table ends at that epoch. With ``restore_best`` the weights of the best epoch
    are put back when training ends (stopped early or not: Keras restores them in
    ``on_train_end``), after every diagnostic recorded the weights as trained; the run's
    ``[final]`` numbers are then those of the restored epoch.

    ``results()`` (``results_key = "early_stopping"``), epochs 1-based (epoch e = after e epochs):
    ``monitor``, ``patience``, ``min_delta``, ``restore_best``, ``stopped_epoch`` (the epoch
    training stopped after; 0 = it never stopped early), ``best_epoch`` (the epoch of the best
    monitored value; 0 = none was seen), ``best`` (that value; NaN if none) and
    ``restored_epoch`` (the epoch whose weights the run ends with after a restore; 0 = none
    restored).

    Example:
        >>> stop = EarlyStop(monitor="val_loss", patience=2)
        >>> model.fit(x, y, validation_data=(xv, yv), epochs=50, callbacks=[stop])
        >>> stop.results()["stopped_epoch"]
    """

    results_key = "early_stopping"

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 restore_best: bool = True):
        mode = "min" if monitor.endswith("loss") else "max"
        super().__init__(monitor=monitor, patience=int(patience), min_delta=float(min_delta), mode=mode,
                         restore_best_weights=bool(restore_best), verbose=0)
        self.restore_best = bool(restore_best)
        self.restored = False

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.restored = False

    def on_train_end(self, logs=None):
        self.restored = self.restore_best_weights and self.best_weights is not None
        super().on_train_end(logs)

    def results(self) -> dict:
        seen = self.best is not None
        return {
            "monitor": self.monitor,
            "patience": int(self.patience),
            "min_delta": float(abs(self.min_delta)),
            "restore_best": self.restore_best,
            # Keras counts epochs from 0 and marks "never stopped" with 0 (it cannot stop after
            # its epoch 0), so a stop after Keras epoch e is epoch e + 1 here
            "stopped_epoch": int(self.stopped_epoch) + 1 if self.stopped_epoch > 0 else 0,
            "best_epoch": int(self.best_epoch) + 1 if seen else 0,
            "best": float(self.best) if seen else math.nan,
            "restored_epoch": int(self.best_epoch) + 1 if self.restored else 0,
        }
