"""Per-step gradient statistics as one ``[n_vars, 4]`` table: a fused kernel, or TensorFlow ops.

:class:`keras_dyn.recording.RecordingModel` reduces every gradient it hands to the optimiser to
four numbers per step (:data:`STATS`: L2 norm, mean ``|g|``, standard deviation, fraction of
exact zeros). With stock TensorFlow ops that is four or five passes over each gradient and some
thirty small ops per step, which made ``fit`` about 25-30 % slower on a 784-256-256-10 MLP (see
the README, "What the diagnostics cost"). keras_dyn therefore ships a small C++ TensorFlow op,
``keras_dyn/kernels/gradient_stats.cc``, that computes all four numbers for all gradients in
one op and one pass over memory.

The kernel is built the way TensorFlow's guide to custom ops describes (``g++`` with
``tf.sysconfig.get_compile_flags()`` / ``get_link_flags()``) the first time it is needed, once
per TensorFlow version and compiler (about 10 s), into a cache folder, then loaded with
``tf.load_op_library``. If it cannot be built (no C++ compiler, TensorFlow headers missing) a
warning says why and the TensorFlow-ops formulation is used: the same numbers (to float32
rounding), slower.

Settings (environment variables):

``KERAS_DYN_FUSED_STATS``
    ``auto`` (default): build or load the kernel, fall back to TensorFlow ops with a warning;
    ``0`` / ``off``: always use TensorFlow ops; ``1`` / ``on``: the kernel or an error.
``KERAS_DYN_CACHE``
    where the built kernel is kept (default ``$XDG_CACHE_HOME/keras_dyn`` or
    ``~/.cache/keras_dyn``).
``CXX``
    the C++ compiler (default ``g++``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_dyn.errors import KerasDynError

STATS = ("norm", "mean_abs", "std", "zero_frac")
HIST_BINS = 30
# log10|g| histogram edges: 0.25 decade wide from 1e-10 to 10 (values outside are clamped into
# the end buckets; exact zeros are counted by zero_frac, not here)
LOG_EDGES = np.linspace(-10.0, 1.0, 45)
SOURCE = Path(__file__).resolve().parent / "kernels" / "gradient_stats.cc"
_MODES = {"auto": "auto", "": "auto", "0": "off", "off": "off", "false": "off", "no": "off",
          "1": "on", "on": "on", "true": "on", "yes": "on"}

_loaded = {}  # per process: "kernel" -> the loaded op module, or why it is unavailable


def mode() -> str:
    """``auto``, ``off`` or ``on``, from ``KERAS_DYN_FUSED_STATS``."""
    raw = os.environ.get("KERAS_DYN_FUSED_STATS", "auto").strip().lower()
    if raw not in _MODES:
        raise KerasDynError(f"environment variable KERAS_DYN_FUSED_STATS: {raw!r} is not one of "
                            "auto, on (1), off (0)")
    return _MODES[raw]


def cache_dir() -> Path:
    if os.environ.get("KERAS_DYN_CACHE"):
        return Path(os.environ["KERAS_DYN_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "keras_dyn"


def _build_command(out: Path) -> list[str]:
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise KerasDynError(f"no C++ compiler {cxx!r} on PATH (set CXX, or install g++)")
    return [cxx, "-shared", "-fPIC", "-O3", "-fopenmp-simd", "-w", *tf.sysconfig.get_compile_flags(),
            str(SOURCE), "-o", str(out), *tf.sysconfig.get_link_flags()]


def library_path() -> Path:
    """Where the kernel built for this TensorFlow, compiler and source lives (built or not)."""
    key = hashlib.sha256()
    key.update(SOURCE.read_bytes())
    key.update(tf.__version__.encode())
    key.update(" ".join(_build_command(Path("x"))).encode())
    return cache_dir() / f"gradient_stats-{key.hexdigest()[:16]}.so"


def build(verbose: bool = True) -> Path:
    """Compile the kernel into :func:`cache_dir` unless it is there already; return its path.

    Raises :class:`KerasDynError` with the compiler's first error line if the build fails.
    Concurrent builds (tuner workers starting together) each write a temporary file and rename
    it into place, so a reader never sees a half-written library.
    """
    path = library_path()
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    if verbose:
        print(f"keras_dyn: building the fused gradient-statistics kernel into {path} "
              "(once per TensorFlow version, ~10 s)", file=sys.stderr, flush=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=path.parent)
    os.close(fd)
    try:
        cmd = _build_command(Path(tmp))
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if "error" in ln.lower()]
            first = (lines or done.stderr.strip().splitlines() or ["(no output)"])[0]
            raise KerasDynError(f"building {SOURCE.name} failed ({cmd[0]} exit "
                                f"{done.returncode}): {first.strip()}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _load():
    """The loaded op module, or a string saying why there is none (tried once per process)."""
    if "kernel" not in _loaded:
        try:
            _loaded["kernel"] = tf.load_op_library(str(build()))
        except (KerasDynError, OSError, RuntimeError, subprocess.SubprocessError,
                tf.errors.OpError) as exc:
            _loaded["kernel"] = str(exc)
    return _loaded["kernel"]


def fused_kernel(required: bool = False):
    """The loaded op module, or ``None`` when the TensorFlow-ops formulation is to be used.

    Args:
        required: raise :class:`KerasDynError` instead of returning ``None`` (as
            ``KERAS_DYN_FUSED_STATS=on`` does). In ``auto`` mode a missing kernel is warned about
            once per process.
    """
    m = "on" if required else mode()
    if m == "off":
        return None
    got = _load()
    if not isinstance(got, str):
        return got
    if m == "on":
        raise KerasDynError(f"the fused gradient-statistics kernel is unavailable: {got}")
    if not _loaded.get("warned"):
        _loaded["warned"] = True
        warnings.warn("keras_dyn: fused gradient-statistics kernel unavailable, using TensorFlow "
                      f"ops (slower): {got}", stacklevel=2)
    return None


def gradient_table(grads, fused: bool | None = None):
    """``[len(grads), 4]`` float32: norm, mean |g|, std, zero fraction of each gradient.

    Args:
        grads: tensors (any shape; cast to float32).
        fused: ``True`` = the fused kernel (error if unavailable), ``False`` = TensorFlow ops,
            ``None`` = as ``KERAS_DYN_FUSED_STATS`` says.
    """
    kernel = None if fused is False else fused_kernel(required=fused is True)
    if kernel is None:
        return tf_gradient_table(grads)
    return fused_records(kernel, grads, False, False)[0]


def fused_records(kernel, grads, histogram, log_histogram):
    """``(table, hist, loghist)`` from the fused kernel in one op.

    ``hist`` ``[n, HIST_BINS, 3]`` (left edge, right edge, count; min to max) is computed only
    where the bool tensor ``histogram`` is true and ``loghist`` ``[n, len(LOG_EDGES) - 1]``
    (counts of log10|g| of the non-zero elements on :data:`LOG_EDGES`) only where
    ``log_histogram`` is; otherwise they are zeros. No ``tf.cond`` is needed around it.
    """
    return kernel.keras_dyn_gradient_stats(
        [tf.cast(g, tf.float32) for g in grads], tf.cast(histogram, tf.bool),
        tf.cast(log_histogram, tf.bool), bins=HIST_BINS, log_lo=float(LOG_EDGES[0]),
        log_hi=float(LOG_EDGES[-1]), log_bins=len(LOG_EDGES) - 1)


def tf_gradient_table(grads):
    """The same table from stock TensorFlow ops (the fallback, and the kernel's reference)."""
    rows = []
    for g in grads:
        g = tf.cast(tf.reshape(g, [-1]), tf.float32)
        n = tf.cast(tf.size(g), tf.float32)
        a = tf.abs(g)
        sq = tf.reduce_sum(tf.square(g))
        mean = tf.reduce_sum(g) / n
        std = tf.sqrt(tf.maximum(sq / n - tf.square(mean), 0.0))
        rows.append(tf.stack([
            tf.sqrt(sq),
            tf.reduce_sum(a) / n,
            std,
            1.0 - tf.reduce_sum(tf.sign(a)) / n,  # sign(|g|) is 1 unless g == 0 exactly
        ]))
    return tf.stack(rows)
