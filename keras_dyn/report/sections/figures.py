"""Figure sections: curves with seed bands, metrics against a grid key, heatmaps over two grid keys."""

from __future__ import annotations

import math

from keras_dyn.report import metrics as M


def pyplot():
    from keras_dyn.report.figures import use_headless_backend

    use_headless_backend()
    import matplotlib.pyplot as plt

    return plt


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()


def _draw_groups(ax, ctx, metric, groups, params=None) -> int:
    """Mean over seeds per epoch of ``metric``, one line per group, ±1 sd band; returns how many
    diverged runs were left out."""
    import numpy as np

    m = M.METRICS[metric]
    scale = 100.0 if m.percent else 1.0
    left_out = 0
    for label, runs in groups.items():
        series = []
        for r in runs:
            if r["run"].get("status") == "diverged":
                left_out += 1
                continue
            try:
                epochs, values = M.series(r, m, params or {})
            except M.MetricError:
                continue
            series.append((epochs, values))
        if not series:
            continue
        n = min(len(v) for _, v in series)
        x = np.asarray(series[0][0][:n])
        data = np.array([v[:n] for _, v in series], float) * scale
        mean = data.mean(axis=0)
        line, = ax.plot(x, mean, marker="o", ms=3, label=f"{label} (n={len(series)})")
        if len(series) > 1:
            sd = data.std(axis=0, ddof=1)
            ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("epoch (after e epochs of training)")
    ax.set_ylabel(M.describe(metric, params) + (" (%)" if m.percent else ""))
    ax.grid(alpha=0.3)
    return left_out


def curves(ctx, metric="test_accuracy", by=None, params=None, title="", log_y=False, hlines=None):
    """Mean over seeds per epoch, one line per group, ±1 sd band; diverged runs left out.
    ``hlines`` (label = [y, ...]) draws labelled horizontal reference lines (dashed), in the
    metric's units (a fraction for percent metrics, drawn in percent like the curves)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    left_out = _draw_groups(ax, ctx, metric, ctx.groups(by), params)
    scale = 100.0 if M.METRICS[metric].percent else 1.0
    for i, (label, ys) in enumerate((hlines or {}).items()):
        for j, y in enumerate(ys):
            ax.axhline(float(y) * scale, ls=(0, (4, 2 + i)), lw=0.9, color=str(0.15 + 0.15 * (i % 4)),
                       label=label if j == 0 else None)
    name = M.describe(metric, params)
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title or f"{ctx.cfg.name}: {name}, mean ± sd over seeds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    ref = ctx.save_figure(fig, f"{slug(name)}_vs_epochs.png")
    note = f" ({left_out} diverged run(s) left out)" if left_out else ""
    return f"![{name} against epochs]({ref}){note}"


def sweep(ctx, x, metrics=("test_accuracy",), at=None, by=None, params=None, title="", log_y=False, log_x=False):
    """Metrics at one reading against a numeric grid key ``x`` (depth, width, batch size, ...):
    one panel per metric, one line per group of the other keys (``by``; default every grid key
    but ``x``), the mean over seeds with a ±1 sd band and every seed's value as a dot; diverged
    runs and non-finite values left out and counted. ``log_x``: a log-scaled x axis (learning
    rates), ticked at the grid's values."""
    import numpy as np

    plt = pyplot()
    reading = ctx.reading(at)
    xs = sorted(ctx.cfg.swept[x])
    others = [k for k in ctx.grid_keys(by) if k != x]
    groups = ctx.groups(others) if others else {"all runs": list(ctx.results)}
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.8 * len(metrics) + 0.6, 4.2), dpi=110, squeeze=False)
    left_out = 0
    for ax, metric in zip(axes[0], metrics):
        scale = 100.0 if M.METRICS[metric].percent else 1.0
        for label, runs in groups.items():
            means, sds, at_x = [], [], []
            for xv in xs:
                values = [ctx.value(r, metric, params, reading) for r in ctx.select({x: xv}, runs)]
                finite = [v * scale for v in values if math.isfinite(v)]
                left_out += len(values) - len(finite) if metric == metrics[0] else 0
                if not finite:
                    continue
                ax.plot([xv] * len(finite), finite, ".", ms=3, alpha=0.35, color="0.4")
                at_x.append(xv)
                means.append(float(np.mean(finite)))
                sds.append(float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0)
            if not at_x:
                continue
            mean, sd = np.asarray(means), np.asarray(sds)
            line, = ax.plot(at_x, mean, marker="o", ms=4, label=label)
            ax.fill_between(at_x, mean - sd, mean + sd, color=line.get_color(), alpha=0.2)
        if log_x:
            ax.set_xscale("log")
            ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
        ax.set_xlabel(x)
        ax.set_ylabel(M.describe(metric, params) + (" (%)" if scale != 1.0 else ""))
        ax.set_title(f"{M.describe(metric, params)} ({reading.label})", fontsize=9)
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title or f"{ctx.cfg.name}: against {x}, mean ± sd over seeds (dots: seeds)", fontsize=10)
    fig.tight_layout()
    ref = ctx.save_figure(fig, f"{'_'.join(slug(m) for m in metrics)}_vs_{slug(x)}.png")
    note = f" ({left_out} run(s) without a finite value left out)" if left_out else ""
    head = f"### {title}\n\n" if title else ""
    return f"{head}![{', '.join(metrics)} against {x}]({ref}){note}"


def schedule(ctx, metric="val_accuracy", by=None, select=None, params=None, title=""):
    """The learning-rate schedule: the rate in force at the end of each epoch (log scale; the
    ``[epochs] learning_rate`` list of each run), one line per group, beside ``metric`` over the
    same epochs, so a drop of the rate can be read against what the run did next."""
    plt = pyplot()
    runs = ctx.select(select) if select else None
    groups = ctx.groups(by, runs)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.4), dpi=110)
    left_out = _draw_groups(ax, ctx, "learning_rate", groups)
    ax.set_yscale("log")
    ax.set_ylabel("learning rate at the end of the epoch")
    ax.set_title("learning-rate schedule", fontsize=10)
    ax.legend(fontsize=7)
    _draw_groups(bx, ctx, metric, groups, params)
    name = M.describe(metric, params)
    bx.set_title(f"{name}, mean ± sd over seeds", fontsize=10)
    bx.legend(fontsize=7)
    fig.suptitle(title or f"{ctx.cfg.name}: learning-rate schedules", fontsize=11)
    fig.tight_layout()
    ref = ctx.save_figure(fig, f"learning_rate_schedule_{slug(name)}"
                          + (f"_{slug(str(select))}" if select else "") + ".png")
    lines = [f"### {title or 'Learning-rate schedules'}", "",
             "Left: the learning rate in force at the end of each epoch (the rate the next epoch starts "
             "with; a step schedule that decays after epoch k shows its drop at epoch k; a rate of 0, as "
             "at the end of a cosine schedule, is off the log scale). Right: "
             f"`{name}` over the same epochs.", "",
             f"![learning rate and {name} against epochs]({ref})"
             + (f" ({left_out} diverged run(s) left out)" if left_out else "")]
    return "\n".join(lines)


def heatmap(ctx, x, y, metrics=("val_accuracy", "test_accuracy"), at=None, title=""):
    """One panel per metric: the mean over seeds over two grid keys, sd under each cell."""
    import numpy as np

    plt = pyplot()
    reading = ctx.reading(at)
    xs, ys = list(ctx.cfg.swept[x]), list(ctx.cfg.swept[y])
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics) + 0.8, 4.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        scale = 100.0 if M.METRICS[metric].percent else 1.0
        grid = np.full((len(ys), len(xs)), np.nan)
        sd = np.full_like(grid, np.nan)
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                runs = ctx.select({x: xv, y: yv})
                s = ctx.summary(runs, metric, None, reading)
                if s.n:
                    grid[i, j], sd[i, j] = s.mean * scale, s.sd * scale
        finite = grid[np.isfinite(grid)]
        vmin, vmax = (finite.min(), finite.max()) if finite.size else (0, 1)
        if vmin == vmax:
            vmin, vmax = vmin - 0.5, vmax + 0.5
        image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
        for i in range(len(ys)):
            for j in range(len(xs)):
                if math.isfinite(grid[i, j]):
                    text = f"{grid[i, j]:.2f}" + (f"\n±{sd[i, j]:.2f}" if sd[i, j] > 0 else "")
                    dark = grid[i, j] < vmin + 0.6 * (vmax - vmin)
                    ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
        ax.set_xticks(range(len(xs)), [str(v) for v in xs])
        ax.set_yticks(range(len(ys)), [str(v) for v in ys])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{metric.replace('_', ' ')} {reading.short}" + (" (%)" if scale == 100 else ""))
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(title or f"{ctx.cfg.name}: mean over seeds")
    fig.tight_layout()
    # one file per reading, so two heatmaps of the same keys at different readings both survive
    when = "" if reading.kind == "last" else "_" + slug(reading.short)
    ref = ctx.save_figure(fig, f"heatmap_{slug(x)}_{slug(y)}{when}.png", dpi=110)
    return f"![{' and '.join(metrics)} over {x} × {y}]({ref})"
