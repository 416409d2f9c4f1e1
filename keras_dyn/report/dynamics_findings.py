"""Findings for the training-dynamics labs (exp7 gradient baseline, exp8 depth scaling).

Both builders read the ``gradients`` / ``activations`` tables that
:class:`keras_dyn.callbacks.GradientStatistics` and ``ActivationStatistics`` put in each run's
results, summarise them over seeds (mean ± sd) and state every comparison with
:func:`keras_dyn.report.tables.compare`, so a difference smaller than the seed spread is called
"within seed noise". Figures come from :mod:`keras_dyn.report.dynamics_figures`.
"""

from __future__ import annotations

import numpy as np

from keras_dyn.report import dynamics_figures as dfig
from keras_dyn.report.figures import curves_with_seed_bands
from keras_dyn.report.results import group_by_point
from keras_dyn.report.tables import compare, markdown_table, summarise


def _stat(run, var, key, epoch):
    return float(run["gradients"]["stats"][var][key][epoch])


def _fmt(summary, digits=3, sci=True):
    if summary.n == 0:
        return "n/a"
    if sci:
        text = f"{summary.mean:.{digits}g}"
        if summary.n > 1:
            text += f" ± {summary.sd:.{digits - 1}g}"
        return text
    return summary.fmt(scale=1.0, digits=digits, unit="")


def _seeds(results):
    return ", ".join(str(s) for s in sorted({r["run"]["seed"] for r in results}))


def _data_line(results):
    r = results[0]["run"]
    return (f"{r.get('dataset', '?')}, {r.get('n_train', 0):,} training / {r.get('n_val', 0):,} "
            f"validation / {r.get('n_test', 0):,} test examples, {r.get('steps_per_epoch', '?')} "
            f"steps per epoch")


def _claim(label, cmp, a_name, b_name, ratio=False):
    if ratio:
        d = f"{cmp.a.mean:.3g} vs {cmp.b.mean:.3g} (ratio {cmp.a.mean / cmp.b.mean:.3g})" \
            if cmp.b.mean else f"{cmp.a.mean:.3g} vs {cmp.b.mean:.3g}"
    else:
        d = f"{cmp.a.mean:.3g} vs {cmp.b.mean:.3g}"
    if cmp.a.n < 2 or cmp.b.n < 2:
        how = "a single seed, no verdict possible"
    else:
        how = (f"difference {cmp.diff:+.3g}, must exceed {cmp.threshold:.3g} (2 standard errors and "
               f"the seed spread) to count")
    return f"- {label}: {a_name} {d} {b_name}; {how}: **{cmp.verdict}**."


# --------------------------------------------------------------------------- exp7


def gradient_baseline_findings(cfg, results: list[dict], figure_dir, figure_ref: str = "") -> str:
    """Per-layer gradient statistics of one configuration over seeds (lab exp7)."""
    if not all(r.get("gradients", {}).get("stats") for r in results):
        return "No gradient statistics in these runs (`log.gradients = false`?)."
    g0 = results[0]["gradients"]
    variables = g0["variables"]
    kernels = [v for v in variables if v.endswith("/kernel")]
    first, last = g0["first_kernel"], g0["last_kernel"]
    n_ep = min(len(r["gradients"]["epoch"]) for r in results)
    E = n_ep - 1
    lines = [f"Mean ± sd over {len(results)} seed(s) ({_seeds(results)}); {_data_line(results)}. "
             f"Every number below comes from the gradients the optimiser applied at every step "
             f"(`grad/...` tags), aggregated per epoch: *norm mean* is the mean of the per-step L2 "
             f"norms, *cv* their standard deviation divided by that mean (the dispersion within "
             f"the epoch), *mean \\|g\\|* the mean absolute entry.", ""]
    acc = summarise([r["final"]["test_accuracy"] for r in results if "test_accuracy" in r.get("final", {})])
    if acc.n:
        lines += [f"Test accuracy after {n_ep} epochs: {acc.fmt()}.", ""]

    header = ["variable", "norm mean, ep 1", f"norm mean, ep {n_ep}", "cv, ep 1", f"cv, ep {n_ep}",
              f"mean \\|g\\|, ep {n_ep}", f"zero entries, ep {n_ep}"]
    rows = []
    for v in variables:
        cells = [v]
        for key, e in (("norm_mean", 0), ("norm_mean", E), ("norm_cv", 0), ("norm_cv", E),
                       ("mean_abs_mean", E)):
            cells.append(_fmt(summarise([_stat(r, v, key, e) for r in results])))
        cells.append(summarise([_stat(r, v, "zero_frac_mean", E) for r in results]).fmt(digits=1))
        rows.append(cells)
    lines += [markdown_table(header, rows), ""]

    lines += ["### What the numbers say", ""]
    for e, when in ((0, "epoch 1"), (E, f"epoch {n_ep}")):
        c = compare([_stat(r, first, "norm_mean", e) for r in results],
                    [_stat(r, last, "norm_mean", e) for r in results], expect="less")
        lines.append(_claim(f"early layer smaller than the classifier ({when}, norm mean)", c,
                            first, last, ratio=True))
    c = compare([_stat(r, first, "mean_abs_mean", E) for r in results],
                [_stat(r, last, "mean_abs_mean", E) for r in results], expect="less")
    lines.append(_claim(f"the same per entry (epoch {n_ep}, mean |g|)", c, first, last, ratio=True))
    c = compare([_stat(r, last, "norm_var", E) for r in results],
                [_stat(r, first, "norm_var", E) for r in results], expect="greater")
    lines.append(_claim(f"classifier's step-to-step variance larger (epoch {n_ep}, variance of the norm)",
                        c, last, first, ratio=True))
    c = compare([_stat(r, last, "norm_cv", E) for r in results],
                [_stat(r, first, "norm_cv", E) for r in results], expect="greater")
    lines.append(_claim(f"... and relative to its size (epoch {n_ep}, cv)", c, last, first))
    for k in kernels:
        b = k[: -len("kernel")] + "bias"
        if b not in variables:
            continue
        c = compare([_stat(r, b, "norm_var", E) for r in results],
                    [_stat(r, k, "norm_var", E) for r in results], expect="less")
        c2 = compare([_stat(r, b, "norm_cv", E) for r in results],
                     [_stat(r, k, "norm_cv", E) for r in results], expect="less")
        lines.append(_claim(f"bias variance below kernel variance, {k.split('/')[0]} (epoch {n_ep})",
                            c, b, k, ratio=True))
        lines.append(_claim(f"... relative to size (cv), {k.split('/')[0]}", c2, b, k))
    if n_ep > 1:
        c = compare([_stat(r, first, "norm_cv", E) for r in results],
                    [_stat(r, first, "norm_cv", 0) for r in results], expect="greater")
        lines.append(_claim(f"within-epoch dispersion of {first} grows from epoch 1 to {n_ep} (cv)",
                            c, f"epoch {n_ep}", "epoch 1"))
    lines += ["", "A *ratio* is between seed means. The variance of a norm scales with the norm "
              "squared, so a layer with larger gradients has a larger variance almost by "
              "construction; the cv (variance made relative) is the fairer comparison.", ""]

    # figures from the first seed's run, plus the norm curves over seeds
    lines += ["### Figures", ""]
    run0 = sorted(results, key=lambda r: r["run"]["seed"])[0]
    made = dfig.dynamics_figures(run0, figure_dir)
    captions = {
        "gradient_flow.png": "mean |g| per layer over epochs (left) and at the last epoch (right)",
        "step_norms.png": "every step's kernel-gradient norm, epoch by epoch: the spread within each epoch",
        "gradient_histograms.png": "epoch-end histograms of log10|g| per kernel over epochs",
        "dead_units.png": "dead-unit fraction per hidden layer",
    }
    for p in made:
        lines.append(f"![{captions.get(p.name, p.stem)} (seed {run0['run']['seed']})]({figure_ref}{p.name})")
        lines.append("")
    curves = {k.split("/")[0]: [r["gradients"]["stats"][k]["norm_mean"] for r in results]
              for k in kernels}
    p = curves_with_seed_bands(curves, figure_dir / "kernel_norm_over_epochs.png", scale=1.0,
                               ylabel="mean per-step kernel-gradient norm",
                               title="Kernel-gradient norm per layer (mean ± sd over seeds)")
    lines += [f"![kernel-gradient norm per layer over epochs]({figure_ref}{p.name})", ""]
    acts = [r for r in results if r.get("activations", {}).get("epoch")]
    if acts:
        a0 = acts[0]["activations"]
        dead = {layer: summarise([r["activations"][layer]["dead_frac"][-1] for r in acts])
                for layer in a0["layers"]}
        lines += ["Dead units (ReLU units silent on every probe example) at the last recorded epoch: "
                  + ", ".join(f"{k} {v.fmt(digits=1)}" for k, v in dead.items()) + ".", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- exp8


def depth_scaling_findings(cfg, results: list[dict], figure_dir, figure_ref: str = "") -> str:
    """Attenuation and early-layer variance against depth (lab exp8)."""
    if not all(r.get("gradients", {}).get("stats") for r in results):
        return "No gradient statistics in these runs (`log.gradients = false`?)."
    groups = group_by_point(results)
    by_depth = {}
    for runs in groups.values():
        by_depth[len(runs[0]["run"]["hidden"])] = runs
    depths = sorted(by_depth)
    n_ep = min(len(r["gradients"]["epoch"]) for r in results)
    E = n_ep - 1
    lines = [f"Mean ± sd over seeds ({_seeds(results)}) per depth (hidden layers); "
             f"{_data_line(results)}. *Attenuation* = mean per-step norm of the first hidden "
             f"layer's kernel gradient divided by that of the output layer's (below 1: the first "
             f"layer receives smaller gradients). *cv* = sd / mean of the per-step norms within "
             f"the epoch.", ""]
    header = ["depth", "parameters", "attenuation, ep 1", f"attenuation, ep {n_ep}",
              "first-layer norm, ep 1", "first-layer cv, ep 1", f"first-layer cv, ep {n_ep}",
              "first-layer norm variance, ep 1", f"test accuracy, ep {n_ep}"]
    rows = []

    def att(runs, e):
        return [float(r["gradients"]["attenuation"][e]) for r in runs]

    def first(runs, key, e):
        return [_stat(r, r["gradients"]["first_kernel"], key, e) for r in runs]

    for d in depths:
        runs = by_depth[d]
        rows.append([str(d), f"{runs[0]['run']['params']:,}", _fmt(summarise(att(runs, 0))),
                     _fmt(summarise(att(runs, E))), _fmt(summarise(first(runs, "norm_mean", 0))),
                     _fmt(summarise(first(runs, "norm_cv", 0))), _fmt(summarise(first(runs, "norm_cv", E))),
                     _fmt(summarise(first(runs, "norm_var", 0))),
                     summarise([r["final"].get("test_accuracy", np.nan) for r in runs]).fmt()])
    lines += [markdown_table(header, rows), "", "### What the numbers say", ""]
    if len(depths) >= 2:
        lo, hi = depths[0], depths[-1]
        for e, when in ((0, "epoch 1"), (E, f"epoch {n_ep}")):
            c = compare(att(by_depth[hi], e), att(by_depth[lo], e), expect="less")
            lines.append(_claim(f"stronger attenuation at depth {hi} than {lo} ({when})", c,
                                f"depth {hi}", f"depth {lo}"))
        c = compare(first(by_depth[hi], "norm_cv", 0), first(by_depth[lo], "norm_cv", 0), expect="greater")
        lines.append(_claim("larger early-layer dispersion (cv) with depth (epoch 1)", c,
                            f"depth {hi}", f"depth {lo}"))
        c = compare(first(by_depth[hi], "norm_var", 0), first(by_depth[lo], "norm_var", 0), expect="greater")
        lines.append(_claim("larger early-layer norm variance with depth (epoch 1)", c,
                            f"depth {hi}", f"depth {lo}"))
        if n_ep > 1:
            for d in depths:
                runs = by_depth[d]
                c = compare(first(runs, "norm_mean", E), first(runs, "norm_mean", 0), expect="less")
                lines.append(_claim(f"depth {d}: first-layer gradient norm decays from epoch 1 to "
                                    f"{n_ep}", c, f"epoch {n_ep}", "epoch 1", ratio=True))
    lines += ["", "### Figures", ""]
    groups_g = {f"depth {d}": [r["gradients"] for r in by_depth[d]] for d in depths}
    p = dfig.depth_profile(groups_g, figure_dir / "depth_profile_epoch1.png", epoch=0,
                           title="Kernel-gradient norm by layer, epoch 1 (mean ± sd over seeds)")
    lines += [f"![kernel-gradient norm by layer position, epoch 1]({figure_ref}{p.name})", ""]
    curves = {f"depth {d}": [r["gradients"]["attenuation"] for r in by_depth[d]] for d in depths}
    p = curves_with_seed_bands(curves, figure_dir / "attenuation_over_epochs.png", scale=1.0,
                               ylabel="first / last kernel-gradient norm",
                               title="Attenuation over epochs (mean ± sd over seeds)")
    lines += [f"![attenuation over epochs]({figure_ref}{p.name})", ""]
    curves = {f"depth {d}": [r["gradients"]["stats"][r["gradients"]["first_kernel"]]["norm_cv"]
                             for r in by_depth[d]] for d in depths}
    p = curves_with_seed_bands(curves, figure_dir / "first_layer_cv_over_epochs.png", scale=1.0,
                               ylabel="cv of the per-step norms",
                               title="First-layer gradient dispersion within each epoch")
    lines += [f"![first-layer cv over epochs]({figure_ref}{p.name})", ""]
    deepest = sorted(by_depth[depths[-1]], key=lambda r: r["run"]["seed"])[0]
    for path in dfig.dynamics_figures(deepest, figure_dir, prefix=f"depth{depths[-1]}_"):
        lines += [f"![{path.stem.replace('_', ' ')} (depth {depths[-1]}, seed "
                  f"{deepest['run']['seed']})]({figure_ref}{path.name})", ""]
    return "\n".join(lines)
