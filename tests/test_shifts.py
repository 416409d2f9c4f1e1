"""Input shifts: deterministic, in range, stronger with severity, names match the config."""

import numpy as np
import pytest

from keras_dyn.config import SHIFT_KINDS
from keras_dyn.data.shifts import MAX_SEVERITY, SHIFTS, apply_shift
from keras_dyn.errors import DataError


def _digits(n=16, seed=0):
    """Blob-like fake digits: a bright stroke pattern on a dark background in [0, 1]."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 28, 28), dtype=np.float32)
    for i in range(n):
        r0, c0 = rng.integers(6, 10, size=2)
        x[i, r0:r0 + 14, c0:c0 + 3] = 1.0
        x[i, r0:r0 + 3, c0:c0 + 10] = 0.8
        x[i, r0 + 11:r0 + 14, c0:c0 + 10] = 0.6
    return x


def test_names_match_config():
    assert tuple(SHIFTS) == tuple(SHIFT_KINDS)
    assert len(SHIFTS) >= 6


@pytest.mark.parametrize("kind", SHIFTS)
def test_deterministic_and_shape(kind):
    x = _digits()
    a = apply_shift(x, kind, 2, seed=5)
    b = apply_shift(x, kind, 2, seed=5)
    assert a.shape == x.shape and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, x)


@pytest.mark.parametrize("kind", SHIFTS)
@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_in_range(kind, value_range):
    lo, hi = value_range
    x = _digits() * (hi - lo) + lo
    for s in range(1, MAX_SEVERITY + 1):
        out = apply_shift(x, kind, s, seed=1, value_range=value_range)
        assert out.min() >= lo - 1e-6 and out.max() <= hi + 1e-6


@pytest.mark.parametrize("kind", SHIFTS)
def test_change_grows_with_severity(kind):
    x = _digits(32)
    change = [np.abs(apply_shift(x, kind, s, seed=2) - x).mean() for s in range(1, MAX_SEVERITY + 1)]
    assert all(b > a for a, b in zip(change, change[1:])), change


@pytest.mark.parametrize("kind", ["rotation", "translation", "occlusion"])
def test_background_is_low_end(kind):
    x = np.full((4, 28, 28), -1.0, dtype=np.float32)
    x[:, 10:18, 10:18] = 1.0
    out = apply_shift(x, kind, 3, value_range=(-1.0, 1.0))
    assert out[:, 0, 0].tolist() == [-1.0] * 4  # corners stay background


def test_severity_zero_is_identity_and_single_image():
    x = _digits(2)
    assert np.array_equal(apply_shift(x, "blur", 0), x)
    assert apply_shift(x[0], "blur", 1).shape == (28, 28)


@pytest.mark.parametrize("kind,severity", [("warp", 1), ("blur", 6), ("blur", -1), ("blur", 1.5)])
def test_bad_arguments(kind, severity):
    with pytest.raises(DataError):
        apply_shift(_digits(2), kind, severity)
