"""RepresentationDrift: how far each hidden layer's representation moves during training."""

from __future__ import annotations

import re

import keras
import numpy as np

from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.errors import KerasDynError
from keras_dyn.similarity import linear_cka, mean_cosine

MEASURES = ("cosine_to_init", "cosine_to_prev", "cka_to_init")
_HIDDEN = re.compile(r"^hidden\d+$")


class RepresentationDrift(DiagnosticCallback):
    """Per hidden layer, compare the representation of a fixed probe set with earlier ones.

    In ``on_train_begin`` (before the first update, i.e. at initialisation) the outputs of the
    hidden layers on ``x_probe`` are recorded through a side model
    ``keras.Model(model.inputs, [layer.output, ...])`` as the reference ``H0`` (kept, not a row
    of the table). Every ``every`` epochs (epochs ``every``, ``2*every``, ... and always the
    last one; see :mod:`keras_dyn.callbacks.base`) the new outputs ``H`` are compared with

    - ``cosine_to_init``: mean over probe examples of cos(H_i, H0_i), the example's own
      representation at initialisation (1 = the features have not moved);
    - ``cosine_to_prev``: the same against the previous measurement (how fast it still moves);
    - ``cka_to_init``: linear CKA between H and H0 (Kornblith et al. 2019), which ignores
      rotations and rescaling of the feature space and so measures a change of geometry.

    Helpers are in :mod:`keras_dyn.similarity`. CKA is NaN for a layer whose output is constant
    over the probe set (all units dead); every measure is NaN when either representation holds a
    non-finite value (a diverged run). NaN measures are not written to TensorBoard.

    TensorBoard (in ``<log_dir>/<subdir>``, step = epoch, from 1):
    ``drift/<layer>/{cosine_to_init,cosine_to_prev,cka_to_init}``.
    :meth:`results`: ``epoch`` (the measured epochs), ``layers`` and one table per layer holding
    a list per measure, e.g. ``results()["hidden1"]["cka_to_init"]``.

    Args:
        x_probe: the probe inputs (fixed for the whole run, e.g. 512 training examples).
        layer_names: layers to follow (default: every layer named ``hidden<N>``, in order): a
            list of names, or a dict mapping the name recorded to the layer read (keras_dyn
            passes ``{"hidden1": "hidden1_act", ...}`` for a normalised model, so the
            representation is each hidden layer's post-activation output, before Dropout and a
            residual sum). The side model runs in inference mode: Dropout is off and a
            BatchNormalization layer uses its moving statistics (non-trainable state, which this
            probe, like the weight diagnostics, never compares).
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
        super().__init__(log_dir, every=every, subdir=subdir)
        self.x_probe = x_probe
        self.layer_names = (None if layer_names is None else dict(layer_names) if isinstance(layer_names, dict)
                            else {n: n for n in layer_names})
        self.batch_size = batch_size

    def setup(self):
        read = self.layer_names
        if read is None:
            read = {layer.name: layer.name for layer in self.model.layers if _HIDDEN.match(layer.name)}
        if not read:
            raise KerasDynError("RepresentationDrift found no layers named hidden1..N; pass layer_names")
        self._names = names = list(read)
        outputs = [self.model.get_layer(layer).output for layer in read.values()]
        self._features = keras.Model(self.model.inputs, outputs, name="drift_features")
        self._x = np.asarray(self.x_probe)
        self._init = self._represent()
        self._prev = self._init
        return {"layers": list(names), **{name: {m: [] for m in MEASURES} for name in names}}

    def _represent(self) -> list:
        outs = self._features.predict(self._x, batch_size=self.batch_size, verbose=0)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        return [np.asarray(o, dtype=np.float64).reshape(len(self._x), -1) for o in outs]

    def record(self, epoch, logs):
        reps = self._represent()
        values, scalars = {}, {}
        for name, h, h0, hp in zip(self._names, reps, self._init, self._prev):
            values[name] = drift_measures(h, h0, hp)
            scalars.update({f"drift/{name}/{m}": v for m, v in values[name].items() if np.isfinite(v)})
        self._prev = reps
        return Record(values, scalars)

    def teardown(self):
        self._features = self._init = self._prev = None


def drift_measures(h, h0, h_prev) -> dict:
    """The three measures of one layer; all NaN if a representation holds a non-finite value."""
    if not all(np.all(np.isfinite(r)) for r in (h, h0, h_prev)):
        return {m: float("nan") for m in MEASURES}
    return {"cosine_to_init": mean_cosine(h, h0), "cosine_to_prev": mean_cosine(h, h_prev),
            "cka_to_init": linear_cka(h, h0)}
