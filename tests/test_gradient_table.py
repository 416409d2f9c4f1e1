"""The fused gradient-statistics kernel against NumPy, the TensorFlow-ops fallback and bad set-ups."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from _dyn_helpers import needs_compiler
from conftest import REPO
from keras_dyn import gradient_table as gt
from keras_dyn.errors import KerasDynError



def _gradients(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(784, 256), (256,), (33, 7), (1,), (5000,)]
    out = []
    for i, shape in enumerate(shapes):
        g = rng.normal(0.0, 10.0 ** -(i + 1), shape).astype(np.float32)
        g[rng.random(shape) < 0.3] = 0.0  # exact zeros, as dead units give
        out.append(g)
    out.append(np.zeros((4, 3), np.float32))  # all zero: std 0, zero fraction 1
    out.append((3.0 + rng.normal(0.0, 1e-3, 20000)).astype(np.float32))  # |mean| >> std
    return out


def _numpy_table(grads):
    rows = []
    for g in grads:
        g = g.astype(np.float64).ravel()
        rows.append([np.sqrt(np.sum(g * g)), np.mean(np.abs(g)), np.std(g), np.mean(g == 0)])
    return np.array(rows)


@needs_compiler
def test_fused_kernel_matches_numpy_float64():
    grads = _gradients()
    got = gt.gradient_table([tf.constant(g) for g in grads], fused=True).numpy()
    want = _numpy_table(grads)
    assert got.shape == (len(grads), 4)
    np.testing.assert_allclose(got[:-1], want[:-1], rtol=1e-6, atol=0)
    # |mean| / std = 3000: a few 1e-6 off (sqrt(E[g^2] - E[g]^2) in float32 would be ~50 % off)
    np.testing.assert_allclose(got[-1], want[-1], rtol=1e-5, atol=0)
    assert got[-2].tolist() == [0.0, 0.0, 0.0, 1.0]


@needs_compiler
def test_fused_kernel_agrees_with_tensorflow_ops_inside_a_graph():
    grads = [tf.constant(g) for g in _gradients(seed=1)]
    fused = tf.function(lambda gs: gt.gradient_table(gs, fused=True))(grads).numpy()
    ops = tf.function(lambda gs: gt.gradient_table(gs, fused=False))(grads[:-1]).numpy()
    fused = fused[:-1]  # TensorFlow ops' sqrt(E[g^2] - E[g]^2) cancels when |mean| >> std
    np.testing.assert_allclose(fused, ops, rtol=1e-5, atol=1e-12)


@needs_compiler
def test_fused_kernel_casts_other_float_types_and_propagates_nan():
    g16 = tf.constant([[0.5, -0.25], [0.0, 2.0]], tf.float16)
    got = gt.gradient_table([g16], fused=True).numpy()[0]
    np.testing.assert_allclose(got, _numpy_table([g16.numpy().astype(np.float32)])[0], rtol=1e-6)
    bad = gt.gradient_table([tf.constant([1.0, np.nan, 0.0])], fused=True).numpy()[0]
    assert np.isnan(bad[0]) and np.isnan(bad[2])
    assert bad[3] == pytest.approx(1 / 3)  # NaN is not an exact zero


def test_mode_setting(monkeypatch):
    for raw, want in [("auto", "auto"), ("0", "off"), ("OFF", "off"), ("1", "on"), ("on", "on")]:
        monkeypatch.setenv("KERAS_DYN_FUSED_STATS", raw)
        assert gt.mode() == want
    monkeypatch.setenv("KERAS_DYN_FUSED_STATS", "fast")
    with pytest.raises(KerasDynError, match="KERAS_DYN_FUSED_STATS: 'fast' is not one of auto"):
        gt.mode()
    monkeypatch.setenv("KERAS_DYN_FUSED_STATS", "off")
    assert gt.fused_kernel() is None


_FAILING_BUILD = """
import warnings, numpy as np, tensorflow as tf
from keras_dyn import gradient_table as gt
from keras_dyn.errors import KerasDynError
g = [tf.constant([[3.0, 0.0], [0.0, 4.0]])]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    table = gt.gradient_table(g).numpy()
print("TABLE", table.tolist())
print("WARN", [str(w.message) for w in caught])
try:
    gt.gradient_table(g, fused=True)
except KerasDynError as exc:
    print("ERROR", exc)
print("FILES", sorted(p.name for p in gt.cache_dir().iterdir()))
"""


def test_a_failing_build_falls_back_to_tensorflow_ops_with_a_warning(tmp_path):
    env = dict(os.environ, CXX=shutil.which("false") or "/bin/false",
               KERAS_DYN_CACHE=str(tmp_path / "cache"), KERAS_DYN_FUSED_STATS="auto",
               PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", _FAILING_BUILD], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in done.stdout.splitlines()
             if ln.split(" ", 1)[0] in ("TABLE", "WARN", "ERROR", "FILES")}
    want = _numpy_table([np.array([[3.0, 0.0], [0.0, 4.0]])])
    np.testing.assert_allclose(ast.literal_eval(lines["TABLE"]), want, rtol=1e-6)
    assert "kernel unavailable, using TensorFlow ops" in lines["WARN"]
    assert "gradient_stats.cc failed" in lines["WARN"]
    assert "unavailable" in lines["ERROR"]
    assert lines["FILES"] == "[]"  # no half-written library left behind


@needs_compiler
def test_fused_kernel_histograms_bin_like_tensorflow_and_only_when_asked():
    kernel = gt.fused_kernel(required=True)
    grads = [tf.constant(g) for g in _gradients(seed=2)]
    table, hist, log_hist = gt.fused_records(kernel, grads, True, True)
    for g, h, lh in zip(grads, hist.numpy(), log_hist.numpy()):
        lo, hi = float(tf.reduce_min(g)), float(tf.reduce_max(g))
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        want = tf.histogram_fixed_width(g, [lo, hi], nbins=gt.HIST_BINS).numpy()
        np.testing.assert_array_equal(h[:, 2], want)
        np.testing.assert_allclose(h[0, 0], lo, rtol=1e-7)
        np.testing.assert_allclose(h[-1, 1], hi, rtol=1e-7)
        nz = np.abs(g.numpy()[g.numpy() != 0]).astype(np.float64)
        want_log = np.histogram(np.clip(np.log10(nz), gt.LOG_EDGES[0], gt.LOG_EDGES[-1] - 1e-9),
                                bins=gt.LOG_EDGES)[0]
        assert lh.sum() == nz.size
        assert np.abs(lh - want_log).sum() <= max(2, 1e-4 * nz.size)  # edge rounding only
    _, hist0, log0 = gt.fused_records(kernel, grads, False, False)
    assert not hist0.numpy().any() and not log0.numpy().any()


def test_a_bad_setting_stops_an_experiment_before_anything_is_written(tmp_path, monkeypatch):
    from keras_dyn.config import from_dict
    from keras_dyn.runs.experiment import run_experiment
    from keras_dyn.tuning import run_grid

    cfg = from_dict({"experiment": {"name": "bad-setting"},
                     "data": {"dataset": "circle", "n_samples": 64},
                     "model": {"hidden": [4]}, "training": {"epochs": 1}})
    monkeypatch.setenv("KERAS_DYN_FUSED_STATS", "fast")
    for run in (run_experiment, run_grid):
        with pytest.raises(KerasDynError, match="KERAS_DYN_FUSED_STATS: 'fast'"):
            run(cfg, tmp_path, verbose=False)
    assert list(tmp_path.iterdir()) == []
