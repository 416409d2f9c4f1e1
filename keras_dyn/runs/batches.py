"""A training-batch order that is known in advance, so another engine can replay it.

Keras's own ``fit(shuffle=True)`` shuffles with TensorFlow's random state; nothing outside can
see which examples went into which step. When a run must be replayed elsewhere (keras_dyn's
NumPy twin, :class:`keras_dyn.callbacks.numpy_twin.NumpyTwin`), the order is drawn here instead:
one permutation of the training set per epoch from ``numpy.random.default_rng(seed)``, cut into
batches of ``batch_size`` (the last one of each epoch smaller if the size does not divide), and
fed to Keras as a ``tf.data`` pipeline with ``steps_per_epoch`` given. Keras 3's epoch iterator
then keeps one iterator over the whole pipeline across epochs (it is not restarted at each
epoch when ``steps_per_epoch`` is set), so step ``k`` of epoch ``e`` is batch ``k`` of
permutation ``e``: :func:`batch_indices` gives the same indices.

Example:
    >>> orders = epoch_orders(len(x), epochs=3, seed=0)
    >>> ds = fixed_order_dataset(x, y, orders, batch_size=32)
    >>> model.fit(ds, epochs=3, steps_per_epoch=steps_per_epoch(len(x), 32))
"""

from __future__ import annotations

import math

import numpy as np


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches per epoch: ``ceil(n / batch_size)``."""
    return max(1, math.ceil(int(n) / int(batch_size)))


def epoch_orders(n: int, epochs: int, seed: int) -> np.ndarray:
    """``[epochs, n]``: one permutation of ``range(n)`` per epoch, from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(int(n)) for _ in range(int(epochs))]).astype(np.int64)


def batch_indices(orders: np.ndarray, epoch: int, step: int, batch_size: int) -> np.ndarray:
    """The training-set indices of step ``step`` (0-based) of epoch ``epoch`` (0-based)."""
    return orders[epoch][step * batch_size:(step + 1) * batch_size]


def fixed_order_dataset(x, y, orders: np.ndarray, batch_size: int):
    """A ``tf.data.Dataset`` of ``(x_batch, y_batch)``: epoch after epoch, the batches of each
    permutation in ``orders`` in order (never a batch across two epochs)."""
    import tensorflow as tf

    x_t = tf.constant(np.asarray(x))
    y_t = tf.constant(np.asarray(y))
    per_epoch = steps_per_epoch(orders.shape[1], batch_size)
    ds = tf.data.Dataset.from_tensor_slices(orders).flat_map(
        lambda perm: tf.data.Dataset.from_tensor_slices(perm).batch(batch_size))
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(orders) * per_epoch))
    return ds.map(lambda idx: (tf.gather(x_t, idx), tf.gather(y_t, idx))).prefetch(2)


#: mixed into the run's seed so the training-evaluation subset is not any other draw's
TRAIN_EVAL_STREAM = 21


def train_eval_indices(n: int, size: int, seed: int) -> np.ndarray:
    """The fixed training subset evaluated at every epoch's end (``log.train_eval_size``):
    ``size`` distinct indices of ``0..n-1`` in increasing order, drawn once from the run's seed
    (``numpy.random.default_rng([seed, 21])``); every index when ``size`` is 0 or ``>= n``.

    Example:
        >>> train_eval_indices(10, 3, seed=0)   # the same three indices on every machine
    """
    if size <= 0 or size >= n:
        return np.arange(n)
    rng = np.random.default_rng([int(seed), TRAIN_EVAL_STREAM])
    return np.sort(rng.choice(n, size=int(size), replace=False))
