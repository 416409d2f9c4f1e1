"""Findings sections: the registry a lab's ``[[lab.findings]]`` blocks name.

A section is a small function ``render(ctx, **params) -> str`` (markdown; figures written through
``ctx.figure(name)``) from the runs' results, where ``ctx`` is a
:class:`keras_dyn.report.context.FindingsContext`. None hard-codes a grid key: grouping is by the
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
    """A section parameter: its kind (see :func:`keras_dyn.config.lab_checks.check_param_value`),
    default, whether it is required, what it is, and the values allowed: ``choices`` (the only
    values a text may take) or ``range`` (``(low, high)``: low < value <= high for numbers).
    A parameter of kind ``reading`` or ``readings`` reads at epochs (:attr:`reads_epochs`): the
    check refuses an epoch past the last one the runs train."""

    kind: str
    default: object = None
    required: bool = False
    what: str = ""
    choices: tuple = ()
    range: tuple | None = None

    @property
    def reads_epochs(self) -> bool:
        return self.kind in ("reading", "readings")


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


_RUN_FIGURES = ("gradient_flow", "step_norms", "gradient_histograms", "dead_units")
_PARTS = ("kernel", "bias", "all")


def _check_sweep(ctx, params):
    values = ctx.cfg.swept.get(params["x"], ())
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"x = {params['x']!r} must be a grid key with numbers, not {list(values)}")
    if params.get("log_x") and any(v <= 0 for v in values):
        raise ValueError(f"log_x = true needs every {params['x']} value > 0, not {list(values)}")


def _check_expect(params):
    if params.get("expect", "") not in ("", "greater", "less"):
        raise ValueError(f"expect must be \"greater\", \"less\" or \"\", not {params['expect']!r}")


def _check_part(params):
    if params.get("part", "kernel") not in _PARTS:
        raise ValueError(f"part must be one of {', '.join(_PARTS)}, not {params['part']!r}")


def _check_per_layer(metric):
    from keras_dyn.report.metrics import METRICS

    m = METRICS[metric]
    if "layer" not in m.params or m.table not in ("gradients", "weights", "activations", "drift"):
        raise ValueError(f"metric {metric!r} is not per layer; use a gradient, weight, activation or drift metric")


def _check_readings_recorded(ctx, params, metrics):
    """Readings of a metric recorded only every k epochs must fall on recorded epochs."""
    from keras_dyn.report.metrics import METRICS, recorded_every

    for metric in metrics:
        every = recorded_every(ctx.cfg, METRICS[metric].table)
        if every <= 1:
            continue
        for r in params.get("at") or []:
            if r.kind in ("best_val", "last_k", "mean"):
                raise ValueError(f"reading {r.short.lstrip('@')!r} needs {METRICS[metric].table} recorded "
                                 f"every epoch; it is recorded every {every}")
            if r.kind == "epoch" and r.epoch % every and r.epoch != ctx.cfg.training.epochs and not ctx.quick:
                raise ValueError(f"{metric} is recorded every {every} epochs (and at the last); epoch "
                                 f"{r.epoch} is not one of them")


def _check_layer_table(ctx, params):
    _check_expect(params)
    _check_part(params)
    for metric in params["metrics"]:
        _check_per_layer(metric)
    if (params.get("a") is None) != (params.get("b") is None):
        raise ValueError("give both a and b (a verdict per layer, A against B), or neither")
    if params.get("bias_vs_kernel"):
        from keras_dyn.report.metrics import METRICS

        if METRICS[params["metrics"][0]].table not in ("gradients", "weights"):
            raise ValueError("bias_vs_kernel needs a gradient or weight metric first in metrics")
        if params.get("a") is not None:
            raise ValueError("give a/b or bias_vs_kernel, not both")
    _check_readings_recorded(ctx, params, params["metrics"])


def _check_layer_metric(ctx, params):
    _check_part(params)
    _check_per_layer(params["metric"])
    _check_readings_recorded(ctx, params, [params["metric"]])


def _check_gradient_vs_update(ctx, params):
    from keras_dyn.report.metrics import METRICS

    metrics = params.get("metrics") or ["grad_rms", "update_rms", "update_ratio"]
    if len(metrics) < 2:
        raise ValueError("metrics: give at least two (the first is the baseline the others are compared with)")
    for metric in metrics:
        if METRICS[metric].table not in ("gradients", "weights") or "layer" not in METRICS[metric].params:
            raise ValueError(f"metric {metric!r} is not a per-layer gradient or weight metric")
        if not getattr(ctx.cfg.log, METRICS[metric].table):
            raise ValueError(f"metric {metric!r} needs log.{METRICS[metric].table} = true")
    if any(METRICS[m].table == "weights" for m in metrics) and ctx.cfg.log.every > 1:
        raise ValueError("weight metrics here need log.every = 1 (their spread is read every epoch)")
    _check_readings_recorded(ctx, params, metrics)


def _check_run_figures(ctx, params):
    for name in params["figures"]:
        if name not in _RUN_FIGURES:
            raise ValueError(f"unknown figure {name!r}; allowed: {', '.join(_RUN_FIGURES)}")
    if not (ctx.cfg.log.gradients or ctx.cfg.log.activations):
        raise ValueError("run_figures needs log.gradients or log.activations = true")


def _check_variance(ctx, params):
    if not ctx.cfg.log.gradients:
        raise ValueError("variance_decomposition needs log.gradients = true")
    if params["layer"] == "mean":
        raise ValueError("layer must be one layer or variable, not \"mean\"")


def _check_noisy_labels(ctx, params):
    from keras_dyn.report.metrics import METRICS, check_param

    cfg = ctx.cfg
    if not cfg.probes.noisy_labels:
        raise ValueError("noisy_labels needs probes.noisy_labels = true")
    if not any(cfg.at_point(p).data.label_noise > 0 for p in ctx.points):
        raise ValueError("noisy_labels needs data.label_noise > 0 for at least one run")
    memorise = params.get("memorise") or [{}]
    for target in memorise if isinstance(memorise, list) else [memorise]:
        for key, value in target.items():
            if key not in ("threshold", "fraction"):
                raise ValueError(f"memorise takes threshold or fraction, not {key!r}")
            check_param(METRICS["first_epoch"], key, value)
        if len(target) > 1:
            raise ValueError("memorise: give threshold or fraction, not both")
    for r in params.get("at") or []:
        if r.kind == "best_val" and cfg.data.validation_split <= 0:
            raise ValueError("\"best_val\" needs a validation split (data.validation_split > 0)")


def _check_shift_table(ctx, params):
    from keras_dyn.report.metrics import METRICS

    _check_expect(params)
    if METRICS[params["metric"]].table != "shifts" or "kind" not in METRICS[params["metric"]].params:
        raise ValueError(f"metric must be a per-cell shift metric (shift_accuracy, shift_drop, shift_kept, "
                         f"shift_kept_above_chance), not {params['metric']!r}")
    if not ctx.cfg.probes.shifts:
        raise ValueError("shift_table needs probes.shifts (a non-empty list)")
    _check_readings_recorded(ctx, params, ["shift_accuracy"])


def _check_fit_table(ctx, params):
    from keras_dyn.report.metrics import METRICS

    if not METRICS[params["of"]].per_epoch or not METRICS[params["of"]].percent:
        raise ValueError(f"of must be a per-epoch accuracy (e.g. train_accuracy), not {params['of']!r}")


def _check_source_values(ctx, params):
    import math

    for label, numbers in params["values"].items():
        if len(numbers) != len(params["at"]):
            raise ValueError(f"values.{label!r} has {len(numbers)} number(s); give one per reading in at "
                             f"({len(params['at'])})")
        if not all(math.isfinite(v) for v in numbers):
            raise ValueError(f"values.{label!r} must hold finite numbers, not {numbers}")


def _check_hlines(ctx, params):
    import math

    for label, ys in (params.get("hlines") or {}).items():
        if not ys or not all(math.isfinite(y) for y in ys):
            raise ValueError(f"hlines.{label!r} must hold one or more finite numbers, not {ys}")


def _check_twin(ctx, params):
    if not ctx.cfg.probes.numpy_twin:
        raise ValueError("numpy_twin needs probes.numpy_twin = true")


def _check_surface(ctx, params):
    if not ctx.cfg.probes.decision_grid:
        raise ValueError("decision_boundaries needs probes.decision_grid > 0")


def _check_step_loss(ctx, params):
    if not ctx.cfg.log.step_loss:
        raise ValueError("step_loss_curves needs log.step_loss = true")


_PART = Param("text", "kernel", what="kernel | bias | all (gradient and weight metrics)", choices=_PARTS)
_DIRECTIONS = ("greater", "less", "")
_BY = Param("grid_keys", None, what="grid keys to group by (default: every grid key)")
_SELECT = Param("selector", None, what="only these runs")
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
                "hlines": Param("values", None, what="reference lines: label = [y, ...] in the metric's units"),
            }, check=_check_hlines),
    Section("sweep", "metrics at a reading against a numeric grid key (depth, width, ...), one line per group "
            "of the other keys, mean over seeds with a ±1 sd band and a dot per seed",
            "figures:sweep", {
                "x": Param("grid_key", None, required=True),
                "metrics": Param("metrics", ["test_accuracy"]),
                "at": Param("reading", None, what="a reading (default: the last epoch)"),
                "by": _BY, "params": _PARAMS,
                "title": Param("text", ""), "log_y": Param("bool", False),
                "log_x": Param("bool", False, what="a log-scaled x axis (e.g. learning rates; every x value > 0)"),
            }, check=_check_sweep),
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
                "by": _BY, "params": _PARAMS,
            }, check=_check_source_values),
    Section("heatmap", "a metric over two grid keys as a heatmap (mean over seeds, sd under it)",
            "figures:heatmap", {
                "x": Param("grid_key", None, required=True), "y": Param("grid_key", None, required=True),
                "metrics": Param("metrics", ["val_accuracy", "test_accuracy"]),
                "at": Param("reading", None), "title": Param("text", ""),
            }),
    Section("ranking", "grid cells ranked by mean validation accuracy (what a grid search chooses), test beside it",
            "tables:ranking", {
                "columns": Param("strings", [], what="extra columns: steps_per_epoch, params_per_point",
                             choices=("steps_per_epoch", "params_per_point")),
                "by": _BY, "title": Param("text", "", what="the heading (default: What the grid search chooses)"),
            }),
    Section("pairwise", "every group against a baseline group on one metric, with verdicts and a chance count",
            "tables:pairwise", {
                "metric": Param("metric", "test_accuracy"), "at": Param("reading", None),
                "baseline": Param("selector", None, required=True), "by": _BY, "params": _PARAMS,
                "expect": Param("text", "", what="greater / less (the direction every group is tested for)",
                                choices=_DIRECTIONS),
            }),
    Section("balanced", "balanced cells (two grid keys equal) against unbalanced ones, on one metric",
            "tables:balanced", {
                "keys": Param("grid_keys", None, required=True),
                "metric": Param("metric", "val_accuracy"), "at": Param("reading", None),
            }),
    # ---- diagnostics (keras_dyn/report/sections/layers.py, updates.py)
    Section("layer_table", "a per-layer (per-variable) table of metrics at readings, per group; a verdict per "
            "layer between two sides (a, b) or between each layer's bias and kernel, with the chance count",
            "layers:layer_table", {
                "metrics": Param("metrics", None, required=True, what="per-layer metrics (they take `layer`)"),
                "at": Param("readings", None, what="readings (default: the last epoch)"),
                "by": _BY, "select": _SELECT,
                "part": _PART,
                "a": Param("selector", None, what="side A: a verdict per layer, A against B"),
                "b": Param("selector", None, what="side B"),
                "expect": Param("text", "", what="greater / less: the direction tested (A vs B, or bias vs kernel)",
                                choices=_DIRECTIONS),
                "bias_vs_kernel": Param("bool", False, what="compare each layer's bias with its kernel"),
                "title": Param("text", ""),
            }, check=_check_layer_table),
    Section("layer_curves", "a per-layer metric over epochs: one panel per group, one line per layer, mean "
            "over seeds with a ±1 sd band (gradient flow, dead units, drift, update ratios)",
            "layers:layer_curves", {
                "metric": Param("metric", None, required=True), "by": _BY, "select": _SELECT, "part": _PART,
                "log_y": Param("bool", False), "title": Param("text", ""),
            }, check=_check_layer_metric),
    Section("layer_profile", "a per-layer metric against layer position at readings, one line per group "
            "(the depth profile), mean over seeds with a ±1 sd band",
            "layers:layer_profile", {
                "metric": Param("metric", None, required=True),
                "at": Param("readings", None, what="one panel per reading (default: the last epoch)"),
                "by": _BY, "select": _SELECT,
                "part": _PART,
                "log_y": Param("bool", True), "title": Param("text", ""),
            }, check=_check_layer_metric),
    Section("run_figures", "single-run diagnostic figures of the lowest seed among the selected runs: "
            "gradient flow, every step's norm, gradient histograms over time, dead units",
            "layers:run_figures", {
                "select": Param("selector", None, what="which runs (default: all); the lowest seed is drawn"),
                "figures": Param("strings", list(_RUN_FIGURES), what=", ".join(_RUN_FIGURES), choices=_RUN_FIGURES),
                "title": Param("text", ""),
            }, check=_check_run_figures),
    Section("variance_decomposition", "a layer's gradient-norm mean, sd, variance and cv for two sides, "
            "each compared, and var = cv² × mean² splitting the variance ratio into size and relative spread",
            "updates:variance_decomposition", {
                "a": Param("selector", None, required=True), "b": Param("selector", None, required=True),
                "layer": Param("layer", "first", what="a layer or variable (default: the first kernel)"),
                "at": Param("readings", None, what="readings (default: the last epoch)"),
                "by": _BY, "title": Param("text", ""),
            }, check=_check_variance),
    # ---- probes (keras_dyn/report/sections/probes.py)
    Section("noisy_labels", "per group: accuracy on the labels trained on and on test; on the corrupted "
            "examples, memorised and true-label accuracy, epochs to memorise; the memorisation signature "
            "and the curves", "probes:noisy_labels", {
                "by": _BY,
                "at": Param("readings", None, what="readings (default: best_val and last)"),
                "memorise": Param("params_list", [{}], what="first_epoch parameters for 'epochs to memorise', "
                                  "e.g. { threshold = 0.5 } (default) or { fraction = 0.9 }, or a list "
                                  "of them, one column each: [{ threshold = 0.5 }, { threshold = 0.9 }]"),
                "title": Param("text", ""),
            }, check=_check_noisy_labels),
    Section("shift_table", "accuracy per shift and severity for two sides, with the fraction of unshifted "
            "and of above-chance accuracy kept, a comparison per cell, the chance count, the mean over "
            "all shifts, and bars", "probes:shift_table", {
                "a": Param("selector", None, required=True), "b": Param("selector", None, required=True),
                "at": Param("readings", None, what="one table per reading (default: the last epoch)"),
                "metric": Param("metric", "shift_kept", what="compared per cell (a shift metric)"),
                "expect": Param("text", "less", what="greater / less / \"\" (no direction)", choices=_DIRECTIONS),
                "by": _BY, "figure": Param("bool", True), "title": Param("text", ""),
            }, check=_check_shift_table),
    Section("fit_table", "per group: accuracy on the labels trained on and on test, test minus chance, and "
            "the epochs and CPU seconds to fit the training labels to a threshold (Zhang et al.'s table 1 shape)",
            "tables:fit_table", {
                "threshold": Param("fraction", 0.95, what="training accuracy counted as fitted, in (0, 1]", range=(0, 1)),
                "of": Param("metric", "train_accuracy", what="the per-epoch accuracy that must reach it"),
                "at": Param("reading", None, what="reading of the accuracies (default: the last epoch)"),
                "by": _BY, "title": Param("text", ""),
            }, check=_check_fit_table),
    # ---- schedules (keras_dyn/report/sections/figures.py)
    Section("schedule", "the learning-rate schedule per group (the rate in force at each epoch's end, log "
            "scale) beside a metric's curve over the same epochs", "figures:schedule", {
                "metric": Param("metric", "val_accuracy"), "by": _BY,
                "select": _SELECT, "params": _PARAMS,
                "title": Param("text", ""),
            }),
    Section("gradient_vs_update", "the raw gradient beside the step the optimiser took, per layer: each "
            "per-layer metric relative to the output kernel (table and figure), the spread across layers, "
            "and whether the steps are more uniform across layers than the gradients",
            "updates:gradient_vs_update", {
                "metrics": Param("metrics", ["grad_rms", "update_rms", "update_ratio"],
                                 what="per-layer gradient or weight metrics; the first is the baseline"),
                "at": Param("readings", None, what="readings (the table: the last; the figure: each)"),
                "by": _BY, "select": _SELECT,
                "log_y": Param("bool", True), "title": Param("text", ""),
            }, check=_check_gradient_vs_update),
    # ---- two engines and 2-D data (twin.py, surfaces.py)
    Section("numpy_twin", "Keras against keras_dyn's NumPy MLP trained from the same weights on the same "
            "batches: the largest loss, step-loss and weight differences per group, one verdict against a "
            "stated tolerance (every epoch of every twin run), loss curves of both engines",
            "twin:numpy_twin", {
                "tolerance": Param("number", 1e-3, what="largest relative training-loss difference allowed",
                                   range=(0, 1e6)),
                "by": _BY, "title": Param("text", ""),
            }, check=_check_twin),
    Section("decision_boundaries", "a panel per grid cell (rows × cols grid keys, lowest seed): the model's "
            "output on the input plane at the last epoch, its 0.5 contour and the test points",
            "surfaces:decision_boundaries", {
                "rows": Param("grid_key", None), "cols": Param("grid_key", None),
                "select": _SELECT, "title": Param("text", ""),
            }, check=_check_surface),
    Section("step_loss_curves", "every step's training loss, raw, one panel per value of `rows`, one line "
            "per group (lowest seed)", "surfaces:step_loss_curves", {
                "rows": Param("grid_key", None), "by": _BY,
                "select": _SELECT, "title": Param("text", ""),
            }, check=_check_step_loss),
]
SECTIONS: dict[str, Section] = {s.name: s for s in _LIST}


def register(section: Section) -> None:
    """Add a section (e.g. from a module beside a lab that really needs its own)."""
    SECTIONS[section.name] = section
