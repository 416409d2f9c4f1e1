"""When and how a metric is read: a reading (an epoch, ``last``, ``last:K``, ``best_val``, ``mean``), parameter checks, and :func:`value` / :func:`series`, what the findings call.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from keras_dyn.report.metrics.base import LAYER_RE, PARAMS, Metric, MetricError, best_val_epoch
from keras_dyn.report.metrics.registry import METRICS

_AT_RE = re.compile(r"^last:([1-9][0-9]{0,4})$")


@dataclass(frozen=True)
class Reading:
    """When a metric is read: ``kind`` is ``epoch`` (``epoch`` set), ``last``, ``last_k`` (``k``),
    ``best_val`` or ``mean`` (every recorded epoch)."""

    kind: str
    epoch: int = 0
    k: int = 1

    @property
    def label(self) -> str:
        return {"epoch": f"epoch {self.epoch}", "last": "the last epoch",
                "last_k": f"mean of the last {self.k} epochs",
                "best_val": "the best-validation epoch", "mean": "the mean over every epoch"}[self.kind]

    @property
    def short(self) -> str:
        return {"epoch": f"@{self.epoch}", "last": "@last", "last_k": f"@last {self.k}",
                "best_val": "@best val", "mean": "@mean"}[self.kind]


def parse_reading(value) -> Reading:
    """``10`` / ``"last"`` / ``"last:3"`` / ``"best_val"`` / ``"mean"``; raises ValueError with what
    is allowed."""
    if isinstance(value, bool):
        raise ValueError("must be an epoch number, \"last\", \"last:K\" or \"best_val\"")
    if isinstance(value, str) and value.isdigit():
        value = int(value)  # "5": a list mixing epochs and names must be all strings in TOML files
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"epoch {value} is out of range; epochs are numbered from 1")
        return Reading("epoch", epoch=value)
    if value == "last":
        return Reading("last")
    if value == "best_val":
        return Reading("best_val")
    if value == "mean":
        return Reading("mean")
    if isinstance(value, str):
        m = _AT_RE.match(value)
        if m:
            return Reading("last_k", k=int(m.group(1)))
    raise ValueError(f"unknown reading {value!r}; allowed: an epoch number (1-based), \"last\", "
                     f"\"last:K\" (mean of the last K epochs), \"best_val\" or \"mean\" (mean over "
                     f"every epoch)")


def check_param(metric: Metric, name: str, value):
    """Raise ValueError if ``value`` is not a possible value of parameter ``name``."""
    if name not in metric.params:
        allowed = ", ".join(metric.params) or "none"
        raise ValueError(f"metric {metric.name!r} takes no parameter {name!r}; its parameters: {allowed}")
    if name == "layer":
        if not isinstance(value, str) or not LAYER_RE.match(value):
            raise ValueError(f"unknown layer {value!r}; allowed: hidden1 .. hiddenN, output, first, "
                             f"last (with /kernel or /bias for gradient and weight metrics), mean")
        if value.startswith("mean") and metric.table not in ("activations", "drift"):
            raise ValueError(f"layer \"mean\" is only for activation and drift metrics, not {metric.name!r}")
        if "/" in value and metric.table not in ("gradients", "weights"):
            raise ValueError(f"{metric.name!r} is per layer, not per variable: use {value.split('/')[0]!r}")
    elif name == "severity":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise ValueError(f"severity must be a whole number from 1 to 5, not {value!r}")
    elif name == "kind":
        if not isinstance(value, str):
            raise ValueError(f"kind must be a shift name or \"mean\", not {value!r}")
    elif name == "of":
        if not isinstance(value, str) or value not in METRICS or not METRICS[value].per_epoch:
            raise ValueError(f"`of` must name a per-epoch metric, not {value!r}")
        if metric.name == "layer_spread" and (METRICS[value].table not in ("gradients", "weights")
                                              or "layer" not in METRICS[value].params):
            raise ValueError(f"`of` must name a per-layer gradient or weight metric (e.g. grad_norm, "
                             f"grad_rms, update_ratio, update_rms), not {value!r}")
    elif name in ("threshold", "fraction"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ValueError(f"{name} must be a number in (0, 1], not {value!r}")
    if isinstance(value, str) and not value:
        raise ValueError(f"{name} must not be empty")


def recorded_every(cfg, table) -> int:
    """Epochs between the recordings of a results table in a run of ``cfg`` (1: every epoch)."""
    if table in ("activations", "weights"):
        return cfg.log.every
    if table == "shifts":
        return cfg.probes.shift_every
    if table == "curvature":
        return max(1, getattr(cfg.log, "curvature_every", 1))
    return 1


def series(result, metric: str | Metric, params: dict | None = None):
    """``(epochs, values)`` of a per-epoch metric for one run."""
    m = METRICS[metric] if isinstance(metric, str) else metric
    return m.series(result, params or {})


def value(result, metric: str | Metric, params: dict | None = None,
          at: Reading | None = None) -> float:
    """One run's value of ``metric`` at reading ``at`` (default: the last epoch).

    A diverged run (``[run] status = "diverged"``) reads as NaN unless the reading epoch is one
    it completed before diverging with a finite value; NaN values are left out of means by
    :mod:`keras_dyn.stats` and counted.
    """
    m = METRICS[metric] if isinstance(metric, str) else metric
    params = params or {}
    if not m.per_epoch:
        return m.scalar(result, params)
    at = at or Reading("last")
    epochs, values = m.series(result, params)
    if not values:
        return math.nan
    by_epoch = dict(zip(epochs, values))
    if at.kind == "last":
        if result.get("run", {}).get("status") == "diverged":
            return math.nan
        return values[-1]
    if at.kind == "mean":
        if result.get("run", {}).get("status") == "diverged":
            return math.nan
        return sum(values) / len(values)
    if at.kind == "last_k":
        if result.get("run", {}).get("status") == "diverged":
            return math.nan
        tail = values[-at.k:]
        return sum(tail) / len(tail) if len(tail) == at.k else math.nan
    epoch = at.epoch if at.kind == "epoch" else best_val_epoch(result)
    if epoch not in by_epoch:
        if result.get("run", {}).get("status") == "diverged":
            return math.nan
        raise MetricError(f"{m.name} was not recorded at epoch {epoch} (recorded: "
                          f"{', '.join(map(str, epochs[:12]))}{' …' if len(epochs) > 12 else ''})")
    return by_epoch[epoch]


def describe(metric: str, params: dict | None = None) -> str:
    """``grad_norm (hidden1/kernel)`` — a metric with its parameters, for tables and verdicts."""
    taken = METRICS[metric].params if metric in METRICS else PARAMS
    params = {k: v for k, v in (params or {}).items() if k in PARAMS and k in taken}
    if not params:
        return metric
    def show(k, v):
        if k == "severity":
            return f"s{v}"
        if k in ("of", "threshold", "fraction"):
            return f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}"
        return str(v)
    return f"{metric} ({', '.join(show(k, v) for k, v in params.items())})"
