"""The Setup block of a lab log, written from the runs themselves: data sizes, model, optimiser, epochs, seeds, and what was measured.
"""

from __future__ import annotations

from pathlib import Path

from keras_dyn.config.names import short


def setup_markdown(cfg, results) -> str:
    """The Setup block, generated from the config as run and the runs' results."""
    r0 = results[0]["run"] if results else {}
    d, m, t = cfg.data, cfg.model, cfg.training
    lines = []
    sizes = (f"{r0.get('n_train', 0):,} training / {r0.get('n_val', 0):,} validation / "
             f"{r0.get('n_test', 0):,} test examples" if r0 else "sizes known after the first run")
    norm = {"zero_one": "[0, 1]", "minus_one_one": "[−1, 1]"}[d.normalize]
    names = list(cfg.swept.get("dataset", (d.dataset,)))
    synthetic = [n for n in names if n in ("circle", "nested_rings")]
    scaled = (f"; inputs scaled to {norm}" if len(synthetic) < len(names) else
              "; 2-D inputs as drawn (not rescaled)")
    data = f"- Data: {' and '.join(names)}, {sizes}{' each' if len(names) > 1 else ''}{scaled}"
    if synthetic:
        data += (f"; {d.n_samples:,} points drawn per set (seed {d.split_seed}) and a separate test "
                 f"set (seed {d.split_seed + 1}), input noise {d.noise:g}")
    noise_values = cfg.swept.get("label_noise", (d.label_noise,))
    if any(v > 0 for v in noise_values):
        data += (f"; label noise {', '.join(f'{v:.0%}' for v in noise_values)} ({d.label_noise_kind}, "
                 f"{'training and validation labels' if d.label_noise_validation and d.validation_split > 0 else 'training labels only'}, "
                 f"seed {d.label_noise_seed})")
    lines.append(data + ".")
    widths = sorted({tuple(r["run"]["hidden"]) for r in results}) if results else [tuple(m.hidden)]
    params = sorted({int(r["run"]["params"]) for r in results}) if results else []
    if len(widths) <= 4:
        arch = "; ".join(" → ".join(["in", *map(str, w), "out"]) for w in widths)
        count = f"; {', '.join(f'{p:,}' for p in params)} parameters" if params else ""
    else:
        arch = f"{len(widths)} architectures from the grid (hidden widths {', '.join('-'.join(map(str, w)) for w in widths)})"
        count = f"; {params[0]:,} to {params[-1]:,} parameters" if params else ""
    output = ("sigmoid output (one unit, binary cross-entropy)" if m.output == "sigmoid"
              else "softmax output (sparse categorical cross-entropy)")
    lines.append(f"- Model: {arch}; activation {m.activation}, initialiser {m.initializer}, {output}{count}"
                 f"{remedies_text(cfg)}.")
    opt = {"sgd": "SGD", "sgd_momentum": f"SGD with momentum {t.momentum:g}", "adam": "Adam",
           "adamw": f"AdamW (weight decay {t.weight_decay:g})", "rmsprop": "RMSprop"}[t.optimizer]
    sched = {"none": "constant", "step": f"step decay ×{t.gamma:g} every {t.step_size} epochs",
             "cosine": "cosine decay", "exponential": f"exponential decay ×{t.gamma:g} per epoch"}[t.scheduler]
    lines.append(f"- Training: {opt}, learning rate {t.learning_rate:g} ({sched}), batch {t.batch_size}, "
                 f"{t.epochs} epochs, seeds {', '.join(map(str, t.seeds))}"
                 + (f" (steps per epoch: {r0.get('steps_per_epoch')})" if r0 else "")
                 + early_stopping_text(t.early_stopping, results) + ".")
    if cfg.cases:
        lines.append(f"- Cases ({len(cfg.cases)}, each overriding the values above"
                     + (", run with every grid point" if cfg.grid else "") + "): "
                     + "; ".join("{" + ", ".join(f"{k} = {short(v)}" for k, v in case.items()) + "}"
                                 for case in cfg.cases) + ".")
    if cfg.grid or cfg.cases:
        grid = ("- Grid: " + "; ".join(f"{k} ∈ {{{', '.join(short(v) for v in vs)}}}"
                                       for k, vs in cfg.grid.items()) + " — ") if cfg.grid else "- Plan: "
        plan = (f"{len(cfg.cases)} case(s) × {cfg.n_points // len(cfg.cases)} grid point(s) = "
                f"{cfg.n_points} configuration(s)" if cfg.cases and cfg.grid
                else f"{len(cfg.cases)} case(s)" if cfg.cases else f"{cfg.n_points} configuration(s)")
        lines.append(grid + plan + f" × {len(t.seeds)} seed(s)"
                     + (", through keras-tuner's GridSearch (chosen on validation accuracy)"
                        if cfg.lab and cfg.lab.runner == "grid" else "") + ".")
    measured = ["loss and accuracy per epoch (train, validation, test; test only reported)"]
    if cfg.log.gradients:
        measured.append(f"gradient statistics per layer every step ({cfg.log.gradient_mode})")
    if cfg.log.activations:
        measured.append(f"activation statistics on {cfg.log.probe_size} probe examples every {cfg.log.every} epoch(s)")
    if cfg.log.weights:
        measured.append(f"weight norms, update norms ‖Δw‖ and update ratios ‖Δw‖/‖w‖ every {cfg.log.every} epoch(s)")
    if cfg.probes.noisy_labels and any(v > 0 for v in noise_values):
        measured.append("memorisation of the noisy labels every epoch")
    if cfg.probes.shifts and d.dataset in ("mnist", "fashion_mnist"):
        measured.append(f"test accuracy under {', '.join(cfg.probes.shifts)} at severities "
                        f"{', '.join(map(str, cfg.probes.shift_severities))} every {cfg.probes.shift_every} epoch(s) "
                        f"({cfg.probes.shift_test_size:,} test images)")
    if cfg.probes.drift:
        measured.append(f"representation drift on {cfg.probes.drift_probe_size} training examples every epoch")
    if cfg.log.step_loss:
        measured.append("the training loss of every step (raw)")
    if cfg.probes.decision_grid:
        measured.append(f"the model's output on a {cfg.probes.decision_grid}×{cfg.probes.decision_grid} grid "
                        f"of the input plane after the last epoch")
    if cfg.probes.numpy_twin:
        which = (f"seeds {', '.join(map(str, cfg.probes.numpy_twin_seeds))}" if cfg.probes.numpy_twin_seeds
                 else "every run")
        measured.append(f"a NumPy twin ({which}): the run's batches, in a fixed order drawn from the seed, "
                        f"replayed on keras_dyn's from-scratch MLP from the same initial weights")
    lines.append("- Measured: " + "; ".join(measured) + ".")
    lines.append(f"- Experiment file: `{Path(cfg.source).name}`; run folders `{cfg.name}/<run>/` "
                 f"(`tensorboard --logdir modellogs`).")
    return "\n".join(lines)


def remedies_text(cfg) -> str:
    """The model's dropout, L2, normalisation and skip connections ("" for a plain MLP); a swept
    key shows its values."""
    m, swept = cfg.model, cfg.swept
    values = lambda key, own: swept.get(key, (own,))  # noqa: E731
    parts = []
    for rate in values("dropout", m.dropout):
        if isinstance(rate, (list, tuple)) or rate:
            parts.append(f"dropout {short(rate)}")
    for l2 in values("l2", m.l2):
        if l2:
            parts.append(f"L2 {l2:g} on every kernel")
    for norm in values("normalization", m.normalization):
        if norm != "none":
            parts.append(f"{norm} normalisation before each hidden activation")
    if any(values("residual", m.residual)):
        parts.append("residual connections" + (" (swept)" if "residual" in swept else ""))
    return ("; " + ", ".join(parts)) if parts else ""


def early_stopping_text(stop: dict, results) -> str:
    """Early stopping's settings and, from the runs, where it stopped and what it restored."""
    if not stop:
        return ""
    text = (f"; early stopping on {stop['monitor']} (patience {stop['patience']}, min_delta "
            f"{stop['min_delta']:g}{', best weights restored' if stop['restore_best'] else ''})")
    tables = [r.get("early_stopping") for r in results if r.get("early_stopping")]
    if tables:
        stopped = sorted(t["stopped_epoch"] for t in tables if t.get("stopped_epoch"))
        text += (f": {len(stopped)} of {len(tables)} run(s) stopped early"
                 + (f", after epoch {stopped[0]}" if len(set(stopped)) == 1 else
                    f", after epochs {stopped[0]} to {stopped[-1]}" if stopped else ""))
    return text
