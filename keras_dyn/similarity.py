"""Similarity between two representations of the same examples (numpy only).

A representation is a matrix ``(n_examples, n_features)``: row ``i`` is what a layer makes of
example ``i``. Two comparisons are used by :class:`keras_dyn.callbacks.representation_drift.RepresentationDrift`:

- :func:`rowwise_cosine` / :func:`mean_cosine`: does each example keep its own direction?
  Sensitive to any rotation of the feature space, so it measures "did the features move".
- :func:`linear_cka` (Kornblith et al. 2019): do the two representations induce the same
  similarity structure over the examples? Invariant to orthogonal transforms and isotropic
  scaling of the features, so it measures "did the geometry change".

Example::

    from keras_dyn.similarity import linear_cka, mean_cosine
    linear_cka(h0, h1), mean_cosine(h0, h1)
"""

from __future__ import annotations

import numpy as np


def _as_matrix(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(x.shape[0], -1) if x.ndim != 2 else x


def rowwise_cosine(x, y) -> np.ndarray:
    """Cosine similarity of row ``i`` of ``x`` with row ``i`` of ``y``, for every ``i``.

    Two all-zero rows count as identical (1.0); a zero row against a non-zero row gives 0.0.
    """
    x, y = _as_matrix(x), _as_matrix(y)
    if x.shape != y.shape:
        raise ValueError(f"representations must have the same shape, got {x.shape} and {y.shape}")
    nx = np.linalg.norm(x, axis=1)
    ny = np.linalg.norm(y, axis=1)
    dots = np.einsum("ij,ij->i", x, y)
    denom = nx * ny
    out = np.where(denom > 0, dots / np.where(denom > 0, denom, 1.0), 0.0)
    both_zero = (nx == 0) & (ny == 0)
    out[both_zero] = 1.0
    return np.clip(out, -1.0, 1.0)


def mean_cosine(x, y) -> float:
    """Mean over examples of :func:`rowwise_cosine`."""
    return float(np.mean(rowwise_cosine(x, y)))


def linear_cka(x, y) -> float:
    """Linear centred kernel alignment between two representations of the same examples.

    ``CKA = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred ``Xc, Yc``.
    1 for identical representations (up to rotation and scale), 0 for unrelated ones. NaN when
    either representation is constant over the examples (e.g. a layer whose units are all dead).
    """
    x, y = _as_matrix(x), _as_matrix(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"need the same examples, got {x.shape[0]} and {y.shape[0]} rows")
    x = x - x.mean(axis=0, keepdims=True)
    y = y - y.mean(axis=0, keepdims=True)
    if x.shape[1] > x.shape[0] or y.shape[1] > y.shape[0]:
        # wide layers: the same quantity through the n x n Gram matrices
        kx, ky = x @ x.T, y @ y.T
        cross = np.sum(kx * ky)
        norm_x, norm_y = np.linalg.norm(kx), np.linalg.norm(ky)
    else:
        cross = np.linalg.norm(y.T @ x) ** 2
        norm_x, norm_y = np.linalg.norm(x.T @ x), np.linalg.norm(y.T @ y)
    if norm_x == 0 or norm_y == 0:
        return float("nan")
    return float(cross / (norm_x * norm_y))
