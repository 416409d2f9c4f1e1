"""keras_dyn.curvature against the full Hessian of a tiny float64 MLP (nested tapes + jacobian,
NumPy eigvalsh / trace): relative error <= 1e-3."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from keras_dyn import curvature


@pytest.fixture(scope="module")
def problem():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,), dtype="float64")
    h = keras.layers.Dense(4, activation="tanh", dtype="float64", bias_initializer="random_normal")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", dtype="float64")(h))
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(8, 3)))
    y = tf.constant(rng.integers(0, 3, size=8))
    loss = keras.losses.SparseCategoricalCrossentropy(dtype="float64")

    def loss_fn():
        return loss(y, model(x, training=False))

    params = model.trainable_weights
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            value = loss_fn()
        flat = tf.concat([tf.reshape(g, [-1]) for g in inner.gradient(value, params)], 0)
    blocks = outer.jacobian(flat, params, experimental_use_pfor=False)
    hessian = np.concatenate([b.numpy().reshape(len(flat), -1) for b in blocks], axis=1)
    hessian = (hessian + hessian.T) / 2
    return model, loss_fn, params, hessian


def unflatten(vec, params):
    out, i = [], 0
    for p in params:
        n = int(np.prod(p.shape))
        out.append(tf.constant(vec[i:i + n].reshape(p.shape)))
        i += n
    return out


def test_hvp_matches_full_hessian(problem):
    model, loss_fn, params, hessian = problem
    v = np.random.default_rng(1).normal(size=len(hessian))
    hv = tf.function(lambda: curvature.hvp(loss_fn, params, unflatten(v, params)))()
    got = np.concatenate([h.numpy().ravel() for h in hv])
    np.testing.assert_allclose(got, hessian @ v, rtol=1e-8, atol=1e-12)


def test_top_eigenvalue_matches_eigvalsh(problem):
    model, loss_fn, params, hessian = problem
    eig = np.linalg.eigvalsh(hessian)
    top = eig[np.argmax(np.abs(eig))]
    lam, used = tf.function(lambda: curvature.top_eigenvalue(loss_fn, params, iterations=500,
                                                             tol=1e-12))()
    assert float(lam) == pytest.approx(top, rel=1e-3)
    assert 2 <= int(used) <= 500


def test_trace_exact_with_basis_vectors(problem):
    model, loss_fn, params, hessian = problem
    n = len(hessian)
    eye = np.eye(n)
    vectors = [np.stack([unflatten(eye[k], params)[i].numpy() for k in range(n)]) for i in range(len(params))]
    forms = tf.function(lambda: curvature.quadratic_forms(loss_fn, params, [tf.constant(v) for v in vectors]))()
    np.testing.assert_allclose(forms.numpy(), np.diag(hessian), rtol=1e-8, atol=1e-12)
    assert float(np.sum(forms)) == pytest.approx(np.trace(hessian), rel=1e-3)


def test_hutchinson_within_its_standard_error(problem):
    model, loss_fn, params, hessian = problem
    samples = 400
    trace, stderr = tf.function(lambda: curvature.hutchinson_trace(loss_fn, params, samples=samples,
                                                                   seed=3))()
    exact = np.trace(hessian)
    off = hessian - np.diag(np.diag(hessian))
    sd_exact = np.sqrt(2 * np.sum(off ** 2) / samples)  # the estimator's sd, from the Hessian
    assert abs(float(trace) - exact) < 4 * sd_exact
    assert float(stderr) == pytest.approx(sd_exact, rel=0.3)
