"""keras_dyn.per_example: every contraction against brute force (one GradientTape per example),
float64, relative error <= 1e-5; the noise-scale estimator on a planted linear regression."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from keras_dyn import per_example as pe
from keras_dyn.errors import KerasDynError

RTOL = 1e-5


def tiny_model(input_shape=(3,), hidden=(4,), classes=3, activation="tanh", seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape, dtype="float64")
    h = inputs
    if len(input_shape) > 1:
        h = keras.layers.Flatten(dtype="float64")(h)
    for i, units in enumerate(hidden, 1):
        h = keras.layers.Dense(units, activation=activation, name=f"hidden{i}", dtype="float64",
                               bias_initializer="random_normal")(h)
    out = keras.layers.Dense(classes, activation="softmax", name="output", dtype="float64")(h)
    return keras.Model(inputs, out)


def brute_force(model, x, y, loss):
    """Per-example gradients [B][var] with one tape per example."""
    grads = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            li = tf.reduce_sum(loss(y[i:i + 1], model(x[i:i + 1], training=False)))
        grads.append([g.numpy() for g in tape.gradient(li, model.trainable_weights)])
    return grads


def nll(y, p):
    """Per-example negative log-likelihood of the labels (unreduced)."""
    return -tf.math.log(tf.gather(p, tf.cast(y, tf.int32), batch_dims=1))


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("input_shape,hidden", [((3,), (4,)), ((2, 2), (5, 3))])
def test_contractions_match_brute_force(input_shape, hidden):
    model = tiny_model(input_shape, hidden)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, *input_shape))
    y = rng.integers(0, 3, size=6)
    loss = nll  # exact; Keras's own cross-entropy is off by ~1e-8 in float64 (checked below)
    layers = pe.dense_chain(model)
    fn = tf.function(lambda x, y: pe.dense_inputs_and_deltas(model, layers, x, y, loss))
    xs, deltas, losses = fn(tf.constant(x), tf.constant(y))
    brute = brute_force(model, x, y, loss)
    assert losses.shape == (6,)
    for layer_i in range(len(xs)):
        k, b = 2 * layer_i, 2 * layer_i + 1  # kernel, bias in trainable_weights order
        gk = np.stack([g[k] for g in brute])  # [B, in, out]
        gb = np.stack([g[b] for g in brute])
        X, D = xs[layer_i], deltas[layer_i]
        close(pe.batch_l2_grad(X, D), np.sum(gk ** 2, axis=(1, 2)))
        close(pe.bias_batch_l2_grad(D), np.sum(gb ** 2, axis=1))
        close(pe.mean_grad(X, D), gk.mean(0))
        close(pe.bias_mean_grad(D), gb.mean(0))
        close(pe.sum_grad_squared(X, D), np.sum(gk ** 2, axis=0))
        close(pe.bias_sum_grad_squared(D), np.sum(gb ** 2, axis=0))
        close(pe.variance(X, D), gk.var(0))
        close(pe.bias_variance(D), gb.var(0))
    # the mean of the per-example gradients is what Keras's mean-reduced loss differentiates to
    with tf.GradientTape() as tape:
        mean_loss = keras.losses.SparseCategoricalCrossentropy(dtype="float64")(y, model(x))
    keras_grads = tape.gradient(mean_loss, model.trainable_weights)
    ours = pe.mean_grad(xs[0], deltas[0]).numpy()
    np.testing.assert_allclose(ours, keras_grads[0], atol=RTOL * np.abs(ours).max())
    keras_loss = pe.unreduced_loss(keras.losses.SparseCategoricalCrossentropy(dtype="float64"))
    np.testing.assert_allclose(keras_loss(y, model(x)), losses, rtol=RTOL)


def test_gsnr_and_median():
    mean = tf.constant([1.0, 2.0, 0.0, 3.0], tf.float64)
    var = tf.constant([1.0, 2.0, 0.0, 0.5], tf.float64)
    r = pe.gsnr(mean, var).numpy()
    assert r[0] == 1.0 and r[1] == 2.0 and np.isnan(r[2]) and r[3] == 18.0
    np.testing.assert_allclose(pe.finite_mean_median(r).numpy(), [7.0, 2.0])
    assert np.isnan(pe.finite_mean_median(tf.constant([np.nan], tf.float64)).numpy()).all()


def test_refuses_normalisation_layers():
    inputs = keras.Input((3,))
    h = keras.layers.Dense(4)(inputs)
    h = keras.layers.BatchNormalization()(h)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
    with pytest.raises(KerasDynError, match="BatchNormalization"):
        pe.dense_chain(model)


def test_noise_scale_terms_full_batch_algebra():
    """With the whole data as the batch, the estimates are the sample-variance forms exactly."""
    rng = np.random.default_rng(0)
    g = rng.normal(size=(50, 7)) + 0.3
    n = len(g)
    G = g.mean(0)
    trace_pop = np.sum((g - G) ** 2) / n
    g2, trace = pe.noise_scale_terms(np.mean(np.sum(g ** 2, 1)), np.sum(G ** 2), n)
    np.testing.assert_allclose(trace, trace_pop * n / (n - 1), rtol=1e-12)
    np.testing.assert_allclose(g2, np.sum(G ** 2) - trace_pop / (n - 1), rtol=1e-12)


def test_noise_scale_on_planted_linear_regression():
    """y = w*ᵀx + b* + ε, x ~ N(0, I_d), ε ~ N(0, σ²), loss ½(wᵀx + b − y)², at w = w* + r,
    b = b* + s: G = (r, s), |G|² = ‖r‖² + s² and tr Σ = (d + 2)‖r‖² + d s² + (d + 1)σ² (Gaussian
    moments). Per-example norms from the Dense contractions, 300 fresh batches of 128, the
    smoothed estimates within 5 % of the closed forms (their Monte Carlo sd is about 1 %)."""
    d, sigma, batch = 4, 0.5, 128
    r = np.array([0.6, -0.4, 0.5, 0.3])
    s = 0.5
    keras.utils.set_random_seed(0)
    inputs = keras.Input((d,), dtype="float64")
    model = keras.Model(inputs, keras.layers.Dense(1, dtype="float64")(inputs))
    w_star, b_star = np.array([1.0, 2.0, -1.0, 0.5]), 0.2
    model.layers[1].set_weights([(w_star + r)[:, None], np.array([b_star + s])])
    loss = lambda y, p: 0.5 * tf.square(p[:, 0] - y)  # noqa: E731
    layers = pe.dense_chain(model)

    @tf.function
    def measure(x, y):
        xs, deltas, _ = pe.dense_inputs_and_deltas(model, layers, x, y, loss)
        X, D = xs[0], deltas[0]
        mean_example_sq = tf.reduce_mean(pe.batch_l2_grad(X, D) + pe.bias_batch_l2_grad(D))
        batch_mean_sq = tf.reduce_sum(tf.square(pe.mean_grad(X, D))) + tf.reduce_sum(
            tf.square(pe.bias_mean_grad(D)))
        return mean_example_sq, batch_mean_sq

    rng = np.random.default_rng(3)
    g2s, traces = [], []
    for _ in range(300):
        x = rng.normal(size=(batch, d))
        y = x @ w_star + b_star + sigma * rng.normal(size=batch)
        m1, mb = measure(tf.constant(x), tf.constant(y))
        g2, tr = pe.noise_scale_terms(float(m1), float(mb), batch)
        g2s.append(g2)
        traces.append(tr)
    g2_true = r @ r + s * s
    trace_true = (d + 2) * (r @ r) + d * s * s + (d + 1) * sigma ** 2
    assert np.mean(g2s) == pytest.approx(g2_true, rel=0.05)
    assert np.mean(traces) == pytest.approx(trace_true, rel=0.05)
    g_ema, t_ema, ratio = pe.smoothed_noise_scale(g2s, traces, decay=0.995)
    assert ratio[-1] == pytest.approx(trace_true / g2_true, rel=0.08)


def test_smoothed_noise_scale_is_bias_corrected_and_skips_nan():
    g, t, ratio = pe.smoothed_noise_scale([2.0, np.nan, 2.0], [4.0, 1.0, 4.0], decay=0.9)
    np.testing.assert_allclose(g, [2.0, 2.0, 2.0])
    np.testing.assert_allclose(ratio, [2.0, 2.0, 2.0])
    _, _, ratio = pe.smoothed_noise_scale([-1.0], [4.0])
    assert np.isnan(ratio[0])
