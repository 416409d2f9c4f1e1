"""NumpyTwin: train keras_dyn's from-scratch NumPy MLP beside the Keras model, batch for batch."""

from __future__ import annotations

import math

import numpy as np

from keras_dyn.runs.batches import batch_indices
from keras_dyn.callbacks._summaries import sig
from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.callbacks.step_loss import BatchLoss
from keras_dyn.errors import KerasDynError
from keras_dyn.models import class_probabilities

PROB_EPS = 1e-7  # probabilities clipped to [eps, 1 - eps] before the log, as Keras does


def cross_entropy(probs, y) -> float:
    """Mean ``-log p[y]`` of ``[N, classes]`` probabilities (sigmoid outputs converted first by
    :func:`keras_dyn.models.class_probabilities`), in float64, clipped at ``PROB_EPS``."""
    p = np.clip(np.asarray(class_probabilities(probs), np.float64), PROB_EPS, 1 - PROB_EPS)
    y = np.asarray(y).astype(np.int64)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def _rel(a: float, b: float) -> float:
    """``|a - b| / |a|`` (0 when both are 0)."""
    if a == b:
        return 0.0
    return abs(a - b) / abs(a) if a else math.inf


class NumpyTwin(DiagnosticCallback):
    """Replays every training batch of a Keras run on a :class:`keras_dyn.numpy_mlp.NumpyMLP`
    started from the same weights, and records how closely the two engines agree.

    At ``on_train_begin`` the Keras model's Dense layers are copied into a NumPy MLP (same
    weights, activations, output) and the Keras optimiser is mirrored by NumPy's own (plain
    :class:`~keras_dyn.numpy_mlp.SGD` or :class:`~keras_dyn.numpy_mlp.Adam`, with Keras's
    learning rate and constants). After every Keras step the NumPy MLP takes its own step on the
    same batch (``orders`` says which examples: see :mod:`keras_dyn.runs.batches`; the run must be fed
    that order). The two are never re-synchronised: the NumPy MLP only ever sees its own weights,
    so the differences measured are those of a whole run.

    Recorded every epoch (1-based, see :mod:`keras_dyn.callbacks.base`):

    - ``keras_loss``, ``numpy_loss``: the loss of each engine's current weights on the training
      set (``eval_size`` examples of it; both outputs scored by the same float64 formula,
      :func:`cross_entropy`), and ``loss_rel_diff`` = ``|keras − numpy| / keras``;
    - ``weight_rel_diff``: the largest, over the weight arrays, of ``‖w_keras − w_numpy‖ / ‖w_keras‖``;
    - ``output_max_abs_diff``: the largest difference of the two outputs on those examples;
    - ``keras_step_loss``, ``numpy_step_loss``: each step's mini-batch loss in each engine
      (Keras's recovered from its running mean, :class:`~keras_dyn.callbacks.step_loss.BatchLoss`;
      6 significant digits), and ``step_loss_rel_diff_max``, the epoch's largest relative
      difference between the two.

    TensorBoard (``<log_dir>/train``, step = epoch): ``twin/keras_loss``, ``twin/numpy_loss``,
    ``twin/loss_rel_diff``, ``twin/weight_rel_diff``. ``results()``: ``results_key =
    "numpy_twin"``, with ``dtype`` and ``optimizer`` beside the lists.

    The NumPy side computes in ``dtype``, by default the Keras model's own (its first kernel's):
    both engines round at the same precision, so the differences left are those of the order of
    operations. In float32 those are a last bit per step, which a deep ReLU net trained with Adam
    can amplify over a run; a float64 model (``model.dtype = "float64"``) starts them some nine
    digits smaller, and the twin then follows it to about 1e-15 (``tests/test_model_dtype.py``).

    Args:
        x_train, y_train: the training set the batches index.
        orders: ``[epochs, n_train]`` per-epoch permutations the Keras run is fed
            (:func:`keras_dyn.runs.batches.epoch_orders`).
        batch_size: the training batch size.
        log_dir: the run folder (``None``: results only).
        dtype: NumPy dtype of the twin (``None``: the Keras model's).
        eval_size: training examples the epoch losses are computed on (0 = all).

    Example:
        >>> orders = epoch_orders(len(x), 5, seed=0)
        >>> twin = NumpyTwin(x, y, orders, 32)
        >>> model.fit(fixed_order_dataset(x, y, orders, 32), epochs=5,
        ...           steps_per_epoch=steps_per_epoch(len(x), 32), callbacks=[twin])
        >>> max(twin.results()["loss_rel_diff"])
    """

    results_key = "numpy_twin"

    def __init__(self, x_train, y_train, orders, batch_size: int, log_dir=None, *,
                 dtype=None, eval_size: int = 0):
        super().__init__(log_dir, every=1)
        self.x, self.y = np.asarray(x_train), np.asarray(y_train)
        self.orders = np.asarray(orders)
        self.batch_size = int(batch_size)
        self.dtype = None if dtype is None else np.dtype(dtype)
        n = len(self.x) if not eval_size else min(int(eval_size), len(self.x))
        self._eval = np.arange(n)

    def setup(self):
        from keras_dyn.numpy_mlp import NumpyMLP

        if len(self.orders) < (self.last_epoch or 0) or self.orders.shape[1] != len(self.x):
            raise KerasDynError(f"NumpyTwin: orders {self.orders.shape} do not cover "
                                f"{self.last_epoch} epochs of {len(self.x)} examples")
        if self.dtype is None:
            kernels = [l.kernel for l in self.model.layers if hasattr(l, "kernel")]
            self.dtype = np.dtype(kernels[0].dtype if kernels else "float32")
        self.net = NumpyMLP.from_keras(self.model, dtype=self.dtype)
        self.opt, name = _twin_optimizer(self.model.optimizer)
        self._epoch = 0
        self._tracker = BatchLoss()
        self._keras_steps, self._numpy_steps = [], []
        return {"dtype": self.dtype.name, "optimizer": name}

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)
        self._tracker.reset()
        self._keras_steps, self._numpy_steps = [], []

    def on_train_batch_end(self, batch, logs=None):
        idx = batch_indices(self.orders, self._epoch, int(batch), self.batch_size)
        loss, grads = self.net.loss_and_gradients(self.x[idx], self.y[idx])
        self.opt.step(self.net, grads)
        self._numpy_steps.append(loss)
        self._keras_steps.append(self._tracker.update(float((logs or {}).get("loss", math.nan)), len(idx)))

    def record(self, epoch, logs):
        x, y = self.x[self._eval], self.y[self._eval]
        keras_out = np.asarray(self.model.predict(x, batch_size=4096, verbose=0))
        numpy_out = self.net.predict(x)
        k_loss, n_loss = cross_entropy(keras_out, y), cross_entropy(numpy_out, y)
        w_diff = 0.0
        dense = [l for l in self.model.layers if hasattr(l, "kernel") and hasattr(l, "activation")]
        for layer, (W, b) in zip(dense, self.net.weights):
            for mine, theirs in ((layer.kernel.numpy(), W), (layer.bias.numpy(), b)):
                norm = float(np.linalg.norm(mine.astype(np.float64)))
                diff = float(np.linalg.norm(mine.astype(np.float64) - theirs.astype(np.float64)))
                w_diff = max(w_diff, diff / norm if norm else (0.0 if diff == 0 else math.inf))
        steps = [_rel(a, b) for a, b in zip(self._keras_steps, self._numpy_steps)]
        values = {
            "keras_loss": k_loss, "numpy_loss": n_loss, "loss_rel_diff": _rel(k_loss, n_loss),
            "weight_rel_diff": w_diff,
            "output_max_abs_diff": float(np.max(np.abs(keras_out.astype(np.float64) - numpy_out))),
            "step_loss_rel_diff_max": max(steps) if steps else math.nan,
            "keras_step_loss": [sig(v) for v in self._keras_steps],
            "numpy_step_loss": [sig(v) for v in self._numpy_steps],
        }
        scalars = {f"twin/{k}": values[k] for k in ("keras_loss", "numpy_loss", "loss_rel_diff",
                                                     "weight_rel_diff")}
        return Record(values, scalars=scalars)


def _twin_optimizer(optimizer):
    """NumPy's copy of a Keras SGD (no momentum) or Adam, with its learning rate and constants."""
    import keras

    from keras_dyn.numpy_mlp import SGD, Adam

    lr = optimizer.learning_rate
    if isinstance(getattr(optimizer, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule):
        raise KerasDynError("NumpyTwin: the optimiser has a learning-rate schedule; the twin needs a constant rate")
    lr = float(keras.ops.convert_to_numpy(lr))
    if int(keras.ops.convert_to_numpy(optimizer.iterations)) != 0:
        raise KerasDynError("NumpyTwin: the optimiser has already taken steps; start the twin with a fresh one")
    if type(optimizer) is keras.optimizers.SGD and not optimizer.momentum:
        return SGD(lr), "sgd"
    if type(optimizer) is keras.optimizers.Adam and not optimizer.amsgrad:
        return Adam(lr, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon), "adam"
    raise KerasDynError(f"NumpyTwin: the twin reproduces SGD (no momentum) and Adam only, not "
                        f"{type(optimizer).__name__}")
