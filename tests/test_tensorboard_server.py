"""A real TensorBoard server over two tiny grids and a sequential experiment in one log folder:
runs, scalars, gradient histograms and HParams (every trial and every sequential run) are served
by its HTTP data API."""

import urllib.parse

import pytest

from keras_dyn.config import load_config
from keras_dyn.runs.experiment import run_experiment
from keras_dyn.tuning import hparam_display, run_grid
from tests._tensorboard import (SESSION_GROUPS_REQUEST, get_json, post_json, tensorboard_server,
                                wait_for)
from tests.test_tuning import grid_config


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb")
    cfg = load_config(grid_config(root, name="tbgrid", units=(4, 8), seeds=(0,), gradients=True))
    records = run_grid(cfg, root / "modellogs", verbose=False)
    # a second grid in the same log folder, over another key, with a clashing run name
    depth = cfg.replace(experiment={"name": "tbdepth"}, grid={"layers": [1, 2]},
                        model={"hidden": [4, 4]}, log={"gradients": False})
    others = run_grid(depth, root / "modellogs", verbose=False)
    assert [r.run_dir.name for r in others] == ["w4_bs32_s0", "w4-4_bs32_s0"]
    # a sequential experiment (one run after another, no keras-tuner) comparing learning rates
    seq = cfg.replace(experiment={"name": "tbseq"}, grid={"learning_rate": [0.01, 0.03]},
                      log={"gradients": False})
    sequential = run_experiment(seq, root / "modellogs", verbose=False)
    assert len(sequential) == 2
    return root / "modellogs", records, others + sequential


@pytest.mark.slow  # end to end (real runs, ~10-30 s): in `pytest -m slow`, which CI runs
def test_tensorboard_serves_scalars_histograms_and_hparams(grid):
    logdir, records, others = grid
    names = [r.run_dir.name for r in records]
    assert names == ["w4-4_bs32_s0", "w8-8_bs32_s0"]
    with tensorboard_server(logdir) as base:
        expected = {f"tbgrid/{n}/{sub}" for n in names for sub in ("train", "validation", "test")}
        runs = wait_for(lambda: set(get_json(base, "/data/runs")), lambda r: expected <= r)
        assert expected <= runs and {f"tbgrid/{n}" for n in names} <= runs

        scalars = wait_for(lambda: get_json(base, "/data/plugin/scalars/tags"),
                           lambda t: all(f"tbgrid/{n}/test" in t for n in names))
        for n in names:
            for sub in ("train", "validation", "test"):
                assert "epoch_accuracy" in scalars[f"tbgrid/{n}/{sub}"], (n, sub)
            assert "final/test_accuracy" in scalars[f"tbgrid/{n}"]
        query = urllib.parse.urlencode({"run": f"tbgrid/{names[0]}/test", "tag": "epoch_accuracy"})
        points = get_json(base, f"/data/plugin/scalars/scalars?{query}")
        assert [p[2] for p in points] == pytest.approx(records[0].results["epochs"]["test_accuracy"], abs=1e-6)

        histograms = get_json(base, "/data/plugin/histograms/tags")
        for n in names:
            tags = histograms[f"tbgrid/{n}/train"]
            for layer in ("hidden1", "hidden2", "output"):
                assert f"grad/{layer}/kernel" in tags and f"grad/{layer}/bias" in tags
        # the histograms themselves (float32 tensors, keras_dyn.callbacks._summaries) are served
        query = urllib.parse.urlencode({"run": f"tbgrid/{names[0]}/train", "tag": "grad/hidden1/kernel"})
        served = get_json(base, f"/data/plugin/histograms/histograms?{query}")
        run = records[0].results["run"]
        assert [step for _, step, _ in served] == [run["steps_per_epoch"] * (e + 1)
                                                  for e in range(run["epochs"])]
        for _, _, buckets in served:
            assert len(buckets) == 30 and all(left <= right for left, right, _ in buckets)
            assert sum(count for _, _, count in buckets) == records[0].results["gradients"]["sizes"]["hidden1/kernel"]

        experiment = post_json(base, "/data/plugin/hparams/experiment", {"experimentName": ""})
        # one summary for the whole log folder: the union of both grids' hyperparameters
        # whole numbers as text (the dashboard prints numbers as 2.0000, 1.3479e+5), the
        # parameter count as a column
        infos = experiment["hparamInfos"]
        assert {h["name"] for h in infos} == {"layers", "units", "learning_rate", "params", "seed"}
        units = next(h for h in infos if h["name"] == "units")
        assert units["domainDiscrete"] == [hparam_display("units", 4), hparam_display("units", 8)]
        params = next(h for h in infos if h["name"] == "params")
        assert params["displayName"] == "parameters" and params["type"] == "DATA_TYPE_STRING"
        expected_params = {r.results["run"]["params"] for r in records + others}
        assert {int(v.replace(",", "")) for v in params["domainDiscrete"]} == expected_params
        metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
        assert {"final/val_accuracy", "final/test_accuracy", "final/train_seconds"} <= metrics
        assert "final/params" not in metrics  # a metric would show as 1.3479e+5

        groups = post_json(base, "/data/plugin/hparams/session_groups", SESSION_GROUPS_REQUEST)
        rows = {g["name"]: g for g in groups["sessionGroups"]}
        assert set(rows) == ({f"{n} (tbgrid)" for n in names}
                             | {f"{r.run_dir.name} ({r.run_dir.parent.name})" for r in others})  # every run, once
        for record in records:
            row = rows[f"{record.run_dir.name} (tbgrid)"]
            assert row["hparams"]["units"].strip() == str(record.results["run"]["point"]["units"])
            assert row["hparams"]["seed"].strip() == str(record.results["run"]["seed"])
            assert row["hparams"]["params"].strip() == f"{record.results['run']['params']:,}"
            assert row["hparams"]["params"] in params["domainDiscrete"]
            values = {m["name"]["tag"]: m["value"] for m in row["metricValues"]}
            assert values["final/test_accuracy"] == pytest.approx(record.results["final"]["test_accuracy"])
        assert rows["w4_bs32_s0 (tbdepth)"]["hparams"]["layers"].strip() == "1"
        for record in others[2:]:  # the sequential runs: their configuration key and final metrics
            row = rows[f"{record.run_dir.name} (tbseq)"]
            assert row["hparams"]["learning_rate"] == pytest.approx(record.results["run"]["point"]["learning_rate"])
            values = {m["name"]["tag"]: m["value"] for m in row["metricValues"]}
            assert values["final/test_accuracy"] == pytest.approx(record.results["final"]["test_accuracy"])
