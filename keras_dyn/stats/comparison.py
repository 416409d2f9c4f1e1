"""The one comparison of two sides of a lab (:func:`compare`) and what a number of seeds can resolve; the rule is stated once, in :mod:`keras_dyn.stats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np
from scipy import stats as _sps

from keras_dyn.stats.summary import Summary, check_seeds, finite_floats, summarise

ALPHA = 0.05  # two-sided, per comparison


RULE_SHORT = (f"The rule (keras_dyn.stats): a paired t-test on the per-seed differences when both sides "
              f"ran the same seeds, Welch's t-test otherwise; a difference counts only if p < {ALPHA} "
              f"(two-sided); a single seed gives at most \"suggests\".")


_DIRECTIONS = ("greater", "less", None)


BEYOND_VERDICTS = ("supported", "refuted", "beyond seed noise")


def t_critical(df: float, alpha: float = ALPHA) -> float:
    """The two-sided critical value ``t_{1−α/2, df}`` of Student's t distribution.

    Args:
        df: degrees of freedom (> 0; ``inf`` gives the normal value). NaN gives NaN.
        alpha: two-sided level.

    Returns:
        The value ``|t|`` has to exceed for ``p < alpha``.

    Example:
        >>> round(t_critical(4), 4)
        2.7764
    """
    _check_alpha(alpha)
    if not df > 0:  # also catches NaN
        return math.nan
    return float(_sps.t.ppf(1.0 - alpha / 2.0, df))


def resolvable_difference(sd: float, n: int, *, paired: bool = True, alpha: float = ALPHA) -> float:
    """The smallest difference ``n`` seeds with spread ``sd`` can call beyond seed noise.

    This is the :attr:`Comparison.threshold` such seeds would give: paired, ``sd`` is the sd of
    the per-seed differences and the value is ``t_{1−α/2, n−1} · sd / √n``; unpaired, ``sd`` is
    the (common) sd of each side, both sides have ``n`` seeds, and the value is
    ``t_{1−α/2, 2n−2} · sd · √(2/n)`` (Welch's df for equal spreads and sizes). A true
    difference of exactly this size is called beyond noise only about half the time; one about
    twice as large is called most of the time.

    Args:
        sd: spread (of the per-seed differences when ``paired``, else of each side).
        n: seeds (pairs when ``paired``, seeds per side otherwise). Fewer than 2 gives NaN.
        paired: which test the seeds will get.
        alpha: two-sided level.

    Returns:
        The difference, in the units of ``sd``.

    Example:
        >>> round(resolvable_difference(0.003, 5), 5)   # 5 paired seeds, differences spread 0.3 points
        0.00372
    """
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if paired:
        return t_critical(n - 1, alpha) * sd / math.sqrt(n)
    return t_critical(2 * n - 2, alpha) * sd * math.sqrt(2.0 / n)


def expected_false_calls(n_comparisons: int, alpha: float = ALPHA) -> float:
    """How many of ``n_comparisons`` chance alone calls beyond noise when nothing differs.

    Args:
        n_comparisons: comparisons made in a section (or a log).
        alpha: two-sided level of each.

    Returns:
        ``n_comparisons · alpha``.

    Example:
        >>> expected_false_calls(20)
        1.0
    """
    _check_alpha(alpha)
    if n_comparisons < 0:
        raise ValueError(f"n_comparisons must be >= 0, got {n_comparisons}")
    return n_comparisons * alpha


def chance_note(n_comparisons: int, n_beyond: int, alpha: float = ALPHA) -> str:
    """One sentence for a section with many comparisons: how many "beyond noise" calls chance
    alone would give, beside how many there were.

    The probability quoted is that of at least ``n_beyond`` calls among ``n_comparisons``
    independent comparisons of which none differs (binomial); comparisons in one lab share runs,
    so take it as a guide, not a test.

    Args:
        n_comparisons: comparisons made.
        n_beyond: how many were called beyond seed noise (supported, refuted or beyond).
        alpha: two-sided level of each.

    Returns:
        A markdown sentence.

    Example:
        >>> chance_note(20, 1)
        '1 of 20 comparisons is beyond seed noise; chance alone gives about 1.0 such call at α = 0.05 each (at least 1 with probability 64%), so this is what no difference at all would look like.'
    """
    if not 0 <= n_beyond <= n_comparisons:
        raise ValueError(f"n_beyond must be between 0 and n_comparisons, got {n_beyond} of "
                         f"{n_comparisons}")
    expected = expected_false_calls(n_comparisons, alpha)
    prob = float(_sps.binom.sf(n_beyond - 1, n_comparisons, alpha)) if n_beyond else 1.0
    verb = "is" if n_beyond == 1 else "are"
    text = (f"{n_beyond} of {n_comparisons} comparison{'s' if n_comparisons != 1 else ''} {verb} "
            f"beyond seed noise; chance alone gives about {expected:.1f} such "
            f"call{'' if round(expected, 1) == 1 else 's'} at α = {alpha:g} each")
    if n_beyond == 0:
        return text + "."
    text += f" (at least {n_beyond} with probability {_pct(prob)})"
    if prob >= 0.2:
        text += ", so this is what no difference at all would look like."
    elif prob >= alpha:
        text += ", so a few of these calls may be chance."
    else:
        text += ", more than chance alone explains."
    return text


def _pct(p: float) -> str:
    if p < 0.01:
        return "< 1%"
    return f"{p * 100:.0f}%"


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")


@dataclass(frozen=True)
class Comparison:
    """Side A against side B over seeds, with its test and verdict (rule: module docstring).

    Args:
        a, b: the two sides' summaries (over all their finite values).
        diff: paired, the mean of the per-seed differences A − B over the finite pairs (this can
            differ from ``a.mean − b.mean`` when a seed was dropped); unpaired,
            ``mean(A) − mean(B)``.
        paired: whether the paired t-test was used.
        n_pairs: finite pairs used (0 when unpaired).
        se: standard error of ``diff``.
        df: degrees of freedom.
        t: ``diff / se``.
        p: two-sided p-value.
        threshold: smallest ``|diff|`` this test calls beyond noise, ``t_{1−α/2, df} · se``
            (NaN for a single seed).
        expect: "greater" (hypothesis A > B), "less" (A < B) or None.
        verdict: with ``expect``: "supported", "refuted", "within seed noise", "suggests",
            "suggests not" or "no data"; without: "beyond seed noise", "within seed noise",
            "single seed" or "no data".
        test: "paired t-test", "Welch t-test", "single seed" or "no data".
        alpha: the two-sided level used.
        dropped_seeds: paired only, seeds dropped because a side is not finite there.

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

    @property
    def beyond_noise(self) -> bool:
        """True when the difference is beyond seed noise (``p < alpha``), in either direction."""
        return self.verdict in BEYOND_VERDICTS

    @property
    def n_seeds(self) -> int:
        """Seeds behind ``diff``: the pairs when paired, else the smaller side."""
        return self.n_pairs if self.paired else min(self.a.n, self.b.n)

    def larger(self, a_name: str, b_name: str) -> str:
        """The name of the side with the larger value (by ``diff``); "neither" when ``diff`` is
        0 or NaN.

        Args:
            a_name, b_name: names of side A and side B.

        Example:
            >>> compare([1.0, 2.0], [3.0, 4.0]).larger("wide", "narrow")
            'narrow'
        """
        if self.diff > 0:
            return a_name
        if self.diff < 0:
            return b_name
        return "neither"

    def outcome(self, a_name: str, b_name: str, larger: str = "higher") -> str:
        """A short phrase for a table cell that names the larger side, whatever the hypothesis:
        "within seed noise", "A higher beyond seed noise", "A higher in a single seed (no verdict
        possible)" or "no data".

        Args:
            a_name, b_name: names of the sides.
            larger: what a larger value means ("higher"; for a loss or a drop, "drops more").

        Example:
            >>> compare([0.1, 0.11, 0.105], [0.02, 0.03, 0.025]).outcome("noisy", "clean", "drops more")
            'noisy drops more beyond seed noise'
        """
        if self.verdict == "no data":
            return "no data"
        side = self.larger(a_name, b_name)
        if self.test == "single seed":
            if side == "neither":
                return "equal in a single seed (no verdict possible)"
            return f"{side} {larger} in a single seed (no verdict possible)"
        if not self.beyond_noise:
            return "within seed noise"
        return f"{side} {larger} beyond seed noise"

    def sentence(self, a_name: str, b_name: str, scale: float = 100.0, unit: str = " points",
                 larger: str = "higher", spec: str = ".2f") -> str:
        """One line: the difference, the test, its p, the threshold and the verdict.

        Args:
            a_name, b_name: names of the sides.
            scale: factor for ``diff`` and ``threshold`` (100: fractions to points).
            unit: text after each number.
            larger: what a larger value means, used to name the larger side when the difference
                is beyond noise or comes from a single seed.
            spec: format spec of the numbers (".2f"; ".3g" for quantities of any magnitude).

        Returns:
            e.g. ``"256-256 − 128-128 = +0.35 points, paired over 5 seeds (t-test p = 0.21;
            beyond noise needs |diff| > 0.71 points): **within seed noise**"``.

        Example:
            >>> compare([0.9], [0.8]).sentence("A", "B")  # doctest: +ELLIPSIS
            'A − B = +10.00 points from a single seed (A higher in that seed): **suggests**; ...'
        """
        def num(x: float, sign: str = "") -> str:
            return f"{x * scale:{sign}{spec}}{unit}"

        head = f"{a_name} − {b_name}"
        if self.verdict == "no data":
            gone = [f"{name}: {s.n_missing} of {s.n + s.n_missing} not finite"
                    for name, s in ((a_name, self.a), (b_name, self.b)) if s.n_missing]
            if self.paired and self.dropped_seeds:
                gone.append(f"no seed finite on both sides ({_seeds(self.dropped_seeds)})")
            why = f" ({'; '.join(gone)})" if gone else ""
            return f"{head}: no data{why}: **no data**."
        dropped = self._dropped_text(a_name, b_name)
        d = num(self.diff, "+")
        if self.test == "single seed":
            side = self.larger(a_name, b_name)
            where = "equal in that seed" if side == "neither" else f"{side} {larger} in that seed"
            return (f"{head} = {d} from a single seed ({where}{dropped}): **{self.verdict}**; one "
                    f"seed cannot separate a difference from seed noise, so no verdict stronger "
                    f"than \"suggests\" is possible.")
        if self.paired:
            how = f"paired over {self.n_pairs} seeds"
            test = "t-test"
        else:
            how = f"{self.a.n} and {self.b.n} seeds, unpaired"
            test = "Welch t-test"
        if self.se == 0:
            rule = f"{test}: no spread over seeds, so any nonzero difference is beyond noise"
        else:
            rule = f"{test} {_p(self.p)}; beyond noise needs |diff| > {num(self.threshold)}"
        word = f"**{self.verdict}**"
        if self.beyond_noise:
            word += f" ({self.larger(a_name, b_name)} {larger})"
        return f"{head} = {d}, {how} ({dropped.lstrip('; ')}{'; ' if dropped else ''}{rule}): {word}"

    def _dropped_text(self, a_name: str, b_name: str) -> str:
        """What was left out, as "; ..." (empty when nothing was)."""
        if self.paired:
            if not self.dropped_seeds:
                return ""
            return f"; {_seeds(self.dropped_seeds)} dropped, not finite on a side"
        gone = [f"{s.n_missing} of {name} not finite" for name, s in
                ((a_name, self.a), (b_name, self.b)) if s.n_missing]
        return f"; {', '.join(gone)}" if gone else ""


def _seeds(seeds) -> str:
    return "seed " + ", ".join(map(str, seeds)) if len(seeds) == 1 else \
        "seeds " + ", ".join(map(str, seeds))


def _p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}"


def _verdict(signed: float, beyond: bool, expect: str | None) -> str:
    if expect is None:
        return "beyond seed noise" if beyond else "within seed noise"
    if not beyond:
        return "within seed noise"
    return "supported" if signed > 0 else "refuted"


def compare(a_values, b_values, *, expect: str | None = "greater",
            a_seeds: Sequence[Hashable] | None = None, b_seeds: Sequence[Hashable] | None = None,
            alpha: float = ALPHA) -> Comparison:
    """Compare side A against side B over seeds by the rule in the module docstring.

    Args:
        a_values, b_values: one value per seed for each side; NaN, ±inf and None are counted as
            not finite and left out.
        expect: "greater" (the hypothesis is A > B), "less" (A < B) or None (no direction).
        a_seeds, b_seeds: the seed of each value. Give both or neither; when both sides ran the
            same set of seeds the comparison is paired by seed, otherwise Welch.
        alpha: two-sided level.

    Returns:
        A :class:`Comparison`.

    Raises:
        ValueError: ``expect`` not one of "greater", "less", None; seeds given for one side
            only, of the wrong length, or repeated; ``alpha`` outside (0, 1).

    Example:
        >>> c = compare([0.9, 0.92, 0.91], [0.88, 0.90, 0.89], a_seeds=[0, 1, 2], b_seeds=[2, 1, 0])
        >>> c.test, round(c.diff, 4)
        ('paired t-test', 0.02)
    """
    if expect not in _DIRECTIONS:
        raise ValueError(f'expect must be "greater", "less" or None, got {expect!r}')
    _check_alpha(alpha)
    if (a_seeds is None) != (b_seeds is None):
        raise ValueError("give seeds for both sides or for neither")
    a_vals = finite_floats(a_values)
    b_vals = finite_floats(b_values)
    if a_seeds is not None:
        a_seeds = check_seeds(a_vals, a_seeds, "a")
        b_seeds = check_seeds(b_vals, b_seeds, "b")
    a, b = summarise(a_vals, a_seeds), summarise(b_vals, b_seeds)
    sign = -1.0 if expect == "less" else 1.0

    def done(diff, paired, n_pairs, se, df, t, p, threshold, verdict, test, dropped=()):
        return Comparison(a, b, float(diff), paired, n_pairs, float(se), float(df), float(t),
                          float(p), float(threshold), expect, verdict, test, alpha, tuple(dropped))

    def single(diff, paired, n_pairs, dropped=()):
        if expect is None:
            verdict = "single seed"
        else:
            verdict = "suggests" if sign * diff > 0 else "suggests not"
        nan = math.nan
        return done(diff, paired, n_pairs, nan, nan, nan, nan, nan, verdict, "single seed", dropped)

    def no_data(paired, dropped=()):
        nan = math.nan
        return done(nan, paired, 0, nan, nan, nan, nan, nan, "no data", "no data", dropped)

    paired = a_seeds is not None and set(a_seeds) == set(b_seeds)
    if paired:
        b_by_seed = dict(zip(b_seeds, b_vals))
        pairs = [(s, av, b_by_seed[s]) for s, av in zip(a_seeds, a_vals)]
        dropped = tuple(s for s, av, bv in pairs if not (math.isfinite(av) and math.isfinite(bv)))
        d = np.array([av - bv for s, av, bv in pairs if s not in dropped], dtype=np.float64)
        n = int(d.size)
        if n == 0:
            return no_data(True, dropped)
        diff = float(np.mean(d))
        if n < 2:
            return single(diff, True, n, dropped)
        se = float(np.std(d, ddof=1)) / math.sqrt(n)
        df = float(n - 1)
        test = "paired t-test"
    else:
        dropped = ()
        n = 0
        if a.n == 0 or b.n == 0:
            return no_data(False)
        diff = a.mean - b.mean
        if a.n < 2 or b.n < 2:
            return single(diff, False, 0)
        va, vb = a.sd ** 2 / a.n, b.sd ** 2 / b.n
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1)) if se > 0 \
            else float(a.n + b.n - 2)
        test = "Welch t-test"

    if se == 0:
        t = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p = 1.0 if diff == 0 else 0.0
        threshold = 0.0
    else:
        t = diff / se
        p = float(min(1.0, 2.0 * _sps.t.sf(abs(t), df)))
        threshold = t_critical(df, alpha) * se
    beyond = p < alpha
    return done(diff, paired, n, se, df, t, p, threshold, _verdict(sign * diff, beyond, expect),
                test, dropped)
