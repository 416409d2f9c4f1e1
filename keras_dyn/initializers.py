"""Initial weights drawn in float64 NumPy from the run's seed, the same on every machine.

Keras draws initial weights with TensorFlow's random ops and builds the orthogonal initialiser
from a QR factorisation whose result depends on the BLAS build; keras_dyn draws every kernel
itself instead: :func:`initial_kernel` follows Keras 3's formula for each initialiser the kit
offers (``config.schema.KERAS_INITIALIZERS`` and the aliases in ``INITIALIZER_ALIASES``), in
float64 from ``numpy.random.default_rng([seed, layer_index])``, and the result is cast to the
model's dtype. Biases start at zero, as Keras's do. Orthogonal matrices come from NumPy's QR with
the sign correction Keras applies (so the same NumPy gives the same bits), the other
initialisers from NumPy's generators only.

The distributions are Keras 3's (``keras.initializers``):

- variance scaling (``glorot_*`` fan_avg, scale 1; ``he_*`` fan_in, scale 2; ``lecun_*`` and
  ``variance_scaling`` fan_in, scale 1): ``*_uniform`` on ``[-sqrt(3 s / n), sqrt(3 s / n)]``,
  ``*_normal`` and ``variance_scaling`` a normal truncated at two standard deviations with
  standard deviation ``sqrt(s / n) / 0.8796...`` before truncation;
- ``random_normal``/``normal`` N(0, 0.05²), ``random_uniform``/``uniform`` U(-0.05, 0.05),
  ``truncated_normal`` N(0, 0.05²) truncated at ±0.1;
- ``orthogonal``: ``gain`` × a (semi-)orthogonal matrix, ``identity``: ``gain`` × the identity;
- ``zeros``/``zero``, ``ones``/``one``: constants.

``gain`` (``model.init_gain``) scales orthogonal and identity kernels: a number, or ``"relu"``
for √2 (the gain that keeps a ReLU layer's second moment, as He's scale 2 does).

Example:
    >>> w = initial_kernel("orthogonal", (784, 256), seed=0, layer_index=1, gain="relu")
    >>> w.dtype, w.shape
    (dtype('float64'), (784, 256))
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

#: initialiser -> (scale, mode, distribution) for Keras's VarianceScaling family
VARIANCE_SCALING = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    "variance_scaling": (1.0, "fan_in", "truncated_normal"),
}

#: Keras's correction: the standard deviation of a unit normal truncated at ±2
TRUNCATED_STD = 0.87962566103423978

GAINS = {"relu": math.sqrt(2.0)}


def gain_value(gain) -> float:
    """``model.init_gain`` as a number (``"relu"`` = √2)."""
    return GAINS[gain] if isinstance(gain, str) else float(gain)


def _truncated_normal(rng, shape, stddev):
    """Normal(0, stddev²) with every value beyond two standard deviations drawn again."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev


def _orthogonal(rng, shape, gain):
    rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # Keras's sign correction: a uniform (Haar) draw
    if rows < cols:
        q = q.T
    return gain * q.reshape(shape)


def initial_kernel(name: str, shape, seed: int, layer_index: int, gain=1.0) -> np.ndarray:
    """The float64 kernel of one layer.

    Args:
        name: a Keras initialiser name (aliases resolved already, e.g. ``"he_normal"``).
        shape: the kernel shape ``(fan_in, fan_out)``.
        seed: the run's seed.
        layer_index: the layer's position (1 = first hidden layer), so layers differ.
        gain: orthogonal and identity only: a number or ``"relu"`` (√2).
    """
    shape = tuple(int(s) for s in shape)
    rng = np.random.default_rng([int(seed), int(layer_index)])
    if name in VARIANCE_SCALING:
        scale, mode, dist = VARIANCE_SCALING[name]
        fan_in, fan_out = (int(np.prod(shape[:-1])), shape[-1]) if len(shape) > 1 else (shape[0], shape[0])
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
        scale /= max(1.0, n)
        if dist == "uniform":
            limit = math.sqrt(3.0 * scale)
            return rng.uniform(-limit, limit, shape)
        return _truncated_normal(rng, shape, math.sqrt(scale) / TRUNCATED_STD)
    if name in ("random_normal", "normal"):
        return rng.normal(0.0, 0.05, shape)
    if name in ("random_uniform", "uniform"):
        return rng.uniform(-0.05, 0.05, shape)
    if name == "truncated_normal":
        return _truncated_normal(rng, shape, 0.05)
    if name == "orthogonal":
        return _orthogonal(rng, shape, gain_value(gain))
    if name == "identity":
        return gain_value(gain) * np.eye(*shape)
    if name in ("zeros", "zero"):
        return np.zeros(shape)
    if name in ("ones", "one"):
        return np.ones(shape)
    raise ValueError(f"no NumPy draw for initializer {name!r}")


def set_initial_weights(model, name: str, seed: int, gain=1.0, indices=None) -> None:
    """Replace every Dense kernel of ``model`` with :func:`initial_kernel`'s draw (cast to the
    kernel's dtype) and every bias with zeros. Layers are numbered 1, 2, … in model order, but
    for those ``indices`` (layer name -> index) numbers apart (residual projections), which do
    not shift the others' numbers. Layers without a kernel (normalisation, dropout) keep their
    own (constant) initial values."""
    indices = dict(indices or {})
    index = 0
    for layer in model.layers:
        if not hasattr(layer, "kernel"):
            continue
        if layer.name in indices:
            number = indices[layer.name]
        else:
            index += 1
            number = index
        dtype = np.dtype(layer.kernel.dtype)
        weights = [initial_kernel(name, layer.kernel.shape, seed, number, gain).astype(dtype)]
        if getattr(layer, "bias", None) is not None:
            weights.append(np.zeros(layer.bias.shape, dtype=np.dtype(layer.bias.dtype)))
        layer.set_weights(weights)


def weights_digest(model) -> str:
    """SHA-256 of the model's weights (each array's dtype, shape and bytes, in order)."""
    h = hashlib.sha256()
    for w in model.get_weights():
        w = np.ascontiguousarray(w)
        h.update(f"{w.dtype.str}{w.shape}".encode())
        h.update(w.tobytes())
    return h.hexdigest()
