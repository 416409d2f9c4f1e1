"""Figures (PNG, matplotlib Agg) for the memorisation and robustness probes.

Every function takes plain data (arrays, or the dicts read from ``results.toml`` files) and a
path, writes one PNG and returns the path. Nothing here touches a live model.

- :func:`shift_examples_grid`: what each shift does at each severity (a visual check).
- :func:`noisy_label_curves`: training accuracy on the noisy labels, clean-subset accuracy and
  test accuracy over epochs, one colour per noise level (plus the corrupted subset against
  noisy and true labels).
- :func:`shift_bars`: accuracy under each shift and severity for several conditions (e.g.
  clean-trained against noise-trained), from values already read (any reading).

Runs are given as ``{label: [results_dict, ...]}`` (one results dict per seed); curves show
the mean over seeds with a band of ± one standard deviation when there are several seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    from keras_dyn.report.figures import use_headless_backend

    use_headless_backend()
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def shift_examples_grid(x, path, kinds=None, severities=(1, 2, 3), n_examples=3, seed=0,
                        value_range=(0.0, 1.0)):
    """Save a grid: one row per (example, shift), columns = original then each severity.

    Args:
        x: images ``(N, H, W)``; the first ``n_examples`` are shown.
        path: PNG to write.
        kinds: shift names (default: all of :data:`keras_dyn.data.shifts.SHIFTS`).
        severities: severities shown as columns.
        seed, value_range: passed to :func:`keras_dyn.data.shifts.apply_shift`.
    """
    from keras_dyn.data.shifts import SHIFTS, apply_shift

    plt = _plt()
    kinds = tuple(kinds or SHIFTS)
    x = np.asarray(x)[:n_examples]
    rows = [(kind, i) for i in range(len(x)) for kind in kinds]
    cols = (0,) + tuple(severities)
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(1.3 * len(cols), 1.3 * len(rows)),
                             squeeze=False)
    shifted = {(kind, s): apply_shift(x, kind, s, seed=seed, value_range=value_range)
               for kind in kinds for s in severities}
    for r, (kind, i) in enumerate(rows):
        for c, s in enumerate(cols):
            img = x[i] if s == 0 else shifted[(kind, s)][i]
            ax = axes[r, c]
            ax.imshow(img, cmap="gray", vmin=value_range[0], vmax=value_range[1])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("original" if s == 0 else f"severity {s}", fontsize=8)
            if c == 0:
                ax.set_ylabel(kind, fontsize=7)
    fig.suptitle("Input shifts by severity", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


# ---- helpers for results dicts


def _get(res, section, key):
    """``res[section][key]``; ``key`` may be a tuple path into nested tables."""
    node = res.get(section, {})
    for part in (key if isinstance(key, tuple) else (key,)):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, list) else None


def _series(results_list, section, key):
    """Stack ``results[section][key]`` over seeds -> (mean, sd, epochs) or None."""
    arrays = []
    for res in results_list:
        values = _get(res, section, key)
        if values:
            arrays.append(np.asarray(values, dtype=float))
    if not arrays:
        return None
    n = min(len(a) for a in arrays)
    stack = np.stack([a[:n] for a in arrays])
    epochs = np.arange(1, n + 1)
    for res in results_list:
        ep = res.get(section, {}).get("epoch")
        if ep and len(ep) >= n:
            epochs = np.asarray(ep[:n])
            break
    sd = stack.std(axis=0, ddof=1) if len(stack) > 1 else np.zeros(n)
    return np.nanmean(stack, axis=0), sd, epochs


def _line(ax, series, label, color, style="-"):
    if series is None:
        return
    mean, sd, epochs = series
    ax.plot(epochs, mean, style, color=color, label=label, lw=1.5)
    if np.any(sd > 0):
        ax.fill_between(epochs, mean - sd, mean + sd, color=color, alpha=0.15, lw=0)


def noisy_label_curves(runs, path, results_key="noisy_labels", title="Training on noisy labels"):
    """Left: train accuracy on the noisy labels (dashed), clean-subset accuracy (dotted) and test
    accuracy (solid) per noise level. Right: corrupted subset against noisy labels (memorised,
    solid) and against true labels (dashed).

    Args:
        runs: ``{label: [results, ...]}``, e.g. ``{"noise 0.4": [...]}``; ``results`` are dicts
            read from ``results.toml`` holding a ``[noisy_labels]`` table (runs without noise
            may lack it; then ``[epochs].train_accuracy`` and ``test_accuracy`` are used).
    """
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, results_list) in enumerate(runs.items()):
        color = colors[i % len(colors)]
        train = _series(results_list, results_key, "train_acc") or _series(results_list, "epochs", "train_accuracy")
        test = _series(results_list, results_key, "test_acc") or _series(results_list, "epochs", "test_accuracy")
        clean = _series(results_list, results_key, "clean_acc")
        _line(ax1, train, f"{label}: train (labels trained on)", color, "--")
        _line(ax1, clean, f"{label}: clean subset", color, ":")
        _line(ax1, test, f"{label}: test", color, "-")
        mem = _series(results_list, results_key, "memorised_acc")
        true = _series(results_list, results_key, "corrupted_true_acc")
        _line(ax2, mem, f"{label}: vs noisy labels", color, "-")
        _line(ax2, true, f"{label}: vs true labels", color, "--")
    ax1.set(xlabel="epoch", ylabel="accuracy", title=title, ylim=(0, 1.02))
    ax2.set(xlabel="epoch", ylabel="accuracy", title="Corrupted training examples", ylim=(0, 1.02))
    ax1.legend(fontsize=7)
    if ax2.lines:
        ax2.legend(fontsize=7)
    ax1.grid(alpha=0.3)
    ax2.grid(alpha=0.3)
    return _save(fig, path)


def shift_bars(values, kinds, severities, path, reference=None, title="Accuracy under input shift",
               ylabel="test accuracy"):
    """Grouped bars: one group per shift kind, one bar per (condition, severity), the mean over
    seeds with ± sd error bars; a dashed line per condition marks its unshifted accuracy.

    Args:
        values: ``{label: {(kind, severity): (mean, sd)}}`` (fractions; sd NaN or 0 for one seed).
        kinds, severities: the order of the groups and of the bars within a group.
        reference: optional ``{label: unshifted accuracy}``.
    """
    plt = _plt()
    n_bars = len(values) * len(severities)
    width = 0.8 / max(n_bars, 1)
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(kinds)), 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ci, (label, cells) in enumerate(values.items()):
        for si, sev in enumerate(severities):
            mean = np.array([cells[(k, sev)][0] for k in kinds], dtype=float)
            sd = np.array([cells[(k, sev)][1] for k in kinds], dtype=float)
            sd = np.where(np.isfinite(sd), sd, 0.0)
            offset = (ci * len(severities) + si) * width - 0.4 + width / 2
            alpha = 1.0 - 0.55 * si / max(1, len(severities) - 1)
            ax.bar(np.arange(len(kinds)) + offset, mean, width, yerr=sd, capsize=2,
                   color=colors[ci % len(colors)], alpha=alpha, label=f"{label}, s{sev}")
        if reference and np.isfinite(reference.get(label, np.nan)):
            ax.axhline(float(reference[label]), color=colors[ci % len(colors)], ls="--", lw=1)
    ax.set_xticks(np.arange(len(kinds)))
    ax.set_xticklabels(kinds, fontsize=8)
    ax.set(ylabel=ylabel, ylim=(0, 1.02), title=title)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)
