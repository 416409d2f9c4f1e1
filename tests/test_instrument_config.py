"""The instrument keys ([log] per_example_every, curvature_*): defaults off, rules, the metrics
they feed and their refusal at check when off, the callbacks runs.diagnostics picks."""

import math

import numpy as np
import pytest

from keras_dyn.config import from_dict
from keras_dyn.errors import ConfigError
from keras_dyn.report import metrics as M

BASE = {
    "experiment": {"name": "inst"},
    "data": {"dataset": "circle", "n_samples": 200},
    "model": {"hidden": [4]},
    "training": {"epochs": 2, "batch_size": 16, "seeds": [0, 1]},
}


def _raw(**sections):
    raw = {k: dict(v) for k, v in BASE.items()}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return raw


def _lab(metric, **params):
    return {"title": "t", "question": "q", "hypotheses": [
        {"id": "H1", "statement": "s", "metric": metric, "expect": "greater", "a": {"layers": 2},
         "b": {"layers": 1}, **params}]}


def test_defaults_are_off():
    log = from_dict(_raw(), source="x.toml").log
    assert log.per_example_every == 0 and log.curvature_every == 0
    assert (log.curvature_batch, log.curvature_iterations, log.curvature_samples) == (512, 20, 10)


@pytest.mark.parametrize("key, value", [("per_example_every", -1), ("curvature_every", -2),
                                        ("curvature_batch", 0), ("curvature_iterations", 0),
                                        ("curvature_samples", 0)])
def test_rules_refuse_out_of_range(key, value):
    with pytest.raises(ConfigError, match=f"log.{key}"):
        from_dict(_raw(log={key: value}), source="x.toml")


@pytest.mark.parametrize("metric, needs, on", [
    ("sharpness", "log.curvature_every > 0", {"log": {"curvature_every": 1}}),
    ("hessian_trace", "log.curvature_every > 0", {"log": {"curvature_every": 1}}),
    ("grad_noise_scale", "log.per_example_every > 0", {"log": {"per_example_every": 5}}),
    ("gsnr", "log.per_example_every > 0", {"log": {"per_example_every": 5}}),
    ("per_example_grad_norm", "log.per_example_every > 0", {"log": {"per_example_every": 5}}),
    ("per_example_grad_norm_corrupted", "log.per_example_every > 0",
     {"log": {"per_example_every": 5}, "data": {"label_noise": 0.2}}),
])
def test_metrics_refused_at_check_when_their_instrument_is_off(metric, needs, on):
    raw = _raw(grid={"layers": [1, 2]}, lab=_lab(metric))
    with pytest.raises(ConfigError, match=f"needs {needs}"):
        from_dict(raw, source="x.toml")
    for section, values in on.items():
        raw.setdefault(section, {}).update(values)
    from_dict(raw, source="x.toml")  # accepted once on


def test_group_metric_needs_label_noise():
    raw = _raw(grid={"layers": [1, 2]}, log={"per_example_every": 5},
               lab=_lab("per_example_grad_norm_clean"))
    with pytest.raises(ConfigError, match="data.label_noise > 0"):
        from_dict(raw, source="x.toml")


def test_curvature_readings_follow_its_period():
    raw = _raw(grid={"layers": [1, 2]}, log={"curvature_every": 2}, training={"epochs": 4, "seeds": [0, 1]},
               lab=_lab("sharpness", at="last:2"))
    with pytest.raises(ConfigError, match="recorded every"):
        from_dict(raw, source="x.toml")
    raw["lab"]["hypotheses"][0]["at"] = 4
    from_dict(raw, source="x.toml")


def test_metrics_read_the_tables():
    r = {"run": {"hidden": [4]},
         "per_example": {"epoch": [1, 2], "layers": ["hidden1", "output", "total"],
                         "norm": {n: {"mean": [1.0, 2.0], "sd": [0.5, 0.1]} for n in ("hidden1", "output", "total")},
                         "noise_scale": {"total": [10.0, 20.0], "hidden1": [1.0, 2.0], "output": [3.0, 4.0]},
                         "gsnr": {"total": {"mean": [0.1, 0.2], "median": [0.01, 0.02]}},
                         "group_norm": {"clean": {"total": {"mean": [1.0, 1.5]}},
                                        "corrupted": {"total": {"mean": [3.0, 4.0]}}}},
         "curvature": {"epoch": [2], "sharpness": [12.5], "hessian_trace": [40.0]}}
    assert M.value(r, "grad_noise_scale") == 20.0
    assert M.value(r, "grad_noise_scale", {"layer": "first"}, at=M.parse_reading("1")) == 1.0
    assert M.value(r, "gsnr_median") == 0.02
    assert M.value(r, "per_example_grad_norm_sd", {"layer": "output"}) == 0.1
    assert M.value(r, "per_example_grad_norm_corrupted") == 4.0
    assert M.value(r, "sharpness") == 12.5 and M.value(r, "hessian_trace") == 40.0
    with pytest.raises(M.MetricError, match="per_example"):
        M.value({"run": {}}, "gsnr")


def test_diagnostics_picks_the_callbacks():
    from keras_dyn.callbacks.hessian_curvature import HessianCurvature
    from keras_dyn.callbacks.per_example_gradients import PerExampleGradients
    from keras_dyn.data import load_dataset
    from keras_dyn.runs import diagnostics

    cfg = from_dict(_raw(log={"gradients": False, "activations": False, "weights": False}), source="x.toml")
    data = load_dataset(cfg.data)
    assert diagnostics.training_dynamics_callbacks(cfg, data, None) == []
    cfg = from_dict(_raw(log={"gradients": False, "activations": False, "weights": False,
                              "per_example_every": 3, "curvature_every": 2, "curvature_batch": 50},
                         data={"label_noise": 0.2}), source="x.toml")
    data = load_dataset(cfg.data)
    pex, curv = diagnostics.training_dynamics_callbacks(cfg, data, None)
    assert isinstance(pex, PerExampleGradients) and pex.every_steps == 3 and pex.batch_size == 16
    assert pex.groups is not None and pex.groups.sum() == data.corrupted.sum()
    assert isinstance(curv, HessianCurvature) and curv.every == 2 and len(curv.x) == 50
    assert not math.isnan(float(np.sum(curv.x)))
