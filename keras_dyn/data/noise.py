"""Label noise for memorisation experiments.

:func:`corrupt_labels` gives an exact, seeded fraction of examples a new label.
``keras_dyn.data.load_dataset`` calls it on the training labels, and with
``data.label_noise_validation`` on the validation labels too (their own seed stream); test
labels are never corrupted.

Three kinds of noise:

- ``"symmetric"``: the new class is drawn uniformly from the ``K - 1`` other classes, so every
  chosen example ends up with a wrong label (Arpit et al. 2017 use this kind).
- ``"pair"``: class ``c`` always becomes ``(c + 1) mod K`` (a systematic, "asymmetric" confusion).
- ``"random"``: the new class is drawn uniformly from *all* ``K`` classes, as in Zhang et al.
  2017's random-label experiments; about ``1/K`` of the chosen examples draw their own class
  again by chance. With ``fraction = 1`` every label is an independent uniform draw, which
  carries no information about the input.

The returned mask ``corrupted`` marks the examples whose label now *differs* from the true one
(for ``"random"``: the chosen examples minus those that drew their own class back), so the
noisy-label probe's "corrupted" subset is always the set of wrong labels, and its "clean" subset
holds every example trained on its true label (for ``"random"`` this includes the lucky draws).

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
        fraction: share of examples given a new label, from 0 (labels unchanged) to 1 (all).
        num_classes: number of classes ``K`` (at least 2 when ``fraction > 0``).
        kind: ``"symmetric"`` (uniform over the other classes), ``"pair"`` (``c -> c+1 mod K``)
            or ``"random"`` (uniform over all ``K`` classes, the true one included).
        seed: seed of the choice of examples and of the new classes (anything
            ``numpy.random.default_rng`` takes, e.g. ``[seed, stream]``). The examples chosen
            depend only on ``seed``, ``fraction`` and ``N``, not on ``kind``.

    Returns:
        ``(y_noisy, corrupted)``: int32 labels and a boolean mask over the examples; every
        ``y_noisy[corrupted]`` differs from ``y[corrupted]`` and the rest are unchanged. For
        ``"symmetric"`` and ``"pair"`` exactly ``round(fraction * N)`` examples are corrupted;
        for ``"random"`` exactly that many are re-drawn and about ``(K - 1) / K`` of them differ.

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
    elif kind == "random":
        y_noisy[idx] = rng.integers(0, num_classes, size=n_corrupt)
        corrupted = y_noisy != y  # a draw of the true class is not a corrupted label
    else:
        # an offset in 1..K-1 added modulo K is uniform over the K-1 other classes
        offsets = rng.integers(1, num_classes, size=n_corrupt)
        y_noisy[idx] = (y[idx] + offsets) % num_classes
    return y_noisy.astype(np.int32), corrupted
