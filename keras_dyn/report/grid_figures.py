"""Figures for grid searches: a heatmap of accuracy over two grid keys."""

from __future__ import annotations

import math
from pathlib import Path


def accuracy_heatmaps(panels: dict[str, dict[tuple, float]], path, *, xkey: str, ykey: str,
                      xvalues, yvalues, title: str = "", sd: dict[str, dict[tuple, float]] | None = None):
    """One heatmap per panel (e.g. validation and test accuracy), cells annotated in percent.

    Args:
        panels: panel title -> {(x value, y value): mean accuracy in [0, 1]}.
        path: the PNG to write (folders are created).
        xkey, ykey: axis labels (the grid keys).
        xvalues, yvalues: axis values, in order.
        title: figure title.
        sd: optional panel title -> {(x, y): sd}, shown under the mean.

    Example:
        >>> accuracy_heatmaps({"test accuracy": {(32, 32): 0.85, (32, 64): 0.86}}, "h.png",
        ...                   xkey="units_2", ykey="units_1", xvalues=[32, 64], yvalues=[32])
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n + 0.8, 4.2), squeeze=False)
    for ax, (name, cells) in zip(axes[0], panels.items()):
        grid = np.full((len(yvalues), len(xvalues)), np.nan)
        for (x, y), value in cells.items():
            grid[list(yvalues).index(y), list(xvalues).index(x)] = value * 100
        finite = grid[np.isfinite(grid)]
        vmin, vmax = (finite.min(), finite.max()) if finite.size else (0, 1)
        if vmin == vmax:
            vmin, vmax = vmin - 0.5, vmax + 0.5
        image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
        for i, y in enumerate(yvalues):
            for j, x in enumerate(xvalues):
                if math.isfinite(grid[i, j]):
                    text = f"{grid[i, j]:.2f}"
                    spread = (sd or {}).get(name, {}).get((x, y))
                    if spread is not None and spread > 0:
                        text += f"\n±{spread * 100:.2f}"
                    dark = grid[i, j] < vmin + 0.6 * (vmax - vmin)
                    ax.text(j, i, text, ha="center", va="center", fontsize=8,
                            color="white" if dark else "black")
        ax.set_xticks(range(len(xvalues)), [str(v) for v in xvalues])
        ax.set_yticks(range(len(yvalues)), [str(v) for v in yvalues])
        ax.set_xlabel(xkey)
        ax.set_ylabel(ykey)
        ax.set_title(f"{name} (%)")
        fig.colorbar(image, ax=ax, shrink=0.8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
