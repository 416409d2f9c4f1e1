"""Table sections: seeds, runs, source numbers, grid ranking, pairwise and balanced comparisons."""

from __future__ import annotations

from pathlib import Path

from keras_dyn import stats
from keras_dyn.report import metrics as M
from keras_dyn.report.findings import markdown_table


def _readings(ctx, at):
    return [ctx.reading(a) for a in (at or [None])]


def _col(metric, params, reading) -> str:
    return f"{M.describe(metric, params)} {reading.short}"


def seed_table(ctx, metrics, at=None, by=None, params=None, time=True, parameters=True, title=""):
    """Mean ± sd over seeds per group for each metric at each reading."""
    readings = _readings(ctx, at)
    header = ["configuration"] + (["parameters"] if parameters else [])
    for metric in metrics:
        header += [_col(metric, params, r) for r in readings] if M.METRICS[metric].per_epoch \
            else [M.describe(metric, params)]
    if time:
        header += ["CPU s (training)", "steps / s"]
    rows = []
    for label, runs in ctx.groups(by).items():
        row = [label] + ([f"{int(runs[0]['run']['params']):,}"] if parameters else [])
        for metric in metrics:
            for r in (readings if M.METRICS[metric].per_epoch else [None]):
                row.append(ctx.fmt(ctx.summary(runs, metric, params, r), metric))
        if time:
            row.append(stats.summarise(float(r["final"].get("train_cpu_seconds", float("nan")))
                                       for r in runs).fmt(scale=1, digits=1, unit=""))
            row.append(stats.summarise(float(r["final"].get("steps_per_second", float("nan")))
                                       for r in runs).fmt(scale=1, digits=0, unit=""))
        rows.append(row)
    head = f"### {title}\n\n" if title else ""
    return head + f"Mean ± sd over seeds ({_seeds(ctx)}).\n\n" + markdown_table(header, rows)


def runs(ctx, metrics, at=None, params=None):
    """Every run, so each number above can be checked against its results file."""
    readings = _readings(ctx, at)
    header = ["run", "seed", "status"]
    for metric in metrics:
        header += [_col(metric, params, r) for r in readings] if M.METRICS[metric].per_epoch \
            else [M.describe(metric, params)]
    header.append("results file")
    rows = []
    for r in ctx.results:
        row = [Path(r["run_dir"]).name, r["run"]["seed"], r["run"].get("status", "complete")]
        for metric in metrics:
            scale = 100 if M.METRICS[metric].percent else 1
            for reading in (readings if M.METRICS[metric].per_epoch else [None]):
                v = ctx.value(r, metric, params, reading)
                row.append(f"{v * scale:.2f}{'%' if scale == 100 else ''}" if v == v else "nan")
        row.append(f"`{r['run_dir']}/results.toml`")
        rows.append(row)
    return "\n".join(["<details><summary>Every run (from its results.toml)</summary>", "",
                      markdown_table(header, rows), "", "</details>"])


def source_values(ctx, values, at, text="", metric="test_accuracy", by=None, params=None):
    """The source's numbers (one per reading, percent for accuracies) beside ours."""
    readings = _readings(ctx, at)
    unit = "%" if M.METRICS[metric].percent else ""
    m = M.METRICS[metric]
    # per-epoch metrics: one column per reading (as the section title names the metric);
    # run-level metrics (read once per run): the metric and its parameters
    when = [r.short for r in readings] if m.per_epoch else [M.describe(metric, params)] * len(readings)
    header = ["configuration"] + [f"source {w}" for w in when] + [f"here {w}" for w in when]
    groups = ctx.groups(by)
    rows = []
    for label, numbers in values.items():
        runs = groups.get(label)
        row = [label] + [f"{v:.2f}{unit}" if unit else f"{v:g}" for v in numbers]
        row += [ctx.fmt(ctx.summary(runs, metric, params, r), metric) if runs else "not run here"
                for r in readings]
        rows.append(row)
    return "\n".join(["### Compared with the source", "", text, "", markdown_table(header, rows)]).replace("\n\n\n", "\n\n")


def ranking(ctx, columns=(), by=None, title=""):
    """Grid cells ranked by mean validation accuracy at the last epoch (the tuner's objective);
    ``title``: the heading (default "What the grid search chooses")."""
    names = {"steps_per_epoch": "batches / epoch", "params_per_point": "parameters per test-accuracy point"}
    cells = []
    for label, runs in ctx.groups(by).items():
        cells.append((label, runs, ctx.summary(runs, "val_accuracy"), ctx.summary(runs, "test_accuracy")))
    cells.sort(key=lambda c: -c[2].mean if c[2].n else float("inf"))
    header = ["rank", "configuration", "val accuracy (chooses)", "test accuracy (reported)",
              "CPU s", "parameters"] + [names.get(c, c) for c in columns]
    rows = []
    for rank, (label, runs, val, test) in enumerate(cells, start=1):
        row = [rank, label, ctx.fmt(val, "val_accuracy"), ctx.fmt(test, "test_accuracy"),
               stats.summarise(float(r["final"].get("train_cpu_seconds", float("nan"))) for r in runs).fmt(
                   scale=1, digits=1, unit=""), f"{int(runs[0]['run']['params']):,}"]
        for c in columns:
            if c == "steps_per_epoch":
                row.append(runs[0]["run"]["steps_per_epoch"])
            elif c == "params_per_point":
                row.append(f"{int(runs[0]['run']['params']) / (test.mean * 100):,.0f}" if test.n else "n/a")
            else:
                row.append("?")
        rows.append(row)
    best, second = (cells + [None, None])[:2]
    lines = [f"### {title or 'What the grid search chooses'}", "",
             "Configurations ranked by mean validation accuracy at the last epoch (keras-tuner's "
             "objective); test accuracy is reported beside it and never used to choose.", "",
             markdown_table(header, rows)]
    if best and second:
        comp = ctx.compare(best[1], second[1], "val_accuracy")
        lines += ["", f"- Top two on validation accuracy: {ctx.sentence(comp, best[0], second[0], 'val_accuracy')}"]
    return "\n".join(lines)


def pairwise(ctx, baseline, metric="test_accuracy", at=None, by=None, params=None, expect=""):
    """Each group against the baseline group, with a verdict each and the chance count."""
    base_runs = ctx.select(baseline)
    base_label = ctx.label(base_runs[0], by)
    reading = ctx.reading(at)
    lines = [f"### {M.describe(metric, params)} {reading.short} against {base_label}", ""]
    n_beyond = n = 0
    for label, runs in ctx.groups(by).items():
        if label == base_label:
            continue
        comp = ctx.compare(runs, base_runs, metric, a_params=params, b_params=params, a_at=reading,
                           b_at=reading, expect=expect or None)
        n += 1
        n_beyond += comp.beyond_noise
        lines.append(f"- {ctx.sentence(comp, label, base_label, metric)}")
    if n > 1:
        lines += ["", stats.chance_note(n, n_beyond)]
    return "\n".join(lines)


def balanced(ctx, keys, metric="val_accuracy", at=None):
    """Cells where the two keys are equal against the others (e.g. the 'diagonal' of a width grid)."""
    k1, k2 = keys[:2]
    reading = ctx.reading(at)
    diag = [r for r in ctx.results if ctx.point(r).get(k1) == ctx.point(r).get(k2)]
    off = [r for r in ctx.results if ctx.point(r).get(k1) != ctx.point(r).get(k2)]
    # one number per seed and side: the mean over that side's cells, so the seeds pair
    def per_seed(runs):
        by_seed = {}
        for r in runs:
            by_seed.setdefault(int(r["run"]["seed"]), []).append(ctx.value(r, metric, None, reading))
        seeds = sorted(by_seed)
        return [sum(by_seed[s]) / len(by_seed[s]) for s in seeds], seeds
    a, sa = per_seed(diag)
    b, sb = per_seed(off)
    comp = stats.compare(a, b, expect=None, a_seeds=sa, b_seeds=sb)
    return "\n".join([f"### Balanced ({k1} = {k2}) against unbalanced configurations", "",
                      f"Per seed, the mean {M.describe(metric)} {reading.short} over the "
                      f"{len({ctx.label(r) for r in diag})} balanced and the "
                      f"{len({ctx.label(r) for r in off})} unbalanced configurations:", "",
                      f"- {ctx.sentence(comp, 'balanced', 'unbalanced', metric)}"])


def _seeds(ctx) -> str:
    return ", ".join(map(str, sorted({int(r["run"]["seed"]) for r in ctx.results})))


def fit_table(ctx, threshold=0.95, of="train_accuracy", at=None, by=None, title=""):
    """How well and how fast each group fits its training labels, and what that is worth on test
    (the shape of Zhang et al. 2017, table 1): accuracy on the labels trained on and on test at
    a reading, test minus chance, how many runs reached ``threshold`` on ``of``, and the epochs
    and CPU seconds they needed (metrics ``first_epoch`` and ``cpu_seconds_to``)."""
    reading = ctx.reading(at)
    reach = {"of": of, "threshold": threshold}
    fitted = "train acc" if of == "train_accuracy" else of  # the column holds `of`, headed by its name
    header = ["condition", f"{fitted} {reading.short}", f"test acc {reading.short}",
              f"test − chance {reading.short}", f"runs reaching {threshold:.0%} ({of})",
              f"epochs to {threshold:.0%}", f"CPU s to {threshold:.0%}", "CPU s (whole run)"]
    rows = []
    for label, runs in ctx.groups(by).items():
        test, seeds = ctx.values(runs, "test_accuracy", None, reading)
        chance = [1.0 / float(r["run"].get(M.CHANCE_KEY, 10) or 10) for r in runs]
        above = stats.summarise([t - c for t, c in zip(test, chance)], seeds=seeds)
        epochs = [ctx.value(r, "first_epoch", reach) for r in runs]
        n_reached = sum(1 for e in epochs if e != float("inf") and e == e)
        rows.append([label, ctx.fmt(ctx.summary(runs, of, None, reading), of),
                     ctx.fmt(ctx.summary(runs, "test_accuracy", None, reading), "test_accuracy"),
                     above.fmt(scale=100.0, digits=2, unit=" points"),
                     f"{n_reached} of {len(runs)}",
                     _finite_summary(epochs, digits=1), _finite_summary(
                         [ctx.value(r, "cpu_seconds_to", reach) for r in runs], digits=1),
                     stats.summarise(float(r["final"].get("train_cpu_seconds", float("nan")))
                                     for r in runs).fmt(scale=1, digits=1, unit="")])
    fit_text = (f"Training accuracy ({M.describe(of)}) is on the labels the model was trained on (the random "
                f"ones where the labels are random)" if of == "train_accuracy" else
                f"The fit column is {M.describe(of)}, the quantity `of` names")
    text = (f"Mean ± sd over seeds ({_seeds(ctx)}). {fit_text}; test accuracy is "
            f"always on the true test labels; chance is 1 / the number of classes. Epochs and CPU seconds to "
            f"{threshold:.0%} are the first epoch at which {of} reaches it and the process CPU time of the "
            f"epochs up to it (training and validation; CPU time is steadier than wall time on a shared "
            f"machine); means are over the runs that reached it.")
    return "\n\n".join(([f"### {title}"] if title else []) + [text, markdown_table(header, rows)])


def _finite_summary(values, digits=1) -> str:
    finite = [v for v in values if v == v and v != float("inf")]
    never = sum(1 for v in values if v == float("inf"))
    text = stats.summarise(finite).fmt(scale=1, digits=digits, unit="") if finite else "never"
    return text + (f" (never in {never} of {len(values)} runs)" if never and finite else "")
