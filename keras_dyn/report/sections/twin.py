"""The NumPy-twin section: do Keras and keras_dyn's from-scratch NumPy MLP, started from the same
weights and fed the same batches, trace the same run?"""

from __future__ import annotations

import math

from keras_dyn.report import metrics as M
from keras_dyn.report.findings import short_number, markdown_table
from keras_dyn.report.sections.figures import pyplot, slug


def numpy_twin(ctx, tolerance=1e-3, by=None, title=""):
    """Per group: the twin runs, the largest relative loss difference over every epoch of every
    run, the largest per-step difference, the weights' largest relative difference at the last
    epoch, and the epochs in lockstep; one verdict against ``tolerance`` (deterministic: every
    epoch of every twin run must be within it); a figure of both engines' loss curves (lowest
    seed per group) and of the per-epoch relative difference of every twin run."""
    import numpy as np

    plt = pyplot()
    twin_runs = [r for r in ctx.results if r.get("numpy_twin")]
    head = f"### {title or 'Two engines, one run: Keras and the NumPy twin'}\n\n"
    if not twin_runs:
        return head + "_No run recorded a NumPy twin._"
    rows, worst, over = [], 0.0, []
    for label, runs in ctx.groups(by, twin_runs).items():
        max_loss = [M.value(r, "twin_max_loss_rel_diff") for r in runs]
        max_step = [M.value(r, "twin_max_step_loss_rel_diff") for r in runs]
        w_last = [M.value(r, "twin_weight_rel_diff", at=M.Reading("last")) for r in runs]
        lock = [M.value(r, "twin_lockstep_epochs") for r in runs]
        finite = [v for v in max_loss if math.isfinite(v)]
        worst = max([worst, *finite]) if finite else math.inf
        over += [r for r, v in zip(runs, max_loss) if not v < tolerance]
        rows.append([label, ", ".join(str(r["run"]["seed"]) for r in runs), short_number(max(max_loss)),
                     short_number(max(max_step)), short_number(max(w_last)), f"{min(lock):g}–{max(lock):g}"])
    n_epochs = sum(len(r["numpy_twin"]["epoch"]) for r in twin_runs)
    dtypes = sorted({str(r["numpy_twin"].get("dtype", "float32")) for r in twin_runs})
    verdict = ("within tolerance" if not over else "tolerance exceeded")
    lines = [head + f"Every twin run copies the Keras model's initial weights into "
             f"`keras_dyn.numpy_mlp.NumpyMLP`, computing in {' and '.join(dtypes)} as the Keras "
             f"model does, then takes one NumPy step (its "
             f"own forward pass, backpropagation and optimiser) after each Keras step, on the same "
             f"batch; the two are never re-synchronised. The loss of each engine's weights on the "
             f"training set is scored by one float64 formula at every epoch's end.\n",
             markdown_table(["configuration", "seeds", "max loss rel. diff (every epoch)",
                             "max step-loss rel. diff", "weights rel. diff @last",
                             f"epochs in lockstep (weights < {M.TWIN_LOCKSTEP:g})"], rows), "",
             f"**Tolerance: relative training-loss difference < {tolerance:g} at every epoch of every "
             f"twin run.** {len(twin_runs)} run(s), {n_epochs} epoch(s); the largest difference is "
             f"{short_number(worst)}; {len(over)} run(s) exceed it"
             + (f" ({', '.join(r['run']['name'] for r in over[:5])}{', …' if len(over) > 5 else ''})"
                if over else "") + f". **Agreement: {verdict}.**", ""]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    for label, runs in ctx.groups(by, twin_runs).items():
        r = min(runs, key=lambda r: r["run"]["seed"])
        t = r["numpy_twin"]
        line, = ax1.plot(t["epoch"], t["keras_loss"], lw=1.5, label=f"{label} (Keras)")
        ax1.plot(t["epoch"], t["numpy_loss"], ls="--", lw=1.5, color=line.get_color())
        for rr in runs:
            diffs = np.maximum(np.asarray(rr["numpy_twin"]["loss_rel_diff"], float), 1e-12)
            ax2.plot(rr["numpy_twin"]["epoch"], diffs, color=line.get_color(), alpha=0.6, lw=1)
    ax2.axhline(tolerance, color="k", ls=":", label=f"tolerance {tolerance:g}")
    ax1.set_title("training loss: Keras (solid) and NumPy twin (dashed), lowest seed")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss on the training set")
    ax1.legend(fontsize=7, ncol=2)
    ax2.set_yscale("log")
    ax2.set_title("relative loss difference, every twin run")
    ax2.set_xlabel("epoch")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    ref = ctx.save_figure(fig, f"numpy_twin_{slug(title) or 'curves'}.png")
    lines.append(f"![Keras and the NumPy twin: loss curves and their relative difference]({ref})")
    return "\n".join(lines)
