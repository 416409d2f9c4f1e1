"""Properties linear CKA and cosine similarity must have."""

import numpy as np
import pytest

from keras_dyn.similarity import linear_cka, mean_cosine, rowwise_cosine


@pytest.fixture
def rep():
    return np.random.default_rng(0).standard_normal((64, 20))


def _orthogonal(d, seed=1):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q


def test_cka_of_itself_is_one(rep):
    assert linear_cka(rep, rep) == pytest.approx(1.0)


def test_cka_invariant_to_orthogonal_transform(rep):
    other = np.tanh(rep @ np.random.default_rng(2).standard_normal((20, 30)))
    q = _orthogonal(20)
    assert linear_cka(rep @ q, rep) == pytest.approx(1.0)
    assert linear_cka(rep @ q, other) == pytest.approx(linear_cka(rep, other))


@pytest.mark.parametrize("scale", [0.01, 3.0, 250.0])
def test_cka_invariant_to_isotropic_scaling(rep, scale):
    other = np.random.default_rng(3).standard_normal((64, 10))
    assert linear_cka(scale * rep, rep) == pytest.approx(1.0)
    assert linear_cka(scale * rep, other) == pytest.approx(linear_cka(rep, other))


def test_cka_symmetric_bounded_and_wide_layers_agree(rep):
    other = np.random.default_rng(4).standard_normal((64, 100))  # wider than n: Gram path
    value = linear_cka(rep, other)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(linear_cka(other, rep))
    assert value < 0.9  # unrelated random features


def test_cka_constant_representation_is_nan(rep):
    assert np.isnan(linear_cka(np.zeros_like(rep), rep))


def test_cosine_identical_is_one(rep):
    assert np.allclose(rowwise_cosine(rep, rep), 1.0)
    assert mean_cosine(rep, 5 * rep) == pytest.approx(1.0)
    assert mean_cosine(rep, -rep) == pytest.approx(-1.0)


def test_cosine_zero_rows():
    x = np.array([[0.0, 0.0], [1.0, 0.0]])
    y = np.array([[0.0, 0.0], [0.0, 0.0]])
    assert rowwise_cosine(x, y).tolist() == [1.0, 0.0]
