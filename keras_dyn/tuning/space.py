"""The search space as keras-tuner sees it: hyperparameter names (``case``, the grid keys,
``seed``), how grid values are encoded as ``hp.Choice`` values, the plan in trial order, the
tuner folder and the metrics a trial reports."""

from __future__ import annotations

import json
from pathlib import Path

from keras_dyn.config.experiment import ExperimentConfig
from keras_dyn.config.schema import Table

OBJECTIVE = "val_accuracy"


SEED_HP = "seed"


CASE_HP = "case"  # the index of a [[cases]] block (not a grid key: GRID_KEYS has no "case")


FINAL_TAGS = ("val_accuracy", "best_val_accuracy", "test_accuracy", "train_seconds", "params")


def encode(key: str, value):
    """A grid value as a keras-tuner / HParams value (lists become ``"128-128"``; ``init_gain``,
    a number or ``"relu"``, and ``dropout``, a rate or a list of rates such as ``"[0.1, 0.3]"``,
    always text: one Choice holds values of one type; an ``early_stopping`` table as JSON text)."""
    if key == "dropout":
        return json.dumps([float(v) for v in value]) if isinstance(value, (list, tuple)) else str(float(value))
    if key == "early_stopping":  # a table: its JSON text ("{}" = off), sub-keys in the schema's order
        return json.dumps(dict(value))
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    if key == "init_gain":
        return str(value)
    return value


def decode(key: str, value):
    if key == "hidden":
        return tuple(int(v) for v in str(value).split("-"))
    if key == "init_gain":
        return value if value == "relu" else float(value)
    if key == "dropout":
        return tuple(float(v) for v in json.loads(value)) if str(value).startswith("[") else float(value)
    if key == "early_stopping":
        return Table(json.loads(value))
    return value


def plan_of(cfg: ExperimentConfig) -> list[tuple[dict, int]]:
    """Every (grid point, seed) in run order, the same order as ``run_experiment``."""
    return [(point, seed) for point in cfg.points() for seed in cfg.training.seeds]


def hparam_values(point: dict, seed: int) -> dict:
    """The HParams of one trial: the grid values (encoded) and the seed."""
    return {**{k: encode(k, v) for k, v in point.items()}, SEED_HP: seed}


def trial_metrics(results: dict) -> dict:
    """What the oracle records for a trial (``val_accuracy`` is the objective).

    A diverged trial (``[run] status = "diverged"``: its training loss became NaN or infinite)
    is a finished trial like any other: its objective is reported as ``0.0``, a finite number
    keras-tuner accepts (a NaN objective would mark the trial invalid and stop the grid), so
    the trial is recorded COMPLETED, never retried, and never chosen as the best. Its
    accuracies as measured stay in its ``results.toml``; ``diverged`` is 1.0 for it (0.0
    otherwise).
    """
    final = results["final"]
    diverged = results["run"].get("status") == "diverged"
    val = results["epochs"].get("val_accuracy") or [float("nan")]
    return {
        OBJECTIVE: 0.0 if diverged else float(val[-1]),
        "best_val_accuracy": float(final.get("best_val_accuracy", float("nan"))),
        "test_accuracy": float(final.get("test_accuracy", float("nan"))),
        "train_seconds": float(final.get("train_seconds", 0.0)),
        "params": float(results["run"]["params"]),
        "diverged": 1.0 if diverged else 0.0,
    }


TUNER_DIRNAME = "_tuner"


SUPERSEDED = "superseded.json"


def read_superseded(experiment_dir) -> set[str]:
    """Run folder names ``--restart`` superseded for the current search state."""
    try:
        return set(json.loads((Path(experiment_dir) / TUNER_DIRNAME / SUPERSEDED).read_text(
            encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return set()
