"""The from-scratch NumPy MLP agrees with GradientTape (float64) and with the recorded norms."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dyn.callbacks.gradient_statistics import GradientStatistics
from keras_dyn.numpy_mlp import NumpyMLP, gradient_norms
from keras_dyn.recording import instrument

from _dyn_helpers import tiny_data, tiny_model


@pytest.fixture
def float64():
    old = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(old)


def _rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_numpy_gradients_match_gradient_tape(float64, activation):
    model = tiny_model(hidden=(8, 6), activation=activation, seed=1)
    x, y = tiny_data(20, seed=2, dtype="float64")
    with tf.GradientTape() as tape:
        probs = model(x, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))
    tape_grads = [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]
    net = NumpyMLP.from_keras(model)
    np_loss, grads = net.loss_and_gradients(x, y)
    flat = [g for pair in grads for g in pair]
    assert abs(np_loss - float(loss)) <= 1e-5 * abs(float(loss))
    for mine, theirs in zip(flat, tape_grads):
        assert mine.shape == theirs.shape
        assert _rel_err(mine, theirs) < 1e-5


def test_numpy_norms_match_recorded_applied_norms(float64):
    base = tiny_model(hidden=(8, 6), seed=3)
    net = NumpyMLP.from_keras(base)  # the weights before the single step
    x, y = tiny_data(24, seed=4, dtype="float64")
    model = instrument(base)
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    cb = GradientStatistics(None)
    model.fit(x, y, batch_size=24, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
    recorded = [cb.results()["step_norms"][n][0][0] for n in model.recorded_names]
    _, grads = net.loss_and_gradients(x, y)
    # the recorded values are kept to 6 significant digits in results
    np.testing.assert_allclose(recorded, gradient_norms(grads), rtol=1e-5)


def test_sgd_step_lowers_the_loss():
    net = NumpyMLP.init([5, 16, 3], activation="tanh", seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    before = net.loss(x, y)
    for _ in range(20):
        _, grads = net.loss_and_gradients(x, y)
        net.sgd_step(grads, 0.1)
    assert net.loss(x, y) < before


def test_finite_differences_agree_with_backprop():
    net = NumpyMLP.init([3, 4, 2], activation="sigmoid", seed=5)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 2, 6)
    _, grads = net.loss_and_gradients(x, y)
    W, b = net.weights[0]
    eps = 1e-6
    W[1, 2] += eps
    up = net.loss(x, y)
    W[1, 2] -= 2 * eps
    down = net.loss(x, y)
    W[1, 2] += eps
    assert abs((up - down) / (2 * eps) - grads[0][0][1, 2]) < 1e-7
