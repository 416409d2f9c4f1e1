"""ActivationStatistics: per-layer activation statistics and dead units on a fixed probe batch."""

from __future__ import annotations

import keras
import numpy as np

from keras_dyn.callbacks._summaries import sig
from keras_dyn.callbacks.base import DiagnosticCallback, Record

SATURATING = ("sigmoid", "tanh")


class ActivationStatistics(DiagnosticCallback):
    """Statistics of each hidden layer's outputs on a fixed probe batch (like fastai's ActivationStats).

    At epoch 0 (the initial network, before the first step) and then every ``every`` epochs
    (epochs ``every``, ``2*every``, ... and the last one; see :mod:`keras_dyn.callbacks.base`
    for the epoch convention) the probe batch goes through the model (inference mode) and, for
    each hidden layer, over all probe examples and units:

    - ``mean``, ``std``: of all activation values;
    - ``dead_frac``: fraction of the layer's units whose output is exactly 0 for *every* probe
      example (a dead ReLU: no gradient flows through it for these inputs);
    - ``near_zero_frac``: fraction of activation values with ``|a| < near_zero``;
    - ``saturated_frac`` (sigmoid and tanh layers only): fraction of activation values within
      ``saturation_eps`` of an asymptote: ``a < eps`` or ``a > 1 - eps`` for sigmoid,
      ``|a| > 1 - eps`` for tanh. With the default ``eps = 0.01`` the local slope there is below
      about 0.01 (sigmoid) or 0.02 (tanh) of its maximum, so almost no gradient passes.

    Written to ``<log_dir>/train`` as ``act/<layer>/{mean,std,dead_frac,near_zero_frac,
    saturated_frac}`` and histograms ``act/<layer>`` at step = epoch (0 for the initial
    network). Hidden layers are, by default, every layer with an ``activation`` attribute except
    the model's output layer (``hidden1..N`` for keras_dyn's plain MLP). ``layer_names`` may also
    map the name recorded to the layer read: keras_dyn passes ``{"hidden1": "hidden1_act", ...}``
    for a normalised model (:func:`keras_dyn.models.activation_layer_names`), so each hidden
    layer's statistics are of its post-activation output, never of the linear Dense before the
    normalisation, and never of Dropout's masked output or a residual sum (the probe runs in
    inference mode, where Dropout passes its input through anyway). Non-finite activations (a
    diverged run) give NaN statistics and a histogram of the finite values only.

    ``results()`` (``results_key = "activations"``): ``layers``, ``epoch`` (``[0, every, ...]``)
    and per layer ``activation`` (its name) and the lists above, one item per recorded epoch.

    Args:
        probe_x: the fixed probe inputs (e.g. the first 512 validation examples).
        log_dir: the run folder (``None``: results only).
        every: epochs between recordings.
        layer_names: which layers to watch (default: see above): a list of layer names, or a
            dict mapping the name recorded (tags, results) to the layer read.
        near_zero: threshold for ``near_zero_frac``.
        saturation_eps: distance to the asymptote counted as saturated.
        subdir: sub-folder of ``log_dir`` for the summaries.
        record_start: also record epoch 0, the network before training (default True).

    Example:
        >>> acts = ActivationStatistics(x_val[:512], "modellogs/demo/run1")
        >>> model.fit(x, y, epochs=5, callbacks=[acts])
        >>> acts.results()["hidden1"]["dead_frac"]   # epochs 0, 1, ..., 5
    """

    results_key = "activations"

    def __init__(self, probe_x, log_dir=None, every: int = 1, layer_names=None,
                 near_zero: float = 1e-3, saturation_eps: float = 0.01, subdir: str = "train",
                 record_start: bool = True):
        super().__init__(log_dir, every=every, subdir=subdir)
        self.probe_x = probe_x
        self.layer_names = (None if layer_names is None else dict(layer_names) if isinstance(layer_names, dict)
                            else {n: n for n in layer_names})
        self.near_zero = float(near_zero)
        self.saturation_eps = float(saturation_eps)
        self.record_start = bool(record_start)

    def setup(self):
        model = self.model
        if self.layer_names is None:
            out_names = {t._keras_history[0].name for t in model.outputs} if model.outputs else set()
            layers = [l for l in model.layers if hasattr(l, "activation") and l.name not in out_names]
            self.names = [l.name for l in layers]
        else:
            layers = [model.get_layer(n) for n in self.layer_names.values()]
            self.names = list(self.layer_names)
        self.layers = layers
        self.kinds = [_activation_name(l) for l in layers]
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        self._features = keras.Model(inputs, [l.output for l in layers])
        return {"layers": list(self.names),
                **{name: {"activation": kind} for name, kind in zip(self.names, self.kinds)}}

    def record(self, epoch, logs):
        outs = self._features(self.probe_x, training=False)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        values, scalars, hists = {}, {}, {}
        for name, kind, a in zip(self.names, self.kinds, outs):
            a = np.asarray(a)
            stats = activation_stats(a, kind, self.near_zero, self.saturation_eps)
            values[name] = {k: sig(v) for k, v in stats.items()}
            scalars.update({f"act/{name}/{k}": v for k, v in stats.items()})
            hists[f"act/{name}"] = a
        return Record(values, scalars, hists)

    def teardown(self):
        self._features = None


def activation_stats(a, kind: str, near_zero: float = 1e-3, saturation_eps: float = 0.01) -> dict:
    """The statistics above for one layer's outputs ``a`` (``[examples, units...]``).

    All of them are NaN when ``a`` holds a NaN or infinite value (a diverged network).
    """
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    if not np.all(np.isfinite(a)):
        keys = ["mean", "std", "dead_frac", "near_zero_frac"]
        keys += ["saturated_frac"] if kind in SATURATING else []
        return {k: float("nan") for k in keys}
    out = {
        "mean": float(a.mean()),
        "std": float(a.std()),
        "dead_frac": float(np.mean(np.all(a == 0.0, axis=0))),
        "near_zero_frac": float(np.mean(np.abs(a) < near_zero)),
    }
    if kind == "sigmoid":
        out["saturated_frac"] = float(np.mean((a < saturation_eps) | (a > 1.0 - saturation_eps)))
    elif kind == "tanh":
        out["saturated_frac"] = float(np.mean(np.abs(a) > 1.0 - saturation_eps))
    return out


def _activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", "") or str(act)
    return name.lower()
