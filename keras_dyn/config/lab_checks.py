"""What the ``[lab]`` check asks of one value: a text, a reading, a metric with its parameters (and that the runs record it), a findings-section parameter of a declared kind. :class:`LabContext` carries what these checks need to know of the experiment (its plan, its epochs) and turns a problem into a one-line :class:`~keras_dyn.errors.ConfigError`.
"""

from __future__ import annotations

import math

from keras_dyn.config.names import plain_text, same_value, show, suggest
from keras_dyn.errors import ConfigError
from keras_dyn.report.metrics import (LAYER_RE, METRICS, OF_DEFAULT, PARAMS, check_param, parse_reading,
                                      recorded_every)
from keras_dyn.report.metrics.readings import Reading


def text_value(source, dotted, value, required=False, limit=2000) -> str:

    if value is None or value == "":
        if required:
            raise ConfigError(source, dotted, "missing; a short text is required")
        return ""
    if not isinstance(value, str):
        raise ConfigError(source, dotted, f"must be a string, not {show(value)}")
    if len(value) > limit:
        raise ConfigError(source, dotted, f"must be a text of at most {limit} characters")
    return plain_text(source, dotted, value)


class LabContext:
    """What validation needs to know of the experiment."""

    def __init__(self, source, cfg, quick):
        self.source, self.cfg, self.quick = source, cfg, quick
        self.points = cfg.points()
        self._runs = {}

    def at_point(self, point):
        """``cfg.at_point(point)``, once per point (the checks ask for the same points often)."""
        key = repr(point)
        if key not in self._runs:
            self._runs[key] = self.cfg.at_point(point)
        return self._runs[key]

    def error(self, dotted, message):
        return ConfigError(self.source, dotted, message)

    def epochs_of(self, points) -> int:
        return min(self.at_point(p).training.epochs for p in points)

    def select(self, dotted, selector: dict) -> list[dict]:
        """The points a selector picks; every key one the plan sweeps ([grid] or [[cases]]), every
        value one the plan's points hold."""

        swept = self.cfg.swept
        for key, value in selector.items():
            if key not in swept:
                allowed = ", ".join(swept) if swept else "none (this experiment has no [grid] or [[cases]])"
                raise self.error(f"{dotted}.{key}", f"not a grid key{suggest(key, swept)}; grid keys: {allowed}")
            if not any(same_grid_value(v, value) for v in swept[key]):
                shown = ", ".join(repr(list(v)) if isinstance(v, tuple) else repr(v) for v in swept[key])
                where = (f"is left out; the quick plan keeps {key} =" if self.quick
                         else f"is not in the grid; grid.{key} holds" if key in self.cfg.grid
                         else f"is in no case; the cases' {key} values are")
                raise self.error(f"{dotted}.{key}", f"{value!r} {where} {shown}")
        points = [p for p in self.points
                  if all(same_grid_value(p.get(k), v) for k, v in selector.items())]
        return points


def same_grid_value(a, b) -> bool:
    """A grid value (tuples for width lists) equals a selector value (lists from TOML)."""
    if isinstance(a, tuple):
        return isinstance(b, (list, tuple)) and tuple(b) == a
    if isinstance(a, dict) or isinstance(b, dict):  # an early-stopping table, sub-keys left out at defaults
        return same_value(a, b)
    return a == b


def check_reading(ctx, dotted, value, metric, points):

    try:
        reading = parse_reading(value)
    except ValueError as exc:
        raise ctx.error(dotted, str(exc)) from None
    return check_read(ctx, dotted, reading, metric, points)


def check_read(ctx, dotted, reading, metric, points):
    """A parsed reading of ``metric`` on ``points``: within their epochs (a ``--quick`` version
    is not held to it: its full version was), on a recorded epoch, a validation split for
    ``best_val``."""

    if metric is None or not metric.per_epoch:
        return reading
    epochs = ctx.epochs_of(points)
    if ctx.quick:
        reading = quick_reading(reading, epochs)
    if reading.kind == "epoch" and reading.epoch > epochs and not ctx.quick:
        raise ctx.error(dotted, f"epoch {reading.epoch} is past the end; the selected runs train {epochs} epochs")
    if reading.kind == "last_k" and reading.k > epochs and not ctx.quick:
        raise ctx.error(dotted, f"last:{reading.k} needs {reading.k} epochs; the selected runs train {epochs}")
    if reading.kind == "best_val" and ctx.cfg.data.validation_split <= 0:
        raise ctx.error(dotted, "\"best_val\" needs a validation split (data.validation_split > 0)")
    every = recorded_every(ctx.cfg, metric.table)
    if every > 1:
        if reading.kind in ("best_val", "last_k", "mean"):
            raise ctx.error(dotted, f"{reading.short.lstrip('@')!r} needs {metric.table} recorded every "
                            f"epoch; it is recorded every {every}")
        if reading.kind == "epoch" and reading.epoch % every and reading.epoch != epochs and not ctx.quick:
            raise ctx.error(dotted, f"{metric.name} is recorded every {every} epochs (and at the last); "
                            f"epoch {reading.epoch} is not one of them")
    return reading


def check_metric(ctx, dotted, name, params, points):
    """The metric exists, takes these parameters, and the runs record it."""

    if not isinstance(name, str) or name not in METRICS:
        raise ctx.error(dotted, f"unknown metric {name!r}{suggest(str(name), METRICS)}; allowed: "
                        f"{', '.join(METRICS)}")
    metric = METRICS[name]
    for key, value in params.items():
        try:
            check_param(metric, key, value)
        except ValueError as exc:
            raise ctx.error(dotted.rsplit(".", 1)[0] + f".{key}", str(exc)) from None

    if name in OF_DEFAULT:  # the per-epoch metric it reads must exist in these runs too
        if "threshold" in params and "fraction" in params:
            raise ctx.error(dotted.rsplit(".", 1)[0], "give threshold or fraction, not both")
        inner = {k: v for k, v in params.items() if k in ("layer", "kind", "severity")}
        check_metric(ctx, dotted.rsplit(".", 1)[0] + ".of", params.get("of", OF_DEFAULT[name]), inner, points)
    if name == "layer_spread":  # its `of` must be recorded in these runs, every epoch
        of = check_metric(ctx, dotted.rsplit(".", 1)[0] + ".of", params.get("of", "grad_norm"), {}, points)
        if recorded_every(ctx.cfg, of.table) > 1:
            raise ctx.error(dotted.rsplit(".", 1)[0] + ".of", f"layer_spread of {of.name} needs {of.table} "
                            f"recorded every epoch (log.every = 1)")
    cfg = ctx.cfg
    need = metric.needs
    missing = None
    if need == "validation" and cfg.data.validation_split <= 0:
        missing = "data.validation_split > 0"
    elif need in ("gradients", "activations", "weights") and not getattr(cfg.log, need):
        missing = f"log.{need} = true"
    elif need == "noisy_labels":
        if not cfg.probes.noisy_labels:
            missing = "probes.noisy_labels = true"
        elif any(ctx.at_point(p).data.label_noise <= 0 for p in points):
            missing = "data.label_noise > 0 for every run it reads (a run without noise has no noisy-label table)"
    elif need == "shifts":
        if not cfg.probes.shifts:
            missing = "probes.shifts (a non-empty list)"
        elif cfg.data.dataset not in ("mnist", "fashion_mnist"):
            missing = "an image data set (shifts apply to images)"
    elif need == "drift" and not cfg.probes.drift:
        missing = "probes.drift = true"
    elif need == "numpy_twin" and not cfg.probes.numpy_twin:
        missing = "probes.numpy_twin = true"
    elif need == "step_loss" and not cfg.log.step_loss:
        missing = "log.step_loss = true"
    elif need == "per_example_groups":
        if not cfg.log.per_example_every:
            missing = "log.per_example_every > 0"
        elif any(ctx.at_point(p).data.label_noise <= 0 for p in points):
            missing = "data.label_noise > 0 for every run it reads (the groups are clean / corrupted labels)"
    elif need in ("per_example_every", "curvature_every") and not getattr(cfg.log, need):
        missing = f"log.{need} > 0"
    if missing:
        raise ctx.error(dotted, f"metric {name!r} needs {missing}")
    if need == "shifts":
        kind = params.get("kind", "mean")
        if kind != "mean" and kind not in cfg.probes.shifts:
            raise ctx.error(dotted.rsplit(".", 1)[0] + ".kind", f"{kind!r} is not among probes.shifts "
                            f"({', '.join(cfg.probes.shifts)}) or \"mean\"")
        sev = params.get("severity")
        if sev is not None and sev not in cfg.probes.shift_severities:
            raise ctx.error(dotted.rsplit(".", 1)[0] + ".severity", f"{sev} is not among "
                            f"probes.shift_severities ({', '.join(map(str, cfg.probes.shift_severities))})")
    if "layer" in params:
        check_layer(ctx, dotted.rsplit(".", 1)[0] + ".layer", params["layer"], points)
    return metric


def check_layer(ctx, dotted, layer, points):
    """A layer name (already of the right form) that exists in every model of ``points``."""

    name = layer.split("/")[0]
    if name.startswith("hidden") and points:
        depth = min(len(ctx.at_point(p).model.hidden) for p in points)
        if int(name[6:]) > depth:
            names = ", ".join([f"hidden{i}" for i in range(1, depth + 1)] + ["output"])
            raise ctx.error(dotted, f"{name} does not exist; the selected models have {depth} hidden "
                            f"layer(s): {names} (or first, last)")


def check_param_value(ctx, dotted, kind, value, param=None):
    """Check a section parameter of a given kind (and, given its declaration ``param``, its
    allowed values or range); returns the normalised value."""

    def fail(what):
        raise ctx.error(dotted, f"must be {what}, not {show(value)}")

    checked = _check_kind(ctx, dotted, kind, value, fail)
    if param is not None and param.choices:
        key = dotted.rsplit(".", 1)[-1]
        allowed = ", ".join(repr(c) if c == "" else c for c in param.choices)
        for v in (checked if isinstance(checked, list) else [checked]):
            if v not in param.choices:
                hint = suggest(str(v), param.choices)
                if isinstance(checked, list):  # figures = [...] -> "unknown figure 'x'"
                    raise ctx.error(dotted, f"unknown {key.rstrip('s')} {v!r}{hint}; allowed: {allowed}")
                raise ctx.error(dotted, f"{key} must be one of {allowed}, not {v!r}{hint}")
    if param is not None and param.range is not None and isinstance(checked, (int, float)):
        low, high = param.range
        if not low < checked <= high:
            fail(f"a number in ({low:g}, {high:g}]")
    return checked


def _is_name(value) -> bool:
    return isinstance(value, str)


def _check_kind(ctx, dotted, kind, value, fail):

    if kind == "text":
        return text_value(ctx.source, dotted, value)
    if kind == "bool":
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if kind == "number":
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or not 0 < value < 1e6):
            fail("a number > 0 and < 1e6")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fail("a whole number >= 0")
        return value
    if kind == "metric":
        if not isinstance(value, str) or value not in METRICS:
            raise ctx.error(dotted, f"unknown metric {show(value)}{suggest(str(value), METRICS)}; "
                            f"allowed: {', '.join(METRICS)}")
        check_metric(ctx, dotted, value, {}, ctx.points)
        return value
    if kind == "metrics":
        if not isinstance(value, list) or not value:
            fail("a non-empty list of metric names")
        return [check_param_value(ctx, dotted, "metric", v) for v in value]
    if kind == "reading":
        try:
            reading = parse_reading(value)
        except ValueError as exc:
            raise ctx.error(dotted, str(exc)) from None
        return quick_reading(reading, plan_epochs(ctx)) if ctx.quick else reading
    if kind == "readings":
        if not isinstance(value, list) or not value:
            fail("a non-empty list of readings (epochs, \"last\", \"last:K\", \"best_val\", \"mean\")")
        readings = [check_param_value(ctx, dotted, "reading", v) for v in value]
        return list(dict.fromkeys(readings)) if ctx.quick else readings  # clamped ones may repeat
    if kind in ("grid_key", "grid_keys"):
        values = value if kind == "grid_keys" else [value]
        if not isinstance(values, list) or (kind == "grid_keys" and not values):
            fail("a list of grid keys")
        for v in values:
            if not _is_name(v) or v not in ctx.cfg.swept:
                raise ctx.error(dotted, f"{show(v)} is not a grid key{suggest(str(v), ctx.cfg.swept)}; grid keys: "
                                f"{', '.join(ctx.cfg.swept) or 'none'}")
        return value
    if kind == "layer":

        if not isinstance(value, str) or not LAYER_RE.match(value):
            fail("a layer name (hidden1 .. hiddenN, output, first, last, optionally /kernel or /bias)")
        return value
    if kind == "strings":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail("a list of strings")
        return value
    if kind == "selector":
        if not isinstance(value, dict):
            fail("a table of grid values, e.g. { label_noise = 0.4 }")
        if not ctx.select(dotted, value):
            raise ctx.error(dotted, "selects no run")
        return value
    if kind == "values":  # label -> list of numbers
        if not isinstance(value, dict) or not all(
                isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                for v in value.values()):
            fail("a table of label = [numbers]")
        return value
    if kind == "params":  # metric parameters table

        if not isinstance(value, dict):
            fail("a table of metric parameters, e.g. { layer = \"hidden1\" }")
        for k in value:
            if k not in PARAMS:
                raise ctx.error(f"{dotted}.{k}", f"unknown metric parameter{suggest(k, PARAMS)}; "
                                f"allowed: {', '.join(PARAMS)}")
        return value
    if kind == "fraction":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            fail("a number in (0, 1]")
        return float(value)
    if kind == "params_list":  # one metric parameters table, or a list of them
        tables = value if isinstance(value, list) else [value]
        if not tables or not all(isinstance(t, dict) for t in tables):
            fail("a table of metric parameters or a list of them, e.g. [{ threshold = 0.5 }, "
                 "{ threshold = 0.9 }]")
        return [check_param_value(ctx, f"{dotted}[{i}]" if isinstance(value, list) else dotted, "params", t)
                for i, t in enumerate(tables)]
    raise AssertionError(f"unknown parameter kind {kind}")  # pragma: no cover


def quick_reading(reading, epochs):
    """A reading clamped to a quick run's ``epochs`` (so it is labelled with the epoch read)."""
    if reading.kind == "epoch" and reading.epoch > epochs:
        return Reading("epoch", epoch=epochs)
    if reading.kind == "last_k" and reading.k > epochs:
        return Reading("last_k", k=epochs)
    return reading


def plan_epochs(ctx) -> int:
    """The most epochs any run of the plan trains."""
    return max(ctx.cfg.at_point(p).training.epochs for p in ctx.points)
