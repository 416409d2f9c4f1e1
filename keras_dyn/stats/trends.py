"""Does a metric rise (or fall) as a numeric grid key grows? (:func:`trend_test`), and the
interaction contrast (:func:`interaction`); the rule is stated once, in :mod:`keras_dyn.stats`.

**Trend.** The levels are the key's values in ascending order. When every level ran the same seeds,
the test is *Page's L* (``scipy.stats.page_trend_test``), seeds as blocks: it asks whether the
ranks of the levels within each seed follow the predicted order. Otherwise (seeds not shared)
it is *Spearman's ρ* (``scipy.stats.spearmanr``) over the (level, value) pairs of all runs. Page's
test is one-sided; it is run both ways and the smaller p doubled (a two-sided p, as every
comparison's is), so "beyond noise" means the same as for a difference of two sides.

The trend's *size* is the **change** ``E``: the least-squares line through the values against
the levels' positions (0, 1, …, k − 1: each step counts the same, so a doubling batch size is
evenly spaced), read from the lowest level to the highest: ``E = slope · (k − 1)``, in the
metric's units. Paired, ``E`` is computed per seed and its CI, TOST against the margin, MDE and
seeds needed are those of :func:`keras_dyn.stats.compare` of the per-seed ``E`` against 0 (a paired
t on ``E``, as a stand-in for the power of Page's test, which has no closed form); unpaired, from
``scipy.stats.linregress`` on the pooled pairs (CI and TOST from the slope's standard error, df
= N − 2; MDE and seeds needed as for a mean of N − 1 values with that standard error, seeds a
level = the runs needed / k). **Equivalent** when TOST shows ``|E| < margin``; supported / refuted
on the trend test's p and direction; otherwise undecided.

**Interaction.** ``(A1 − B1) − (A2 − B2)``: per seed ``x_s = A1_s − B1_s`` and
``y_s = A2_s − B2_s`` over the seeds all four cells ran, then :func:`keras_dyn.stats.compare` of x
against y paired by seed (a paired t-test on the per-seed contrast), with the margin on the
contrast ("N%": of the mean magnitude of the four cells' means).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _sps

from keras_dyn.stats import power as _pw
from keras_dyn.stats.comparison import Comparison, compare
from keras_dyn.stats.summary import summarise
from keras_dyn.stats.verdicts import ALPHA, check_margin, resolve_margin, verdict

_NAN = math.nan


@dataclass(frozen=True)
class Trend:
    """A trend hypothesis's test (rule: the module docstring).

    Args:
        levels: the key's values, ascending; summaries: one :class:`Summary` a level.
        test: "Page's L" or "Spearman ρ"; statistic: L or ρ; p: two-sided; sign: +1 rising, −1
            falling, 0 neither. diff, ci_low, ci_high: the change E (lowest → highest level) and its
            CI; se: its standard error; spread, n_power: what the power calculations use (sd and
            count). paired: seeds shared by every level; n_seeds: seeds (paired: complete seeds,
            else the smallest level). margin, p_tost: the absolute margin and the TOST p of |E|.
        p_adj, p_tost_adj, family, power_alpha, verdict: after :func:`keras_dyn.stats.judge_family`.
    """

    levels: tuple
    summaries: tuple
    test: str
    statistic: float
    p: float
    sign: float
    diff: float
    ci_low: float
    ci_high: float
    se: float
    spread: float
    n_power: int
    paired: bool
    n_seeds: int
    margin: float
    p_tost: float
    expect: str
    verdict: str
    dropped_seeds: tuple = ()
    alpha: float = ALPHA
    p_adj: float = _NAN
    p_tost_adj: float = _NAN
    family: int = 1
    power_alpha: float = _NAN

    @property
    def direction(self) -> str:
        return "greater" if self.expect == "increasing" else "less"

    @property
    def level(self) -> float:
        return self.alpha if math.isnan(self.power_alpha) else self.power_alpha

    @property
    def mde(self) -> float:
        """The change E called beyond noise with 80 % power (the module docstring says how)."""
        return _pw.mde(self.spread, self.n_power, alpha=self.level)

    @property
    def seeds_needed(self) -> float:
        """Seeds (a level, unpaired) that would resolve the observed change or the margin,
        whichever needs fewer."""
        need = [_pw.seeds_needed(e, self.spread, alpha=self.level) for e in (self.diff, self.margin)
                if math.isfinite(e)]
        if not need:
            return _NAN
        n = min(need)
        if self.paired or not math.isfinite(n):
            return n
        return float(max(math.ceil((n + 1) / len(self.levels)), 3))


def _change(x: np.ndarray, y: np.ndarray) -> float:
    """The least-squares change from the first to the last position (``x`` positions 0..k−1)."""
    if np.ptp(x) == 0:
        return _NAN
    return float(np.round(np.polyfit(x, y, 1)[0] * (x.max() - x.min()), 12))  # no rounding residue as a change


def trend_test(by_level, expect: str, *, margin=None, alpha: float = ALPHA) -> Trend:
    """A monotone trend over levels (rule: the module docstring).

    Args:
        by_level: level value → ``(values, seeds)``, one value per seed (any order of levels).
        expect: "increasing" or "decreasing". margin: the largest change E that counts as no
            trend (metric units, or "N%" of the levels' mean magnitude); None: no equivalence test.

    Example:
        >>> seeds = [0, 1, 2, 3]
        >>> r = trend_test({32: ([0.90, 0.91, 0.92, 0.90], seeds), 64: ([0.88, 0.90, 0.90, 0.89], seeds),
        ...                 128: ([0.85, 0.87, 0.88, 0.86], seeds)}, "decreasing")
        >>> r.test, r.verdict, round(r.diff, 4)
        ("Page's L", 'supported', -0.0425)
    """
    if expect not in ("increasing", "decreasing"):
        raise ValueError(f'expect must be "increasing" or "decreasing", got {expect!r}')
    if margin is not None:
        margin = check_margin(margin)
    levels = tuple(sorted(by_level))
    summaries = tuple(summarise(*by_level[v]) for v in levels)
    ref = float(np.mean([abs(s.mean) for s in summaries if math.isfinite(s.mean)] or [_NAN]))
    abs_margin = resolve_margin(margin, ref, ref)
    seed_sets = [set(by_level[v][1]) for v in levels]
    paired = all(s == seed_sets[0] for s in seed_sets)
    if paired:
        out = _paired(by_level, levels, abs_margin, alpha)
    else:
        out = _unpaired(by_level, levels, abs_margin, alpha)
    direction = "greater" if expect == "increasing" else "less"
    result = Trend(levels, summaries, margin=abs_margin, expect=expect, verdict="", alpha=alpha, **out)
    return dataclasses.replace(result, p_adj=result.p, p_tost_adj=result.p_tost,
                               verdict=verdict(result.sign, result.p, result.p_tost, result.n_seeds, direction,
                                               alpha))


def _paired(by_level, levels, margin, alpha) -> dict:
    seeds = sorted(by_level[levels[0]][1])
    table = {v: dict(zip(by_level[v][1], by_level[v][0])) for v in levels}
    rows, kept, dropped = [], [], []
    for s in seeds:
        row = [_f(table[v][s]) for v in levels]
        if all(math.isfinite(x) for x in row):
            rows.append(row)
            kept.append(s)
        else:
            dropped.append(s)
    data = np.array(rows, dtype=np.float64).reshape(len(rows), len(levels))
    pos = np.arange(len(levels), dtype=np.float64)
    change = [_change(pos, row) for row in data]
    c = compare(change, [0.0] * len(change), a_seeds=kept, b_seeds=kept, alpha=alpha, expect=None,
                margin=margin if math.isfinite(margin) and margin > 0 else None) if kept else None
    if len(kept) >= 2:
        rising = _sps.page_trend_test(data)
        up, stat = float(rising.pvalue), float(rising.statistic)
        down = float(_sps.page_trend_test(data[:, ::-1]).pvalue)
        p = min(1.0, 2.0 * min(up, down))
        sign = 0.0 if up == down else (1.0 if up < down else -1.0)
    else:
        stat, p, sign = _NAN, _NAN, float(np.sign(np.mean(change))) if change else 0.0
    return dict(test="Page's L", statistic=stat, p=p, sign=sign, paired=True, n_seeds=len(kept),
                dropped_seeds=tuple(dropped), **_from_comparison(c))


def _from_comparison(c: Comparison | None) -> dict:
    if c is None:
        return dict(diff=_NAN, ci_low=_NAN, ci_high=_NAN, se=_NAN, spread=_NAN, n_power=0, p_tost=_NAN)
    return dict(diff=c.diff, ci_low=c.ci_low, ci_high=c.ci_high, se=c.se, spread=c.spread, n_power=c.n_pairs,
                p_tost=c.p_tost)


def _unpaired(by_level, levels, margin, alpha) -> dict:
    xs, ys = [], []
    for i, v in enumerate(levels):
        for y in by_level[v][0]:
            if y is not None and math.isfinite(float(y)):
                xs.append(float(i))
                ys.append(float(y))
    n_min = min(sum(1 for y in by_level[v][0] if y is not None and math.isfinite(float(y))) for v in levels)
    x, y = np.array(xs), np.array(ys)
    out = dict(test="Spearman ρ", paired=False, n_seeds=n_min, statistic=_NAN, p=_NAN, sign=0.0, diff=_NAN,
               ci_low=_NAN, ci_high=_NAN, se=_NAN, spread=_NAN, n_power=0, p_tost=_NAN)
    if x.size < 3 or np.ptp(x) == 0:
        return out
    k = len(levels) - 1
    if np.ptp(y) == 0:
        e = 0.0
        out.update(statistic=_NAN, p=1.0, diff=e, ci_low=e, ci_high=e, se=0.0, spread=0.0, n_power=x.size - 1,
                   p_tost=0.0 if math.isfinite(margin) and margin > 0 else _NAN)
        return out
    rho = _sps.spearmanr(x, y)
    fit = _sps.linregress(x, y)
    e, se, df = float(fit.slope) * k, float(fit.stderr) * k, x.size - 2
    half = float(_sps.t.ppf(1.0 - alpha / 2.0, df)) * se
    p_tost = _NAN
    if math.isfinite(margin):
        p_tost = (max(float(_sps.t.sf((e + margin) / se, df)), float(_sps.t.sf((margin - e) / se, df)))
                  if se > 0 else (0.0 if abs(e) < margin else 1.0))
    p = float(rho.pvalue) if math.isfinite(rho.pvalue) else 1.0
    out.update(statistic=float(rho.statistic), p=p, sign=float(np.sign(rho.statistic)), diff=e, ci_low=e - half,
               ci_high=e + half, se=se, spread=se * math.sqrt(x.size - 1), n_power=x.size - 1, p_tost=p_tost)
    return out


def interaction(cells, *, expect: str = "greater", margin=None, alpha: float = ALPHA) -> Comparison:
    """The interaction ``(A1 − B1) − (A2 − B2)`` paired by seed (rule: the module docstring).

    Args:
        cells: four ``(values, seeds)``: A1, B1, A2, B2 (A and B at the first and second value
            of the key the interaction runs over).
        expect: "greater" (the contrast is > 0) or "less". margin: as in a hypothesis.

    Returns:
        :func:`keras_dyn.stats.compare` of ``A1 − B1`` against ``A2 − B2`` over the seeds all four
        cells ran (``diff`` is the contrast).

    Example:
        >>> s = [0, 1, 2]
        >>> c = interaction([([0.90, 0.91, 0.92], s), ([0.70, 0.72, 0.71], s),
        ...                  ([0.95, 0.96, 0.95], s), ([0.90, 0.92, 0.91], s)])
        >>> c.test, round(c.diff, 3), c.verdict
        ('paired t-test', 0.157, 'supported')
    """
    maps = [dict(zip(seeds, values)) for values, seeds in cells]
    common = sorted(set.intersection(*(set(m) for m in maps)))
    means = [summarise([m[s] for s in common]).mean for m in maps]
    ref = float(np.mean([abs(v) for v in means if math.isfinite(v)] or [_NAN]))
    abs_margin = None if margin is None else resolve_margin(check_margin(margin), ref, ref)
    if abs_margin is not None and not math.isfinite(abs_margin):
        abs_margin = None
    x = [_f(maps[0][s]) - _f(maps[1][s]) for s in common]
    y = [_f(maps[2][s]) - _f(maps[3][s]) for s in common]
    return compare(x, y, expect=expect, a_seeds=common, b_seeds=common, margin=abs_margin, alpha=alpha)


def _f(v) -> float:
    return _NAN if v is None else float(v)

