"""Numbers over seeds: mean ± sample sd, with non-finite values counted and named, never averaged, and censored values ("never reached": +inf for a threshold metric) counted apart (:func:`summarise`). The rule is stated once, in :mod:`keras_dyn.stats`.
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
        n_censored: values that are censored (a threshold never reached: +inf, with
            ``censored=True``), left out of mean and sd and counted apart from ``n_missing``.

    Example:
        >>> Summary(0.871, 0.0026, 3, 0).fmt()
        '87.10 ± 0.26%'
    """

    mean: float
    sd: float
    n: int
    n_missing: int = 0
    missing: tuple = ()
    n_censored: int = 0

    @property
    def n_all(self) -> int:
        """Every value: finite, censored and missing."""
        return self.n + self.n_censored + self.n_missing

    def fmt(self, scale: float = 100.0, digits: int = 2, unit: str = "%",
            never: str = "never reached") -> str:
        """``"87.10 ± 0.26%"``; ``"87.10%"`` for one seed; ``"n/a"`` for none. Values left out
        are said: ``"87.10 ± 0.26% (1 of 4 not finite)"``.

        Args:
            scale: factor applied to mean and sd (100 turns a fraction into percent).
            digits: decimals shown.
            unit: text appended to the numbers.
            never: what a censored value is called ("never within 10 epochs").

        Example:
            >>> Summary(0.5, 0.0, 1, 0).fmt(scale=1, digits=1, unit="")
            '0.5'
            >>> Summary(float("nan"), float("nan"), 0, 0, (), 2).fmt(1, 0, "", "never within 3 epochs")
            'never within 3 epochs (2 of 2)'
        """
        if self.n == 0 and self.n_censored:
            text = f"{never} ({self.n_censored} of {self.n_all})"
            if self.n_missing:
                text += f"; {self.n_missing} not finite"
            return text
        if self.n == 0:
            text = "n/a"
        else:
            text = f"{self.mean * scale:.{digits}f}"
            if self.n > 1:
                text += f" ± {self.sd * scale:.{digits}f}"
            text += unit
        notes = []
        if self.n_censored:
            notes.append(f"{self.n_censored} of {self.n_all} {never}")
        if self.n_missing:
            notes.append(f"{self.n_missing} of {self.n_all} not finite")
        if notes:
            text += f" ({'; '.join(notes)})"
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


def summarise(values: Iterable, seeds: Sequence[Hashable] | None = None, *, censored: bool = False) -> Summary:
    """Mean ± sd over the finite values; non-finite ones (and ``None``) counted and named.

    Args:
        values: one number per seed (list, tuple or numpy array).
        seeds: optional seed of each value, used only to name the values left out.
        censored: +inf means "never reached" (a threshold metric): such values are counted in
            ``n_censored``, not among the missing.

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
    n_cens = sum(1 for v in vals if censored and v == math.inf)
    missing = tuple(s for s, v in zip(names, vals) if not math.isfinite(v) and not (censored and v == math.inf))
    if x.size == 0:
        return Summary(math.nan, math.nan, 0, len(missing), missing, n_cens)
    sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    return Summary(float(np.mean(x)), sd, int(x.size), len(missing), missing, n_cens)
