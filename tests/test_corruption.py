"""Input corruptions (data.input_corruption) and the grid key ``corruption``: pixels permuted,
never changed; one shared permutation for "shuffled_pixels", one per image for "random_pixels"."""

import numpy as np
import pytest

from keras_dyn.config import CORRUPTIONS, DataConfig, from_dict
from keras_dyn.data.corruption import corrupt_inputs, pixel_permutation
from keras_dyn.errors import ConfigError, DataError


def _images(n=50, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28), dtype=np.float32)


def _sorted_pixels(x):
    return np.sort(x.reshape(len(x), -1), axis=1)


@pytest.mark.parametrize("kind", ["shuffled_pixels", "random_pixels"])
def test_pixel_multiset_preserved_and_shape_kept(kind):
    x = _images()
    out = corrupt_inputs(x, kind, seed=1)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert np.array_equal(_sorted_pixels(out), _sorted_pixels(x))  # every image: same values
    assert not np.array_equal(out, x)
    assert np.array_equal(x, _images())  # the input is not modified


def test_shuffled_pixels_one_permutation_for_all_images_and_splits():
    x_train, x_test = _images(40, 1), _images(30, 2)
    a = corrupt_inputs(x_train, "shuffled_pixels", seed=4, stream=0)
    b = corrupt_inputs(x_test, "shuffled_pixels", seed=4, stream=2)  # the stream does not matter
    perm = pixel_permutation(784, 4)
    assert np.array_equal(a.reshape(40, -1), x_train.reshape(40, -1)[:, perm])
    assert np.array_equal(b.reshape(30, -1), x_test.reshape(30, -1)[:, perm])
    assert not np.array_equal(perm, np.arange(784))
    assert not np.array_equal(pixel_permutation(784, 5), perm)  # another seed, another order


def test_random_pixels_a_different_permutation_per_image():
    # distinct pixel values, so an image's permutation can be read back from the output
    base = np.arange(784, dtype=np.float32)
    x = np.tile(base, (20, 1)).reshape(20, 28, 28)
    out = corrupt_inputs(x, "random_pixels", seed=0, stream=0).reshape(20, -1).astype(int)
    assert all(sorted(row) == list(range(784)) for row in out)
    assert len({tuple(row) for row in out}) == 20  # 20 images, 20 different permutations
    again = corrupt_inputs(x, "random_pixels", seed=0, stream=0).reshape(20, -1).astype(int)
    assert np.array_equal(out, again)  # seeded
    other_split = corrupt_inputs(x, "random_pixels", seed=0, stream=2).reshape(20, -1).astype(int)
    assert not np.array_equal(out, other_split)  # splits draw separately


def test_none_is_the_identity_and_bad_kind_fails():
    x = _images(5)
    assert corrupt_inputs(x, "none") is x
    with pytest.raises(DataError, match="unknown input corruption"):
        corrupt_inputs(x, "rotated")


def test_load_dataset_shares_the_fixed_permutation_across_splits(real_data):
    from keras_dyn.data import load_dataset

    base = dict(dataset="mnist", subset=300, test_subset=200)
    clean = load_dataset(DataConfig(**base), real_data)
    shuf = load_dataset(DataConfig(**base, input_corruption="shuffled_pixels", input_corruption_seed=2),
                        real_data)
    perm = pixel_permutation(784, 2)
    for name in ("x_train", "x_val", "x_test"):
        c, s = getattr(clean, name), getattr(shuf, name)
        assert np.array_equal(s.reshape(len(s), -1), c.reshape(len(c), -1)[:, perm]), name
    assert (shuf.y_train == clean.y_train).all() and (shuf.y_test == clean.y_test).all()
    rnd = load_dataset(DataConfig(**base, input_corruption="random_pixels"), real_data)
    for name in ("x_train", "x_val", "x_test"):
        c, r = getattr(clean, name), getattr(rnd, name)
        assert np.array_equal(_sorted_pixels(r), _sorted_pixels(c)), name
    flat_c, flat_r = clean.x_train.reshape(300, -1), rnd.x_train.reshape(300, -1)
    ink = (flat_c > 0).sum(axis=1)
    moved = [(flat_r[i] > 0) != (flat_c[i] > 0) for i in range(300)]
    assert all(m.any() for m, n in zip(moved, ink) if 0 < n < 784)  # every image rearranged


# ---- config


def _raw(**data):
    return {"data": {"dataset": "mnist", **data}, "model": {"hidden": [8]}, "training": {"epochs": 1}}


def test_input_corruption_validated_one_line():
    assert from_dict(_raw(input_corruption="random_pixels")).data.input_corruption == "random_pixels"
    with pytest.raises(ConfigError, match=r"data\.input_corruption.*allowed: none, shuffled_pixels, random_pixels"):
        from_dict(_raw(input_corruption="shuffled"))
    with pytest.raises(ConfigError, match=r"data\.input_corruption.*image data set"):
        from_dict({**_raw(input_corruption="shuffled_pixels"), "data": {"dataset": "circle",
                                                                       "input_corruption": "shuffled_pixels"}})
    with pytest.raises(ConfigError, match=r"data\.input_corruption_seed"):
        from_dict(_raw(input_corruption_seed=-1))


def test_corruption_grid_key_sets_the_conditions():
    raw = _raw(label_noise_kind="symmetric")
    raw["grid"] = {"corruption": list(CORRUPTIONS)}
    raw["training"]["seeds"] = [0]
    cfg = from_dict(raw)
    runs = {p["corruption"]: cfg.at_point(p).data for p in cfg.points()}
    assert runs["clean"].label_noise == 0.0 and runs["clean"].input_corruption == "none"
    assert runs["random_labels"].label_noise == 1.0 and runs["random_labels"].label_noise_kind == "random"
    assert runs["random_labels"].input_corruption == "none"
    assert runs["shuffled_pixels"].input_corruption == "shuffled_pixels" and runs["shuffled_pixels"].label_noise == 0
    assert runs["random_pixels"].input_corruption == "random_pixels"
    names = [cfg.run_name(p, 0) for p in cfg.points()]
    assert names == ["w8_bs64_clean_s0", "w8_bs64_random_labels_s0", "w8_bs64_shuffled_pixels_s0",
                     "w8_bs64_random_pixels_s0"]


def test_corruption_grid_key_refuses_bad_values_and_conflicts():
    raw = _raw()
    raw["grid"] = {"corruption": ["clean", "gaussian"]}
    with pytest.raises(ConfigError, match=r"grid\.corruption.*unknown value 'gaussian'.*allowed: clean"):
        from_dict(raw)
    raw["grid"] = {"corruption": ["clean", "random_labels"], "label_noise": [0.0, 0.2]}
    with pytest.raises(ConfigError, match=r"grid\.label_noise.*either corruption"):
        from_dict(raw)
    raw["grid"] = {"corruption": ["clean", "clean"]}
    with pytest.raises(ConfigError, match="distinct"):
        from_dict(raw)
