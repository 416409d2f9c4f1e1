"""The metrics and the figure option added for exp20_edge_of_stability and exp21_batch_noise:
``sharpness_eos_ratio`` (sharpness × η / 2), ``steps_to`` (first epoch × steps per epoch) and the
``hlines`` reference lines of the ``curves`` section."""

from __future__ import annotations

import math

import pytest

from keras_dyn.config import from_dict
from keras_dyn.errors import ConfigError
from keras_dyn.report import metrics as M
from keras_dyn.report.findings import FindingsContext
from keras_dyn.report.sections import SECTIONS


def _run(tmp_path, seed, lr, sharp, train_acc, steps_per_epoch=10):
    n = len(train_acc)
    return {"run_dir": str(tmp_path / f"lr{lr}_s{seed}"),
            "run": {"experiment": "eos", "name": f"lr{lr}_s{seed}", "seed": seed, "point": {"learning_rate": lr},
                    "dataset": "mnist", "hidden": [8], "params": 100, "num_classes": 10, "epochs": n,
                    "status": "complete", "steps_per_epoch": steps_per_epoch},
            "final": {"train_cpu_seconds": 1.0},
            "epochs": {"epoch": list(range(1, n + 1)), "train_accuracy": train_acc, "test_accuracy": train_acc,
                       "train_loss": [1.0 / (e + 1) for e in range(n)], "learning_rate": [lr] * n,
                       "cpu_seconds": [0.5] * n},
            "curvature": {"epoch": list(range(1, n + 1)), "sharpness": sharp}}


def test_sharpness_eos_ratio_is_sharpness_times_lr_over_two(tmp_path):
    r = _run(tmp_path, 0, 0.1, [10.0, 20.0, 25.0], [0.5, 0.7, 0.9])
    epochs, values = M.METRICS["sharpness_eos_ratio"].series(r, {})
    assert epochs == [1, 2, 3] and values == pytest.approx([0.5, 1.0, 1.25])
    # a learning rate that changes (a schedule) is read epoch by epoch
    r["epochs"]["learning_rate"] = [0.1, 0.05, 0.02]
    assert M.METRICS["sharpness_eos_ratio"].series(r, {})[1] == pytest.approx([0.5, 0.5, 0.25])
    # curvature recorded every second epoch: the ratio exists on those epochs only
    r["curvature"] = {"epoch": [2], "sharpness": [40.0]}
    assert M.METRICS["sharpness_eos_ratio"].series(r, {}) == ([2], pytest.approx([1.0]))


def test_steps_to_is_first_epoch_times_steps_per_epoch(tmp_path):
    r = _run(tmp_path, 0, 0.1, [1.0] * 4, [0.5, 0.8, 0.96, 0.99], steps_per_epoch=625)
    params = {"of": "train_accuracy", "threshold": 0.95}
    assert M.value(r, "first_epoch", params) == 3.0
    assert M.value(r, "steps_to", params) == 3 * 625.0
    assert M.value(r, "steps_to", {"of": "train_accuracy", "threshold": 1.0}) == math.inf
    assert M.METRICS["steps_to"].censored and not M.METRICS["sharpness_eos_ratio"].censored


def _cfg(findings=None, curvature=1):
    raw = {"experiment": {"name": "eos"}, "data": {"dataset": "mnist"}, "model": {"hidden": [8]},
           "training": {"optimizer": "sgd", "epochs": 3, "seeds": [0, 1, 2]},
           "grid": {"learning_rate": [0.05, 0.1]}, "log": {"curvature_every": curvature}}
    if findings is not None:
        raw["lab"] = {"title": "t", "question": "q", "findings": findings}
    return raw


def test_curves_draws_reference_lines(tmp_path):
    cfg = from_dict(_cfg())
    runs = [_run(tmp_path, s, lr, [10.0 * (1 + s), 20.0, 30.0], [0.5, 0.7, 0.9])
            for s in (0, 1, 2) for lr in (0.05, 0.1)]
    ctx = FindingsContext(cfg, runs, tmp_path / "fig", "fig/")
    spec = SECTIONS["curves"]
    full = {k: p.default for k, p in spec.params.items()}
    full.update(metric="sharpness", by=["learning_rate"], hlines={"2/η, η = 0.05": [40.0], "2/η, η = 0.1": [20.0]})
    md = spec.render()(ctx, **full)
    assert "sharpness" in md and (tmp_path / "fig" / "sharpness_vs_epochs.png").stat().st_size > 5000


def test_curves_hlines_are_checked():
    ok = _cfg([{"section": "curves", "metric": "sharpness_eos_ratio", "hlines": {"edge of stability": [1.0]}}])
    from_dict(ok, source="lab.toml")
    for bad, words in (({"x": "a"}, "label = [numbers]"), ({"x": []}, "one or more finite")):
        raw = _cfg([{"section": "curves", "metric": "sharpness", "hlines": bad}])
        with pytest.raises(ConfigError, match=r"lab\.findings\[0\]") as info:
            from_dict(raw, source="lab.toml")
        assert words in str(info.value)
    # the ratio needs the curvature instrument, like sharpness
    with pytest.raises(ConfigError, match="curvature_every"):
        from_dict(_cfg([{"section": "curves", "metric": "sharpness_eos_ratio"}], curvature=0), source="lab.toml")
