"""Tuning findings and the accuracy heatmap on hand-made results; the tuner labs' configs."""

from pathlib import Path

import pytest

from keras_dyn.config import from_dict, load_config
from keras_dyn.report.tuning_findings import tuning_findings

REPO = Path(__file__).resolve().parents[1]


def _result(u1, u2, seed, val, test, params=1000, steps=10, seconds=2.0):
    return {"run_dir": f"/x/w{u1}-{u2}_bs64_s{seed}",
            "run": {"experiment": "e", "name": f"w{u1}-{u2}_bs64_s{seed}", "seed": seed,
                    "point": {"units_1": u1, "units_2": u2}, "dataset": "fashion_mnist",
                    "hidden": [u1, u2], "batch_size": 64, "epochs": 2, "params": params,
                    "n_train": 100, "n_val": 10, "n_test": 50, "steps_per_epoch": steps},
            "final": {"test_accuracy": test, "train_seconds": seconds},
            "epochs": {"val_accuracy": [val - 0.01, val], "test_accuracy": [test - 0.01, test],
                       "seconds": [seconds / 2, seconds / 2]}}


def test_ranking_uses_validation_and_reports_test(tmp_path):
    cfg = from_dict({"experiment": {"name": "e"}, "data": {"dataset": "circle"},
                     "model": {"hidden": [8, 8]}, "training": {"seeds": [0, 1]},
                     "grid": {"units_1": [8, 16], "units_2": [8, 16]},
                     "report": {"tuning": {"heatmap": ["units_2", "units_1"],
                                           "diagonal": ["units_1", "units_2"],
                                           "columns": ["steps_per_epoch", "params_per_point"]}}})
    # 16-16 has the best validation accuracy; 8-16 the best test accuracy (must not be chosen)
    acc = {(8, 8): (0.80, 0.80), (8, 16): (0.82, 0.95), (16, 8): (0.81, 0.81), (16, 16): (0.90, 0.85)}
    results = [_result(u1, u2, s, val + 0.001 * s, test + 0.001 * s, params=u1 * u2)
               for (u1, u2), (val, test) in acc.items() for s in (0, 1)]
    text = tuning_findings(cfg, results, tmp_path / "fig", "fig/")
    assert "Chosen by validation accuracy: **16-16**" in text
    assert "The highest mean test accuracy belongs to 8-16" in text
    ranking = text.split("What the grid search chose")[1]
    rows = [line for line in ranking.splitlines() if line.startswith("| 1 |") or line.startswith("| 4 |")]
    assert rows[0].startswith("| 1 | 16-16 | 90.05 ± 0.07% | 85.05 ± 0.07%")
    assert "| 256 | 3 |" in ranking or "| 10 | 3 |" in ranking  # batches / epoch, params per point
    assert "Balanced against unbalanced layers" in text
    png = tmp_path / "fig" / "accuracy_heatmap.png"
    assert png.is_file() and png.stat().st_size > 5000
    assert "![accuracy heatmap over units_2 × units_1](fig/accuracy_heatmap.png)" in text


@pytest.mark.parametrize("name,counts", [
    ("exp3_depth", {(128, 128): 118_282, (128, 128, 128): 134_794,
                    (256, 256): 269_322, (256, 256, 256): 335_114}),
    ("exp4_extended_width", {(256, 256): 269_322, (512, 512): 669_706, (1024, 1024): 1_863_690}),
])
def test_lab_parameter_counts(name, counts):
    from keras_dyn.models import build_model

    cfg = load_config(REPO / "configs" / f"{name}.toml")
    got = {}
    for point in cfg.points():
        model_cfg = cfg.at_point(point).model
        got[tuple(model_cfg.hidden)] = build_model(model_cfg, (28, 28), 10).count_params()
    assert got == counts


def test_tuner_lab_grids():
    sizes = {"exp1_width_grid": 16, "exp3_depth": 4, "exp4_extended_width": 3, "exp5_batch_size": 4}
    for name, points in sizes.items():
        cfg = load_config(REPO / "configs" / f"{name}.toml")
        assert len(cfg.points()) == points and cfg.training.epochs == 5
        assert (REPO / "labs" / name / "LOG.md").is_file()
