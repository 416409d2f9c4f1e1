"""The keras-tuner labs' configs: their grids and parameter counts (their findings sections are
tested in test_sections.py and test_lab_format.py)."""

from pathlib import Path

import pytest

from keras_dyn.config import load_config

REPO = Path(__file__).resolve().parents[1]


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
