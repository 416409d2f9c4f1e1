"""Real races between real processes on one log folder (marked slow: each takes 10-40 s).

"Trained" is counted from the progress output: a run that trains prints
``[run i/N <name>]  epoch 1/E ...`` once; a reused run prints "finished earlier". Tiny synthetic
data (circle, 200 points, 1-2 epochs, diagnostics off).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

CONFIG = """
[experiment]
name = "race"

[data]
dataset = "circle"
n_samples = 200
validation_split = 0.25

[model]
hidden = [6, 6]

[training]
learning_rate = 0.02
batch_size = 32
epochs = {epochs}
seeds = [0, 1]

[log]
gradients = false
activations = false
weights = false

[grid]
units = [4, 6, 8]
"""
NAMES = [f"w{u}-{u}_bs32_s{s}" for u in (4, 6, 8) for s in (0, 1)]
TRAINED = re.compile(r"^\[run \d+/\d+ (\S+)\]\s+epoch 1/", re.M)


def env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_DYN_NO_DOWNLOAD="1",
                PYTHONPATH=str(REPO))


def config(tmp_path, epochs=1) -> Path:
    path = tmp_path / "race.toml"
    path.write_text(CONFIG.format(epochs=epochs))
    return path


def start(command, path, logdir, log):
    handle = open(log, "w")
    return subprocess.Popen([sys.executable, "-m", "keras_dyn", command, str(path), "--logdir",
                             str(logdir)], cwd=REPO, env=env(), stdout=subprocess.DEVNULL,
                            stderr=handle), handle


def finish(procs, timeout=300):
    for proc, handle in procs:
        proc.wait(timeout=timeout)
        handle.close()


def trained(*logs) -> Counter:
    return Counter(name for log in logs for name in TRAINED.findall(Path(log).read_text()))


def run_folders(experiment):
    return sorted(p.name for p in experiment.iterdir() if p.is_dir() and not p.name.startswith(("_", "figures")))


def test_two_runs_at_once_train_every_run_exactly_once(tmp_path):
    path, logdir = config(tmp_path), tmp_path / "logs"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [start("run", path, logdir, log) for log in logs]
    finish(procs)
    text = [log.read_text() for log in logs]
    assert [p.returncode for p, _ in procs] == [0, 0], text
    counts = trained(*logs)
    assert sorted(counts) == NAMES and set(counts.values()) == {1}, counts
    experiment = logdir / "race"
    assert run_folders(experiment) == NAMES  # no _2 folders: nothing trained twice
    assert all((experiment / n / "results.toml").is_file() for n in NAMES)
    findings = sorted(p.name for p in experiment.glob("FINDINGS-*.md"))
    assert len(findings) == 2 and len(set(findings)) == 2
    assert all("findings:" in t for t in text)


def test_sequential_run_killed_and_rerun_trains_the_plan_once(tmp_path):
    path, logdir = config(tmp_path, epochs=2), tmp_path / "logs"
    experiment = logdir / "race"
    proc, handle = start("run", path, logdir, tmp_path / "first.log")
    deadline = time.time() + 240
    while time.time() < deadline and len(list(experiment.glob("*/results.toml"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    handle.close()
    done_first = {p.parent.name for p in experiment.glob("*/results.toml")}
    assert 2 <= len(done_first) < len(NAMES)
    stamps = {n: (experiment / n / "results.toml").stat().st_mtime_ns for n in done_first}

    second, handle = start("run", path, logdir, tmp_path / "second.log")
    finish([(second, handle)])
    assert second.returncode == 0, (tmp_path / "second.log").read_text()
    again = trained(tmp_path / "second.log")
    assert set(again) == set(NAMES) - done_first and set(again.values()) == {1}
    assert len(done_first) + sum(again.values()) == len(NAMES)  # trained runs == the plan
    assert {n: (experiment / n / "results.toml").stat().st_mtime_ns for n in done_first} == stamps
    assert run_folders(experiment) == NAMES  # the killed run's folder was reused, not doubled
    assert not list(experiment.rglob(".*.tmp"))


def test_two_grids_at_once_train_every_trial_once(tmp_path):
    path, logdir = config(tmp_path), tmp_path / "logs"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [start("grid", path, logdir, log) for log in logs]
    finish(procs)
    codes = sorted(p.returncode for p, _ in procs)
    text = "\n".join(log.read_text() for log in logs)
    # one searches; the other refuses with one line (or, if it started only once the first had
    # finished, finds the search complete and trains nothing)
    assert codes in ([0, 2], [0, 0]), text
    refusal = [line for line in text.splitlines() if "another grid process" in line]
    assert len(refusal) == codes.count(2) and "Traceback" not in text
    counts = trained(*logs)
    assert sorted(counts) == NAMES and set(counts.values()) == {1}, counts
    experiment = logdir / "race"
    assert run_folders(experiment) == NAMES
    states = [json.loads(p.read_text()) for p in (experiment / "_tuner").glob("trial_*/trial.json")]
    assert len(states) == len(NAMES) and {s["status"] for s in states} == {"COMPLETED"}


def test_a_run_and_a_grid_at_once_share_the_run_folders(tmp_path):
    path, logdir = config(tmp_path), tmp_path / "logs"
    logs = [tmp_path / "run.log", tmp_path / "grid.log"]
    procs = [start("run", path, logdir, logs[0]), start("grid", path, logdir, logs[1])]
    finish(procs)
    assert [p.returncode for p, _ in procs] == [0, 0], [log.read_text() for log in logs]
    counts = trained(*logs)
    assert sorted(counts) == NAMES and set(counts.values()) == {1}, counts
    assert run_folders(logdir / "race") == NAMES
