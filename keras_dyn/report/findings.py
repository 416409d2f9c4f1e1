"""A lab's findings, built from its runs' results and its ``[lab]`` section (nothing hand-written).

:func:`build_findings` returns the generated markdown of a lab log: a line on the runs (seeds,
diverged runs, CPU time), **one verdict per hypothesis** (naming its metric and reading), what the
seeds can resolve, the source's claims against this lab's verdicts, then the ``[[lab.findings]]``
sections in order, and a machine-readable summary (for ``python -m labs``). The Setup block is
:mod:`keras_dyn.report.setup`; what sections read through is :mod:`keras_dyn.report.context`.

Every comparison goes through :mod:`keras_dyn.stats` (paired by seed when both sides ran the
same seeds, Welch otherwise); the lab's comparison hypotheses are judged together
(:func:`keras_dyn.stats.judge_family`: Holm over the family, TOST against each margin, one of
supported / refuted / equivalent / undecided). Diverged runs (``[run] status = "diverged"``) are
named and left out of means with a visible count. A section that fails for a reason the config check could not know
is replaced by a one-line note, and the failure is reported (:attr:`Findings.errors`); the runs
are kept and the findings can be rebuilt with ``--report-only``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from keras_dyn import stats
from keras_dyn.report import metrics as M
from keras_dyn.report.context import (Findings, FindingsContext, diverged, markdown_table, seeds_text,
                                      short_number)
from keras_dyn.report.kinds import kind_line, kind_resolution, kind_row, kind_verdict


def side_runs(ctx, side) -> list[dict]:
    return ctx.select(side.select)


def side_label(ctx, hyp, side, other) -> str:
    if side.label:
        return side.label
    parts = []
    runs = side_runs(ctx, side)
    if side.select or (not other.params != side.params and side.at == other.at):
        keys = list(side.select) or list(ctx.cfg.swept)
        parts.append(ctx.label(runs[0], keys) if runs else "?")
    if side.params != other.params:
        parts.append(M.describe(hyp.metric, side.params).split(" (", 1)[-1].rstrip(")"))
    if side.at != other.at:
        parts.append(side.at.label)
    return ", ".join(p for p in parts if p) or "all runs"


def hypothesis_margin(hyp):
    """The hypothesis's margin: as given, else the default of its metric's kind."""
    return hyp.margin if hyp.margin is not None else stats.default_margin(M.METRICS[hyp.metric].kind)


def hypothesis_verdict(ctx, hyp) -> tuple[stats.Comparison, str, str]:
    """The comparison of one hypothesis on its own (raw p; :func:`judged_comparisons` adjusts)."""
    a_runs, b_runs = side_runs(ctx, hyp.a), side_runs(ctx, hyp.b)
    comp = ctx.compare(a_runs, b_runs, hyp.metric, a_params=hyp.a.params, b_params=hyp.b.params,
                       a_at=hyp.a.at, b_at=hyp.b.at, expect=hyp.expect, margin=hypothesis_margin(hyp))
    return comp, side_label(ctx, hyp, hyp.a, hyp.b), side_label(ctx, hyp, hyp.b, hyp.a)


def judged_comparisons(ctx, hyps, errors) -> dict:
    """id → ``(comparison judged with the family, A's name, B's name)`` for the comparison
    hypotheses (an argmax or trend result in place of the comparison for those kinds), or the
    exception that kept one from being read."""
    raw, out = {}, {}
    for hyp in hyps:
        if hyp.is_bound or hyp.absent:
            continue
        try:
            raw[hyp.id] = kind_verdict(ctx, hyp) if hyp.kind else hypothesis_verdict(ctx, hyp)
        except (M.MetricError, KeyError, ValueError) as exc:
            errors.append(f"{hyp.id}: {exc}")
            out[hyp.id] = exc
    judged = stats.judge_family({hid: r[0] for hid, r in raw.items()})
    out.update({hid: (judged[hid], *raw[hid][1:]) for hid in raw})
    return out


def verdict_line(ctx, hyp, comp, a_name, b_name) -> str:
    metric = M.describe(hyp.metric, hyp.a.params if hyp.a.params == hyp.b.params else {})
    when = hyp.a.at.label if hyp.a.at == hyp.b.at else f"{hyp.a.at.label} (A) and {hyp.b.at.label} (B)"
    direction = ">" if hyp.expect == "greater" else "<"
    return (f"- **{hyp.id}** — {hyp.statement}  \n  Metric: `{metric}` at {when}; A = {a_name} "
            f"({ctx.fmt(comp.a, hyp.metric)}), B = {b_name} ({ctx.fmt(comp.b, hyp.metric)}); "
            f"expected A {direction} B; margin {margin_text(ctx, hyp, comp)}. "
            f"{ctx.sentence(comp, 'A', 'B', hyp.metric)}  \n  **Verdict: {comp.verdict}.**")


def margin_text(ctx, hyp, comp) -> str:
    """``"±1.00 points (default for accuracies and fractions)"``."""
    scale, unit = ctx.scale_unit(hyp.metric)
    given = hypothesis_margin(hyp)
    text = f"±{comp.margin * scale:.3g}{unit}" if math.isfinite(comp.margin) else "n/a"
    if isinstance(given, str):
        text += f" ({given} of the sides' mean)"
    if hyp.margin is None:
        text += f" (default for {M.METRICS[hyp.metric].kind} metrics)"
    return text


def bound_verdict(ctx, hyp) -> tuple[str, str, str]:
    """``(verdict, line, resolution)`` of an ``expect = "below"`` hypothesis: every run side A
    selects must read below ``hyp.bound`` (a non-finite value counts as above). A property of
    each run, not a difference between two sides, so no seed statistics enter: one run above
    refutes it."""
    runs = side_runs(ctx, hyp.a)
    values, _ = ctx.values(runs, hyp.metric, hyp.a.params, hyp.a.at)
    over = [(r["run"]["name"], v) for r, v in zip(runs, values) if not v < hyp.bound]
    finite = [v for v in values if math.isfinite(v)]
    verdict = "supported" if runs and not over else "refuted"
    name = hyp.a.label or (ctx.label(runs[0], list(hyp.a.select)) if hyp.a.select and runs else "every run")
    metric = M.describe(hyp.metric, hyp.a.params)
    when = f" at {hyp.a.at.label}" if M.METRICS[hyp.metric].per_epoch else " (one number per run)"
    largest = short_number(max(finite)) if finite else "none finite"
    where = (f"; at or above it: {', '.join(f'{n} ({short_number(v)})' for n, v in over[:5])}"
             f"{', …' if len(over) > 5 else ''}") if over else ""
    line = (f"- **{hyp.id}** — {hyp.statement}  \n  Metric: `{metric}`{when}; A = {name} "
            f"({len(runs)} run(s), largest {largest}); expected every run < {hyp.bound:g}. "
            f"{len(runs) - len(over)} of {len(runs)} run(s) below the bound{where}: a bound checked run "
            f"by run, not a comparison of seeds  \n  **Verdict: {verdict}.**")
    resolution = [hyp.id, f"a bound checked on each of {len(runs)} run(s); one at or above "
                  f"{hyp.bound:g} refutes it", "—", "—", "—", verdict]
    return verdict, line, resolution


NOT_IN_QUICK = "not in the quick plan"


def verdict_row(hyp, verdict, comp=None, a_name="", b_name="") -> dict:
    """The structured form of one hypothesis's verdict (a row of :attr:`Findings.verdicts`)."""
    nan = float("nan")
    row = {"id": hyp.id, "statement": hyp.statement, "metric": hyp.metric, "A": a_name, "B": b_name,
           "A_mean": nan, "B_mean": nan, "difference": nan, "ci_low": nan, "ci_high": nan, "p": nan,
           "p_adjusted": nan, "margin": nan, "verdict": verdict}
    if comp is not None:
        row.update(A_mean=comp.a.mean, B_mean=comp.b.mean, difference=comp.diff, ci_low=comp.ci_low,
                   ci_high=comp.ci_high, p=comp.p, p_adjusted=comp.p_adj, margin=comp.margin)
    return row


def absent_verdict(hyp) -> tuple[str, str]:
    """``(verdict, line)`` of a hypothesis a ``--quick`` plan cannot test (``hyp.absent`` says why)."""
    return NOT_IN_QUICK, (f"- **{hyp.id}** — {hyp.statement}  \n  Not in the quick plan: {hyp.absent}. "
                          f"The full run tests it.  \n  **Verdict: {NOT_IN_QUICK}.**")


def build_findings(cfg, results, figure_dir, figure_ref="", *, header="") -> Findings:
    """The generated findings of a lab (or any experiment) from its runs' results."""
    ctx = FindingsContext(cfg, results, figure_dir, figure_ref)
    lab = cfg.lab
    lines = [header.strip(), ""] if header else []
    lines += [runs_line(ctx), ""]
    errors: list[str] = []
    verdicts, verdict_rows = {}, []
    if lab and lab.hypotheses:
        lines += ["### Verdicts", ""]
        rows = []
        judged = judged_comparisons(ctx, lab.hypotheses, errors)
        for hyp in lab.hypotheses:
            if hyp.absent:
                verdicts[hyp.id], line = absent_verdict(hyp)
                lines.append(line)
                verdict_rows.append(verdict_row(hyp, verdicts[hyp.id]))
                continue
            try:
                if hyp.is_bound:
                    verdicts[hyp.id], line, row = bound_verdict(ctx, hyp)
                    verdict_rows.append(verdict_row(hyp, verdicts[hyp.id], a_name=hyp.a.label))
                elif isinstance(judged[hyp.id], Exception):
                    raise judged[hyp.id]
                else:
                    comp, a_name, b_name = judged[hyp.id]
                    verdicts[hyp.id] = comp.verdict
                    line = (kind_line(ctx, hyp, comp, a_name, b_name, margin_text(ctx, hyp, comp)) if hyp.kind
                            else verdict_line(ctx, hyp, comp, a_name, b_name))
                    if hyp.kind in ("argmax", "trend"):  # an interaction is a Comparison: the rows below
                        row = kind_resolution(ctx, hyp, comp)
                        verdict_rows.append(kind_row(hyp, comp, a_name, b_name))
                    else:
                        row = resolution_row(ctx, hyp, comp)
                        verdict_rows.append(verdict_row(hyp, comp.verdict, comp, a_name, b_name))
            except (M.MetricError, KeyError, ValueError) as exc:
                if f"{hyp.id}: {exc}" not in errors:
                    errors.append(f"{hyp.id}: {exc}")
                lines.append(f"- **{hyp.id}** — {hyp.statement}: could not be read ({exc}).")
                verdicts[hyp.id] = "not read"
                verdict_rows.append(verdict_row(hyp, "not read"))
                continue
            lines.append(line)
            rows.append(row)
        table = markdown_table(["hypothesis", f"difference A − B ({1 - stats.ALPHA:.0%} CI)",
                                f"MDE ({stats.POWER:.0%} power)", "margin", "seeds needed", "verdict"], rows)
        lines += ["", "**What these seeds can resolve.**", "", table if rows else "_No hypothesis was tested._",
                  "", family_text(judged) + " " + stats.RULE_SHORT, ""]
        if lab.claims:
            lines += claims_table(lab, verdicts)
    for spec in (lab.findings if lab else default_sections(cfg)):
        from keras_dyn.report.sections import SECTIONS

        if spec.absent:
            lines += [f"_Findings section `{spec.section}`: not in the quick plan ({spec.absent})._", ""]
            continue
        try:
            body = SECTIONS[spec.section].render()(ctx, **spec.params)
        except Exception as exc:  # noqa: BLE001 - a section must not lose the finished runs
            message = f"section {spec.section!r} failed: {type(exc).__name__}: {exc}"
            errors.append(message)
            body = f"_{message}; rebuild with `--report-only` once fixed._"
        if body:
            lines += [body.rstrip(), ""]
    if ctx.notes:
        lines += ["_Notes: " + "; ".join(ctx.notes) + "._", ""]
    summary = summary_of(ctx, verdicts)
    lines.append(f"<!-- keras_dyn:summary {json.dumps(summary, sort_keys=True)} -->")
    figures = sorted(Path(figure_dir).glob("**/*.png")) if Path(figure_dir).is_dir() else []
    return Findings("\n".join(lines).strip() + "\n", summary, errors, verdict_rows, figures)


def default_sections(cfg):
    """Findings of an experiment without ``[lab]``: a seed table, the grid ranked on validation
    accuracy (a grid with a validation split), the curves, every run."""
    from keras_dyn.config.lab import SectionSpec

    metric = "val_accuracy" if cfg.data.validation_split > 0 else "test_accuracy"
    ranking = ((SectionSpec("ranking", {"columns": [], "by": None}),)
               if cfg.swept and cfg.data.validation_split > 0 else ())
    return (SectionSpec("seed_table", {"metrics": ["test_accuracy"], "at": None, "by": None, "params": {},
                                       "time": True, "parameters": True, "title": ""}),
            *ranking,
            SectionSpec("curves", {"metric": metric, "by": None, "params": {}, "title": "", "log_y": False}),
            SectionSpec("runs", {"metrics": ["test_accuracy"], "at": None, "params": {}}))


def runs_line(ctx) -> str:
    results = ctx.results
    n_points = len(ctx.groups())
    bad = diverged(results)
    cpu = sum(float(r.get("final", {}).get("train_cpu_seconds", 0) or 0) for r in results)
    wall = sum(float(r.get("final", {}).get("train_seconds", 0) or 0) for r in results)
    steps = sum(int(r.get("final", {}).get("steps", 0) or 0) for r in results)
    text = (f"{len(results)} run(s): {n_points} configuration(s) × seeds {seeds_text(results)}. "
            f"Training took {cpu:,.0f} CPU seconds in all ({wall:,.0f} s wall-clock on "
            f"{os.cpu_count()} core(s)"
            + (f", {steps / wall:,.0f} steps per second" if wall > 0 and steps else "")
            + "; wall time on a shared machine varies, CPU seconds are steadier).")
    if bad:
        names = ", ".join(f"`{Path(r['run_dir']).name}` (epoch {r['run'].get('diverged_epoch', '?')})"
                          for r in bad)
        text += (f" **{len(bad)} run(s) diverged** (loss NaN or infinite) and are left out of every "
                 f"mean and comparison, each counted where it would have been: {names}.")
    else:
        text += " No run diverged."
    return text


def resolution_row(ctx, hyp, comp) -> list[str]:
    """One row of the resolution table: hypothesis, CI, MDE, margin, seeds needed, verdict."""
    scale, unit = ctx.scale_unit(hyp.metric)

    def num(x, sign=""):
        return f"{x * scale:{sign}.3g}{unit}"

    how = f"paired, {comp.n_pairs} seeds" if comp.paired else \
        f"unpaired, {comp.a.n + comp.a.n_censored} and {comp.b.n + comp.b.n_censored} seeds"
    if comp.verdict == "no data":
        ci = "no data"
    elif comp.rank_test:
        ci = f"{comp.test} ({how}): no CI"
    elif comp.test == "single seed":
        ci = f"{num(comp.diff, '+')} from a single seed: no CI"
    else:
        ci = (f"{comp.diff * scale:+.3g} ({comp.ci_low * scale:+.3g} to {comp.ci_high * scale:+.3g})"
              f"{unit}; {how}")
    if comp.n_seeds < stats.MIN_SEEDS and comp.verdict != "no data":
        ci += f"; fewer than {stats.MIN_SEEDS} seeds a side decide nothing"
    mde = "—" if not math.isfinite(comp.mde) or (comp.mde == 0 and comp.n_seeds < stats.MIN_SEEDS) else \
        "0 (no spread)" if comp.mde == 0 else num(comp.mde)
    margin = f"±{num(comp.margin)}" if math.isfinite(comp.margin) else "—"
    need = "—"
    if comp.verdict in ("undecided", "within seed noise") or comp.n_seeds < stats.MIN_SEEDS:
        n = comp.seeds_needed
        need = ("unknown (no spread to go on)" if math.isnan(n) else "more than 10,000" if math.isinf(n)
                else f"more than {comp.n_seeds}" if n <= comp.n_seeds
                else f"{max(int(n), stats.MIN_SEEDS)}") + ("" if comp.paired or math.isnan(n) else " a side")
    return [hyp.id, ci, mde, margin, need, comp.verdict]


def family_text(judged) -> str:
    """How many hypotheses the p-values were adjusted over."""
    k = sum(1 for v in judged.values() if not isinstance(v, Exception) and math.isfinite(v[0].p))
    if k <= 1:
        return f"{k} comparison hypothesis: no adjustment for multiplicity needed."
    return (f"The {k} comparison hypotheses are one family: each verdict uses its Holm–Bonferroni "
            f"adjusted p (the lines print raw and adjusted).")


def claims_table(lab, verdicts) -> list[str]:
    rows = []
    for c in lab.claims:
        if c.tested_as == "untested" or not c.hypotheses:
            result = "not tested here"
        else:
            result = "; ".join(f"{h}: {verdicts.get(h, 'n/a')}" for h in c.hypotheses)
        rows.append([c.claim, c.source_value or "—", result, c.tested_as, c.why or "—"])
    return ["### The source's claims, tested here", "", f"Source: {lab.source or '—'}.", "",
            markdown_table(["claim", "source's number", "this lab (verdict)", "tested as", "why"], rows), ""]


def summary_of(ctx, verdicts) -> dict:
    results = ctx.results
    return {
        "runs": len(results),
        "seeds": sorted({int(r["run"]["seed"]) for r in results}),
        "diverged": len(diverged(results)),
        "cpu_seconds": round(sum(float(r.get("final", {}).get("train_cpu_seconds", 0) or 0) for r in results), 1),
        "wall_seconds": round(sum(float(r.get("run", {}).get("wall_seconds", 0) or 0) for r in results), 1),
        "verdicts": verdicts,
        "quick": ctx.quick,
    }
