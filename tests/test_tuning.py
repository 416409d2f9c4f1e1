"""Grid searches through keras-tuner: the search space, the resumable oracle, killed and resumed
grids, run-folder reuse, findings. Tiny synthetic data, 1 epoch."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras_tuner
import pytest

from keras_dyn.config import from_dict, load_config
from keras_dyn.runs.files import read_toml
from keras_dyn.tuning import ExperimentHyperModel, ResumableGridSearchOracle, decode, encode, plan_of

REPO = Path(__file__).resolve().parents[1]

GRID_TOML = """
[experiment]
name = "{name}"

[data]
dataset = "circle"
n_samples = 160
validation_split = 0.25

[model]
hidden = [6, 6]
initializer = "he"

[training]
learning_rate = 0.02
batch_size = 32
epochs = {epochs}
seeds = {seeds}

[log]
gradients = {gradients}
activations = false
weights = false

[grid]
units = {units}
"""


def grid_config(tmp_path, name="g", units=(4, 6, 8), seeds=(0,), epochs=1, gradients=False) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(GRID_TOML.format(name=name, units=list(units), seeds=list(seeds), epochs=epochs,
                                     gradients="true" if gradients else "false"))
    return path


def env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_DYN_NO_DOWNLOAD="1")


# --------------------------------------------------------------------------- search space


def test_hidden_lists_are_encoded_as_strings():
    assert encode("hidden", (128, 128)) == "128-128"
    assert decode("hidden", "128-64") == (128, 64)
    assert encode("units", 64) == 64 and decode("units", 64) == 64


def test_init_gain_values_are_one_type_for_a_choice():
    assert [encode("init_gain", v) for v in (1.0, "relu")] == ["1.0", "relu"]
    assert [decode("init_gain", v) for v in ("1.0", "relu")] == [1.0, "relu"]


def test_hypermodel_declares_one_choice_per_grid_key_and_seed_last(tmp_path):
    cfg = from_dict({"data": {"dataset": "circle"}, "model": {"hidden": [8, 8]},
                     "training": {"seeds": [0, 1]},
                     "grid": {"hidden": [[8, 8], [16]], "learning_rate": [0.1, 0.01],
                              "batch_size": [16, 32]}})
    hm = ExperimentHyperModel(cfg, tmp_path)
    hp = keras_tuner.HyperParameters()
    point, seed = hm.declare(hp)
    assert [h.name for h in hp.space] == ["hidden", "learning_rate", "batch_size", "seed"]
    assert point == {"hidden": (8, 8), "learning_rate": 0.1, "batch_size": 16} and seed == 0
    assert len(plan_of(cfg)) == 2 * 2 * 2 * 2


def _drive(oracle, tuner_id, finish=True):
    trial = oracle.create_trial(tuner_id)
    if trial.status != "RUNNING":
        return trial, None
    if finish:
        oracle.update_trial(trial.trial_id, {"val_accuracy": 0.5})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return trial, dict(trial.hyperparameters.values)


def _oracle(tmp_path):
    oracle = ResumableGridSearchOracle(objective=keras_tuner.Objective("val_accuracy", "max"))
    oracle._set_project_dir(str(tmp_path), "_tuner")
    return oracle


def _space():
    hp = keras_tuner.HyperParameters()
    hp.Choice("units", [4, 8, 16])
    hp.Choice("seed", [0, 1])
    return hp


def test_reloaded_oracle_continues_the_grid_each_combination_once(tmp_path):
    """keras-tuner 1.4.8's GridSearchOracle loses its order on reload (KeyError); ours does not."""
    oracle = _oracle(tmp_path)
    oracle.update_space(_space())
    seen = [_drive(oracle, "tuner0")[1] for _ in range(2)]
    running, _ = _drive(oracle, "tuner0", finish=False)  # the process dies during this trial
    oracle.save()

    again = _oracle(tmp_path)
    again.reload()
    retried, values = _drive(again, "tuner0")
    assert retried.trial_id == running.trial_id  # the unfinished trial comes back first
    seen.append(values)
    while True:
        trial, values = _drive(again, "tuner0")
        if values is None:
            assert trial.status == "STOPPED"
            break
        seen.append(values)
    assert sorted((v["units"], v["seed"]) for v in seen) == [(u, s) for u in (4, 8, 16) for s in (0, 1)]


def test_two_workers_get_different_trials_without_waiting(tmp_path):
    oracle = _oracle(tmp_path)
    oracle.update_space(_space())
    trials = [_drive(oracle, f"tuner{i}", finish=False)[0] for i in range(3)]
    assert [t.status for t in trials] == ["RUNNING"] * 3  # keras-tuner's own oracle: IDLE for the 3rd
    assert len({tuple(sorted(t.hyperparameters.values.items())) for t in trials}) == 3


# --------------------------------------------------------------------------- end to end


def _trial_records(experiment_dir):
    import json

    out = []
    for path in sorted((experiment_dir / "_tuner").glob("trial_*/trial.json")):
        state = json.loads(path.read_text())
        out.append((state["trial_id"], state["status"], tuple(sorted(state["hyperparameters"]["values"].items()))))
    return out


@pytest.mark.slow  # end to end (real runs, ~10-30 s): in `pytest -m slow`, which CI runs
def test_killed_grid_resumes_without_repeats(tmp_path, capsys):
    config = grid_config(tmp_path, name="resume", units=(4, 6, 8), seeds=(0,))
    logdir = tmp_path / "logs"
    experiment = logdir / "resume"
    cmd = [sys.executable, "-m", "keras_dyn", "grid", str(config), "--logdir", str(logdir)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if list(experiment.glob("*/results.toml")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    first = sorted(experiment.glob("*/results.toml"))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert 1 <= len(first) < 3
    stamps = {p: p.stat().st_mtime_ns for p in first}

    done = subprocess.run(cmd, cwd=REPO, env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = sorted(experiment.glob("*/results.toml"))
    assert [p.parent.name for p in results] == ["w4-4_bs32_s0", "w6-6_bs32_s0", "w8-8_bs32_s0"]
    assert all(p.stat().st_mtime_ns == stamps[p] for p in first)  # finished trials not rerun
    trials = _trial_records(experiment)
    assert len(trials) == 3 and {t[1] for t in trials} == {"COMPLETED"}
    assert len({t[2] for t in trials}) == 3  # no combination twice
    assert not list(experiment.rglob(".results.toml.*"))  # no half-written results file
    assert all(read_toml(p)["final"] for p in results)
    assert not list((experiment / "_tuner").rglob("*.tmp"))  # a killed writer's leftovers removed
    assert "findings:" in done.stderr
    findings = sorted(experiment.glob("FINDINGS-*.md"))[-1].read_text()
    assert "What the grid search chooses" in findings

    # The same command once more: nothing left to run, nothing rerun.
    before = {p: p.stat().st_mtime_ns for p in results}
    # (in-process from here: the kill needed a process of its own, these two do not)
    from keras_dyn.__main__ import main

    capsys.readouterr()
    assert main(cmd[3:]) == 0, capsys.readouterr().err[-3000:]
    assert {p: p.stat().st_mtime_ns for p in experiment.glob("*/results.toml")} == before
    assert "[run " not in capsys.readouterr().err

    # --restart starts a new search: every trial trained again into a new folder, nothing deleted.
    assert main(cmd[3:] + ["--restart"]) == 0, capsys.readouterr().err[-3000:]
    assert {p: p.stat().st_mtime_ns for p in results} == before  # the old runs are untouched
    results = sorted(experiment.glob("*/results.toml"))
    assert [p.parent.name for p in results] == ["w4-4_bs32_s0", "w4-4_bs32_s0_2", "w6-6_bs32_s0",
                                                "w6-6_bs32_s0_2", "w8-8_bs32_s0", "w8-8_bs32_s0_2"]
    assert len(_trial_records(experiment)) == 3


@pytest.mark.slow  # end to end (a real run, ~10-20 s): in `pytest -m slow`, which CI runs
def test_grid_matches_run_experiment(tmp_path):
    """The tuner path trains exactly what `run` trains: same folders, same numbers."""
    from keras_dyn.runs.experiment import run_experiment
    from keras_dyn.tuning import run_grid

    cfg = load_config(grid_config(tmp_path, name="same", units=(4, 8), seeds=(0,)))
    by_tuner = run_grid(cfg, tmp_path / "a", verbose=False)
    by_run = run_experiment(cfg, tmp_path / "b", verbose=False)
    assert [r.run_dir.name for r in by_tuner] == [r.run_dir.name for r in by_run]
    for t, r in zip(by_tuner, by_run):
        assert t.results["run"]["point"] == r.results["run"]["point"]
        assert t.results["epochs"]["train_loss_running"] == pytest.approx(r.results["epochs"]["train_loss_running"], rel=1e-4)
        assert t.results["final"]["test_accuracy"] == pytest.approx(r.results["final"]["test_accuracy"], abs=1e-6)
    saved = read_toml(by_tuner[0].run_dir / "results.toml")
    assert saved["run"]["name"] == "w4-4_bs32_s0"


def test_cli_grid_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(GRID_TOML.format(name="bad", units="[4, 4]", seeds=[0], epochs=1, gradients="false"))
    proc = subprocess.run([sys.executable, "-m", "keras_dyn", "grid", str(bad)], cwd=REPO, env=env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("config error:")


def test_resume_with_another_config_is_refused(tmp_path):
    from keras_dyn.errors import KerasDynError
    from keras_dyn.tuning import run_grid

    cfg = load_config(grid_config(tmp_path, name="changed", units=(4,), seeds=(0,)))
    assert len(run_grid(cfg, tmp_path / "logs", verbose=False)) == 1
    with pytest.raises(KerasDynError, match="--restart"):
        run_grid(cfg.replace(training={"epochs": 2}), tmp_path / "logs", verbose=False)
    records = run_grid(cfg.replace(training={"epochs": 2}), tmp_path / "logs", verbose=False,
                       restart=True)
    assert [len(r.results["epochs"]["train_loss_running"]) for r in records] == [2]


def test_hparams_dashboard_shows_whole_numbers_as_whole_numbers():
    """The dashboard prints numbers with toPrecision(5) (2 -> "2.0000", 134794 -> "1.3479e+5"),
    so whole numbers go to it as text, right-aligned so that text order is numeric order."""
    from keras_dyn.tuning import WHOLE_NUMBER_HPARAMS, dashboard_hparams, hparam_display

    assert {"layers", "units", "units_3", "seed", "batch_size", "epochs", "params"} <= WHOLE_NUMBER_HPARAMS
    assert hparam_display("units", 64).strip() == "64" and hparam_display("layers", 2).strip() == "2"
    assert hparam_display("params", 134794).strip() == "134,794"
    widths = [64, 128, 1024, 8]
    assert [int(v) for v in sorted(hparam_display("units", w) for w in widths)] == sorted(widths)
    counts = [55050, 118282, 1_863_690, 999]
    assert [int(v.replace(",", "")) for v in sorted(hparam_display("params", c) for c in counts)] == sorted(counts)
    # rates, names and lists are left alone
    assert hparam_display("learning_rate", 0.01) == 0.01 and hparam_display("activation", "relu") == "relu"
    assert hparam_display("units", True) is True
    values = dashboard_hparams({"hidden": (5, 7), "batch_size": 32, "learning_rate": 0.1}, 3, params=120)
    assert {k: v.strip() if isinstance(v, str) else v for k, v in values.items()} == {
        "hidden": "5-7", "batch_size": "32", "learning_rate": 0.1, "seed": "3", "params": "120"}


def test_grid_parameter_counts_match_the_built_models(tmp_path):
    import tensorflow as tf  # noqa: F401  (keras below)

    from keras_dyn.data.datasets import IMAGE_SHAPE
    from keras_dyn.models import build_model
    from keras_dyn.tuning import grid_param_counts

    cfg = load_config(grid_config(tmp_path, units=(4, 6, 8)))
    built = sorted(build_model(cfg.at_point(p).model, (2,), 2).count_params() for p in cfg.points())
    assert grid_param_counts(cfg) == built
    exp2 = load_config(REPO / "configs" / "exp2_epochs_vs_width.toml")
    assert grid_param_counts(exp2) == [55050, 118282, 269322]  # as in the lab's findings
    depth = load_config(grid_config(tmp_path, name="d", units=(4,))).replace(
        grid={"layers": [1, 3]}, model={"hidden": [32, 32]}, data={"dataset": "mnist"})
    assert grid_param_counts(depth) == sorted(
        build_model(depth.at_point(p).model, IMAGE_SHAPE, 10).count_params() for p in depth.points())
