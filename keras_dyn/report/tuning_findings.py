"""Findings for a grid run through keras-tuner (``python -m keras_dyn grid``, the tuner labs).

The grid findings of :mod:`keras_dyn.report.grid_findings` (table over seeds, verdict, reference
numbers), then what the grid search chose and why: grid points ranked by mean validation accuracy
(the tuner's objective, last epoch), with test accuracy beside it (reported, never used to choose).

Optional ``[report.tuning]`` keys::

    columns = ["steps_per_epoch", "params_per_point"]   # extra columns in the ranking table
    heatmap = ["units_2", "units_1"]                      # x and y grid keys of an accuracy heatmap
    diagonal = ["units_1", "units_2"]                     # balanced (equal) against unbalanced cells

``params_per_point`` is parameters divided by mean test accuracy in percent (the source log's
"Params/Acc"); ``steps_per_epoch`` is the number of batches per epoch.
"""

from __future__ import annotations

from pathlib import Path

from keras_dyn.report.grid_figures import accuracy_heatmaps
from keras_dyn.report.grid_findings import cell_label, grid_findings
from keras_dyn.report.results import group_by_point
from keras_dyn.report.tables import compare, markdown_table, summarise


def _last(result, metric):
    values = result["epochs"].get(metric) or []
    return values[-1] if values else float("nan")


def tuning_findings(cfg, results: list[dict], figure_dir, figure_ref: str = "") -> str:
    spec = (cfg.report or {}).get("tuning", {})
    lines = [grid_findings(cfg, results, figure_dir, figure_ref)]
    groups = group_by_point(results)
    stats = []
    for key, runs in groups.items():
        stats.append({
            "label": cell_label(runs[0]),
            "point": runs[0]["run"].get("point", {}),
            "runs": runs,
            "val": summarise(_last(r, "val_accuracy") for r in runs),
            "test": summarise(_last(r, "test_accuracy") for r in runs),
            "time": summarise(r["final"]["train_seconds"] for r in runs),
            "params": runs[0]["run"]["params"],
            "steps": runs[0]["run"]["steps_per_epoch"],
        })
    ranked = sorted(stats, key=lambda s: -s["val"].mean)
    columns = list(spec.get("columns", []))
    header = ["rank", "cell", "val accuracy (selects)", "test accuracy (reported)",
              "training time (s)", "parameters"]
    extra_names = {"steps_per_epoch": "batches / epoch",
                   "params_per_point": "parameters per test-accuracy point"}
    header += [extra_names.get(c, c) for c in columns]
    rows = []
    for rank, s in enumerate(ranked, start=1):
        row = [str(rank), s["label"], s["val"].fmt(), s["test"].fmt(),
               s["time"].fmt(scale=1, digits=1, unit=""), f"{s['params']:,}"]
        for c in columns:
            if c == "steps_per_epoch":
                row.append(f"{s['steps']:,}")
            elif c == "params_per_point":
                row.append(f"{s['params'] / (s['test'].mean * 100):,.0f}")
            else:
                row.append(str(s["runs"][0]["run"].get(c, "")))
        rows.append(row)
    seeds = sorted({r["run"]["seed"] for r in results})
    lines += ["", "### What the grid search chose (keras-tuner GridSearch, objective val_accuracy)",
              "",
              f"{len(results)} trials ({len(groups)} grid points × {len(seeds)} seed(s)); "
              f"accuracies at the last epoch, mean ± sd over seeds. The ranking uses validation "
              f"accuracy only; test accuracy is shown beside it and played no part in it.", "",
              markdown_table(header, rows)]
    if len(ranked) >= 2:
        best, second = ranked[0], ranked[1]
        comp = compare([_last(r, "val_accuracy") for r in best["runs"]],
                       [_last(r, "val_accuracy") for r in second["runs"]], expect="greater")
        test_best = max(stats, key=lambda s: s["test"].mean)
        lines += ["", f"Chosen by validation accuracy: **{best['label']}**. Against the runner-up "
                      f"({second['label']}): {comp.sentence(best['label'], second['label'], verdict=False).rstrip('.')}."]
        if test_best is not best:
            lines.append("")
            lines.append(f"The highest mean test accuracy belongs to {test_best['label']} "
                         f"({test_best['test'].fmt()} against {best['test'].fmt()} for the chosen "
                         f"cell); selection does not look at it.")
    diag = spec.get("diagonal")
    if diag and len(diag) == 2 and all(k in cfg.grid for k in diag):
        lines += ["", diagonal_section(stats, results, *diag)]
    heat = spec.get("heatmap")
    if heat and len(heat) == 2 and all(k in cfg.grid for k in heat):
        xkey, ykey = heat
        panels = {"validation accuracy": {}, "test accuracy": {}}
        sds = {"validation accuracy": {}, "test accuracy": {}}
        for s in stats:
            cell = (s["point"].get(xkey), s["point"].get(ykey))
            panels["validation accuracy"][cell] = s["val"].mean
            panels["test accuracy"][cell] = s["test"].mean
            sds["validation accuracy"][cell] = s["val"].sd
            sds["test accuracy"][cell] = s["test"].sd
        name = "accuracy_heatmap.png"
        accuracy_heatmaps(panels, Path(figure_dir) / name, xkey=xkey, ykey=ykey,
                          xvalues=list(cfg.grid[xkey]), yvalues=list(cfg.grid[ykey]),
                          title=f"{cfg.name}: last-epoch accuracy, mean over {len(seeds)} seed(s)",
                          sd=sds)
        lines += ["", f"![accuracy heatmap over {xkey} × {ykey}]({figure_ref}{name})"]
    return "\n".join(lines)


def diagonal_section(stats, results, key_a: str, key_b: str) -> str:
    """Balanced cells (``key_a == key_b``) against the others, per seed then over seeds."""
    seeds = sorted({r["run"]["seed"] for r in results})
    on, off = [], []
    for seed in seeds:
        runs = [r for r in results if r["run"]["seed"] == seed]
        same = [_last(r, "test_accuracy") for r in runs
                if r["run"]["point"].get(key_a) == r["run"]["point"].get(key_b)]
        other = [_last(r, "test_accuracy") for r in runs
                 if r["run"]["point"].get(key_a) != r["run"]["point"].get(key_b)]
        if same and other:
            on.append(sum(same) / len(same))
            off.append(sum(other) / len(other))
    if not on:
        return ""
    comp = compare(on, off, expect="greater")
    best = max(stats, key=lambda s: s["test"].mean)
    best_balanced = best["point"].get(key_a) == best["point"].get(key_b)
    by_val = max(stats, key=lambda s: s["val"].mean)
    lines = ["### Balanced against unbalanced layers", "",
             f"Mean test accuracy of the cells with {key_a} = {key_b} (balanced) against the "
             f"cells with {key_a} ≠ {key_b}, averaged within each seed, then over "
             f"{len(on)} seed(s): {comp.sentence('balanced', 'unbalanced')}",
             "",
             f"The cell with the highest mean test accuracy is {best['label']} "
             f"({'balanced' if best_balanced else 'unbalanced'}); the one chosen by validation "
             f"accuracy is {by_val['label']}. Cells whose means differ by less than their seed "
             f"spread are not ranked reliably by these numbers."]
    return "\n".join(lines)
