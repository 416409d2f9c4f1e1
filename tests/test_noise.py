"""Label noise: exact fraction, always a different class, seeded, validation/test untouched."""

import numpy as np
import pytest

from keras_dyn.data.noise import corrupt_labels
from keras_dyn.errors import DataError


def _labels(n=1000, k=10, seed=0):
    return np.random.default_rng(seed).integers(0, k, size=n).astype(np.int32)


@pytest.mark.parametrize("fraction", [0.0, 0.013, 0.2, 0.4, 0.999, 1.0])
@pytest.mark.parametrize("kind", ["symmetric", "pair"])
def test_exact_fraction_and_always_different(fraction, kind):
    y = _labels(997)
    y_noisy, mask = corrupt_labels(y, fraction, 10, kind=kind, seed=3)
    assert y_noisy.dtype == np.int32 and mask.dtype == bool
    assert mask.sum() == round(fraction * len(y))
    assert (y_noisy[mask] != y[mask]).all()
    assert (y_noisy[~mask] == y[~mask]).all()
    assert ((y_noisy >= 0) & (y_noisy < 10)).all()


def test_zero_unchanged_and_one_all_changed():
    y = _labels()
    y0, m0 = corrupt_labels(y, 0.0, 10)
    assert (y0 == y).all() and not m0.any()
    y1, m1 = corrupt_labels(y, 1.0, 10)
    assert m1.all() and (y1 != y).all()


def test_input_not_modified():
    y = _labels()
    before = y.copy()
    corrupt_labels(y, 0.5, 10, seed=1)
    assert (y == before).all()


def test_seeded_determinism():
    y = _labels()
    a = corrupt_labels(y, 0.4, 10, seed=7)
    b = corrupt_labels(y, 0.4, 10, seed=7)
    c = corrupt_labels(y, 0.4, 10, seed=8)
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    assert (a[1] != c[1]).any()


def test_pair_maps_to_next_class():
    y = _labels()
    y_noisy, mask = corrupt_labels(y, 0.5, 10, kind="pair")
    assert (y_noisy[mask] == (y[mask] + 1) % 10).all()


def test_symmetric_uses_all_other_classes():
    y = np.zeros(5000, dtype=np.int32)
    y_noisy, mask = corrupt_labels(y, 1.0, 10, seed=0)
    counts = np.bincount(y_noisy, minlength=10)
    assert counts[0] == 0
    assert counts[1:].min() > 400  # ~556 each when uniform over the 9 other classes


@pytest.mark.parametrize("args", [(1.5, 10, "symmetric"), (-0.1, 10, "symmetric"),
                                  (0.3, 10, "uniform"), (0.3, 1, "symmetric")])
def test_bad_arguments(args):
    fraction, k, kind = args
    y = np.zeros(20, dtype=np.int32)
    with pytest.raises(DataError):
        corrupt_labels(y, fraction, k, kind=kind)


def test_load_dataset_corrupts_training_labels_only():
    from keras_dyn.config import DataConfig
    from keras_dyn.data import load_dataset

    clean = load_dataset(DataConfig(dataset="circle", n_samples=400, label_noise=0.0))
    noisy = load_dataset(DataConfig(dataset="circle", n_samples=400, label_noise=0.4))
    assert (noisy.y_val == clean.y_val).all() and (noisy.y_test == clean.y_test).all()
    assert (noisy.y_train_clean == clean.y_train).all()
    assert noisy.corrupted.sum() == round(0.4 * len(noisy.y_train))
    assert (noisy.y_train[noisy.corrupted] != noisy.y_train_clean[noisy.corrupted]).all()


# ---- kind "random" (Zhang et al. 2017): a fresh draw from ALL classes, the true one included


@pytest.mark.parametrize("fraction", [0.2, 0.5, 1.0])
def test_random_redraws_exactly_the_symmetric_choice(fraction):
    """The examples re-drawn depend on the seed only, so they are the ones symmetric noise
    corrupts with the same seed: exactly round(p * N); the wrong ones among them are the mask."""
    y = _labels(997)
    _, chosen = corrupt_labels(y, fraction, 10, kind="symmetric", seed=5)
    y_random, mask = corrupt_labels(y, fraction, 10, kind="random", seed=5)
    assert chosen.sum() == round(fraction * len(y))
    assert (y_random[~chosen] == y[~chosen]).all()  # not chosen: untouched
    assert (mask == (y_random != y)).all()  # corrupted = the label now differs
    assert not (mask & ~chosen).any()
    kept = chosen & ~mask  # chosen, but drew its own class back
    assert kept.sum() == chosen.sum() - mask.sum()
    assert (y_random[kept] == y[kept]).all()


def test_random_labels_are_uniform_over_all_classes():
    y = np.zeros(20000, dtype=np.int32)
    y_random, mask = corrupt_labels(y, 1.0, 10, kind="random", seed=0)
    counts = np.bincount(y_random, minlength=10)
    # uniform over 10 classes: 2000 each, sd ~42; class 0 (the true one) is drawn too
    assert counts.min() > 1800 and counts.max() < 2200
    assert mask.sum() == 20000 - counts[0]
    assert 0.08 < 1 - mask.mean() < 0.12  # about 1/10 keep their true class by chance


def test_random_labels_seeded_and_true_labels_kept():
    from keras_dyn.config import DataConfig
    from keras_dyn.data import load_dataset

    cfg = DataConfig(dataset="circle", n_samples=2000, label_noise=1.0, label_noise_kind="random",
                     label_noise_seed=3)
    a, b = load_dataset(cfg), load_dataset(cfg)
    clean = load_dataset(DataConfig(dataset="circle", n_samples=2000))
    assert (a.y_train == b.y_train).all() and (a.corrupted == b.corrupted).all()
    assert (a.y_train_clean == clean.y_train).all()  # the true labels kept for scoring
    assert (a.y_val == clean.y_val).all() and (a.y_test == clean.y_test).all()
    assert (a.corrupted == (a.y_train != a.y_train_clean)).all()
    # two classes: about half the random draws give back the true label
    assert 0.4 < a.corrupted.mean() < 0.6
    other = load_dataset(DataConfig(dataset="circle", n_samples=2000, label_noise=1.0,
                                    label_noise_kind="random", label_noise_seed=4))
    assert (other.y_train != a.y_train).any()
