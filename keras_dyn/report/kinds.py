"""The verdicts of the hypothesis kinds over a grid key and of interactions (argmax, increasing /
decreasing, ``by``; :mod:`keras_dyn.config.lab_kinds`): their values read per seed through the
:class:`~keras_dyn.report.context.FindingsContext`, their tests in :mod:`keras_dyn.stats`, and the
verdict line, the row of "what these seeds can resolve" and the row of :attr:`Findings.verdicts`
for each. :mod:`keras_dyn.report.findings` judges them in the lab's Holm family with the rest.
"""

from __future__ import annotations

import math

from keras_dyn import stats
from keras_dyn.config.names import short
from keras_dyn.report import metrics as M
from keras_dyn.report.context import per_seed
from keras_dyn.stats.text import p_text, seeds_text


def _cell(ctx, hyp, side, key, value):
    runs = ctx.select({**side.select, key: value})
    return per_seed(*ctx.values(runs, hyp.metric, side.params, side.at))


def _name(side, fallback, other=None) -> str:
    """A side's label, else its selector (only the keys where it differs from ``other``)."""
    if side.label:
        return side.label
    keys = [k for k, v in side.select.items() if other is None or other.select.get(k, object()) != v]
    return ", ".join(f"{k}={short(side.select[k])}" for k in keys) or fallback


def kind_verdict(ctx, hyp):
    """``(result, A's name, B's name)`` of an argmax, trend or interaction hypothesis, unadjusted."""
    metric = M.METRICS[hyp.metric]
    if hyp.kind == "interaction":
        key, first, second = hyp.by
        cells = [_cell(ctx, hyp, side, key, value) for value in (first, second) for side in (hyp.a, hyp.b)]
        a, b = _name(hyp.a, "A", hyp.b), _name(hyp.b, "B", hyp.a)
        res = stats.interaction(cells, expect=hyp.expect, margin=_margin(hyp))
        return res, f"({a} − {b} | {key}={short(first)})", f"({a} − {b} | {key}={short(second)})"
    levels = list(ctx.cfg.swept[hyp.over])
    by_level = {v: _cell(ctx, hyp, hyp.a, hyp.over, v) for v in levels}
    if hyp.kind == "argmax":
        res = stats.argmax_test(by_level, hyp.best, higher=hyp.better != "lower", censored=metric.censored)
        return res, f"{hyp.over}={short(hyp.best)}", f"{hyp.over}={short(res.runner_up)}"
    res = stats.trend_test(by_level, hyp.expect, margin=_margin(hyp))
    return res, f"{hyp.over}={short(res.levels[-1])}", f"{hyp.over}={short(res.levels[0])}"


def _margin(hyp):
    return hyp.margin if hyp.margin is not None else stats.default_margin(M.METRICS[hyp.metric].kind)


def _num(ctx, metric, x, sign="") -> str:
    scale, unit = ctx.scale_unit(metric)
    return f"{x * scale:{sign}.3g}{unit}" if math.isfinite(x) else "n/a"


def _ci(ctx, metric, lo, hi) -> str:
    scale, unit = ctx.scale_unit(metric)
    return f"95% CI {lo * scale:+.3g} to {hi * scale:+.3g}{unit}" if math.isfinite(lo) else "no CI"


def _where(hyp) -> str:
    fixed = ", ".join(f"{k}={short(v)}" for k, v in hyp.a.select.items())
    return f"; the other keys: {fixed}" if fixed else ""


def _family(res) -> str:
    return f", Holm-adjusted over {res.family} hypotheses {p_text(res.p_adj)}" if res.family > 1 else ""


def kind_line(ctx, hyp, res, a_name, b_name, margin_text="") -> str:
    """The verdict line (the hypothesis, what was read, the test with its CI and MDE, the verdict)."""
    metric = M.describe(hyp.metric, hyp.a.params)
    head = f"- **{hyp.id}** — {hyp.statement}  \n  Metric: `{metric}` at {hyp.a.at.label}"
    if hyp.kind == "interaction":
        direction = ">" if hyp.expect == "greater" else "<"
        body = (f"; A = {_name(hyp.a, 'A')}, B = {_name(hyp.b, 'B')}; by {hyp.by[0]} = {short(hyp.by[1])} "
                f"and {short(hyp.by[2])}: {a_name} = {ctx.fmt(res.a, hyp.metric)}, {b_name} = "
                f"{ctx.fmt(res.b, hyp.metric)} (per-seed differences); expected the first {direction} the second "
                f"(an interaction); margin {margin_text}. {ctx.sentence(res, a_name, b_name, hyp.metric)}")
    elif hyp.kind == "argmax":
        body = _argmax_body(ctx, hyp, res)
    else:
        body = _trend_body(ctx, hyp, res, margin_text)
    return f"{head}{body}  \n  **Verdict: {res.verdict}.**"


def _means(ctx, hyp, res) -> str:
    return ", ".join(f"{short(v)}: {ctx.fmt(s, hyp.metric)}" for v, s in
                     (res.summaries.items() if isinstance(res.summaries, dict) else zip(res.levels, res.summaries)))


def _argmax_body(ctx, hyp, res) -> str:
    word = "higher" if res.higher else "lower"
    k = len(res.pairs)
    parts = []
    for other in res.pairs:
        c = res.pair(other)
        if c.rank_test or c.test in ("single seed", "no data"):
            what = f"{_num(ctx, hyp.metric, c.diff, '+')} ({c.test}, {c.n_seeds} seeds)"
        else:
            how = f"paired over {c.n_pairs} seeds" if c.paired else f"{c.a.n} and {c.b.n} seeds, unpaired"
            mde = f", MDE {_num(ctx, hyp.metric, c.mde)}" if c.se > 0 and math.isfinite(c.mde) else ""
            what = f"{_num(ctx, hyp.metric, c.diff, '+')} ({_ci(ctx, hyp.metric, c.ci_low, c.ci_high)}, {how}{mde})"
        parts.append(f"vs {short(other)}: {what}, one-sided {p_text(res.p_support[other])} "
                     f"that {short(res.best)} is {word}")
    text = (f" over {hyp.over} ({word} is better{_where(hyp)}): {_means(ctx, hyp, res)}; expected best: "
            f"{hyp.over} = {short(res.best)}. {short(res.best)} against each other setting ({k} pair(s), one-sided "
            f"p; every pair must reject, so none is adjusted): {'; '.join(parts)}. ")
    if res.sign < 0:
        better = [short(v) for v in res.pairs if res.p_refute[v] < res.alpha]
        text += (f"The hypothesis's {p_text(res.p)} (the smallest that another setting is {word}){_family(res)}: "
                 f"**{res.verdict}**")
        if res.verdict == "refuted":
            return text + f" ({', '.join(better)} beyond noise {word} than {short(res.best)})."
    else:
        text += f"The hypothesis's {p_text(res.p)} (the largest of the pairs){_family(res)}: **{res.verdict}**"
        if res.verdict == "supported":
            return text + " (every other setting beyond noise worse)."
    near = ", ".join(short(v) for v in res.near)
    text += f"; within noise of the best mean ({short(res.top)}): {near}"
    if res.verdict == "undecided" and res.n_seeds >= stats.MIN_SEEDS:
        c = res.pair(res.runner_up)
        text += (f"; {seeds_text(res.seeds_needed, c.paired, res.n_seeds)} would resolve the closest pair "
                 f"(against {short(res.runner_up)})")
    elif res.n_seeds < stats.MIN_SEEDS and res.verdict != "no data":
        text += f"; fewer than {stats.MIN_SEEDS} seeds decide nothing"
    return text + "."


def _trend_body(ctx, hyp, res, margin_text) -> str:
    lo, hi = short(res.levels[0]), short(res.levels[-1])
    how = (f"paired by seed over {res.n_seeds} seeds" if res.paired
           else f"unpaired, at least {res.n_seeds} seeds a level")
    test = (f"Page's L = {res.statistic:g}" if res.test == "Page's L" and math.isfinite(res.statistic)
            else f"Spearman ρ = {res.statistic:+.2f}" if math.isfinite(res.statistic) else res.test)
    parts = [f"{test}, {how}, two-sided {p_text(res.p)}{_family(res)}"]
    if math.isfinite(res.p_tost):
        parts.append(f"TOST |change| < {_num(ctx, hyp.metric, res.margin)} {p_text(res.p_tost)}"
                     + (f", Holm-adjusted {p_text(res.p_tost_adj)}" if res.family > 1 else ""))
    if res.se > 0 and math.isfinite(res.mde):
        parts.append(f"MDE at {stats.POWER:.0%} power {_num(ctx, hyp.metric, res.mde)}")
    if res.dropped_seeds:
        parts.append(f"seeds {', '.join(map(str, res.dropped_seeds))} dropped, not finite at a level")
    text = (f" over {hyp.over} ({', '.join(short(v) for v in res.levels)}{_where(hyp)}): {_means(ctx, hyp, res)}; "
            f"expected {hyp.expect}; margin {margin_text} on the change from {lo} to {hi}. Change {lo} → {hi} "
            f"(least-squares line over the levels in order) = {_num(ctx, hyp.metric, res.diff, '+')} "
            f"({_ci(ctx, hyp.metric, res.ci_low, res.ci_high)}) "
            f"({'; '.join(parts)}): **{res.verdict}**")
    if res.verdict in stats.BEYOND_VERDICTS:
        return text + f" ({'increasing' if res.sign > 0 else 'decreasing'})."
    if res.verdict == "equivalent":
        return text + " (|change| < margin, beyond seed noise)."
    if res.n_seeds < stats.MIN_SEEDS:
        return text + f"; fewer than {stats.MIN_SEEDS} seeds decide nothing."
    return text + (f"; {seeds_text(res.seeds_needed, True, res.n_seeds if res.paired else 0)}"
                   f"{'' if res.paired else ' a level'} would resolve it (t-test power on the change, as a "
                   f"stand-in for the trend test's).")


def kind_resolution(ctx, hyp, res) -> list[str]:
    """The row of "what these seeds can resolve" for an argmax or trend hypothesis."""
    if hyp.kind == "argmax":
        c = res.pair(res.runner_up)
        what = f"{short(res.best)} − {short(res.runner_up)}"
        diff, lo, hi, mde, paired, n = c.diff, c.ci_low, c.ci_high, c.mde, c.paired, c.n_seeds
        margin = "— (no equivalence for an argmax)"
    else:
        what = f"change {short(res.levels[0])} → {short(res.levels[-1])}"
        diff, lo, hi, mde, paired, n = res.diff, res.ci_low, res.ci_high, res.mde, res.paired, res.n_seeds
        margin = f"±{_num(ctx, hyp.metric, res.margin)}" if math.isfinite(res.margin) else "—"
    scale, unit = ctx.scale_unit(hyp.metric)
    ci = (f"{what}: {diff * scale:+.3g} ({lo * scale:+.3g} to {hi * scale:+.3g}){unit}; "
          f"{'paired' if paired else 'unpaired'}, {n} seeds" if math.isfinite(lo) else f"{what}: no CI")
    mde_text = "—" if not math.isfinite(mde) or mde == 0 else _num(ctx, hyp.metric, mde)
    need = "—"
    if res.verdict == "undecided" or n < stats.MIN_SEEDS:
        s = res.seeds_needed
        need = ("unknown (no spread to go on)" if math.isnan(s) else "more than 10,000" if math.isinf(s)
                else f"more than {n}" if s <= n else f"{max(int(s), stats.MIN_SEEDS)}")
    return [hyp.id, ci, mde_text, margin, need, res.verdict]


def kind_row(hyp, res, a_name, b_name) -> dict:
    """The :attr:`Findings.verdicts` row of an argmax (A: the named setting, B: the closest other,
    the difference theirs) or a trend (A: the highest level, B: the lowest, the difference the
    fitted change)."""
    if hyp.kind == "argmax":
        c = res.pair(res.runner_up)
        a_mean, b_mean, diff, lo, hi = c.a.mean, c.b.mean, c.diff, c.ci_low, c.ci_high
    else:
        a_mean, b_mean = res.summaries[-1].mean, res.summaries[0].mean
        diff, lo, hi = res.diff, res.ci_low, res.ci_high
    return {"id": hyp.id, "statement": hyp.statement, "metric": hyp.metric, "A": a_name, "B": b_name,
            "A_mean": a_mean, "B_mean": b_mean, "difference": diff, "ci_low": lo, "ci_high": hi, "p": res.p,
            "p_adjusted": res.p_adj, "margin": res.margin, "verdict": res.verdict}
