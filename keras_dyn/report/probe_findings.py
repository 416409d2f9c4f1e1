"""Findings builders for the memorisation and robustness labs (exp11, exp12, exp14).

Each builder has the signature ``findings(cfg, results, figure_dir, figure_ref) -> markdown``
that :func:`keras_dyn.lab.run_lab` expects, reads only results dicts (``results.toml``), groups
runs by their ``label_noise`` grid value, reports mean ± sd over seeds and judges differences
with :func:`keras_dyn.report.tables.compare` (a difference smaller than the seed spread is
"within seed noise").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from keras_dyn.report import tables
from keras_dyn.report.tables import markdown_table


# --------------------------------------------------------------------------- helpers


def _f(value) -> float:
    """A float from a results value (non-finite numbers are stored as strings)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _finite(values) -> list[float]:
    return [v for v in map(_f, values) if math.isfinite(v)]


def summarise(values):
    """:func:`keras_dyn.report.tables.summarise` over the finite values only (NaN = not measured)."""
    return tables.summarise(_finite(values))


def compare(a_values, b_values, *, expect="greater"):
    """:func:`keras_dyn.report.tables.compare` over the finite values only."""
    return tables.compare(_finite(a_values), _finite(b_values), expect=expect)


def _noise(result) -> float:
    point = result["run"].get("point", {})
    return float(point.get("label_noise", 0.0))


def by_noise(results) -> dict[float, list[dict]]:
    """Runs grouped by label-noise level, lowest first."""
    groups: dict[float, list[dict]] = {}
    for r in results:
        groups.setdefault(_noise(r), []).append(r)
    return dict(sorted(groups.items()))


def _label(p: float) -> str:
    return f"noise {p * 100:g} %"


def _at(values, epoch) -> float:
    """Value at epoch (1-based) of a per-epoch list."""
    return _f(values[epoch - 1]) if values and 0 < epoch <= len(values) else math.nan


def _series(r, section, key):
    node = r.get(section, {})
    for part in key if isinstance(key, tuple) else (key,):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return [_f(v) for v in node] if isinstance(node, list) else []


def _train_series(r):
    """(train accuracy on the labels trained on, clean-subset accuracy, test accuracy, gap, note)."""
    if r.get("noisy_labels", {}).get("train_acc"):
        nl = r["noisy_labels"]
        return ([_f(v) for v in nl["train_acc"]], [_f(v) for v in nl["clean_acc"]],
                [_f(v) for v in nl["test_acc"]], [_f(v) for v in nl["gap"]], "")
    ep = r["epochs"]
    train = [_f(v) for v in ep.get("accuracy", [])]
    test = [_f(v) for v in ep.get("test_accuracy", [])]
    return train, train, test, [a - b for a, b in zip(train, test)], "*"


def _fmt(s, digits=2, scale=100.0, unit="%"):
    return s.fmt(scale=scale, digits=digits, unit=unit)


def _every_run(results, columns) -> list[str]:
    """A collapsible table of every run with a few numbers, to check against the files."""
    header = ["run", "seed"] + [name for name, _ in columns] + ["results file"]
    rows = []
    for r in results:
        rows.append([Path(r["run_dir"]).name, r["run"]["seed"]]
                    + [fn(r) for _, fn in columns] + [f"`{r['run_dir']}/results.toml`"])
    return ["", "<details><summary>Every run (from its results.toml)</summary>", "",
            markdown_table(header, rows), "", "</details>"]


def _data_line(results) -> str:
    r0 = results[0]["run"]
    seeds = sorted({r["run"]["seed"] for r in results})
    return (f"Mean ± sd over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}); {r0['dataset']}, "
            f"{r0['n_train']:,} training / {r0['n_val']:,} validation / {r0['n_test']:,} test "
            f"examples, {r0['epochs']} epochs, hidden layers {'-'.join(map(str, r0['hidden']))}.")


def _sentence_g(c, a_name, b_name) -> str:
    """Like ``Comparison.sentence`` but for quantities of any magnitude (3 significant digits)."""
    word = c.outcome(a_name, b_name, "higher")
    if c.a.n < 2 or c.b.n < 2:
        return f"{a_name} − {b_name} = {c.diff:+.3g} from a single seed: **{word}**."
    return (f"{a_name} {c.a.mean:.3g} vs {b_name} {c.b.mean:.3g}, difference {c.diff:+.3g} over "
            f"{c.a.n} and {c.b.n} seeds; it must exceed {c.threshold:.3g} to count: **{word}**.")


def _pct(x, digits=1):
    return "n/a" if not np.isfinite(x) else f"{x * 100:.{digits}f}%"


# --------------------------------------------------------------------------- exp11


def label_noise_findings(cfg, results, figure_dir, figure_ref: str = "") -> str:
    """Memorisation under label noise: the train–test gap per noise level, and on the corrupted
    subset whether accuracy against the noisy labels rises while accuracy against the true
    labels falls."""
    from keras_dyn.report.probe_figures import noisy_label_curves

    groups = by_noise(results)
    last = min(len(r["epochs"]["test_accuracy"]) for r in results)
    spec = cfg.report or {}
    at_epochs = [e for e in spec.get("at_epochs", [last]) if e <= last] or [last]
    lines = [_data_line(results), ""]

    # --- table at the final epoch
    header = ["label noise", "train acc (labels trained on)", "clean-subset acc", "test acc",
              "gap (train − test)", "best test acc (epoch)"]
    rows, footnote = [], False
    for p, runs in groups.items():
        series = [_train_series(r) for r in runs]
        footnote |= any(s[4] for s in series)
        mark = "*" if any(s[4] for s in series) else ""
        best = [max(s[2][:last]) for s in series]
        best_ep = [int(np.argmax(s[2][:last])) + 1 for s in series]
        rows.append([_label(p), _fmt(summarise(s[0][last - 1] for s in series)) + mark,
                     _fmt(summarise(s[1][last - 1] for s in series)) + mark,
                     _fmt(summarise(s[2][last - 1] for s in series)),
                     _fmt(summarise(s[3][last - 1] for s in series), unit=" pts") + mark,
                     f"{_fmt(summarise(best))} ({', '.join(map(str, best_ep))})"])
    lines += [f"After {last} epochs (training-set numbers measured at the end of the epoch, in "
              f"inference mode, on at most {cfg.probes.noisy_eval_size:,} clean and "
              f"{cfg.probes.noisy_eval_size:,} corrupted training examples):", "",
              markdown_table(header, rows)]
    if footnote:
        lines += ["", "\\* Without label noise the noisy-label probe does not run; the training "
                  "accuracy is Keras's running mean over the epoch (slightly below an "
                  "end-of-epoch measurement) and the clean subset is the whole training set."]

    # --- test accuracy over the epoch budget
    header = ["label noise"] + [f"test acc @ {e} ep" for e in at_epochs] + \
             [f"gap @ {e} ep" for e in at_epochs]
    rows = []
    for p, runs in groups.items():
        series = [_train_series(r) for r in runs]
        rows.append([_label(p)] + [_fmt(summarise(_at(s[2], e) for s in series)) for e in at_epochs]
                    + [_fmt(summarise(_at(s[3], e) for s in series), unit=" pts") for e in at_epochs])
    lines += ["", markdown_table(header, rows)]

    # --- memorisation on the corrupted subset
    lines += ["", "### The corrupted training examples", ""]
    noisy_levels = [p for p in groups if p > 0]
    if not noisy_levels:
        lines.append("No run had label noise, so there is no corrupted subset.")
    for p in noisy_levels:
        runs = [r for r in groups[p] if r.get("noisy_labels", {}).get("memorised_acc")]
        if not runs:
            continue
        mem = np.array([_series(r, "noisy_labels", "memorised_acc")[:last] for r in runs])
        true = np.array([_series(r, "noisy_labels", "corrupted_true_acc")[:last] for r in runs])
        peak_ep = int(np.argmax(true.mean(axis=0))) + 1
        rise = compare(mem[:, -1], mem[:, 0], expect="greater")
        fall = compare(true[:, -1], true[:, peak_ep - 1], expect="less")
        lines.append(f"**{_label(p)}** ({mem.shape[0]} seed(s)):")
        lines.append("")
        lines.append(f"- against the noisy labels (memorised): {_fmt(rise.b)} after epoch 1 → "
                     f"{_fmt(rise.a)} after epoch {last}; "
                     f"{rise.sentence(f'epoch {last}', 'epoch 1', verdict=False)} "
                     f"{'It rises.' if rise.verdict == 'supported' else ''}".rstrip())
        lines.append(f"- against the true labels: highest at epoch {peak_ep} "
                     f"({_fmt(fall.b)}), {_fmt(fall.a)} after epoch {last}; "
                     f"{fall.sentence(f'epoch {last}', f'epoch {peak_ep}', verdict=False)} "
                     f"{'It falls.' if fall.verdict == 'supported' else ''}".rstrip())
        both = rise.verdict == "supported" and fall.verdict == "supported"
        lines.append(f"- memorisation signature (noisy-label accuracy up, true-label accuracy down "
                     f"after its peak, both beyond seed noise): **{'seen' if both else 'not shown'}**.")
        lines.append("")

    # --- gap against noise level
    if 0.0 in groups and noisy_levels:
        lines += ["### Train–test gap against label noise", ""]
        gap0 = [_train_series(r)[3][last - 1] for r in groups[0.0]]
        for p in noisy_levels:
            gp = [_train_series(r)[3][last - 1] for r in groups[p]]
            c = compare(gp, gap0, expect="greater")
            lines.append(f"- after {last} epochs: "
                         f"{c.sentence(_label(p), _label(0.0), verdict=False, larger='has the larger gap')}")
        test0 = [_train_series(r)[2][last - 1] for r in groups[0.0]]
        for p in noisy_levels:
            tp = [_train_series(r)[2][last - 1] for r in groups[p]]
            c = compare(tp, test0, expect="less")
            lines.append(f"- test accuracy: {c.sentence(_label(p), _label(0.0), verdict=False)}")
        lines.append("")

    # --- figure
    fig = noisy_label_curves({_label(p): runs for p, runs in groups.items()},
                             Path(figure_dir) / "noisy_label_curves.png",
                             title=f"{cfg.name}: accuracy per epoch (mean ± sd over seeds)")
    lines += [f"![accuracy on noisy labels, clean subset and test]({figure_ref}{fig.name})"]
    lines += _every_run(results, [
        ("noise", lambda r: f"{_noise(r):g}"),
        (f"test acc @ {last}", lambda r: _pct(_train_series(r)[2][last - 1], 2)),
        (f"memorised @ {last}", lambda r: _pct(_at(_series(r, "noisy_labels", "memorised_acc"), last), 2)),
        (f"corrupted vs true @ {last}",
         lambda r: _pct(_at(_series(r, "noisy_labels", "corrupted_true_acc"), last), 2)),
    ])
    return "\n".join(lines)


# --------------------------------------------------------------------------- exp12


def drift_findings(cfg, results, figure_dir, figure_ref: str = "") -> str:
    """Representation drift per hidden layer and early-layer gradient variance, noisy against
    clean labels."""
    from keras_dyn.report.figures import curves_with_seed_bands
    from keras_dyn.report.probe_figures import drift_curves

    groups = by_noise(results)
    clean_p, noisy_p = min(groups), max(groups)
    clean, noisy = groups[clean_p], groups[noisy_p]
    lines = [_data_line(results), ""]
    layers = next((list(r["drift"]["layers"]) for r in results if r.get("drift", {}).get("layers")), [])
    if not layers:
        return "\n".join(lines + ["No drift results in these runs (is `probes.drift = true`?)."])
    last = min(len(r["drift"]["epoch"]) for r in results)
    last_epoch = int(results[0]["drift"]["epoch"][last - 1])

    def vals(runs, layer, m, i=last - 1):
        return [_f(r["drift"][layer][m][i]) for r in runs]

    header = ["layer"] + [f"{m.replace('_', ' ')}: {_label(p)}" for m in ("cosine_to_init", "cka_to_init")
                          for p in (clean_p, noisy_p)] + ["cosine to init: noisy − clean"]
    rows = []
    verdicts = []
    for layer in layers:
        row = [layer]
        for m in ("cosine_to_init", "cka_to_init"):
            for runs in (clean, noisy):
                row.append(_fmt(summarise(vals(runs, layer, m)), digits=3, scale=1.0, unit=""))
        c = compare(vals(noisy, layer, "cosine_to_init"), vals(clean, layer, "cosine_to_init"), expect="less")
        row.append(f"{c.diff:+.3f} ({c.outcome(_label(noisy_p), _label(clean_p), 'higher')})")
        verdicts.append((layer, c))
        rows.append(row)
    lines += [f"Similarity of each hidden layer's representation of a fixed probe set "
              f"({cfg.probes.drift_probe_size} training examples) to its representation at "
              f"initialisation, after epoch {last_epoch} (1 = unchanged):", "",
              markdown_table(header, rows), ""]
    lower = [layer for layer, c in verdicts if c.verdict == "supported"]
    higher = [layer for layer, c in verdicts if c.verdict == "refuted"]
    lines.append(f"- Layers that moved further from initialisation under {_label(noisy_p)} than with "
                 f"clean labels, beyond seed noise: {', '.join(lower) or 'none'}; layers that moved "
                 f"less: {', '.join(higher) or 'none'}; the rest are within seed noise.")

    # still moving at the end?
    c_prev = [(layer, compare(vals(noisy, layer, "cosine_to_prev"), vals(clean, layer, "cosine_to_prev"),
                              expect="less")) for layer in layers]
    moving = [layer for layer, c in c_prev if c.verdict == "supported"]
    lines.append(f"- Epoch-to-epoch change at epoch {last_epoch} (cosine to the previous "
                 f"measurement, lower = still moving): "
                 + "; ".join(f"{layer} {_fmt(c.b, digits=3, scale=1.0, unit='')} clean vs "
                             f"{_fmt(c.a, digits=3, scale=1.0, unit='')} noisy" for layer, c in c_prev[:3])
                 + (" …" if len(c_prev) > 3 else "")
                 + f". Layers still moving more under noise, beyond seed noise: {', '.join(moving) or 'none'}.")
    fig = drift_curves({_label(clean_p): clean, _label(noisy_p): noisy},
                       Path(figure_dir) / "drift_per_layer.png",
                       title=f"{cfg.name}: drift per layer (solid: {_label(clean_p)}, dashed: {_label(noisy_p)})")
    lines += ["", f"![representation drift per layer]({figure_ref}{fig.name})", ""]

    # --- early-layer gradient variance
    lines += ["### Early-layer gradient variance", ""]
    have_grads = all(r.get("gradients", {}).get("stats") for r in results)
    if not have_grads:
        lines.append("No gradient statistics in these runs (`log.gradients = false`?).")
    else:
        first = results[0]["gradients"].get("first_kernel") or "hidden1/kernel"
        n_ep = min(len(r["gradients"]["stats"][first]["norm_var"]) for r in results)
        k = max(1, n_ep // 4)

        def window(runs, key, sl):
            return [float(np.mean([_f(v) for v in r["gradients"]["stats"][first][key][sl]])) for r in runs]

        lines.append(f"Variance (and coefficient of variation, std / mean) over the steps of an "
                     f"epoch of the gradient norm of `{first}`, averaged over the first and the "
                     f"last {k} epoch(s):")
        lines.append("")
        header = ["", f"norm var, epochs 1–{k}", f"norm var, last {k}", f"norm cv, epochs 1–{k}",
                  f"norm cv, last {k}"]
        rows = []
        early, late = slice(0, k), slice(n_ep - k, n_ep)
        for p, runs in ((clean_p, clean), (noisy_p, noisy)):
            rows.append([_label(p)]
                        + [summarise(window(runs, "norm_var", sl)).fmt(scale=1.0, digits=4, unit="")
                           for sl in (early, late)]
                        + [summarise(window(runs, "norm_cv", sl)).fmt(scale=1.0, digits=3, unit="")
                           for sl in (early, late)])
        lines += [markdown_table(header, rows), ""]
        for key, what in (("norm_var", "gradient-norm variance"), ("norm_cv", "gradient-norm cv")):
            c = compare(window(noisy, key, slice(n_ep - k, n_ep)), window(clean, key, slice(n_ep - k, n_ep)))
            lines.append(f"- {what}, last {k} epoch(s): {_sentence_g(c, _label(noisy_p), _label(clean_p))}")
            t = compare(window(noisy, key, slice(n_ep - k, n_ep)), window(noisy, key, slice(0, k)))
            lines.append(f"- {what} under {_label(noisy_p)}, last {k} against first {k} epoch(s): "
                         f"{_sentence_g(t, 'late', 'early')}")
        curves = {_label(p): [[_f(v) for v in r["gradients"]["stats"][first]["norm_var"]] for r in runs]
                  for p, runs in ((clean_p, clean), (noisy_p, noisy))}
        fig = curves_with_seed_bands(curves, Path(figure_dir) / "early_gradient_variance.png",
                                     ylabel=f"variance of |grad| of {first} within the epoch",
                                     title=f"{cfg.name}: early-layer gradient variance", scale=1.0)
        lines += ["", f"![early-layer gradient variance]({figure_ref}{fig.name})"]

    lines += _every_run(results, [
        ("noise", lambda r: f"{_noise(r):g}"),
        (f"{layers[0]} cos→init @ {last_epoch}", lambda r: f"{_f(r['drift'][layers[0]]['cosine_to_init'][last - 1]):.3f}"),
        (f"{layers[-1]} cos→init @ {last_epoch}", lambda r: f"{_f(r['drift'][layers[-1]]['cosine_to_init'][last - 1]):.3f}"),
        ("test acc", lambda r: _pct(_f(r["epochs"]["test_accuracy"][-1]), 2)),
    ])
    return "\n".join(lines)


# --------------------------------------------------------------------------- exp14


def shift_findings(cfg, results, figure_dir, figure_ref: str = "") -> str:
    """Accuracy under each input shift and severity, clean-trained against noise-trained."""
    from keras_dyn.report.probe_figures import shift_accuracy_bars

    groups = by_noise(results)
    clean_p, noisy_p = min(groups), max(groups)
    clean, noisy = groups[clean_p], groups[noisy_p]
    lines = [_data_line(results), ""]
    tables = [r.get("shifts", {}) for r in results]
    if not all(t.get("final") for t in tables):
        return "\n".join(lines + ["No shifted-test results in these runs (is `probes.shifts` set?)."])
    kinds, sevs = list(tables[0]["kinds"]), list(tables[0]["severities"])
    last_epoch = int(tables[0]["epoch"][-1])

    def acc(runs, kind, si):
        return [_f(r["shifts"]["final"][kind][si]) for r in runs]

    def unshifted(runs):
        return [_f(r["shifts"]["final_clean"]) for r in runs]

    def drop(runs, kind, si):
        return [u - a for u, a in zip(unshifted(runs), acc(runs, kind, si))]

    n_test = cfg.probes.shift_test_size
    lines.append(f"Accuracy after epoch {last_epoch} on the same {n_test:,}-image test subset, "
                 f"unshifted and under each shift; \"drop\" is the loss from the model's own "
                 f"unshifted accuracy.")
    lines.append("")
    cu, nu = summarise(unshifted(clean)), summarise(unshifted(noisy))
    c = compare(unshifted(noisy), unshifted(clean), expect="less")
    lines.append(f"- unshifted: {_label(clean_p)} {_fmt(cu)}, {_label(noisy_p)} {_fmt(nu)}; "
                 f"{c.sentence(_label(noisy_p), _label(clean_p), verdict=False)}")
    lines.append("")
    header = ["shift", "severity", f"acc {_label(clean_p)}", f"acc {_label(noisy_p)}",
              f"drop {_label(clean_p)}", f"drop {_label(noisy_p)}", "extra drop with noise"]
    rows = []
    extra = []
    for kind in kinds:
        for si, s in enumerate(sevs):
            comp = compare(drop(noisy, kind, si), drop(clean, kind, si), expect="greater")
            extra.append((kind, s, comp))
            word = {"supported": "noise-trained loses more", "refuted": "noise-trained loses less",
                    "suggests": "noise-trained loses more in one seed",
                    "suggests not": "noise-trained loses less in one seed"}.get(comp.verdict, comp.verdict)
            rows.append([kind, s, _fmt(summarise(acc(clean, kind, si))), _fmt(summarise(acc(noisy, kind, si))),
                         _fmt(summarise(drop(clean, kind, si)), unit=" pts"),
                         _fmt(summarise(drop(noisy, kind, si)), unit=" pts"),
                         f"{comp.diff * 100:+.2f} pts ({word})"])
    lines += [markdown_table(header, rows), ""]

    mean_c = [_f(r["shifts"]["final_mean"]) for r in clean]
    mean_n = [_f(r["shifts"]["final_mean"]) for r in noisy]
    cm = compare(mean_n, mean_c, expect="less")
    md = compare([u - m for u, m in zip(unshifted(noisy), mean_n)],
                 [u - m for u, m in zip(unshifted(clean), mean_c)], expect="greater")
    lines.append(f"- mean over all shifts and severities: {cm.sentence(_label(noisy_p), _label(clean_p), verdict=False)}")
    lines.append(f"- mean drop from the unshifted accuracy: {md.sentence(_label(noisy_p), _label(clean_p), verdict=False, larger='drops more')}")
    worse = [f"{k} s{s}" for k, s, comp in extra if comp.verdict == "supported"]
    better = [f"{k} s{s}" for k, s, comp in extra if comp.verdict == "refuted"]
    lines.append(f"- cells where the noise-trained model loses more than the clean-trained one, "
                 f"beyond seed noise: {', '.join(worse) or 'none'}; where it loses less: "
                 f"{', '.join(better) or 'none'}; the other {len(extra) - len(worse) - len(better)} "
                 f"of {len(extra)} are within seed noise.")

    # severity monotone?
    non_mono = []
    for label, runs in ((_label(clean_p), clean), (_label(noisy_p), noisy)):
        for kind in kinds:
            means = [float(np.mean(acc(runs, kind, si))) for si in range(len(sevs))]
            if any(b > a for a, b in zip(means, means[1:])):
                non_mono.append(f"{kind} ({label})")
    lines.append(f"- accuracy falls with every step up in severity (mean over seeds) for every "
                 f"shift and both models" if not non_mono else
                 f"- accuracy does not fall at every step up in severity for: {', '.join(non_mono)}")
    fig = shift_accuracy_bars({_label(clean_p): clean, _label(noisy_p): noisy},
                              Path(figure_dir) / "shift_accuracy.png",
                              title=f"{cfg.name}: test accuracy under shift (dashed: unshifted)")
    lines += ["", f"![accuracy under each shift and severity]({figure_ref}{fig.name})"]
    lines += _every_run(results, [
        ("noise", lambda r: f"{_noise(r):g}"),
        ("unshifted", lambda r: _pct(_f(r["shifts"]["final_clean"]), 2)),
        ("mean shifted", lambda r: _pct(_f(r["shifts"]["final_mean"]), 2)),
    ])
    return "\n".join(lines)
