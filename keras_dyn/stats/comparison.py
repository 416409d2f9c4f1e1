"""The one comparison of two sides of a lab (:func:`compare`): the difference, its confidence interval, the test's p, the TOST p against a margin, the minimum detectable difference and the seeds needed; the rule is stated once, in :mod:`keras_dyn.stats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Hashable, Sequence

import numpy as np
from scipy import stats as _sps
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

from keras_dyn.stats import power as _pw
from keras_dyn.stats import text as _text
from keras_dyn.stats.summary import Summary, check_seeds, finite_floats, summarise
from keras_dyn.stats.verdicts import ALPHA, BEYOND_VERDICTS, check_margin, resolve_margin, verdict

_DIRECTIONS = ("greater", "less", None)
_NAN = math.nan


@dataclass(frozen=True)
class Comparison:
    """Side A against side B over seeds: the raw pieces of a verdict (rule: module docstring).

    Args:
        a, b: the sides' summaries. diff: A − B (paired: mean of the per-seed differences; a
            rank test: the difference of the medians, censored values counted as +inf).
        paired: matched by seed. n_pairs: pairs used (0 unpaired). se, df, t, p: the test's
            standard error, degrees of freedom, statistic and two-sided p (NaN where the test
            has none). ci_low, ci_high: the (1 − α) confidence interval of ``diff`` (t tests).
        threshold: smallest ``|diff|`` the test calls beyond noise, ``t_{1−α/2, df} · se``.
        margin: the absolute margin (NaN: none); p_tost: p of the TOST that ``|diff| < margin``.
        spread: the sd the power calculations use (paired: of the per-seed differences;
            unpaired: pooled; 0 for no spread; NaN for none) — see :attr:`mde`, :attr:`seeds_needed`.
        sign: direction of the difference (+1, −1, 0); order: rank tests, (A above B, A below
            B, ties) over pairs, or for Mann–Whitney (U, n_a·n_b − U).
        p_adj, p_tost_adj, family: after Holm over a lab's hypotheses (:func:`judge_family`);
            alone, the raw values and a family of 1.
        power_alpha: the level :attr:`mde` and :attr:`seeds_needed` use: α alone, α / family in
            a family (the strictest Holm step), NaN meaning α.
        verdict: from :func:`keras_dyn.stats.verdicts.verdict`. test: "paired t-test",
            "Welch t-test", "sign test", "Mann–Whitney U", "single seed" or "no data".

    Example:
        >>> c = compare([0.9, 0.91, 0.905], [0.8, 0.81, 0.805], expect=None)
        >>> c.verdict, c.larger("A", "B")
        ('beyond seed noise', 'A')
    """

    a: Summary
    b: Summary
    diff: float
    paired: bool
    n_pairs: int
    se: float
    df: float
    t: float
    p: float
    threshold: float
    expect: str | None
    verdict: str
    test: str
    alpha: float = ALPHA
    dropped_seeds: tuple = ()
    ci_low: float = _NAN
    ci_high: float = _NAN
    margin: float = _NAN
    p_tost: float = _NAN
    spread: float = _NAN
    sign: float = 0.0
    order: tuple = ()
    p_adj: float = _NAN
    p_tost_adj: float = _NAN
    family: int = 1
    power_alpha: float = _NAN

    @property
    def beyond_noise(self) -> bool:
        """True when the difference is beyond seed noise, in either direction."""
        return self.verdict in BEYOND_VERDICTS

    @property
    def n_seeds(self) -> int:
        """Seeds behind the comparison: the pairs when paired, else the smaller side."""
        if self.paired:
            return self.n_pairs
        return min(self.a.n + self.a.n_censored, self.b.n + self.b.n_censored)

    @cached_property
    def mde(self) -> float:
        """Minimum detectable difference at 80 % power for these seeds and this spread
        (:func:`keras_dyn.stats.power.mde`; NaN for a rank test or a single seed)."""
        if self.rank_test or self.test == "single seed":
            return _NAN
        if self.paired:
            return _pw.mde(self.spread, self.n_pairs, alpha=self.level)
        return _pw.mde(self.spread, self.a.n, paired=False, n_b=self.b.n, alpha=self.level)

    @property
    def level(self) -> float:
        """The α that power is computed at (:attr:`power_alpha`, else :attr:`alpha`)."""
        return self.alpha if math.isnan(self.power_alpha) else self.power_alpha

    @cached_property
    def seeds_needed(self) -> float:
        """Seeds (pairs, or a side) that would resolve the observed difference or the margin,
        whichever needs fewer, at this spread (``inf``: never; NaN: spread unknown). A sign test:
        the seeds it needs when all agree."""
        if self.test == "sign test":
            return float(_pw.sign_test_seeds(self.level))
        need = [_pw.seeds_needed(e, self.spread, paired=self.paired, alpha=self.level)
                for e in (self.diff, self.margin) if math.isfinite(e)]
        return min(need) if need else _NAN

    @property
    def rank_test(self) -> bool:
        return self.test in ("sign test", "Mann–Whitney U")

    def larger(self, a_name: str, b_name: str) -> str:
        """The side with the larger value (by ``sign``); "neither" when they do not differ.

        Example:
            >>> compare([1.0, 2.0], [3.0, 4.0]).larger("wide", "narrow")
            'narrow'
        """
        return a_name if self.sign > 0 else b_name if self.sign < 0 else "neither"

    def outcome(self, a_name: str, b_name: str, larger: str = "higher") -> str:
        """A table cell naming the larger side: "within seed noise", "A higher beyond seed
        noise", "A higher in a single seed (no verdict possible)", "no data", ...

        Example:
            >>> compare([0.1, 0.11, 0.105], [0.02, 0.03, 0.025]).outcome("noisy", "clean", "drops more")
            'noisy drops more beyond seed noise'
        """
        return _text.outcome(self, a_name, b_name, larger)

    def sentence(self, a_name: str, b_name: str, scale: float = 100.0, unit: str = " points",
                 larger: str = "higher", spec: str = ".2f", never: str = "never reached") -> str:
        """One line: the difference, its CI, the test and its p (raw and Holm-adjusted), the
        TOST against the margin, the MDE and the verdict (:func:`keras_dyn.stats.text.sentence`).

        Example:
            >>> compare([0.9], [0.8]).sentence("A", "B")  # doctest: +ELLIPSIS
            'A − B = +10.00 points from a single seed (A higher in that seed): **undecided**; ...'
        """
        return _text.sentence(self, a_name, b_name, scale, unit, larger, spec, never)


def _t_test(a: np.ndarray, b: np.ndarray, paired: bool, alpha: float, margin: float) -> dict:
    """scipy's t-test (and statsmodels' TOST) on the usable values; no spread handled here."""
    d = a - b if paired else None
    diff = float(np.mean(d)) if paired else float(np.mean(a) - np.mean(b))
    if paired:
        se = float(np.std(d, ddof=1)) / math.sqrt(d.size)
        sd = float(np.std(d, ddof=1))
    else:
        va, vb = np.var(a, ddof=1) / a.size, np.var(b, ddof=1) / b.size
        se = float(math.sqrt(va + vb))
        sd = float(math.sqrt(((a.size - 1) * np.var(a, ddof=1) + (b.size - 1) * np.var(b, ddof=1))
                             / (a.size + b.size - 2)))
    scale = max(abs(float(np.mean(a))), abs(float(np.mean(b))), 1e-300)
    if se <= 1e-12 * scale:  # no spread (or rounding only): the test has nothing to divide by
        se, sd = 0.0, 0.0
        df = float(d.size - 1) if paired else float(a.size + b.size - 2)
        out = dict(diff=diff, se=0.0, df=df, t=0.0 if diff == 0 else math.copysign(math.inf, diff),
                   p=1.0 if diff == 0 else 0.0, ci_low=diff, ci_high=diff, threshold=0.0,
                   p_tost=(0.0 if abs(diff) < margin else 1.0) if math.isfinite(margin) else _NAN)
    else:
        res = _sps.ttest_rel(a, b) if paired else _sps.ttest_ind(a, b, equal_var=False)
        ci = res.confidence_interval(confidence_level=1.0 - alpha)
        df = float(res.df)
        p_tost = _NAN
        if math.isfinite(margin):
            p_tost = float((ttost_paired(a, b, -margin, margin) if paired else
                            ttost_ind(a, b, -margin, margin, usevar="unequal"))[0])
        out = dict(diff=diff, se=se, df=df, t=float(res.statistic), p=float(res.pvalue),
                   ci_low=float(ci.low), ci_high=float(ci.high),
                   threshold=float(ci.high - ci.low) / 2.0, p_tost=p_tost)  # t_{1-α/2, df} · se
    out["spread"] = sd
    out["sign"] = float(np.sign(diff))
    return out


def _rank_test(a: np.ndarray, b: np.ndarray, paired: bool) -> dict:
    """Sign test over pairs (``binomtest``) or Mann–Whitney U; +inf (never reached) is the
    largest value, and ties with itself."""
    with np.errstate(invalid="ignore"):
        diff = float(np.median(a) - np.median(b))
    if paired:
        above, below = int(np.sum(a > b)), int(np.sum(a < b))
        p = float(_sps.binomtest(above, above + below).pvalue) if above + below else 1.0
        order, sign, test = (above, below, int(a.size) - above - below), float(np.sign(above - below)), "sign test"
    else:
        top = max([float(x) for x in np.concatenate([a, b]) if math.isfinite(x)], default=0.0) + 1.0
        res = _sps.mannwhitneyu(np.where(np.isinf(a), top, a), np.where(np.isinf(b), top, b),
                                alternative="two-sided")
        u = float(res.statistic)
        p, order, test = float(res.pvalue), (u, a.size * b.size - u), "Mann–Whitney U"
        sign = float(np.sign(u - a.size * b.size / 2.0))
    return dict(diff=diff, p=p, order=order, sign=sign, test=test)


def compare(a_values, b_values, *, expect: str | None = "greater",
            a_seeds: Sequence[Hashable] | None = None, b_seeds: Sequence[Hashable] | None = None,
            alpha: float = ALPHA, margin=None, censored: bool = False) -> Comparison:
    """Compare side A against side B over seeds by the rule in :mod:`keras_dyn.stats`.

    Args:
        a_values, b_values: one value per seed for each side; NaN, ±inf and None are not finite
            and left out (with ``censored``, +inf is kept as "never reached").
        expect: "greater" (the hypothesis is A > B), "less" (A < B) or None (no direction).
        a_seeds, b_seeds: the seed of each value. Give both or neither; when both sides ran the
            same set of seeds the comparison is paired by seed, otherwise unpaired.
        alpha: two-sided level.
        margin: smallest difference that matters: a number (the metric's units) or "N%"; None:
            no equivalence test.
        censored: +inf means a threshold never reached (sorted above every reached value).

    Raises:
        ValueError: ``expect`` not one of "greater", "less", None; seeds given for one side
            only, of the wrong length, or repeated; ``alpha`` outside (0, 1); a bad ``margin``.

    Example:
        >>> c = compare([0.9, 0.92, 0.91], [0.88, 0.90, 0.89], a_seeds=[0, 1, 2], b_seeds=[2, 1, 0])
        >>> c.test, round(c.diff, 4)
        ('paired t-test', 0.02)
    """
    if expect not in _DIRECTIONS:
        raise ValueError(f'expect must be "greater", "less" or None, got {expect!r}')
    _pw.check_alpha(alpha)
    if margin is not None:
        margin = check_margin(margin)
    if (a_seeds is None) != (b_seeds is None):
        raise ValueError("give seeds for both sides or for neither")
    a_vals, b_vals = finite_floats(a_values), finite_floats(b_values)
    if a_seeds is not None:
        a_seeds, b_seeds = check_seeds(a_vals, a_seeds, "a"), check_seeds(b_vals, b_seeds, "b")
    a, b = summarise(a_vals, a_seeds, censored=censored), summarise(b_vals, b_seeds, censored=censored)
    abs_margin = resolve_margin(margin, a.mean, b.mean)

    def usable(v):
        return math.isfinite(v) or (censored and v == math.inf)

    paired = a_seeds is not None and set(a_seeds) == set(b_seeds)
    if paired:
        b_by_seed = dict(zip(b_seeds, b_vals))
        pairs = [(s, av, b_by_seed[s]) for s, av in zip(a_seeds, a_vals)]
        dropped = tuple(s for s, av, bv in pairs if not (usable(av) and usable(bv)))
        xa = np.array([av for s, av, bv in pairs if s not in dropped], dtype=np.float64)
        xb = np.array([bv for s, av, bv in pairs if s not in dropped], dtype=np.float64)
        n = int(xa.size)
    else:
        dropped, n = (), 0
        xa = np.array([v for v in a_vals if usable(v)], dtype=np.float64)
        xb = np.array([v for v in b_vals if usable(v)], dtype=np.float64)
    base = dict(a=a, b=b, paired=paired, n_pairs=n, expect=expect, alpha=alpha, dropped_seeds=dropped,
                margin=abs_margin, se=_NAN, df=_NAN, t=_NAN, p=_NAN, threshold=_NAN)
    few = min(xa.size, xb.size)
    if few == 0:
        return Comparison(**base, diff=_NAN, verdict="no data", test="no data")
    if np.isinf(xa).any() or np.isinf(xb).any():
        base.update(_rank_test(xa, xb, paired))
    elif few < 2:
        diff = float(np.mean(xa) - np.mean(xb))
        base.update(diff=diff, sign=float(np.sign(diff)), test="single seed")
    else:
        base.update(_t_test(xa, xb, paired, alpha, abs_margin),
                    test="paired t-test" if paired else "Welch t-test")
    base.update(p_adj=base["p"], p_tost_adj=base.get("p_tost", _NAN))
    c = Comparison(**base, verdict="")
    return Comparison(**{**base, "verdict": verdict(c.sign, c.p, c.p_tost, c.n_seeds, expect, alpha)})
