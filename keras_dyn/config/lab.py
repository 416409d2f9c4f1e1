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
    margin = 0.01                  # smallest difference that matters (here 1 point); "10%" is
                                   # relative; left out: the default of the metric's kind
                                   # (keras_dyn.stats: 1 point, 0.01 loss, 1 epoch, "10%")

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
    tested_as = "weaker"           # stated | weaker | related | untested (then hypotheses = [])
    why = "H1 compares 10 epochs only; the source's 'only' needs 3 epochs too"   # unless stated

    [[lab.findings]]               # findings sections, in order (keras_dyn.report.sections)
    section = "seed_table"
    metrics = ["test_accuracy"]
    at = [3, 5, 10]

A side (``a``/``b``) holds grid keys (of ``[grid]`` or ``[[cases]]``) with one of the plan's values (the runs it selects; a key
left out selects every value), metric parameters (``layer``, ``kind``, ``severity``) that
override the hypothesis's, ``at`` (a reading for that side only) and ``label`` (its name in the
findings). Both sides must select at least one run.

Three more kinds (:mod:`keras_dyn.config.lab_kinds`): ``expect = "argmax"`` (``over`` a grid key,
``best`` its value expected best), ``expect = "increasing"`` / ``"decreasing"`` (a trend over a
numeric grid key ``over``) and an interaction (``by = { key = [v1, v2] }`` beside greater / less).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from keras_dyn.config.lab_checks import (LabContext, check_layer, check_metric, check_param_value, check_read,
                                         check_reading, plan_epochs, text_value)
from keras_dyn.config.lab_claims import Claim, parse_claim  # noqa: F401  (Claim: importable from here too)
from keras_dyn.config.lab_keys import EXPECTS, HYPOTHESIS_KEYS, LAB_KEYS, RUNNERS, SIDE_EXTRA
from keras_dyn.config.lab_kinds import (Side, check_pooled, is_kind, kind_fields, kind_name, margin_of, pool_keys,
                                        refuse_kind_keys, side_reading)
from keras_dyn.config.names import show, suggest
from keras_dyn.config.quick import parse_quick
from keras_dyn.errors import Collector, ConfigError
from keras_dyn.report.metrics import METRICS, PARAMS
from keras_dyn.report.metrics.readings import Reading, parse_reading
from keras_dyn.report.sections import SECTIONS

ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,19}$")


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
    margin: float | str | None = None  # smallest difference that matters; None: the metric kind's default
    pool: tuple = ()  # grid keys a side may average over (left out of its selector on purpose)
    over: str = ""  # argmax / trend: the grid key compared (keras_dyn.config.lab_kinds)
    best: object = None  # argmax: the value of `over` expected best
    better: str = ""  # argmax: "higher" or "lower"
    by: tuple = ()  # interaction: (grid key, first value, second value)

    @property
    def is_bound(self) -> bool:
        return self.expect == "below"

    @property
    def kind(self) -> str:
        """"argmax", "trend", "interaction", or "" for a comparison of A with B or a bound."""
        return kind_name(self)


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
    quick: object = None  # keras_dyn.config.quick.QuickSpec from [lab.quick], or None (the default plan)


def parse_lab(source, raw, cfg, *, quick=False) -> LabSpec | None:
    """Validate a ``[lab]`` table against the experiment ``cfg`` (its grid, epochs, switches).

    ``quick`` relaxes the epoch-range checks (a ``--quick`` run has fewer epochs; readings past
    its last epoch are read at the last one, and the findings say so). The lab's own keys are
    each checked and reported; of the hypotheses, claims and findings sections, which read the
    plan, the first error. ``cfg`` None (the rest of the file has errors): only what does not
    depend on the experiment is checked; returns None.
    """

    if not isinstance(raw, dict):
        raise ConfigError(source, "lab", "must be a table, e.g. [lab]")
    col = Collector()
    for key in raw:
        if key not in LAB_KEYS:
            col.add(ConfigError(source, f"lab.{key}", f"unknown key{suggest(key, LAB_KEYS)}; "
                                f"allowed: {', '.join(LAB_KEYS)}"))
    title = col.attempt(text_value, source, "lab.title", raw.get("title"), required=True)
    question = col.attempt(text_value, source, "lab.question", raw.get("question"), required=True)
    src = col.attempt(text_value, source, "lab.source", raw.get("source", ""))
    runner = raw.get("runner", "sequential")
    col.attempt(_check_runner, source, runner, None)
    if cfg is None:
        col.raise_all()
        return None
    blocks = col.attempt(_blocks, LabContext(source, cfg, quick), raw, runner)
    col.raise_all()
    return LabSpec(title, question, src, runner, *blocks)


def _blocks(ctx, raw, runner) -> tuple:
    """``(hypotheses, claims, findings, quick)`` and the runner against the plan, stopping at the
    first error among them: they all read the plan, so one wrong value there (a grid list, the
    epochs, a switch) would break many at once."""
    if runner in RUNNERS:  # (an unknown one is reported already)
        _check_runner(ctx.source, runner, ctx.cfg)
    quick_spec = None
    if "quick" in raw and not ctx.quick:  # a quick version is already the plan [lab.quick] chose
        quick_spec = parse_quick(ctx.source, raw["quick"], ctx.cfg)
    source = ctx.source
    hyps = tuple(_hypothesis_or_absent(ctx, f"lab.hypotheses[{i}]", h)
                 for i, h in enumerate(_table_list(source, "lab.hypotheses", raw.get("hypotheses", []))))
    ids = [h.id for h in hyps]
    for i, hid in enumerate(ids):
        if hid in ids[:i]:
            raise ConfigError(source, f"lab.hypotheses[{i}].id", f"duplicate id {hid!r}; ids must be distinct")
    claims = tuple(parse_claim(ctx, f"lab.claims[{i}]", c, ids)
                   for i, c in enumerate(_table_list(source, "lab.claims", raw.get("claims", []))))
    sections = tuple(_section_or_absent(ctx, f"lab.findings[{i}]", s)
                     for i, s in enumerate(_table_list(source, "lab.findings", raw.get("findings", []))))
    return hyps, claims, sections, quick_spec


def _check_runner(source, runner, cfg):
    if runner not in RUNNERS:
        raise ConfigError(source, "lab.runner", f"unknown value {runner!r}"
                          f"{suggest(runner, RUNNERS)}; allowed: {', '.join(RUNNERS)}")
    if runner == "grid" and cfg is not None:
        if not cfg.grid and not cfg.cases:
            raise ConfigError(source, "lab.runner", "\"grid\" needs a [grid] section or [[cases]]")
        if cfg.data.validation_split <= 0:
            raise ConfigError(source, "lab.runner", "\"grid\" chooses on validation accuracy and needs "
                              "data.validation_split > 0; use runner = \"sequential\"")


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
        asked = [parse_reading(v) for v in raw["at"]]
        if asked != spec.params["at"]:
            return SectionSpec(spec.section, {}, absent=f"{dotted}.at: the source's numbers are at "
                               f"{', '.join(r.label for r in asked)}; the quick run stops at epoch "
                               f"{plan_epochs(ctx)}")
    return spec


def _table_list(source, dotted, value) -> list:

    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(source, dotted, f"must be a list of tables ([[{dotted}]] blocks), not {show(value)}")
    return value


def _hypothesis(ctx, dotted, raw) -> Hypothesis:

    for key in raw:
        if key not in HYPOTHESIS_KEYS:
            raise ctx.error(f"{dotted}.{key}", f"unknown key{suggest(key, HYPOTHESIS_KEYS)}; "
                            f"allowed: {', '.join(HYPOTHESIS_KEYS)}")
    hid = raw.get("id")
    if not isinstance(hid, str) or not ID_RE.match(hid):
        raise ctx.error(f"{dotted}.id", f"must be a short name (a letter, then letters, digits, _ or -; "
                        f"at most 20), not {show(hid)}")
    statement = text_value(ctx.source, f"{dotted}.statement", raw.get("statement"), required=True)
    if "metric" not in raw:
        raise ctx.error(f"{dotted}.metric", "missing; name what the hypothesis is about")
    expect = raw.get("expect")
    if expect not in EXPECTS:
        raise ctx.error(f"{dotted}.expect", f"{'missing' if expect is None else f'unknown value {expect!r}'}"
                        f"{suggest(str(expect), EXPECTS)}; allowed: greater (A > B), less (A < B), "
                        f"below (every run of A < bound), argmax, increasing, decreasing (over a grid key)")
    if is_kind(raw):
        return Hypothesis(hid, statement, raw["metric"], **kind_fields(ctx, dotted, raw, expect))
    refuse_kind_keys(ctx, dotted, raw, f"expect = {expect!r}")
    bound = raw.get("bound")
    if expect == "below":
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise ctx.error(f"{dotted}.bound", f"{'missing' if bound is None else f'not a finite number: {show(bound)}'}"
                            f"; expect = \"below\" needs bound = a number every run must stay under")
        if "b" in raw:
            raise ctx.error(f"{dotted}.b", "expect = \"below\" checks side a against bound; leave b out")
    elif bound is not None:
        raise ctx.error(f"{dotted}.bound", "only for expect = \"below\" (this hypothesis compares A with B)")
    margin = margin_of(ctx, dotted, raw, expect)
    pool = pool_keys(ctx, dotted, raw, expect)
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
        at, label = side_reading(ctx, dotted, name, raw, side_raw, params, points)
        if expect != "below":
            check_pooled(ctx, f"{dotted}.{name}", select, points, pool)
        sides.append(Side(select, params, at, label))
    a, b = sides if len(sides) == 2 else (sides[0], None)
    if b is not None and a.select == b.select and a.params == b.params and a.at == b.at:
        if ctx.quick:
            raise ctx.error(dotted, f"both sides read the same runs at {a.at.label} in the quick plan")
        raise ctx.error(dotted, "sides a and b are the same runs, metric and reading; they must differ")
    at = a.at if "at" not in raw else check_reading(ctx, f"{dotted}.at", raw["at"], None, [])
    return Hypothesis(hid, statement, raw["metric"], at, expect, a, b,
                      float(bound) if expect == "below" else None, margin=margin, pool=pool)




def _section(ctx, dotted, raw) -> SectionSpec:

    name = raw.get("section")
    if not isinstance(name, str) or name not in SECTIONS:
        raise ctx.error(f"{dotted}.section", f"unknown section {show(name)}{suggest(str(name), SECTIONS)}; "
                        f"allowed: {', '.join(SECTIONS)}")
    try:
        return _section_params(ctx, dotted, name, raw)
    except ConfigError as exc:  # name the section in every problem with its parameters
        if f"section {name!r}" in exc.message:
            raise
        raise ctx.error(exc.key, f"{exc.message} (section {name!r})") from None


def _section_params(ctx, dotted, name, raw) -> SectionSpec:
    spec = SECTIONS[name]
    params = {}
    for key, value in raw.items():
        if key == "section":
            continue
        if key not in spec.params:
            raise ctx.error(f"{dotted}.{key}", f"unknown key{suggest(key, spec.params)} for section "
                            f"{name!r}; allowed: {', '.join(spec.params) or 'none'}")
        params[key] = check_param_value(ctx, f"{dotted}.{key}", spec.params[key].kind, value, spec.params[key])
    for key, param in spec.params.items():
        if key not in params:
            if param.required:
                raise ctx.error(f"{dotted}.{key}", f"missing; section {name!r} needs it ({param.what})")
            params[key] = param.default
    points = ctx.select(f"{dotted}.select", params["select"]) if params.get("select") else ctx.points
    metrics = _section_metrics(params)
    if params.get("params"):  # metric parameters: each taken by a metric the section reads, valid for it
        for key in params["params"]:
            if not any(key in METRICS[m].params for m in metrics):
                raise ctx.error(f"{dotted}.params.{key}", f"none of the section's metrics "
                                f"({', '.join(metrics) or 'none'}) takes {key!r}")
        for m in metrics:
            taken = {k: v for k, v in params["params"].items() if k in METRICS[m].params}
            if taken:
                check_metric(ctx, f"{dotted}.params.metric", m, taken, points)
    if spec.params.get("layer") is not None and spec.params["layer"].kind == "layer":
        check_layer(ctx, f"{dotted}.layer", params["layer"], points)
    for key, param in spec.params.items():  # readings past the last epoch (or not recorded there)
        if not param.reads_epochs or params[key] is None:
            continue
        if ctx.quick:  # its full version was checked; here an epoch past the last is read (and headed) at it
            params[key] = _quick_readings(ctx, params[key], points)
        readings = params[key] if isinstance(params[key], list) else [params[key]]
        for m in [METRICS[m] for m in metrics if METRICS[m].per_epoch] or [METRICS["train_loss"]]:
            for reading in readings:
                check_read(ctx, f"{dotted}.{key}", reading, m, points)
    if spec.check is not None:
        try:
            spec.check(ctx, params)
        except ValueError as exc:
            raise ctx.error(dotted, str(exc)) from None
    return SectionSpec(name, params)


def _quick_readings(ctx, value, points):
    """A ``--quick`` version's readings: an epoch past the last one its runs train becomes that last
    epoch, so a findings column is headed with the epoch actually read (one column per reading
    still, as source_values pairs each with a number)."""
    last = max(ctx.at_point(p).training.epochs for p in points) if points else ctx.cfg.training.epochs
    readings = value if isinstance(value, list) else [value]
    out = []
    for r in readings:
        out.append(type(r)("epoch", epoch=last) if r.kind == "epoch" and r.epoch > last else r)
    return out if isinstance(value, list) else out[0]


def _section_metrics(params) -> list[str]:
    """The metrics a section's parameters name (``metrics``, ``metric``, ``of``)."""
    out = list(params.get("metrics") or [])
    for key in ("metric", "of"):
        if isinstance(params.get(key), str):
            out.append(params[key])
    return [m for m in out if m in METRICS]
