"""Raw data sets: MNIST and Fashion-MNIST from files, and two synthetic 2-D problems.

Image data (:func:`load_raw`) come back as the original uint8 arrays,
``((x_train, y_train), (x_test, y_test))`` with ``x`` of shape ``(N, 28, 28)`` and ``y`` of
shape ``(N,)``. The first place that holds the files wins; places are searched in this order:

1. **The data directory**: the ``data_dir`` argument if given, else the environment variable
   ``KERAS_DYN_DATA`` if set. MNIST is ``<dir>/mnist.npz`` (arrays ``x_train``, ``y_train``,
   ``x_test``, ``y_test``); Fashion-MNIST is the four IDX files
   ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` in ``<dir>/fashion-mnist/`` or directly
   in ``<dir>``. A data directory that lacks the files is not an error by itself: the search
   goes on, and the directory is named in the error if nothing is found at all.
2. **The Keras cache**: ``$KERAS_HOME/datasets/`` (``~/.keras/datasets/`` when ``KERAS_HOME``
   is unset), with the same file names (``mnist.npz``, ``fashion-mnist/*.gz``).
3. **Debian's package folder** (Fashion-MNIST only): ``/usr/share/datasets/fashion-mnist/``,
   filled by ``apt-get install dataset-fashion-mnist``.
4. **Keras's download**: ``keras.datasets.<name>.load_data()``, with a short socket timeout so
   a machine without internet fails quickly instead of hanging. Setting the environment
   variable ``KERAS_DYN_NO_DOWNLOAD=1`` skips this step (the tests use it, so they never
   reach for the network).

If every place fails, :class:`keras_dyn.errors.DataError` says, on one line, what was looked
for, where, and how to provide it. Files that exist but are damaged (bad gzip or zip, wrong
IDX magic number, truncated data, missing arrays, wrong shapes or labels) raise ``DataError``
naming the file and the problem. Successful loads are cached for the life of the process.

The synthetic sets (:func:`make_circle`, :func:`make_nested_rings`) are binary problems in
the plane, generated from a seed: float32 ``x`` of shape ``(n, 2)`` and int32 labels.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import math
import os
import socket
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

from keras_dyn.errors import DataError

IMAGE_DATASETS = ("mnist", "fashion_mnist")
SYNTHETIC_DATASETS = ("circle", "nested_rings")
NUM_CLASSES = {"mnist": 10, "fashion_mnist": 10, "circle": 2, "nested_rings": 2}
IMAGE_SHAPE = (28, 28)

ENV_VAR = "KERAS_DYN_DATA"
MNIST_FILE = "mnist.npz"
FASHION_SUBDIR = "fashion-mnist"
FASHION_FILES = {  # array name -> (IDX file name, IDX magic number)
    "x_train": ("train-images-idx3-ubyte.gz", 2051),
    "y_train": ("train-labels-idx1-ubyte.gz", 2049),
    "x_test": ("t10k-images-idx3-ubyte.gz", 2051),
    "y_test": ("t10k-labels-idx1-ubyte.gz", 2049),
}
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
DOWNLOAD_TIMEOUT_SECONDS = 30.0

_HOW_TO_GET = {
    "mnist": "set KERAS_DYN_DATA to a folder holding mnist.npz, "
             "or connect to the internet so Keras can download it",
    "fashion_mnist": "set KERAS_DYN_DATA to a folder holding fashion-mnist/*.gz, "
                     "or `apt-get install dataset-fashion-mnist`, "
                     "or connect to the internet so Keras can download it",
}


# --------------------------------------------------------------------------- image data


def load_raw(name: str, data_dir=None):
    """Load MNIST or Fashion-MNIST as uint8 arrays (see the module docstring for where from).

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        data_dir: folder searched first; defaults to ``$KERAS_DYN_DATA`` when that is set.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: read-only uint8 arrays shared with the
        in-process cache (copy them before changing them in place).

    Raises:
        DataError: unknown name, data not found anywhere, or a damaged file.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_raw("mnist")  # doctest: +SKIP
        >>> x_train.shape, y_train[:3]                                  # doctest: +SKIP
        ((60000, 28, 28), array([5, 0, 4], dtype=uint8))
    """
    if name not in IMAGE_DATASETS:
        raise DataError(f"unknown image data set {name!r}; allowed: {', '.join(IMAGE_DATASETS)}")
    given = data_dir if data_dir is not None else os.environ.get(ENV_VAR) or None
    given_dir = str(Path(given).expanduser().resolve()) if given else None
    origin = "data_dir argument" if data_dir is not None else ENV_VAR
    return _load_raw_cached(name, given_dir, origin, str(keras_cache_dir()))


NO_DOWNLOAD_ENV_VAR = "KERAS_DYN_NO_DOWNLOAD"


def keras_cache_dir() -> Path:
    """The folder where Keras keeps downloaded data sets (``$KERAS_HOME/datasets``)."""
    home = os.environ.get("KERAS_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".keras"
    return base / "datasets"


@functools.lru_cache(maxsize=8)
def _load_raw_cached(name: str, given_dir: str | None, origin: str, keras_dir: str):
    """Search the places in order; only successful loads end up in the cache."""
    looked = []
    if given_dir is not None:
        arrays = _load_from_folder(name, Path(given_dir), looked, origin)
        if arrays is not None:
            return arrays
    arrays = _load_from_folder(name, Path(keras_dir), looked, "Keras cache", flat=False)
    if arrays is not None:
        return arrays
    if name == "fashion_mnist":
        arrays = _load_from_folder(name, DEBIAN_FASHION_DIR, looked, "Debian package", nested=False)
        if arrays is not None:
            return arrays
    arrays, failure = _download_with_keras(name)
    if arrays is not None:
        return _checked(name, "Keras download", arrays)
    what = MNIST_FILE if name == "mnist" else f"{FASHION_SUBDIR}/*-ubyte.gz"
    raise DataError(f"{name} not found: no {what} in {'; '.join(looked)}; "
                    f"Keras download failed ({failure}). To get it: {_HOW_TO_GET[name]}")


def _load_from_folder(name, folder: Path, looked: list, origin: str, nested=True, flat=True):
    """Arrays from ``folder`` if it holds the files, else None (and note where we looked).

    For Fashion-MNIST, ``nested`` looks in ``folder/fashion-mnist/`` and ``flat`` in ``folder``.
    """
    if name == "mnist":
        path = folder / MNIST_FILE
        looked.append(f"{folder} ({origin})")
        return _checked(name, path, _read_npz(path)) if path.is_file() else None
    candidates = [folder / FASHION_SUBDIR] * nested + [folder] * flat
    looked.append(" and ".join(str(c) for c in candidates) + f" ({origin})")
    for candidate in candidates:
        paths = {key: candidate / fname for key, (fname, _) in FASHION_FILES.items()}
        present = [p for p in paths.values() if p.is_file()]
        if not present:
            continue
        if len(present) < len(paths):
            missing = ", ".join(p.name for p in paths.values() if not p.is_file())
            raise DataError(f"{candidate}: incomplete Fashion-MNIST folder, missing {missing}")
        arrays = {key: _read_idx(path, FASHION_FILES[key][1]) for key, path in paths.items()}
        return _checked(name, candidate, arrays)
    return None


def _read_npz(path: Path) -> dict:
    """The four arrays of a Keras-layout ``mnist.npz``."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in FASHION_FILES if key not in npz.files]
            if missing:
                raise DataError(f"{path}: damaged or not an MNIST file: missing array(s) "
                                f"{', '.join(missing)} (has: {', '.join(npz.files) or 'none'})")
            return {key: npz[key] for key in FASHION_FILES}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
        raise DataError(f"{path}: damaged file, cannot read it as .npz ({_one_line(exc)})") from None


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes (magic 2051: images, 2049: labels)."""
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: damaged file, not a readable gzip ({_one_line(exc)})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: damaged file, truncated before the IDX header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        kind = "images" if magic == 2051 else "labels"
        raise DataError(f"{path}: wrong IDX magic number {found} (expected {magic} for {kind})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: damaged file, truncated inside the IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(dims)
    if len(raw) - header != expected:
        state = "truncated" if len(raw) - header < expected else "has trailing bytes"
        raise DataError(f"{path}: damaged file, {state}: header promises {expected} bytes for "
                        f"shape {dims}, found {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, count=expected, offset=header).reshape(dims)


def _checked(name, source, arrays: dict):
    """Validate shapes, dtypes and labels; return the read-only nested-tuple layout."""
    for part in ("train", "test"):
        x, y = np.asarray(arrays[f"x_{part}"]), np.asarray(arrays[f"y_{part}"])
        if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE or x.shape[0] == 0:
            raise DataError(f"{source}: x_{part} has shape {x.shape}, expected (N, 28, 28) with N > 0")
        if x.dtype != np.uint8:
            raise DataError(f"{source}: x_{part} has dtype {x.dtype}, expected uint8")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{source}: y_{part} has shape {y.shape}, expected ({len(x)},) "
                            f"to match x_{part}")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{source}: y_{part} has dtype {y.dtype}, expected integer labels")
        if y.min() < 0 or y.max() >= NUM_CLASSES[name]:
            raise DataError(f"{source}: y_{part} holds labels {y.min()}..{y.max()}, "
                            f"expected 0..{NUM_CLASSES[name] - 1}")
    out = []
    for part in ("train", "test"):
        pair = []
        for array in (arrays[f"x_{part}"], arrays[f"y_{part}"]):
            array = np.array(array, dtype=np.uint8)  # own copy, so the cache cannot be aliased
            array.flags.writeable = False
            pair.append(array)
        out.append(tuple(pair))
    return tuple(out)


def _download_with_keras(name):
    """``(arrays, None)`` from ``keras.datasets.<name>.load_data()``, or ``(None, reason)``."""
    if os.environ.get(NO_DOWNLOAD_ENV_VAR, "").strip() not in ("", "0"):
        return None, f"download disabled by {NO_DOWNLOAD_ENV_VAR}"
    previous = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
        import keras

        module = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
        chatter = io.StringIO()  # Keras prints "Downloading data from ..." to stdout
        with contextlib.redirect_stdout(chatter):
            (x_train, y_train), (x_test, y_test) = module.load_data()
        sys.stderr.write(chatter.getvalue())  # shown only when the download worked
    except Exception as exc:  # Keras raises a bare Exception on URL failures
        return None, _one_line(exc)
    finally:
        socket.setdefaulttimeout(previous)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}, None


def _one_line(exc, limit=160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- synthetic data

CIRCLE_RADIUS = math.sqrt(2.0 / math.pi)  # disk area = half of the [-1, 1]^2 square
RING_COUNT = 4


def make_circle(n_samples: int, noise: float, seed: int):
    """Points in the square ``[-1, 1]^2``; label 1 inside a circle around the origin.

    The radius ``sqrt(2 / pi)`` gives the disk half the square's area, so the two classes are
    balanced in expectation. Labels come from the clean positions; then Gaussian noise of
    standard deviation ``noise`` is added to the coordinates (so some points cross the border).

    Returns:
        ``(x, y)``: float32 ``(n_samples, 2)`` and int32 ``(n_samples,)`` in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    clean = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (np.linalg.norm(clean, axis=1) < CIRCLE_RADIUS).astype(np.int32)
    x = clean + rng.normal(0.0, noise, size=clean.shape)
    return x.astype(np.float32), y


def make_nested_rings(n_samples: int, noise: float, seed: int, rings: int = RING_COUNT):
    """Concentric rings around the origin with alternating labels (0, 1, 0, 1, ...).

    Ring ``k`` (``k = 0 .. rings-1``) has radius ``(k + 1) / rings``; examples are dealt to the
    rings in turn (so with an even number of rings the classes are balanced to within one),
    placed at a uniform random angle, then moved by Gaussian noise of standard deviation
    ``noise`` in each coordinate.

    Returns:
        ``(x, y)``: float32 ``(n_samples, 2)`` and int32 ``(n_samples,)`` in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    ring = rng.permutation(np.arange(n_samples) % rings)
    radius = (ring + 1) / rings
    angle = rng.uniform(0.0, 2.0 * math.pi, size=n_samples)
    clean = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    x = clean + rng.normal(0.0, noise, size=clean.shape)
    return x.astype(np.float32), (ring % 2).astype(np.int32)


SYNTHETIC_GENERATORS = {"circle": make_circle, "nested_rings": make_nested_rings}
