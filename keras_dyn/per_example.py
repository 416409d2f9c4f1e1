"""Per-example gradients of a chain of Dense layers, exactly and without forming them.

BackPACK's observation (Dangel et al. 2020): for a Dense layer ``z = x W + b`` the gradient of
example *i*'s loss with respect to the kernel is the outer product ``x_i δ_iᵀ`` and with respect
to the bias ``δ_i``, where ``x_i`` is the layer's input and ``δ_i = ∂ℓ_i/∂z_i`` the gradient of
the example's loss with respect to the layer's pre-activation output. Every per-example quantity
below is a small contraction of ``X`` (``[B, in]``) and ``Δ`` (``[B, out]``) that never builds
the ``B`` gradients themselves:

======================  =====================================  ====================================
function                kernel                                 bias
======================  =====================================  ====================================
``batch_l2_grad``       ``‖x_i‖² ‖δ_i‖²`` (``[B]``)             ``‖δ_i‖²`` (``bias_batch_l2_grad``)
``mean_grad``           ``Xᵀ Δ / B``                           ``mean_i δ_i``
``sum_grad_squared``    ``(X∘X)ᵀ (Δ∘Δ)``                       ``Σ_i δ_i∘δ_i``
``variance``            ``SGS / B − mean²`` (per parameter)    the same with the bias forms
======================  =====================================  ====================================

**The convention.** ``g_i`` is the gradient of *example i's own loss* ``ℓ_i`` (unreduced): the
mini-batch gradient Keras applies with its mean-reduced loss is ``G_B = (1/B) Σ_i g_i``, so a
mean-reduced loss's gradient of one example would be ``g_i / B``. The δ's here are therefore the
gradient of the *sum* of the per-example losses with respect to each pre-activation
(:func:`dense_inputs_and_deltas`), which is ``∂ℓ_i/∂z_i`` row by row because in a chain of Dense
layers (and weight-free layers such as Flatten) example *i*'s loss depends on row *i* only.

**What it refuses.** A model with a trainable layer other than Dense (BatchNormalization,
LayerNormalization, convolutions, ...) has no such cheap exact form (batch normalisation even
couples the examples): :func:`dense_chain` raises :class:`~keras_dyn.errors.KerasDynError`
rather than approximate silently. Weight-free layers (Flatten, Dropout, Activation) are run in
inference mode (no dropout in the measured gradients, and the training's random state is not
touched).

**Noise scale** (McCandlish et al. 2018, "An Empirical Model of Large-Batch Training", app. A):
with ``|G_1|²`` the mean over the batch of ``‖g_i‖²`` (batches of one) and ``|G_B|²`` the squared
norm of the batch mean, :func:`noise_scale_terms` gives the unbiased estimates
``|G|² ≈ (B |G_B|² − |G_1|²) / (B − 1)`` and ``tr Σ ≈ (|G_1|² − |G_B|²) / (1 − 1/B)``;
:func:`smoothed_noise_scale` smooths both with an exponential moving average before their ratio
``B_simple = tr Σ / |G|²``.

Example:
    >>> layers = dense_chain(model)                      # refuses non-Dense trainable layers
    >>> xs, deltas, out = dense_inputs_and_deltas(model, layers, x, y, per_example_loss)
    >>> sq = batch_l2_grad(xs[0], deltas[0]) + bias_batch_l2_grad(deltas[0])   # [B]
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from keras_dyn.errors import KerasDynError

# ---------------------------------------------------------------------------- the contractions


def batch_l2_grad(x, delta):
    """``[B]``: the squared L2 norm of each example's kernel gradient, ``‖x_i‖² ‖δ_i‖²``.

    Args:
        x: ``[B, in]`` the layer's inputs.
        delta: ``[B, out]`` the gradient of each example's own loss w.r.t. the pre-activation.
    """
    return tf.reduce_sum(tf.square(x), axis=1) * tf.reduce_sum(tf.square(delta), axis=1)


def bias_batch_l2_grad(delta):
    """``[B]``: the squared L2 norm of each example's bias gradient, ``‖δ_i‖²``."""
    return tf.reduce_sum(tf.square(delta), axis=1)


def mean_grad(x, delta):
    """``[in, out]``: the mean over the batch of the per-example kernel gradients, ``XᵀΔ / B``
    (the gradient of the mean loss: what Keras applies)."""
    return tf.matmul(x, delta, transpose_a=True) / tf.cast(tf.shape(x)[0], x.dtype)


def bias_mean_grad(delta):
    """``[out]``: the mean of the per-example bias gradients."""
    return tf.reduce_mean(delta, axis=0)


def sum_grad_squared(x, delta):
    """``[in, out]``: ``Σ_i (x_i δ_iᵀ)∘(x_i δ_iᵀ) = (X∘X)ᵀ(Δ∘Δ)``, the per-parameter sum of the
    squared per-example kernel gradients (BackPACK's ``SumGradSquared``)."""
    return tf.matmul(tf.square(x), tf.square(delta), transpose_a=True)


def bias_sum_grad_squared(delta):
    """``[out]``: ``Σ_i δ_i∘δ_i``."""
    return tf.reduce_sum(tf.square(delta), axis=0)


def variance(x, delta):
    """``[in, out]``: per parameter, the variance over the batch of the per-example kernel
    gradients (population form, ``ddof = 0``): ``SGS / B − mean²``, clipped at 0 (rounding)."""
    n = tf.cast(tf.shape(x)[0], x.dtype)
    return tf.maximum(sum_grad_squared(x, delta) / n - tf.square(mean_grad(x, delta)), 0.0)


def bias_variance(delta):
    """``[out]``: the same for the bias."""
    n = tf.cast(tf.shape(delta)[0], delta.dtype)
    return tf.maximum(bias_sum_grad_squared(delta) / n - tf.square(bias_mean_grad(delta)), 0.0)


def gsnr(mean, var):
    """Per parameter ``mean² / var`` (Liu et al. 2020); NaN where the variance is 0 (a parameter
    no example moves, e.g. the kernel row of an always-zero input)."""
    nan = tf.constant(float("nan"), mean.dtype)
    return tf.where(var > 0, tf.square(mean) / tf.where(var > 0, var, 1.0), nan)


def finite_mean_median(values):
    """``[2]``: mean and median of the finite entries of ``values`` (NaN when there are none);
    the median of an even count is the mean of the two middle values."""
    v = tf.reshape(values, [-1])
    v = tf.sort(tf.boolean_mask(v, tf.math.is_finite(v)))
    n = tf.size(v)
    nan = tf.constant(float("nan"), v.dtype)

    def stats():
        lo, hi = v[(n - 1) // 2], v[n // 2]
        return tf.stack([tf.reduce_mean(v), (lo + hi) / 2])

    return tf.cond(n > 0, stats, lambda: tf.stack([nan, nan]))


# ---------------------------------------------------------------------------- the model


def dense_chain(model) -> list:
    """The model's layers in order, checked to be a chain whose only trainable layers are Dense.

    Raises:
        KerasDynError: a trainable layer that is not Dense (no exact cheap per-example form), or
            a Dense layer whose input is not ``[batch, features]`` or that uses LoRA / quantisation.
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for layer in layers:
        if isinstance(layer.input, (list, tuple)):
            raise KerasDynError(f"per-example gradients need a chain of layers; layer {layer.name!r} "
                                f"({type(layer).__name__}) takes several inputs (a residual connection?)")
        if isinstance(layer, keras.layers.Dense):
            if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
                raise KerasDynError(f"per-example gradients: Dense layer {layer.name!r} uses LoRA or "
                                    f"quantisation; only plain Dense layers have the exact form")
            if len(layer.input.shape) != 2:
                raise KerasDynError(f"per-example gradients: Dense layer {layer.name!r} takes a "
                                    f"{len(layer.input.shape)}-D input; only [batch, features] has the exact form")
        elif layer.trainable_weights:
            raise KerasDynError(f"per-example gradients are exact for Dense layers only; layer "
                                f"{layer.name!r} ({type(layer).__name__}) has trainable weights and no cheap "
                                f"exact per-example form (normalisation layers couple or rescale examples)")
    if not any(isinstance(layer, keras.layers.Dense) for layer in layers):
        raise KerasDynError("per-example gradients: the model has no Dense layer")
    return layers


def dense_inputs_and_deltas(model, layers, x, y, per_example_loss):
    """One forward pass through ``layers`` (from :func:`dense_chain`) and one backward pass.

    Returns:
        ``(inputs, deltas, losses)``: per Dense layer its input ``[B, in]`` and ``δ = ∂ℓ_i/∂z_i``
        ``[B, out]`` (the gradient of the sum of per-example losses w.r.t. the pre-activation),
        and the per-example losses ``[B]``.

    Args:
        per_example_loss: ``(y_true, y_pred) -> [B]`` unreduced losses.
    """
    import keras

    inputs, zs = [], []
    with tf.GradientTape() as tape:
        h = tf.cast(x, model.inputs[0].dtype) if model.inputs else x
        for layer in layers:
            if isinstance(layer, keras.layers.Dense):
                h = tf.cast(h, layer.compute_dtype)
                z = tf.matmul(h, tf.convert_to_tensor(layer.kernel))
                if layer.use_bias:
                    z = z + tf.convert_to_tensor(layer.bias)
                tape.watch(z)
                inputs.append(h)
                zs.append(z)
                h = layer.activation(z) if layer.activation is not None else z
            else:
                h = layer(h, training=False)
        losses = per_example_loss(y, h)
        total = tf.reduce_sum(losses)
    deltas = tape.gradient(total, zs)
    return inputs, deltas, losses


def unreduced_loss(loss):
    """``(y_true, y_pred) -> [B]``: a compiled Keras loss object (or name) without its reduction."""
    import keras

    if isinstance(loss, keras.losses.Loss):
        config = dict(loss.get_config())
        config["reduction"] = None
        return type(loss).from_config(config)
    fn = keras.losses.get(loss)
    if isinstance(fn, keras.losses.Loss):
        return unreduced_loss(fn)
    return fn


# ---------------------------------------------------------------------------- noise scale


def noise_scale_terms(mean_example_sq, batch_mean_sq, batch: int):
    """McCandlish et al.'s unbiased ``(|G|², tr Σ)`` from batches of 1 and of ``batch``.

    Args:
        mean_example_sq: ``|G_1|²``, the mean over the batch's examples of ``‖g_i‖²``.
        batch_mean_sq: ``|G_B|²``, ``‖(1/B) Σ g_i‖²``.
        batch: ``B`` (> 1).

    With ``E‖g_i‖² = |G|² + tr Σ`` and ``E‖G_B‖² = |G|² + tr Σ / B`` (examples drawn
    independently), both estimates are unbiased. Works on floats, arrays or tensors.
    """
    b = float(batch)
    g2 = (b * batch_mean_sq - mean_example_sq) / (b - 1.0)
    trace = (mean_example_sq - batch_mean_sq) / (1.0 - 1.0 / b)
    return g2, trace


def smoothed_noise_scale(g2, trace, decay: float = 0.9):
    """Exponential moving averages of the two estimates (each bias-corrected like Adam's
    moments, so the first values are not pulled to 0) and their ratio ``B_simple``.

    Args:
        g2, trace: ``[T, ...]`` per-measurement estimates (:func:`noise_scale_terms`), in order.
        decay: the EMA's decay per measurement (0: no smoothing).

    Returns:
        ``(g2_ema, trace_ema, b_simple)``, each ``[T, ...]``: the smoothed values after each
        measurement; ``b_simple`` is NaN where the smoothed ``|G|²`` is not > 0. Non-finite
        estimates (a diverged step) are skipped, leaving the averages where they were.
    """
    g2 = np.asarray(g2, np.float64)
    trace = np.asarray(trace, np.float64)
    out_g, out_t = np.full(g2.shape, np.nan), np.full(trace.shape, np.nan)
    mg, mt = np.zeros(g2.shape[1:]), np.zeros(trace.shape[1:])
    weight = np.zeros(g2.shape[1:])
    for t in range(len(g2)):
        ok = np.isfinite(g2[t]) & np.isfinite(trace[t])
        mg = np.where(ok, decay * mg + (1 - decay) * np.where(ok, g2[t], 0), mg)
        mt = np.where(ok, decay * mt + (1 - decay) * np.where(ok, trace[t], 0), mt)
        weight = np.where(ok, decay * weight + (1 - decay), weight)
        with np.errstate(invalid="ignore", divide="ignore"):
            out_g[t] = np.where(weight > 0, mg / np.where(weight > 0, weight, 1), np.nan)
            out_t[t] = np.where(weight > 0, mt / np.where(weight > 0, weight, 1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(out_g > 0, out_t / np.where(out_g > 0, out_g, 1), np.nan)
    return out_g, out_t, ratio


def quantiles(values, qs=(0.1, 0.5, 0.9)) -> list[float]:
    """Quantiles of the finite entries (NumPy's linear rule); NaN for each when there are none."""
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    return [float(np.quantile(v, q)) if v.size else math.nan for q in qs]
