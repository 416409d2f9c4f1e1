"""DecisionSurface: the trained model's output over a grid of a 2-D input plane, kept for figures."""

from __future__ import annotations

import numpy as np

from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.models import class_probabilities


class DecisionSurface(DiagnosticCallback):
    """At the last epoch, P(class 1) on an ``size`` × ``size`` grid covering the data's plane.

    For 2-D inputs (``circle``, ``nested_rings``). The plane is the bounding box of ``x_ref``
    (training and test inputs) widened by ``margin`` of its size on every side; grid point
    ``(i, j)`` is at ``(x0 + j·dx, y0 + i·dy)`` (row ``i`` along the second input, column ``j``
    along the first), ``dx = (x1 − x0) / (size − 1)``. Only the last epoch (or the epoch a run
    stopped in) is recorded, so a findings section can draw the boundary from the results file
    alone (no live model). Nothing is written to TensorBoard.

    ``results()`` (``results_key = "decision_surface"``): ``extent`` ``[x0, x1, y0, y1]``,
    ``size``, ``points`` (up to ``max_points`` test inputs, ``[[x, y], ...]``) and ``labels``
    (their classes) from set-up; ``epoch`` and ``p`` (one flat list of ``size²`` values,
    row-major, 4 decimals) per recorded epoch.

    Args:
        x_ref: inputs whose extent the plane covers (``[N, 2]``).
        x_points, y_points: the points to draw on top (the test set).
        size: grid points per side.
        margin: the fraction of the extent added on each side.
        max_points: points kept (an evenly spaced choice).

    Example:
        >>> cb = DecisionSurface(np.concatenate([x_train, x_test]), x_test, y_test, size=60)
        >>> model.fit(x_train, y_train, epochs=20, callbacks=[cb])
        >>> np.reshape(cb.results()["p"][-1], (60, 60))   # rows: second input, columns: first
    """

    results_key = "decision_surface"

    def __init__(self, x_ref, x_points, y_points, size: int = 60, margin: float = 0.1,
                 max_points: int = 400):
        super().__init__(None, every=10**9)  # due only at the last epoch (or a stop)
        x_ref = np.asarray(x_ref, np.float64).reshape(len(x_ref), -1)
        if x_ref.shape[1] != 2:
            raise ValueError(f"DecisionSurface needs 2-D inputs, not {x_ref.shape[1]}-D")
        lo, hi = x_ref.min(axis=0), x_ref.max(axis=0)
        pad = (hi - lo) * float(margin)
        self.extent = [float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])]
        self.size = int(size)
        keep = np.linspace(0, len(x_points) - 1, min(int(max_points), len(x_points))).astype(int)
        self.points = np.asarray(x_points, np.float64)[keep]
        self.labels = np.asarray(y_points).astype(int)[keep]

    def grid(self) -> np.ndarray:
        """The ``size²`` grid points, row-major (``[size², 2]``, float32)."""
        x0, x1, y0, y1 = self.extent
        gx, gy = np.meshgrid(np.linspace(x0, x1, self.size), np.linspace(y0, y1, self.size))
        return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)

    def setup(self):
        return {"extent": self.extent, "size": self.size,
                "points": [[round(float(a), 4), round(float(b), 4)] for a, b in self.points],
                "labels": [int(v) for v in self.labels]}

    def record(self, epoch, logs):
        probs = class_probabilities(self.model.predict(self.grid(), batch_size=4096, verbose=0))
        p = np.asarray(probs, np.float64)[:, 1]
        return Record({"p": [round(float(v), 4) if np.isfinite(v) else float(v) for v in p]})
