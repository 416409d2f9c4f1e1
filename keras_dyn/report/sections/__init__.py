"""Findings sections: the registry a lab's ``[[lab.findings]]`` blocks name.

A section is a small function ``render(ctx, **params) -> str`` (markdown; figures written through
``ctx.figure(name)``) from the runs' results, where ``ctx`` is a
:class:`keras_dyn.report.findings.FindingsContext`. None hard-codes a grid key: grouping is by the
keys the TOML names (``by``), or by every grid key. This module holds only the registry (names,
parameters, what each does) so that the config check can validate ``[[lab.findings]]`` without
importing matplotlib; the functions are imported when a section is rendered.

Adding a section: write the function (in one of the modules here, or a new one), add a
:class:`Section` row below, and a test in ``tests/test_sections.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module


@dataclass(frozen=True)
class Param:
    """A section parameter: its kind (see :func:`keras_dyn.lab_spec.check_param_value`)."""

    kind: str
    default: object = None
    required: bool = False
    what: str = ""


@dataclass(frozen=True)
class Section:
    name: str
    what: str
    target: str  # "module:function" under keras_dyn.report.sections
    params: dict = field(default_factory=dict)
    check: object = None  # optional (ctx, params) -> None, raises ValueError

    def render(self):
        module, function = self.target.split(":")
        return getattr(import_module(f"keras_dyn.report.sections.{module}"), function)


_BY = Param("grid_keys", None, what="grid keys to group by (default: every grid key)")
_PARAMS = Param("params", {}, what="metric parameters, e.g. { layer = \"hidden1\" }")

_LIST = [
    Section("seed_table", "mean ± sd over seeds per group, for metrics at readings, with time and parameters",
            "tables:seed_table", {
                "metrics": Param("metrics", ["test_accuracy"]),
                "at": Param("readings", None, what="readings (default: the last epoch)"),
                "by": _BY, "params": _PARAMS,
                "time": Param("bool", True, what="CPU seconds and steps per second to the reading"),
                "parameters": Param("bool", True, what="a parameter-count column"),
                "title": Param("text", ""),
            }),
    Section("curves", "a metric per epoch, one line per group, mean over seeds with a ±1 sd band",
            "figures:curves", {
                "metric": Param("metric", "test_accuracy"), "by": _BY, "params": _PARAMS,
                "title": Param("text", ""), "log_y": Param("bool", False),
            }),
    Section("runs", "every run with its seed, metrics at readings, status and results file (folded)",
            "tables:runs", {
                "metrics": Param("metrics", ["test_accuracy"]),
                "at": Param("readings", None), "params": _PARAMS,
            }),
    Section("source_values", "the source write-up's numbers beside this lab's, per cell",
            "tables:source_values", {
                "text": Param("text", "", what="where the numbers come from"),
                "metric": Param("metric", "test_accuracy"),
                "at": Param("readings", None, required=True),
                "values": Param("values", None, required=True, what="cell label = [one number per reading]"),
                "by": _BY,
            }),
    Section("heatmap", "a metric over two grid keys as a heatmap (mean over seeds, sd under it)",
            "figures:heatmap", {
                "x": Param("grid_key", None, required=True), "y": Param("grid_key", None, required=True),
                "metrics": Param("metrics", ["val_accuracy", "test_accuracy"]),
                "at": Param("reading", None), "title": Param("text", ""),
            }),
    Section("ranking", "grid cells ranked by mean validation accuracy (what a grid search chooses), test beside it",
            "tables:ranking", {
                "columns": Param("strings", [], what="extra columns: steps_per_epoch, params_per_point"),
                "by": _BY,
            }),
    Section("pairwise", "every group against a baseline group on one metric, with verdicts and a chance count",
            "tables:pairwise", {
                "metric": Param("metric", "test_accuracy"), "at": Param("reading", None),
                "baseline": Param("selector", None, required=True), "by": _BY, "params": _PARAMS,
                "expect": Param("text", "", what="greater / less (the direction every group is tested for)"),
            }),
    Section("balanced", "balanced cells (two grid keys equal) against unbalanced ones, on one metric",
            "tables:balanced", {
                "keys": Param("grid_keys", None, required=True),
                "metric": Param("metric", "val_accuracy"), "at": Param("reading", None),
            }),
]
SECTIONS: dict[str, Section] = {s.name: s for s in _LIST}


def register(section: Section) -> None:
    """Add a section (e.g. from a module beside a lab that really needs its own)."""
    SECTIONS[section.name] = section
