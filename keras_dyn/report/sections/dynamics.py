"""Diagnostics sections: per-layer tables, curves and depth profiles, single-run figures, and the
decomposition of a layer's gradient-norm variance into size and relative spread.

Every value is read through :mod:`keras_dyn.report.metrics` (so epochs are the results tables'
own ``epoch`` numbers, never an assumed offset) and every comparison goes through
``ctx.compare`` (:mod:`keras_dyn.stats`: paired by seed when both sides ran the same seeds).
Rows are the model's variables (``hidden1/kernel`` ... ``output/bias``) for gradient and weight
metrics, and its hidden layers for activation and drift metrics; models of different depths get
the rows they have.
"""

from __future__ import annotations

import math

from keras_dyn import stats
from keras_dyn.report import metrics as M
from keras_dyn.report.findings import markdown_table, per_seed
from keras_dyn.report.sections.figures import _plt, _slug

RUN_FIGURES = ("gradient_flow", "step_norms", "gradient_histograms", "dead_units")


# --------------------------------------------------------------------------- rows


def _order(name: str) -> tuple:
    layer, _, part = name.partition("/")
    index = int(layer[6:]) if layer.startswith("hidden") and layer[6:].isdigit() else 10_000
    return (index, 0 if part in ("", "kernel") else 1, name)


def run_rows(result, metric, part="kernel") -> list[str]:
    """The rows a run has for a per-layer metric: variables (gradients, weights) or hidden layers."""
    m = M.METRICS[metric]
    table = result.get(m.table) or {}
    if m.table in ("gradients", "weights"):
        names = list(table.get("variables", []))
        if part in ("kernel", "bias"):
            names = [n for n in names if n.endswith("/" + part)]
        return names
    if m.table in ("activations", "drift"):
        return list(table.get("layers") or M.hidden_layers(result))
    raise ValueError(f"{metric!r} is not a per-layer metric")


def rows_of(runs, metric, part="kernel") -> list[str]:
    names = {n for r in runs for n in run_rows(r, metric, part)}
    return sorted(names, key=_order)


def _having(runs, metric, row) -> list[dict]:
    return [r for r in runs if row in run_rows(r, metric, "all")]


def _runs(ctx, select):
    return ctx.select(select) if select else list(ctx.results)


def _two_sides(ctx, a, b, by):
    a_runs, b_runs = ctx.select(a), ctx.select(b)
    a_name = ctx.label(a_runs[0], list(a) or by) if a_runs else "A"
    b_name = ctx.label(b_runs[0], list(b) or by) if b_runs else "B"
    if a_name == b_name:
        a_name, b_name = f"A ({a_name})", f"B ({b_name})"
    return a_runs, b_runs, a_name, b_name


def _cell(ctx, comp, a_name, b_name, metric) -> str:
    scale, unit = ctx.scale_unit(metric)
    if comp.verdict == "no data":
        return "no data"
    return f"{comp.diff * scale:+.3g}{unit}: {comp.outcome(a_name, b_name)}"


def _part(metric, part) -> str:
    return f"_{part}" if metric.table in ("gradients", "weights") else ""


def _save(fig, ctx, name) -> str:
    path, ref = ctx.figure(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return ref


# --------------------------------------------------------------------------- layer_table


def layer_table(ctx, metrics, at=None, by=None, part="kernel", select=None, a=None, b=None, expect="",
                bias_vs_kernel=False, title=""):
    """A per-layer (or per-variable) table of metrics at readings, one column block per group.

    With ``a`` and ``b`` (selectors) the groups are those two sides and each row gets a verdict
    on the first metric at the last reading (A against B); with ``bias_vs_kernel`` each layer's
    bias is compared with its kernel within the same runs. Either way the section says how many
    "beyond noise" calls chance alone would give.
    """
    readings = [ctx.reading(r) for r in (at or [None])]
    if bias_vs_kernel:
        part = "all"
    if a is not None:
        a_runs, b_runs, a_name, b_name = _two_sides(ctx, a, b, by)
        groups = {a_name: a_runs, b_name: b_runs}
    else:
        groups = ctx.groups(by, _runs(ctx, select))
    everyone = [r for runs in groups.values() for r in runs]
    rows = rows_of(everyone, metrics[0], part)
    multi = len(groups) > 1
    header = ["layer" if M.METRICS[metrics[0]].table in ("activations", "drift") else "variable"]
    for metric in metrics:
        for reading in readings:
            for label in groups:
                header.append(f"{M.describe(metric)} {reading.short}" + (f" — {label}" if multi else ""))
    key_metric, key_reading = metrics[0], readings[-1]
    comparisons = []  # (row, group label or "", comparison)
    if a is not None:
        header.append(f"A − B: {key_metric} {key_reading.short}")
    if bias_vs_kernel:
        header += [f"bias − kernel: {key_metric} {key_reading.short}" + (f" — {label}" if multi else "")
                   for label in groups]
    table = []
    for row in rows:
        cells = [row]
        params = {"layer": row}
        for metric in metrics:
            for reading in readings:
                for runs in groups.values():
                    have = _having(runs, metric, row)
                    cells.append(ctx.fmt(ctx.summary(have, metric, params, reading), metric) if have else "—")
        if a is not None:
            ha, hb = _having(groups[a_name], key_metric, row), _having(groups[b_name], key_metric, row)
            if ha and hb:
                comp = ctx.compare(ha, hb, key_metric, a_params=params, b_params=params, a_at=key_reading,
                                   b_at=key_reading, expect=expect or None)
                comparisons.append((row, "", comp))
                cells.append(_cell(ctx, comp, "A", "B", key_metric))
            else:
                cells.append("—")
        if bias_vs_kernel:
            for label, runs in groups.items():
                if not row.endswith("/bias") or row.replace("/bias", "/kernel") not in rows:
                    cells.append("")
                    continue
                kernel = row.replace("/bias", "/kernel")
                have = [r for r in _having(runs, key_metric, row) if kernel in run_rows(r, key_metric, "all")]
                comp = ctx.compare(have, have, key_metric, a_params=params, b_params={"layer": kernel},
                                   a_at=key_reading, b_at=key_reading, expect=expect or None)
                comparisons.append((row.split("/")[0], label if multi else "", comp))
                cells.append(_cell(ctx, comp, "bias", "kernel", key_metric))
        table.append(cells)
    names = ", ".join(f"`{m}`" for m in metrics)
    lines = [f"### {title or 'Per layer: ' + names}", "",
             f"Mean ± sd over seeds ({', '.join(map(str, sorted({int(r['run']['seed']) for r in everyone})))}); "
             + (f"A = {a_name}, B = {b_name}. " if a is not None else "")
             + "; ".join(f"`{m}`: {M.METRICS[m].what}" for m in metrics) + ".", "",
             markdown_table(header, table)]
    if comparisons:
        lines += [""] + _comparison_summary(comparisons, a is not None, expect, key_metric, key_reading)
    return "\n".join(lines)


def _comparison_summary(comparisons, groups_compared, expect, metric, reading) -> list[str]:
    n = len(comparisons)
    beyond = [c for c in comparisons if c[2].beyond_noise]
    what = ("A against B" if groups_compared else "bias against kernel") + f" on `{metric}` {reading.short}"
    def where(c):
        return c[0] + (f" ({c[1]})" if c[1] else "")
    higher = [where(c) for c in beyond if c[2].diff > 0]
    lower = [where(c) for c in beyond if c[2].diff < 0]
    first, second = ("A", "B") if groups_compared else ("the bias", "the kernel")
    lines = [f"- {what}, {n} comparison(s): {first} higher than {second} beyond seed noise in "
             f"{', '.join(higher) or 'none'}; lower in {', '.join(lower) or 'none'}; the other "
             f"{n - len(beyond)} within seed noise"
             + (f" (expected {first} {'>' if expect == 'greater' else '<'} {second})." if expect else ".")]
    single = [c for c in comparisons if c[2].test == "single seed"]
    if single:
        lines.append(f"- {len(single)} of these rest on a single seed: no verdict is possible there.")
    if n > 1:
        lines.append("- " + stats.chance_note(n, len(beyond)))
    return lines


# --------------------------------------------------------------------------- curves and profiles


def _integer_ticks(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _mean_band(ax, x, data, label, color=None, style="-"):
    import numpy as np

    data = np.asarray(data, float)
    mean = np.nanmean(data, axis=0)
    line, = ax.plot(x, mean, style, marker="o", ms=2.5, lw=1.4, label=label, color=color)
    if data.shape[0] > 1:
        sd = np.nanstd(data, axis=0, ddof=1)
        ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.15, lw=0)


def layer_curves(ctx, metric, by=None, part="kernel", select=None, log_y=False, title=""):
    """A per-layer metric over epochs: one panel per group, one line per layer, mean over seeds
    with a ±1 sd band (diverged runs left out and counted)."""
    import numpy as np

    plt = _plt()
    m = M.METRICS[metric]
    scale = 100.0 if m.percent else 1.0
    groups = ctx.groups(by, _runs(ctx, select))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.3 * len(groups) + 1.2, 3.9), sharey=True,
                             squeeze=False)
    left_out = 0
    every_row = rows_of([r for runs in groups.values() for r in runs], metric, part)
    palette = dict(zip(every_row, plt.cm.viridis(np.linspace(0, 0.9, max(len(every_row), 1)))))
    for ax, (label, runs) in zip(axes[0], groups.items()):
        good = [r for r in runs if r["run"].get("status") != "diverged"]
        left_out += len(runs) - len(good)
        rows = rows_of(good, metric, part)
        for row in rows:
            color = palette[row]
            series = [M.series(r, m, {"layer": row}) for r in _having(good, metric, row)]
            series = [s for s in series if s[1]]
            if not series:
                continue
            n = min(len(v) for _, v in series)
            x = np.asarray(series[0][0][:n])
            _mean_band(ax, x, [np.asarray(v[:n], float) * scale for _, v in series], row, color)
        ax.set_title(f"{label} (n={len(good)})", fontsize=9)
        ax.set_xlabel("epoch")
        _integer_ticks(ax)
        ax.grid(alpha=0.3, which="both")
        if log_y:
            ax.set_yscale("log")
    axes[0, 0].set_ylabel(M.describe(metric) + (" (%)" if m.percent else ""))
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=palette[row], marker="o", ms=2.5, label=row) for row in every_row]
    axes[0, -1].legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(title or f"{ctx.cfg.name}: {metric} per layer, mean ± sd over seeds", fontsize=10)
    name = f"{_slug(metric)}{_part(m, part)}_per_layer" + (f"_{_slug(str(select))}" if select else "") + ".png"
    ref = _save(fig, ctx, name)
    note = f" ({left_out} diverged run(s) left out)" if left_out else ""
    return f"![{metric} per layer over epochs]({ref}){note}"


def layer_profile(ctx, metric, at=None, by=None, part="kernel", select=None, log_y=True, title=""):
    """A per-layer metric against layer position (1 = first hidden layer, last = output) at each
    reading, one line per group, mean over seeds with a ±1 sd band: the depth profile."""
    import numpy as np

    plt = _plt()
    m = M.METRICS[metric]
    scale = 100.0 if m.percent else 1.0
    readings = [ctx.reading(r) for r in (at or [None])]
    groups = ctx.groups(by, _runs(ctx, select))
    fig, axes = plt.subplots(1, len(readings), figsize=(5.2 * len(readings) + 0.8, 4.0), squeeze=False)
    rows_text = []
    for ax, reading in zip(axes[0], readings):
        for label, runs in groups.items():
            good = [r for r in runs if r["run"].get("status") != "diverged"] or runs
            rows = rows_of(good, metric, part)
            data = [[ctx.value(r, metric, {"layer": row}, reading) * scale for row in rows]
                    for r in good if all(row in run_rows(r, metric, "all") for row in rows)]
            if not data:
                continue
            _mean_band(ax, np.arange(1, len(rows) + 1), data, f"{label} (n={len(data)})")
            if reading is readings[-1]:
                rows_text.append(f"{label}: {len(rows)} rows ({rows[0]} … {rows[-1]})")
        ax.set_xlabel("layer position (1 = first hidden layer, last = output)")
        _integer_ticks(ax)
        ax.set_ylabel(M.describe(metric) + (" (%)" if m.percent else ""))
        ax.set_title(f"{reading.label}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        if log_y:
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle(title or f"{ctx.cfg.name}: {metric} by layer position, mean ± sd over seeds", fontsize=10)
    name = f"{_slug(metric)}{_part(m, part)}_profile" + (f"_{_slug(str(select))}" if select else "") + ".png"
    ref = _save(fig, ctx, name)
    return f"![{metric} against layer position]({ref})"


# --------------------------------------------------------------------------- single runs


def run_figures(ctx, select=None, figures=RUN_FIGURES, title=""):
    """The single-run diagnostic figures (gradient flow, every step's norm, gradient histograms
    over time, dead units) of the lowest seed among the selected runs."""
    from keras_dyn.report import dynamics_figures as dfig

    runs = [r for r in _runs(ctx, select) if r["run"].get("status") != "diverged"] or _runs(ctx, select)
    run = min(runs, key=lambda r: int(r["run"]["seed"]))
    label = ctx.label(run)
    prefix = _slug(label) + "_"
    grads, acts = run.get("gradients") or {}, run.get("activations") or {}
    made = []
    captions = {
        "gradient_flow": "mean |g| per variable over epochs, and at the last epoch",
        "step_norms": "every training step's kernel-gradient norm, epoch by epoch, with the epoch mean ± sd",
        "gradient_histograms": "epoch-end histograms of log10 |g| per kernel over epochs",
        "dead_units": "dead-unit fraction per hidden layer",
    }
    for name in figures:
        path, ref = ctx.figure(f"{prefix}{name}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == "gradient_flow" and grads.get("epoch"):
            dfig.gradient_flow(grads, path, title=f"Gradient flow: {label}")
        elif name == "step_norms" and grads.get("step_norms"):
            dfig.step_norms(grads, path, title=f"Per-step gradient norm: {label}")
        elif name == "gradient_histograms" and any((grads.get("loghist") or {}).values()):
            dfig.gradient_histograms(grads, path, title=f"Gradient histograms: {label}")
        elif name == "dead_units" and acts.get("epoch"):
            dfig.dead_units(acts, path, title=f"Dead units: {label}")
        else:
            ctx.note(f"run_figures: no data for {name} in `{run['run'].get('name', '?')}`")
            continue
        made.append((name, ref))
    lines = [f"### {title or 'Inside one run'}", "",
             f"One run, `{run['run'].get('name', '?')}` ({label}, seed {run['run']['seed']}): single-run "
             f"figures show what a mean over seeds hides, and are not evidence on their own.", ""]
    for name, ref in made:
        lines += [f"![{captions[name]} ({label}, seed {run['run']['seed']})]({ref})", ""]
    return "\n".join(lines).rstrip()


# --------------------------------------------------------------------------- variance and cv


def variance_decomposition(ctx, a, b, layer="first", at=None, by=None, title=""):
    """A layer's gradient-norm mean, sd, variance and cv for two sides, each compared, and how
    ``var = cv² × mean²`` splits the variance ratio into size (the mean) and relative spread
    (the cv) — which is how a variance and a cv can point opposite ways."""
    from keras_dyn.report.figures import curves_with_seed_bands

    readings = [ctx.reading(r) for r in (at or [None])]
    a_runs, b_runs, a_name, b_name = _two_sides(ctx, a, b, by)
    params = {"layer": layer}
    var_name = M.resolve_layer(a_runs[0], layer, variable=True) if a_runs else layer
    quantities = ("grad_norm", "grad_norm_std", "grad_norm_var", "grad_norm_cv")
    lines = [f"### {title or 'Gradient-norm variance against its coefficient of variation'}", "",
             f"The per-step L2 norm of `{var_name}`'s gradient within each epoch: its mean, sd, variance "
             f"and cv = sd / mean. A = {a_name}, B = {b_name}; mean ± sd over seeds. The variance is "
             f"the square of the sd, so it grows with the square of the gradient's size; the cv is "
             f"the same spread relative to that size.", ""]
    n_comp = n_beyond = 0
    for reading in readings:
        header = ["", *[f"{q} {reading.short}" for q in quantities]]
        rows = [[name, *[ctx.fmt(ctx.summary(runs, q, params, reading), q) for q in quantities]]
                for name, runs in ((a_name, a_runs), (b_name, b_runs))]
        lines += [markdown_table(header, rows), ""]
        for q in quantities:
            comp = ctx.compare(a_runs, b_runs, q, a_params=params, b_params=params, a_at=reading,
                               b_at=reading, expect=None)
            n_comp += 1
            n_beyond += comp.beyond_noise
            lines.append(f"- `{q}` {reading.short}: {ctx.sentence(comp, 'A', 'B', q)}")
        lines += ["", _reconcile(ctx, a_runs, b_runs, a_name, b_name, params, reading), ""]
    if n_comp > 1:
        lines += [stats.chance_note(n_comp, n_beyond), ""]
    figures = []
    for q, what in (("grad_norm_var", "variance"), ("grad_norm_cv", "cv")):
        curves = {}
        for name, runs in ((a_name, a_runs), (b_name, b_runs)):
            curves[name] = [M.series(r, q, params)[1] for r in runs if r["run"].get("status") != "diverged"]
            curves[name] = [c for c in curves[name] if c]
        if not all(curves.values()):
            continue
        path, ref = ctx.figure(f"{_slug(var_name)}_{q}_{_slug(a_name)}_vs_{_slug(b_name)}.png")
        curves_with_seed_bands(curves, path, scale=1.0, ylabel=f"{what} of the per-step norm, {var_name}",
                               title=f"{var_name}: gradient-norm {what} within each epoch")
        figures.append(f"![{var_name} gradient-norm {what} over epochs]({ref})")
    lines += figures
    return "\n".join(lines).rstrip()


def _log_window(result, metric, params, reading) -> float:
    """Mean over the epochs a reading covers of log(metric): one epoch, or the last k."""
    epochs, values = M.series(result, metric, params)
    if not values:
        return math.nan
    if reading.kind == "last_k":
        picked = values[-reading.k:] if len(values) >= reading.k else []
    elif reading.kind == "last":
        picked = values[-1:]
    elif reading.kind == "mean":
        picked = list(values)
    else:
        epoch = reading.epoch if reading.kind == "epoch" else M.best_val_epoch(result)
        by_epoch = dict(zip(epochs, values))
        picked = [by_epoch[epoch]] if epoch in by_epoch else (values[-1:] if epoch > epochs[-1] else [])
    if result["run"].get("status") == "diverged" or not picked or any(not (v > 0) for v in picked):
        return math.nan
    return sum(math.log(v) for v in picked) / len(picked)


def _reconcile(ctx, a_runs, b_runs, a_name, b_name, params, reading) -> str:
    """log(var_A/var_B) = 2 log(cv_A/cv_B) + 2 log(mean_A/mean_B), exactly, per epoch; averaged
    over the epochs of the reading (a geometric mean) and over seeds it stays exact."""
    logs = {}
    for q in ("grad_norm", "grad_norm_var", "grad_norm_cv"):
        for side, runs in (("a", a_runs), ("b", b_runs)):
            values, seeds = per_seed([_log_window(r, q, params, reading) for r in runs],
                                     [int(r["run"]["seed"]) for r in runs])
            logs[q, side] = dict(zip(seeds, values))
    seeds = sorted(s for s in logs["grad_norm", "a"] if all(
        s in logs[key] and math.isfinite(logs[key][s]) for key in logs))
    if not seeds:
        return (f"_Reconciliation {reading.short}: needs the same seeds on both sides with positive "
                f"finite values; there are none._")
    def ratio(q, s):
        return logs[q, "a"][s] - logs[q, "b"][s]
    lv = [ratio("grad_norm_var", s) for s in seeds]
    lc = [ratio("grad_norm_cv", s) for s in seeds]
    lm = [ratio("grad_norm", s) for s in seeds]
    resid = max(abs(v - 2 * c - 2 * m) for v, c, m in zip(lv, lc, lm))
    V, C, Mr = (math.exp(sum(x) / len(x)) for x in (lv, lc, lm))
    over = f"the {reading.k} epochs of the reading and " if reading.kind == "last_k" else ""
    text = (f"**Reconciliation {reading.short}** (ratios A / B, geometric means over {over}seeds "
            f"{', '.join(map(str, seeds))}): variance ×{V:.3g} = (cv ×{C:.3g})² × (mean norm ×{Mr:.3g})², "
            f"i.e. {C ** 2:.3g} × {Mr ** 2:.3g}; the identity holds per run and epoch (here to "
            f"{100 * (math.exp(resid) - 1):.2g} %, the rounding of the results file). ")
    size, spread = 2 * sum(lm) / len(lm), 2 * sum(lc) / len(lc)
    if (V > 1) == (C > 1) or abs(math.log(V)) < 1e-12:
        text += (f"Variance and cv point the same way: {a_name}'s norm varies "
                 f"{'more' if C > 1 else 'less'} from step to step both in absolute terms and relative "
                 f"to its size.")
    else:
        text += (f"They point opposite ways: {a_name}'s gradient is {Mr:.3g}× the size of {b_name}'s, which "
                 f"alone multiplies the variance by {Mr ** 2:.3g}; relative to its size its spread is "
                 f"{'larger' if C > 1 else 'smaller'} (cv ×{C:.3g}, variance factor {C ** 2:.3g}). The raw "
                 f"variance {'rises' if V > 1 else 'falls'} because the size effect "
                 f"({'+' if size > 0 else ''}{size:.2g} in log) outweighs the relative-spread effect "
                 f"({'+' if spread > 0 else ''}{spread:.2g}); the cv is the scale-free measure of dispersion.")
    return text


# --------------------------------------------------------------------------- gradient against update


def gradient_vs_update(ctx, metrics=None, at=None, by=None, select=None, log_y=True, title=""):
    """The raw gradient beside the step the optimiser took, layer by layer, per group.

    Every per-layer metric in ``metrics`` (the first is the baseline, by default the gradient per
    entry ``grad_rms``; then ``update_rms`` and ``update_ratio``) is divided, run by run, by its
    own value at the output kernel, so profiles of different units share one axis: a flat line
    at 1 is a quantity that is the same in every layer. The table gives these relative values
    (mean ± sd over seeds) at the last reading, and the spread across layers (``layer_spread``:
    largest / smallest kernel); each later metric's spread is compared with the first's within
    the same runs (paired by seed): an optimiser whose steps are more uniform across layers than
    its gradients rescales them. The figure draws the relative profiles, one panel per group and
    reading.
    """
    import numpy as np

    plt = _plt()
    metrics = list(metrics or ["grad_rms", "update_rms", "update_ratio"])
    readings = [ctx.reading(r) for r in (at or [None])]
    groups = ctx.groups(by, _runs(ctx, select))
    key = readings[-1]
    ref = "output/kernel"

    def relative(run, metric, row, reading):
        base = ctx.value(run, metric, {"layer": ref}, reading)
        value = ctx.value(run, metric, {"layer": row}, reading)
        return value / base if base and math.isfinite(base) and math.isfinite(value) else math.nan

    header = ["kernel"] + [f"{m} / output — {label}" if len(groups) > 1 else f"{m} / output"
                           for label in groups for m in metrics]
    everyone = [r for runs in groups.values() for r in runs]
    rows = rows_of(everyone, metrics[0], "kernel")
    table = []
    for row in rows:
        cells = [row]
        for runs in groups.values():
            for m in metrics:
                have = [r for r in _having(runs, m, row) if r["run"].get("status") != "diverged"]
                vals, seeds = per_seed([relative(r, m, row, key) for r in have],
                                       [int(r["run"]["seed"]) for r in have])
                s = stats.summarise(vals, seeds=seeds)
                cells.append(_rel_fmt(s) if have else "—")
        table.append(cells)
    spread = ["**spread** (largest / smallest)"]
    for runs in groups.values():
        for m in metrics:
            spread.append(ctx.fmt(ctx.summary(runs, "layer_spread", {"of": m}, key), "layer_spread"))
    table.append(spread)
    lines = [f"### {title or 'The raw gradient beside the step the optimiser took, per layer'}", "",
             f"Each quantity divided by its own value at the output kernel, run by run, at "
             f"{key.label}; mean ± sd over seeds. 1 = the same as at the output layer. "
             + "; ".join(f"`{m}`: {M.METRICS[m].what}" for m in metrics) + ". The last row is "
             f"`layer_spread`: the largest over the smallest value across the kernels.", "",
             markdown_table(header, table), ""]
    n_comp = n_beyond = 0
    for label, runs in groups.items():
        for m in metrics[1:]:
            comp = ctx.compare(runs, runs, "layer_spread", a_params={"of": m}, b_params={"of": metrics[0]},
                               a_at=key, b_at=key, expect="less")
            n_comp += 1
            n_beyond += comp.beyond_noise
            lines.append(f"- {label}: spread of `{m}` (A) against spread of `{metrics[0]}` (B) "
                         f"{key.short}: {ctx.sentence(comp, 'A', 'B', 'layer_spread')}")
    if n_comp > 1:
        lines += ["", stats.chance_note(n_comp, n_beyond)]
    fig, axes = plt.subplots(len(readings), len(groups), figsize=(4.2 * len(groups) + 1.0, 3.6 * len(readings)),
                             sharey=True, squeeze=False)
    colors = plt.cm.tab10(np.arange(len(metrics)))
    for i, reading in enumerate(readings):
        for j, (label, runs) in enumerate(groups.items()):
            ax = axes[i, j]
            good = [r for r in runs if r["run"].get("status") != "diverged"]
            rows_g = rows_of(good, metrics[0], "kernel")
            for m, color in zip(metrics, colors):
                data = [[relative(r, m, row, reading) for row in rows_g] for r in good
                        if all(row in run_rows(r, m, "all") for row in rows_g)]
                if data:
                    _mean_band(ax, np.arange(1, len(rows_g) + 1), data, m, color)
            ax.axhline(1.0, color="grey", lw=0.8, ls=":")
            ax.set_title(f"{label}, {reading.label} (n={len(good)})", fontsize=9)
            ax.set_xlabel("kernel position (1 = first hidden, last = output)")
            _integer_ticks(ax)
            ax.grid(alpha=0.3, which="both")
            if log_y:
                ax.set_yscale("log")
        axes[i, 0].set_ylabel("relative to the output kernel")
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(f"{ctx.cfg.name}: raw gradient against the applied step, per layer (mean ± sd over seeds)",
                 fontsize=10)
    name = "gradient_vs_update" + (f"_{_slug(str(select))}" if select else "") + ".png"
    lines += ["", f"![gradient and update per layer, relative to the output kernel]({_save(fig, ctx, name)})"]
    return "\n".join(lines).rstrip()


def _rel_fmt(s) -> str:
    if s.n == 0:
        return "n/a"
    text = f"{s.mean:.3g}" + (f" ± {s.sd:.2g}" if s.n > 1 else "")
    return text + (f" ({s.n_missing} not finite)" if s.n_missing else "")
