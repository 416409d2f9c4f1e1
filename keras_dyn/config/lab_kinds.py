"""The kinds of hypothesis beyond "A greater / less than B" and "every run below a bound", parsed and
checked at ``check`` with the same one-line errors as the rest of ``[lab]``; also what every kind of
comparison shares: a side (:class:`Side`), ``pool`` and ``margin``.

* ``expect = "argmax"``: the setting ``best`` of the grid key ``over`` has the best mean of all of
  ``over``'s settings (the other keys fixed by ``a``); higher is better unless ``better = "lower"``
  (the default for losses and epoch counts)::

      [[lab.hypotheses]]
      id = "LR"
      statement = "0.001 is the best of the learning rates tried"
      metric = "val_accuracy"
      expect = "argmax"
      over = "learning_rate"
      best = 0.001
      a = { units = 256 }        # fixes the other grid keys (optional)

* ``expect = "increasing"`` / ``"decreasing"``: the metric moves one way as the numeric grid key
  ``over`` grows (at least 3 values); ``margin`` bounds the change from its lowest to its highest
  value that counts as "no trend" (equivalent).

* an interaction, marked by ``by``: with ``expect = "greater"`` or ``"less"``, sides ``a`` and ``b``
  leave out one grid key that ``by`` names with two of its values, and the hypothesis is about
  the difference of differences ``(A − B | by = v1) − (A − B | by = v2)``::

      [[lab.hypotheses]]
      id = "NX"
      statement = "label noise hurts the narrow network more than the wide one"
      metric = "test_accuracy"
      expect = "greater"         # (clean − noisy | 4 units) − (clean − noisy | 32 units) > 0
      a = { label_noise = 0.0 }
      b = { label_noise = 0.3 }
      by = { units = [4, 32] }

The statistics of each are :mod:`keras_dyn.stats.argmax`, :mod:`keras_dyn.stats.trends` and
:mod:`keras_dyn.stats.interaction`.
"""

from __future__ import annotations

from dataclasses import dataclass

from keras_dyn.config.lab_checks import check_metric, check_reading, same_grid_value, text_value
from keras_dyn.config.lab_keys import BETTER, KIND_EXPECTS, SIDE_EXTRA
from keras_dyn.config.names import short, show, suggest
from keras_dyn.report.metrics import METRICS, PARAMS

OVER_KEYS = ("over", "best", "better")  # keys of the kinds over a grid key only
MIN_TREND_LEVELS = 3


@dataclass(frozen=True)
class Side:
    select: dict  # grid key -> value
    params: dict  # metric parameters
    at: object  # Reading
    label: str


def default_better(metric) -> str:
    """Which way is better for an argmax: the metric's own ``better`` ("lower" for losses and
    epoch counts, "higher" otherwise)."""
    return metric.better


def pool_keys(ctx, dotted, raw, expect) -> tuple:
    """``pool``: the grid keys the hypothesis's sides may average over (a list of swept keys)."""
    if "pool" not in raw:
        return ()
    value = raw["pool"]
    if expect == "below":
        raise ctx.error(f"{dotted}.pool", "only for a comparison (expect = \"greater\" or \"less\"); a bound "
                        "reads every run it selects, it averages nothing")
    if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
        raise ctx.error(f"{dotted}.pool", f"must be a non-empty list of grid keys, not {show(value)}")
    swept = ctx.cfg.swept
    for key in value:
        if key not in swept:
            raise ctx.error(f"{dotted}.pool", f"{key!r} is not a grid key{suggest(key, swept)}; grid keys: "
                            f"{', '.join(swept) or 'none'}")
    return tuple(value)


def check_pooled(ctx, dotted, select, points, pool):
    """A side that leaves a swept key out averages over that key's values (per seed): refused
    unless the hypothesis says so with ``pool``, so a deleted key cannot turn an interaction into
    a main effect under the same label."""
    for key in ctx.cfg.swept:
        if key in select or key in pool:
            continue
        values = []
        for point in points:
            if key in point and point[key] not in values:
                values.append(point[key])
        if len(values) > 1:
            shown = ", ".join(short(v) for v in values)
            raise ctx.error(dotted, f"leaves grid key {key!r} out, so it averages over {key} = {shown}; "
                            f"name one value (e.g. {key} = {short(values[0]) if not isinstance(values[0], str) else repr(values[0])}), "
                            f"or add pool = [\"{key}\"] to the hypothesis to say it pools over {key}")


def margin_of(ctx, dotted, raw, expect):
    """The hypothesis's ``margin`` as given (None: the default of its metric's kind)."""
    if "margin" not in raw:
        return None
    if expect in ("below", "argmax"):
        what = "a bound has no margin" if expect == "below" else \
            "an argmax has no equivalence verdict (every setting within the margin of the best is not a claim it makes)"
        raise ctx.error(f"{dotted}.margin", f"only for a comparison or a trend (expect = greater, less, increasing "
                        f"or decreasing); {what}")
    from keras_dyn.stats import check_margin

    try:
        margin = check_margin(raw["margin"])
    except ValueError as exc:
        raise ctx.error(f"{dotted}.margin", str(exc)) from None
    name = raw["metric"]
    metric = METRICS.get(name) if isinstance(name, str) else None  # a bad name is refused below, in one line
    if metric is not None and metric.percent and isinstance(margin, float) and margin >= 1:
        raise ctx.error(f"{dotted}.margin", f"{raw['metric']} is a fraction: give the margin as one "
                        f"(0.01 = 1 point), not {margin:g}")
    return margin


def refuse_kind_keys(ctx, dotted, raw, what):
    """``over``, ``best`` and ``better`` belong to argmax and trends only (``what``: the
    hypothesis's kind, in words)."""
    for key in OVER_KEYS:
        if key in raw:
            raise ctx.error(f"{dotted}.{key}", f"only for expect = \"argmax\", \"increasing\" or \"decreasing\", "
                            f"not {what}")


def is_kind(raw) -> bool:
    """A hypothesis of one of this module's kinds (argmax, a trend, an interaction)."""
    return raw.get("expect") in KIND_EXPECTS or "by" in raw


def kind_fields(ctx, dotted, raw, expect) -> dict:
    """The checked fields of an argmax, trend or interaction hypothesis (keyword arguments of
    :class:`keras_dyn.config.lab.Hypothesis` after id, statement and metric)."""
    if "bound" in raw:
        raise ctx.error(f"{dotted}.bound", "only for expect = \"below\"")
    check_metric(ctx, f"{dotted}.metric", raw["metric"], {}, [])  # a name first: the checks below look it up
    if "by" in raw:
        return _interaction(ctx, dotted, raw, expect)
    if expect is None or expect not in KIND_EXPECTS:  # pragma: no cover - is_kind guarantees it
        raise ctx.error(f"{dotted}.expect", f"must be one of {', '.join(KIND_EXPECTS)}")
    margin = margin_of(ctx, dotted, raw, expect)
    pool = pool_keys(ctx, dotted, raw, expect)
    over = _over(ctx, dotted, raw, expect)
    if "b" in raw:
        raise ctx.error(f"{dotted}.b", f"expect = {expect!r} compares the values of over = {over!r} with each "
                        f"other; leave b out (a fixes the other grid keys)")
    levels = list(ctx.cfg.swept[over])
    side, _ = _side(ctx, dotted, "a", raw, raw.get("a", {}), pool, levels=(over, levels))
    best = None
    if expect == "argmax":
        if "best" not in raw:
            raise ctx.error(f"{dotted}.best", f"missing; name the setting of {over} expected to be best, one of "
                            f"{_values(levels)}")
        best = raw["best"]
        if not any(same_grid_value(v, best) for v in levels):
            raise ctx.error(f"{dotted}.best", f"{best!r} is not among the values of {over}: {_values(levels)}")
        best = next(v for v in levels if same_grid_value(v, best))
    elif "best" in raw:
        raise ctx.error(f"{dotted}.best", "only for expect = \"argmax\"")
    better = raw.get("better", default_better(METRICS[raw["metric"]]))
    if expect != "argmax" and "better" in raw:
        raise ctx.error(f"{dotted}.better", "only for expect = \"argmax\" (a trend says its direction in expect)")
    if better not in BETTER:
        raise ctx.error(f"{dotted}.better", f"unknown value {show(better)}; allowed: higher, lower")
    if expect != "argmax" and METRICS[raw["metric"]].censored:
        raise ctx.error(f"{dotted}.metric", f"{raw['metric']} counts a run that never gets there as never; a "
                        f"trend needs a finite value per run (use argmax, or greater / less)")
    return dict(at=side.at, expect=expect, a=side, b=None, margin=margin, pool=pool, over=over, best=best,
                better=better if expect == "argmax" else "")


def _values(levels) -> str:
    return ", ".join(short(v) for v in levels)


def _over(ctx, dotted, raw, expect) -> str:
    swept = ctx.cfg.swept
    over = raw.get("over")
    if not isinstance(over, str) or over not in swept:
        raise ctx.error(f"{dotted}.over", f"{'missing' if over is None else f'{show(over)} is not a grid key'}"
                        f"{suggest(str(over), swept)}; expect = {expect!r} needs over = a key the plan sweeps; "
                        f"grid keys: {', '.join(swept) or 'none'}")
    levels = swept[over]
    if expect == "argmax" and len(levels) < 2:
        raise ctx.error(f"{dotted}.over", f"{over} takes one value only ({_values(levels)}); an argmax needs two or more")
    if expect != "argmax":
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in levels):
            raise ctx.error(f"{dotted}.over", f"{over} is not numeric ({_values(levels)}); a trend needs a grid key "
                            f"whose values are numbers")
        if len(levels) < MIN_TREND_LEVELS:
            raise ctx.error(f"{dotted}.over", f"{over} takes {len(levels)} value(s) ({_values(levels)}); a trend "
                            f"needs at least {MIN_TREND_LEVELS} (for two, use expect = \"greater\" or \"less\")")
    return over


def _side(ctx, dotted, name, raw, side_raw, pool, levels):
    """One side, checked at every value of ``levels = (key, values)`` (the key fixed by the kind)."""
    if not isinstance(side_raw, dict):
        raise ctx.error(f"{dotted}.{name}", f"must be a table, e.g. {name} = {{ units = 256 }} (grid values, "
                        f"metric parameters, at, label), not {show(side_raw)}")
    key, values = levels
    if key in side_raw:
        raise ctx.error(f"{dotted}.{name}.{key}", f"{key} is the key the hypothesis runs over "
                        f"({'by' if 'by' in raw else 'over'}); leave it out of the side")
    select = {k: v for k, v in side_raw.items() if k not in PARAMS and k not in SIDE_EXTRA}
    ctx.select(f"{dotted}.{name}", select)  # the keys and values exist
    params = {**{k: raw[k] for k in PARAMS if k in raw}, **{k: v for k, v in side_raw.items() if k in PARAMS}}
    all_points = []
    for value in values:
        points = ctx.select(f"{dotted}.{name}", {**select, key: value})
        if not points:
            raise ctx.error(f"{dotted}.{name}", f"selects no run at {key} = {short(value)}")
        check_pooled(ctx, f"{dotted}.{name}", {**select, key: value}, points, pool)
        all_points += points
    at, label = side_reading(ctx, dotted, name, raw, side_raw, params, all_points)
    return Side(select, params, at, label), all_points


def side_reading(ctx, dotted, name, raw, side_raw, params, points) -> tuple:
    """A side's metric (with its parameters) checked on ``points``, its reading ``at`` (the
    side's own or the hypothesis's, default ``last``) and its ``label``: ``(at, label)``."""
    metric = check_metric(ctx, f"{dotted}.metric" if not any(k in side_raw for k in PARAMS)
                          else f"{dotted}.{name}.metric", raw["metric"], params, points)
    at_raw = side_raw.get("at", raw.get("at", "last"))
    at = check_reading(ctx, f"{dotted}.{name}.at" if "at" in side_raw else f"{dotted}.at", at_raw, metric, points)
    label = side_raw.get("label")
    if label is not None:
        label = text_value(ctx.source, f"{dotted}.{name}.label", label, limit=80)
    return at, label or ""


def _interaction(ctx, dotted, raw, expect) -> dict:
    if expect not in ("greater", "less"):
        raise ctx.error(f"{dotted}.by", f"an interaction (by) needs expect = \"greater\" or \"less\" (the sign of "
                        f"(A − B | by = first) − (A − B | by = second)), not {show(expect)}")
    refuse_kind_keys(ctx, dotted, raw, "an interaction (by)")
    by = raw["by"]
    swept = ctx.cfg.swept
    if not isinstance(by, dict) or len(by) != 1:
        raise ctx.error(f"{dotted}.by", f"must be a table of one grid key and two of its values, e.g. "
                        f"by = {{ units = [4, 32] }}, not {show(by)}")
    (key, values), = by.items()
    if key not in swept:
        raise ctx.error(f"{dotted}.by.{key}", f"not a grid key{suggest(key, swept)}; grid keys: "
                        f"{', '.join(swept) or 'none'}")
    if not isinstance(values, list) or len(values) != 2:
        raise ctx.error(f"{dotted}.by.{key}", f"must be a list of two of its values (first, second), not {show(values)}")
    for v in values:
        if not any(same_grid_value(g, v) for g in swept[key]):
            raise ctx.error(f"{dotted}.by.{key}", f"{v!r} is not among the values of {key}: {_values(swept[key])}")
    values = [next(g for g in swept[key] if same_grid_value(g, v)) for v in values]
    if values[0] == values[1]:
        raise ctx.error(f"{dotted}.by.{key}", "the two values must differ")
    if METRICS.get(raw["metric"]) is not None and METRICS[raw["metric"]].censored:
        raise ctx.error(f"{dotted}.metric", f"{raw['metric']} counts a run that never gets there as never; an "
                        f"interaction needs a finite value per run")
    margin = margin_of(ctx, dotted, raw, expect)
    pool = pool_keys(ctx, dotted, raw, expect)
    sides = []
    for name in ("a", "b"):
        if not isinstance(raw.get(name), dict):
            raise ctx.error(f"{dotted}.{name}", f"missing or not a table; e.g. {name} = {{ label_noise = 0.0 }} "
                            f"(the side at each value of by)")
        sides.append(_side(ctx, dotted, name, raw, raw[name], pool, levels=(key, values))[0])
    a, b = sides
    if a.select == b.select and a.params == b.params and a.at == b.at:
        raise ctx.error(dotted, "sides a and b are the same runs, metric and reading; they must differ")
    return dict(at=a.at, expect=expect, a=a, b=b, margin=margin, pool=pool, by=(key, *values))


def kind_name(hyp) -> str:
    """"argmax", "trend", "interaction" or "" (a plain comparison or a bound)."""
    if getattr(hyp, "by", ()):
        return "interaction"
    if hyp.expect == "argmax":
        return "argmax"
    return "trend" if hyp.expect in ("increasing", "decreasing") else ""

