"""Numbers over seeds: mean ± sample sd, with non-finite values counted and named, never averaged (:func:`summarise`). The rule is stated once, in :mod:`keras_dyn.stats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Mean ± sd of one side over seeds.

    Args:
        mean: mean of the finite values (NaN when there are none).
        sd: sample standard deviation (``ddof=1``) of the finite values; 0.0 for one value,
            NaN for none.
        n: number of finite values used.
        n_missing: number of non-finite values (diverged runs, unmeasured metrics) left out.
        missing: the seeds (or, without seeds, the positions) of those values.

    Example:
        >>> Summary(0.871, 0.0026, 3, 0).fmt()
        '87.10 ± 0.26%'
    """

    mean: float
    sd: float
    n: int
    n_missing: int = 0
    missing: tuple = ()

    def fmt(self, scale: float = 100.0, digits: int = 2, unit: str = "%") -> str:
        """``"87.10 ± 0.26%"``; ``"87.10%"`` for one seed; ``"n/a"`` for none. Values left out
        are said: ``"87.10 ± 0.26% (1 of 4 not finite)"``.

        Args:
            scale: factor applied to mean and sd (100 turns a fraction into percent).
            digits: decimals shown.
            unit: text appended to the numbers.

        Example:
            >>> Summary(0.5, 0.0, 1, 0).fmt(scale=1, digits=1, unit="")
            '0.5'
        """
        if self.n == 0:
            text = "n/a"
        else:
            text = f"{self.mean * scale:.{digits}f}"
            if self.n > 1:
                text += f" ± {self.sd * scale:.{digits}f}"
            text += unit
        if self.n_missing:
            text += f" ({self.n_missing} of {self.n + self.n_missing} not finite)"
        return text


def as_float(v) -> float:
    if v is None:
        return math.nan
    return float(v)


def finite_floats(values) -> list[float]:
    """Values as Python floats (None → NaN); a numpy array of any shape is flattened."""
    if isinstance(values, np.ndarray):
        values = values.ravel().tolist()
    return [as_float(v) for v in values]


def check_seeds(values: list, seeds, side: str) -> list:
    seeds = list(seeds)
    if len(seeds) != len(values):
        raise ValueError(f"{side}: {len(values)} values but {len(seeds)} seeds")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{side}: a seed appears twice in {seeds}")
    return seeds


def summarise(values: Iterable, seeds: Sequence[Hashable] | None = None) -> Summary:
    """Mean ± sd over the finite values; non-finite ones (and ``None``) counted and named.

    Args:
        values: one number per seed (list, tuple or numpy array).
        seeds: optional seed of each value, used only to name the values left out.

    Returns:
        A :class:`Summary`.

    Example:
        >>> s = summarise([0.8, float("nan"), 0.9], seeds=[0, 1, 2])
        >>> s.n, s.n_missing, s.missing
        (2, 1, (1,))
    """
    vals = finite_floats(values)
    names = list(range(len(vals))) if seeds is None else check_seeds(vals, seeds, "values")
    x = np.array([v for v in vals if math.isfinite(v)], dtype=np.float64)
    missing = tuple(s for s, v in zip(names, vals) if not math.isfinite(v))
    if x.size == 0:
        return Summary(math.nan, math.nan, 0, len(missing), missing)
    sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    return Summary(float(np.mean(x)), sd, int(x.size), len(missing), missing)
