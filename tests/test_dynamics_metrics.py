"""The training-dynamics metrics of exp6: epochs to a fraction of the run's own best, the
volatility of a curve around its own trend, the source's stability score (kept to show what it
measures), and the learning-rate schedule section. Synthetic results dicts, no training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keras_dyn.config import from_dict
from keras_dyn.errors import ConfigError
from keras_dyn.report import metrics as M
from keras_dyn.report.findings import FindingsContext
from keras_dyn.report.sections import SECTIONS


def _result(val=None, loss=None, status="complete", lr=None):
    n = len(val or loss)
    epochs = {"epoch": list(range(1, n + 1)), "train_accuracy": [0.9] * n}
    if val is not None:
        epochs["val_accuracy"] = list(val)
    if loss is not None:
        epochs["train_loss"] = epochs["train_loss_running"] = list(loss)
        epochs["val_loss"] = list(loss)
    if lr is not None:
        epochs["learning_rate"] = list(lr)
    return {"run": {"seed": 0, "status": status, "hidden": [8, 8], "point": {}}, "epochs": epochs}


# --------------------------------------------------------------------------- first_epoch_of_best


def test_first_epoch_of_best_separates_fast_and_slow_runs():
    fast = _result([0.85, 0.88, 0.892, 0.895, 0.90, 0.899])
    slow = _result([0.70, 0.82, 0.85, 0.88, 0.895, 0.90])
    # the source's "epoch to 90 % of best" is 1 for the fast run and 2 for the slow one: no contrast
    assert M.value(fast, "first_epoch_of_best", {"fraction": 0.9}) == 1
    assert M.value(slow, "first_epoch_of_best", {"fraction": 0.9}) == 2
    # at 99 % of the run's own best (default), they separate
    assert M.value(fast, "first_epoch_of_best", {}) == 3       # 0.891 = 0.99 of 0.90
    assert M.value(slow, "first_epoch_of_best", {}) == 5
    assert M.value(slow, "first_epoch_of_best", {"fraction": 1.0}) == 6  # the best epoch itself


def test_first_epoch_of_best_is_relative_to_the_best_not_the_last_value():
    r = _result([0.5, 0.9, 0.6, 0.6])  # peaks at epoch 2 then falls
    assert M.value(r, "first_epoch_of_best", {"fraction": 0.95}) == 2
    assert M.value(r, "first_epoch", {"of": "val_accuracy", "fraction": 0.95}) == 2  # 0.57 of the last
    assert M.value(r, "first_epoch", {"of": "val_accuracy", "fraction": 0.8}) == 1   # 0.48 of the last


def test_first_epoch_of_best_ignores_non_finite_values():
    r = _result([0.5, float("nan"), 0.8, 0.9])
    assert M.value(r, "first_epoch_of_best", {"fraction": 0.85}) == 3
    assert math.isnan(M.value(_result([float("nan")] * 3), "first_epoch_of_best", {}))


# --------------------------------------------------------------------------- volatility


def _smooth_loss(n=30, start=2.0, rate=0.6):
    return [start * (e ** -rate) for e in range(1, n + 1)]


def test_volatility_of_a_smooth_fall_is_zero_whatever_its_depth():
    shallow, deep = _smooth_loss(rate=0.2), _smooth_loss(rate=1.2)
    v_shallow = M.value(_result(loss=shallow), "volatility", {})
    v_deep = M.value(_result(loss=deep), "volatility", {})
    assert v_shallow < 1e-9 and v_deep < 1e-9
    # the source's score does depend on the depth of the fall (a deeper fall reads "less stable")
    s_shallow = M.value(_result(loss=shallow), "source_stability", {})
    s_deep = M.value(_result(loss=deep), "source_stability", {})
    assert s_deep < s_shallow - 0.05


def test_volatility_reads_the_jitter_in_relative_units():
    rng = np.random.default_rng(0)
    base = np.array(_smooth_loss(n=200))
    noisy = base * np.exp(rng.normal(0, 0.05, size=base.size))  # ±5 % multiplicative jitter
    v = M.value(_result(loss=list(noisy)), "volatility", {})
    assert 0.04 < v < 0.06
    # scale-free: the same jitter on a loss ten times larger reads the same
    assert M.value(_result(loss=list(10 * noisy)), "volatility", {}) == pytest.approx(v)
    # a calmer run reads lower
    calm = base * np.exp(rng.normal(0, 0.01, size=base.size))
    assert M.value(_result(loss=list(calm)), "volatility", {}) < v / 3


def test_volatility_follows_an_upturn_without_counting_it_as_jitter():
    e = np.arange(1, 31, dtype=float)
    u_shape = np.exp(0.4 * (np.log(e) - np.log(8)) ** 2) * 0.3  # val loss falling, then rising
    assert M.value(_result(loss=list(u_shape)), "volatility", {"of": "val_loss"}) < 1e-9


def test_volatility_needs_five_values_and_reads_nan_for_a_diverged_run():
    assert math.isnan(M.value(_result(loss=[1.0, 0.8, 0.7, 0.6]), "volatility", {}))
    assert math.isnan(M.value(_result(loss=_smooth_loss(), status="diverged"), "volatility", {}))


# --------------------------------------------------------------------------- config check


def _raw(hyp):
    return {"experiment": {"name": "syn"}, "data": {"dataset": "mnist", "validation_split": 0.1},
            "model": {"hidden": [8, 8]}, "training": {"epochs": 4, "seeds": [0, 1]},
            "grid": {"activation": ["relu", "tanh"]},
            "lab": {"title": "t", "question": "q",
                    "hypotheses": [{"id": "H1", "statement": "s", "expect": "less",
                                    "a": {"activation": "relu"}, "b": {"activation": "tanh"}, **hyp}]}}


def test_the_new_metrics_are_checked_like_the_others():
    from_dict(_raw({"metric": "volatility", "of": "val_loss"}))
    from_dict(_raw({"metric": "first_epoch_of_best", "fraction": 0.98}))
    from_dict(_raw({"metric": "source_stability"}))
    bad = [({"metric": "first_epoch_of_best", "threshold": 0.5}, "takes no parameter 'threshold'"),
           ({"metric": "first_epoch_of_best", "fraction": 1.5}, "fraction must be a number in (0, 1]"),
           ({"metric": "volatility", "of": "params"}, "`of` must name a per-epoch metric"),
           ({"metric": "volatility", "of": "grad_norm"}, "needs log.gradients = true")]
    for hyp, words in bad:
        raw = _raw(hyp)
        if "grad_norm" in str(hyp):
            raw["log"] = {"gradients": False}
        with pytest.raises(ConfigError) as info:
            from_dict(raw, source="lab.toml")
        assert words in str(info.value) and "\n" not in str(info.value), str(info.value)


# --------------------------------------------------------------------------- schedule section


def test_schedule_section_draws_rate_and_metric(tmp_path):
    cfg = from_dict({"experiment": {"name": "syn"}, "data": {"dataset": "mnist", "validation_split": 0.1},
                     "model": {"hidden": [8, 8]}, "training": {"epochs": 6, "seeds": [0, 1]},
                     "grid": {"scheduler": ["none", "step"]}})
    runs = []
    for seed in (0, 1):
        for sched, lr in (("none", [1e-3] * 6), ("step", [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5])):
            r = _result(val=[0.8 + 0.01 * e + 0.001 * seed for e in range(6)], lr=lr)
            r["run"].update(seed=seed, point={"scheduler": sched})
            runs.append(r)
    ctx = FindingsContext(cfg, runs, tmp_path / "fig", "fig/")
    spec = SECTIONS["schedule"]
    params = {k: p.default for k, p in spec.params.items()}
    text = spec.render()(ctx, **params)
    assert "fig/learning_rate_schedule_val_accuracy.png" in text
    assert (tmp_path / "fig" / "learning_rate_schedule_val_accuracy.png").stat().st_size > 1000
    # a second schedule section on another metric, or on a selection, gets its own figure
    spec.render()(ctx, **{**params, "metric": "train_accuracy"})
    spec.render()(ctx, **{**params, "select": {"scheduler": "step"}})
    assert len(list((tmp_path / "fig").glob("learning_rate_schedule_*.png"))) == 3


def test_best_val_epoch_is_first_epoch_of_the_whole_best():
    r = _result([0.5, 0.9, 0.7, 0.9])
    assert M.value(r, "best_val_epoch", {}) == 2
    assert M.value(r, "first_epoch_of_best", {"fraction": 1.0}) == 2


# --------------------------------------------------------------------------- gamma as a case key


def test_cases_can_give_each_schedule_its_own_gamma():
    raw = {"experiment": {"name": "syn"}, "data": {"dataset": "mnist", "validation_split": 0.1},
           "model": {"hidden": [8, 8]}, "training": {"epochs": 4, "seeds": [0], "step_size": 2},
           "cases": [{"scheduler": "step", "gamma": 0.1}, {"scheduler": "exponential", "gamma": 0.9}]}
    cfg = from_dict(raw)
    points = cfg.points()
    assert [cfg.at_point(p).training.gamma for p in points] == [0.1, 0.9]
    names = [cfg.run_name(p, 0) for p in points]
    assert names[0].endswith("sched-step_gamma0.1_s0") and names[1].endswith("sched-exponential_gamma0.9_s0")
    raw["cases"][1]["gamma"] = 1.5
    with pytest.raises(ConfigError) as info:
        from_dict(raw, source="lab.toml")
    assert "cases[1].gamma" in str(info.value) and "\n" not in str(info.value)


def test_volatility_trend_is_local_over_seven_epochs():
    """A reference computation: local quadratics in log(epoch) over 7 epochs, leverage-corrected
    centre residuals. A 21-epoch window (the per-step metric's window, which once shadowed this
    one) gives a different number on the same curve."""
    e = np.arange(1, 31, dtype=float)
    loss = 2.0 * e ** -0.6 * (1 + 0.08 * np.sin(1.7 * e))
    def reference(window):
        x, y, h = np.log(e), np.log(loss), window // 2
        out = []
        for c in range(h, len(e) - h):
            X = np.vander(x[c - h:c + h + 1], 3)
            hat = X @ np.linalg.inv(X.T @ X) @ X.T
            fit = hat @ y[c - h:c + h + 1]
            out.append((y[c] - fit[h]) / np.sqrt(1 - hat[h, h]))
        return float(np.sqrt(np.mean(np.square(out))))
    value = M.value(_result(loss=list(loss)), "volatility", {})
    assert M.EPOCH_TREND_WINDOW == 7
    assert value == pytest.approx(reference(7), rel=1e-6)
    assert abs(value - reference(21)) > 0.1 * value
