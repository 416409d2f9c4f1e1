"""Ready-to-train data: :func:`load_dataset` turns a ``[data]`` config into a :class:`Dataset`.

The steps, in order, each seeded so a config always gives the same arrays:

1. **Raw data.** MNIST / Fashion-MNIST from :func:`keras_dyn.data.datasets.load_raw` (see
   there for where files are searched). Synthetic sets (``circle``, ``nested_rings``) are
   drawn with ``n_samples`` and ``noise``: the training pool with seed ``split_seed`` and a
   separate test set of ``max(n_samples // 4, 10)`` examples with seed ``split_seed + 1``.
2. **Normalisation** (images only): ``zero_one`` -> ``x / 255`` in ``[0, 1]``,
   ``minus_one_one`` -> ``x / 127.5 - 1`` in ``[-1, 1]``; float32, shape kept ``(N, 28, 28)``.
   Synthetic inputs are not rescaled; their ``value_range`` is the (min, max) over all splits.
3. **Validation split.** ``round(validation_split * N)`` training examples (at least 1 when
   the split is > 0) chosen by a permutation seeded with ``split_seed`` become the
   validation set; the test set is untouched. ``validation_split = 0`` gives empty arrays.
4. **Subsets.** ``subset > 0`` keeps that many training examples (a seeded random choice)
   and shrinks the validation set by the same ratio (at least 1 example);
   ``test_subset > 0`` keeps that many test examples (also a seeded random choice).
   Asking for more examples than there are raises :class:`keras_dyn.errors.DataError`.
5. **Label noise** (after subsets): when ``label_noise > 0``,
   :func:`keras_dyn.data.noise.corrupt_labels` on the training labels with ``label_noise_seed``.
   ``y_train_clean`` keeps the labels from before, ``corrupted`` marks the changed examples.
   With ``label_noise_validation`` the validation labels get the same noise (fraction and kind)
   from their own stream, ``[label_noise_seed, 1]``; ``y_val_clean`` keeps them from before. The
   test labels are never corrupted.
6. **Input corruption** (images only): ``input_corruption`` other than ``"none"`` permutes
   the pixels with :func:`keras_dyn.data.corruption.corrupt_inputs` and
   ``input_corruption_seed``: ``"shuffled_pixels"`` one permutation shared by every split,
   ``"random_pixels"`` one per image (training, validation and test drawn as separate streams).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_dyn.config import DataConfig
from keras_dyn.data.datasets import (
    IMAGE_DATASETS,
    NUM_CLASSES,
    SYNTHETIC_DATASETS,
    SYNTHETIC_GENERATORS,
    load_raw,
    make_circle,
    make_nested_rings,
)
from keras_dyn.errors import DataError

__all__ = ["Dataset", "constant_features", "load_dataset", "load_raw", "make_circle", "make_nested_rings"]

VALUE_RANGES = {"zero_one": (0.0, 1.0), "minus_one_one": (-1.0, 1.0)}

# Offsets mixed into split_seed so the split and the two subset draws are independent streams.
_SPLIT_STREAM, _SUBSET_STREAM, _VAL_SUBSET_STREAM, _TEST_SUBSET_STREAM = 0, 1, 2, 3
# streams of the per-image pixel permutations (input_corruption = "random_pixels")
_TRAIN_PIXELS, _VAL_PIXELS, _TEST_PIXELS = 0, 1, 2
# stream of the validation labels' noise (data.label_noise_validation), beside label_noise_seed
_VAL_NOISE_STREAM = 1


@dataclass
class Dataset:
    """Arrays for one run: float32 inputs, int32 labels (see DEVELOPERS.md, "Dataset").

    ``y_train`` may hold noisy labels; ``y_train_clean`` holds the labels before noise and
    ``corrupted`` (bool, one per training example) marks where they differ by design.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    input_shape: tuple
    value_range: tuple
    y_train_clean: np.ndarray
    corrupted: np.ndarray
    y_val_clean: np.ndarray | None = None  # validation labels before noise (None: y_val is clean)


def load_dataset(cfg: DataConfig, data_dir=None) -> Dataset:
    """Build the :class:`Dataset` a ``[data]`` section describes (steps in the module docstring).

    Args:
        cfg: the validated ``[data]`` section.
        data_dir: folder searched first for image files (default: ``$KERAS_DYN_DATA``).

    Raises:
        DataError: data not found or damaged, or a subset larger than the data.

    Example:
        >>> ds = load_dataset(DataConfig(dataset="circle", n_samples=200))
        >>> ds.x_train.shape, ds.x_val.shape, ds.num_classes
        ((180, 2), (20, 2), 2)
    """
    if cfg.split_seed < 0:
        raise DataError(f"data.split_seed must be >= 0, not {cfg.split_seed}")
    (x_pool, y_pool), (x_test, y_test), value_range, scale = _raw_arrays(cfg, data_dir)

    train_idx, val_idx = _split(len(x_pool), cfg.validation_split, cfg.split_seed)
    if cfg.subset > 0:
        n_train = len(train_idx)
        if cfg.subset > n_train:
            raise DataError(f"data.subset = {cfg.subset} but {cfg.dataset} has only {n_train} "
                            f"training examples after the validation split")
        train_idx = _rng(cfg.split_seed, _SUBSET_STREAM).permutation(train_idx)[: cfg.subset]
        if len(val_idx):
            n_val = max(1, round(len(val_idx) * cfg.subset / n_train))
            val_idx = _rng(cfg.split_seed, _VAL_SUBSET_STREAM).permutation(val_idx)[:n_val]
    if cfg.test_subset > 0:
        if cfg.test_subset > len(x_test):
            raise DataError(f"data.test_subset = {cfg.test_subset} but {cfg.dataset} has only "
                            f"{len(x_test)} test examples")
        keep = _rng(cfg.split_seed, _TEST_SUBSET_STREAM).permutation(len(x_test))[: cfg.test_subset]
        x_test, y_test = x_test[keep], y_test[keep]

    num_classes = NUM_CLASSES[cfg.dataset]
    x_train, y_train = scale(x_pool[train_idx]), y_pool[train_idx].astype(np.int32)
    y_train_noisy, corrupted = _label_noise(y_train, cfg, num_classes)
    y_val = y_pool[val_idx].astype(np.int32)
    y_val_noisy = y_val
    if cfg.label_noise_validation and len(y_val):
        y_val_noisy, _ = _label_noise(y_val, cfg, num_classes, stream=_VAL_NOISE_STREAM)
    x_val, x_test = scale(x_pool[val_idx]), scale(x_test)
    if cfg.input_corruption != "none":
        if cfg.dataset not in IMAGE_DATASETS:
            raise DataError(f"data.input_corruption = {cfg.input_corruption!r} needs an image data set, "
                            f"not {cfg.dataset}")
        from keras_dyn.data.corruption import corrupt_inputs

        x_train, x_val, x_test = (corrupt_inputs(x, cfg.input_corruption, cfg.input_corruption_seed, stream)
                                  for x, stream in ((x_train, _TRAIN_PIXELS), (x_val, _VAL_PIXELS),
                                                    (x_test, _TEST_PIXELS)))
    return Dataset(
        name=cfg.dataset,
        x_train=x_train,
        y_train=y_train_noisy,
        x_val=x_val,
        y_val=y_val_noisy,
        x_test=x_test,
        y_test=y_test.astype(np.int32),
        num_classes=num_classes,
        input_shape=tuple(x_train.shape[1:]),
        value_range=value_range,
        y_train_clean=y_train,
        corrupted=corrupted,
        y_val_clean=y_val if y_val_noisy is not y_val else None,
    )


def _raw_arrays(cfg: DataConfig, data_dir):
    """``((x_pool, y_pool), (x_test, y_test), value_range, scale)``.

    ``scale`` turns selected raw inputs into float32 model inputs; images are normalised only
    after selection, so the full float copy of the training pool is never built.
    """
    if cfg.dataset in IMAGE_DATASETS:
        if cfg.normalize not in VALUE_RANGES:
            raise DataError(f"unknown normalisation {cfg.normalize!r}; "
                            f"allowed: {', '.join(VALUE_RANGES)}")
        (x_train, y_train), (x_test, y_test) = load_raw(cfg.dataset, data_dir)
        return ((x_train, y_train), (x_test, y_test), VALUE_RANGES[cfg.normalize],
                lambda x: _normalise(x, cfg.normalize))
    if cfg.dataset in SYNTHETIC_DATASETS:
        make = SYNTHETIC_GENERATORS[cfg.dataset]
        x_pool, y_pool = make(cfg.n_samples, cfg.noise, cfg.split_seed)
        x_test, y_test = make(max(cfg.n_samples // 4, 10), cfg.noise, cfg.split_seed + 1)
        both = np.concatenate([x_pool, x_test])
        value_range = (float(both.min()), float(both.max()))
        return (x_pool, y_pool), (x_test, y_test), value_range, lambda x: x.astype(np.float32)
    raise DataError(f"unknown data set {cfg.dataset!r}; allowed: "
                    f"{', '.join(IMAGE_DATASETS + SYNTHETIC_DATASETS)}")


def _normalise(x: np.ndarray, how: str) -> np.ndarray:
    """uint8 images -> float32 in [0, 1] (``zero_one``) or [-1, 1] (``minus_one_one``)."""
    x = x.astype(np.float32)
    if how == "zero_one":
        return x / np.float32(255.0)
    return x / np.float32(127.5) - np.float32(1.0)


def _split(n: int, fraction: float, seed: int):
    """Index arrays ``(train, val)``: a seeded permutation, the first part for validation."""
    order = _rng(seed, _SPLIT_STREAM).permutation(n)
    n_val = 0
    if fraction > 0:
        n_val = min(max(1, round(n * fraction)), n - 1)
    return order[n_val:], order[:n_val]


def _label_noise(y_train: np.ndarray, cfg: DataConfig, num_classes: int, stream: int | None = None):
    """``(y_noisy, corrupted)``; no noise -> the same labels and an all-False mask. ``stream``:
    the validation labels' own stream of ``label_noise_seed`` (None: the training labels')."""
    if cfg.label_noise <= 0:
        return y_train, np.zeros(len(y_train), dtype=bool)
    from keras_dyn.data.noise import corrupt_labels  # lazy: written in its own module

    seed = cfg.label_noise_seed if stream is None else [cfg.label_noise_seed, stream]
    y_noisy, corrupted = corrupt_labels(y_train.copy(), cfg.label_noise, num_classes,
                                        cfg.label_noise_kind, seed)
    return np.asarray(y_noisy, dtype=np.int32), np.asarray(corrupted, dtype=bool)


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])

def constant_features(x) -> np.ndarray:
    """The values of the input features (flattened) that are the same in every row of ``x``
    (the training set): for MNIST the always-0 border pixels.

    Example:
        >>> constant_features(np.array([[0., 1., 5.], [0., 2., 5.]]))
        array([0., 5.])
    """
    flat = np.asarray(x).reshape(len(x), -1)
    if not len(flat):
        return np.zeros(0)
    same = np.all(flat == flat[0], axis=0)
    return flat[0][same].astype(np.float64)
