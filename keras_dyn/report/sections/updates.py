"""Sections on what the optimiser does with the gradient: the seed-to-seed variance of a layer's gradient against its within-epoch cv (:func:`variance_decomposition`), and the raw gradient beside the applied step per layer (:func:`gradient_vs_update`).
"""

from __future__ import annotations

import math

from keras_dyn import stats
from keras_dyn.report import metrics as M
from keras_dyn.report.context import per_seed
from keras_dyn.report.findings import markdown_table
from keras_dyn.report.sections.figures import pyplot, slug
from keras_dyn.report.sections.layers import (mean_band, rows_of, run_rows, runs_having,
                                              save_figure, selected_runs, style_axes, two_sides)


def variance_decomposition(ctx, a, b, layer="first", at=None, by=None, title=""):
    """A layer's gradient-norm mean, sd, variance and cv for two sides, each compared, and how
    ``var = cv² × mean²`` splits the variance ratio into size (the mean) and relative spread
    (the cv) — which is how a variance and a cv can point opposite ways."""
    from keras_dyn.report.figures import curves_with_seed_bands

    readings = [ctx.reading(r) for r in (at or [None])]
    a_runs, b_runs, a_name, b_name = two_sides(ctx, a, b, by)
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
        path, ref = ctx.figure(f"{slug(var_name)}_{q}_{slug(a_name)}_vs_{slug(b_name)}.png")
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

    plt = pyplot()
    metrics = list(metrics or ["grad_rms", "update_rms", "update_ratio"])
    readings = [ctx.reading(r) for r in (at or [None])]
    groups = ctx.groups(by, selected_runs(ctx, select))
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
                have = [r for r in runs_having(runs, m, row) if r["run"].get("status") != "diverged"]
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
                    mean_band(ax, np.arange(1, len(rows_g) + 1), data, m, color)
            ax.axhline(1.0, color="grey", lw=0.8, ls=":")
            ax.set_title(f"{label}, {reading.label} (n={len(good)})", fontsize=9)
            style_axes(ax, "kernel position (1 = first hidden, last = output)", log_y)
        axes[i, 0].set_ylabel("relative to the output kernel")
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(f"{ctx.cfg.name}: raw gradient against the applied step, per layer (mean ± sd over seeds)",
                 fontsize=10)
    name = "gradient_vs_update" + (f"_{slug(str(select))}" if select else "") + ".png"
    lines += ["", f"![gradient and update per layer, relative to the output kernel]({save_figure(fig, ctx, name)})"]
    return "\n".join(lines).rstrip()


def _rel_fmt(s) -> str:
    if s.n == 0:
        return "n/a"
    text = f"{s.mean:.3g}" + (f" ± {s.sd:.2g}" if s.n > 1 else "")
    return text + (f" ({s.n_missing} not finite)" if s.n_missing else "")
