"""The ``[lab]`` section of an experiment file: what a lab asks, what it claims, how it reports.

A lab is data: one TOML file (``configs/<lab>.toml``: the runs *and* this section) and its
worksheet ``labs/<lab>/LOG.md``. This module validates the section with the same one-line errors
as the rest of the config (file, dotted key, what is allowed), before anything is trained::

    [lab]
    title = "Epochs against width on Fashion-MNIST"
    question = "Does 256-256 beat 128-128 once it gets 10 epochs instead of 3?"
    source = "fashion-tuning-log.txt, experiment 2"   # a write-up in shared/seeds ("" = none)
    runner = "sequential"          # sequential (one run after another) | grid (keras-tuner)

    [[lab.hypotheses]]
    id = "H1"
    statement = "after 10 epochs 256-256 has a higher test accuracy than 128-128"
    metric = "test_accuracy"       # keras_dyn.report.metrics.METRICS
    at = 10                        # an epoch, "last", "last:K", "best_val" or "mean"
    expect = "greater"             # A > B ("greater") or A < B ("less")
    a = { units = 256 }            # selectors over the grid (+ metric parameters, at, label)
    b = { units = 128 }

    [[lab.hypotheses]]             # a bound, checked on every run (no B side, no seed statistics)
    id = "T"
    statement = "the NumPy twin's loss stays within 1e-6 of Keras's over every run"
    metric = "twin_max_loss_rel_diff"
    expect = "below"               # every run that A selects has a value < bound
    bound = 1e-6
    a = {}

    [[lab.claims]]                 # the source's claims, each tested by hypotheses
    claim = "256-256 only pulls ahead with more epochs"
    hypotheses = ["H1"]

    [[lab.findings]]               # findings sections, in order (keras_dyn.report.sections)
    section = "seed_table"
    metrics = ["test_accuracy"]
    at = [3, 5, 10]

A side (``a``/``b``) holds grid keys (of ``[grid]`` or ``[[cases]]``) with one of the plan's values (the runs it selects; a key
left out selects every value), metric parameters (``layer``, ``kind``, ``severity``) that
override the hypothesis's, ``at`` (a reading for that side only) and ``label`` (its name in the
findings). Both sides must select at least one run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from keras_dyn.errors import ConfigError

RUNNERS = ("sequential", "grid")
EXPECTS = ("greater", "less", "below")  # below: every run of side a under `bound`
LAB_KEYS = ("title", "question", "source", "runner", "hypotheses", "claims", "findings", "quick")
HYPOTHESIS_KEYS = ("id", "statement", "metric", "at", "expect", "a", "b", "layer", "kind", "severity", "of",
                   "threshold", "fraction", "bound")
CLAIM_KEYS = ("claim", "hypotheses", "source_value")
SIDE_EXTRA = ("at", "label")
ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,19}$")


@dataclass(frozen=True)
class Side:
    select: dict  # grid key -> value
    params: dict  # metric parameters
    at: object  # Reading
    label: str


@dataclass(frozen=True)
class Hypothesis:
    id: str
    statement: str
    metric: str
    at: object  # Reading
    expect: str
    a: Side
    b: Side | None  # None for expect = "below"
    bound: float | None = None  # expect = "below": every run of side a must read less than this
    absent: str = ""  # a --quick run: why the quick plan cannot test it ("" = it can)

    @property
    def is_bound(self) -> bool:
        return self.expect == "below"


@dataclass(frozen=True)
class Claim:
    claim: str
    hypotheses: tuple
    source_value: str = ""


@dataclass(frozen=True)
class SectionSpec:
    section: str
    params: dict
    absent: str = ""  # a --quick run: why the quick plan cannot show it ("" = it can)


@dataclass(frozen=True)
class LabSpec:
    title: str
    question: str
    source: str = ""
    runner: str = "sequential"
    hypotheses: tuple = ()
    claims: tuple = ()
    findings: tuple = field(default_factory=tuple)
    quick: object = None  # keras_dyn.quick.QuickSpec from [lab.quick], or None (the default plan)


# --------------------------------------------------------------------------- parsing


def parse_lab(source, raw, cfg, *, quick=False) -> LabSpec:
    """Validate a ``[lab]`` table against the experiment ``cfg`` (its grid, epochs, switches).

    ``quick`` relaxes the epoch-range checks (a ``--quick`` run has fewer epochs; readings past
    its last epoch are read at the last one, and the findings say so).
    """
    from keras_dyn.config import _show, _suggest

    if not isinstance(raw, dict):
        raise ConfigError(source, "lab", "must be a table, e.g. [lab]")
    for key in raw:
        if key not in LAB_KEYS:
            raise ConfigError(source, f"lab.{key}", f"unknown key{_suggest(key, LAB_KEYS)}; "
                              f"allowed: {', '.join(LAB_KEYS)}")
    title = _text(source, "lab.title", raw.get("title"), required=True)
    question = _text(source, "lab.question", raw.get("question"), required=True)
    src = _text(source, "lab.source", raw.get("source", ""))
    runner = raw.get("runner", "sequential")
    if runner not in RUNNERS:
        raise ConfigError(source, "lab.runner", f"unknown value {runner!r}"
                          f"{_suggest(runner, RUNNERS)}; allowed: {', '.join(RUNNERS)}")
    if runner == "grid":
        if not cfg.grid and not cfg.cases:
            raise ConfigError(source, "lab.runner", "\"grid\" needs a [grid] section or [[cases]]")
        if cfg.data.validation_split <= 0:
            raise ConfigError(source, "lab.runner", "\"grid\" chooses on validation accuracy and needs "
                              "data.validation_split > 0; use runner = \"sequential\"")
    ctx = _Context(source, cfg, quick)
    quick_spec = None
    if "quick" in raw and not quick:  # a quick version is already the plan [lab.quick] chose
        from keras_dyn.quick import parse_quick

        quick_spec = parse_quick(source, raw["quick"], cfg)
    hyps = tuple(_hypothesis_or_absent(ctx, f"lab.hypotheses[{i}]", h)
                 for i, h in enumerate(_table_list(source, "lab.hypotheses", raw.get("hypotheses", []))))
    ids = [h.id for h in hyps]
    for i, hid in enumerate(ids):
        if hid in ids[:i]:
            raise ConfigError(source, f"lab.hypotheses[{i}].id", f"duplicate id {hid!r}; ids must be distinct")
    claims = tuple(_claim(ctx, f"lab.claims[{i}]", c, ids)
                   for i, c in enumerate(_table_list(source, "lab.claims", raw.get("claims", []))))
    sections = tuple(_section_or_absent(ctx, f"lab.findings[{i}]", s)
                     for i, s in enumerate(_table_list(source, "lab.findings", raw.get("findings", []))))
    return LabSpec(title, question, src, runner, hyps, claims, sections, quick_spec)


def _quick_absent(exc) -> str:
    """Why a hypothesis or section is not in a quick plan: the check that fails on it."""
    return f"{exc.key}: {exc.message}" if exc.key else exc.message


def _hypothesis_or_absent(ctx, dotted, raw) -> Hypothesis:
    """:func:`_hypothesis`; in a ``--quick`` version (whose full config was checked already) one
    that needs runs, epochs or readings the quick plan leaves out is kept as ``absent``."""
    if not ctx.quick:
        return _hypothesis(ctx, dotted, raw)
    try:
        return _hypothesis(ctx, dotted, raw)
    except ConfigError as exc:
        from keras_dyn.report.metrics import Reading

        last = Reading("last")
        return Hypothesis(str(raw.get("id", "?")), str(raw.get("statement", "")), str(raw.get("metric", "")),
                          last, str(raw.get("expect", "greater")), Side({}, {}, last, ""), None,
                          absent=_quick_absent(exc))


def _section_or_absent(ctx, dotted, raw) -> SectionSpec:
    """:func:`_section`; in a ``--quick`` version one the quick plan cannot show is ``absent``."""
    if not ctx.quick:
        return _section(ctx, dotted, raw)
    try:
        spec = _section(ctx, dotted, raw)
    except ConfigError as exc:
        return SectionSpec(str(raw.get("section", "?")), {}, absent=_quick_absent(exc))
    if spec.section == "source_values":  # the source's numbers are at its epochs: none moves
        from keras_dyn.report.metrics import parse_reading

        asked = [parse_reading(v) for v in raw["at"]]
        if asked != spec.params["at"]:
            return SectionSpec(spec.section, {}, absent=f"{dotted}.at: the source's numbers are at "
                               f"{', '.join(r.label for r in asked)}; the quick run stops at epoch "
                               f"{_plan_epochs(ctx)}")
    return spec


def _quick_reading(reading, epochs):
    """A reading clamped to a quick run's ``epochs`` (so it is labelled with the epoch read)."""
    from keras_dyn.report.metrics import Reading

    if reading.kind == "epoch" and reading.epoch > epochs:
        return Reading("epoch", epoch=epochs)
    if reading.kind == "last_k" and reading.k > epochs:
        return Reading("last_k", k=epochs)
    return reading


def _plan_epochs(ctx) -> int:
    return max(ctx.cfg.at_point(p).training.epochs for p in ctx.points)


def _text(source, dotted, value, required=False, limit=2000) -> str:
    from keras_dyn.config import _plain_text, _show

    if value is None or value == "":
        if required:
            raise ConfigError(source, dotted, "missing; a short text is required")
        return ""
    if not isinstance(value, str):
        raise ConfigError(source, dotted, f"must be a string, not {_show(value)}")
    if len(value) > limit:
        raise ConfigError(source, dotted, f"must be a text of at most {limit} characters")
    return _plain_text(source, dotted, value)


def _table_list(source, dotted, value) -> list:
    from keras_dyn.config import _show

    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(source, dotted, f"must be a list of tables ([[{dotted}]] blocks), not {_show(value)}")
    return value


class _Context:
    """What validation needs to know of the experiment."""

    def __init__(self, source, cfg, quick):
        self.source, self.cfg, self.quick = source, cfg, quick
        self.points = cfg.points()

    def error(self, dotted, message):
        return ConfigError(self.source, dotted, message)

    def epochs_of(self, points) -> int:
        return min(self.cfg.at_point(p).training.epochs for p in points)

    def select(self, dotted, selector: dict) -> list[dict]:
        """The points a selector picks; every key one the plan sweeps ([grid] or [[cases]]), every
        value one the plan's points hold."""
        from keras_dyn.config import _suggest

        swept = self.cfg.swept
        for key, value in selector.items():
            if key not in swept:
                allowed = ", ".join(swept) if swept else "none (this experiment has no [grid] or [[cases]])"
                raise self.error(f"{dotted}.{key}", f"not a grid key{_suggest(key, swept)}; grid keys: {allowed}")
            if not any(_same(v, value) for v in swept[key]):
                shown = ", ".join(repr(list(v)) if isinstance(v, tuple) else repr(v) for v in swept[key])
                where = (f"is left out; the quick plan keeps {key} =" if self.quick
                         else f"is not in the grid; grid.{key} holds" if key in self.cfg.grid
                         else f"is in no case; the cases' {key} values are")
                raise self.error(f"{dotted}.{key}", f"{value!r} {where} {shown}")
        points = [p for p in self.points
                  if all(_same(p.get(k), v) for k, v in selector.items())]
        return points


def _same(a, b) -> bool:
    """A grid value (tuples for width lists) equals a selector value (lists from TOML)."""
    if isinstance(a, tuple):
        return isinstance(b, (list, tuple)) and tuple(b) == a
    return a == b


def _reading(ctx, dotted, value, metric, points):
    from keras_dyn.report.metrics import parse_reading

    try:
        reading = parse_reading(value)
    except ValueError as exc:
        raise ctx.error(dotted, str(exc)) from None
    if metric is None or not metric.per_epoch:
        return reading
    epochs = ctx.epochs_of(points)
    if ctx.quick:
        reading = _quick_reading(reading, epochs)
    if reading.kind == "epoch" and reading.epoch > epochs and not ctx.quick:
        raise ctx.error(dotted, f"epoch {reading.epoch} is past the end; the selected runs train {epochs} epochs")
    if reading.kind == "last_k" and reading.k > epochs and not ctx.quick:
        raise ctx.error(dotted, f"last:{reading.k} needs {reading.k} epochs; the selected runs train {epochs}")
    if reading.kind == "best_val" and ctx.cfg.data.validation_split <= 0:
        raise ctx.error(dotted, "\"best_val\" needs a validation split (data.validation_split > 0)")
    every = _every(ctx.cfg, metric.table)
    if every > 1:
        if reading.kind in ("best_val", "last_k", "mean"):
            raise ctx.error(dotted, f"{reading.short.lstrip('@')!r} needs {metric.table} recorded every "
                            f"epoch; it is recorded every {every}")
        if reading.kind == "epoch" and reading.epoch % every and reading.epoch != epochs and not ctx.quick:
            raise ctx.error(dotted, f"{metric.name} is recorded every {every} epochs (and at the last); "
                            f"epoch {reading.epoch} is not one of them")
    return reading


def _every(cfg, table) -> int:
    if table in ("activations", "weights"):
        return cfg.log.every
    if table == "shifts":
        return cfg.probes.shift_every
    return 1


def check_metric(ctx, dotted, name, params, points):
    """The metric exists, takes these parameters, and the runs record it."""
    from keras_dyn.config import _suggest
    from keras_dyn.report.metrics import METRICS, check_param

    if not isinstance(name, str) or name not in METRICS:
        raise ctx.error(dotted, f"unknown metric {name!r}{_suggest(str(name), METRICS)}; allowed: "
                        f"{', '.join(METRICS)}")
    metric = METRICS[name]
    for key, value in params.items():
        try:
            check_param(metric, key, value)
        except ValueError as exc:
            raise ctx.error(dotted.rsplit(".", 1)[0] + f".{key}", str(exc)) from None
    from keras_dyn.report.metrics import OF_DEFAULT

    if name in OF_DEFAULT:  # the per-epoch metric it reads must exist in these runs too
        if "threshold" in params and "fraction" in params:
            raise ctx.error(dotted.rsplit(".", 1)[0], "give threshold or fraction, not both")
        inner = {k: v for k, v in params.items() if k in ("layer", "kind", "severity")}
        check_metric(ctx, dotted.rsplit(".", 1)[0] + ".of", params.get("of", OF_DEFAULT[name]), inner, points)
    if name == "layer_spread":  # its `of` must be recorded in these runs, every epoch
        of = check_metric(ctx, dotted.rsplit(".", 1)[0] + ".of", params.get("of", "grad_norm"), {}, points)
        if _every(ctx.cfg, of.table) > 1:
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
        elif any(cfg.at_point(p).data.label_noise <= 0 for p in points):
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
        layer = params["layer"].split("/")[0]
        if layer.startswith("hidden"):
            depth = min(len(cfg.at_point(p).model.hidden) for p in points)
            if int(layer[6:]) > depth:
                raise ctx.error(dotted.rsplit(".", 1)[0] + ".layer",
                                f"{layer} does not exist; the selected models have {depth} hidden layer(s)")
    return metric


def _hypothesis(ctx, dotted, raw) -> Hypothesis:
    from keras_dyn.config import _show, _suggest
    from keras_dyn.report.metrics import PARAMS

    for key in raw:
        if key not in HYPOTHESIS_KEYS:
            raise ctx.error(f"{dotted}.{key}", f"unknown key{_suggest(key, HYPOTHESIS_KEYS)}; "
                            f"allowed: {', '.join(HYPOTHESIS_KEYS)}")
    hid = raw.get("id")
    if not isinstance(hid, str) or not ID_RE.match(hid):
        raise ctx.error(f"{dotted}.id", f"must be a short name (a letter, then letters, digits, _ or -; "
                        f"at most 20), not {_show(hid)}")
    statement = _text(ctx.source, f"{dotted}.statement", raw.get("statement"), required=True)
    if "metric" not in raw:
        raise ctx.error(f"{dotted}.metric", "missing; name what the hypothesis is about")
    expect = raw.get("expect")
    if expect not in EXPECTS:
        raise ctx.error(f"{dotted}.expect", f"{'missing' if expect is None else f'unknown value {expect!r}'}"
                        f"{_suggest(str(expect), EXPECTS)}; allowed: greater (A > B), less (A < B), "
                        f"below (every run of A < bound)")
    bound = raw.get("bound")
    if expect == "below":
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise ctx.error(f"{dotted}.bound", f"{'missing' if bound is None else f'not a finite number: {_show(bound)}'}"
                            f"; expect = \"below\" needs bound = a number every run must stay under")
        if "b" in raw:
            raise ctx.error(f"{dotted}.b", "expect = \"below\" checks side a against bound; leave b out")
    elif bound is not None:
        raise ctx.error(f"{dotted}.bound", f"only for expect = \"below\" (this hypothesis compares A with B)")
    base_params = {k: raw[k] for k in PARAMS if k in raw}
    sides = []
    for name in (("a",) if expect == "below" else ("a", "b")):
        side_raw = raw.get(name)
        if not isinstance(side_raw, dict):
            raise ctx.error(f"{dotted}.{name}", f"missing or not a table; e.g. {name} = {{ units = 256 }} "
                            f"(grid values, metric parameters, at, label)")
        select = {k: v for k, v in side_raw.items() if k not in PARAMS and k not in SIDE_EXTRA}
        points = ctx.select(f"{dotted}.{name}", select)
        if not points:
            raise ctx.error(f"{dotted}.{name}", "selects no run")
        params = {**base_params, **{k: v for k, v in side_raw.items() if k in PARAMS}}
        metric = check_metric(ctx, f"{dotted}.metric" if not any(k in side_raw for k in PARAMS)
                              else f"{dotted}.{name}.metric", raw["metric"], params, points)
        at_raw = side_raw.get("at", raw.get("at", "last"))
        at = _reading(ctx, f"{dotted}.{name}.at" if "at" in side_raw else f"{dotted}.at", at_raw, metric, points)
        label = side_raw.get("label")
        if label is not None:
            label = _text(ctx.source, f"{dotted}.{name}.label", label, limit=80)
        sides.append(Side(select, params, at, label or ""))
    a, b = sides if len(sides) == 2 else (sides[0], None)
    if b is not None and a.select == b.select and a.params == b.params and a.at == b.at:
        if ctx.quick:
            raise ctx.error(dotted, f"both sides read the same runs at {a.at.label} in the quick plan")
        raise ctx.error(dotted, "sides a and b are the same runs, metric and reading; they must differ")
    at = a.at if "at" not in raw else _reading(ctx, f"{dotted}.at", raw["at"], None, [])
    return Hypothesis(hid, statement, raw["metric"], at, expect, a, b,
                      float(bound) if expect == "below" else None)


def _claim(ctx, dotted, raw, ids) -> Claim:
    from keras_dyn.config import _show, _suggest

    for key in raw:
        if key not in CLAIM_KEYS:
            raise ctx.error(f"{dotted}.{key}", f"unknown key{_suggest(key, CLAIM_KEYS)}; "
                            f"allowed: {', '.join(CLAIM_KEYS)}")
    text = _text(ctx.source, f"{dotted}.claim", raw.get("claim"), required=True)
    hyps = raw.get("hypotheses", [])
    if not isinstance(hyps, list) or not hyps or not all(isinstance(h, str) for h in hyps):
        raise ctx.error(f"{dotted}.hypotheses", f"must be a non-empty list of hypothesis ids, not {_show(hyps)}")
    for h in hyps:
        if h not in ids:
            raise ctx.error(f"{dotted}.hypotheses", f"no hypothesis {h!r}{_suggest(h, ids)}; "
                            f"ids: {', '.join(ids) or 'none'}")
    return Claim(text, tuple(hyps), _text(ctx.source, f"{dotted}.source_value", raw.get("source_value", ""), limit=200))


def _section(ctx, dotted, raw) -> SectionSpec:
    from keras_dyn.config import _show, _suggest
    from keras_dyn.report.sections import SECTIONS

    name = raw.get("section")
    if not isinstance(name, str) or name not in SECTIONS:
        raise ctx.error(f"{dotted}.section", f"unknown section {_show(name)}{_suggest(str(name), SECTIONS)}; "
                        f"allowed: {', '.join(SECTIONS)}")
    spec = SECTIONS[name]
    params = {}
    for key, value in raw.items():
        if key == "section":
            continue
        if key not in spec.params:
            raise ctx.error(f"{dotted}.{key}", f"unknown key{_suggest(key, spec.params)} for section "
                            f"{name!r}; allowed: {', '.join(spec.params) or 'none'}")
        params[key] = check_param_value(ctx, f"{dotted}.{key}", spec.params[key].kind, value)
    for key, param in spec.params.items():
        if key not in params:
            if param.required:
                raise ctx.error(f"{dotted}.{key}", f"missing; section {name!r} needs it ({param.what})")
            params[key] = param.default
    if spec.check is not None:
        try:
            spec.check(ctx, params)
        except ValueError as exc:
            raise ctx.error(dotted, str(exc)) from None
    return SectionSpec(name, params)


# --------------------------------------------------------------------------- parameter kinds


def check_param_value(ctx, dotted, kind, value):
    """Check a section parameter of a given kind; returns the normalised value."""
    from keras_dyn.config import _show, _suggest
    from keras_dyn.report.metrics import METRICS, parse_reading

    def fail(what):
        raise ctx.error(dotted, f"must be {what}, not {_show(value)}")

    if kind == "text":
        return _text(ctx.source, dotted, value)
    if kind == "bool":
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e6:
            fail("a number > 0")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fail("a whole number >= 0")
        return value
    if kind == "metric":
        if not isinstance(value, str) or value not in METRICS:
            raise ctx.error(dotted, f"unknown metric {_show(value)}{_suggest(str(value), METRICS)}; "
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
        return _quick_reading(reading, _plan_epochs(ctx)) if ctx.quick else reading
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
            if v not in ctx.cfg.swept:
                raise ctx.error(dotted, f"{_show(v)} is not a grid key{_suggest(str(v), ctx.cfg.swept)}; grid keys: "
                                f"{', '.join(ctx.cfg.swept) or 'none'}")
        return value
    if kind == "layer":
        from keras_dyn.report.metrics import _LAYER_RE

        if not isinstance(value, str) or not _LAYER_RE.match(value):
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
        from keras_dyn.report.metrics import PARAMS

        if not isinstance(value, dict):
            fail("a table of metric parameters, e.g. { layer = \"hidden1\" }")
        for k in value:
            if k not in PARAMS:
                raise ctx.error(f"{dotted}.{k}", f"unknown metric parameter; allowed: {', '.join(PARAMS)}")
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
