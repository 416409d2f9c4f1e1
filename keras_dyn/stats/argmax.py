"""Is one setting of a grid key the best of them all? (:func:`argmax_test`; the rule is stated once, in
:mod:`keras_dyn.stats`).

The named setting is compared with every other setting by :func:`keras_dyn.stats.compare` (paired by
seed when they ran the same seeds), each comparison read one-sided. **Supported** needs every
other setting beyond noise worse: the hypothesis's p is the largest one-sided p of "named better
than other" (an intersection–union test: every pair must reject, so the error rate is already
α without adjusting the pairs). **Refuted** needs some setting beyond noise better than the named
one (a union of k − 1 tests): the smallest Holm-adjusted p of "other better than named". The set of
settings within noise of the best mean uses Holm-adjusted p-values too. Whichever of the two is
smaller enters the lab's Holm family with its direction; otherwise the verdict is **undecided**
and the line names the settings within noise of the best mean. There is no "equivalent" (an
argmax makes no claim that the settings are alike).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from keras_dyn.stats.comparison import Comparison, compare
from keras_dyn.stats.summary import summarise
from keras_dyn.stats.verdicts import ALPHA, holm, verdict

_NAN = math.nan


def one_sided(c: Comparison, direction: str) -> float:
    """The one-sided p of a comparison that A − B lies in ``direction`` ("greater": A > B), from
    its two-sided p (half of it when the difference points that way, else 1 − half); 1 when the
    comparison has no p (a single seed, no data).

    Example:
        >>> c = compare([0.9, 0.92, 0.91], [0.8, 0.83, 0.81])
        >>> one_sided(c, "greater") < 0.01 < 0.99 < one_sided(c, "less")
        True
    """
    if not math.isfinite(c.p):
        return 1.0
    want = 1.0 if direction == "greater" else -1.0
    if c.sign * want > 0:
        return c.p / 2.0
    return 1.0 - c.p / 2.0 if c.sign else 1.0


@dataclass(frozen=True)
class Argmax:
    """An argmax hypothesis's test (rule: the module docstring).

    Args:
        levels: the settings, in plan order; best: the named one; top: the one with the best mean;
            higher: higher is better. summaries: setting → :class:`keras_dyn.stats.Summary`.
        pairs: other setting → ``compare(best, other)``. p_support, p_refute: other setting → the
            one-sided p (Holm-adjusted over the pairs) that best is better / worse than it.
        near: the settings within noise of ``top`` (``top`` first). p, sign: what enters the lab's
            family (sign +1: toward "best is best"). n_seeds: the fewest seeds of any pair.
        p_adj, family, power_alpha, verdict: after :func:`keras_dyn.stats.judge_family`.
    """

    levels: tuple
    best: object
    top: object
    higher: bool
    summaries: dict
    pairs: dict
    p_support: dict
    p_refute: dict
    near: tuple
    p: float
    sign: float
    n_seeds: int
    verdict: str
    expect: str = "argmax"
    direction: str = "greater"  # for the family's verdict: sign +1 is the expected direction
    p_tost: float = _NAN
    alpha: float = ALPHA
    p_adj: float = _NAN
    p_tost_adj: float = _NAN
    family: int = 1
    power_alpha: float = _NAN

    @property
    def runner_up(self):
        """The other setting closest to beating the named one (the largest support p)."""
        return max(self.p_support, key=lambda v: (self.p_support[v], -self.p_refute[v]))

    @property
    def margin(self) -> float:
        return _NAN

    def pair(self, other) -> Comparison:
        """``compare(best, other)`` with its power stated at this hypothesis's level: one-sided α
        at the lab family's (strictest Holm step) level; the pairs need no adjustment (the
        intersection–union test)."""
        level = self.alpha if math.isnan(self.power_alpha) else self.power_alpha
        return dataclasses.replace(self.pairs[other], power_alpha=min(2.0 * level, 0.5))

    @property
    def seeds_needed(self) -> float:
        """Seeds that would resolve the hardest pair (the runner-up's observed difference)."""
        return self.pair(self.runner_up).seeds_needed


def argmax_test(by_level, best, *, higher: bool = True, alpha: float = ALPHA, censored: bool = False) -> Argmax:
    """Is ``best`` the best of the settings? (rule: the module docstring)

    Args:
        by_level: setting → ``(values, seeds)``, one value per seed, in plan order.
        best: the named setting (a key of ``by_level``). higher: higher is better.
        censored: +inf means a threshold never reached (compared by rank).

    Example:
        >>> r = argmax_test({0.1: ([0.80, 0.82, 0.81, 0.80], [0, 1, 2, 3]),
        ...                  0.01: ([0.90, 0.91, 0.92, 0.90], [0, 1, 2, 3]),
        ...                  0.001: ([0.85, 0.86, 0.86, 0.84], [0, 1, 2, 3])}, 0.01)
        >>> r.verdict, r.near
        ('supported', (0.01,))
    """
    if best not in by_level or len(by_level) < 2:
        raise ValueError(f"best {best!r} must be one of two or more settings, not of {list(by_level)}")
    direction = "greater" if higher else "less"

    def against(named):
        comps = {v: compare(by_level[named][0], by_level[v][0], a_seeds=by_level[named][1],
                            b_seeds=by_level[v][1], expect=direction, alpha=alpha, censored=censored)
                 for v in by_level if v != named}
        keys = list(comps)
        better = {v: one_sided(comps[v], direction) for v in keys}  # raw: the intersection-union test
        worse = dict(zip(keys, holm(one_sided(comps[v], "less" if higher else "greater") for v in keys)))
        return comps, better, worse

    pairs, p_support, p_refute = against(best)
    summaries = {v: summarise(vals, seeds, censored=censored) for v, (vals, seeds) in by_level.items()}
    ranked = [v for v in by_level if math.isfinite(summaries[v].mean)]
    top = (max if higher else min)(ranked, key=lambda v: summaries[v].mean) if ranked else best
    beaten = against(top)[1]
    beaten = dict(zip(beaten, holm(beaten.values())))  # within noise of the best: Holm over the pairs
    near = (top, *[v for v in by_level if v != top and not beaten.get(v, 1.0) < alpha])
    n = min(c.n_seeds for c in pairs.values())
    if any(c.verdict == "no data" for c in pairs.values()):
        n = 0
    p_sup, p_ref = max(p_support.values()), min(p_refute.values())
    sign, p = (-1.0, p_ref) if p_ref < p_sup else (1.0, p_sup)
    out = Argmax(tuple(by_level), best, top, higher, summaries, pairs, p_support, p_refute, near, p, sign, n,
                 verdict="", alpha=alpha, p_adj=p)
    return dataclasses.replace(out, verdict=verdict(sign, p, _NAN, n, "greater", alpha))

