"""keras-tuner's distributed mode: a chief oracle and two workers on 127.0.0.1 finish a grid with
each trial run exactly once, and the findings match a single-process run's."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keras_dyn.runs.files import read_toml
from tests.test_tuning import REPO, env, grid_config


def _trials(experiment):
    out = []
    for path in sorted((experiment / "_tuner").glob("trial_*/trial.json")):
        state = json.loads(path.read_text())
        out.append((state["status"], tuple(sorted(state["hyperparameters"]["values"].items()))))
    return out


def _table(findings: str) -> list[str]:
    """The cell / parameter / accuracy columns of the findings table (time differs)."""
    rows = []
    for line in findings.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if re.match(r"^\d+-\d+$", cells[0]) and len(cells) >= 3:
            rows.append(" | ".join(cells[:3]))
    return rows


@pytest.mark.slow
def test_chief_and_two_workers_run_each_trial_once(tmp_path):
    config = grid_config(tmp_path, name="dist", units=(4, 6, 8), seeds=(0, 1))
    one = subprocess.run([sys.executable, "-m", "keras_dyn", "grid", str(config), "--logdir",
                          str(tmp_path / "single")], cwd=REPO, env=env(), capture_output=True,
                         text=True, timeout=900)
    assert one.returncode == 0, one.stderr[-3000:]
    many = subprocess.run([sys.executable, "-m", "keras_dyn", "grid", str(config), "--logdir",
                           str(tmp_path / "multi"), "--workers", "2"], cwd=REPO, env=env(),
                          capture_output=True, text=True, timeout=900)
    assert many.returncode == 0, many.stderr[-3000:]
    assert "chief oracle on 127.0.0.1:" in many.stderr

    experiment = tmp_path / "multi" / "dist"
    results = sorted(experiment.glob("*/results.toml"))
    assert [p.parent.name for p in results] == [f"w{u}-{u}_bs32_s{s}" for u in (4, 6, 8) for s in (0, 1)]
    trials = _trials(experiment)
    assert len(trials) == 6 and {t[0] for t in trials} == {"COMPLETED"}
    assert len({t[1] for t in trials}) == 6
    # both workers trained (keras-tuner's tuner ids tuner0 and tuner1 each saved its state)
    assert {p.name for p in (experiment / "_tuner").glob("tuner*.json")} == {"tuner0.json", "tuner1.json"}
    assert len(list(experiment.glob("FINDINGS-*.md"))) == 1  # written once, by the launcher

    single = tmp_path / "single" / "dist"
    for path in results:
        a, b = read_toml(path), read_toml(single / path.parent.name / "results.toml")
        assert a["epochs"]["test_accuracy"] == pytest.approx(b["epochs"]["test_accuracy"], abs=1e-6)
        assert a["epochs"]["val_accuracy"] == pytest.approx(b["epochs"]["val_accuracy"], abs=1e-6)
    table_multi = _table(next(experiment.glob("FINDINGS-*.md")).read_text())
    table_single = _table(next(single.glob("FINDINGS-*.md")).read_text())
    assert table_multi and table_multi == table_single
