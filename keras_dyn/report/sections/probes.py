"""Probe sections: memorisation of noisy labels, and accuracy under test-time input shifts.

Values come through :mod:`keras_dyn.report.metrics`, comparisons through ``ctx.compare``
(:mod:`keras_dyn.stats`, paired by seed). Groups are formed by ``by`` (default: every grid key);
the shift table compares two sides given as selectors. Nothing here names a grid key.
"""

from __future__ import annotations

import math

from keras_dyn import stats
from keras_dyn.report import metrics as M
from keras_dyn.report.findings import markdown_table
from keras_dyn.report.sections.figures import slug


def _has_noisy(run) -> bool:
    return bool((run.get("noisy_labels") or {}).get("memorised_acc"))


def _seeds(runs) -> str:
    return ", ".join(map(str, sorted({int(r["run"]["seed"]) for r in runs})))


def _best_val_epochs(runs) -> str:
    epochs = []
    for r in runs:
        try:
            epochs.append(M.best_val_epoch(r))
        except M.MetricError:
            pass
    if not epochs:
        return "—"
    return stats.summarise(epochs).fmt(scale=1, digits=1, unit="") + f" (runs: {', '.join(map(str, epochs))})"


# --------------------------------------------------------------------------- noisy labels


def noisy_labels(ctx, by=None, at=None, memorise=None, title=""):
    """Accuracy on the labels trained on and on the test set, per group; on the corrupted subset,
    accuracy against the noisy labels (memorised) and the true labels, and the epochs it takes to
    memorise (metric ``first_epoch`` of ``memorised_frac``); the memorisation signature per noisy
    group (noisy-label accuracy up after the best-validation epoch, true-label accuracy down), and
    the curves."""
    from keras_dyn.report.probe_figures import noisy_label_curves

    readings = [ctx.reading(r) for r in (at or ["best_val", "last"])]
    groups = ctx.groups(by)
    has_val = ctx.cfg.data.validation_split > 0
    lines = [f"### {title or 'What is learnt and what is memorised'}", "",
             f"Mean ± sd over seeds ({_seeds(ctx.results)}). Training accuracy is measured at the epoch's "
             f"end on a fixed training subset, on the labels trained on (noisy where there is noise), like "
             f"the corrupted-subset numbers (after the epoch, in inference mode). Readings: "
             + ", ".join(r.label for r in readings)
             + (" (the best-validation epoch is chosen on the clean validation set, never on test data)"
                if any(r.kind == "best_val" for r in readings) else "") + ".", ""]
    header = ["group"] + (["best-validation epoch"] if has_val else [])
    for r in readings:
        header += [f"train acc {r.short}", f"test acc {r.short}", f"gap {r.short}"]
    rows = []
    for label, runs in groups.items():
        row = [label] + ([_best_val_epochs(runs)] if has_val else [])
        for r in readings:
            for metric in ("train_accuracy", "test_accuracy", "train_test_gap"):
                row.append(ctx.fmt(ctx.summary(runs, metric, None, r), metric))
        rows.append(row)
    lines += [markdown_table(header, rows), ""]

    noisy = {label: runs for label, runs in groups.items() if runs and all(_has_noisy(r) for r in runs)}
    if not noisy:
        lines.append("No group has corrupted training labels, so there is nothing memorised to measure.")
    else:
        targets = []
        for extra in (memorise if isinstance(memorise, list) else [memorise or {}]) or [{}]:
            mem = {"of": "memorised_frac", "threshold": 0.5, **extra}
            if "fraction" in mem:
                mem.pop("threshold", None)
            targets.append(mem)
        header = ["group"]
        for r in readings:
            header += [f"memorised {r.short}", f"true-label acc {r.short}", f"clean-subset acc {r.short}"]
        for mem in targets:
            target = (f"{mem['threshold']:.0%} of the corrupted examples" if "threshold" in mem
                      else f"{mem['fraction']:.0%} of its own final memorised fraction")
            header.append(f"epochs to memorise {target}")
        rows = []
        for label, runs in noisy.items():
            row = [label]
            for r in readings:
                for metric in ("memorised_frac", "corrupted_true_acc", "clean_train_acc"):
                    row.append(ctx.fmt(ctx.summary(runs, metric, None, r), metric))
            row += [_epochs_to(ctx, runs, mem) for mem in targets]
            rows.append(row)
        lines += ["On the corrupted training examples (*memorised* = predicted as the wrong label they are "
                  "trained on; *true-label acc* = predicted as their real class):", "",
                  markdown_table(header, rows), ""]
        lines += _signature(ctx, noisy, has_val)
    fig = noisy_label_curves(groups, ctx.figure("noisy_label_curves.png")[0],
                             title=f"{ctx.cfg.name}: accuracy per epoch (mean ± sd over seeds)")
    lines += ["", f"![accuracy on the labels trained on, clean subset, test; corrupted subset against noisy "
                  f"and true labels]({ctx.figure(fig.name)[1]})"]
    return "\n".join(lines).rstrip()


def _epochs_to(ctx, runs, params) -> str:
    values = [ctx.value(r, "first_epoch", params) for r in runs]
    never = sum(1 for v in values if v == math.inf)
    s = stats.summarise([v for v in values if math.isfinite(v)])
    text = s.fmt(scale=1, digits=1, unit="") if s.n else "never"
    if never and s.n:
        text += f" (never within the epochs in {never} of {len(values)} runs)"
    elif never:
        text += f" ({never} of {len(values)} runs)"
    return text


def _signature(ctx, noisy, has_val) -> list[str]:
    """Per noisy group: memorised fraction up and true-label accuracy down, from an early reading
    (the best-validation epoch, else epoch 1) to the last."""
    early = M.Reading("best_val") if has_val else M.Reading("epoch", epoch=1)
    last = M.Reading("last")
    lines = [f"**Memorisation signature** ({early.label} against the last epoch, per noisy group):", ""]
    n = n_beyond = 0
    for label, runs in noisy.items():
        up = ctx.compare(runs, runs, "memorised_frac", a_at=last, b_at=early, expect="greater")
        down = ctx.compare(runs, runs, "corrupted_true_acc", a_at=last, b_at=early, expect="less")
        n += 2
        n_beyond += up.beyond_noise + down.beyond_noise
        both = up.verdict == "supported" and down.verdict == "supported"
        lines += [f"- {label}: memorised fraction, {ctx.sentence(up, 'last', early.short.lstrip('@'), 'memorised_frac')}",
                  f"- {label}: true-label accuracy on the corrupted examples, "
                  f"{ctx.sentence(down, 'last', early.short.lstrip('@'), 'corrupted_true_acc')}",
                  f"- {label}: signature (both of the above supported): **{'seen' if both else 'not shown'}**."]
    if n > 1:
        lines += ["", stats.chance_note(n, n_beyond)]
    return lines


# --------------------------------------------------------------------------- shifts


SHIFT_COLUMNS = (("shift_accuracy", "acc"), ("shift_kept", "kept"), ("shift_kept_above_chance", "above-chance kept"))


def shift_table(ctx, a, b, at=None, metric="shift_kept", expect="less", by=None, figure=True, title=""):
    """Accuracy under each shift and severity for two sides, with the fraction of each model's own
    unshifted accuracy kept and the fraction of its above-chance accuracy kept; per cell the
    comparison A against B on ``metric`` and how many "beyond noise" calls chance would give; rows
    for the mean over shifts at each severity and over everything. One table per reading."""
    readings = [ctx.reading(r) for r in (at or [None])]
    a_runs, b_runs = ctx.select(a), ctx.select(b)
    a_name = ctx.label(a_runs[0], list(a) or by)
    b_name = ctx.label(b_runs[0], list(b) or by)
    table = next(r["shifts"] for r in a_runs + b_runs if r.get("shifts"))
    kinds, sevs = list(table["kinds"]), [int(s) for s in table["severities"]]
    lines = [f"### {title or 'Accuracy under input shift'}", "",
             f"A = {a_name}, B = {b_name}; mean ± sd over seeds ({_seeds(a_runs + b_runs)}), on the same "
             f"fixed subset of test images, unshifted and shifted. A drop in points is capped by how far "
             f"a model is above chance (a model at 60 % cannot lose 70 points), so each cell also gives "
             f"*kept* = shifted / unshifted accuracy and *above-chance kept* = (shifted − chance) / "
             f"(unshifted − chance), chance = 1 / classes. Verdicts per cell on `{metric}`"
             + (f", expected A {'<' if expect == 'less' else '>'} B" if expect else "") + ".", ""]
    for reading in readings:
        lines += _shift_reading(ctx, a_runs, b_runs, a_name, b_name, kinds, sevs, reading, metric, expect)
        if figure:
            lines += ["", _shift_figure(ctx, a_runs, b_runs, a_name, b_name, kinds, sevs, reading)]
        lines.append("")
    return "\n".join(lines).rstrip()


def _shift_reading(ctx, a_runs, b_runs, a_name, b_name, kinds, sevs, reading, metric, expect) -> list[str]:
    scale, unit = ctx.scale_unit(metric)
    head = f"#### Read at {reading.label}"
    if reading.kind == "best_val":
        head += f" (A: {_best_val_epochs(a_runs)}; B: {_best_val_epochs(b_runs)})"
    clean = ctx.compare(a_runs, b_runs, "shift_clean_accuracy", a_at=reading, b_at=reading, expect=None)
    out = [head, "",
           f"- Unshifted: A {ctx.fmt(clean.a, 'shift_clean_accuracy')}, B {ctx.fmt(clean.b, 'shift_clean_accuracy')}; "
           f"{ctx.sentence(clean, 'A', 'B', 'shift_clean_accuracy')}", ""]
    header = ["shift", "severity"] + [f"{name} {side}" for _, name in SHIFT_COLUMNS for side in ("A", "B")] \
        + [f"A − B ({metric})"]
    rows, cells = [], []
    for kind in kinds + ["mean"]:
        for sev in sevs + ([None] if kind == "mean" else []):
            params = {"kind": kind} | ({"severity": sev} if sev is not None else {})
            row = [kind if kind != "mean" else "**all shifts**", sev if sev is not None else "**all**"]
            for m, _ in SHIFT_COLUMNS:
                for runs in (a_runs, b_runs):
                    row.append(ctx.fmt(ctx.summary(runs, m, params, reading), m))
            comp = ctx.compare(a_runs, b_runs, metric, a_params=params, b_params=params, a_at=reading,
                               b_at=reading, expect=expect or None)
            row.append(f"{comp.diff * scale:+.3g}{unit}: {comp.outcome('A', 'B')}"
                       if comp.verdict != "no data" else "no data")
            rows.append(row)
            if kind != "mean":
                cells.append((f"{kind} s{sev}", comp))
            elif sev is None:
                overall = comp
    out += [markdown_table(header, rows), ""]
    beyond = [(c, comp) for c, comp in cells if comp.beyond_noise]
    lower = [c for c, comp in beyond if comp.diff < 0]
    higher = [c for c, comp in beyond if comp.diff > 0]
    out += [f"- All shifts and severities together (mean of the {len(cells)} cells, per seed): "
            f"{ctx.sentence(overall, 'A', 'B', metric)}",
            f"- Cells where A's `{metric}` is lower than B's beyond seed noise: {', '.join(lower) or 'none'}; "
            f"higher: {', '.join(higher) or 'none'}; the other {len(cells) - len(beyond)} of {len(cells)} "
            f"within seed noise.",
            "- " + stats.chance_note(len(cells), len(beyond))]
    not_falling = []
    for name, runs in ((a_name, a_runs), (b_name, b_runs)):
        for kind in kinds:
            means = [ctx.summary(runs, "shift_accuracy", {"kind": kind, "severity": s}, reading).mean for s in sevs]
            if any(y > x for x, y in zip(means, means[1:])):
                not_falling.append(f"{kind} ({name})")
    out.append("- Mean accuracy falls at every step up in severity for every shift and both sides."
               if not not_falling else
               f"- Mean accuracy does not fall at every step up in severity for: {', '.join(not_falling)}.")
    return out


def _shift_figure(ctx, a_runs, b_runs, a_name, b_name, kinds, sevs, reading) -> str:
    from keras_dyn.report.probe_figures import shift_bars

    values, clean = {}, {}
    for name, runs in ((a_name, a_runs), (b_name, b_runs)):
        values[name] = {(k, s): ctx.summary(runs, "shift_accuracy", {"kind": k, "severity": s}, reading)
                        for k in kinds for s in sevs}
        values[name] = {key: (s.mean, s.sd) for key, s in values[name].items()}
        clean[name] = ctx.summary(runs, "shift_clean_accuracy", None, reading).mean
    path, ref = ctx.figure(f"shift_accuracy_{slug(reading.short)}.png")
    shift_bars(values, kinds, sevs, path, reference=clean,
               title=f"{ctx.cfg.name}: test accuracy under shift, {reading.label} (dashed: unshifted)")
    return f"![accuracy under each shift and severity, {reading.label}]({ref})"
