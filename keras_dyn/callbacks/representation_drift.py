"""RepresentationDrift: how far each hidden layer's representation moves during training."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_dyn.similarity import linear_cka, mean_cosine

MEASURES = ("cosine_to_init", "cosine_to_prev", "cka_to_init")
_HIDDEN = re.compile(r"^hidden\d+$")


class RepresentationDrift(keras.callbacks.Callback):
    """Per hidden layer, compare the representation of a fixed probe set with earlier ones.

    In ``on_train_begin`` (before the first update, i.e. at initialisation) the outputs of the
    hidden layers on ``x_probe`` are recorded through a side model
    ``keras.Model(model.inputs, [layer.output, ...])``. Every ``every`` epochs (and after the
    last epoch) the new outputs ``H`` are compared with

    - ``cosine_to_init``: mean over probe examples of cos(H_i, H0_i), the example's own
      representation at initialisation (1 = the features have not moved);
    - ``cosine_to_prev``: the same against the previous measurement (how fast it still moves);
    - ``cka_to_init``: linear CKA between H and H0 (Kornblith et al. 2019), which ignores
      rotations and rescaling of the feature space and so measures a change of geometry.

    Helpers are in :mod:`keras_dyn.similarity`. CKA is NaN for a layer whose output is constant
    over the probe set (all units dead).

    TensorBoard (in ``<log_dir>/<subdir>``, step = epoch index from 0):
    ``drift/<layer>/{cosine_to_init,cosine_to_prev,cka_to_init}``.
    :meth:`results`: ``epoch`` (from 1), ``layers`` and one table per layer holding a list per
    measure, e.g. ``results()["hidden1"]["cka_to_init"]``.

    Args:
        x_probe: the probe inputs (fixed for the whole run, e.g. 512 training examples).
        layer_names: layers to follow (default: every layer named ``hidden<N>``, in order).
        every: measure every this many epochs (the last epoch is always measured).
        log_dir: the run folder; ``None`` writes no summaries.
        subdir: subfolder of ``log_dir`` for the summaries (default ``"train"``).
        batch_size: batch size of the forward passes.

    Example:
        >>> drift = RepresentationDrift(ds.x_train[:512], log_dir=run_dir)
        >>> model.fit(ds.x_train, ds.y_train, epochs=10, callbacks=[drift])
        >>> drift.results()["hidden1"]["cosine_to_init"]
    """

    results_key = "drift"

    def __init__(self, x_probe, layer_names=None, every=1, log_dir=None, subdir="train",
                 batch_size=1024):
        super().__init__()
        self.x_probe = x_probe
        self.layer_names = None if layer_names is None else list(layer_names)
        self.every = max(1, int(every))
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.subdir = subdir
        self.batch_size = batch_size

    def on_train_begin(self, logs=None):
        names = self.layer_names
        if names is None:
            names = [layer.name for layer in self.model.layers if _HIDDEN.match(layer.name)]
        if not names:
            raise ValueError("RepresentationDrift found no layers named hidden1..N; pass layer_names")
        self._names = names
        outputs = [self.model.get_layer(name).output for name in names]
        self._features = keras.Model(self.model.inputs, outputs, name="drift_features")
        self._x = np.asarray(self.x_probe)
        self._init = self._represent()
        self._prev = self._init
        self.history = {"epoch": [], "layers": list(names),
                        **{name: {m: [] for m in MEASURES} for name in names}}
        self._writer = None
        if self.log_dir is not None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir / self.subdir))

    def _represent(self) -> list:
        outs = self._features.predict(self._x, batch_size=self.batch_size, verbose=0)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        return [np.asarray(o, dtype=np.float64).reshape(len(self._x), -1) for o in outs]

    def on_epoch_end(self, epoch, logs=None):
        last_epoch = (self.params or {}).get("epochs")
        if (epoch + 1) % self.every != 0 and (last_epoch is None or epoch + 1 != last_epoch):
            return
        reps = self._represent()
        self.history["epoch"].append(epoch + 1)
        for name, h, h0, hp in zip(self._names, reps, self._init, self._prev):
            values = {"cosine_to_init": mean_cosine(h, h0), "cosine_to_prev": mean_cosine(h, hp),
                      "cka_to_init": linear_cka(h, h0)}
            for m in MEASURES:
                self.history[name][m].append(values[m])
            if self._writer is not None:
                with self._writer.as_default():
                    for m in MEASURES:
                        if np.isfinite(values[m]):
                            tf.summary.scalar(f"drift/{name}/{m}", values[m], step=epoch)
        self._prev = reps
        if self._writer is not None:
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()

    def results(self) -> dict:
        """``{"epoch": [...], "layers": [...], "<layer>": {"cosine_to_init": [...], ...}}``."""
        if not hasattr(self, "history"):
            return {}
        return {k: (dict((m, list(v)) for m, v in val.items()) if isinstance(val, dict) else list(val))
                for k, val in self.history.items()}
