"""What a number of seeds can resolve: the t critical value, the minimum detectable difference at 80 % power, the seeds needed for a difference, and the many-comparisons notes (power from ``statsmodels.stats.power``). The rule is stated once, in :mod:`keras_dyn.stats`.
"""

from __future__ import annotations

import math
import warnings

from scipy import stats as _sps
from statsmodels.stats.power import TTestIndPower, TTestPower

from keras_dyn.stats.verdicts import ALPHA, MIN_SEEDS, POWER

MAX_SEEDS = 10_000  # seeds needed beyond this are reported as infinite


def t_critical(df: float, alpha: float = ALPHA) -> float:
    """The two-sided critical value ``t_{1−α/2, df}`` of Student's t distribution.

    Example:
        >>> round(t_critical(4), 4)
        2.7764
    """
    check_alpha(alpha)
    if not df > 0:  # also catches NaN
        return math.nan
    return float(_sps.t.ppf(1.0 - alpha / 2.0, df))


def resolvable_difference(sd: float, n: int, *, paired: bool = True, alpha: float = ALPHA) -> float:
    """The smallest difference ``n`` seeds with spread ``sd`` call beyond seed noise (p < α):
    paired ``t_{1−α/2, n−1} · sd / √n``; unpaired (``n`` a side) ``t_{1−α/2, 2n−2} · sd · √(2/n)``.
    A true difference this size is called only about half the time; :func:`mde` is the one
    called 80 % of the time.

    Example:
        >>> round(resolvable_difference(0.003, 5), 5)   # 5 paired seeds, differences spread 0.3 points
        0.00372
    """
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if paired:
        return t_critical(n - 1, alpha) * sd / math.sqrt(n)
    return t_critical(2 * n - 2, alpha) * sd * math.sqrt(2.0 / n)


def mde(sd: float, n: int, *, paired: bool = True, n_b: int | None = None, alpha: float = ALPHA,
        power: float = POWER) -> float:
    """Minimum detectable difference: the true difference the test calls beyond noise with
    probability ``power`` (two-sided, level α) with these seeds and this spread.

    Paired, ``sd`` is that of the per-seed differences and ``n`` the pairs
    (``statsmodels`` ``TTestPower``); unpaired, ``sd`` is the pooled sd of the sides and ``n``,
    ``n_b`` their sizes (``TTestIndPower``, the equal-variance approximation of Welch). NaN with
    fewer than 2 seeds (no spread) or a non-finite ``sd``; 0 when ``sd`` is 0.

    Example:
        >>> round(mde(0.003, 5), 5)
        0.00505
    """
    n_b = n if n_b is None else n_b
    if n < 2 or (not paired and n_b < 2) or not math.isfinite(sd):
        return math.nan
    if sd == 0:
        return 0.0
    if paired:
        d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power)
    else:
        d = TTestIndPower().solve_power(effect_size=None, nobs1=n, ratio=n_b / n, alpha=alpha, power=power)
    return float(d) * sd


def seeds_needed(effect: float, sd: float, *, paired: bool = True, alpha: float = ALPHA,
                 power: float = POWER) -> float:
    """Seeds (pairs when ``paired``, else a side) at which a true difference ``effect`` is called
    beyond noise with probability ``power``, at spread ``sd``; at least :data:`MIN_SEEDS`.

    Returns:
        A whole number as a float; ``inf`` for a zero effect or more than :data:`MAX_SEEDS`;
        NaN when ``sd`` is unknown.

    Example:
        >>> seeds_needed(0.002, 0.003), seeds_needed(0.01, 0.0)
        (20.0, 3.0)
    """
    if not (math.isfinite(sd) and math.isfinite(effect)):
        return math.nan
    effect = abs(effect)
    if effect == 0:
        return math.inf
    if sd == 0:
        return float(MIN_SEEDS)
    size = effect / sd
    solver = TTestPower() if paired else TTestIndPower()
    if solver.power(size, MIN_SEEDS, alpha) >= power:
        return float(MIN_SEEDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            n = solver.solve_power(size, None, alpha, power)
        except (ValueError, RuntimeError, ArithmeticError):
            return math.inf
    n = float(n)
    if not math.isfinite(n) or n > MAX_SEEDS:
        return math.inf
    return float(max(MIN_SEEDS, math.ceil(n - 1e-9)))


def sign_test_seeds(alpha: float = ALPHA) -> int:
    """Pairs a two-sided sign test needs to reach p < α when every pair agrees.

    Example:
        >>> sign_test_seeds()
        6
    """
    n = 1
    while _sps.binomtest(n, n).pvalue >= alpha:
        n += 1
    return max(n, MIN_SEEDS)


def expected_false_calls(n_comparisons: int, alpha: float = ALPHA) -> float:
    """How many of ``n_comparisons`` chance alone calls beyond noise when nothing differs
    (``n_comparisons · alpha``).

    Example:
        >>> expected_false_calls(20)
        1.0
    """
    check_alpha(alpha)
    if n_comparisons < 0:
        raise ValueError(f"n_comparisons must be >= 0, got {n_comparisons}")
    return n_comparisons * alpha


def chance_note(n_comparisons: int, n_beyond: int, alpha: float = ALPHA) -> str:
    """One sentence for a section with many comparisons: how many "beyond noise" calls chance
    alone would give, beside how many there were (binomial; comparisons in one lab share runs,
    so take it as a guide, not a test).

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
    text += f" (at least {n_beyond} with probability {'< 1%' if prob < 0.01 else f'{prob * 100:.0f}%'})"
    if prob >= 0.2:
        text += ", so this is what no difference at all would look like."
    elif prob >= alpha:
        text += ", so a few of these calls may be chance."
    else:
        text += ", more than chance alone explains."
    return text


def check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
