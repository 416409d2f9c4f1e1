"""A lab's findings, built from its runs' results and its ``[lab]`` section (nothing hand-written).

:func:`build_findings` returns the generated markdown of a lab log: a line on the runs (seeds,
diverged runs, CPU time), **one verdict per hypothesis** (naming its metric and reading), what the
seeds can resolve, the source's claims against this lab's verdicts, then the ``[[lab.findings]]``
sections in order, and a machine-readable summary (for ``python -m labs``). :func:`setup_markdown`
writes the Setup block from the runs themselves (data sizes, model, optimiser, epochs, seeds, what
was measured).

Every comparison goes through :mod:`keras_dyn.stats` (paired by seed when both sides ran the
same seeds, Welch otherwise). Diverged runs (``[run] status = "diverged"``) are named and left out
of means with a visible count. A section that fails for a reason the config check could not know
is replaced by a one-line note, and the failure is reported (:attr:`Findings.errors`); the runs
are kept and the findings can be rebuilt with ``--report-only``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from keras_dyn import stats
from keras_dyn.config import _short
from keras_dyn.report import metrics as M

STRUCTURAL = {"units", "layers", "hidden"} | {f"units_{i}" for i in range(1, 9)}


@dataclass
class Findings:
    markdown: str
    summary: dict
    errors: list = field(default_factory=list)


# --------------------------------------------------------------------------- context


class FindingsContext:
    """What a findings section gets: the runs, the lab, where figures go, and the shared readers.

    Args:
        cfg: the experiment config as run (``--quick``/``--seeds`` applied).
        results: every run's results dict (diverged runs included).
        figure_dir: folder for PNGs; ``figure_ref``: how the markdown refers to it.
    """

    def __init__(self, cfg, results, figure_dir, figure_ref=""):
        self.cfg = cfg
        self.lab = cfg.lab
        self.results = list(results)
        self.figure_dir = Path(figure_dir)
        self.figure_ref = figure_ref
        self.quick = bool(getattr(cfg, "quick", False))
        self.notes: list[str] = []

    # -- grouping
    def grid_keys(self, by=None) -> list[str]:
        return list(by) if by else list(self.cfg.swept)

    def point(self, result) -> dict:
        return result["run"].get("point", {}) or {}

    def label(self, result, by=None) -> str:
        """``256-256`` for width/depth keys, ``key=value`` for the others (``all runs`` if none)."""
        keys = self.grid_keys(by)
        point = self.point(result)
        parts = []
        if not keys or STRUCTURAL & set(keys):
            parts.append(arch_label(result["run"]["hidden"]))
        parts += [f"{k}={_short(point[k])}" for k in keys if k not in STRUCTURAL and k in point]
        return ", ".join(parts) or "all runs"

    def groups(self, by=None, runs=None) -> dict[str, list[dict]]:
        """Runs grouped by the values of ``by`` (default: every grid and case key), in plan order."""
        out: dict[str, list[dict]] = {}
        for r in (self.results if runs is None else runs):
            out.setdefault(self.label(r, by), []).append(r)
        return out

    def select(self, selector: dict, runs=None) -> list[dict]:
        def same(a, b):
            if isinstance(a, list) or isinstance(b, list):
                return list(a) == list(b)
            return a == b
        return [r for r in (self.results if runs is None else runs)
                if all(same(self.point(r).get(k), v) for k, v in selector.items())]

    # -- reading values
    def reading(self, at) -> M.Reading:
        if at is None:
            return M.Reading("last")
        return at if isinstance(at, M.Reading) else M.parse_reading(at)

    def value(self, result, metric, params=None, at=None) -> float:
        at = self.reading(at)
        if self.quick and at.kind == "epoch":
            last = len(result.get("epochs", {}).get("epoch", [])) or at.epoch
            if at.epoch > last:
                self.note(f"quick run: readings past epoch {last} are read at epoch {last}")
                at = M.Reading("last")
        try:
            return float(M.value(result, metric, params or {}, at))
        except M.MetricError as exc:
            if self.quick:
                self.note(f"{metric} {at.short}: {exc} (quick run)")
                return math.nan
            raise

    def values(self, runs, metric, params=None, at=None) -> tuple[list[float], list[int]]:
        return ([self.value(r, metric, params, at) for r in runs], [int(r["run"]["seed"]) for r in runs])

    def summary(self, runs, metric, params=None, at=None) -> stats.Summary:
        values, seeds = self.values(runs, metric, params, at)
        return stats.summarise(values, seeds=seeds if len(set(seeds)) == len(seeds) else None)

    def compare(self, a_runs, b_runs, metric, *, a_params=None, b_params=None, a_at=None, b_at=None,
                expect="greater") -> stats.Comparison:
        a, sa = per_seed(*self.values(a_runs, metric, a_params, a_at))
        b, sb = per_seed(*self.values(b_runs, metric, b_params, b_at))
        return stats.compare(a, b, expect=expect, a_seeds=sa, b_seeds=sb)

    # -- formatting
    def fmt(self, summary: stats.Summary, metric) -> str:
        m = M.METRICS[metric] if isinstance(metric, str) else metric
        if m.percent or summary.n == 0:
            return summary.fmt(scale=100.0, digits=2, unit="%")
        text = _g(summary.mean) + (f" ± {_g(summary.sd, 2)}" if summary.n > 1 else "")
        missing = summary.n_missing
        return text + (f" ({missing} of {summary.n + missing} not finite)" if missing else "")

    def sentence(self, comp, a_name, b_name, metric, larger="higher") -> str:
        """:meth:`keras_dyn.stats.Comparison.sentence` in the metric's units (points for percent)."""
        m = M.METRICS[metric] if isinstance(metric, str) else metric
        if m.percent:
            return comp.sentence(a_name, b_name, scale=100.0, unit=" points", larger=larger)
        return comp.sentence(a_name, b_name, scale=1.0, unit="", larger=larger, spec=".3g")

    def scale_unit(self, metric) -> tuple[float, str]:
        m = M.METRICS[metric] if isinstance(metric, str) else metric
        return (100.0, " points") if m.percent else (1.0, "")

    # -- figures and notes
    def figure(self, name: str) -> tuple[Path, str]:
        """``(path to write, markdown reference)`` for a figure file name."""
        return self.figure_dir / name, f"{self.figure_ref}{name}"

    def save_figure(self, fig, name: str, **savefig) -> str:
        """Write a matplotlib figure as ``name`` in the figure folder, close it, and return its
        markdown reference (``savefig`` options such as ``dpi`` pass through)."""
        import matplotlib.pyplot as plt

        path, ref = self.figure(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, **savefig)
        plt.close(fig)
        return ref

    def note(self, text: str):
        if text not in self.notes:
            self.notes.append(text)


def per_seed(values, seeds) -> tuple[list[float], list[int]]:
    """One value per seed: a side that selects several runs per seed (several grid cells) is
    compared through the mean over its cells for each seed, so the seeds still pair. A seed whose
    runs are all non-finite stays non-finite (and is counted as such)."""
    by_seed: dict[int, list[float]] = {}
    for v, s in zip(values, seeds):
        by_seed.setdefault(s, []).append(v)
    out_seeds = sorted(by_seed)
    out = []
    for s in out_seeds:
        finite = [v for v in by_seed[s] if math.isfinite(v)]
        out.append(sum(finite) / len(finite) if len(finite) == len(by_seed[s]) else math.nan)
    return out, out_seeds


def arch_label(hidden) -> str:
    """``256-256`` for up to four hidden layers; ``8×256`` for more of one width."""
    hidden = [int(u) for u in hidden]
    if len(hidden) > 4 and len(set(hidden)) == 1:
        return f"{len(hidden)}×{hidden[0]}"
    return "-".join(map(str, hidden))


def _g(x, digits=3) -> str:
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits}g}"
    return f"{x:.{max(digits, 3)}g}" if abs(x) < 100 else f"{x:,.1f}"


def seeds_text(results) -> str:
    seeds = sorted({int(r["run"]["seed"]) for r in results})
    return ", ".join(map(str, seeds))


def diverged(results) -> list[dict]:
    return [r for r in results if r["run"].get("status") == "diverged"]


# --------------------------------------------------------------------------- verdicts


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


def hypothesis_verdict(ctx, hyp) -> tuple[stats.Comparison, str, str]:
    a_runs, b_runs = side_runs(ctx, hyp.a), side_runs(ctx, hyp.b)
    comp = ctx.compare(a_runs, b_runs, hyp.metric, a_params=hyp.a.params, b_params=hyp.b.params,
                       a_at=hyp.a.at, b_at=hyp.b.at, expect=hyp.expect)
    return comp, side_label(ctx, hyp, hyp.a, hyp.b), side_label(ctx, hyp, hyp.b, hyp.a)


def verdict_line(ctx, hyp, comp, a_name, b_name) -> str:
    metric = M.describe(hyp.metric, hyp.a.params if hyp.a.params == hyp.b.params else {})
    when = hyp.a.at.label if hyp.a.at == hyp.b.at else f"{hyp.a.at.label} (A) and {hyp.b.at.label} (B)"
    direction = ">" if hyp.expect == "greater" else "<"
    return (f"- **{hyp.id}** — {hyp.statement}  \n  Metric: `{metric}` at {when}; A = {a_name} "
            f"({ctx.fmt(comp.a, hyp.metric)}), B = {b_name} ({ctx.fmt(comp.b, hyp.metric)}); "
            f"expected A {direction} B. {ctx.sentence(comp, 'A', 'B', hyp.metric)}  \n"
            f"  **Verdict: {comp.verdict}.**")


def comparison_verdict(ctx, hyp) -> tuple[str, str, str]:
    """``(verdict, line, resolution)`` of an A-against-B hypothesis (``greater`` / ``less``)."""
    comp, a_name, b_name = hypothesis_verdict(ctx, hyp)
    return comp.verdict, verdict_line(ctx, hyp, comp, a_name, b_name), resolution_text(ctx, hyp, comp)


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
    largest = _g(max(finite)) if finite else "none finite"
    where = (f"; at or above it: {', '.join(f'{n} ({_g(v)})' for n, v in over[:5])}"
             f"{', …' if len(over) > 5 else ''}") if over else ""
    line = (f"- **{hyp.id}** — {hyp.statement}  \n  Metric: `{metric}`{when}; A = {name} "
            f"({len(runs)} run(s), largest {largest}); expected every run < {hyp.bound:g}. "
            f"{len(runs) - len(over)} of {len(runs)} run(s) below the bound{where}: a bound checked run "
            f"by run, not a comparison of seeds  \n  **Verdict: {verdict}.**")
    resolution = (f"{hyp.id}: a bound checked on each of its {len(runs)} runs; seed noise does not "
                  f"enter, one run at or above {hyp.bound:g} refutes it.")
    return verdict, line, resolution


def absent_verdict(hyp) -> tuple[str, str]:
    """``(verdict, line)`` of a hypothesis a ``--quick`` plan cannot test (``hyp.absent`` says why)."""
    return NOT_IN_QUICK, (f"- **{hyp.id}** — {hyp.statement}  \n  Not in the quick plan: {hyp.absent}. "
                          f"The full run tests it.  \n  **Verdict: {NOT_IN_QUICK}.**")


NOT_IN_QUICK = "not in the quick plan"


# --------------------------------------------------------------------------- the findings


def build_findings(cfg, results, figure_dir, figure_ref="", *, header="") -> Findings:
    """The generated findings of a lab (or any experiment) from its runs' results."""
    ctx = FindingsContext(cfg, results, figure_dir, figure_ref)
    lab = cfg.lab
    lines = [header.strip(), ""] if header else []
    lines += [runs_line(ctx), ""]
    errors: list[str] = []
    verdicts = {}
    if lab and lab.hypotheses:
        lines += ["### Verdicts", ""]
        resolution = []
        for hyp in lab.hypotheses:
            if getattr(hyp, "absent", ""):
                verdicts[hyp.id], line = absent_verdict(hyp)
                lines.append(line)
                continue
            try:
                verdicts[hyp.id], line, text = (bound_verdict if hyp.is_bound else comparison_verdict)(ctx, hyp)
            except (M.MetricError, KeyError, ValueError) as exc:
                errors.append(f"{hyp.id}: {exc}")
                lines.append(f"- **{hyp.id}** — {hyp.statement}: could not be read ({exc}).")
                verdicts[hyp.id] = "not read"
                continue
            lines.append(line)
            resolution.append(text)
        lines += ["", "**What these seeds can resolve.** " + " ".join(resolution) + " " + stats.RULE_SHORT, ""]
        if lab.claims:
            lines += claims_table(lab, verdicts)
    for spec in (lab.findings if lab else default_sections(cfg)):
        from keras_dyn.report.sections import SECTIONS

        if getattr(spec, "absent", ""):
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
    return Findings("\n".join(lines).strip() + "\n", summary, errors)


def default_sections(cfg):
    """Findings of an experiment without ``[lab]``: a seed table, the grid ranked on validation
    accuracy (a grid with a validation split), the curves, every run."""
    from keras_dyn.lab_spec import SectionSpec

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


def resolution_text(ctx, hyp, comp) -> str:
    scale, unit = ctx.scale_unit(hyp.metric)
    if not math.isfinite(comp.threshold):
        return f"{hyp.id}: a single seed on a side resolves nothing (at most \"suggests\")."
    how = f"paired over {comp.n_pairs} seeds" if comp.paired else f"{comp.a.n} and {comp.b.n} seeds, unpaired"
    return (f"{hyp.id} ({how}): differences in `{hyp.metric}` smaller than "
            f"{comp.threshold * scale:.3g}{unit} are within seed noise.")


def claims_table(lab, verdicts) -> list[str]:
    rows = []
    for c in lab.claims:
        result = "; ".join(f"{h}: {verdicts.get(h, 'n/a')}" for h in c.hypotheses)
        rows.append([c.claim, c.source_value or "—", result])
    return ["### The source's claims, tested here", "", f"Source: {lab.source or '—'}.", "",
            markdown_table(["claim", "source's number", "this lab (verdict)"], rows), ""]


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


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- setup


def setup_markdown(cfg, results) -> str:
    """The Setup block, generated from the config as run and the runs' results."""
    r0 = results[0]["run"] if results else {}
    d, m, t = cfg.data, cfg.model, cfg.training
    lines = []
    sizes = (f"{r0.get('n_train', 0):,} training / {r0.get('n_val', 0):,} validation / "
             f"{r0.get('n_test', 0):,} test examples" if r0 else "sizes known after the first run")
    norm = {"zero_one": "[0, 1]", "minus_one_one": "[−1, 1]"}[d.normalize]
    names = list(cfg.swept.get("dataset", (d.dataset,)))
    synthetic = [n for n in names if n in ("circle", "nested_rings")]
    scaled = (f"; inputs scaled to {norm}" if len(synthetic) < len(names) else
              "; 2-D inputs as drawn (not rescaled)")
    data = f"- Data: {' and '.join(names)}, {sizes}{' each' if len(names) > 1 else ''}{scaled}"
    if synthetic:
        data += (f"; {d.n_samples:,} points drawn per set (seed {d.split_seed}) and a separate test "
                 f"set (seed {d.split_seed + 1}), input noise {d.noise:g}")
    noise_values = cfg.swept.get("label_noise", (d.label_noise,))
    if any(v > 0 for v in noise_values):
        data += (f"; label noise {', '.join(f'{v:.0%}' for v in noise_values)} ({d.label_noise_kind}, "
                 f"training labels only, seed {d.label_noise_seed})")
    lines.append(data + ".")
    widths = sorted({tuple(r["run"]["hidden"]) for r in results}) if results else [tuple(m.hidden)]
    params = sorted({int(r["run"]["params"]) for r in results}) if results else []
    if len(widths) <= 4:
        arch = "; ".join(" → ".join(["in", *map(str, w), "out"]) for w in widths)
        count = f"; {', '.join(f'{p:,}' for p in params)} parameters" if params else ""
    else:
        arch = f"{len(widths)} architectures from the grid (hidden widths {', '.join('-'.join(map(str, w)) for w in widths)})"
        count = f"; {params[0]:,} to {params[-1]:,} parameters" if params else ""
    output = ("sigmoid output (one unit, binary cross-entropy)" if m.output == "sigmoid"
              else "softmax output (sparse categorical cross-entropy)")
    lines.append(f"- Model: {arch}; activation {m.activation}, initialiser {m.initializer}, {output}{count}.")
    opt = {"sgd": "SGD", "sgd_momentum": f"SGD with momentum {t.momentum:g}", "adam": "Adam",
           "adamw": f"AdamW (weight decay {t.weight_decay:g})", "rmsprop": "RMSprop"}[t.optimizer]
    sched = {"none": "constant", "step": f"step decay ×{t.gamma:g} every {t.step_size} epochs",
             "cosine": "cosine decay", "exponential": f"exponential decay ×{t.gamma:g} per epoch"}[t.scheduler]
    lines.append(f"- Training: {opt}, learning rate {t.learning_rate:g} ({sched}), batch {t.batch_size}, "
                 f"{t.epochs} epochs, seeds {', '.join(map(str, t.seeds))}"
                 + (f" (steps per epoch: {r0.get('steps_per_epoch')})" if r0 else "") + ".")
    if cfg.cases:
        lines.append(f"- Cases ({len(cfg.cases)}, each overriding the values above"
                     + (", run with every grid point" if cfg.grid else "") + "): "
                     + "; ".join("{" + ", ".join(f"{k} = {_short(v)}" for k, v in case.items()) + "}"
                                 for case in cfg.cases) + ".")
    if cfg.grid or cfg.cases:
        grid = ("- Grid: " + "; ".join(f"{k} ∈ {{{', '.join(_short(v) for v in vs)}}}"
                                       for k, vs in cfg.grid.items()) + " — ") if cfg.grid else "- Plan: "
        plan = (f"{len(cfg.cases)} case(s) × {cfg.n_points // len(cfg.cases)} grid point(s) = "
                f"{cfg.n_points} configuration(s)" if cfg.cases and cfg.grid
                else f"{len(cfg.cases)} case(s)" if cfg.cases else f"{cfg.n_points} configuration(s)")
        lines.append(grid + plan + f" × {len(t.seeds)} seed(s)"
                     + (", through keras-tuner's GridSearch (chosen on validation accuracy)"
                        if cfg.lab and cfg.lab.runner == "grid" else "") + ".")
    measured = ["loss and accuracy per epoch (train, validation, test; test only reported)"]
    if cfg.log.gradients:
        measured.append(f"gradient statistics per layer every step ({cfg.log.gradient_mode})")
    if cfg.log.activations:
        measured.append(f"activation statistics on {cfg.log.probe_size} probe examples every {cfg.log.every} epoch(s)")
    if cfg.log.weights:
        measured.append(f"weight norms, update norms ‖Δw‖ and update ratios ‖Δw‖/‖w‖ every {cfg.log.every} epoch(s)")
    if cfg.probes.noisy_labels and any(v > 0 for v in noise_values):
        measured.append("memorisation of the noisy labels every epoch")
    if cfg.probes.shifts and d.dataset in ("mnist", "fashion_mnist"):
        measured.append(f"test accuracy under {', '.join(cfg.probes.shifts)} at severities "
                        f"{', '.join(map(str, cfg.probes.shift_severities))} every {cfg.probes.shift_every} epoch(s) "
                        f"({cfg.probes.shift_test_size:,} test images)")
    if cfg.probes.drift:
        measured.append(f"representation drift on {cfg.probes.drift_probe_size} training examples every epoch")
    if cfg.log.step_loss:
        measured.append("the training loss of every step (raw)")
    if cfg.probes.decision_grid:
        measured.append(f"the model's output on a {cfg.probes.decision_grid}×{cfg.probes.decision_grid} grid "
                        f"of the input plane after the last epoch")
    if cfg.probes.numpy_twin:
        which = (f"seeds {', '.join(map(str, cfg.probes.numpy_twin_seeds))}" if cfg.probes.numpy_twin_seeds
                 else "every run")
        measured.append(f"a NumPy twin ({which}): the run's batches, in a fixed order drawn from the seed, "
                        f"replayed on keras_dyn's from-scratch MLP from the same initial weights")
    lines.append("- Measured: " + "; ".join(measured) + ".")
    lines.append(f"- Experiment file: `{Path(cfg.source).name}`; run folders `{cfg.name}/<run>/` "
                 f"(`tensorboard --logdir modellogs`).")
    return "\n".join(lines)
