"""Sections drawn from one run per cell: decision boundaries on the input plane, and the raw
per-step training loss."""

from __future__ import annotations

from keras_dyn.report.sections.figures import pyplot, slug


def _cells(ctx, rows, cols, select):
    runs = ctx.select(select or {})
    row_values = list(ctx.cfg.grid[rows]) if rows else [None]
    col_values = list(ctx.cfg.grid[cols]) if cols else [None]
    seed = min((r["run"]["seed"] for r in runs), default=None)
    cell = {}
    for r in runs:
        if r["run"]["seed"] != seed:
            continue
        p = ctx.point(r)
        cell[(p.get(rows) if rows else None, p.get(cols) if cols else None)] = r
    return row_values, col_values, seed, cell


def _name(key, value):
    if key is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = "-".join(map(str, value))
    return f"{key} {value}"


def decision_boundaries(ctx, rows=None, cols=None, select=None, title=""):
    """A panel per cell (``rows`` × ``cols`` grid keys) of the lowest seed: the model's P(class 1)
    on the input plane at the last epoch (``[decision_surface]``), the 0.5 contour, the test
    points on top coloured by their class."""
    import numpy as np

    plt = pyplot()
    row_values, col_values, seed, cell = _cells(ctx, rows, cols, select)
    fig, axes = plt.subplots(len(row_values), len(col_values), squeeze=False,
                             figsize=(2.6 * len(col_values) + 0.6, 2.6 * len(row_values) + 0.4), dpi=100)
    drawn = 0
    image = None
    for i, rv in enumerate(row_values):
        for j, cv in enumerate(col_values):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            r = cell.get((rv, cv))
            surf = (r or {}).get("decision_surface")
            if not surf or not surf.get("p"):
                ax.set_title(f"{_name(cols, cv)}: no surface", fontsize=8)
                continue
            n = int(surf["size"])
            p = np.asarray(surf["p"][-1], float).reshape(n, n)
            x0, x1, y0, y1 = surf["extent"]
            image = ax.imshow(p, origin="lower", extent=(x0, x1, y0, y1), cmap="RdBu_r", vmin=0, vmax=1,
                              aspect="auto")
            gx, gy = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
            if np.nanmin(p) < 0.5 < np.nanmax(p):
                ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=0.8)
            pts = np.asarray(surf["points"], float)
            lab = np.asarray(surf["labels"], int)
            ax.scatter(pts[:, 0], pts[:, 1], c=np.where(lab == 1, "#b2182b", "#2166ac"), s=4,
                       edgecolors="white", linewidths=0.2)
            acc = r.get("final", {}).get("test_accuracy")
            ax.set_title(f"{_name(cols, cv)}" + (f" · test {100 * acc:.1f}%" if acc is not None else ""),
                         fontsize=8)
            if j == 0 and rows:
                ax.set_ylabel(_name(rows, rv), fontsize=9)
            drawn += 1
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="P(class 1)")
    fig.suptitle(title or f"{ctx.cfg.name}: decision surfaces at the last epoch (seed {seed})", fontsize=10)
    ref = ctx.save_figure(fig, f"decision_boundaries_{slug(rows or '')}_{slug(cols or '')}.png")
    head = f"### {title}\n\n" if title else ""
    return (head + f"The model's output P(class 1) over the input plane after the last epoch "
            f"(red: class 1, blue: class 0; black line: 0.5), with the test points; one run per panel "
            f"(seed {seed}), {drawn} panel(s). One seed's surface shows what the network does, not "
            f"how much it varies between seeds.\n\n![decision surfaces]({ref})")


def step_loss_curves(ctx, rows=None, by=None, select=None, title=""):
    """The training loss of every step (raw, from ``[step_loss]``), one panel per value of
    ``rows``, one line per group of ``by`` (the lowest seed of each)."""
    import numpy as np

    plt = pyplot()
    runs = ctx.select(select or {})
    seed = min((r["run"]["seed"] for r in runs), default=None)
    runs = [r for r in runs if r["run"]["seed"] == seed and r.get("step_loss")]
    row_values = list(ctx.cfg.grid[rows]) if rows else [None]
    fig, axes = plt.subplots(len(row_values), 1, squeeze=False, figsize=(9, 3.2 * len(row_values)), dpi=110)
    for ax, rv in zip(axes[:, 0], row_values):
        chosen = [r for r in runs if rows is None or ctx.point(r).get(rows) == rv]
        for label, group in ctx.groups(by, chosen).items():
            r = group[0]
            losses = [v for row in r["step_loss"]["loss"] for v in row]
            ax.plot(np.arange(1, len(losses) + 1), losses, lw=0.6, alpha=0.85, label=label)
        ax.set_title(_name(rows, rv) or "every run", fontsize=9)
        ax.set_ylabel("mini-batch loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel("optimiser step")
    fig.suptitle(title or f"every step's training loss, unfiltered (seed {seed})", fontsize=10)
    fig.tight_layout()
    ref = ctx.save_figure(fig, f"step_loss_{slug(rows or 'all')}.png")
    head = f"### {title}\n\n" if title else ""
    return (head + f"Each step's mini-batch loss as Keras computed it (no smoothing, no selection; "
            f"seed {seed}). The oscillation around the trend is what `loss_volatility` measures."
            f"\n\n![every step's training loss]({ref})")
