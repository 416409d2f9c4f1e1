"""Activation statistics (dead units provably dead), weight statistics, and the cfg.log wiring."""

from __future__ import annotations

import types

import keras
import numpy as np
import pytest

from keras_dyn.runs import diagnostics
from keras_dyn.callbacks.activation_statistics import ActivationStatistics, activation_stats
from keras_dyn.callbacks.gradient_statistics import GradientStatistics
from keras_dyn.callbacks.weight_statistics import WeightStatistics
from keras_dyn.config import from_dict
from keras_dyn.recording import RecordingModel

from _dyn_helpers import read_events, tiny_data, tiny_model


def _with_dead_units(model, layer="hidden1", dead=(0, 2, 5)):
    """Inputs are in [0, 1): a unit with all-negative weights and bias never fires."""
    k, b = model.get_layer(layer).get_weights()
    for u in dead:
        k[:, u] = -np.abs(k[:, u]) - 0.1
        b[u] = -0.5
    model.get_layer(layer).set_weights([k, b])


def test_dead_units_are_counted(tmp_path):
    model = tiny_model(hidden=(8, 6))
    _with_dead_units(model)
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    x, y = tiny_data(48)
    cb = ActivationStatistics(x[:32], tmp_path)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[cb])
    res = cb.results()
    assert res["layers"] == ["hidden1", "hidden2"]
    # epoch 0 (the initial network), then after epochs 1 and 2
    assert res["epoch"] == [0, 1, 2]
    # a ReLU unit that outputs 0 for every input gets no gradient: dead at the start, stays dead
    assert res["hidden1"]["dead_frac"] == [3 / 8, 3 / 8, 3 / 8]
    assert "saturated_frac" not in res["hidden1"]
    events, _ = read_events(tmp_path / "train")
    assert [s for s, _ in events["act/hidden1/dead_frac"]] == [0, 1, 2]
    assert np.isclose(float(events["act/hidden1/dead_frac"][0][1]), 3 / 8)
    assert "act/hidden1" in events and "act/hidden2/near_zero_frac" in events


def test_activation_stats_definitions():
    a = np.array([[0.0, 0.5, 0.995], [0.0, 0.2, 0.001]])
    s = activation_stats(a, "sigmoid", near_zero=1e-2, saturation_eps=0.01)
    assert s["dead_frac"] == pytest.approx(1 / 3)
    assert s["near_zero_frac"] == pytest.approx(3 / 6)
    assert s["saturated_frac"] == pytest.approx(4 / 6)  # 0, 0, 0.995, 0.001
    t = activation_stats(np.array([[-0.995, 0.5], [0.1, 0.999]]), "tanh")
    assert t["saturated_frac"] == pytest.approx(2 / 4)


def test_weight_statistics(tmp_path):
    model = tiny_model()
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    x, y = tiny_data(32)
    w0 = model.get_layer("hidden1").get_weights()[0].copy()
    cb = WeightStatistics(tmp_path)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[cb])
    w1 = model.get_layer("hidden1").get_weights()[0]
    ratio = cb.results()["update_ratio"]["hidden1/kernel"][0]
    assert ratio == pytest.approx(np.linalg.norm(w1 - w0) / np.linalg.norm(w0), rel=1e-5)
    moved = cb.results()["update_norm"]["hidden1/kernel"][0]
    assert moved == pytest.approx(np.linalg.norm(w1 - w0), rel=1e-5) and moved > 0
    assert cb.results()["sizes"]["hidden1/kernel"] == w0.size
    events, _ = read_events(tmp_path / "train")
    for name in ("hidden1/kernel", "hidden1/bias", "output/kernel", "output/bias"):
        assert f"weights/{name}" in events and f"update_ratio/{name}" in events
        assert f"update_norm/{name}" in events
    assert float(events["update_norm/hidden1/kernel"][0][1]) == pytest.approx(moved, rel=1e-5)


def _cfg(**log):
    return from_dict({"data": {}, "model": {"hidden": [8, 6]}, "training": {}, "log": log})


def _data():
    x, y = tiny_data(40)
    return types.SimpleNamespace(x_train=x, y_train=y, x_val=x[:10], y_val=y[:10])


@pytest.mark.slow  # end to end (a real run, ~10-20 s): in `pytest -m slow`, which CI runs
def test_diagnostics_from_log_section(tmp_path):
    cfg = _cfg()
    model = diagnostics.prepare_model(tiny_model(), cfg)
    assert isinstance(model, RecordingModel)
    cbs = diagnostics.training_dynamics_callbacks(cfg, _data(), tmp_path)
    assert [type(c).__name__ for c in cbs] == ["GradientStatistics", "ActivationStatistics",
                                               "WeightStatistics"]
    assert {c.results_key for c in cbs} == {"gradients", "activations", "weights"}
    model.compile("adam", "sparse_categorical_crossentropy")
    data = _data()
    model.fit(data.x_train, data.y_train, batch_size=8, epochs=1, verbose=0, callbacks=cbs)
    from keras_dyn import tomlio
    tomlio.loads(tomlio.dumps({c.results_key: c.results() for c in cbs}))  # TOML-able

    off = _cfg(gradients=False, activations=False, weights=False)
    assert not isinstance(diagnostics.prepare_model(tiny_model(), off), RecordingModel)
    assert diagnostics.training_dynamics_callbacks(off, _data(), tmp_path) == []
    probe = _cfg(gradient_mode="probe", probe_size=5)
    assert not isinstance(diagnostics.prepare_model(tiny_model(), probe), RecordingModel)
    (g, *_rest) = diagnostics.training_dynamics_callbacks(probe, _data(), tmp_path)
    assert isinstance(g, GradientStatistics) and g.mode == "probe" and len(g.probe_x) == 5
