"""PerExampleGradients: per-example gradient norms, the gradient noise scale and the GSNR, per layer."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from keras_dyn import per_example as pe
from keras_dyn.callbacks._summaries import sig
from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.errors import KerasDynError

TOTAL = "total"
NORM_STATS = ("mean", "sd", "q10", "q50", "q90")
DRAW_STREAM = 23  # mixed into the seed of the drawn batches, apart from every other draw


class PerExampleGradients(DiagnosticCallback):
    """Per-example gradients of every Dense layer, exact, every ``every_steps`` optimiser steps.

    Every ``every_steps`` updates (on updates 1, 1 + k, 1 + 2k, ...), just before the update, one
    ``tf.function`` call (a forward pass exposing each Dense layer's input and pre-activation
    output, one backward pass; no value leaves the graph before the end) takes the weights the
    update starts from and a training batch of ``batch_size`` examples, and measures with
    :mod:`keras_dyn.per_example` (``g_i``: the gradient of example *i*'s own loss, so the
    mini-batch gradient Keras applies is their mean):

    - ``‖g_i‖`` per layer (kernel and bias together) and for the whole model (``total``);
    - the gradient noise scale ``B_simple = tr Σ / |G|²`` (McCandlish et al. 2018, appendix A):
      from ``|G_1|²`` (the mean of ``‖g_i‖²``) and ``|G_B|²`` (the squared norm of the batch
      mean), the unbiased estimates of ``|G|²`` and ``tr Σ`` (:func:`~keras_dyn.per_example.noise_scale_terms`),
      each smoothed by an exponential moving average over the measurements (``ema``,
      bias-corrected) before their ratio;
    - the gradient signal-to-noise ratio per parameter, ``mean² / variance`` of the ``g_i``
      within the batch (Liu et al. 2020), summarised per layer and overall by its mean and
      median over the parameters (parameters no example moves left out). Within a batch of B
      the ratio is biased up by about ``1/B`` where the true GSNR is small.

    **Which batch.** With ``orders`` (the run's fixed batch order, :mod:`keras_dyn.runs.batches`,
    as with the NumPy twin) the batch is exactly the one the update applies
    (``results()["batch"] = "applied"``). Otherwise Keras's shuffle is not visible, and the batch
    is drawn: ``batch_size`` distinct training examples from ``numpy.random.default_rng([seed,
    23])`` (``"drawn"``): the same distribution as a training batch, not the same examples; the
    training's own random state is untouched either way.

    **Groups.** With ``groups`` (a boolean mask over the training set, e.g. the corrupted labels
    of :class:`keras_dyn.data.Dataset`), the norms are also summarised within the examples
    marked False and True (``group_names``, default ``clean`` / ``corrupted``).

    At each epoch end (the epoch convention of :mod:`keras_dyn.callbacks.base`, every epoch)
    ``results()`` (``results_key = "per_example"``) appends, per layer and ``total``: ``norm``
    (``mean``, ``sd``, ``q10``, ``q50``, ``q90`` of the epoch's ``‖g_i‖``, pooled over its
    measurements), ``noise_scale``, ``grad_sq_norm`` and ``trace_cov`` (the smoothed values after
    the epoch's last measurement), ``gsnr`` (``mean``, ``median``: averages over the epoch's
    measurements), ``group_norm`` (``mean``, ``q50`` per group) and ``group_count``, and
    ``measurements``. An epoch without a measurement (``every_steps`` longer than an epoch) has
    NaN rows. TensorBoard (``<log_dir>/train``, at step = epoch): histograms
    ``per_example/<layer>/grad_norm`` (and ``per_example/<group>/grad_norm``, the total norm) and
    the scalars ``per_example/<layer>/grad_norm_{mean,sd,q50}``, ``noise_scale/<layer>``,
    ``gsnr/<layer>/{mean,median}``, ``per_example/<group>/grad_norm_mean``.

    The model must be a chain whose trainable layers are all Dense
    (:func:`keras_dyn.per_example.dense_chain`: anything else is refused, never approximated);
    set-up checks that the chain reproduces the model's loss. Non-finite gradients (a diverged
    run) give NaN statistics; they are skipped by the moving averages.

    Args:
        x_train, y_train: the training set.
        log_dir: the run folder; ``None``: results only.
        every_steps: updates between measurements (>= 1).
        batch_size: examples per measurement (the training batch size; at most the set's size).
        groups: a boolean mask over the training set, or ``None``.
        group_names: the names of the False and True groups.
        orders: the run's fixed batch order (``[epochs, n]``), or ``None``.
        seed: seed of the drawn batches.
        ema: the moving averages' decay per measurement (0 = none).

    Example:
        >>> pex = PerExampleGradients(ds.x_train, ds.y_train, run_dir, every_steps=10,
        ...                           batch_size=64, groups=ds.corrupted)
        >>> model.fit(ds.x_train, ds.y_train, batch_size=64, epochs=3, callbacks=[pex])
        >>> pex.results()["noise_scale"]["total"]    # one per epoch
    """

    results_key = "per_example"

    def __init__(self, x_train, y_train, log_dir=None, every_steps: int = 1, batch_size: int = 64,
                 groups=None, group_names=("clean", "corrupted"), orders=None, seed: int = 0,
                 ema: float = 0.9, subdir: str = "train"):
        super().__init__(log_dir, every=1, subdir=subdir)
        self.x_train, self.y_train = np.asarray(x_train), np.asarray(y_train)
        self.every_steps = max(1, int(every_steps))
        self.batch_size = max(2, min(int(batch_size), len(self.x_train)))
        self.groups = None if groups is None else np.asarray(groups, bool)
        self.group_names = tuple(group_names)
        self.orders = orders
        self.seed = int(seed)
        self.ema = float(ema)

    # ------------------------------------------------------------------ set-up

    def setup(self):
        model = self.model
        self._layers = pe.dense_chain(model)
        self._dense = [layer for layer in self._layers if hasattr(layer, "kernel")]
        self.names = [layer.name for layer in self._dense]
        self._loss = pe.unreduced_loss(model.loss)
        self._measure = tf.function(self._measure_graph, reduce_retracing=True)
        self._check_chain()
        self._step = int(model.optimizer.iterations.numpy()) if model.optimizer else 0
        self._epoch = 0
        self._rng = np.random.default_rng([self.seed, DRAW_STREAM])
        self._pending = []
        self._g2, self._trace = [], []  # per measurement, [layers + total], the whole run
        table = {"layers": self.names + [TOTAL], "every_steps": self.every_steps,
                 "batch_size": self.batch_size, "batch": "drawn" if self.orders is None else "applied",
                 "ema": self.ema}
        if self.groups is not None:
            table["groups"] = list(self.group_names)
        return table

    def _check_chain(self):
        """The chain of layers must give the model's own loss (a model that is not a chain, or
        whose layers do something the chain does not repeat, is refused)."""
        n = min(4, len(self.x_train))
        x, y = tf.constant(self.x_train[:n]), tf.constant(self.y_train[:n])
        _, _, losses = pe.dense_inputs_and_deltas(self.model, self._layers, x, y, self._loss)
        direct = self._loss(y, self.model(x, training=False))
        a, b = np.asarray(losses, np.float64), np.asarray(direct, np.float64)
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-6, equal_nan=True):
            raise KerasDynError("per-example gradients: the model is not a plain chain of its layers "
                                "(its loss differs from the chain's); only Dense chains are supported")

    def _measure_graph(self, x, y):
        xs, deltas, _ = pe.dense_inputs_and_deltas(self.model, self._layers, x, y, self._loss)
        sq, m1, mb, gsnrs = [], [], [], []
        for layer, X, D in zip(self._dense, xs, deltas):
            s = pe.batch_l2_grad(X, D)
            mean_sq = tf.reduce_sum(tf.square(pe.mean_grad(X, D)))
            ratio = [tf.reshape(pe.gsnr(pe.mean_grad(X, D), pe.variance(X, D)), [-1])]
            if layer.use_bias:
                s = s + pe.bias_batch_l2_grad(D)
                mean_sq = mean_sq + tf.reduce_sum(tf.square(pe.bias_mean_grad(D)))
                ratio.append(pe.gsnr(pe.bias_mean_grad(D), pe.bias_variance(D)))
            ratio = tf.cast(tf.concat(ratio, 0), tf.float64)
            sq.append(tf.cast(s, tf.float64))
            m1.append(tf.reduce_mean(sq[-1]))
            mb.append(tf.cast(mean_sq, tf.float64))
            gsnrs.append(ratio)
        per_layer = [pe.finite_mean_median(r) for r in gsnrs]
        overall = pe.finite_mean_median(tf.concat(gsnrs, 0))
        return tf.stack(sq), tf.stack(m1), tf.stack(mb), tf.stack(per_layer + [overall])

    # ------------------------------------------------------------------ per step

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        # (on_train_batch_end is left alone: overriding it stops Keras dispatching batch-end
        # callbacks asynchronously)
        step, self._step = self._step, self._step + 1
        if step % self.every_steps:
            return
        if self.orders is not None:
            from keras_dyn.runs.batches import batch_indices

            idx = batch_indices(self.orders, self._epoch, int(batch), self.batch_size)
        else:
            idx = np.sort(self._rng.choice(len(self.x_train), self.batch_size, replace=False))
        out = self._measure(tf.constant(self.x_train[idx]), tf.constant(self.y_train[idx]))
        self._pending.append((idx, out))  # tensors; read at the epoch's end

    # ------------------------------------------------------------------ per epoch

    def record(self, epoch, logs):
        pending, self._pending = self._pending, []
        names = self.names + [TOTAL]
        values = {"measurements": len(pending), "norm": {}, "noise_scale": {}, "grad_sq_norm": {},
                  "trace_cov": {}, "gsnr": {}}
        scalars, hists = {}, {}
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            if pending:
                sq = np.stack([np.asarray(o[0]) for _, o in pending])          # [M, L, B]
                norms = np.sqrt(np.concatenate([sq, sq.sum(axis=1, keepdims=True)], axis=1))
                m1 = np.stack([np.asarray(o[1]) for _, o in pending])           # [M, L]
                mb = np.stack([np.asarray(o[2]) for _, o in pending])
                m1 = np.concatenate([m1, m1.sum(axis=1, keepdims=True)], axis=1)
                mb = np.concatenate([mb, mb.sum(axis=1, keepdims=True)], axis=1)
                g2, trace = pe.noise_scale_terms(m1, mb, self.batch_size)
                self._g2.extend(g2)
                self._trace.extend(trace)
                g_ema, t_ema, ratio = (a[-1] for a in pe.smoothed_noise_scale(self._g2, self._trace, self.ema))
                gs = np.stack([np.asarray(o[3]) for _, o in pending])           # [M, L + 1, 2]
                gsnr_mean, gsnr_median = _nanmean(gs[:, :, 0]), _nanmean(gs[:, :, 1])
            else:
                norms = np.full((0, len(names), 0), np.nan)
                g_ema = t_ema = ratio = gsnr_mean = gsnr_median = np.full(len(names), np.nan)
            for j, name in enumerate(names):
                pooled = norms[:, j, :].ravel()
                stats = _summary(pooled)
                values["norm"][name] = {k: sig(v) for k, v in stats.items()}
                values["noise_scale"][name] = sig(ratio[j])
                values["grad_sq_norm"][name] = sig(g_ema[j])
                values["trace_cov"][name] = sig(t_ema[j])
                values["gsnr"][name] = {"mean": sig(gsnr_mean[j]), "median": sig(gsnr_median[j])}
                if pending:
                    hists[f"per_example/{name}/grad_norm"] = pooled
                for k in ("mean", "sd", "q50"):
                    scalars[f"per_example/{name}/grad_norm_{k}"] = stats[k]
                scalars[f"noise_scale/{name}"] = float(ratio[j])
                scalars[f"gsnr/{name}/mean"] = float(gsnr_mean[j])
                scalars[f"gsnr/{name}/median"] = float(gsnr_median[j])
            if self.groups is not None:
                self._record_groups(pending, norms, values, scalars, hists)
        scalars = {k: v for k, v in scalars.items() if math.isfinite(v)}
        return Record(values, scalars, hists)

    def _record_groups(self, pending, norms, values, scalars, hists):
        """Norms summarised within each group (the group of each measured example)."""
        marks = (np.stack([self.groups[idx] for idx, _ in pending]) if pending
                 else np.zeros((0, 0), bool))                                    # [M, B]
        values["group_norm"], values["group_count"] = {}, {}
        for flag, group in zip((False, True), self.group_names):
            sel = marks == flag
            values["group_count"][group] = int(sel.sum())
            values["group_norm"][group] = {}
            for j, name in enumerate(self.names + [TOTAL]):
                chosen = norms[:, j, :][sel] if pending else np.zeros(0)
                stats = _summary(chosen)
                values["group_norm"][group][name] = {"mean": sig(stats["mean"]), "q50": sig(stats["q50"])}
                if name == TOTAL:
                    scalars[f"per_example/{group}/grad_norm_mean"] = stats["mean"]
                    if chosen.size:
                        hists[f"per_example/{group}/grad_norm"] = chosen

    def teardown(self):
        self._pending = []

    def results(self) -> dict:
        """The per-epoch table described in the class docstring."""
        return super().results()


def _summary(values) -> dict:
    """Mean, sd (population), 10/50/90 % quantiles of the finite values (NaN when none)."""
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return {k: math.nan for k in NORM_STATS}
    q10, q50, q90 = pe.quantiles(v)
    return {"mean": float(v.mean()), "sd": float(v.std()), "q10": q10, "q50": q50, "q90": q90}


def _nanmean(a):
    """Column means over the finite entries (NaN for a column with none), without warnings."""
    a = np.asarray(a, np.float64)
    ok = np.isfinite(a)
    count = ok.sum(axis=0)
    total = np.where(ok, a, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
