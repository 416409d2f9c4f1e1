"""Initial weights are drawn in float64 NumPy from the run's seed (keras_dyn.initializers): the
same bits on every machine (SHA-256 of a fixed small model's weights, stored here, per
initialiser) and the same distributions as Keras's initialisers (moments on a large kernel)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_dyn.config.schema import INITIALIZER_ALIASES, KERAS_INITIALIZERS, ModelConfig
from keras_dyn.initializers import initial_kernel, weights_digest
from keras_dyn.models import build_model

# generated once (hidden (6, 5), 4 inputs, 3 classes, float32, seed 7) and committed: a change
# here means every run's initial weights changed
DIGESTS = {
    "glorot_normal": "75da982bff92ae2c24c9cfe1abbead8414e66bee8484dd2bc9b4e6722aada013",
    "glorot_uniform": "6e536cbf9c3beff62a8df35d5e68698f30edf71c06ec4f77c3e4e9143f69658b",
    "he_normal": "d20f21a2c5c038cdd7056838676b2b6c81eacf7d001dd3e56ac430e500504c6a",
    "he_uniform": "7bb64457294002cb7d7f27736060e4eea30a37914e7d62737d917c997c26d060",
    "identity": "04856e80b3974bd7045baf9b04170f569a70be530cbbd90a68a2360c4b5c515d",
    "lecun_normal": "aca35eb3fa3545c3712ca8c2f97da3f118bc3ef1a73f1600255cf6d3360fe7e4",
    "lecun_uniform": "c077c503e70d90571b46921f2e78bf9a9e6e1dfd3d9cee25121a0714b23104e6",
    "normal": "e63092e1dcdc500c0fac5c0d33a526e3ccc35d1f919c49127c33ad0cba980865",
    "one": "90cf21cc1fe7608e19d59909ffbe008330232c9b9dc075540b4b434873f7b109",
    "ones": "90cf21cc1fe7608e19d59909ffbe008330232c9b9dc075540b4b434873f7b109",
    "orthogonal": "0420656cd64410c700767c5ff469f42f28d75d2d86a0cb255867e5a3bf43553c",
    "random_normal": "e63092e1dcdc500c0fac5c0d33a526e3ccc35d1f919c49127c33ad0cba980865",
    "random_uniform": "a0d735cdbf3b9c3c3e2ed7ae9397ceb362081f7d459a77322b2f362749a30b3c",
    "truncated_normal": "49364dda8c6195a9d385a5615db10168cf044970856462da3bd5f4a291f35a4e",
    "uniform": "a0d735cdbf3b9c3c3e2ed7ae9397ceb362081f7d459a77322b2f362749a30b3c",
    "variance_scaling": "aca35eb3fa3545c3712ca8c2f97da3f118bc3ef1a73f1600255cf6d3360fe7e4",
    "zero": "84709340c9f8cc363ec70109bdb6ddcd2dedc43de2d7d5e76bb72bf353352c66",
    "zeros": "84709340c9f8cc363ec70109bdb6ddcd2dedc43de2d7d5e76bb72bf353352c66",
    "orthogonal_relu": "a704fb85a6cdfea3283abe5e1c76cbede32db929ab91b0f163ddd8c4ce332710",
}


def _digest(name, gain=1.0, seed=7):
    cfg = ModelConfig(hidden=(6, 5), initializer=name, init_gain=gain)
    return weights_digest(build_model(cfg, (4,), 3, seed=seed))


def test_every_initializer_has_a_stored_digest():
    assert set(KERAS_INITIALIZERS) | {"orthogonal_relu"} == set(DIGESTS)
    assert all(v in KERAS_INITIALIZERS for v in INITIALIZER_ALIASES.values())


@pytest.mark.parametrize("name", sorted(KERAS_INITIALIZERS))
def test_initial_weights_hash(name):
    assert _digest(name) == DIGESTS[name]


def test_orthogonal_relu_gain_hash_and_seed():
    assert _digest("orthogonal", "relu") == DIGESTS["orthogonal_relu"]
    assert _digest("he_normal", seed=8) != DIGESTS["he_normal"]  # the seed matters


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_normal", "he_uniform",
                                  "lecun_normal", "lecun_uniform", "variance_scaling",
                                  "random_normal", "random_uniform", "truncated_normal", "orthogonal"])
def test_moments_match_keras(name):
    import keras

    shape = (300, 200)
    ours = initial_kernel(name, shape, seed=0, layer_index=1)
    theirs = np.asarray(keras.initializers.get(name)(shape), dtype=np.float64)
    assert ours.dtype == np.float64 and ours.shape == shape
    assert abs(ours.mean() - theirs.mean()) < 0.05 * theirs.std()
    assert ours.std() == pytest.approx(theirs.std(), rel=0.03)
    assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=0.15)


@pytest.mark.parametrize("shape", [(7, 3), (3, 7)])
def test_orthogonal_gain(shape):
    w = initial_kernel("orthogonal", shape, seed=1, layer_index=2, gain="relu")
    small = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(small, 2.0 * np.eye(min(shape)), atol=1e-12)
