"""GradientStatistics: per-step statistics and histograms of the gradients the optimiser applied."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_dyn.callbacks._summaries import (HISTOGRAM_DTYPE, finite_histogram, histogram_of,
                                            histogram_table_writer, scalar_table_writer, sig,
                                            write_row)
from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.errors import KerasDynError
from keras_dyn.recording import HIST_BINS, LOG_EDGES, STATS, RecordingModel, variable_names


class GradientStatistics(DiagnosticCallback):
    """Per-layer gradient statistics, kernel and bias apart, written to TensorBoard and results.

    **Applied mode** (the default) reads what :class:`keras_dyn.recording.RecordingModel`
    recorded inside ``train_step``: the gradients the optimiser actually applied, every step.
    The model being fitted must be a ``RecordingModel`` (wrap any Sequential/functional model
    with :func:`keras_dyn.recording.instrument`). Nothing runs in Python per step; at each epoch
    end the callback writes, to ``<log_dir>/train``:

    - ``grad/<layer>/<kernel|bias>/{norm,mean_abs,std,zero_frac}``: one value per training step
      (every ``step_summary_every`` updates: on updates 1, 1 + k, 1 + 2k, ...; 0 = none, the
      epoch aggregates and ``results()`` still use every step), at step = the number of
      optimiser updates done once that gradient was applied (1-based: the first update's
      gradient is at step 1);
    - histograms ``grad/<layer>/<kernel|bias>`` every ``histogram_every`` updates (0 = none
      between epoch ends; taken on updates 1, 1 + k, 1 + 2k, ...) and at the last update of
      each epoch, at the same steps;
    - ``grad_epoch/<layer>/<kernel|bias>/{norm_mean,norm_var,norm_std,norm_cv}``: the epoch's
      per-step norms aggregated (population variance, ``cv = std / mean``), at step = epoch
      (1-based, see :mod:`keras_dyn.callbacks.base` for the epoch convention);
    - ``grad_epoch/attenuation``: mean norm of the first layer's kernel divided by that of the
      last layer's kernel (below 1: the early layer gets smaller gradients).

    Every epoch is recorded (the per-step buffer is read and emptied at each epoch end).
    Non-finite gradients (a diverged run) are recorded as they are in the per-step statistics
    (NaN or inf norms, so the epoch aggregates become NaN); a gradient holding a non-finite
    entry gets no histogram at that step, and no epoch-end ``log10|g|`` histogram (all-zero
    counts in ``loghist``, as for an epoch cut short before its last step).

    **Probe mode** (``mode="probe"``, not the default) instead runs an extra ``GradientTape``
    pass on a fixed batch ``(probe_x, probe_y)`` at each epoch end (and every
    ``histogram_every`` steps if > 0, which costs a Python call per step). Those gradients are
    *not* the ones the optimiser applied (other batch, weights after the step); the tags say so:
    ``grad_probe/...`` instead of ``grad/...`` and ``grad_probe_epoch/...``, at step = the
    number of updates done when the probe ran (0 for a probe before the first update). Works
    with any model.

    **Constant inputs.** An input feature that is the same in every training example (MNIST's
    border pixels, always 0) gives its row of the first kernel the gradient ``c * db`` (``db``
    the bias gradient): exactly zero for ``c = 0`` at every step, whatever the network does.
    With ``constant_inputs`` (the values of those features), the first kernel's ``zero_frac``
    counts only the rows of the other inputs: per step, the zero entries of the constant rows
    (all of them for ``c = 0``, those of a zero bias-gradient entry otherwise) are taken off the
    count and their entries off the total. The per-step ``zero_frac`` tag and the results'
    ``zero_frac_mean`` are that fraction; ``zero_frac_all_mean`` counts every entry (equal for
    every other variable). Dead units (``ActivationStatistics``) concern hidden units only and
    need no such correction.

    ``results()`` (``results_key = "gradients"``) holds, per variable and per epoch, the
    aggregates of the per-step norms (``norm_mean``, ``norm_var``, ``norm_std``, ``norm_cv``) and
    the epoch means of ``mean_abs``, ``std``, ``zero_frac`` (constant-input rows left out) and
    ``zero_frac_all`` (every entry); ``constant_inputs`` and ``constant_zero_inputs`` (how many
    inputs were constant over the training set, and how many of them 0); ``attenuation`` per epoch; the
    per-step norms themselves (``step_norms[var][i]`` for the i-th recorded epoch, 6 significant
    digits, for figures of the spread within each epoch); ``epoch`` (1, 2, ...) and ``steps``
    (updates in each epoch); and the histogram of ``log10|g|`` at each epoch end on the fixed
    edges ``loghist_edges`` (``loghist[var][i]``, for the "colourful dimension" figure).

    Args:
        log_dir: the run folder; summaries go to ``<log_dir>/<subdir>``. ``None``: results only.
        histogram_every: steps between gradient histograms (0 = at epoch ends only).
        step_summary_every: steps between the per-step scalars written to TensorBoard (1 = every
            step, 0 = none; applied mode: probe mode writes a row per probe).
        mode: ``"applied"`` (default) or ``"probe"``.
        probe_x, probe_y: the fixed batch for probe mode.
        keep_step_norms: keep the per-step norms in ``results()``.
        subdir: sub-folder of ``log_dir`` for the summaries.
        constant_inputs: the values of the input features that are constant over the training
            set (:func:`keras_dyn.data.constant_features`); ``None`` or empty: none.

    Example:
        >>> from keras_dyn.recording import instrument
        >>> model = instrument(my_functional_model)
        >>> model.compile("adam", "sparse_categorical_crossentropy")
        >>> grads = GradientStatistics("modellogs/demo/run1", histogram_every=100)
        >>> model.fit(x, y, epochs=3, callbacks=[grads])
        >>> grads.results()["stats"]["hidden1/kernel"]["norm_mean"]   # one per epoch
    """

    results_key = "gradients"

    def __init__(self, log_dir=None, histogram_every: int = 0, mode: str = "applied",
                 probe_x=None, probe_y=None, keep_step_norms: bool = True, subdir: str = "train",
                 step_summary_every: int = 1, constant_inputs=None):
        super().__init__(log_dir, every=1, subdir=subdir)
        if mode not in ("applied", "probe"):
            raise KerasDynError(f"GradientStatistics: unknown mode {mode!r}; allowed: applied, probe")
        if mode == "probe" and (probe_x is None or probe_y is None):
            raise KerasDynError("GradientStatistics(mode='probe') needs probe_x and probe_y")
        self.histogram_every = max(int(histogram_every), 0)
        self.step_summary_every = max(int(step_summary_every), 0)
        self.mode = mode
        self.probe_x, self.probe_y = probe_x, probe_y
        self.keep_step_norms = keep_step_norms
        values = np.asarray([] if constant_inputs is None else constant_inputs, np.float64).ravel()
        self.constant_zero = int(np.sum(values == 0))
        self.constant_other = int(len(values) - self.constant_zero)

    # ------------------------------------------------------------------ set-up

    def setup(self):
        model = self.model
        self.prefix = "grad" if self.mode == "applied" else "grad_probe"
        if self.mode == "applied":
            if not isinstance(model, RecordingModel):
                raise KerasDynError(
                    "GradientStatistics records the applied gradients of a RecordingModel; wrap the "
                    "model with keras_dyn.recording.instrument(model) before compile, or use "
                    "mode='probe'")
            self.names = model.recorded_names
            model.configure_recording(steps_per_epoch=self.params.get("steps"),
                                      histogram_every=self.histogram_every)
        else:
            self.names = variable_names(model)
            self._probe_fn = self._make_probe_fn()
            self._probe_rows, self._probe_steps, self._probe_hists = [], [], []
        kernels = [i for i, n in enumerate(self.names) if n.endswith("/kernel")]
        self.first_kernel = kernels[0] if kernels else 0
        self.last_kernel = kernels[-1] if kernels else len(self.names) - 1
        first_name = self.names[self.first_kernel] if self.names else ""
        bias_name = first_name.rsplit("/", 1)[0] + "/bias"
        self.first_bias = self.names.index(bias_name) if bias_name in self.names else None
        shape = tuple(model.trainable_weights[self.first_kernel].shape) if kernels else (0, 0)
        self.first_shape = (int(np.prod(shape[:-1])), int(shape[-1])) if len(shape) > 1 else (0, 0)
        writer = self.writer()
        if writer is not None:
            step_tags = [f"{self.prefix}/{n}/{s}" for n in self.names for s in STATS]
            self._write_steps = scalar_table_writer(writer, step_tags)
            self._hist_tags = [f"{self.prefix}/{n}" for n in self.names]
            self._write_hists = histogram_table_writer(writer, self._hist_tags)
            agg = ("norm_mean", "norm_var", "norm_std", "norm_cv")
            epoch_tags = [f"{self.prefix}_epoch/{n}/{a}" for n in self.names for a in agg]
            self._write_epoch = scalar_table_writer(writer,
                                                    epoch_tags + [f"{self.prefix}_epoch/attenuation"])
        self._global_step = int(model.optimizer.iterations.numpy()) if model.optimizer else 0
        table = {
            "mode": self.mode,
            "variables": list(self.names),
            "sizes": {n: int(np.prod(w.shape)) for n, w in zip(self.names, model.trainable_weights)},  # entries
            "first_kernel": self.names[self.first_kernel] if self.names else "",
            "last_kernel": self.names[self.last_kernel] if self.names else "",
            "steps": [],
            "attenuation": [],
            "stats": {n: {k: [] for k in ("norm_mean", "norm_var", "norm_std", "norm_cv",
                                           "mean_abs_mean", "std_mean", "zero_frac_mean",
                                           "zero_frac_all_mean")}
                      for n in self.names},
            "constant_inputs": self.constant_zero + self.constant_other,
            "constant_zero_inputs": self.constant_zero,
            "loghist_edges": [float(e) for e in LOG_EDGES],
            "loghist": {n: [] for n in self.names},
        }
        if self.keep_step_norms:
            table["step_norms"] = {n: [] for n in self.names}
        return table

    def on_epoch_begin(self, epoch, logs=None):
        if self.mode == "applied":
            self.model.reset_epoch()
        else:
            self._probe_rows, self._probe_steps, self._probe_hists = [], [], []

    def on_train_batch_begin(self, batch, logs=None):
        # (on_train_batch_end is left alone: overriding it stops Keras dispatching batch-end
        # callbacks asynchronously)
        if self.mode == "probe" and self.histogram_every:
            if self._global_step % self.histogram_every == 0:
                self._probe(self._global_step)
            self._global_step += 1

    # ------------------------------------------------------------------ per epoch

    def record(self, epoch, logs):
        if self.mode == "applied":
            rec = self.model.read_epoch()
            stats, hists, loghists = rec["stats"], rec["hist"], rec["loghist"]
            # per-step summaries at step = updates done (1-based): row i is update first_step+i+1
            steps = np.arange(rec["first_step"], rec["first_step"] + len(stats), dtype=np.int64) + 1
            hist_steps = rec["hist_steps"].astype(np.int64) + 1
            hist_rows = hist_steps - steps[0] if len(stats) else hist_steps
            # the epoch-end log10|g| histogram exists only if the epoch ran to its last step
            epoch_end_hist = len(stats) == self.params.get("steps") and len(loghists) > 0
        else:
            self._probe(int(self.model.optimizer.iterations.numpy()))
            stats = np.stack(self._probe_rows)
            steps = np.asarray(self._probe_steps, np.int64)
            hists = np.stack([h for h, _ in self._probe_hists])
            loghists = np.stack([lh for _, lh in self._probe_hists])
            hist_steps, hist_rows = steps, np.arange(len(steps))
            epoch_end_hist = True
        if len(stats) == 0:
            return None
        zero_all = stats[:, :, 3].astype(np.float64)
        stats = self._without_constant_rows(stats)
        norms = stats[:, :, 0].astype(np.float64)
        finite = np.isfinite(stats).all(axis=2)  # [steps, vars]: the gradient had no NaN / inf
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            mean = norms.mean(axis=0)
            var = norms.var(axis=0)
            std = np.sqrt(var)
            cv = np.where(mean > 0, std / np.where(mean > 0, mean, 1.0), np.where(mean == 0, 0.0, np.nan))
            first, last = mean[self.first_kernel], mean[self.last_kernel]
            att = first / last if last > 0 else (0.0 if last == 0 else float("nan"))
        # a histogram is kept where its gradient was finite (edges and counts then are too)
        hist_ok = np.zeros(hists.shape[:2], bool)
        for i, row in enumerate(hist_rows):
            if 0 <= row < len(stats):
                with np.errstate(over="ignore"):  # written in float32: finite there too
                    hist_ok[i] = finite[row] & np.isfinite(
                        np.asarray(hists[i]).astype(HISTOGRAM_DTYPE)).all(axis=(1, 2))
        if self.log_dir is not None:
            if self.mode == "probe" or self.step_summary_every == 1:
                self._write_steps(stats.reshape(len(stats), -1), steps)
            elif self.step_summary_every:
                rows = (steps - 1) % self.step_summary_every == 0
                self._write_steps(stats[rows].reshape(int(rows.sum()), -1), steps[rows])
            self._write_histograms(hists, hist_steps, hist_ok)
            epoch_row = np.concatenate([np.stack([mean, var, std, cv], axis=1).ravel(), [att]])
            self._write_epoch(epoch_row[None], [epoch])
            self.writer().flush()
        last_ok = bool(epoch_end_hist and len(loghists) and len(hist_ok) and hist_ok[-1].all())
        values = {"steps": int(len(stats)), "attenuation": sig(att), "stats": {}, "loghist": {}}
        if self.keep_step_norms:
            values["step_norms"] = {}
        for v, name in enumerate(self.names):
            with np.errstate(invalid="ignore", over="ignore"):
                values["stats"][name] = {
                    "norm_mean": sig(mean[v]), "norm_var": sig(var[v]), "norm_std": sig(std[v]),
                    "norm_cv": sig(cv[v]), "mean_abs_mean": sig(stats[:, v, 1].mean()),
                    "std_mean": sig(stats[:, v, 2].mean()),
                    "zero_frac_mean": sig(stats[:, v, 3].mean()),
                    "zero_frac_all_mean": sig(zero_all[:, v].mean())}
            counts = loghists[-1, v] if last_ok else np.zeros(len(LOG_EDGES) - 1)
            values["loghist"][name] = [int(c) for c in counts]
            if self.keep_step_norms:
                values["step_norms"][name] = [sig(x) for x in norms[:, v]]
        return Record(values)

    def _without_constant_rows(self, stats):
        """``stats`` with the first kernel's zero fraction counted over the rows of the
        non-constant inputs only (see the class docstring)."""
        n_in, units = self.first_shape
        k = self.constant_zero + self.constant_other
        if not k or not units:
            return stats
        stats = np.array(stats, copy=True)
        zf = stats[:, self.first_kernel, 3].astype(np.float64)
        zb = (stats[:, self.first_bias, 3].astype(np.float64) if self.first_bias is not None
              else np.zeros(len(stats)))
        with np.errstate(invalid="ignore", divide="ignore"):
            zeros = zf * n_in * units - units * (self.constant_zero + self.constant_other * zb)
            kept = (n_in - k) * units
            stats[:, self.first_kernel, 3] = (np.clip(zeros / kept, 0.0, 1.0) if kept > 0
                                              else np.full(len(stats), np.nan))
        return stats

    def _write_histograms(self, hists, hist_steps, ok):
        """All-finite rows in one table write; rows with a non-finite gradient tag by tag."""
        full = ok.all(axis=1) if len(ok) else np.zeros(0, bool)
        if full.any():
            self._write_hists(hists[full], hist_steps[full])
        for i in np.flatnonzero(~full):
            binned = {self._hist_tags[v]: hists[i, v] for v in np.flatnonzero(ok[i])}
            if binned:
                write_row(self.writer(), int(hist_steps[i]), binned=binned)

    def teardown(self):
        if self.mode == "applied" and isinstance(self.model, RecordingModel):
            self.model.configure_recording(capacity=1)  # release the big buffers

    def results(self) -> dict:
        """Per-epoch aggregates per variable (see the class docstring)."""
        return super().results()

    # ------------------------------------------------------------------ probe mode

    def _make_probe_fn(self):
        model = self.model
        x = tf.constant(self.probe_x)
        y = tf.constant(self.probe_y)

        @tf.function
        def grads():
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
            return tape.gradient(loss, model.trainable_weights)

        return grads

    def _probe(self, step):
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            self._probe_at(step)

    def _probe_at(self, step):
        grads = [np.asarray(g, np.float64).ravel() for g in self._probe_fn()]
        rows, hists, logs = [], [], []
        for g in grads:
            sq = float(np.sum(g * g))
            rows.append([np.sqrt(sq), np.mean(np.abs(g)), np.std(g), np.mean(g == 0)])
            h = histogram_of(g)
            hists.append(h if finite_histogram(h) else np.full((HIST_BINS, 3), np.nan))
            a = np.abs(g[(g != 0) & np.isfinite(g)])
            logs.append(np.histogram(np.clip(np.log10(a), LOG_EDGES[0], LOG_EDGES[-1]),
                                     bins=LOG_EDGES)[0] if a.size else np.zeros(len(LOG_EDGES) - 1))
        self._probe_rows.append(np.asarray(rows, np.float32))
        self._probe_steps.append(int(step))
        self._probe_hists.append((np.stack(hists), np.stack(logs)))

