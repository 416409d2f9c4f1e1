"""Diverged runs are recorded, not crashed or averaged: a NaN-producing learning rate with the
default diagnostics and the probes on, as one run and inside a keras-tuner grid."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from keras_dyn.callbacks.divergence import StopOnDivergence
from keras_dyn.callbacks.gradient_statistics import GradientStatistics
from keras_dyn.config import from_dict, load_config
from keras_dyn.recording import instrument
from keras_dyn.runs.files import read_toml
from keras_dyn.runs.experiment import run_experiment

from _dyn_helpers import needs_compiler, read_events, tiny_data, tiny_model


def _exploding(seed=0):
    """Linear layers, inputs scaled up and SGD at 1e4: the loss is NaN within a few steps."""
    x, y = tiny_data(96, seed=seed)
    model = instrument(tiny_model(activation="linear", seed=seed))
    model.compile(keras.optimizers.SGD(1e4), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, x * 100, y


class BatchLosses(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))

    def on_train_begin(self, logs=None):
        self.losses = []


def test_stop_on_divergence_finds_the_first_non_finite_batch():
    model, x, y = _exploding()
    reference = BatchLosses()
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, callbacks=[reference])
    first_bad = next(i for i, v in enumerate(reference.losses) if not math.isfinite(v)) + 1
    assert 1 < first_bad < 6 * 3  # the set-up diverges, and not at once

    model, x, y = _exploding()
    stop = StopOnDivergence()
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, callbacks=[stop])
    assert stop.diverged and stop.diverged_step == first_bad
    assert stop.diverged_epoch == (first_bad - 1) // 6 + 1  # 6 steps per epoch, epochs from 1
    assert int(model.optimizer.iterations.numpy()) <= 6 * stop.diverged_epoch  # stopped in it
    assert stop.results() == {"status": "diverged", "diverged_epoch": stop.diverged_epoch,
                              "diverged_step": first_bad}

    fine = StopOnDivergence()
    m = tiny_model()
    m.compile("adam", "sparse_categorical_crossentropy")
    m.fit(*tiny_data(32), epochs=2, verbose=0, callbacks=[fine])
    assert not fine.diverged and fine.results() == {"status": "complete"}


@pytest.mark.parametrize("fused", [pytest.param("on", marks=needs_compiler), "off"])
def test_gradient_statistics_survive_nan_gradients(tmp_path, fused, monkeypatch):
    monkeypatch.setenv("KERAS_DYN_FUSED_STATS", fused)  # the TF-ops path used to fail on NaN
    model, x, y = _exploding()
    cb = GradientStatistics(tmp_path, histogram_every=1)
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[cb])
    res = cb.results()
    assert res["epoch"] == [1, 2]
    norms = np.asarray(res["step_norms"]["hidden1/kernel"][-1])
    assert not np.all(np.isfinite(norms)) and math.isnan(res["stats"]["hidden1/kernel"]["norm_mean"][-1])
    assert math.isnan(res["attenuation"][-1])
    events, _ = read_events(tmp_path / "train")
    hist_steps = [s for s, _ in events["grad/hidden1/kernel"]]
    finite_steps = [i + 1 for i, v in enumerate(np.concatenate(res["step_norms"]["hidden1/kernel"]))
                    if math.isfinite(v)]
    assert hist_steps == finite_steps  # one histogram per finite step, none for the others
    for _, h in events["grad/hidden1/kernel"]:
        assert np.all(np.isfinite(h))
    assert len(events["grad/hidden1/kernel/norm"]) == 12  # per-step values written as they are


DIVERGING = {
    "experiment": {"name": "diverging"},
    "data": {"dataset": "mnist", "subset": 200, "test_subset": 100, "validation_split": 0.1,
             "label_noise": 0.2},
    "model": {"hidden": [16, 16, 16], "activation": "linear"},
    "training": {"optimizer": "sgd", "learning_rate": 10.0, "batch_size": 8, "epochs": 2,
                 "seeds": [0]},
    "probes": {"shifts": ["rotation", "blur"], "shift_severities": [1], "shift_test_size": 50,
               "drift": True, "drift_probe_size": 32, "noisy_eval_size": 100},
    "log": {"probe_size": 32},
}


def _numbers_only(node, path=""):
    """Every list in a results table holds numbers of one kind (or strings, or lists)."""
    if isinstance(node, dict):
        for k, v in node.items():
            _numbers_only(v, f"{path}.{k}")
    elif isinstance(node, list):
        kinds = {type(v) for v in node}
        assert len(kinds) <= 1, (path, kinds)
        for v in node:
            _numbers_only(v, path)


def test_a_diverging_run_with_every_diagnostic_is_recorded(tmp_path, real_data):
    cfg = from_dict(DIVERGING)
    assert cfg.log.gradients and cfg.log.activations and cfg.log.weights  # the defaults
    records = run_experiment(cfg, tmp_path / "logs", data_dir=real_data, verbose=False)
    run_dir = records[0].run_dir
    results = read_toml(run_dir / "results.toml")  # reads back
    _numbers_only(results)
    run = results["run"]
    assert run["status"] == "diverged"
    assert run["diverged_epoch"] == 1 and 1 <= run["diverged_step"] <= run["steps_per_epoch"]
    assert run["epochs_done"] == 1 and run["steps"] >= run["diverged_step"]
    assert not math.isfinite(results["epochs"]["train_loss_running"][-1])  # NaN or inf
    for key in ("epochs", "gradients", "weights", "noisy_labels", "shifts", "drift"):
        assert results[key]["epoch"] == [1], key  # as long as the epochs reached
    assert results["activations"]["epoch"] == [0, 1]
    assert math.isfinite(results["activations"]["hidden1"]["mean"][0])  # before training
    assert math.isnan(results["activations"]["hidden1"]["mean"][1])
    assert math.isnan(results["weights"]["norm"]["hidden1/kernel"][0])
    assert math.isnan(results["drift"]["hidden1"]["cka_to_init"][0])
    assert len(results["epochs"]["val_accuracy"]) == 1
    events, _ = read_events(run_dir / "train")
    assert [s for s, _ in events["epoch_loss"]] == [1]
    assert [s for s, _ in events["act/hidden1"]] == [0]  # the NaN activations got no histogram


GRID = """
[experiment]
name = "divgrid"

[data]
dataset = "circle"
n_samples = 160
validation_split = 0.25

[model]
hidden = [8, 8]
activation = "linear"

[training]
optimizer = "sgd"
learning_rate = 0.02
batch_size = 32
epochs = 2
seeds = [0]

[grid]
learning_rate = [0.02, 10.0, 0.05]
"""


def test_a_grid_with_a_diverging_point_finishes_and_is_complete_on_rerun(tmp_path, monkeypatch):
    from keras_dyn import tuning
    from keras_dyn.runs import fit as train

    path = tmp_path / "divgrid.toml"
    path.write_text(GRID)
    cfg = load_config(path)
    assert cfg.log.gradients and cfg.log.activations and cfg.log.weights
    records = tuning.run_grid(cfg, tmp_path / "logs", verbose=False)
    status = {r.results["run"]["point"]["learning_rate"]: r.results["run"]["status"] for r in records}
    assert status == {0.02: "complete", 10.0: "diverged", 0.05: "complete"}
    diverged = next(r for r in records if r.results["run"]["status"] == "diverged")
    run = diverged.results["run"]
    assert run["diverged_epoch"] == 2 and run["epochs_done"] == 2  # stopped inside epoch 2
    assert run["steps_per_epoch"] < run["diverged_step"] <= 2 * run["steps_per_epoch"]
    running = diverged.results["epochs"]["train_loss_running"]
    assert len(running) == 2 and not math.isfinite(running[1])
    assert math.isfinite(diverged.results["epochs"]["val_accuracy"][-1])  # as measured, in the file
    assert tuning.trial_metrics(diverged.results)["val_accuracy"] == 0.0
    assert tuning.trial_metrics(diverged.results)["diverged"] == 1.0
    trials = [json.loads(p.read_text()) for p in (tmp_path / "logs" / "divgrid" / "_tuner").glob("trial_*/trial.json")]
    assert sorted(t["status"] for t in trials) == ["COMPLETED"] * 3
    assert sorted(t["score"] for t in trials)[0] == 0.0
    stamps = {r.run_dir: (r.run_dir / "results.toml").stat().st_mtime_ns for r in records}

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished grid trained again")

    monkeypatch.setattr(train, "fit_and_record", must_not_train)
    again = tuning.run_grid(cfg, tmp_path / "logs", verbose=False)
    assert [r.run_dir for r in again] == [r.run_dir for r in records]
    assert {r.run_dir: (r.run_dir / "results.toml").stat().st_mtime_ns for r in again} == stamps
    runs = [p for p in (tmp_path / "logs" / "divgrid").iterdir() if (p / "config.toml").is_file()]
    assert len(runs) == 3
