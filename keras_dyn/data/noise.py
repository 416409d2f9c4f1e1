"""Label noise for memorisation experiments.

:func:`corrupt_labels` replaces the labels of an exact, seeded fraction of examples by a
*different* class. ``keras_dyn.data.load_dataset`` calls it on the training labels only;
validation and test labels are never corrupted.

Two kinds of noise:

- ``"symmetric"``: the new class is drawn uniformly from the ``K - 1`` other classes
  (Zhang et al. 2017; Arpit et al. 2017 use this kind).
- ``"pair"``: class ``c`` always becomes ``(c + 1) mod K`` (a systematic, "asymmetric" confusion).

Example::

    y_noisy, corrupted = corrupt_labels(y_train, 0.4, 10, kind="symmetric", seed=0)
    assert (y_noisy[corrupted] != y_train[corrupted]).all()
"""

from __future__ import annotations

import numpy as np

from keras_dyn.config import LABEL_NOISE_KINDS
from keras_dyn.errors import DataError


def corrupt_labels(y, fraction, num_classes, kind="symmetric", seed=0):
    """Give exactly ``round(fraction * N)`` examples, chosen with ``seed``, a different class.

    Args:
        y: integer labels, shape ``(N,)``, values in ``[0, num_classes)``.
        fraction: share of examples to corrupt, from 0 (labels unchanged) to 1 (all changed).
        num_classes: number of classes ``K`` (at least 2 when ``fraction > 0``).
        kind: ``"symmetric"`` (uniform over the other classes) or ``"pair"`` (``c -> c+1 mod K``).
        seed: seed of the choice of examples and of the new classes.

    Returns:
        ``(y_noisy, corrupted)``: int32 labels and a boolean mask over the examples; every
        ``y_noisy[corrupted]`` differs from ``y[corrupted]`` and the rest are unchanged.

    Raises:
        DataError: bad fraction, kind, class count or labels.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"labels must be a 1-D array of class indices, got shape {y.shape}")
    if kind not in LABEL_NOISE_KINDS:
        raise DataError(f"unknown label noise kind {kind!r}; allowed: {', '.join(LABEL_NOISE_KINDS)}")
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise DataError(f"label noise fraction must be between 0 and 1, got {fraction}")
    num_classes = int(num_classes)
    y = y.astype(np.int32)
    n = y.shape[0]
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"labels must lie in [0, {num_classes}), found {y.min()}..{y.max()}")
    n_corrupt = int(round(fraction * n))
    corrupted = np.zeros(n, dtype=bool)
    y_noisy = y.copy()
    if n_corrupt == 0:
        return y_noisy, corrupted
    if num_classes < 2:
        raise DataError("label noise needs at least 2 classes")
    rng = np.random.default_rng(seed)
    idx = rng.choice(n, size=n_corrupt, replace=False)
    corrupted[idx] = True
    if kind == "pair":
        y_noisy[idx] = (y[idx] + 1) % num_classes
    else:
        # an offset in 1..K-1 added modulo K is uniform over the K-1 other classes
        offsets = rng.integers(1, num_classes, size=n_corrupt)
        y_noisy[idx] = (y[idx] + offsets) % num_classes
    return y_noisy.astype(np.int32), corrupted
