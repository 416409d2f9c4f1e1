"""HessianCurvature: the training loss's sharpness (top Hessian eigenvalue) and Hessian trace."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from keras_dyn import curvature
from keras_dyn.callbacks._summaries import sig
from keras_dyn.callbacks.base import DiagnosticCallback, Record


class HessianCurvature(DiagnosticCallback):
    """Curvature of the training loss on a fixed training batch, at epoch ends.

    At epochs ``every``, ``2 * every``, ... and the last (the convention of
    :mod:`keras_dyn.callbacks.base`), with the model in inference mode (no dropout) and the
    compiled loss (mean over the batch, as trained), it computes with :mod:`keras_dyn.curvature`,
    in the model's dtype:

    - ``sharpness``: the Hessian eigenvalue of largest magnitude, by power iteration on
      Hessian-vector products (at most ``iterations``, stopped once the estimate moves by less
      than ``tol`` relative; ``power_iterations`` says how many were used);
    - ``hessian_trace``: Hutchinson's estimate from ``samples`` Rademacher vectors, with its
      standard error ``hessian_trace_stderr``.

    Each Hessian-vector product costs about two backward passes over the batch, so one record
    costs about ``2 * (iterations + samples)`` gradient evaluations on ``len(x)`` examples. The
    random start and the Rademacher vectors are seeded (``seed``, stateless: the training's own
    random state is untouched); the batch is fixed, so the numbers of two epochs differ by what
    training changed.

    ``results()`` (``results_key = "curvature"``): ``epoch``, ``sharpness``, ``hessian_trace``,
    ``hessian_trace_stderr``, ``power_iterations`` (lists) and ``batch``, ``iterations``,
    ``samples``. TensorBoard: ``curvature/sharpness`` and ``curvature/hessian_trace`` at step =
    epoch, in ``<log_dir>/train``. A non-finite loss gives NaN (not written to TensorBoard).

    Args:
        x, y: the fixed training batch.
        log_dir: the run folder; ``None``: results only.
        every: epochs between records (and the last).
        iterations: most power-iteration steps.
        samples: Rademacher vectors of the trace estimate.
        tol: the power iteration's relative stopping tolerance.
        seed: seed of the random vectors.

    Example:
        >>> curv = HessianCurvature(x_train[:512], y_train[:512], run_dir, every=2)
        >>> model.fit(x_train, y_train, epochs=6, callbacks=[curv])
        >>> curv.results()["sharpness"]      # at epochs 2, 4, 6
    """

    results_key = "curvature"

    def __init__(self, x, y, log_dir=None, every: int = 1, iterations: int = 20, samples: int = 10,
                 tol: float = 1e-3, seed: int = 0, subdir: str = "train"):
        super().__init__(log_dir, every=every, subdir=subdir)
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.iterations = max(1, int(iterations))
        self.samples = max(1, int(samples))
        self.tol = float(tol)
        self.seed = int(seed)

    def setup(self):
        import keras

        model = self.model
        loss = model.loss if isinstance(model.loss, keras.losses.Loss) else keras.losses.get(model.loss)
        x, y = tf.constant(self.x), tf.constant(self.y)
        params = model.trainable_weights

        def loss_fn():
            total = loss(y, model(x, training=False))
            return total + tf.add_n(model.losses) if model.losses else total

        def measure():
            lam, used = curvature.top_eigenvalue(loss_fn, params, self.iterations, self.tol, self.seed)
            trace, stderr = curvature.hutchinson_trace(loss_fn, params, self.samples, self.seed)
            return lam, used, trace, stderr

        self._measure = tf.function(measure)
        return {"batch": int(len(self.x)), "iterations": self.iterations, "samples": self.samples,
                "sharpness": [], "hessian_trace": [], "hessian_trace_stderr": [], "power_iterations": []}

    def record(self, epoch, logs):
        with np.errstate(invalid="ignore", over="ignore"):
            lam, used, trace, stderr = (np.asarray(v) for v in self._measure())
        lam, trace, stderr = float(lam), float(trace), float(stderr)
        values = {"sharpness": sig(lam), "hessian_trace": sig(trace),
                  "hessian_trace_stderr": sig(stderr), "power_iterations": int(used)}
        scalars = {k: v for k, v in (("curvature/sharpness", lam), ("curvature/hessian_trace", trace))
                   if math.isfinite(v)}
        return Record(values, scalars)

    def teardown(self):
        self._measure = None

    def results(self) -> dict:
        """The per-epoch table described in the class docstring."""
        return super().results()
