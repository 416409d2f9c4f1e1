"""Training-dynamics figures (matplotlib, Agg backend, PNG) drawn from a run's results file.

Every function takes the plain dicts a ``results.toml`` holds, never a live model:

- ``gradients`` (written by :class:`keras_dyn.callbacks.GradientStatistics`): per-epoch
  aggregates per variable, the per-step norms ``step_norms[var][epoch]`` (kept in the results
  file precisely so these figures need no event files) and the epoch-end ``log10|g|``
  histograms ``loghist[var][epoch]`` on ``loghist_edges``;
- ``activations`` (:class:`keras_dyn.callbacks.ActivationStatistics`).

Epochs on the x axes are the tables' ``epoch`` numbers as they are (epoch e = after e epochs,
0 = before training; see :mod:`keras_dyn.callbacks.base`).

Functions:

- :func:`gradient_flow`: mean ``|g|`` per layer over epochs (log scale) beside a bar chart of the
  last epoch, kernels solid and biases dashed;
- :func:`step_norms`: every step's gradient norm per layer, epoch by epoch, so the spread within
  each epoch shows, with the epoch means on top;
- :func:`dead_units`: dead-unit fraction per hidden layer over epochs;
- :func:`gradient_histograms`: per layer, the epoch-end histogram of ``log10|g|`` as one column
  per epoch (fastai's "colourful dimension": colour = share of the layer's entries in the bin).

The findings section ``run_figures`` (:mod:`keras_dyn.report.sections.dynamics`) draws them for one
run; depth profiles and per-layer curves over seeds are the sections ``layer_profile`` and
``layer_curves``.
"""

from __future__ import annotations

from pathlib import Path

from keras_dyn.report.figures import use_headless_backend

use_headless_backend()
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _layers(grads, kind="kernel"):
    return [v for v in grads["variables"] if v.endswith("/" + kind)]


def gradient_flow(grads: dict, path, title: str = "Gradient flow") -> Path:
    """Mean |g| per layer over epochs (log y) and a per-layer bar chart of the last epoch."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110,
                                 gridspec_kw={"width_ratios": [3, 2]})
    epochs = np.asarray(grads["epoch"])
    kernels = _layers(grads, "kernel")
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(len(kernels), 1)))
    for color, var in zip(colors, kernels):
        layer = var.split("/")[0]
        ax.plot(epochs, grads["stats"][var]["mean_abs_mean"], marker="o", ms=3, color=color,
                label=f"{layer} kernel")
        bias = f"{layer}/bias"
        if bias in grads["stats"]:
            ax.plot(epochs, grads["stats"][bias]["mean_abs_mean"], ls="--", color=color, alpha=0.7,
                    label=f"{layer} bias")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean |g| over the epoch's steps")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    names = [v.split("/")[0] for v in kernels]
    last_k = [grads["stats"][v]["mean_abs_mean"][-1] for v in kernels]
    last_b = [grads["stats"].get(f"{n}/bias", {}).get("mean_abs_mean", [np.nan])[-1] for n in names]
    x = np.arange(len(names))
    bx.bar(x - 0.2, last_k, width=0.4, label="kernel", color=colors)
    bx.bar(x + 0.2, last_b, width=0.4, label="bias", color=colors, alpha=0.45)
    bx.set_xticks(x, names, rotation=30)
    bx.set_yscale("log")
    bx.set_title(f"last epoch ({int(epochs[-1])})")
    bx.set_ylabel("mean |g|")
    bx.legend(fontsize=8)
    return _save(fig, path)


def step_norms(grads: dict, path, title: str = "Per-step gradient norm", kind: str = "kernel") -> Path:
    """Every step's norm per layer against epoch (jittered within the epoch), epoch means on top."""
    if "step_norms" not in grads:
        raise ValueError("the results hold no per-step norms (GradientStatistics(keep_step_norms=False))")
    variables = _layers(grads, kind)
    fig, axes = plt.subplots(len(variables), 1, figsize=(8, 1.9 * len(variables) + 0.6), dpi=110,
                             sharex=True, squeeze=False)
    for ax, var in zip(axes[:, 0], variables):
        per_epoch = grads["step_norms"][var]
        for e, values in zip(grads["epoch"], per_epoch):
            values = np.asarray(values, float)
            x = e + np.linspace(-0.38, 0.38, len(values))  # the epoch's steps in order
            ax.plot(x, values, ".", ms=1.5, alpha=0.35, color="tab:blue")
        means = grads["stats"][var]["norm_mean"]
        stds = grads["stats"][var]["norm_std"]
        ex = np.asarray(grads["epoch"][:len(means)])
        ax.errorbar(ex, means, yerr=stds, color="black", marker="o", ms=3, capsize=3, lw=1,
                    label="epoch mean ± sd")
        ax.set_ylabel(var, fontsize=8)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(title)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("epoch (dots: each training step of that epoch, in order)")
    return _save(fig, path)


def dead_units(acts: dict, path, title: str = "Dead units") -> Path:
    """Dead-unit fraction per hidden layer over the recorded epochs."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    epochs = np.asarray(acts["epoch"])
    for layer in acts["layers"]:
        ax.plot(epochs, np.asarray(acts[layer]["dead_frac"]) * 100, marker="o", ms=3, label=layer)
    ax.set_xlabel("epoch (0 = at initialisation)" if len(epochs) and epochs[0] == 0 else "epoch")
    ax.set_ylabel("dead units (% of the layer, on the probe batch)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def gradient_histograms(grads: dict, path, title: str = "Gradient histograms over time",
                        kind: str = "kernel") -> Path:
    """Per layer an image: x = epoch, y = log10|g| bin, colour = share of entries in the bin."""
    variables = [v for v in _layers(grads, kind) if grads["loghist"].get(v)]
    edges = np.asarray(grads["loghist_edges"], float)
    fig, axes = plt.subplots(1, len(variables), figsize=(2.6 * len(variables) + 1, 3.8), dpi=110,
                             sharey=True, squeeze=False)
    image = None
    for ax, var in zip(axes[0], variables):
        counts = np.asarray(grads["loghist"][var], float).T  # [bins, recorded epochs]
        share = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
        epochs = np.asarray(grads["epoch"][:counts.shape[1]])  # consecutive: recorded every epoch
        image = ax.imshow(np.log10(share + 1e-4), origin="lower", aspect="auto", cmap="magma",
                          extent=(epochs[0] - 0.5, epochs[-1] + 0.5, edges[0], edges[-1]),
                          vmin=-4, vmax=0)
        ax.set_title(var, fontsize=8)
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("log10 |g|")
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), label="log10 share of entries", shrink=0.8)
    fig.suptitle(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
