"""Per-step gradient norms as a results file stores them (``[gradients] step_norms``: layer ->
per epoch -> per step), and the one definition of the whole gradient's norm at each step, read by
the ``grad_global_norm*`` metrics (:mod:`keras_dyn.report.metrics.tables`) and kept alone by a
lab's committed results where only those metrics need it (:mod:`keras_dyn.runs.archive`).
"""

from __future__ import annotations

import math

GLOBAL = "global"  # the pseudo-layer holding the whole gradient's norm


def global_step_norms(step_norms: dict) -> list:
    """Per epoch, each step's norm of the whole gradient: ``sqrt(sum over layers of norm²)``.

    Applied to its own output (one layer, :data:`GLOBAL`) it returns the same numbers, bit for
    bit (``sqrt(x²) == |x|`` in IEEE arithmetic), so a reduced table reads as the full one did.

    Example:
        >>> global_step_norms({"a": [[3.0, 0.0]], "b": [[4.0, 1.0]]})
        [[5.0, 1.0]]
    """
    names = list(step_norms)
    out = []
    for i in range(min((len(step_norms[n]) for n in names), default=0)):
        per_var = [[_float(v) for v in step_norms[n][i]] for n in names]
        out.append([math.sqrt(sum(c[k] ** 2 for c in per_var)) for k in range(min(map(len, per_var)))])
    return out


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
