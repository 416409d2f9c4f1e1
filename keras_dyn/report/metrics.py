"""What a lab can measure: every metric a hypothesis or a findings section may name.

A metric reads one number per run from the run's ``results.toml`` (never from a live model), at a
*reading*: an epoch, the mean of the last k epochs, the best-validation epoch, or (for run-level
numbers such as the parameter count) the run as a whole. This module is pure Python (no
TensorFlow, no matplotlib): the config check imports it to validate ``[lab]`` before anything runs.

Readings (``at`` in a lab's TOML)::

    at = 10          # after epoch 10 (epochs are 1-based: epoch e = after e epochs of training)
    at = "last"      # the last epoch the run reached
    at = "last:3"    # the mean over the last 3 epochs
    at = "best_val"  # the epoch with the highest validation accuracy (chosen on validation data,
                     # never on test data; the first such epoch on ties)
    at = "mean"      # the mean over every recorded epoch of the run (the whole run at once)
    at = ["1", "last"]  # in a list mixing the two, epochs are written as strings (TOML arrays
                        # read by the toml package must hold one type)

Metric parameters (``layer``, ``kind``, ``severity``) are given in the hypothesis or section,
or per side. ``layer`` names a layer as in the tags and results files: ``hidden1`` ...
``hiddenN``, ``output``, or ``first`` (= hidden1) / ``last`` (= output); gradient and weight
metrics take ``<layer>/kernel`` or ``<layer>/bias`` (``/kernel`` when left out). Activation and
drift metrics also take ``layer = "mean"``: the mean over the hidden layers.

The metric list (name: what, where it comes from) is :data:`METRICS`; ``python -m labs metrics``
prints it and README's "Writing a lab" section lists it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

CHANCE_KEY = "num_classes"  # in results [run]; chance accuracy is 1 / num_classes


@dataclass(frozen=True)
class Metric:
    """One measurable quantity.

    Args:
        name: the name a TOML file uses.
        what: one line for the documentation and the findings.
        table: the results table it needs (``epochs``, ``gradients``, ``activations``, ``weights``,
            ``noisy_labels``, ``shifts``, ``drift``, ``run``).
        params: parameter names it takes (``layer``, ``kind``, ``severity``).
        per_epoch: read at an epoch (``at``); False for run-level numbers.
        percent: shown in percent (accuracies and fractions).
        needs: the config switch that must be on for it to exist (for the config check).
    """

    name: str
    what: str
    table: str
    params: tuple = ()
    per_epoch: bool = True
    percent: bool = False
    needs: str = ""
    series: object = field(default=None, repr=False, compare=False)  # (result, params) -> (epochs, values)
    scalar: object = field(default=None, repr=False, compare=False)  # (result, params) -> value


class MetricError(ValueError):
    """A metric cannot be read from a results file (a bug or a mismatched results file)."""


# --------------------------------------------------------------------------- helpers


def _f(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _epochs_table(result, key):
    ep = result.get("epochs", {})
    values = [_f(v) for v in ep.get(key, [])]
    epochs = [int(e) for e in ep.get("epoch", range(1, len(values) + 1))][: len(values)]
    return epochs, values


def hidden_layers(result) -> list[str]:
    return [f"hidden{i}" for i in range(1, len(result["run"].get("hidden", [])) + 1)]


def resolve_layer(result, layer: str, *, variable: bool) -> str:
    """``first``/``last`` and a missing ``/kernel`` resolved for this run's model."""
    name, _, part = (layer or "first").partition("/")
    if name == "first":
        name = "hidden1"
    elif name == "last":
        name = "output"
    if variable:
        return f"{name}/{part or 'kernel'}"
    return name


def _series(table, *path):
    def read(result, params):
        t = result.get(table)
        if not t:
            raise MetricError(f"the run has no [{table}] table")
        node = t
        for p in path:
            p = p(result, params) if callable(p) else p
            if p not in node:
                raise MetricError(f"[{table}] has no {p!r}")
            node = node[p]
        values = [_f(v) for v in node]
        return [int(e) for e in t["epoch"]][: len(values)], values
    return read


def _grad(stat):
    def layer(result, params):
        return resolve_layer(result, params.get("layer", "first"), variable=True)
    return _series("gradients", "stats", layer, stat)


def _per_layer(table, stat):
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
            rows.append([_f(v) for v in t[name][stat]])
        n = min(len(r) for r in rows)
        values = [sum(r[i] for r in rows) / len(rows) for i in range(n)]
        return [int(e) for e in t["epoch"]][:n], values
    return read


def _weights(stat):
    def read(result, params):
        t = result.get("weights")
        if not t:
            raise MetricError("the run has no [weights] table")
        var = resolve_layer(result, params.get("layer", "first"), variable=True)
        values = [_f(v) for v in t[stat][var]]
        return [int(e) for e in t["epoch"]][: len(values)], values
    return read


def _per_entry(table, read_norm):
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


def _layer_spread(result, params):
    """Largest over smallest value of the per-layer metric ``of`` across the model's kernels,
    epoch by epoch: 1 = the same in every layer."""
    of = METRICS[params.get("of", "grad_norm")]
    t = result.get(of.table)
    if not t:
        raise MetricError(f"the run has no [{of.table}] table")
    kernels = [v for v in t.get("variables", []) if v.endswith("/kernel")]
    if len(kernels) < 2:
        raise MetricError(f"[{of.table}] has fewer than two kernels")
    columns = [of.series(result, {"layer": k}) for k in kernels]
    n = min(len(v) for _, v in columns)
    values = []
    for i in range(n):
        row = [v[i] for _, v in columns]
        finite = all(math.isfinite(x) for x in row)
        values.append(max(row) / min(row) if finite and min(row) > 0 else math.nan)
    return columns[0][0][:n], values


def _shift(kind_of):
    """Shifted-test accuracy transformed by ``kind_of(acc, clean, chance)``."""
    def read(result, params):
        t = result.get("shifts")
        if not t:
            raise MetricError("the run has no [shifts] table")
        kind, sev = params.get("kind", "mean"), params.get("severity")
        clean = [_f(v) for v in t["clean_accuracy"]]
        if kind == "mean" and sev is None:
            acc = [_f(v) for v in t["mean_accuracy"]]
        elif kind == "mean":
            cols = [[_f(v) for v in t["accuracy"][k][f"s{sev}"]] for k in t["kinds"]]
            acc = [sum(c[i] for c in cols) / len(cols) for i in range(len(clean))]
        elif sev is None:
            cols = [[_f(v) for v in t["accuracy"][kind][f"s{s}"]] for s in t["severities"]]
            acc = [sum(c[i] for c in cols) / len(cols) for i in range(len(clean))]
        else:
            acc = [_f(v) for v in t["accuracy"][kind][f"s{sev}"]]
        chance = 1.0 / float(result["run"].get(CHANCE_KEY, 10) or 10)
        return [int(e) for e in t["epoch"]][: len(acc)], [kind_of(a, c, chance) for a, c in zip(acc, clean)]
    return read


def _ratio(num, den):
    return num / den if den else math.nan


def _gap(result, params):
    epochs, train = _epochs_table(result, "accuracy")
    _, test = _epochs_table(result, "test_accuracy")
    n = min(len(train), len(test))
    return epochs[:n], [a - b for a, b in zip(train[:n], test[:n])]


def _gradients(result) -> dict:
    """The run's ``[gradients]`` table, or :class:`MetricError`."""
    t = result.get("gradients")
    if not t:
        raise MetricError("the run has no [gradients] table")
    return t


def _rms_attenuation(result, params):
    """First-layer over last-layer kernel gradient, per entry: (norm / sqrt(entries)) ratio."""
    t = _gradients(result)
    sizes = t.get("sizes")
    if not sizes:
        raise MetricError("[gradients] has no 'sizes' (results written by an older keras_dyn)")
    first, last = t["first_kernel"], t["last_kernel"]
    a, b = t["stats"][first]["norm_mean"], t["stats"][last]["norm_mean"]
    scale = math.sqrt(sizes[last] / sizes[first])
    values = [_ratio(_f(x), _f(y)) * scale for x, y in zip(a, b)]
    return [int(e) for e in t["epoch"]][: len(values)], values


def _first_epoch(result, params):
    """First epoch at which metric ``of`` reaches ``threshold`` (absolute) or ``fraction`` of the
    run's own last value; +inf when it never does (left out of means, and counted)."""
    of = METRICS[params.get("of", OF_DEFAULT["first_epoch"])]
    inner = {k: v for k, v in params.items() if k in of.params}
    epochs, values = of.series(result, inner)
    if not values:
        return math.nan
    if "threshold" in params:
        target = float(params["threshold"])
    else:
        target = float(params.get("fraction", 0.9)) * values[-1]
    for e, v in zip(epochs, values):
        if math.isfinite(v) and v >= target:
            return float(e)
    return math.inf


def _cpu_seconds_to(result, params):
    """Process CPU seconds of training and validation (the epochs' ``cpu_seconds``) summed up to
    and including the epoch :func:`_first_epoch` finds; +inf when the target is never reached."""
    first = _first_epoch(result, params)
    if not math.isfinite(first):
        return first
    epochs, cpu = _epochs_table(result, "cpu_seconds")
    if not cpu:
        return math.nan
    return float(sum(c for e, c in zip(epochs, cpu) if e <= first))


def _first_epoch_of_best(result, params):
    """First epoch at which metric ``of`` reaches ``fraction`` of the run's own best (highest
    finite) value: how soon a run gets close to what it ever reaches. Meant for accuracies (higher
    is better); always reached (at worst at the best epoch itself), NaN without finite values."""
    of = METRICS[params.get("of", OF_DEFAULT["first_epoch_of_best"])]
    inner = {k: v for k, v in params.items() if k in of.params}
    epochs, values = of.series(result, inner)
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    target = float(params.get("fraction", 0.99)) * max(finite)
    for e, v in zip(epochs, values):
        if math.isfinite(v) and v >= target:
            return float(e)
    return math.nan  # unreachable: the best value itself reaches the target


EPOCH_TREND_WINDOW = 7  # epochs in each local trend fit of `volatility`


def _volatility(result, params):
    """How much a (loss) curve jitters around its own trend, in log units.

    The trend is local: at each epoch with a full window of ``EPOCH_TREND_WINDOW`` (7) epochs
    centred on it, a least-squares quadratic in log(epoch) is fitted to log(value) over the
    window, and the centre's residual is divided by sqrt(1 − h), h being the centre's leverage
    in that fit, so that for independent noise each standardised residual has the noise's own
    variance. The volatility is the root mean square of these residuals: the typical relative
    departure of one epoch from the trend of its neighbours (0.05 means about ±5 %). Unlike the
    source's ``1 / (1 + var(loss))``, it does not depend on how far the loss fell (a smooth fall
    from 2.3 to 0.1 has volatility ≈ 0 and a large variance), it follows a validation loss that
    turns upwards (overfitting) without counting the turn, and it is scale-free (the same jitter
    on a loss twice as large reads the same). It uses the per-epoch values (the results file
    keeps no per-step loss; the training loss is Keras's running mean over the epoch, the
    validation loss is measured on the same fixed examples after every epoch, so it shows the
    weights' epoch-to-epoch jitter most directly). A run with fewer than 7 finite positive values
    uses the largest odd window it has, at least 5 (NaN below that); a diverged run reads NaN.
    """
    import numpy as np

    if result.get("run", {}).get("status") == "diverged":
        return math.nan
    of = METRICS[params.get("of", OF_DEFAULT["volatility"])]
    inner = {k: v for k, v in params.items() if k in of.params}
    epochs, values = of.series(result, inner)
    pairs = [(e, v) for e, v in zip(epochs, values) if e >= 1 and math.isfinite(v) and v > 0]
    window = min(EPOCH_TREND_WINDOW, len(pairs) - (1 - len(pairs) % 2))
    if window < 5:
        return math.nan
    x = np.log(np.array([e for e, _ in pairs], float))
    y = np.log(np.array([v for _, v in pairs], float))
    half = window // 2
    standardised = []
    for c in range(half, len(y) - half):
        xs = x[c - half:c + half + 1] - x[c]  # centred: the fit's value at the centre is its constant
        design = np.vander(xs, 3)
        coef, *_ = np.linalg.lstsq(design, y[c - half:c + half + 1], rcond=None)
        leverage = np.linalg.pinv(design.T @ design)[2, 2]  # h = e0ᵀ (XᵀX)⁻¹ e0 at xs = 0
        standardised.append((y[c] - coef[2]) / math.sqrt(max(1.0 - leverage, 1e-12)))
    return float(np.sqrt(np.mean(np.square(standardised))))


def _source_stability(result, params):
    """The source's "training stability score" 1 / (1 + variance of the per-epoch training loss),
    kept to show what it measures: mostly how far the loss fell, not how it jittered."""
    _, values = _epochs_table(result, "loss")
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) != len(values) or not finite:
        return math.nan
    mean = sum(finite) / len(finite)
    return 1.0 / (1.0 + sum((v - mean) ** 2 for v in finite) / len(finite))


def _epoch_metric(key):
    return lambda result, params: _epochs_table(result, key)


def _run_value(section, key):
    def read(result, params):
        return _f(result.get(section, {}).get(key, math.nan))
    return read


def _global_grad(stat):
    """Per epoch, a statistic of the per-step norm of the whole gradient (every variable at once:
    ``sqrt(sum over variables of norm²)``), from the recorded per-step norms."""
    def read(result, params):
        t = _gradients(result)
        steps = t.get("step_norms")
        if not steps:
            raise MetricError("[gradients] has no step_norms (per-step norms were not kept)")
        names = list(steps)
        values = []
        for i in range(len(t["epoch"])):
            per_var = [[_f(v) for v in steps[n][i]] for n in names]
            norms = [math.sqrt(sum(c[k] ** 2 for c in per_var)) for k in range(min(map(len, per_var)))]
            if not norms:
                values.append(math.nan)
                continue
            mean = sum(norms) / len(norms)
            sd = math.sqrt(sum((x - mean) ** 2 for x in norms) / len(norms))
            values.append({"mean": mean, "std": sd, "cv": _ratio(sd, mean)}[stat])
        return [int(e) for e in t["epoch"]][: len(values)], values
    return read


VOLATILITY_WINDOW = 21  # steps in the centred moving average that is the loss's trend


def _moving_average(values, window):
    half = window // 2
    prefix = [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
    out = []
    for i in range(len(values)):
        lo, hi = max(0, i - half), min(len(values), i + half + 1)
        out.append((prefix[hi] - prefix[lo]) / (hi - lo))
    return out


def _loss_volatility(result, params):
    """Per epoch: sd of (step loss − trend) over the epoch's steps, divided by the epoch's mean
    trend; the trend is a centred moving average over ``VOLATILITY_WINDOW`` steps of the whole
    run's step losses (shorter at the run's two ends)."""
    t = result.get("step_loss")
    if not t:
        raise MetricError("the run has no [step_loss] table")
    per_epoch = [[_f(v) for v in row] for row in t["loss"]]
    flat = [v for row in per_epoch for v in row]
    trend = _moving_average(flat, VOLATILITY_WINDOW)
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
        values.append(_ratio(sd, sum(tr) / len(tr)))
    return [int(e) for e in t["epoch"]][: len(values)], values


def _twin_max(key):
    def read(result, params):
        t = result.get("numpy_twin")
        if not t:
            raise MetricError("the run has no [numpy_twin] table (the twin ran on other seeds)")
        values = [_f(v) for v in t[key]]
        return max(values) if values else math.nan
    return read


TWIN_LOCKSTEP = 1e-4  # weights "in lockstep" while their relative difference stays below this


def _twin_lockstep(result, params):
    """Epochs before the twin's weights first differ from Keras's by more than TWIN_LOCKSTEP."""
    t = result.get("numpy_twin")
    if not t:
        raise MetricError("the run has no [numpy_twin] table (the twin ran on other seeds)")
    n = 0
    for e, v in zip(t["epoch"], t["weight_rel_diff"]):
        if not _f(v) < TWIN_LOCKSTEP:
            break
        n = int(e)
    return float(n)


# --------------------------------------------------------------------------- the list

_LIST = [
    Metric("test_accuracy", "test accuracy (reported, never used to choose)", "epochs", percent=True,
           series=_epoch_metric("test_accuracy")),
    Metric("val_accuracy", "validation accuracy", "epochs", percent=True, needs="validation",
           series=_epoch_metric("val_accuracy")),
    Metric("train_accuracy", "training accuracy (Keras's running mean over the epoch, on the labels trained on)",
           "epochs", percent=True, series=_epoch_metric("accuracy")),
    Metric("test_loss", "test loss", "epochs", series=_epoch_metric("test_loss")),
    Metric("val_loss", "validation loss", "epochs", needs="validation", series=_epoch_metric("val_loss")),
    Metric("train_loss", "training loss (running mean over the epoch)", "epochs", series=_epoch_metric("loss")),
    Metric("train_test_gap", "training accuracy minus test accuracy", "epochs", percent=True, series=_gap),
    Metric("learning_rate", "learning rate in force at the end of the epoch", "epochs",
           series=_epoch_metric("learning_rate")),
    Metric("grad_norm", "mean over the epoch's steps of the applied gradient's L2 norm", "gradients",
           ("layer",), needs="gradients", series=_grad("norm_mean")),
    Metric("grad_norm_cv", "coefficient of variation (sd / mean) of the per-step gradient norm within the epoch",
           "gradients", ("layer",), needs="gradients", series=_grad("norm_cv")),
    Metric("grad_norm_var", "variance of the per-step gradient norm within the epoch", "gradients",
           ("layer",), needs="gradients", series=_grad("norm_var")),
    Metric("grad_norm_std", "standard deviation of the per-step gradient norm within the epoch", "gradients",
           ("layer",), needs="gradients", series=_grad("norm_std")),
    Metric("grad_mean_abs", "mean |g| per entry, averaged over the epoch's steps", "gradients",
           ("layer",), needs="gradients", series=_grad("mean_abs_mean")),
    Metric("grad_zero_frac", "fraction of exactly-zero gradient entries, averaged over the epoch's steps",
           "gradients", ("layer",), percent=True, needs="gradients", series=_grad("zero_frac_mean")),
    Metric("grad_attenuation", "first-layer kernel gradient norm / last-layer kernel gradient norm (epoch means)",
           "gradients", needs="gradients", series=_series("gradients", "attenuation")),
    Metric("grad_attenuation_rms", "the same per entry: ratio of RMS gradient entries (norm / sqrt(entries))",
           "gradients", needs="gradients", series=_rms_attenuation),
    Metric("dead_frac", "fraction of a layer's units that output 0 for every probe example", "activations",
           ("layer",), percent=True, needs="activations", series=_per_layer("activations", "dead_frac")),
    Metric("near_zero_frac", "fraction of activation values with |a| < 1e-3 on the probe batch", "activations",
           ("layer",), percent=True, needs="activations", series=_per_layer("activations", "near_zero_frac")),
    Metric("saturated_frac", "fraction of sigmoid/tanh activation values within 0.01 of an asymptote",
           "activations", ("layer",), percent=True, needs="activations",
           series=_per_layer("activations", "saturated_frac")),
    Metric("update_ratio", "||w_after − w_before|| / ||w_before|| over the recorded interval", "weights",
           ("layer",), needs="weights", series=_weights("update_ratio")),
    Metric("weight_norm", "L2 norm of a layer's weights", "weights", ("layer",), needs="weights",
           series=_weights("norm")),
    Metric("update_norm", "||w_after − w_before||: the step the optimiser actually took over the recorded "
           "interval (net, summed over its updates)", "weights", ("layer",), needs="weights",
           series=_weights("update_norm")),
    Metric("update_rms", "the same per entry: ||Δw|| / sqrt(entries)", "weights", ("layer",),
           needs="weights", series=_per_entry("weights", _weights("update_norm"))),
    Metric("grad_rms", "the applied gradient per entry: grad_norm / sqrt(entries)", "gradients",
           ("layer",), needs="gradients", series=_per_entry("gradients", _grad("norm_mean"))),
    Metric("layer_spread", "largest / smallest value across the model's kernels of the per-layer metric `of` "
           "(default grad_norm): 1 = uniform across layers", "layers", ("of",),
           series=_layer_spread),
    Metric("memorised_frac", "fraction of corrupted training examples predicted as their noisy label",
           "noisy_labels", percent=True, needs="noisy_labels", series=_series("noisy_labels", "memorised_acc")),
    Metric("corrupted_true_acc", "accuracy on the corrupted training examples against their true labels",
           "noisy_labels", percent=True, needs="noisy_labels",
           series=_series("noisy_labels", "corrupted_true_acc")),
    Metric("clean_train_acc", "accuracy on the uncorrupted training examples", "noisy_labels", percent=True,
           needs="noisy_labels", series=_series("noisy_labels", "clean_acc")),
    Metric("noisy_gap", "training accuracy on the labels trained on minus test accuracy (inference mode)",
           "noisy_labels", percent=True, needs="noisy_labels", series=_series("noisy_labels", "gap")),
    Metric("shift_accuracy", "test accuracy under a shift (kind, severity; kind = \"mean\": all kinds)",
           "shifts", ("kind", "severity"), percent=True, needs="shifts", series=_shift(lambda a, c, ch: a)),
    Metric("shift_drop", "unshifted minus shifted test accuracy", "shifts", ("kind", "severity"),
           percent=True, needs="shifts", series=_shift(lambda a, c, ch: c - a)),
    Metric("shift_kept", "shifted accuracy as a fraction of the model's own unshifted accuracy", "shifts",
           ("kind", "severity"), percent=True, needs="shifts", series=_shift(lambda a, c, ch: _ratio(a, c))),
    Metric("shift_kept_above_chance", "(shifted − chance) / (unshifted − chance): accuracy above chance kept",
           "shifts", ("kind", "severity"), percent=True, needs="shifts",
           series=_shift(lambda a, c, ch: _ratio(a - ch, c - ch))),
    Metric("shift_clean_accuracy", "unshifted accuracy on the shift probe's test subset", "shifts",
           percent=True, needs="shifts", series=_series("shifts", "clean_accuracy")),
    Metric("drift_cka", "linear CKA between a layer's representation now and at initialisation (1 = unchanged)",
           "drift", ("layer",), needs="drift", series=_per_layer("drift", "cka_to_init")),
    Metric("drift_cosine", "cosine similarity of a layer's representation now and at initialisation",
           "drift", ("layer",), needs="drift", series=_per_layer("drift", "cosine_to_init")),
    Metric("drift_cosine_prev", "cosine similarity to the previous measurement (lower = still moving)",
           "drift", ("layer",), needs="drift", series=_per_layer("drift", "cosine_to_prev")),
    Metric("first_epoch", "first epoch at which the metric `of` reaches `threshold` (absolute, a fraction "
           "for accuracies) or `fraction` of the run's own last value; inf if never", "run",
           ("of", "threshold", "fraction", "layer", "kind", "severity"), per_epoch=False, scalar=_first_epoch),
    Metric("cpu_seconds_to", "process CPU seconds of training (and validation) up to and including the epoch "
           "`first_epoch` finds for the same `of` and `threshold` / `fraction`; inf if never", "run",
           ("of", "threshold", "fraction", "layer", "kind", "severity"), per_epoch=False, scalar=_cpu_seconds_to),
    Metric("params", "trainable parameters", "run", per_epoch=False, scalar=_run_value("run", "params")),
    Metric("train_seconds", "wall-clock training time (s)", "run", per_epoch=False,
           scalar=_run_value("final", "train_seconds")),
    Metric("cpu_seconds", "process CPU time of training (s)", "run", per_epoch=False,
           scalar=_run_value("final", "train_cpu_seconds")),
    Metric("steps_per_second", "optimizer steps per wall-clock second", "run", per_epoch=False,
           scalar=_run_value("final", "steps_per_second")),
    Metric("first_epoch_of_best", "first epoch at which the metric `of` (default val_accuracy) reaches "
           "`fraction` (default 0.99) of the run's own best value", "run",
           ("of", "fraction", "layer", "kind", "severity"), per_epoch=False, scalar=_first_epoch_of_best),
    Metric("volatility", "sd of log(`of`) (default train_loss) around its local trend (a quadratic in "
           "log(epoch) over 7 epochs): relative jitter of the curve, independent of how far it fell", "run",
           ("of", "layer", "kind", "severity"), per_epoch=False, scalar=_volatility),
    Metric("best_val_epoch", "the epoch of the highest validation accuracy (the first on ties)", "run",
           per_epoch=False, needs="validation", scalar=lambda result, params: float(best_val_epoch(result))),
    Metric("source_stability", "the source's stability score 1 / (1 + variance of the per-epoch training loss)",
           "run", per_epoch=False, scalar=_source_stability),
    Metric("grad_global_norm", "mean over the epoch's steps of the whole gradient's L2 norm (all variables)",
           "gradients", needs="gradients", series=_global_grad("mean")),
    Metric("grad_global_norm_std", "standard deviation of the whole gradient's per-step norm within the epoch",
           "gradients", needs="gradients", series=_global_grad("std")),
    Metric("grad_global_norm_cv", "coefficient of variation (sd / mean) of the whole gradient's per-step norm "
           "within the epoch", "gradients", needs="gradients", series=_global_grad("cv")),
    Metric("loss_volatility", "oscillation of the training loss around its trend: sd over the epoch's steps of "
           "(step loss − its 21-step centred moving average) / the epoch's mean trend", "step_loss",
           needs="step_loss", series=_loss_volatility),
    Metric("twin_loss_rel_diff", "|Keras − NumPy twin| / Keras training loss at the epoch's end (same weights "
           "and batches from the start)", "numpy_twin", needs="numpy_twin",
           series=_series("numpy_twin", "loss_rel_diff")),
    Metric("twin_weight_rel_diff", "largest ||w_keras − w_numpy|| / ||w_keras|| over the weight arrays",
           "numpy_twin", needs="numpy_twin", series=_series("numpy_twin", "weight_rel_diff")),
    Metric("twin_max_loss_rel_diff", "the largest twin_loss_rel_diff over the run's epochs", "run",
           per_epoch=False, needs="numpy_twin", scalar=_twin_max("loss_rel_diff")),
    Metric("twin_max_step_loss_rel_diff", "the largest relative difference of one step's mini-batch loss "
           "between Keras and the NumPy twin over the run", "run", per_epoch=False, needs="numpy_twin",
           scalar=_twin_max("step_loss_rel_diff_max")),
    Metric("twin_lockstep_epochs", "epochs before the twin's weights first differ from Keras's by more than "
           "1e-4 (relative)", "run", per_epoch=False, needs="numpy_twin", scalar=_twin_lockstep),
]
METRICS: dict[str, Metric] = {m.name: m for m in _LIST}
PARAMS = ("layer", "kind", "severity", "of", "threshold", "fraction")
#: the per-epoch metric read by a metric that takes ``of``, when ``of`` is left out
OF_DEFAULT = {"first_epoch": "train_accuracy", "cpu_seconds_to": "train_accuracy", "first_epoch_of_best": "val_accuracy", "volatility": "train_loss"}

LAYER_RE = re.compile(r"^(hidden[1-9][0-9]{0,2}|output|first|last|mean)(/(kernel|bias))?$")
_AT_RE = re.compile(r"^last:([1-9][0-9]{0,4})$")


# --------------------------------------------------------------------------- readings


@dataclass(frozen=True)
class Reading:
    """When a metric is read: ``kind`` is ``epoch`` (``epoch`` set), ``last``, ``last_k`` (``k``),
    ``best_val`` or ``mean`` (every recorded epoch)."""

    kind: str
    epoch: int = 0
    k: int = 1

    @property
    def label(self) -> str:
        return {"epoch": f"epoch {self.epoch}", "last": "the last epoch",
                "last_k": f"mean of the last {self.k} epochs",
                "best_val": "the best-validation epoch", "mean": "the mean over every epoch"}[self.kind]

    @property
    def short(self) -> str:
        return {"epoch": f"@{self.epoch}", "last": "@last", "last_k": f"@last {self.k}",
                "best_val": "@best val", "mean": "@mean"}[self.kind]


def parse_reading(value) -> Reading:
    """``10`` / ``"last"`` / ``"last:3"`` / ``"best_val"`` / ``"mean"``; raises ValueError with what
    is allowed."""
    if isinstance(value, bool):
        raise ValueError("must be an epoch number, \"last\", \"last:K\" or \"best_val\"")
    if isinstance(value, str) and value.isdigit():
        value = int(value)  # "5": a list mixing epochs and names must be all strings in TOML files
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"epoch {value} is out of range; epochs are numbered from 1")
        return Reading("epoch", epoch=value)
    if value == "last":
        return Reading("last")
    if value == "best_val":
        return Reading("best_val")
    if value == "mean":
        return Reading("mean")
    if isinstance(value, str):
        m = _AT_RE.match(value)
        if m:
            return Reading("last_k", k=int(m.group(1)))
    raise ValueError(f"unknown reading {value!r}; allowed: an epoch number (1-based), \"last\", "
                     f"\"last:K\" (mean of the last K epochs), \"best_val\" or \"mean\" (mean over "
                     f"every epoch)")


def check_param(metric: Metric, name: str, value):
    """Raise ValueError if ``value`` is not a possible value of parameter ``name``."""
    if name not in metric.params:
        allowed = ", ".join(metric.params) or "none"
        raise ValueError(f"metric {metric.name!r} takes no parameter {name!r}; its parameters: {allowed}")
    if name == "layer":
        if not isinstance(value, str) or not LAYER_RE.match(value):
            raise ValueError(f"unknown layer {value!r}; allowed: hidden1 .. hiddenN, output, first, "
                             f"last (with /kernel or /bias for gradient and weight metrics), mean")
        if value.startswith("mean") and metric.table not in ("activations", "drift"):
            raise ValueError(f"layer \"mean\" is only for activation and drift metrics, not {metric.name!r}")
        if "/" in value and metric.table not in ("gradients", "weights"):
            raise ValueError(f"{metric.name!r} is per layer, not per variable: use {value.split('/')[0]!r}")
    elif name == "severity":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise ValueError(f"severity must be a whole number from 1 to 5, not {value!r}")
    elif name == "kind":
        if not isinstance(value, str):
            raise ValueError(f"kind must be a shift name or \"mean\", not {value!r}")
    elif name == "of":
        if not isinstance(value, str) or value not in METRICS or not METRICS[value].per_epoch:
            raise ValueError(f"`of` must name a per-epoch metric, not {value!r}")
        if metric.name == "layer_spread" and (METRICS[value].table not in ("gradients", "weights")
                                              or "layer" not in METRICS[value].params):
            raise ValueError(f"`of` must name a per-layer gradient or weight metric (e.g. grad_norm, "
                             f"grad_rms, update_ratio, update_rms), not {value!r}")
    elif name in ("threshold", "fraction"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ValueError(f"{name} must be a number in (0, 1], not {value!r}")
    if isinstance(value, str) and not value:
        raise ValueError(f"{name} must not be empty")


def recorded_every(cfg, table) -> int:
    """Epochs between the recordings of a results table in a run of ``cfg`` (1: every epoch)."""
    if table in ("activations", "weights"):
        return cfg.log.every
    if table == "shifts":
        return cfg.probes.shift_every
    return 1


def best_val_epoch(result) -> int:
    """The first epoch with the highest finite validation accuracy."""
    epochs, val = _epochs_table(result, "val_accuracy")
    finite = [(v, -e) for e, v in zip(epochs, val) if math.isfinite(v)]
    if not finite:
        raise MetricError("no finite validation accuracy to choose the best-validation epoch on")
    return -max(finite)[1]


def series(result, metric: str | Metric, params: dict | None = None):
    """``(epochs, values)`` of a per-epoch metric for one run."""
    m = METRICS[metric] if isinstance(metric, str) else metric
    return m.series(result, params or {})


def value(result, metric: str | Metric, params: dict | None = None,
          at: Reading | None = None) -> float:
    """One run's value of ``metric`` at reading ``at`` (default: the last epoch).

    A diverged run (``[run] status = "diverged"``) reads as NaN unless the reading epoch is one
    it completed before diverging with a finite value; NaN values are left out of means by
    :mod:`keras_dyn.stats` and counted.
    """
    m = METRICS[metric] if isinstance(metric, str) else metric
    params = params or {}
    if not m.per_epoch:
        return m.scalar(result, params)
    at = at or Reading("last")
    epochs, values = m.series(result, params)
    if not values:
        return math.nan
    by_epoch = dict(zip(epochs, values))
    if at.kind == "last":
        if result.get("run", {}).get("status") == "diverged":
            return math.nan
        return values[-1]
    if at.kind == "mean":
        if result.get("run", {}).get("status") == "diverged":
            return math.nan
        return sum(values) / len(values)
    if at.kind == "last_k":
        if result.get("run", {}).get("status") == "diverged":
            return math.nan
        tail = values[-at.k:]
        return sum(tail) / len(tail) if len(tail) == at.k else math.nan
    epoch = at.epoch if at.kind == "epoch" else best_val_epoch(result)
    if epoch not in by_epoch:
        if result.get("run", {}).get("status") == "diverged":
            return math.nan
        raise MetricError(f"{m.name} was not recorded at epoch {epoch} (recorded: "
                          f"{', '.join(map(str, epochs[:12]))}{' …' if len(epochs) > 12 else ''})")
    return by_epoch[epoch]


def describe(metric: str, params: dict | None = None) -> str:
    """``grad_norm (hidden1/kernel)`` — a metric with its parameters, for tables and verdicts."""
    taken = METRICS[metric].params if metric in METRICS else PARAMS
    params = {k: v for k, v in (params or {}).items() if k in PARAMS and k in taken}
    if not params:
        return metric
    def show(k, v):
        if k == "severity":
            return f"s{v}"
        if k in ("of", "threshold", "fraction"):
            return f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}"
        return str(v)
    return f"{metric} ({', '.join(show(k, v) for k, v in params.items())})"
