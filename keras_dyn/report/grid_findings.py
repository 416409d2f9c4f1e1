"""Findings for a grid experiment, driven by the config's ``[report]`` section.

``[report]`` keys (all optional)::

    metric    = "test_accuracy"        # a per-epoch list in results.toml [epochs]
    at_epochs = [3, 5, 10]             # read the metric at these epochs (default: the last)
    [report.hypothesis]
    statement = "256-256 beats 128-128 after 10 epochs"
    a = { units = 256 }                # grid values selecting side A
    b = { units = 128 }                # ... and side B
    expect = "greater"                 # A > B ("greater") or A < B ("less")
    epoch = 10                         # the epoch the verdict is about
    [report.reference]                 # numbers from a source write-up, to compare with
    source = "..."
    epochs = [3, 5, 10]
    values = { "64-64" = [84.88, 87.09, 87.77] }   # percent, keyed by cell label

The builder returns markdown and writes its figure; the verdicts follow
:mod:`keras_dyn.report.tables` ("within seed noise" when the difference is inside the spread).
"""

from __future__ import annotations

import os
from pathlib import Path

from keras_dyn.report.figures import curves_with_seed_bands
from keras_dyn.report.results import group_by_point, matches
from keras_dyn.report.tables import compare, markdown_table, summarise

STRUCTURAL = {"units", "layers", "hidden"} | {f"units_{i}" for i in range(1, 9)}


def cell_label(result: dict) -> str:
    """``256-256`` for a width/depth grid, plus ``key=value`` for any other swept value."""
    point = result["run"].get("point", {})
    parts = []
    if not point or STRUCTURAL & set(point):
        parts.append("-".join(str(u) for u in result["run"]["hidden"]))
    parts += [f"{k}={v}" for k, v in point.items() if k not in STRUCTURAL]
    return ", ".join(parts)


def metric_at(result: dict, metric: str, epoch: int) -> float:
    values = result["epochs"][metric]
    if epoch > len(values):
        raise ValueError(f"{result['run_dir']}: no epoch {epoch} of {metric} (has {len(values)})")
    return values[epoch - 1]


def seconds_to(result: dict, epoch: int) -> float:
    return float(sum(result["epochs"]["seconds"][:epoch]))


def grid_findings(cfg, results: list[dict], figure_dir, figure_ref: str = "") -> str:
    """Markdown findings for ``results`` (one experiment, all seeds) and its figure(s).

    Args:
        cfg: the experiment config (its ``[report]`` section steers the findings).
        results: run results as from :func:`keras_dyn.report.results.load_results`.
        figure_dir: where PNGs are written.
        figure_ref: how the markdown refers to ``figure_dir`` (relative path prefix).
    """
    spec = cfg.report or {}
    metric = spec.get("metric", "test_accuracy")
    last = min(len(r["epochs"][metric]) for r in results)
    at_epochs = [e for e in spec.get("at_epochs", [last]) if e <= last] or [last]
    groups = group_by_point(results)
    labels = {key: cell_label(runs[0]) for key, runs in groups.items()}
    seeds = sorted({r["run"]["seed"] for r in results})
    lines = []

    # --- table over seeds
    header = ["cell", "parameters"]
    for e in at_epochs:
        header += [f"{_metric_name(metric)} @ {e} ep", f"time to {e} ep (s)"]
    rows = []
    for key, runs in groups.items():
        row = [labels[key], f"{runs[0]['run']['params']:,}"]
        for e in at_epochs:
            row.append(summarise(metric_at(r, metric, e) for r in runs).fmt())
            row.append(summarise(seconds_to(r, e) for r in runs).fmt(scale=1, digits=1, unit=""))
        rows.append(row)
    n_train = results[0]["run"]["n_train"]
    lines.append(f"Mean ± sd over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}); "
                 f"{results[0]['run']['dataset']}, {n_train:,} training / "
                 f"{results[0]['run']['n_val']:,} validation / {results[0]['run']['n_test']:,} test "
                 f"examples. Time is wall-clock training time (training plus any validation pass), "
                 f"summed over epochs, on {os.cpu_count()} CPU core(s); anything else running on "
                 f"the machine inflates it, so compare times within one run of the lab.")
    lines.append("")
    lines.append(markdown_table(header, rows))
    if any(e < last for e in at_epochs) and cfg.training.scheduler == "none":
        lines.append("")
        lines.append(f"Values before epoch {last} are read from the {last}-epoch runs' per-epoch "
                     f"test evaluation: with a constant learning rate and the same seed, the first "
                     f"e epochs of a {last}-epoch run are exactly an e-epoch run, so each width "
                     f"was trained once per seed instead of once per epoch budget.")

    # --- figure
    fig_name = f"{metric}_vs_epochs.png"
    curves = {labels[key]: [r["epochs"][metric] for r in runs] for key, runs in groups.items()}
    curves_with_seed_bands(curves, Path(figure_dir) / fig_name, ylabel=f"{_metric_name(metric)} (%)",
                           title=f"{cfg.name}: {_metric_name(metric)} per epoch (mean ± sd over seeds)")
    lines += ["", f"![{_metric_name(metric)} against epochs]({figure_ref}{fig_name})"]

    # --- hypothesis
    hyp = spec.get("hypothesis")
    if hyp:
        a_runs = [r for r in results if matches(r, hyp.get("a", {}))]
        b_runs = [r for r in results if matches(r, hyp.get("b", {}))]
        if a_runs and b_runs:
            a_name, b_name = cell_label(a_runs[0]), cell_label(b_runs[0])
            expect = hyp.get("expect", "greater")
            lines += ["", "### Verdict", "", f"Hypothesis: {hyp.get('statement', '')}", ""]
            verdict_epoch = min(int(hyp.get("epoch", last)), last)
            for e in sorted(set(at_epochs) | {verdict_epoch}):
                comp = compare([metric_at(r, metric, e) for r in a_runs],
                               [metric_at(r, metric, e) for r in b_runs], expect=expect)
                mark = " ← the hypothesis's epoch" if e == verdict_epoch else ""
                lines.append(f"- after {e} epochs: {comp.sentence(a_name, b_name, verdict=False)}{mark}")
            final = compare([metric_at(r, metric, verdict_epoch) for r in a_runs],
                            [metric_at(r, metric, verdict_epoch) for r in b_runs], expect=expect)
            lines += ["", f"**Verdict on the hypothesis (at {verdict_epoch} epochs, {final.a.n} vs "
                          f"{final.b.n} seeds): {final.verdict}.**"]

    # --- reference numbers
    ref = spec.get("reference")
    if ref:
        ref_epochs = ref.get("epochs", [])
        header = ["cell"] + [f"source @ {e} ep" for e in ref_epochs] + [f"here @ {e} ep" for e in ref_epochs]
        rows = []
        for key, runs in groups.items():
            label = labels[key]
            if label not in ref.get("values", {}):
                continue
            row = [label] + [f"{v:.2f}%" for v in ref["values"][label]]
            row += [summarise(metric_at(r, metric, e) for r in runs).fmt() if e <= last else "n/a"
                    for e in ref_epochs]
            rows.append(row)
        if rows:
            lines += ["", "### Compared with the source", "", ref.get("source", ""), "",
                      markdown_table(header, rows)]

    # --- every run, so the table can be checked against the results files
    lines += ["", "<details><summary>Every run (from its results.toml)</summary>", ""]
    header = ["run", "seed"] + [f"{_metric_name(metric)} @ {e}" for e in at_epochs] + ["results file"]
    rows = [[Path(r["run_dir"]).name, r["run"]["seed"]]
            + [f"{metric_at(r, metric, e) * 100:.2f}%" for e in at_epochs]
            + [f"`{r['run_dir']}/results.toml`"] for r in results]
    lines += [markdown_table(header, rows), "", "</details>"]
    return "\n".join(lines)


def _metric_name(metric: str) -> str:
    return metric.replace("_", " ")
