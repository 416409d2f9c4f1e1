"""What a run leaves under the log folder: small by default, every step only when asked.

A full lab must leave at most ~40 MB in modellogs/ with the default logging. The bound per run and
epoch is that budget over the largest shipped plan (runs x epochs, every lab in configs/: 2,000
run-epochs, exp15_synthetic_depth); a tiny run with the default logging must stay under it, and
its TensorBoard events must not grow with the steps per epoch. (The results file keeps every
step's gradient norms, so it does grow with them; benchmarks/log_size.py estimates every shipped
lab's full size, events and results files together.) TensorBoard's per-step scalars (``log.step_scalars_every``) and
per-step histograms (``log.gradient_histogram_every``) stay available and are checked here too.
"""

import tomllib
from pathlib import Path

import pytest

from conftest import REPO, TINY_TOML
from _dyn_helpers import read_events
from keras_dyn.config import from_dict, load_config

# four real runs (~15 s): the slow suite, which CI runs
pytestmark = pytest.mark.slow

LAB_BUDGET = 40e6  # bytes a full lab may leave in modellogs/ with the default logging


def _largest_plan() -> int:
    """Run-epochs of the largest shipped plan (every run of every grid point, its own epochs)."""
    largest = 0
    for path in sorted((REPO / "configs").glob("*.toml")):
        cfg = load_config(path)
        largest = max(largest, sum(cfg.at_point(p, s).training.epochs
                                   for p in cfg.points() for s in cfg.training.seeds))
    return largest


def _tree_bytes(root: Path, events_only=False) -> int:
    return sum(p.stat().st_size for p in root.rglob("*")
               if p.is_file() and (not events_only or "tfevents" in p.name))


def _run(tmp_path, name, *, batch_size=32, log=None, epochs=2):
    from keras_dyn.runs.experiment import run_experiment

    raw = tomllib.loads(TINY_TOML)
    raw["experiment"]["name"] = name
    # the tiny experiment of conftest (2 hidden layers of 8), 1,024 points with a quarter held
    # out: 24 steps of 32 an epoch
    raw["data"]["n_samples"] = 1024
    raw["training"].update(seeds=[0], epochs=epochs, batch_size=batch_size)
    raw["log"] = log or {}
    cfg = from_dict(raw, source=f"{name}.toml")
    (record,) = run_experiment(cfg, tmp_path / "modellogs", verbose=False)
    return record.run_dir, record.results


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("size")
    return {
        "default": _run(tmp, "default"),
        "default_4x_steps": _run(tmp, "default4x", batch_size=8),
        "every_step": _run(tmp, "everystep", log={"step_scalars_every": 1, "step_loss": True,
                                                  "gradient_histogram_every": 1}),
        "every_5": _run(tmp, "every5", log={"step_scalars_every": 5, "step_loss": True}),
    }


def test_default_run_epoch_fits_the_largest_plan_in_the_lab_budget(runs):
    run_dir, results = runs["default"]
    per_run_epoch = _tree_bytes(run_dir) / results["run"]["epochs_done"]
    bound = LAB_BUDGET / _largest_plan()
    assert per_run_epoch < bound, (per_run_epoch, bound)


def test_default_events_do_not_grow_with_the_steps(runs):
    """By default TensorBoard gets epoch-level summaries only: 4x the steps, the same event bytes."""
    (small, r1), (large, r4) = runs["default"], runs["default_4x_steps"]
    assert r4["run"]["steps"] >= 4 * r1["run"]["steps"] - 2
    assert _tree_bytes(large, events_only=True) < 1.1 * _tree_bytes(small, events_only=True)
    events, _ = read_events(small / "train")
    assert not [t for t in events if t.startswith("grad/") and t.count("/") == 3]  # no per-step stats
    assert [s for s, _ in events["grad/hidden1/kernel"]] == [24, 48]  # histograms at epoch ends
    assert [s for s, _ in events["grad_epoch/hidden1/kernel/norm_mean"]] == [1, 2]
    # the results file still holds every step's norm
    assert [len(e) for e in r1["gradients"]["step_norms"]["hidden1/kernel"]] == [24, 24]


def test_per_step_scalars_and_histograms_when_asked(runs):
    run_dir, results = runs["every_step"]
    steps = results["run"]["steps"]
    events, _ = read_events(run_dir / "train")
    for stat in ("norm", "mean_abs", "std", "zero_frac"):
        assert [s for s, _ in events[f"grad/hidden2/kernel/{stat}"]] == list(range(1, steps + 1))
    assert [s for s, _ in events["grad/output/bias"]] == list(range(1, steps + 1))
    logged = [float(v) for _, v in events["step/loss"]]
    assert [s for s, _ in events["step/loss"]] == list(range(1, steps + 1))
    flat = [v for epoch in results["step_loss"]["loss"] for v in epoch]
    assert logged == pytest.approx(flat, rel=1e-5)
    norms = [v for epoch in results["gradients"]["step_norms"]["hidden1/kernel"] for v in epoch]
    assert [float(v) for _, v in events["grad/hidden1/kernel/norm"]] == pytest.approx(norms, rel=1e-5)


def test_per_step_scalars_every_k_updates(runs):
    run_dir, results = runs["every_5"]
    steps = results["run"]["steps"]
    events, _ = read_events(run_dir / "train")
    want = list(range(1, steps + 1, 5))  # updates 1, 6, 11, ... across the epochs
    assert [s for s, _ in events["grad/hidden1/kernel/norm"]] == want
    assert [s for s, _ in events["step/loss"]] == want
    assert len(results["step_loss"]["loss"][0]) == 24  # the results file keeps every step
