"""A run end to end on tiny synthetic data: folders, files, event files read back, no overwrite."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keras_dyn.config import load_config
from keras_dyn.report.results import load_results
from keras_dyn.runs.files import read_toml
from keras_dyn.runs.experiment import run_experiment

REPO = Path(__file__).resolve().parents[1]


def scalars(folder, tag):
    """Values of a scalar tag, read with TensorBoard's own reader (tf.summary writes tensors)."""
    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    import tensorflow as tf

    if tag in acc.Tags().get("tensors", []):
        return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from tests.conftest import TINY_TOML

    root = tmp_path_factory.mktemp("run")
    path = root / "tiny.toml"
    path.write_text(TINY_TOML)
    cfg = load_config(path)
    records = run_experiment(cfg, root / "modellogs", verbose=False)
    return cfg, records, root / "modellogs"


def test_one_folder_per_seed_with_config_and_results(finished):
    cfg, records, logdir = finished
    assert [r.run_dir.name for r in records] == ["w8-8_bs32_s0", "w8-8_bs32_s1"]
    for record in records:
        saved = load_config(record.run_dir / "config.toml")
        assert saved.training.seeds == (record.results["run"]["seed"],)
        results = read_toml(record.run_dir / "results.toml")
        assert len(results["epochs"]["test_accuracy"]) == cfg.training.epochs
        assert len(results["epochs"]["val_loss"]) == cfg.training.epochs
        assert results["run"]["params"] == 2 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2
        assert 0.0 <= results["final"]["test_accuracy"] <= 1.0
        assert results["final"]["test_accuracy"] == results["epochs"]["test_accuracy"][-1]
        assert 1 <= results["final"]["best_val_epoch"] <= cfg.training.epochs
        run, final, epochs = results["run"], results["final"], results["epochs"]
        assert run["status"] == "complete" and "diverged_epoch" not in run
        assert run["epochs_done"] == cfg.training.epochs
        assert run["steps"] == final["steps"] == cfg.training.epochs * run["steps_per_epoch"]
        assert 0 < run["cpu_seconds"] and 0 < run["wall_seconds"]
        assert len(epochs["cpu_seconds"]) == len(epochs["seconds"]) == cfg.training.epochs
        assert all(c > 0 for c in epochs["cpu_seconds"])
        assert final["train_cpu_seconds"] == pytest.approx(sum(epochs["cpu_seconds"]))
        assert final["train_seconds"] <= run["wall_seconds"]
        assert final["steps_per_second"] == pytest.approx(final["steps"] / final["train_seconds"])
        assert final["train_accuracy"] == epochs["train_accuracy"][-1]  # epoch-end, not the running mean
        assert len(epochs["train_accuracy_running"]) == cfg.training.epochs
        assert run["n_train_eval"] == min(run["n_train"], cfg.log.train_eval_size or run["n_train"])
    assert len(load_results(logdir / "tiny")) == 2


def test_event_files_hold_one_value_per_epoch(finished):
    cfg, records, _ = finished
    run_dir = records[0].run_dir
    epochs = cfg.training.epochs
    for sub, tag in [("train", "epoch_loss"), ("train", "epoch_accuracy"), ("train", "epoch_learning_rate"),
                     ("train", "epoch_seconds"), ("train", "epoch_cpu_seconds"), ("validation", "epoch_loss"),
                     ("validation", "epoch_accuracy"), ("test", "epoch_accuracy"), ("test", "epoch_loss")]:
        values = scalars(run_dir / sub, tag)
        assert [step for step, _ in values] == list(range(1, epochs + 1)), (sub, tag)  # epochs 1..E
    epochs_table = records[0].results["epochs"]
    assert epochs_table["epoch"] == list(range(1, epochs + 1))
    for sub, key in [("train", "train_loss"), ("train", "train_accuracy"), ("validation", "val_loss"),
                     ("validation", "val_accuracy"), ("test", "test_accuracy"),
                     ("train", "train_loss_running"), ("train", "train_accuracy_running")]:
        tag = "epoch_" + key.replace("val_", "").replace("test_", "").replace("train_", "")
        logged = [v for _, v in scalars(run_dir / sub, tag)]
        assert logged == pytest.approx(epochs_table[key], rel=1e-6), (sub, key)
    cpu = [v for _, v in scalars(run_dir / "train", "epoch_cpu_seconds")]
    assert cpu == pytest.approx(epochs_table["cpu_seconds"], rel=1e-6)


def test_same_seed_same_numbers_and_no_overwrite(finished):
    cfg, records, logdir = finished
    again = run_experiment(cfg.replace(training={"seeds": [0]}), logdir, verbose=False, restart=True)
    assert again[0].run_dir.name == "w8-8_bs32_s0_2"  # --restart: a new folder, the old one kept
    assert (records[0].run_dir / "results.toml").is_file()
    assert again[0].results["epochs"]["train_loss"] == pytest.approx(records[0].results["epochs"]["train_loss"],
                                                                     rel=1e-5)


def test_missing_data_gives_one_line_and_writes_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_DYN_DATA"}
    env.update(KERAS_HOME=str(tmp_path / "keras_home"), KERAS_DYN_NO_DOWNLOAD="1", TF_CPP_MIN_LOG_LEVEL="3")
    logdir = tmp_path / "modellogs"
    proc = subprocess.run([sys.executable, "-m", "labs.exp2_epochs_vs_width", "--quick", "--logdir", str(logdir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("data error: fashion_mnist not found")
    assert "KERAS_DYN_DATA" in lines[0] and "apt-get install dataset-fashion-mnist" in lines[0]
    assert not logdir.exists()


def test_atomic_write_leaves_no_temp_file_and_normal_permissions(tmp_path):
    from keras_dyn.runs.files import atomic_write_text

    target = atomic_write_text(tmp_path / "results.toml", "a = 1\n")
    assert target.read_text() == "a = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.toml"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
