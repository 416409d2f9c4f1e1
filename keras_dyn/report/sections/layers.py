"""Per-layer findings sections: a table of a per-layer metric (with comparisons between two sides), its curves over epochs, its profile across layers, and the single-run figures (gradient flow, step norms, histograms, dead units).
"""

from __future__ import annotations

from keras_dyn import stats
from keras_dyn.report import metrics as M
from keras_dyn.report.findings import markdown_table
from keras_dyn.report.sections.figures import pyplot, slug

RUN_FIGURES = ("gradient_flow", "step_norms", "gradient_histograms", "dead_units")


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


def runs_having(runs, metric, row) -> list[dict]:
    return [r for r in runs if row in run_rows(r, metric, "all")]


def selected_runs(ctx, select):
    return ctx.select(select) if select else list(ctx.results)


def two_sides(ctx, a, b, by):
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


def save_figure(fig, ctx, name) -> str:
    path, ref = ctx.figure(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return ref


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
        a_runs, b_runs, a_name, b_name = two_sides(ctx, a, b, by)
        groups = {a_name: a_runs, b_name: b_runs}
    else:
        groups = ctx.groups(by, selected_runs(ctx, select))
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
                    have = runs_having(runs, metric, row)
                    cells.append(ctx.fmt(ctx.summary(have, metric, params, reading), metric) if have else "—")
        if a is not None:
            ha, hb = runs_having(groups[a_name], key_metric, row), runs_having(groups[b_name], key_metric, row)
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
                have = [r for r in runs_having(runs, key_metric, row) if kernel in run_rows(r, key_metric, "all")]
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
    few = [c for c in comparisons if c[2].verdict != "no data" and c[2].n_seeds < stats.MIN_SEEDS]
    if few:
        lines.append(f"- {len(few)} of these rest on fewer than {stats.MIN_SEEDS} seeds a side: no verdict "
                     f"is possible there.")
    if n > 1:
        lines.append("- " + stats.chance_note(n, len(beyond)))
    return lines


def style_axes(ax, xlabel, log_y):
    """The x label, whole-number ticks, a light grid and (optionally) a log y axis."""
    ax.set_xlabel(xlabel)
    integer_ticks(ax)
    ax.grid(alpha=0.3, which="both")
    if log_y:
        ax.set_yscale("log")


def integer_ticks(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def mean_band(ax, x, data, label, color=None, style="-"):
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

    plt = pyplot()
    m = M.METRICS[metric]
    scale = 100.0 if m.percent else 1.0
    groups = ctx.groups(by, selected_runs(ctx, select))
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
            series = [M.series(r, m, {"layer": row}) for r in runs_having(good, metric, row)]
            series = [s for s in series if s[1]]
            if not series:
                continue
            n = min(len(v) for _, v in series)
            x = np.asarray(series[0][0][:n])
            mean_band(ax, x, [np.asarray(v[:n], float) * scale for _, v in series], row, color)
        ax.set_title(f"{label} (n={len(good)})", fontsize=9)
        style_axes(ax, "epoch", log_y)
    axes[0, 0].set_ylabel(M.describe(metric) + (" (%)" if m.percent else ""))
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=palette[row], marker="o", ms=2.5, label=row) for row in every_row]
    axes[0, -1].legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(title or f"{ctx.cfg.name}: {metric} per layer, mean ± sd over seeds", fontsize=10)
    name = f"{slug(metric)}{_part(m, part)}_per_layer" + (f"_{slug(str(select))}" if select else "") + ".png"
    ref = save_figure(fig, ctx, name)
    note = f" ({left_out} diverged run(s) left out)" if left_out else ""
    return f"![{metric} per layer over epochs]({ref}){note}"


def layer_profile(ctx, metric, at=None, by=None, part="kernel", select=None, log_y=True, title=""):
    """A per-layer metric against layer position (1 = first hidden layer, last = output) at each
    reading, one line per group, mean over seeds with a ±1 sd band: the depth profile."""
    import numpy as np

    plt = pyplot()
    m = M.METRICS[metric]
    scale = 100.0 if m.percent else 1.0
    readings = [ctx.reading(r) for r in (at or [None])]
    groups = ctx.groups(by, selected_runs(ctx, select))
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
            mean_band(ax, np.arange(1, len(rows) + 1), data, f"{label} (n={len(data)})")
            if reading is readings[-1]:
                rows_text.append(f"{label}: {len(rows)} rows ({rows[0]} … {rows[-1]})")
        ax.set_xlabel("layer position (1 = first hidden layer, last = output)")
        integer_ticks(ax)
        ax.set_ylabel(M.describe(metric) + (" (%)" if m.percent else ""))
        ax.set_title(f"{reading.label}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        if log_y:
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle(title or f"{ctx.cfg.name}: {metric} by layer position, mean ± sd over seeds", fontsize=10)
    name = f"{slug(metric)}{_part(m, part)}_profile" + (f"_{slug(str(select))}" if select else "") + ".png"
    ref = save_figure(fig, ctx, name)
    return f"![{metric} against layer position]({ref})"


def run_figures(ctx, select=None, figures=RUN_FIGURES, title=""):
    """The single-run diagnostic figures (gradient flow, every step's norm, gradient histograms
    over time, dead units) of the lowest seed among the selected runs."""
    from keras_dyn.report import dynamics_figures as dfig

    runs = [r for r in selected_runs(ctx, select) if r["run"].get("status") != "diverged"] or selected_runs(ctx, select)
    run = min(runs, key=lambda r: int(r["run"]["seed"]))
    label = ctx.label(run)
    prefix = slug(label) + "_"
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
