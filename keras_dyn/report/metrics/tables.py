"""Readers of the tables a run records: per-layer gradient, weight and activation statistics, shifted-test accuracies, the step losses and the NumPy twin. Each reader maps a results file (and the metric's parameters) to ``(epochs, values)`` or one number.
"""

from __future__ import annotations

import math

from keras_dyn.report.metrics.base import (CHANCE_KEY, MetricError,
                                           epochs_table, hidden_layers,
                                           resolve_layer, table_series,
                                           to_float)
from keras_dyn.step_norms import global_step_norms


def read_grad(stat):
    def layer(result, params):
        return resolve_layer(result, params.get("layer", "first"), variable=True)
    return table_series("gradients", "stats", layer, stat)


def read_grad_zero(stat):
    """``zero_frac_mean`` of a results file that left constant-input rows out (it has
    ``constant_inputs``); an older file counted them in the first kernel, which is refused there
    (not read as if it had not); its other variables have no input rows and read as they are."""
    series = read_grad(stat)

    def read(result, params):
        t = gradient_stats_of(result)
        layer = resolve_layer(result, params.get("layer", "first"), variable=True)
        if "constant_inputs" not in t and layer == t.get("first_kernel"):
            raise MetricError("[gradients] counts the zero gradients of constant inputs (results "
                              "written before constant inputs were left out): read grad_zero_frac_all "
                              "or run it again")
        return series(result, params)
    return read


def read_per_layer(table, stat):
    """A per-layer statistic; ``layer = "mean"`` averages the hidden layers."""
    def read(result, params):
        t = result.get(table)
        if not t:
            raise MetricError(f"the run has no [{table}] table")
        layer = params.get("layer", "first")
        names = (hidden_layers(result) if layer == "mean"
                 else [resolve_layer(result, layer, variable=False)])
        rows = []
        for name in names:
            if name not in t or stat not in t[name]:
                raise MetricError(f"[{table}] has no {name}.{stat}")
            rows.append([to_float(v) for v in t[name][stat]])
        n = min(len(r) for r in rows)
        values = [sum(r[i] for r in rows) / len(rows) for i in range(n)]
        return [int(e) for e in t["epoch"]][:n], values
    return read


def read_weights(stat):
    def read(result, params):
        t = result.get("weights")
        if not t:
            raise MetricError("the run has no [weights] table")
        var = resolve_layer(result, params.get("layer", "first"), variable=True)
        values = [to_float(v) for v in t[stat][var]]
        return [int(e) for e in t["epoch"]][: len(values)], values
    return read


def read_per_entry(table, read_norm):
    """A variable's norm divided by the square root of its entries (root-mean-square entry), so
    layers of different sizes compare entry for entry."""
    def read(result, params):
        t = result.get(table)
        if not t:
            raise MetricError(f"the run has no [{table}] table")
        sizes = t.get("sizes")
        if not sizes:
            raise MetricError(f"[{table}] has no 'sizes' (results written by an older keras_dyn)")
        var = resolve_layer(result, params.get("layer", "first"), variable=True)
        if var not in sizes:
            raise MetricError(f"[{table}] has no size for {var!r}")
        epochs, values = read_norm(result, params)
        root = math.sqrt(float(sizes[var]))
        return epochs, [v / root for v in values]
    return read


def read_shift(kind_of):
    """Shifted-test accuracy transformed by ``kind_of(acc, clean, chance)``."""
    def read(result, params):
        t = result.get("shifts")
        if not t:
            raise MetricError("the run has no [shifts] table")
        kind, sev = params.get("kind", "mean"), params.get("severity")
        clean = [to_float(v) for v in t["clean_accuracy"]]
        if kind == "mean" and sev is None:
            acc = [to_float(v) for v in t["mean_accuracy"]]
        elif kind == "mean":
            cols = [[to_float(v) for v in t["accuracy"][k][f"s{sev}"]] for k in t["kinds"]]
            acc = [sum(c[i] for c in cols) / len(cols) for i in range(len(clean))]
        elif sev is None:
            cols = [[to_float(v) for v in t["accuracy"][kind][f"s{s}"]] for s in t["severities"]]
            acc = [sum(c[i] for c in cols) / len(cols) for i in range(len(clean))]
        else:
            acc = [to_float(v) for v in t["accuracy"][kind][f"s{sev}"]]
        chance = 1.0 / float(result["run"].get(CHANCE_KEY, 10) or 10)
        return [int(e) for e in t["epoch"]][: len(acc)], [kind_of(a, c, chance) for a, c in zip(acc, clean)]
    return read


def ratio_of(num, den):
    return num / den if den else math.nan


#: the results key of Keras's running means before they had their own names
LEGACY_RUNNING = {"train_loss_running": "loss", "train_accuracy_running": "accuracy"}


def read_train_metric(key):
    """A per-epoch training number: ``train_loss``/``train_accuracy`` (evaluated at the epoch's
    end on the training subset) or ``train_*_running`` (Keras's running means; older results
    files hold these as ``loss``/``accuracy``). An older file has no end-of-epoch evaluation:
    :class:`MetricError`, never the running mean in its place."""
    def read(result, params):
        ep = result.get("epochs", {})
        if key not in ep:
            legacy = LEGACY_RUNNING.get(key)
            if legacy in ep:
                return epochs_table(result, legacy)
            if legacy is None and "accuracy" in ep:
                raise MetricError(f"the run has no end-of-epoch {key} (a results file from before "
                                  f"log.train_eval_size holds only Keras's running mean, "
                                  f"{key}_running); run it again")
        return epochs_table(result, key)
    return read


def read_gap(result, params):
    epochs, train = read_train_metric("train_accuracy")(result, params)
    _, test = epochs_table(result, "test_accuracy")
    n = min(len(train), len(test))
    return epochs[:n], [a - b for a, b in zip(train[:n], test[:n])]


def gradient_stats_of(result) -> dict:
    """The run's ``[gradients]`` table, or :class:`MetricError`."""
    t = result.get("gradients")
    if not t:
        raise MetricError("the run has no [gradients] table")
    return t


def read_rms_attenuation(result, params):
    """First-layer over last-layer kernel gradient, per entry: (norm / sqrt(entries)) ratio."""
    t = gradient_stats_of(result)
    sizes = t.get("sizes")
    if not sizes:
        raise MetricError("[gradients] has no 'sizes' (results written by an older keras_dyn)")
    first, last = t["first_kernel"], t["last_kernel"]
    a, b = t["stats"][first]["norm_mean"], t["stats"][last]["norm_mean"]
    scale = math.sqrt(sizes[last] / sizes[first])
    values = [ratio_of(to_float(x), to_float(y)) * scale for x, y in zip(a, b)]
    return [int(e) for e in t["epoch"]][: len(values)], values


def read_source_stability(result, params):
    """The source's "training stability score" 1 / (1 + variance of the per-epoch training loss),
    kept to show what it measures: mostly how far the loss fell, not how it jittered."""
    _, values = read_train_metric("train_loss_running")(result, params)  # what the source read
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) != len(values) or not finite:
        return math.nan
    mean = sum(finite) / len(finite)
    return 1.0 / (1.0 + sum((v - mean) ** 2 for v in finite) / len(finite))


def read_epoch_metric(key):
    return lambda result, params: epochs_table(result, key)


def read_run_value(section, key, default=math.nan):
    """A run-level number ``[section] key``; ``default`` when the results file lacks it."""
    def read(result, params):
        return to_float(result.get(section, {}).get(key, default))
    return read


def read_global_grad(stat):
    """Per epoch, a statistic of the per-step norm of the whole gradient (every variable at once:
    ``sqrt(sum over variables of norm²)``), from the recorded per-step norms."""
    def read(result, params):
        t = gradient_stats_of(result)
        steps = t.get("step_norms")
        if not steps:
            raise MetricError("[gradients] has no step_norms (per-step norms were not kept)")
        per_epoch = global_step_norms(steps)
        values = []
        for i in range(len(t["epoch"])):
            norms = per_epoch[i] if i < len(per_epoch) else []
            if not norms:
                values.append(math.nan)
                continue
            mean = sum(norms) / len(norms)
            sd = math.sqrt(sum((x - mean) ** 2 for x in norms) / len(norms))
            values.append({"mean": mean, "std": sd, "cv": ratio_of(sd, mean)}[stat])
        return [int(e) for e in t["epoch"]][: len(values)], values
    return read


VOLATILITY_WINDOW = 21  # steps in the centred moving average that is the loss's trend


def moving_average(values, window):
    half = window // 2
    prefix = [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
    out = []
    for i in range(len(values)):
        lo, hi = max(0, i - half), min(len(values), i + half + 1)
        out.append((prefix[hi] - prefix[lo]) / (hi - lo))
    return out


def read_loss_volatility(result, params):
    """Per epoch: sd of (step loss − trend) over the epoch's steps, divided by the epoch's mean
    trend; the trend is a centred moving average over ``VOLATILITY_WINDOW`` steps of the whole
    run's step losses (shorter at the run's two ends)."""
    t = result.get("step_loss")
    if not t:
        raise MetricError("the run has no [step_loss] table")
    per_epoch = [[to_float(v) for v in row] for row in t["loss"]]
    flat = [v for row in per_epoch for v in row]
    trend = moving_average(flat, VOLATILITY_WINDOW)
    values, start = [], 0
    for row in per_epoch:
        tr, lo = trend[start:start + len(row)], row
        start += len(row)
        if not row:
            values.append(math.nan)
            continue
        res = [a - b for a, b in zip(lo, tr)]
        m = sum(res) / len(res)
        sd = math.sqrt(sum((r - m) ** 2 for r in res) / len(res))
        values.append(ratio_of(sd, sum(tr) / len(tr)))
    return [int(e) for e in t["epoch"]][: len(values)], values


def read_twin_max(key):
    def read(result, params):
        t = result.get("numpy_twin")
        if not t:
            raise MetricError("the run has no [numpy_twin] table (the twin ran on other seeds)")
        values = [to_float(v) for v in t[key]]
        return max(values) if values else math.nan
    return read


TWIN_LOCKSTEP = 1e-4  # weights "in lockstep" while their relative difference stays below this


def read_twin_lockstep(result, params):
    """Epochs before the twin's weights first differ from Keras's by more than TWIN_LOCKSTEP."""
    t = result.get("numpy_twin")
    if not t:
        raise MetricError("the run has no [numpy_twin] table (the twin ran on other seeds)")
    n = 0
    for e, v in zip(t["epoch"], t["weight_rel_diff"]):
        if not to_float(v) < TWIN_LOCKSTEP:
            break
        n = int(e)
    return float(n)


def read_per_example(field, stat=None, group=None):
    """A ``[per_example]`` statistic of a layer (``layer`` left out: the whole model, ``total``);
    with ``group``, the norm summary within that group of examples (``group_norm``)."""
    def read(result, params):
        t = result.get("per_example")
        if not t:
            raise MetricError("the run has no [per_example] table")
        layer = params.get("layer")
        name = "total" if layer is None else resolve_layer(result, layer, variable=False)
        node = t.get("group_norm", {}).get(group) if group else t.get(field)
        if node is None:
            raise MetricError(f"[per_example] has no {group or field!r}"
                              + (" (the run had no label noise)" if group else ""))
        if name not in node:
            raise MetricError(f"[per_example] has no layer {name!r}")
        node = node[name] if stat is None else node[name].get(stat, [])
        values = [to_float(v) for v in node]
        return [int(e) for e in t["epoch"]][: len(values)], values
    return read
