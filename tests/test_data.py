"""Tests for keras_dyn.data: file search order, damaged files, splits, subsets, synthetic sets.

Every test runs with tiny fake files in tmp_path, KERAS_HOME pointed into tmp_path, the Debian
folder pointed at a missing path and Keras's download replaced, so nothing touches the
network or the real ~/.keras. Only ``test_real_*`` read the shared data (via KERAS_DYN_DATA).
"""

from __future__ import annotations

import gzip
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

# Let `pytest tests/test_data.py` work from a plain checkout (the repo has no install step).
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from keras_dyn.config import DataConfig
from keras_dyn.data import Dataset, datasets, load_dataset
from keras_dyn.data.datasets import FASHION_FILES, load_raw, make_circle, make_nested_rings
from keras_dyn.errors import DataError

REAL_DATA = os.environ.get("KERAS_DYN_DATA")


# --------------------------------------------------------------------------- fake files


def fake_arrays(n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_npz(folder: Path, **kwargs) -> dict:
    arrays = fake_arrays(**kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "mnist.npz", **arrays)
    return arrays


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion(folder: Path, **kwargs) -> dict:
    arrays = fake_arrays(**kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    for key, (fname, magic) in FASHION_FILES.items():
        (folder / fname).write_bytes(gzip.compress(idx_bytes(arrays[key], magic)))
    return arrays


def same(raw, arrays) -> bool:
    (x_train, y_train), (x_test, y_test) = raw
    return (np.array_equal(x_train, arrays["x_train"]) and np.array_equal(y_train, arrays["y_train"])
            and np.array_equal(x_test, arrays["x_test"]) and np.array_equal(y_test, arrays["y_test"]))


def assert_one_line(exc_info, *needles):
    text = str(exc_info.value)
    assert "\n" not in text, text
    assert text.startswith("data error: ")
    for needle in needles:
        assert str(needle) in text, f"{needle!r} not in {text!r}"


# --------------------------------------------------------------------------- isolation


class DownloadBlocked(Exception):
    pass


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No data dir, empty Keras cache, no Debian folder, Keras download always fails."""
    import keras

    def blocked():
        raise DownloadBlocked("URL fetch failure: network blocked by the test")

    monkeypatch.delenv("KERAS_DYN_DATA", raising=False)
    monkeypatch.delenv("KERAS_DYN_NO_DOWNLOAD", raising=False)  # Keras's download is stubbed here
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", tmp_path / "no-debian" / "fashion-mnist")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", blocked)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", blocked)
    datasets._load_raw_cached.cache_clear()
    yield
    datasets._load_raw_cached.cache_clear()


# --------------------------------------------------------------------------- search order


def test_env_var_folder_is_used(tmp_path, monkeypatch):
    arrays = write_npz(tmp_path / "data")
    monkeypatch.setenv("KERAS_DYN_DATA", str(tmp_path / "data"))
    raw = load_raw("mnist")
    assert same(raw, arrays)
    assert raw[0][0].dtype == np.uint8 and raw[0][0].shape == (20, 28, 28)


def test_explicit_dir_beats_env_var(tmp_path, monkeypatch):
    write_npz(tmp_path / "env", n_train=20)
    explicit = write_npz(tmp_path / "explicit", n_train=30, seed=1)
    monkeypatch.setenv("KERAS_DYN_DATA", str(tmp_path / "env"))
    assert same(load_raw("mnist", data_dir=tmp_path / "explicit"), explicit)


def test_fashion_in_subfolder_or_directly(tmp_path):
    nested = write_fashion(tmp_path / "a" / "fashion-mnist")
    flat = write_fashion(tmp_path / "b", seed=2)
    assert same(load_raw("fashion_mnist", data_dir=tmp_path / "a"), nested)
    assert same(load_raw("fashion_mnist", data_dir=tmp_path / "b"), flat)


def test_keras_cache_via_keras_home(tmp_path):
    mnist = write_npz(tmp_path / "keras_home" / "datasets")
    fashion = write_fashion(tmp_path / "keras_home" / "datasets" / "fashion-mnist", seed=3)
    assert same(load_raw("mnist"), mnist)
    assert same(load_raw("fashion_mnist"), fashion)


def test_given_dir_without_files_falls_through_to_keras_cache(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    arrays = write_npz(tmp_path / "keras_home" / "datasets")
    monkeypatch.setenv("KERAS_DYN_DATA", str(tmp_path / "empty"))
    assert same(load_raw("mnist"), arrays)


def test_debian_folder_for_fashion(tmp_path, monkeypatch):
    arrays = write_fashion(tmp_path / "debian" / "fashion-mnist")
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", tmp_path / "debian" / "fashion-mnist")
    assert same(load_raw("fashion_mnist"), arrays)


def test_no_download_setting_skips_keras(monkeypatch):
    import keras

    called = []
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: called.append(1))
    monkeypatch.setenv("KERAS_DYN_NO_DOWNLOAD", "1")
    with pytest.raises(DataError, match="download disabled by KERAS_DYN_NO_DOWNLOAD"):
        load_raw("mnist")
    assert not called


def test_keras_download_is_last_resort(monkeypatch):
    import keras

    arrays = fake_arrays(n_train=12, n_test=6)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: (
        (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])))
    assert same(load_raw("mnist"), arrays)


@pytest.mark.parametrize("name, hint", [("mnist", "mnist.npz"),
                                        ("fashion_mnist", "apt-get install dataset-fashion-mnist")])
def test_missing_everywhere_is_one_readable_line(tmp_path, monkeypatch, name, hint):
    monkeypatch.setenv("KERAS_DYN_DATA", str(tmp_path / "mydata"))
    with pytest.raises(DataError) as exc_info:
        load_raw(name)
    assert_one_line(exc_info, name, tmp_path / "mydata", "KERAS_DYN_DATA",
                    tmp_path / "keras_home" / "datasets", "network blocked by the test",
                    "connect to the internet", hint)
    if name == "fashion_mnist":
        assert "no-debian" in str(exc_info.value)


def test_explicit_dir_argument_named_in_error(tmp_path):
    with pytest.raises(DataError) as exc_info:
        load_raw("mnist", data_dir=tmp_path / "given")
    assert_one_line(exc_info, tmp_path / "given", "data_dir argument")


def test_unknown_name():
    with pytest.raises(DataError) as exc_info:
        load_raw("cifar10")
    assert_one_line(exc_info, "cifar10")


def test_cache_returns_same_read_only_arrays(tmp_path, monkeypatch):
    write_npz(tmp_path / "data")
    monkeypatch.setenv("KERAS_DYN_DATA", str(tmp_path / "data"))
    first = load_raw("mnist")
    (tmp_path / "data" / "mnist.npz").unlink()  # a second read would now fail
    assert load_raw("mnist") is first
    assert not first[0][0].flags.writeable


# --------------------------------------------------------------------------- damaged files


def _fashion_file(folder, key):
    return folder / FASHION_FILES[key][0]


def test_bad_gzip(tmp_path):
    write_fashion(tmp_path)
    path = _fashion_file(tmp_path, "x_test")
    path.write_bytes(b"this is not gzip")
    with pytest.raises(DataError) as exc_info:
        load_raw("fashion_mnist", data_dir=tmp_path)
    assert_one_line(exc_info, path, "gzip")


def test_wrong_magic(tmp_path):
    arrays = write_fashion(tmp_path)
    path = _fashion_file(tmp_path, "y_train")
    path.write_bytes(gzip.compress(idx_bytes(arrays["y_train"], 2051)))
    with pytest.raises(DataError) as exc_info:
        load_raw("fashion_mnist", data_dir=tmp_path)
    assert_one_line(exc_info, path, "magic number 2051", "2049")


def test_truncated_idx(tmp_path):
    arrays = write_fashion(tmp_path)
    path = _fashion_file(tmp_path, "x_train")
    path.write_bytes(gzip.compress(idx_bytes(arrays["x_train"], 2051)[:-100]))
    with pytest.raises(DataError) as exc_info:
        load_raw("fashion_mnist", data_dir=tmp_path)
    assert_one_line(exc_info, path, "truncated")


def test_truncated_gzip_stream(tmp_path):
    write_fashion(tmp_path)
    path = _fashion_file(tmp_path, "x_train")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError) as exc_info:
        load_raw("fashion_mnist", data_dir=tmp_path)
    assert_one_line(exc_info, path)


def test_incomplete_fashion_folder(tmp_path):
    write_fashion(tmp_path)
    _fashion_file(tmp_path, "y_test").unlink()
    with pytest.raises(DataError) as exc_info:
        load_raw("fashion_mnist", data_dir=tmp_path)
    assert_one_line(exc_info, tmp_path, "t10k-labels-idx1-ubyte.gz")


def test_npz_missing_array(tmp_path):
    arrays = fake_arrays()
    del arrays["y_test"]
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError) as exc_info:
        load_raw("mnist", data_dir=tmp_path)
    assert_one_line(exc_info, tmp_path / "mnist.npz", "y_test")


def test_npz_not_a_zip(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError) as exc_info:
        load_raw("mnist", data_dir=tmp_path)
    assert_one_line(exc_info, tmp_path / "mnist.npz")


@pytest.mark.parametrize("key, value, needle", [
    ("x_train", np.zeros((20, 28, 27), np.uint8), "shape"),
    ("x_train", np.zeros((20, 28, 28), np.float32), "dtype"),
    ("y_train", np.zeros(19, np.uint8), "y_train"),
    ("y_test", np.full(10, 10, np.uint8), "labels"),
])
def test_npz_bad_contents(tmp_path, key, value, needle):
    arrays = fake_arrays()
    arrays[key] = value
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError) as exc_info:
        load_raw("mnist", data_dir=tmp_path)
    assert_one_line(exc_info, tmp_path / "mnist.npz", needle)


# --------------------------------------------------------------------------- load_dataset


@pytest.fixture
def fake_mnist_dir(tmp_path):
    write_npz(tmp_path / "d", n_train=100, n_test=40)
    return tmp_path / "d"


def test_split_sizes_and_types(fake_mnist_dir):
    ds = load_dataset(DataConfig(dataset="mnist", validation_split=0.2), data_dir=fake_mnist_dir)
    assert isinstance(ds, Dataset)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (80, 20, 40)
    assert ds.x_train.dtype == np.float32 and ds.x_train.shape[1:] == (28, 28)
    for y in (ds.y_train, ds.y_val, ds.y_test, ds.y_train_clean):
        assert y.dtype == np.int32
    assert ds.num_classes == 10 and ds.input_shape == (28, 28)
    assert ds.corrupted.dtype == bool and not ds.corrupted.any() and len(ds.corrupted) == 80
    assert np.array_equal(ds.y_train, ds.y_train_clean)
    # the split is a partition of the training pool
    (x_raw, _), (x_test_raw, _) = load_raw("mnist", fake_mnist_dir)
    seen = np.concatenate([ds.x_train, ds.x_val]) * 255
    assert sorted(np.round(seen.sum(axis=(1, 2)))) == sorted(x_raw.sum(axis=(1, 2)).astype(float))
    np.testing.assert_allclose(ds.x_test * 255, x_test_raw, atol=1e-3)  # test set untouched


def test_split_is_seeded(fake_mnist_dir):
    a = load_dataset(DataConfig(dataset="mnist", split_seed=1), data_dir=fake_mnist_dir)
    b = load_dataset(DataConfig(dataset="mnist", split_seed=1), data_dir=fake_mnist_dir)
    c = load_dataset(DataConfig(dataset="mnist", split_seed=2), data_dir=fake_mnist_dir)
    assert np.array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)


def test_no_validation_gives_empty_arrays(fake_mnist_dir):
    ds = load_dataset(DataConfig(dataset="mnist", validation_split=0.0), data_dir=fake_mnist_dir)
    assert ds.x_val.shape == (0, 28, 28) and ds.y_val.shape == (0,)
    assert len(ds.x_train) == 100


@pytest.mark.parametrize("normalize, low, high", [("zero_one", 0.0, 1.0),
                                                  ("minus_one_one", -1.0, 1.0)])
def test_normalisation(fake_mnist_dir, normalize, low, high):
    ds = load_dataset(DataConfig(dataset="mnist", normalize=normalize), data_dir=fake_mnist_dir)
    assert ds.value_range == (low, high)
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert x.dtype == np.float32
        assert x.min() >= low and x.max() <= high
    assert ds.x_train.min() == pytest.approx(low) and ds.x_train.max() == pytest.approx(high)


def test_subset_scales_validation(fake_mnist_dir):
    cfg = DataConfig(dataset="mnist", validation_split=0.2, subset=40, test_subset=15)
    ds = load_dataset(cfg, data_dir=fake_mnist_dir)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (40, 10, 15)
    assert len(ds.y_train_clean) == len(ds.corrupted) == 40
    tiny = load_dataset(DataConfig(dataset="mnist", validation_split=0.1, subset=2),
                        data_dir=fake_mnist_dir)
    assert (len(tiny.x_train), len(tiny.x_val)) == (2, 1)


def test_subset_too_large(fake_mnist_dir):
    with pytest.raises(DataError) as exc_info:
        load_dataset(DataConfig(dataset="mnist", subset=1000), data_dir=fake_mnist_dir)
    assert_one_line(exc_info, "data.subset")
    with pytest.raises(DataError) as exc_info:
        load_dataset(DataConfig(dataset="mnist", test_subset=41), data_dir=fake_mnist_dir)
    assert_one_line(exc_info, "data.test_subset")


def test_label_noise_calls_corrupt_labels(fake_mnist_dir, monkeypatch):
    calls = []

    def corrupt_labels(y, fraction, num_classes, kind, seed):
        calls.append((len(y), fraction, num_classes, kind, seed))
        mask = np.zeros(len(y), bool)
        mask[:3] = True
        return np.where(mask, (y + 1) % num_classes, y), mask

    monkeypatch.setitem(sys.modules, "keras_dyn.data.noise",
                        types.SimpleNamespace(corrupt_labels=corrupt_labels))
    cfg = DataConfig(dataset="mnist", subset=30, label_noise=0.25, label_noise_kind="pair",
                     label_noise_seed=7)
    ds = load_dataset(cfg, data_dir=fake_mnist_dir)
    assert calls == [(30, 0.25, 10, "pair", 7)]
    assert ds.corrupted.sum() == 3 and ds.corrupted.dtype == bool
    assert np.array_equal(ds.y_train != ds.y_train_clean, ds.corrupted)
    assert ds.y_train.dtype == np.int32


# --------------------------------------------------------------------------- synthetic


@pytest.mark.parametrize("make", [make_circle, make_nested_rings])
def test_synthetic_deterministic_and_typed(make):
    x, y = make(500, 0.1, seed=3)
    x2, y2 = make(500, 0.1, seed=3)
    x3, _ = make(500, 0.1, seed=4)
    assert x.shape == (500, 2) and x.dtype == np.float32 and y.dtype == np.int32
    assert set(np.unique(y)) == {0, 1}
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(x, x3)


def test_synthetic_balance_and_geometry():
    x, y = make_circle(4000, 0.0, seed=0)
    assert 0.45 < y.mean() < 0.55
    radius = np.linalg.norm(x, axis=1)
    assert radius[y == 1].max() < radius[y == 0].min() + 1e-6  # noiseless: label = inside
    x, y = make_nested_rings(4000, 0.0, seed=0)
    assert abs(y.mean() - 0.5) < 0.01
    radius = np.linalg.norm(x, axis=1)
    assert np.allclose(np.sort(np.unique(np.round(radius, 4))), [0.25, 0.5, 0.75, 1.0])
    assert np.all(y[np.isclose(radius, 0.25)] == 0) and np.all(y[np.isclose(radius, 0.5)] == 1)


def test_load_dataset_synthetic():
    ds = load_dataset(DataConfig(dataset="nested_rings", n_samples=200, validation_split=0.1))
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (180, 20, 50)
    assert ds.num_classes == 2 and ds.input_shape == (2,)
    low, high = ds.value_range
    assert low <= ds.x_train.min() and ds.x_train.max() <= high
    again = load_dataset(DataConfig(dataset="nested_rings", n_samples=200, validation_split=0.1))
    assert np.array_equal(ds.x_test, again.x_test)
    assert not np.array_equal(ds.x_test[:10], ds.x_train[:10])  # test is a separate draw


# --------------------------------------------------------------------------- real data

real_data = pytest.mark.skipif(
    not REAL_DATA or not (Path(REAL_DATA) / "mnist.npz").is_file(),
    reason="KERAS_DYN_DATA unset or without mnist.npz")


@real_data
def test_real_mnist_matches_published_statistics(monkeypatch):
    monkeypatch.setenv("KERAS_DYN_DATA", REAL_DATA)
    (x_train, y_train), (x_test, y_test) = load_raw("mnist")
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert abs((x_train / 255.0).mean() - 0.1306604762738429) < 1e-6
    assert abs((x_train / 255.0).std() - 0.3081078038564622) < 1e-6
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842,
                                             5421, 5918, 6265, 5851, 5949]
    assert len(y_test) == 10000


@pytest.mark.skipif(not REAL_DATA or not (Path(REAL_DATA) / "fashion-mnist").is_dir(),
                    reason="KERAS_DYN_DATA unset or without fashion-mnist/")
def test_real_fashion_mnist_shapes(monkeypatch):
    monkeypatch.setenv("KERAS_DYN_DATA", REAL_DATA)
    (x_train, y_train), (x_test, y_test) = load_raw("fashion_mnist")
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
