"""The metric registry: every metric a hypothesis or a findings section can name (``METRICS``), and the derived metrics that read another metric (``of``): when a threshold is first reached, the epoch of the best value, the spread across layers, the volatility around a local trend.
"""

from __future__ import annotations

import math

from keras_dyn.report.metrics.base import (OF_DEFAULT, Metric, MetricError, best_val_epoch, epochs_table,
                                           table_series)
from keras_dyn.report.metrics.tables import (ratio_of, read_epoch_metric, read_gap, read_global_grad,
                                             read_grad, read_grad_zero, read_loss_volatility, read_per_entry,
                                             read_per_example, read_per_layer, read_rms_attenuation, read_run_value, read_shift,
                                             read_source_stability, read_twin_lockstep, read_twin_max,
                                             read_train_metric, read_weights)


def read_layer_spread(result, params):
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


def read_first_epoch(result, params):
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


def read_cpu_seconds_to(result, params):
    """Process CPU seconds of training and validation (the epochs' ``cpu_seconds``) summed up to
    and including the epoch :func:`read_first_epoch` finds; +inf when the target is never reached."""
    first = read_first_epoch(result, params)
    if not math.isfinite(first):
        return first
    epochs, cpu = epochs_table(result, "cpu_seconds")
    if not cpu:
        return math.nan
    return float(sum(c for e, c in zip(epochs, cpu) if e <= first))


def read_steps_to(result, params):
    """Optimiser steps up to and including the epoch :func:`read_first_epoch` finds: that epoch
    times the run's steps per epoch (``[run] steps_per_epoch``), so runs with different batch
    sizes compare in updates; +inf when the target is never reached. The resolution is one epoch
    (the threshold is read at epoch ends)."""
    first = read_first_epoch(result, params)
    if not math.isfinite(first):
        return first
    steps = result.get("run", {}).get("steps_per_epoch")
    if not steps:
        raise MetricError("[run] has no steps_per_epoch")
    return float(first) * float(steps)


def read_sharpness_eos_ratio(result, params):
    """Sharpness over the gradient-descent stability threshold 2/η, epoch by epoch:
    ``sharpness × learning_rate / 2`` with the learning rate in force at that epoch's end. 1 is
    Cohen et al. (2021)'s edge of stability for plain gradient descent (with momentum β the
    threshold is (2 + 2β)/η, which this does not account for)."""
    epochs, sharp = table_series("curvature", "sharpness")(result, params)
    lr_epochs, lr = epochs_table(result, "learning_rate")
    by_epoch = dict(zip(lr_epochs, lr))
    values = [s * by_epoch.get(e, math.nan) / 2.0 for e, s in zip(epochs, sharp)]
    return epochs, values


def read_first_epoch_of_best(result, params):
    """First epoch at which metric ``of`` reaches ``fraction`` of the run's own best finite value:
    how soon a run gets close to what it ever reaches. The best is the metric's ``better`` way
    (:attr:`Metric.better`): for an accuracy (higher is better) the first epoch with a value >=
    fraction x the highest; for a loss or an epoch count (lower is better) the first with a value
    <= the lowest / fraction. With ``fraction = 1`` it is the epoch of the best value (the first,
    on a tie). Always reached (at worst at the best epoch itself); NaN without finite values."""
    of = METRICS[params.get("of", OF_DEFAULT["first_epoch_of_best"])]
    inner = {k: v for k, v in params.items() if k in of.params}
    epochs, values = of.series(result, inner)
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    fraction = float(params.get("fraction", 0.99))
    lower = of.better == "lower"
    target = min(finite) / fraction if lower else fraction * max(finite)
    for e, v in zip(epochs, values):
        if math.isfinite(v) and (v <= target if lower else v >= target):
            return float(e)
    return math.nan  # unreachable: the best value itself reaches the target


EPOCH_TREND_WINDOW = 7  # epochs in each local trend fit of `volatility`


def read_volatility(result, params):
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


_LIST = [
    Metric("test_accuracy", "test accuracy (reported, never used to choose)", "epochs", percent=True,
           series=read_epoch_metric("test_accuracy")),
    Metric("val_accuracy", "validation accuracy", "epochs", percent=True, needs="validation",
           series=read_epoch_metric("val_accuracy")),
    Metric("train_accuracy", "training accuracy at the epoch's end (its final weights, on the fixed "
           "training subset log.train_eval_size, the labels trained on)",
           "epochs", percent=True, series=read_train_metric("train_accuracy")),
    Metric("train_accuracy_running", "Keras's running mean of the training accuracy over the epoch's "
           "batches (each before its update: biased low against an end-of-epoch number)",
           "epochs", percent=True, series=read_train_metric("train_accuracy_running")),
    Metric("test_loss", "test loss", "epochs", series=read_epoch_metric("test_loss")),
    Metric("val_loss", "validation loss", "epochs", needs="validation", series=read_epoch_metric("val_loss")),
    Metric("train_loss", "training loss at the epoch's end (its final weights, on the fixed training "
           "subset)", "epochs", series=read_train_metric("train_loss")),
    Metric("train_loss_running", "Keras's running mean of the training loss over the epoch's batches",
           "epochs", series=read_train_metric("train_loss_running")),
    Metric("train_test_gap", "training accuracy minus test accuracy, both at the epoch's end",
           "epochs", percent=True, series=read_gap),
    Metric("learning_rate", "learning rate in force at the end of the epoch", "epochs",
           series=read_epoch_metric("learning_rate")),
    Metric("grad_norm", "mean over the epoch's steps of the applied gradient's L2 norm", "gradients",
           ("layer",), needs="gradients", series=read_grad("norm_mean")),
    Metric("grad_norm_cv", "coefficient of variation (sd / mean) of the per-step gradient norm within the epoch",
           "gradients", ("layer",), needs="gradients", series=read_grad("norm_cv")),
    Metric("grad_norm_var", "variance of the per-step gradient norm within the epoch", "gradients",
           ("layer",), needs="gradients", series=read_grad("norm_var")),
    Metric("grad_norm_std", "standard deviation of the per-step gradient norm within the epoch", "gradients",
           ("layer",), needs="gradients", series=read_grad("norm_std")),
    Metric("grad_mean_abs", "mean |g| per entry, averaged over the epoch's steps", "gradients",
           ("layer",), needs="gradients", series=read_grad("mean_abs_mean")),
    Metric("grad_zero_frac", "fraction of exactly-zero gradient entries, averaged over the epoch's steps; "
           "the first kernel's rows of inputs constant over the training set (always-0 pixels) left out",
           "gradients", ("layer",), percent=True, needs="gradients", series=read_grad_zero("zero_frac_mean")),
    Metric("grad_zero_frac_all", "fraction of exactly-zero gradient entries counting every entry "
           "(constant-input rows included)", "gradients", ("layer",), percent=True, needs="gradients",
           series=read_grad("zero_frac_all_mean")),
    Metric("grad_attenuation", "first-layer kernel gradient norm / last-layer kernel gradient norm (epoch means)",
           "gradients", needs="gradients", series=table_series("gradients", "attenuation")),
    Metric("grad_attenuation_rms", "the same per entry: ratio of RMS gradient entries (norm / sqrt(entries))",
           "gradients", needs="gradients", series=read_rms_attenuation),
    Metric("dead_frac", "fraction of a layer's units that output 0 for every probe example", "activations",
           ("layer",), percent=True, needs="activations", series=read_per_layer("activations", "dead_frac")),
    Metric("near_zero_frac", "fraction of activation values with |a| < 1e-3 on the probe batch", "activations",
           ("layer",), percent=True, needs="activations", series=read_per_layer("activations", "near_zero_frac")),
    Metric("saturated_frac", "fraction of sigmoid/tanh activation values within 0.01 of an asymptote",
           "activations", ("layer",), percent=True, needs="activations",
           series=read_per_layer("activations", "saturated_frac")),
    Metric("update_ratio", "||w_after − w_before|| / ||w_before|| over the recorded interval", "weights",
           ("layer",), needs="weights", series=read_weights("update_ratio")),
    Metric("weight_norm", "L2 norm of a layer's weights", "weights", ("layer",), needs="weights",
           series=read_weights("norm")),
    Metric("update_norm", "||w_after − w_before||: the step the optimiser actually took over the recorded "
           "interval (net, summed over its updates)", "weights", ("layer",), needs="weights",
           series=read_weights("update_norm")),
    Metric("update_rms", "the same per entry: ||Δw|| / sqrt(entries)", "weights", ("layer",),
           needs="weights", series=read_per_entry("weights", read_weights("update_norm"))),
    Metric("grad_rms", "the applied gradient per entry: grad_norm / sqrt(entries)", "gradients",
           ("layer",), needs="gradients", series=read_per_entry("gradients", read_grad("norm_mean"))),
    Metric("layer_spread", "largest / smallest value across the model's kernels of the per-layer metric `of` "
           "(default grad_norm): 1 = uniform across layers", "layers", ("of",),
           series=read_layer_spread),
    Metric("memorised_frac", "fraction of corrupted training examples predicted as their noisy label",
           "noisy_labels", percent=True, needs="noisy_labels", series=table_series("noisy_labels", "memorised_acc")),
    Metric("corrupted_true_acc", "accuracy on the corrupted training examples against their true labels",
           "noisy_labels", percent=True, needs="noisy_labels",
           series=table_series("noisy_labels", "corrupted_true_acc")),
    Metric("clean_train_acc", "accuracy on the uncorrupted training examples", "noisy_labels", percent=True,
           needs="noisy_labels", series=table_series("noisy_labels", "clean_acc")),
    Metric("noisy_gap", "training accuracy on the labels trained on minus test accuracy (inference mode)",
           "noisy_labels", percent=True, needs="noisy_labels", series=table_series("noisy_labels", "gap")),
    Metric("shift_accuracy", "test accuracy under a shift (kind, severity; kind = \"mean\": all kinds)",
           "shifts", ("kind", "severity"), percent=True, needs="shifts", series=read_shift(lambda a, c, ch: a)),
    Metric("shift_drop", "unshifted minus shifted test accuracy", "shifts", ("kind", "severity"),
           percent=True, needs="shifts", series=read_shift(lambda a, c, ch: c - a)),
    Metric("shift_kept", "shifted accuracy as a fraction of the model's own unshifted accuracy", "shifts",
           ("kind", "severity"), percent=True, needs="shifts", series=read_shift(lambda a, c, ch: ratio_of(a, c))),
    Metric("shift_kept_above_chance", "(shifted − chance) / (unshifted − chance): accuracy above chance kept",
           "shifts", ("kind", "severity"), percent=True, needs="shifts",
           series=read_shift(lambda a, c, ch: ratio_of(a - ch, c - ch))),
    Metric("shift_clean_accuracy", "unshifted accuracy on the shift probe's test subset", "shifts",
           percent=True, needs="shifts", series=table_series("shifts", "clean_accuracy")),
    Metric("drift_cka", "linear CKA between a layer's representation now and at initialisation (1 = unchanged)",
           "drift", ("layer",), needs="drift", series=read_per_layer("drift", "cka_to_init")),
    Metric("drift_cosine", "cosine similarity of a layer's representation now and at initialisation",
           "drift", ("layer",), needs="drift", series=read_per_layer("drift", "cosine_to_init")),
    Metric("drift_cosine_prev", "cosine similarity to the previous measurement (lower = still moving)",
           "drift", ("layer",), needs="drift", series=read_per_layer("drift", "cosine_to_prev")),
    Metric("first_epoch", "first epoch at which the metric `of` reaches `threshold` (absolute, a fraction "
           "for accuracies) or `fraction` of the run's own last value; inf if never", "run",
           ("of", "threshold", "fraction", "layer", "kind", "severity"), per_epoch=False, scalar=read_first_epoch),
    Metric("cpu_seconds_to", "process CPU seconds of training (and validation) up to and including the epoch "
           "`first_epoch` finds for the same `of` and `threshold` / `fraction`; inf if never", "run",
           ("of", "threshold", "fraction", "layer", "kind", "severity"), per_epoch=False, scalar=read_cpu_seconds_to),
    Metric("steps_to", "optimiser steps up to and including the epoch `first_epoch` finds for the same `of` "
           "and `threshold` / `fraction` (that epoch × steps per epoch); inf if never", "run",
           ("of", "threshold", "fraction", "layer", "kind", "severity"), per_epoch=False, scalar=read_steps_to),
    Metric("params", "trainable parameters", "run", per_epoch=False, scalar=read_run_value("run", "params")),
    Metric("train_seconds", "wall-clock training time (s)", "run", per_epoch=False,
           scalar=read_run_value("final", "train_seconds")),
    Metric("cpu_seconds", "process CPU time of training (s)", "run", per_epoch=False,
           scalar=read_run_value("final", "train_cpu_seconds")),
    Metric("steps_per_second", "optimizer steps per wall-clock second", "run", per_epoch=False,
           scalar=read_run_value("final", "steps_per_second")),
    Metric("first_epoch_of_best", "first epoch at which the metric `of` (default val_accuracy) reaches "
           "`fraction` (default 0.99) of the run's own best value (highest for accuracies; lowest for losses "
           "and epoch counts: at most best / fraction); fraction 1: the epoch of the best value", "run",
           ("of", "fraction", "layer", "kind", "severity"), per_epoch=False, scalar=read_first_epoch_of_best),
    Metric("volatility", "sd of log(`of`) (default train_loss) around its local trend (a quadratic in "
           "log(epoch) over 7 epochs): relative jitter of the curve, independent of how far it fell", "run",
           ("of", "layer", "kind", "severity"), per_epoch=False, scalar=read_volatility),
    Metric("best_val_epoch", "the epoch of the highest validation accuracy (the first on ties)", "run",
           per_epoch=False, needs="validation", scalar=lambda result, params: float(best_val_epoch(result))),
    Metric("stopped_epoch", "the epoch early stopping (training.early_stopping) stopped training after; 0 = it "
           "never stopped early (or was off)", "run", per_epoch=False,
           scalar=read_run_value("early_stopping", "stopped_epoch", 0)),
    Metric("restored_epoch", "the epoch whose weights early stopping restored at the end (restore_best); 0 = "
           "none restored (or early stopping off)", "run", per_epoch=False,
           scalar=read_run_value("early_stopping", "restored_epoch", 0)),
    Metric("source_stability", "the source's stability score 1 / (1 + variance of the per-epoch training loss)",
           "run", per_epoch=False, scalar=read_source_stability),
    Metric("grad_global_norm", "mean over the epoch's steps of the whole gradient's L2 norm (all variables)",
           "gradients", needs="gradients", series=read_global_grad("mean")),
    Metric("grad_global_norm_std", "standard deviation of the whole gradient's per-step norm within the epoch",
           "gradients", needs="gradients", series=read_global_grad("std")),
    Metric("grad_global_norm_cv", "coefficient of variation (sd / mean) of the whole gradient's per-step norm "
           "within the epoch", "gradients", needs="gradients", series=read_global_grad("cv")),
    Metric("loss_volatility", "oscillation of the training loss around its trend: sd over the epoch's steps of "
           "(step loss − its 21-step centred moving average) / the epoch's mean trend", "step_loss",
           needs="step_loss", series=read_loss_volatility),
    Metric("twin_loss_rel_diff", "|Keras − NumPy twin| / Keras training loss at the epoch's end (same weights "
           "and batches from the start)", "numpy_twin", needs="numpy_twin",
           series=table_series("numpy_twin", "loss_rel_diff")),
    Metric("twin_weight_rel_diff", "largest ||w_keras − w_numpy|| / ||w_keras|| over the weight arrays",
           "numpy_twin", needs="numpy_twin", series=table_series("numpy_twin", "weight_rel_diff")),
    Metric("twin_max_loss_rel_diff", "the largest twin_loss_rel_diff over the run's epochs", "run",
           per_epoch=False, needs="numpy_twin", scalar=read_twin_max("loss_rel_diff")),
    Metric("twin_max_step_loss_rel_diff", "the largest relative difference of one step's mini-batch loss "
           "between Keras and the NumPy twin over the run", "run", per_epoch=False, needs="numpy_twin",
           scalar=read_twin_max("step_loss_rel_diff_max")),
    Metric("per_example_grad_norm", "mean over the epoch's measured examples of ‖g_i‖, the gradient of one "
           "example's own loss (exact, Dense layers; layer left out: the whole model)", "per_example",
           ("layer",), needs="per_example_every", series=read_per_example("norm", "mean")),
    Metric("per_example_grad_norm_sd", "standard deviation of ‖g_i‖ over the epoch's measured examples",
           "per_example", ("layer",), needs="per_example_every", series=read_per_example("norm", "sd")),
    Metric("per_example_grad_norm_clean", "mean ‖g_i‖ over the measured examples whose label was not "
           "corrupted", "per_example", ("layer",), needs="per_example_groups",
           series=read_per_example("norm", "mean", group="clean")),
    Metric("per_example_grad_norm_corrupted", "mean ‖g_i‖ over the measured examples whose label was "
           "corrupted", "per_example", ("layer",), needs="per_example_groups",
           series=read_per_example("norm", "mean", group="corrupted")),
    Metric("grad_noise_scale", "gradient noise scale B_simple = tr(Σ) / |G|² (McCandlish et al. 2018), both "
           "estimated from per-example gradients and smoothed over the measurements", "per_example",
           ("layer",), needs="per_example_every", series=read_per_example("noise_scale")),
    Metric("gsnr", "gradient signal-to-noise ratio mean² / variance of the per-example gradients (Liu et al. "
           "2020), mean over the parameters, averaged over the epoch's measurements", "per_example",
           ("layer",), needs="per_example_every", series=read_per_example("gsnr", "mean")),
    Metric("gsnr_median", "the same, median over the parameters", "per_example", ("layer",),
           needs="per_example_every", series=read_per_example("gsnr", "median")),
    Metric("sharpness", "top Hessian eigenvalue of the training loss on a fixed training batch (power "
           "iteration)", "curvature", needs="curvature_every", series=table_series("curvature", "sharpness")),
    Metric("sharpness_eos_ratio", "sharpness × learning rate / 2: the sharpness over gradient descent's "
           "stability threshold 2/η (1 = Cohen et al. 2021's edge of stability; plain SGD, no momentum)",
           "curvature", needs="curvature_every", series=read_sharpness_eos_ratio),
    Metric("hessian_trace", "Hessian trace of the training loss on a fixed training batch (Hutchinson)",
           "curvature", needs="curvature_every", series=table_series("curvature", "hessian_trace")),
    Metric("twin_lockstep_epochs", "epochs before the twin's weights first differ from Keras's by more than "
           "1e-4 (relative)", "run", per_epoch=False, needs="numpy_twin", scalar=read_twin_lockstep),
]


METRICS: dict[str, Metric] = {m.name: m for m in _LIST}
