"""What a metric is (:class:`Metric`), the error when one cannot be read, and the low-level access to a run's results tables that every reader shares.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

CHANCE_KEY = "num_classes"  # in results [run]; chance accuracy is 1 / num_classes

#: metrics that count epochs (default margin: one epoch)
EPOCH_COUNTS = ("first_epoch", "first_epoch_of_best", "best_val_epoch", "twin_lockstep_epochs", "stopped_epoch",
                "restored_epoch")

#: metrics where +inf means a threshold was never reached (censored, compared by rank)
CENSORED = ("first_epoch", "cpu_seconds_to", "steps_to")


@dataclass(frozen=True)
class Metric:
    """One measurable quantity.

    Args:
        name: the name a TOML file uses.
        what: one line for the documentation and the findings.
        table: the results table it needs (``epochs``, ``gradients``, ``activations``, ``weights``,
            ``noisy_labels``, ``shifts``, ``drift``, ``run``).
        params: parameter names it takes (``layer``, ``kind``, ``severity``).
        per_epoch: read at an epoch (``at``); False for run-level numbers.
        percent: shown in percent (accuracies and fractions).
        needs: the config switch that must be on for it to exist (for the config check).
    """

    name: str
    what: str
    table: str
    params: tuple = ()
    per_epoch: bool = True
    percent: bool = False
    needs: str = ""
    series: object = field(default=None, repr=False, compare=False)  # (result, params) -> (epochs, values)
    scalar: object = field(default=None, repr=False, compare=False)  # (result, params) -> value

    @property
    def kind(self) -> str:
        """What kind of number it is, for its default margin (:data:`keras_dyn.stats.MARGIN_DEFAULTS`):
        "percent" (accuracies, fractions), "loss", "epochs" (epoch counts) or "ratio" (norms,
        ratios, times, counts: everything else).

        Example:
            >>> Metric("test_loss", "", "epochs").kind, Metric("first_epoch", "", "run").kind
            ('loss', 'epochs')
        """
        if self.percent:
            return "percent"
        if self.name.endswith("_loss"):
            return "loss"
        if self.name in EPOCH_COUNTS:
            return "epochs"
        return "ratio"

    @property
    def better(self) -> str:
        """Which way is better: "lower" for losses and epoch counts (its :attr:`kind`), "higher"
        otherwise (accuracies, fractions, everything else). The one definition: an argmax
        hypothesis's default ``better`` and ``first_epoch_of_best``'s "best" both read it.

        Example:
            >>> Metric("val_loss", "", "epochs").better, Metric("val_accuracy", "", "epochs", percent=True).better
            ('lower', 'higher')
        """
        return "lower" if self.kind in ("loss", "epochs") else "higher"

    @property
    def censored(self) -> bool:
        """True when +inf means "never reached" (a threshold metric): compared by rank, shown as
        "never within N epochs" (:mod:`keras_dyn.stats`)."""
        return self.name in CENSORED


class MetricError(ValueError):
    """A metric cannot be read from a results file (a bug or a mismatched results file)."""


def to_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def epochs_table(result, key):
    ep = result.get("epochs", {})
    values = [to_float(v) for v in ep.get(key, [])]
    epochs = [int(e) for e in ep.get("epoch", range(1, len(values) + 1))][: len(values)]
    return epochs, values


def hidden_layers(result) -> list[str]:
    return [f"hidden{i}" for i in range(1, len(result["run"].get("hidden", [])) + 1)]


def resolve_layer(result, layer: str, *, variable: bool) -> str:
    """``first``/``last`` and a missing ``/kernel`` resolved for this run's model."""
    name, _, part = (layer or "first").partition("/")
    if name == "first":
        name = "hidden1"
    elif name == "last":
        name = "output"
    if variable:
        return f"{name}/{part or 'kernel'}"
    return name


def table_series(table, *path):
    def read(result, params):
        t = result.get(table)
        if not t:
            raise MetricError(f"the run has no [{table}] table")
        node = t
        for p in path:
            p = p(result, params) if callable(p) else p
            if p not in node:
                raise MetricError(f"[{table}] has no {p!r}")
            node = node[p]
        values = [to_float(v) for v in node]
        return [int(e) for e in t["epoch"]][: len(values)], values
    return read


PARAMS = ("layer", "kind", "severity", "of", "threshold", "fraction")


#: the per-epoch metric read by a metric that takes ``of``, when ``of`` is left out
OF_DEFAULT = {"first_epoch": "train_accuracy", "cpu_seconds_to": "train_accuracy", "steps_to": "train_accuracy", "first_epoch_of_best": "val_accuracy", "volatility": "train_loss"}


LAYER_RE = re.compile(r"^(hidden[1-9][0-9]{0,2}|output|first|last|mean)(/(kernel|bias))?$")


def best_val_epoch(result) -> int:
    """The first epoch with the highest finite validation accuracy."""
    epochs, val = epochs_table(result, "val_accuracy")
    finite = [(v, -e) for e, v in zip(epochs, val) if math.isfinite(v)]
    if not finite:
        raise MetricError("no finite validation accuracy to choose the best-validation epoch on")
    return -max(finite)[1]
