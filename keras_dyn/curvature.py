"""Curvature of a loss at the current weights: Hessian-vector products, the top eigenvalue
("sharpness") by power iteration and the trace by Hutchinson's estimator.

Nothing here forms the Hessian. A Hessian-vector product is two backward passes (double
backprop with nested ``tf.GradientTape``): ``Hv = ∇(∇L · v)`` with ``v`` held constant. Each
function takes ``loss_fn``, a callable of no arguments that computes the scalar loss from the
current values of ``params`` (a list of variables), and runs inside ``tf.function`` (loops are
``tf.while_loop``; no value leaves the graph).

- :func:`top_eigenvalue`: power iteration ``v ← Hv / ‖Hv‖`` from a seeded random start; the
  estimate is the Rayleigh quotient ``vᵀHv`` (so its sign is kept). It finds the eigenvalue of
  largest *magnitude*: near a minimum that is the largest positive one, the sharpness of
  Cohen et al. (2021) and Keskar et al. (2017); a strongly negative eigenvalue would be returned
  as such. It stops after ``iterations`` products or when the estimate changes by less than
  ``tol`` relative.
- :func:`hutchinson_trace`: ``tr H = E[vᵀHv]`` for Rademacher ``v`` (entries ±1), the mean of
  ``samples`` draws with its standard error (Hutchinson 1989; Yao et al.'s PyHessian, 2020).
  :func:`quadratic_forms` gives ``vᵀHv`` for given vectors (with all basis vectors their sum is
  the exact trace).

Example:
    >>> loss_fn = lambda: model.compute_loss(x=x, y=y, y_pred=model(x, training=False))
    >>> lam, used = tf.function(lambda: top_eigenvalue(loss_fn, model.trainable_weights))()
    >>> trace, stderr = tf.function(lambda: hutchinson_trace(loss_fn, model.trainable_weights))()
"""

from __future__ import annotations

import tensorflow as tf


def _dot(a, b):
    return tf.add_n([tf.reduce_sum(x * y) for x, y in zip(a, b)])


def hvp(loss_fn, params, vectors):
    """``H v``: the Hessian of ``loss_fn()`` w.r.t. ``params`` times ``vectors`` (one tensor per
    parameter, same shapes), by double backprop. Parameters the loss does not reach give zeros."""
    vectors = [tf.stop_gradient(tf.convert_to_tensor(v)) for v in vectors]
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = loss_fn()
        grads = inner.gradient(loss, params, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        dot = _dot(grads, vectors)
    return outer.gradient(dot, params, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def _normalised(vectors):
    norm = tf.sqrt(_dot(vectors, vectors))
    safe = tf.where(norm > 0, norm, tf.ones_like(norm))
    return [v / safe for v in vectors], norm


def top_eigenvalue(loss_fn, params, iterations: int = 20, tol: float = 1e-4, seed: int = 0):
    """The Hessian eigenvalue of largest magnitude, by power iteration.

    Args:
        loss_fn: ``() -> scalar`` loss at the current values of ``params``.
        params: the variables (e.g. ``model.trainable_weights``).
        iterations: at most this many Hessian-vector products.
        tol: stop once the Rayleigh quotient changes by less than ``tol`` (relative).
        seed: seed of the random start (``tf.random.stateless_normal``).

    Returns:
        ``(eigenvalue, products)``: the Rayleigh quotient of the last iterate (NaN for a
        non-finite loss) and the number of products used.
    """
    dtypes = [p.dtype for p in params]
    start = [tf.random.stateless_normal(tf.shape(p), seed=[seed, i], dtype=d)
             for i, (p, d) in enumerate(zip(params, dtypes))]
    v0, _ = _normalised(start)
    dtype = dtypes[0]
    nan = tf.constant(float("nan"), dtype)

    def body(i, lam, _prev, v):
        hv = hvp(loss_fn, params, v)
        new = _dot(v, hv)  # Rayleigh quotient (‖v‖ = 1)
        v_next, _ = _normalised(hv)
        return i + 1, new, lam, v_next

    def cond(i, lam, prev, _v):
        moved = tf.abs(lam - prev) > tol * tf.abs(lam)
        return tf.logical_and(i < iterations, tf.logical_or(i < 2, moved))

    i, lam, _, _ = tf.while_loop(cond, body, (tf.constant(0), nan, nan, v0))
    return lam, i


def quadratic_forms(loss_fn, params, vectors):
    """``[K]``: ``v_kᵀ H v_k`` for each of ``K`` vectors, given as one ``[K, *shape]`` tensor
    per parameter."""
    k = tf.shape(vectors[0])[0]

    def body(j, acc):
        v = [vec[j] for vec in vectors]
        return j + 1, acc.write(j, _dot(v, hvp(loss_fn, params, v)))

    _, acc = tf.while_loop(lambda j, _a: j < k, body,
                           (tf.constant(0), tf.TensorArray(params[0].dtype, size=k)))
    return acc.stack()


def hutchinson_trace(loss_fn, params, samples: int = 10, seed: int = 0):
    """Hutchinson's estimate of the Hessian trace from ``samples`` Rademacher vectors.

    Returns:
        ``(trace, stderr)``: the mean of ``vᵀHv`` over the draws and its standard error
        (``sd / sqrt(samples)``, NaN for one sample). The estimate is unbiased; its variance per
        draw is ``2 Σ_{i≠j} H_ij²``.
    """
    def rademacher(j):
        return [2.0 * tf.cast(tf.random.stateless_uniform(tf.shape(p), seed=[seed, 1000 * j + i],
                                                          maxval=2, dtype=tf.int32), p.dtype) - 1.0
                for i, p in enumerate(params)]

    dtype = params[0].dtype

    def body(j, acc):
        v = rademacher(j)
        return j + 1, acc.write(j, _dot(v, hvp(loss_fn, params, v)))

    _, acc = tf.while_loop(lambda j, _a: j < samples, body,
                           (tf.constant(0), tf.TensorArray(dtype, size=samples)))
    values = acc.stack()
    n = tf.cast(samples, dtype)
    mean = tf.reduce_mean(values)
    if samples < 2:
        return mean, tf.constant(float("nan"), dtype)
    sd = tf.sqrt(tf.reduce_sum(tf.square(values - mean)) / (n - 1))
    return mean, sd / tf.sqrt(n)
