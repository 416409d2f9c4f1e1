"""A Keras model that keeps statistics of the gradients its optimiser actually applies.

Keras 3 has no hook between "gradients computed" and "gradients applied" (``write_grads`` went
away with TF 2), and tools that show gradients usually recompute them on a separate probe batch.
:class:`RecordingModel` instead overrides ``train_step`` (the same logic as Keras 3's TensorFlow
trainer: tape, ``_compute_loss``, loss tracker, ``optimizer.apply_gradients``,
``compute_metrics``) and, inside the compiled training graph, reduces each gradient it hands to
the optimiser to four numbers:

=============  ==============================================================
``norm``       L2 norm ``sqrt(sum g**2)``
``mean_abs``   mean of ``|g|`` over the variable's elements
``std``        standard deviation of the elements (population, ``ddof=0``)
``zero_frac``  fraction of elements that are exactly ``0.0``
=============  ==============================================================

The four numbers of all gradients come from one op, keras_dyn's fused C++ kernel (built on first
use; TensorFlow ops when it cannot be built), see :mod:`keras_dyn.gradient_table`. They go into
a preallocated ``tf.Variable`` buffer of shape
``[capacity, n_vars, 4]`` at the index "step within the epoch", so no Python runs per step;
:class:`keras_dyn.callbacks.GradientStatistics` reads the buffer once per epoch. On chosen steps
(every ``histogram_every`` steps and the last step of each epoch) the graph also computes a
histogram of each gradient (``HIST_BINS`` equal-width buckets between its min and max, the
layout of TensorBoard's histogram plugin) and a histogram of ``log10|g|`` on fixed edges
(``LOG_EDGES``, used for the "colourful dimension" figure), into a second buffer.

The gradients recorded are exactly the ones passed to ``optimizer.apply_gradients`` (after the
optimiser's loss scaling, before any clipping the optimiser itself may do with ``clipnorm`` /
``clipvalue``; keras_dyn's optimisers do not clip).

Using it with your own model
----------------------------
Any Sequential or functional model whose inputs are defined can be wrapped; the wrapper shares
the layers (and so the weights) with the original::

    import keras
    from keras_dyn.recording import instrument
    from keras_dyn.callbacks.gradient_statistics import GradientStatistics

    base = keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])
    model = instrument(base)            # a RecordingModel over the same layers
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, callbacks=[GradientStatistics("logs/run1")])

To save the trained network, save the original model (``base.save(...)``): it holds the same
weights, and needs no custom class to load.

Variables are named ``<layer name>/<variable name>`` (``hidden1/kernel``, ``output/bias``);
:attr:`RecordingModel.recorded_names` lists them in buffer order. A subclassed model (no
symbolic inputs) cannot be wrapped; subclass :class:`RecordingModel` instead, or use
``GradientStatistics(mode="probe", ...)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import tensorflow as tf
import keras

from keras_dyn.errors import KerasDynError
from keras_dyn.gradient_table import (HIST_BINS, LOG_EDGES, STATS, fused_kernel, fused_records,
                                      tf_gradient_table)

DEFAULT_CAPACITY = 4096


class _State:
    """Plain holder for the recording variables (kept out of Keras's weight tracking)."""

    def __init__(self, n_vars: int):
        f32 = tf.float32
        self.n_vars = n_vars
        with tf.init_scope():
            self.stats = tf.Variable(tf.zeros([0, n_vars, len(STATS)], f32),
                                     shape=tf.TensorShape([None, n_vars, len(STATS)]),
                                     trainable=False, name="kd_grad_stats")
            self.hist = tf.Variable(tf.zeros([0, n_vars, HIST_BINS, 3], f32),
                                    shape=tf.TensorShape([None, n_vars, HIST_BINS, 3]),
                                    trainable=False, name="kd_grad_hist")
            self.loghist = tf.Variable(tf.zeros([0, n_vars, len(LOG_EDGES) - 1], f32),
                                       shape=tf.TensorShape([None, n_vars, len(LOG_EDGES) - 1]),
                                       trainable=False, name="kd_grad_loghist")
            self.hist_steps = tf.Variable(tf.zeros([0], tf.int64), shape=tf.TensorShape([None]),
                                          trainable=False, name="kd_grad_hist_steps")
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="kd_step_in_epoch")
            self.n_hist = tf.Variable(0, dtype=tf.int64, trainable=False, name="kd_hist_count")
            self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="kd_global_step")
            self.steps_per_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False,
                                               name="kd_steps_per_epoch")
            self.hist_every = tf.Variable(0, dtype=tf.int64, trainable=False, name="kd_hist_every")


class RecordingModel(keras.Model):
    """A functional ``keras.Model`` whose ``train_step`` records applied-gradient statistics.

    Build it like a functional model (``RecordingModel(inputs=..., outputs=...)``) or wrap an
    existing one with :func:`instrument`. Recording starts when :meth:`configure_recording` is
    first called (``GradientStatistics`` does that in ``on_train_begin``) and then stays on for
    later ``fit`` calls (the buffers are small); :meth:`stop_recording` removes it again.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kd_state = None
        self._kd_names = None

    # ------------------------------------------------------------------ names and set-up

    @property
    def recorded_names(self) -> list[str]:
        """``<layer>/<variable>`` for each trainable variable, in buffer order."""
        if self._kd_names is None:
            self._kd_names = variable_names(self)
        return list(self._kd_names)

    def configure_recording(self, capacity: int | None = None, steps_per_epoch: int | None = None,
                            histogram_every: int = 0) -> None:
        """Allocate the buffers (eagerly, outside the training graph) and switch recording on.

        Args:
            capacity: steps the per-step buffer holds per epoch (default: ``steps_per_epoch``, or
                4096 if unknown). Steps beyond it overwrite the last slot.
            steps_per_epoch: lets the graph know which step is the last one of an epoch (for the
                epoch-end histogram); ``None`` = unknown, no epoch-end histogram.
            histogram_every: also take a histogram every this many global steps (0 = only at
                epoch ends).
        """
        names = self.recorded_names
        if self._kd_state is None:
            self._kd_state = _State(len(names))
            if getattr(self, "train_function", None) is not None:
                # traced without recording: trace again (fit reads self.train_function per step)
                self.make_train_function(force=True)
        st = self._kd_state
        cap = int(capacity or steps_per_epoch or DEFAULT_CAPACITY)
        every = max(int(histogram_every), 0)
        n_hist = ((cap // every + 2) if every else 2) + 1  # + the scratch row
        st.stats.assign(tf.zeros([cap, len(names), len(STATS)]))
        st.hist.assign(tf.zeros([n_hist, len(names), HIST_BINS, 3]))
        st.loghist.assign(tf.zeros([n_hist, len(names), len(LOG_EDGES) - 1]))
        st.hist_steps.assign(tf.zeros([n_hist], tf.int64))
        st.steps_per_epoch.assign(-1 if steps_per_epoch is None else int(steps_per_epoch))
        st.hist_every.assign(every)
        st.global_step.assign(int(self.optimizer.iterations.numpy()) if self.optimizer is not None
                              and self.optimizer.built else 0)
        self.reset_epoch()

    def stop_recording(self) -> None:
        """Drop the buffers and train without recording from the next ``fit`` on."""
        if self._kd_state is not None:
            self._kd_state = None
            self.train_function = None

    def reset_epoch(self) -> None:
        """Start filling the buffers from slot 0 (call at the start of each epoch)."""
        if self._kd_state is not None:
            self._kd_state.step.assign(0)
            self._kd_state.n_hist.assign(0)

    def read_epoch(self) -> dict:
        """This epoch's records as NumPy arrays (call at epoch end).

        Returns a dict with ``stats`` ``[steps, n_vars, 4]`` (columns in :data:`STATS` order),
        ``first_step`` (global step of row 0), ``hist`` ``[k, n_vars, HIST_BINS, 3]`` (left edge,
        right edge, count), ``loghist`` ``[k, n_vars, len(LOG_EDGES)-1]`` and ``hist_steps``
        ``[k]`` (global step of each histogram).
        """
        st = self._kd_state
        if st is None:
            raise KerasDynError("gradient recording was never configured on this model")
        steps = int(st.step.numpy())
        cap = int(tf.shape(st.stats)[0].numpy())
        if steps > cap:
            warnings.warn(f"{steps} steps in the epoch but the gradient buffer holds {cap}; "
                          "the last slot was overwritten", stacklevel=2)
        n = min(steps, cap)
        k = min(int(st.n_hist.numpy()), int(tf.shape(st.hist)[0].numpy()) - 1)
        return {
            "stats": st.stats[:n].numpy(),
            "first_step": int(st.global_step.numpy()) - steps,
            "hist": st.hist[:k].numpy(),
            "loghist": st.loghist[:k].numpy(),
            "hist_steps": st.hist_steps[:k].numpy(),
        }

    # ------------------------------------------------------------------ the training step

    def train_step(self, data):
        # Same logic as keras/src/backend/tensorflow/trainer.py (Keras 3.x) TensorFlowTrainer
        from keras.src.losses import loss as loss_module
        from keras.src import tree
        from keras.src.trainers.data_adapters import data_adapter_utils

        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            if self._call_has_training_arg:
                y_pred = self(x, training=True)
            else:
                y_pred = self(x)
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                      training=True)
            self._loss_tracker.update_state(
                loss_module.unscale_loss_for_distribution(loss),
                sample_weight=tf.shape(next(i for i in tree.flatten(x) if i is not None))[0],
            )
            if self.optimizer is not None:
                loss = self.optimizer.scale_loss(loss)
        if self.trainable_weights:
            trainable_weights = self.trainable_weights
            gradients = tape.gradient(loss, trainable_weights)
            if self._kd_state is not None:
                self._record(gradients)
            self.optimizer.apply_gradients(zip(gradients, trainable_weights))
        else:
            warnings.warn("The model does not have any trainable weights.")
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _record(self, gradients):
        # Straight-line graph ops: a functional If per step costs more than the statistics
        # (measured: ~0.3 ms a step on a 2 ms step). With the fused kernel there is none: the
        # kernel bins histograms only when told to, and a step that takes none writes its
        # (zero) histogram into a scratch row. The TensorFlow-ops fallback keeps a tf.cond.
        st = self._kd_state
        grads = [tf.zeros_like(w) if g is None else tf.convert_to_tensor(g)
                 for g, w in zip(gradients, self.trainable_weights)]
        every = st.hist_every
        last = tf.equal(st.step, st.steps_per_epoch - 1)
        take = tf.logical_or(last, tf.logical_and(
            every > 0, tf.equal(tf.math.floormod(st.global_step, tf.maximum(every, 1)), 0)))
        kernel = fused_kernel()
        if kernel is not None:
            table, hist, loghist = fused_records(kernel, grads, take, last)
            self._store_fused_histograms(hist, loghist, take, last)
        else:
            table = tf_gradient_table(grads)
            tf.cond(take, lambda: self._record_histograms(grads, last), tf.no_op)
        cap = tf.shape(st.stats, out_type=tf.int64)[0]
        idx = tf.minimum(st.step, cap - 1)
        st.stats.scatter_nd_update(tf.reshape(idx, [1, 1]), table[None])
        st.step.assign_add(1)
        st.global_step.assign_add(1)

    def _store_fused_histograms(self, hist, loghist, take, last):
        """The kernel's histograms into the next row, or into the scratch row on other steps."""
        st = self._kd_state
        scratch = tf.shape(st.hist, out_type=tf.int64)[0] - 1
        row = tf.where(take, tf.minimum(st.n_hist, scratch - 1), scratch)
        st.hist.scatter_nd_update(tf.reshape(row, [1, 1]), hist[None])
        st.hist_steps.scatter_nd_update(tf.reshape(row, [1, 1]), tf.reshape(st.global_step, [1]))
        log_row = tf.where(last, row, scratch)
        st.loghist.scatter_nd_update(tf.reshape(log_row, [1, 1]), loghist[None])
        st.n_hist.assign_add(tf.cast(take, tf.int64))

    def _record_histograms(self, grads, last):
        st = self._kd_state
        hists = []
        for g in grads:
            g = tf.cast(tf.reshape(g, [-1]), tf.float32)
            # range and counts over the finite entries (a diverged step's NaN / inf would make
            # histogram_fixed_width fail); the callback drops a non-finite gradient's histogram
            finite = tf.math.is_finite(g)
            lo = tf.reduce_min(tf.where(finite, g, np.inf))
            hi = tf.reduce_max(tf.where(finite, g, -np.inf))
            none = lo > hi  # no finite entry at all
            lo, hi = tf.where(none, 0.0, lo), tf.where(none, 0.0, hi)
            same = tf.equal(lo, hi)
            lo = tf.where(same, lo - 0.5, lo)
            hi = tf.where(same, hi + 0.5, hi)
            bad = tf.reduce_sum(tf.cast(tf.logical_not(finite), tf.float32))
            counts = tf.cast(tf.histogram_fixed_width(tf.where(finite, g, lo), tf.stack([lo, hi]),
                                                      nbins=HIST_BINS), tf.float32)
            counts -= bad * tf.one_hot(0, HIST_BINS)  # the non-finite entries went to bucket 0
            edges = tf.linspace(lo, hi, HIST_BINS + 1)
            hists.append(tf.stack([edges[:-1], edges[1:], counts], axis=1))
        rows = tf.shape(st.hist, out_type=tf.int64)[0] - 1  # the last row is the scratch row
        idx = tf.reshape(tf.minimum(st.n_hist, rows - 1), [1, 1])
        st.hist.scatter_nd_update(idx, tf.stack(hists)[None])
        st.hist_steps.scatter_nd_update(idx, tf.reshape(st.global_step, [1]))
        tf.cond(last, lambda: self._record_loghist(grads, idx), tf.no_op)
        st.n_hist.assign_add(1)
        return tf.no_op()

    def _record_loghist(self, grads, idx):
        """Histogram of log10|g| on the fixed LOG_EDGES (exact zeros left out)."""
        st = self._kd_state
        log_lo, log_hi = float(LOG_EDGES[0]), float(LOG_EDGES[-1])
        logs = []
        for g in grads:
            a = tf.abs(tf.cast(tf.reshape(g, [-1]), tf.float32))
            kept = tf.logical_and(tf.math.is_finite(a), a > 0.0)  # exact zeros and NaN / inf out
            left_out = tf.reduce_sum(tf.cast(tf.logical_not(kept), tf.float32))
            logs10 = tf.where(kept, tf.math.log(tf.where(kept, a, 1.0)) / np.log(10.0), log_lo)
            counts = tf.cast(tf.histogram_fixed_width(logs10, [log_lo, log_hi],
                                                      nbins=len(LOG_EDGES) - 1), tf.float32)
            logs.append(counts - left_out * tf.one_hot(0, len(LOG_EDGES) - 1))  # they fell in bin 0
        st.loghist.scatter_nd_update(idx, tf.stack(logs)[None])
        return tf.no_op()


def instrument(model: keras.Model) -> RecordingModel:
    """Return a :class:`RecordingModel` over the same layers as ``model``.

    ``model`` may be a Sequential or functional model with defined inputs (e.g. started with
    ``keras.Input``). The layers and weights are shared, not copied: training the returned model
    trains ``model``. Compile the returned model, not the original. A model that already is a
    ``RecordingModel`` is returned as it is.
    """
    if isinstance(model, RecordingModel):
        return model
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise KerasDynError(
            f"cannot record gradients of model {model.name!r}: it has no symbolic inputs; build it "
            "with keras.Input (Sequential or functional), subclass keras_dyn.recording."
            "RecordingModel, or use GradientStatistics(mode='probe')")
    ins = inputs[0] if len(inputs) == 1 else inputs
    outs = outputs[0] if len(outputs) == 1 else outputs
    return RecordingModel(inputs=ins, outputs=outs, name=model.name)


def variable_names(model) -> list[str]:
    """``<layer>/<variable>`` (e.g. ``hidden1/kernel``) for each of ``model.trainable_weights``."""
    owner = {}
    for layer in _all_layers(model):
        for w in layer.trainable_weights:
            owner.setdefault(id(w), f"{layer.name}/{_short_name(w)}")
    return [owner.get(id(w), getattr(w, "path", _short_name(w))) for w in model.trainable_weights]


def _all_layers(model):
    out = []
    for layer in getattr(model, "layers", []):
        out.append(layer)
        if hasattr(layer, "layers") and layer is not model:
            out.extend(_all_layers(layer))
    return out


def _short_name(w) -> str:
    name = getattr(w, "name", "") or ""
    return name.split("/")[-1].split(":")[0]
