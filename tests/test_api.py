"""The Python API (``import keras_dyn as kd``): light to import, the catalogue and a lab as
DataFrames, a lab run through it (the same path as ``keras-dyn lab``), its runs as one tidy
table, its verdicts as structured rows, and the HParams summaries of a sequential lab."""

import math
import subprocess
import sys

import pytest

import keras_dyn as kd
from keras_dyn.errors import KerasDynError
from keras_dyn.report.context import VERDICT_COLUMNS
from tests.test_cli import tiny_lab  # noqa: F401 - the fixture


def test_import_is_light_and_the_api_is_lazy():
    code = ("import sys, keras_dyn as kd; assert 'tensorflow' not in sys.modules; "
            "assert 'pandas' not in sys.modules; kd.labs; assert 'tensorflow' not in sys.modules; "
            "print(sorted(set(kd.__all__) & set(dir(kd))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'load_runs'" in out and "'lab'" in out
    with pytest.raises(AttributeError):
        kd.no_such_thing  # noqa: B018


def test_catalogue_and_lab_as_dataframes():
    labs = kd.labs()
    assert {"name", "title", "question", "runner", "config"} <= set(labs.columns)
    assert "exp2_epochs_vs_width" in set(labs.name)
    lab = kd.lab("exp2_epochs_vs_width")
    assert lab.config.grid == {"units": (64, 128, 256)}
    hyps = lab.hypotheses
    assert list(hyps.id) == [h.id for h in lab.config.lab.hypotheses] and list(hyps.id)[:2] == ["H1", "H2"]
    assert {"test_accuracy", "train_test_gap"} <= set(hyps.metric)
    with pytest.raises(KerasDynError, match="no_such_lab"):
        kd.lab("no_such_lab")


@pytest.mark.slow  # end to end (real runs, ~10-30 s): in `pytest -m slow`, which CI runs
def test_a_lab_run_through_the_api(tiny_lab, tmp_path):  # noqa: F811
    import tensorflow as tf

    lab = kd.lab("tinylab")
    outcome = lab.run(logdir=tmp_path / "logs", verbose=False)
    assert len(outcome.records) == 4 and outcome.findings_file.is_file() and outcome.errors == []
    assert outcome.experiment_dir == tmp_path / "logs" / "tinylab"
    # one tidy table from a run, an experiment or a whole log folder
    runs = kd.load_runs(outcome.experiment_dir)
    assert list(runs.columns) == ["experiment", "run", "seed", "status", "units", "epoch", "metric", "value"]
    assert set(runs.units) == {3, 9} and set(runs.seed) == {0, 1} and set(runs.epoch) == {1, 2}
    assert {"train_loss", "train_accuracy", "train_accuracy_running", "val_accuracy", "test_accuracy"} <= set(runs.metric)
    assert len(kd.load_runs(tmp_path / "logs")) == len(runs) == len(outcome.runs())
    one = kd.load_runs(outcome.records[0].run_dir)
    assert set(one.run) == {outcome.records[0].run_dir.name}
    # the verdicts as data, the same numbers as the runs
    findings = lab.findings()
    table = findings.verdicts
    assert list(table.columns) == list(VERDICT_COLUMNS) and list(table.id) == ["H1"]
    row = table.iloc[0]
    val = runs[(runs.metric == "val_accuracy") & (runs.epoch == 2)].groupby("units").value.mean()
    assert math.isclose(row.A_mean, val[9]) and math.isclose(row.B_mean, val[3])
    assert math.isclose(row.difference, val[9] - val[3], abs_tol=1e-12)
    assert row.ci_low <= row.difference <= row.ci_high and 0 <= row.p <= 1
    assert row.verdict in ("supported", "refuted", "equivalent", "undecided", "within seed noise")
    assert findings.figures and all(f.is_file() for f in findings.figures)
    assert findings.verdict_rows[0]["id"] == "H1"
    # HParams for a sequential lab: the experiment's config, and one session per run
    assert (outcome.experiment_dir / "_tuner" / "hparams_config.json").is_file()
    assert list(outcome.experiment_dir.glob("events.out.tfevents.*"))
    for record in outcome.records:
        events = list(record.run_dir.glob("events.out.tfevents.*"))
        assert events, record.run_dir
        tags = {v.tag for e in tf.compat.v1.train.summary_iterator(str(events[0])) for v in e.summary.value}
        assert "_hparams_/session_start_info" in tags and "final/test_accuracy" in tags
