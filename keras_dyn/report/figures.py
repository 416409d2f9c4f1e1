"""Figures every lab can use (matplotlib, Agg backend, PNG), drawn from results files."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib


def use_headless_backend():
    """Matplotlib's Agg backend (no display needed), except inside a Jupyter kernel: there the
    kernel's own backend (inline) stays, which draws off-screen too (every figure here is saved
    and closed), so the notebook's own plots still show after keras_dyn has drawn its figures."""
    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")


use_headless_backend()
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def curves_with_seed_bands(groups: dict[str, list[list[float]]], path, *, ylabel: str,
                           title: str, scale: float = 100.0, xlabel: str = "epoch",
                           epochs=None) -> Path:
    """One line per group: the mean over seeds against epoch, with a ±1 sd band.

    Args:
        groups: label -> list of per-seed curves (each a list over the recorded epochs).
        path: PNG file to write.
        epochs: the epoch numbers of the curves' items (a results table's ``epoch`` list);
            default 1, 2, ...: a table recorded after every epoch.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for label, curves in groups.items():
        length = min(len(c) for c in curves)
        data = np.array([c[:length] for c in curves], dtype=float) * scale
        x = np.arange(1, length + 1) if epochs is None else np.asarray(epochs[:length])
        m = data.mean(axis=0)
        line, = ax.plot(x, m, marker="o", ms=3, label=f"{label} (n={len(curves)})")
        if len(curves) > 1:
            s = data.std(axis=0, ddof=1)
            ax.fill_between(x, m - s, m + s, color=line.get_color(), alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
