"""Applied-gradient recording: TensorBoard tags read back, norms against independent computations."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dyn.callbacks.gradient_statistics import GradientStatistics
from keras_dyn.errors import KerasDynError
from keras_dyn.recording import RecordingModel, instrument

from _dyn_helpers import dense_variable_names, needs_compiler, read_events, tiny_data, tiny_model


def test_instrument_shares_layers_and_names_variables():
    base = tiny_model()
    model = instrument(base)
    assert isinstance(model, RecordingModel)
    assert model.recorded_names == ["hidden1/kernel", "hidden1/bias", "hidden2/kernel",
                                    "hidden2/bias", "output/kernel", "output/bias"]
    assert all(a is b for a, b in zip(model.trainable_weights, base.trainable_weights))
    assert len(model.weights) == len(base.weights)  # the buffers are not model weights
    assert instrument(model) is model


def test_instrument_refuses_a_model_without_inputs():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    with pytest.raises(KerasDynError, match="no symbolic inputs"):
        instrument(Sub())


def test_applied_mode_needs_a_recording_model(tmp_path):
    model = tiny_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = tiny_data(16)
    with pytest.raises(KerasDynError, match="instrument"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[GradientStatistics(tmp_path)])


def test_event_files_hold_every_tag_and_one_norm_per_step(tmp_path):
    base = tiny_model()
    model = instrument(base)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    x, y = tiny_data(64)
    cb = GradientStatistics(tmp_path, histogram_every=3)
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[cb])
    events, _ = read_events(tmp_path / "train")
    steps_total = 2 * 4
    for name in dense_variable_names(base):
        for stat in ("norm", "mean_abs", "std", "zero_frac"):
            values = events[f"grad/{name}/{stat}"]
            # step = optimiser updates done (1-based): the first update's gradient at step 1
            assert [s for s, _ in values] == list(range(1, steps_total + 1)), (name, stat)
        hist_steps = [s for s, _ in events[f"grad/{name}"]]
        # every 3 updates (1, 4, 7) plus each epoch's last update (4, 8), each step once
        assert hist_steps == [1, 4, 7, 8]
        h = events[f"grad/{name}"][-1][1]
        assert h.shape == (30, 3) and h[:, 2].sum() == np.prod(
            base.get_layer(name.split("/")[0]).get_weights()[0 if name.endswith("kernel") else 1].shape)
        for agg in ("norm_mean", "norm_var", "norm_std", "norm_cv"):
            assert [s for s, _ in events[f"grad_epoch/{name}/{agg}"]] == [1, 2]  # epochs 1, 2
    assert [s for s, _ in events["grad_epoch/attenuation"]] == [1, 2]
    res = cb.results()
    assert res["epoch"] == [1, 2] and res["steps"] == [4, 4]
    assert len(res["step_norms"]["hidden1/kernel"]) == 2
    assert len(res["step_norms"]["hidden1/kernel"][0]) == 4
    norms = [float(v) for _, v in events["grad/hidden1/kernel/norm"][:4]]
    assert np.isclose(res["stats"]["hidden1/kernel"]["norm_mean"][0], np.mean(norms), rtol=1e-5)
    assert np.isclose(res["attenuation"][0], res["stats"]["hidden1/kernel"]["norm_mean"][0]
                      / res["stats"]["output/kernel"]["norm_mean"][0], rtol=1e-4)
    hist_total = np.sum(res["loghist"]["output/bias"][0])
    assert 0 < hist_total <= 3


@pytest.mark.parametrize("fused", [pytest.param("on", marks=needs_compiler), "off"])
def test_recorded_norms_match_an_independent_gradient_tape(fused, monkeypatch):
    monkeypatch.setenv("KERAS_DYN_FUSED_STATS", fused)  # read when the train step is traced
    base = tiny_model()
    model = instrument(base)
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    x, y = tiny_data(32)
    with tf.GradientTape() as tape:  # same weights, same (whole) batch, before the step
        loss = keras.losses.sparse_categorical_crossentropy(y, base(x, training=True))
        loss = tf.reduce_mean(loss)
    expected = tape.gradient(loss, base.trainable_weights)
    cb = GradientStatistics(None)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
    recorded = np.array([cb.results()["step_norms"][n][0][0] for n in model.recorded_names])
    want = np.array([np.linalg.norm(g.numpy()) for g in expected])
    np.testing.assert_allclose(recorded, want, rtol=1e-5)
    mean_abs = np.array([cb.results()["stats"][n]["mean_abs_mean"][0] for n in model.recorded_names])
    np.testing.assert_allclose(mean_abs, [np.mean(np.abs(g.numpy())) for g in expected], rtol=1e-5)
    std = np.array([cb.results()["stats"][n]["std_mean"][0] for n in model.recorded_names])
    np.testing.assert_allclose(std, [np.std(g.numpy().astype(np.float64)) for g in expected],
                               rtol=1e-4)


def test_zero_fraction_counts_dead_unit_gradients():
    base = tiny_model(hidden=(8,))
    k, b = base.get_layer("hidden1").get_weights()
    k[:, :3] = -1.0  # inputs are in [0, 1): these three units never fire
    b[:3] = -0.5
    base.get_layer("hidden1").set_weights([k, b])
    model = instrument(base)
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    x, y = tiny_data(32)
    cb = GradientStatistics(None)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[cb])
    stats = cb.results()["stats"]
    assert stats["hidden1/kernel"]["zero_frac_mean"][0] >= 3 / 8
    assert stats["hidden1/bias"]["zero_frac_mean"][0] >= 3 / 8


def test_probe_mode_uses_its_own_tags(tmp_path):
    model = tiny_model()
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = tiny_data(32)
    cb = GradientStatistics(tmp_path, mode="probe", probe_x=x[:8], probe_y=y[:8])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[cb])
    events, _ = read_events(tmp_path / "train")
    assert not any(t.startswith("grad/") for t in events)
    for name in dense_variable_names(model):
        assert len(events[f"grad_probe/{name}/norm"]) == 2
        assert f"grad_probe/{name}" in events
    assert cb.results()["mode"] == "probe"


def test_a_second_fit_keeps_recording():
    model = instrument(tiny_model())
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = tiny_data(32)
    for _ in range(2):
        cb = GradientStatistics(None)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb])
        assert cb.results()["steps"] == [4]
    # and without the callback, training still works (recording switched off)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


@needs_compiler
@pytest.mark.parametrize("every", [0, 3])
def test_fused_kernel_and_tensorflow_ops_record_the_same_histograms(every, monkeypatch):
    records = {}
    for fused in ("on", "off"):
        monkeypatch.setenv("KERAS_DYN_FUSED_STATS", fused)
        keras.utils.set_random_seed(0)
        model = instrument(tiny_model())
        model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
        model.configure_recording(steps_per_epoch=5, histogram_every=every)
        x, y = tiny_data(80)
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        records[fused] = model.read_epoch()
    on, off = records["on"], records["off"]
    want_steps = [s for s in range(5) if (every and s % every == 0) or s == 4]
    assert on["hist_steps"].tolist() == off["hist_steps"].tolist() == want_steps
    np.testing.assert_allclose(on["stats"], off["stats"], rtol=1e-5, atol=1e-9)
    edges_on, edges_off = on["hist"][..., :2], off["hist"][..., :2]  # float32 linspace rounding:
    scale = np.abs(edges_off).max(axis=(-2, -1), keepdims=True)  # relative to each histogram
    assert np.all(np.abs(edges_on - edges_off) <= 1e-6 * scale)
    counts_on, counts_off = on["hist"][..., 2], off["hist"][..., 2]
    # binning may differ for a value lying on a bucket edge (float rounding), never in the total
    np.testing.assert_array_equal(counts_on.sum(-1), counts_off.sum(-1))
    assert np.abs(counts_on - counts_off).sum() <= 0.001 * counts_off.sum()
    np.testing.assert_array_equal(on["loghist"][-1].sum(-1), off["loghist"][-1].sum(-1))
    assert np.abs(on["loghist"][-1] - off["loghist"][-1]).sum() <= 0.001 * off["loghist"][-1].sum()


@pytest.mark.parametrize("mode", ["applied", "probe"])
def test_zero_fraction_leaves_constant_inputs_out(mode):
    """Inputs constant over the training set (an always-0 pixel, a constant 0.5) are left out of
    the first kernel's zero fraction; zero_frac_all counts every entry."""
    from keras_dyn.data import constant_features

    x, y = tiny_data(32)
    x[:, 0, 0] = 0.0  # 0 everywhere: its kernel row's gradient is exactly 0 at every step
    x[:, 0, 1] = 0.0
    x[:, 3, 3] = 0.5  # constant, not 0: its row's gradient is 0.5 * the bias gradient
    constant = constant_features(x)
    assert sorted(constant.tolist()) == [0.0, 0.0, 0.5]
    model = tiny_model(hidden=(8,))
    if mode == "applied":
        model = instrument(model)
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    kwargs = {"mode": "probe", "probe_x": x, "probe_y": y} if mode == "probe" else {}
    cb = GradientStatistics(None, constant_inputs=constant, **kwargs)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
    res = cb.results()
    assert res["constant_inputs"] == 3 and res["constant_zero_inputs"] == 2
    kernel = res["stats"]["hidden1/kernel"]
    assert kernel["zero_frac_all_mean"][0] >= 2 / 16  # the two always-0 rows of 16
    with tf.GradientTape() as tape:  # the kept rows of the gradient, computed independently
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
        loss = tf.reduce_mean(loss)
    g = tape.gradient(loss, model.get_layer("hidden1").kernel).numpy()
    kept = np.delete(g, [0, 1, 15], axis=0)
    if mode == "probe":  # probe mode measures the final weights: compare exactly
        assert kernel["zero_frac_mean"][0] == pytest.approx(np.mean(kept == 0), abs=1e-6)
        assert kernel["zero_frac_all_mean"][0] == pytest.approx(np.mean(g == 0), abs=1e-6)
    else:  # one step on the whole batch, before its update: relu units alive, so no zeros
        assert kernel["zero_frac_mean"][0] < kernel["zero_frac_all_mean"][0]
    for name in ("hidden1/bias", "output/kernel"):
        assert res["stats"][name]["zero_frac_mean"] == res["stats"][name]["zero_frac_all_mean"]


def test_grad_zero_frac_refuses_an_older_first_kernel_only():
    from keras_dyn.report import metrics as M
    from keras_dyn.report.metrics.base import MetricError

    stats = {n: {"zero_frac_mean": [0.2], "zero_frac_all_mean": [0.3]}
             for n in ("hidden1/kernel", "hidden2/kernel", "output/kernel")}
    table = {"epoch": [1], "first_kernel": "hidden1/kernel", "last_kernel": "output/kernel", "stats": stats}
    old = {"run": {"hidden": [4, 4]}, "gradients": table}
    with pytest.raises(MetricError, match="constant inputs"):
        M.value(old, "grad_zero_frac", {"layer": "hidden1/kernel"})
    assert M.value(old, "grad_zero_frac", {"layer": "hidden2/kernel"}) == pytest.approx(0.2)
    new = {"run": {"hidden": [4, 4]}, "gradients": {**table, "constant_inputs": 3}}
    assert M.value(new, "grad_zero_frac", {"layer": "hidden1/kernel"}) == pytest.approx(0.2)
    assert M.value(new, "grad_zero_frac_all", {"layer": "hidden1/kernel"}) == pytest.approx(0.3)
