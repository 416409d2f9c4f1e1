"""keras_dyn.stats: every number checked against scipy.stats on the same per-seed values."""

import doctest
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

from keras_dyn import stats
from keras_dyn.stats import (ALPHA, Summary, chance_note, compare, expected_false_calls,
                             resolvable_difference, summarise, t_critical)

RTOL = 1e-10


def _random_pairs(rng, n, shared=0.02, effect=0.0, own=0.005):
    """Per-seed values of two sides that share a per-seed offset (as runs with one seed do)."""
    base = 0.85 + shared * rng.standard_normal(n)
    a = base + effect + own * rng.standard_normal(n)
    b = base + own * rng.standard_normal(n)
    return a, b


def _hand_picked_pairs():
    return [
        ([0.871, 0.874, 0.869], [0.866, 0.870, 0.864]),
        ([0.90, 0.80], [0.85, 0.84]),  # two seeds: the smallest paired test
        ([1.0, 2.0, 4.0, 8.0, 16.0], [1.5, 1.0, 5.0, 6.0, 20.0]),
        ([-3.0, 0.0, 3.0, 1.0], [-2.5, 0.25, 2.0, 1.5]),
        ([1e-4, 2e-4, 1.5e-4, 1.2e-4], [1e-5, 3e-5, 1.8e-5, 2e-5]),  # gradient-sized numbers
    ]


def _random_cases(rng):
    cases = []
    for n in (2, 3, 5, 8, 20):
        for effect in (0.0, 0.003, 0.02):
            cases.append(tuple(_random_pairs(rng, n, effect=effect)))
    return cases


# --------------------------------------------------------------------------- against scipy

def test_paired_t_p_df_and_threshold_match_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    for a, b in _hand_picked_pairs() + _random_cases(rng):
        a, b = np.asarray(a), np.asarray(b)
        seeds = list(range(len(a)))
        c = compare(a, b, a_seeds=seeds, b_seeds=seeds)
        ref = sps.ttest_rel(a, b)
        assert c.test == "paired t-test" and c.paired and c.n_pairs == len(a)
        assert c.t == pytest.approx(ref.statistic, rel=RTOL)
        assert c.p == pytest.approx(ref.pvalue, rel=RTOL)
        assert c.df == ref.df
        assert c.diff == pytest.approx(np.mean(a - b), rel=RTOL)
        # the threshold is the half-width of scipy's (1 − α) confidence interval of the difference
        low, high = ref.confidence_interval(1 - ALPHA)
        assert c.threshold == pytest.approx((high - low) / 2, rel=RTOL)


def test_welch_t_p_df_and_threshold_match_scipy_ttest_ind():
    rng = np.random.default_rng(1)
    cases = [(np.asarray(a), np.asarray(b)) for a, b in _hand_picked_pairs()]
    cases.append(([0.5, 0.52], [0.1, 0.4, 0.3, 0.9, 0.7, 0.2, 0.6]))  # unequal sizes and spreads
    for n_a, n_b in ((2, 2), (3, 7), (5, 5), (10, 4), (30, 30)):
        cases.append((0.8 + 0.01 * rng.standard_normal(n_a),
                      0.79 + 0.05 * rng.standard_normal(n_b)))
    for a, b in cases:
        c = compare(a, b)
        ref = sps.ttest_ind(a, b, equal_var=False)
        assert c.test == "Welch t-test" and not c.paired and c.n_pairs == 0
        assert c.t == pytest.approx(ref.statistic, rel=RTOL)
        assert c.p == pytest.approx(ref.pvalue, rel=RTOL)
        assert c.df == pytest.approx(ref.df, rel=RTOL)
        low, high = ref.confidence_interval(1 - ALPHA)
        assert c.threshold == pytest.approx((high - low) / 2, rel=RTOL)
        assert c.a.sd == pytest.approx(np.std(a, ddof=1), rel=RTOL)


def test_pairing_matches_values_by_seed_not_by_position():
    a = [0.90, 0.80, 0.85, 0.70]
    b = [0.88, 0.81, 0.82, 0.71]
    order = [2, 0, 3, 1]
    c = compare(a, [b[i] for i in order], a_seeds=[10, 11, 12, 13],
                b_seeds=[10 + i for i in order])
    ref = sps.ttest_rel(a, b)
    assert c.paired
    assert c.t == pytest.approx(ref.statistic, rel=RTOL)
    assert c.p == pytest.approx(ref.pvalue, rel=RTOL)


def test_t_critical_is_scipy_ppf():
    for df in (1, 2, 4, 9.5, 100):
        assert t_critical(df) == pytest.approx(sps.t.ppf(1 - ALPHA / 2, df), rel=RTOL)
        assert t_critical(df, alpha=0.01) == pytest.approx(sps.t.ppf(0.995, df), rel=RTOL)
    assert t_critical(math.inf) == pytest.approx(sps.norm.ppf(1 - ALPHA / 2), rel=1e-9)
    assert math.isnan(t_critical(0)) and math.isnan(t_critical(math.nan))
    assert t_critical(3) > t_critical(30)  # fewer seeds need a larger t


# --------------------------------------------------------------------------- threshold

def test_difference_just_above_or_below_the_threshold_flips_the_verdict():
    rng = np.random.default_rng(2)
    for seeds in (list(range(5)), None):
        a, b = _random_pairs(rng, 5)
        base = compare(a, b, a_seeds=seeds, b_seeds=seeds)
        thr = base.threshold
        assert thr > 0
        for factor, expected in ((1 + 1e-6, "supported"), (1 - 1e-6, "undecided"),
                                 (-(1 + 1e-6), "refuted"), (-(1 - 1e-6), "undecided")):
            # shifting one side by a constant moves diff and leaves se (and so the threshold) alone
            shifted = a - base.diff + factor * thr
            c = compare(shifted, b, a_seeds=seeds, b_seeds=seeds)
            assert c.threshold == pytest.approx(thr, rel=1e-9)
            assert c.diff == pytest.approx(factor * thr, rel=1e-6)
            assert c.verdict == expected, (seeds, factor)
            assert c.beyond_noise == (expected != "undecided")
            assert (c.p < ALPHA) == c.beyond_noise


def test_p_below_alpha_exactly_when_diff_beyond_threshold():
    rng = np.random.default_rng(3)
    calls = {True: 0, False: 0}
    for _ in range(300):
        n = int(rng.integers(2, 9))
        a, b = _random_pairs(rng, n, effect=float(rng.normal(0, 0.005)))
        seeds = list(range(n)) if rng.random() < 0.5 else None
        for expect in ("greater", "less", None):
            c = compare(a, b, a_seeds=seeds, b_seeds=seeds, expect=expect)
            assert (c.p < ALPHA) == (abs(c.diff) > c.threshold)
            # fewer than three seeds a side decide nothing, whatever the p
            assert c.beyond_noise == (c.p < ALPHA and n >= stats.MIN_SEEDS)
            calls[c.beyond_noise] += 1
    assert calls[True] > 0 and calls[False] > 0  # both sides of the rule were exercised


def test_alpha_changes_threshold_and_verdict_consistently():
    a, b = [0.871, 0.874, 0.869, 0.872], [0.866, 0.870, 0.868, 0.869]
    seeds = [0, 1, 2, 3]
    loose = compare(a, b, a_seeds=seeds, b_seeds=seeds, alpha=0.2)
    strict = compare(a, b, a_seeds=seeds, b_seeds=seeds, alpha=0.001)
    assert loose.p == strict.p and loose.threshold < strict.threshold
    assert loose.alpha == 0.2
    for c in (loose, strict):
        assert (c.p < c.alpha) == c.beyond_noise == (abs(c.diff) > c.threshold)


# --------------------------------------------------------------------------- which test

def test_pairing_only_when_both_sides_ran_the_same_seeds():
    a, b = [0.9, 0.8, 0.85], [0.88, 0.81, 0.82]
    assert compare(a, b, a_seeds=[0, 1, 2], b_seeds=[2, 0, 1]).test == "paired t-test"
    assert compare(a, b).test == "Welch t-test"
    assert compare(a, b, a_seeds=[0, 1, 2], b_seeds=[0, 1, 3]).test == "Welch t-test"
    # different seed sets: Welch on all values, not pairs on the overlap
    c = compare(a + [0.7], b, a_seeds=[0, 1, 2, 3], b_seeds=[0, 1, 2])
    assert not c.paired and c.a.n == 4
    assert c.t == pytest.approx(sps.ttest_ind(a + [0.7], b, equal_var=False).statistic, rel=RTOL)


def test_seeds_are_checked():
    with pytest.raises(ValueError, match="both sides or for neither"):
        compare([1, 2], [3, 4], a_seeds=[0, 1])
    with pytest.raises(ValueError, match="2 values but 3 seeds"):
        compare([1, 2], [3, 4], a_seeds=[0, 1, 2], b_seeds=[0, 1])
    with pytest.raises(ValueError, match="twice"):
        compare([1, 2], [3, 4], a_seeds=[0, 0], b_seeds=[0, 1])


def test_expect_and_alpha_are_checked():
    with pytest.raises(ValueError, match="expect"):
        compare([1, 2], [3, 4], expect="greather")  # a misspelt direction is an error
    with pytest.raises(ValueError, match="alpha"):
        compare([1, 2], [3, 4], alpha=1.5)


def test_pairing_resolves_a_difference_welch_cannot():
    # Seeds share data order and initial state: a large per-seed offset common to both sides
    # and a small, consistent gain of A. Unpaired, the offset swamps the gain; paired, it cancels.
    rng = np.random.default_rng(4)
    a, b = _random_pairs(rng, 5, shared=0.02, effect=0.004, own=0.001)
    seeds = [0, 1, 2, 3, 4]
    paired = compare(a, b, a_seeds=seeds, b_seeds=seeds)
    welch = compare(a, b)
    assert paired.verdict == "supported"
    assert welch.verdict == "undecided"
    assert paired.threshold < abs(paired.diff) < welch.threshold
    assert paired.diff == pytest.approx(welch.diff, rel=RTOL)  # same difference, different noise
    assert sps.ttest_rel(a, b).pvalue < ALPHA < sps.ttest_ind(a, b, equal_var=False).pvalue


def test_false_calls_among_null_comparisons_match_alpha():
    # Nothing differs: the fraction called beyond noise should be alpha (checks the calibration of
    # p, the threshold and the verdict together, paired and Welch).
    # Welch's test assumes independent sides, so its null draws share no per-seed offset.
    rng = np.random.default_rng(5)
    trials = 1500
    for seeds, shared in ((list(range(5)), 0.02), (None, 0.0)):
        beyond = sum(compare(*_random_pairs(rng, 5, shared=shared), a_seeds=seeds,
                             b_seeds=seeds).beyond_noise for _ in range(trials))
        expected = expected_false_calls(trials)
        sd = math.sqrt(trials * ALPHA * (1 - ALPHA))
        assert abs(beyond - expected) < 4 * sd, (seeds, beyond, expected)


# --------------------------------------------------------------------------- missing values

def test_summarise_drops_and_counts_non_finite_values():
    s = summarise([0.8, math.nan, 0.9, math.inf, None, -math.inf], seeds=[0, 1, 2, 3, 4, 5])
    assert s.n == 2 and s.n_missing == 4 and s.missing == (1, 3, 4, 5)
    assert s.mean == pytest.approx(0.85, rel=RTOL)
    assert s.sd == pytest.approx(np.std([0.8, 0.9], ddof=1), rel=RTOL)
    assert summarise(np.array([[0.1, np.nan], [0.3, 0.5]])).missing == (1,)  # positions
    one = summarise([0.7, math.nan])
    assert one.n == 1 and one.sd == 0.0 and one.n_missing == 1
    none = summarise([math.nan, math.nan])
    assert none.n == 0 and math.isnan(none.mean) and math.isnan(none.sd) and none.n_missing == 2
    empty = summarise([])
    assert empty.n == 0 and empty.n_missing == 0 and math.isnan(empty.sd)


def test_paired_drops_a_pair_when_either_side_is_not_finite():
    a = [0.90, math.nan, 0.85, 0.70, 0.88]
    b = [0.88, 0.81, 0.82, math.inf, 0.86]
    seeds = [0, 1, 2, 3, 4]
    c = compare(a, b, a_seeds=seeds, b_seeds=seeds)
    keep = [0, 2, 4]
    ref = sps.ttest_rel([a[i] for i in keep], [b[i] for i in keep])
    assert c.paired and c.n_pairs == 3 and c.dropped_seeds == (1, 3)
    assert c.t == pytest.approx(ref.statistic, rel=RTOL)
    assert c.p == pytest.approx(ref.pvalue, rel=RTOL)
    # each side's summary keeps its own finite values and counts the rest
    assert (c.a.n, c.a.n_missing, c.a.missing) == (4, 1, (1,))
    assert (c.b.n, c.b.n_missing, c.b.missing) == (4, 1, (3,))
    assert "seeds 1, 3 dropped" in c.sentence("A", "B")


def test_welch_uses_the_finite_values_and_says_what_it_left_out():
    a = [0.90, math.nan, 0.85, 0.70, 0.88]
    b = [0.88, 0.81, 0.82, 0.86]
    c = compare(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False, nan_policy="omit")
    assert c.t == pytest.approx(ref.statistic, rel=RTOL)
    assert c.p == pytest.approx(ref.pvalue, rel=RTOL)
    assert c.a.n == 4 and c.a.n_missing == 1
    assert "1 of A not finite" in c.sentence("A", "B")


def test_no_data():
    for c in (compare([math.nan, math.nan], [0.8, 0.9]),
              compare([0.8, math.nan], [math.nan, 0.9], a_seeds=[0, 1], b_seeds=[0, 1]),
              compare([], [0.5, 0.6], expect=None)):
        assert c.verdict == "no data" and c.test == "no data" and not c.beyond_noise
        assert math.isnan(c.diff) and math.isnan(c.p)
        assert "no data" in c.sentence("A", "B")
        assert c.outcome("A", "B") == "no data"


# --------------------------------------------------------------------------- single seed

def test_single_seed_is_undecided():
    big = compare([0.99], [0.10])
    assert big.verdict == "undecided" and big.test == "single seed" and not big.beyond_noise
    assert compare([0.10], [0.99]).verdict == "undecided"
    assert compare([0.5], [0.5]).verdict == "undecided"
    assert compare([0.99], [0.10], expect=None).verdict == "too few seeds"
    # one value on one side only is still a single seed, however many the other side has
    lopsided = compare([0.99], [0.1, 0.11, 0.12, 0.1])
    assert lopsided.verdict == "undecided"
    for c in (big, lopsided):
        for x in (c.threshold, c.se, c.t, c.p, c.df, c.mde, c.seeds_needed):
            assert math.isnan(x)
        text = c.sentence("A", "B")
        assert "single seed" in text and "nothing can be resolved" in text


def test_one_pair_left_after_dropping_is_a_single_seed():
    c = compare([0.9, math.nan, 0.7], [0.5, 0.6, math.nan], a_seeds=[0, 1, 2], b_seeds=[0, 1, 2])
    assert c.paired and c.n_pairs == 1 and c.dropped_seeds == (1, 2)
    assert c.verdict == "undecided" and c.diff == pytest.approx(0.4)


# --------------------------------------------------------------------------- no spread

def test_no_spread_zero_difference_is_within_noise():
    c = compare([3.0, 5.0, 7.0], [3.0, 5.0, 7.0], a_seeds=[0, 1, 2], b_seeds=[0, 1, 2])
    assert c.se == 0 and c.diff == 0 and c.t == 0 and c.p == 1 and c.threshold == 0
    assert c.verdict == "undecided"
    assert compare([3.0, 5.0, 7.0], [3.0, 5.0, 7.0], a_seeds=[0, 1, 2], b_seeds=[0, 1, 2],
                   margin=0.5).verdict == "equivalent"
    w = compare([2.0, 2.0, 2.0], [2.0, 2.0, 2.0], expect=None)
    assert w.se == 0 and w.p == 1 and w.verdict == "within seed noise" and w.df == 4


def test_no_spread_nonzero_difference_is_judged_against_the_margin():
    c = compare([3.0, 5.0, 7.0], [1.0, 3.0, 5.0], a_seeds=[0, 1, 2], b_seeds=[0, 1, 2], margin=0.5)
    assert c.se == 0 and c.diff == 2 and c.t == math.inf and c.p == 0 and c.p_tost == 1
    assert c.verdict == "supported" and c.beyond_noise
    assert "no spread" in c.sentence("A", "B", scale=1, unit="")
    small = compare([3.0, 5.0, 7.0], [2.9, 4.9, 6.9], a_seeds=[0, 1, 2], b_seeds=[0, 1, 2], margin=0.5)
    assert small.se == 0 and small.p_tost == 0 and small.verdict == "equivalent"
    w = compare([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], margin=0.1)
    assert w.t == -math.inf and w.p == 0 and w.verdict == "refuted"


def test_no_spread_with_two_seeds_decides_nothing():
    # issue 21 item 7: two seeds, every per-seed difference 0.002, was "supported" with p = 0
    c = compare([0.802, 0.790], [0.800, 0.788], a_seeds=[0, 1], b_seeds=[0, 1])
    assert c.se == 0 and c.verdict == "undecided" and not c.beyond_noise
    assert compare([0.802, 0.790], [0.800, 0.788], a_seeds=[0, 1], b_seeds=[0, 1],
                   margin=0.01).verdict == "undecided"
    assert compare([0.802, 0.790], [0.800, 0.788], expect=None).verdict == "too few seeds"
    text = c.sentence("A", "B")
    assert "MDE" not in text and "0.00 points" not in text.split("CI")[1]
    assert "fewer than 3 seeds a side decide nothing" in text
    # nearly no spread (rounding) counts as none
    n = compare([0.802, 0.790, 0.7], [0.800, 0.788, 0.698], a_seeds=[0, 1, 2], b_seeds=[0, 1, 2],
                margin=0.01)
    assert n.se == 0 and n.verdict == "equivalent"


# --------------------------------------------------------------------------- helpers

def test_resolvable_difference_is_the_threshold_such_seeds_give():
    rng = np.random.default_rng(6)
    for n in (2, 3, 5, 10):
        a, b = _random_pairs(rng, n)
        seeds = list(range(n))
        c = compare(a, b, a_seeds=seeds, b_seeds=seeds)
        assert resolvable_difference(np.std(a - b, ddof=1), n) == pytest.approx(c.threshold,
                                                                                rel=RTOL)
        # unpaired with equal spreads and sizes: Welch's df is 2n − 2 and the threshold matches
        x = rng.standard_normal(n)
        x = (x - x.mean()) / x.std(ddof=1)  # sd exactly 1 on both sides
        w = compare(x * 0.01, x[::-1] * 0.01 + 0.5)
        assert w.df == pytest.approx(2 * n - 2, rel=1e-9)
        assert resolvable_difference(0.01, n, paired=False) == pytest.approx(w.threshold, rel=1e-9)
    assert resolvable_difference(0.01, 10) < resolvable_difference(0.01, 3)  # more seeds resolve more
    assert math.isnan(resolvable_difference(0.01, 1))


def test_expected_false_calls_and_chance_note():
    assert expected_false_calls(20) == pytest.approx(20 * ALPHA)
    assert expected_false_calls(0) == 0
    assert expected_false_calls(40, alpha=0.01) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        expected_false_calls(-1)
    note = chance_note(30, 5)
    assert note.startswith("5 of 30 comparisons are beyond seed noise")
    assert f"about {expected_false_calls(30):.1f}" in note
    prob = sps.binom.sf(4, 30, ALPHA)  # P(at least 5 of 30 by chance)
    assert f"probability {prob * 100:.0f}%" in note
    assert "more than chance" in note
    assert "no difference at all" in chance_note(20, 1)  # one call in 20 is what chance gives
    assert chance_note(12, 0).startswith("0 of 12")
    with pytest.raises(ValueError):
        chance_note(3, 4)


# --------------------------------------------------------------------------- words

def test_fmt():
    assert Summary(0.871, 0.0026, 3, 0).fmt() == "87.10 ± 0.26%"
    assert Summary(0.871, 0.0, 1, 0).fmt() == "87.10%"
    assert Summary(math.nan, math.nan, 0, 0).fmt() == "n/a"
    assert Summary(0.871, 0.0026, 3, 1).fmt() == "87.10 ± 0.26% (1 of 4 not finite)"
    assert Summary(math.nan, math.nan, 0, 2).fmt() == "n/a (2 of 2 not finite)"
    assert summarise([1.5, 2.5]).fmt(scale=1, digits=3, unit=" s") == "2.000 ± 0.707 s"


def test_sentence_paired_welch_and_beyond_noise():
    seeds = [0, 1, 2, 3, 4]
    a = [0.871, 0.874, 0.869, 0.880, 0.872]
    b = [0.868, 0.870, 0.869, 0.875, 0.873]
    c = compare(a, b, a_seeds=seeds, b_seeds=seeds)
    text = c.sentence("256-256", "128-128")
    assert text == (f"256-256 − 128-128 = {c.diff * 100:+.2f} points (95% CI {c.ci_low * 100:+.2f} to "
                    f"{c.ci_high * 100:+.2f} points), paired over 5 seeds (t-test p = {c.p:.2g}; MDE at "
                    f"80% power {c.mde * 100:.2f} points): **{c.verdict}**; about "
                    f"{int(c.seeds_needed)} seeds would resolve it.")
    w = compare(a, b).sentence("256-256", "128-128")
    assert "5 and 5 seeds, unpaired (Welch t-test p = " in w and "seeds a side would resolve it" in w
    big = compare([0.91, 0.92, 0.915], [0.80, 0.81, 0.805], expect="less", a_seeds=[0, 1, 2],
                  b_seeds=[0, 1, 2])
    assert big.verdict == "refuted"
    assert big.sentence("A", "B", larger="drops more").endswith("**refuted** (A drops more).")
    assert "p < 0.001" in compare([0.91, 0.92, 0.915, 0.93], [0.80, 0.81, 0.805, 0.82]).sentence("A", "B")
    g = compare([1e-4, 2e-4, 1.5e-4], [1e-5, 2e-5, 1.2e-5]).sentence("A", "B", scale=1, unit="",
                                                                      spec=".3g")
    assert "A − B = +0.000136" in g


def test_larger_and_outcome_name_the_larger_side():
    assert compare([1.0, 2.0], [3.0, 4.0]).larger("wide", "narrow") == "narrow"
    assert compare([3.0, 4.0], [1.0, 2.0]).larger("wide", "narrow") == "wide"
    assert compare([1.0, 2.0], [2.0, 1.0]).larger("wide", "narrow") == "neither"
    drop = compare([0.10, 0.11, 0.105], [0.02, 0.03, 0.025])
    assert drop.outcome("noisy", "clean", "drops more") == "noisy drops more beyond seed noise"
    assert compare([0.5, 0.6, 0.5], [0.55, 0.5, 0.52]).outcome("A", "B") == "within seed noise"
    assert compare([0.5, 0.6], [0.55, 0.5]).outcome("A", "B") == "A higher in 2 seeds (too few for a verdict)"
    assert compare([0.9], [0.1]).outcome("A", "B") == "A higher in a single seed (no verdict possible)"


def test_verdicts_without_a_direction():
    clear = compare([0.91, 0.92, 0.915], [0.80, 0.81, 0.805], expect=None)
    assert clear.verdict == "beyond seed noise" and clear.beyond_noise and clear.expect is None
    assert compare([0.80, 0.81, 0.805], [0.91, 0.92, 0.915], expect=None).verdict == "beyond seed noise"
    assert compare([0.5, 0.6, 0.5], [0.55, 0.5, 0.52], expect=None).verdict == "within seed noise"
    assert compare([0.5, 0.6], [0.55, 0.5], expect=None).verdict == "too few seeds"


# --------------------------------------------------------------------------- the module itself

def test_docstring_examples_hold():
    from keras_dyn.stats import comparison, power, summary, text, verdicts

    results = [doctest.testmod(m, optionflags=doctest.ELLIPSIS)
               for m in (stats, comparison, summary, power, text, verdicts)]
    assert sum(r.attempted for r in results) > 10 and sum(r.failed for r in results) == 0


def test_module_needs_neither_tensorflow_nor_matplotlib():
    code = ("import sys, keras_dyn.stats; "
            "print(sorted(m for m in ('tensorflow', 'matplotlib', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__('pathlib').Path(__file__).resolve().parents[1]))
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- issue 21: four verdicts, power, Holm

def test_ci_and_tost_match_scipy_and_statsmodels():
    from statsmodels.stats.weightstats import ttost_ind, ttost_paired

    rng = np.random.default_rng(11)
    for a, b in _hand_picked_pairs() + _random_cases(rng):
        a, b = np.asarray(a), np.asarray(b)
        margin = 0.5 * float(np.std(a - b, ddof=1)) + 1e-6
        seeds = list(range(len(a)))
        c = compare(a, b, a_seeds=seeds, b_seeds=seeds, margin=margin)
        ci = sps.ttest_rel(a, b).confidence_interval(confidence_level=0.95)
        assert (c.ci_low, c.ci_high) == (pytest.approx(ci.low, rel=RTOL), pytest.approx(ci.high, rel=RTOL))
        assert c.p_tost == pytest.approx(ttost_paired(a, b, -margin, margin)[0], rel=RTOL)
        w = compare(a, b, margin=margin)
        ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval(confidence_level=0.95)
        assert (w.ci_low, w.ci_high) == (pytest.approx(ci.low, rel=RTOL), pytest.approx(ci.high, rel=RTOL))
        assert w.p_tost == pytest.approx(ttost_ind(a, b, -margin, margin, usevar="unequal")[0], rel=RTOL)


def test_planted_effect_is_supported():
    rng = np.random.default_rng(12)
    a, b = _random_pairs(rng, 5, effect=0.01, own=0.002)
    seeds = list(range(5))
    c = compare(a, b, a_seeds=seeds, b_seeds=seeds, margin=0.005)
    assert c.verdict == "supported" and c.ci_low > 0 and c.mde < 0.01
    assert compare(a, b, a_seeds=seeds, b_seeds=seeds, expect="less", margin=0.005).verdict == "refuted"


def test_planted_null_with_a_tight_margin_is_equivalent():
    rng = np.random.default_rng(13)
    a, b = _random_pairs(rng, 10, effect=0.0, own=0.0005)
    seeds = list(range(10))
    c = compare(a, b, a_seeds=seeds, b_seeds=seeds, margin=0.002)  # a fifth of a point
    assert c.verdict == "equivalent" and -0.002 < c.ci_low < c.ci_high < 0.002
    assert "**equivalent**" in c.sentence("A", "B") and "TOST |diff| < 0.20 points" in c.sentence("A", "B")
    # the same null, judged against a margin below its resolution, is undecided, not "equivalent"
    assert compare(a, b, a_seeds=seeds, b_seeds=seeds, margin=0.0001).verdict == "undecided"


def test_too_few_seeds_is_undecided_and_the_seeds_needed_have_80_percent_power():
    rng = np.random.default_rng(14)
    a, b = _random_pairs(rng, 3, effect=0.004, own=0.003)
    seeds = [0, 1, 2]
    c = compare(a, b, a_seeds=seeds, b_seeds=seeds, margin=0.002)
    assert c.verdict == "undecided" and 3 < c.seeds_needed < 1000
    assert f"about {int(c.seeds_needed)} seeds would resolve it" in c.sentence("A", "B")
    # the fewer of: seeds for the observed difference, seeds for the margin
    sd = float(np.std(a - b, ddof=1))
    assert c.seeds_needed == min(stats.seeds_needed(c.diff, sd), stats.seeds_needed(0.002, sd))
    # with that many seeds, a true difference of that size is found about 80 % of the time
    n, effect = int(c.seeds_needed), max(abs(c.diff), 0.002)
    d = effect + sd * np.random.default_rng(15).standard_normal((4000, n))
    found = np.mean(sps.ttest_1samp(d, 0.0, axis=1).pvalue < ALPHA)
    assert 0.77 < found < 0.9, found


def test_mde_is_the_difference_found_80_percent_of_the_time():
    rng = np.random.default_rng(16)
    for n in (3, 5, 10):
        m = stats.mde(0.01, n)
        d = m + 0.01 * rng.standard_normal((4000, n))
        assert abs(np.mean(sps.ttest_1samp(d, 0.0, axis=1).pvalue < ALPHA) - 0.8) < 0.03, n
        m = stats.mde(0.01, n, paired=False)
        x, y = m + 0.01 * rng.standard_normal((4000, n)), 0.01 * rng.standard_normal((4000, n))
        assert abs(np.mean(sps.ttest_ind(x, y, axis=1).pvalue < ALPHA) - 0.8) < 0.03, n
    assert math.isnan(stats.mde(0.01, 1)) and stats.mde(0.0, 5) == 0.0


def test_holm_matches_statsmodels_and_the_family_verdict_uses_the_adjusted_p():
    import dataclasses

    from statsmodels.stats.multitest import multipletests

    ps = [0.01, 0.04, 0.03, 0.2]
    assert stats.holm(ps) == pytest.approx(list(multipletests(ps, method="holm")[1]), rel=RTOL)
    c = compare([0.91, 0.925, 0.915, 0.93], [0.80, 0.81, 0.807, 0.82], a_seeds=[0, 1, 2, 3],
                b_seeds=[0, 1, 2, 3], margin=0.01)
    family = {"H1": dataclasses.replace(c, p=0.02), "H2": dataclasses.replace(c, p=0.03),
              "H3": dataclasses.replace(c, p=0.5), "H4": compare([0.9], [0.8])}  # H4: no p, not counted
    alone = {h: stats.verdict(x.sign, x.p, x.p_tost, x.n_seeds, x.expect) for h, x in family.items()}
    assert alone == {"H1": "supported", "H2": "supported", "H3": "undecided", "H4": "undecided"}
    judged = stats.judge_family(family)
    assert judged["H1"].p_adj == pytest.approx(0.06) and judged["H2"].p_adj == pytest.approx(0.06)
    assert {h: j.verdict for h, j in judged.items()} == {h: "undecided" for h in family}
    assert judged["H1"].family == 3 and math.isnan(judged["H4"].p_adj)
    text = judged["H1"].sentence("A", "B")
    assert "t-test p = 0.02, Holm-adjusted over 3 hypotheses p = 0.06" in text
    assert "Holm" not in c.sentence("A", "B")  # alone, a family of one: nothing to adjust


def test_margin_defaults_and_checks():
    assert stats.default_margin("percent") == 0.01 and stats.default_margin("epochs") == 1.0
    assert stats.resolve_margin("10%", 2.0, -4.0) == pytest.approx(0.3)
    for bad in (0, -1, math.inf, "10", "x%", True):
        with pytest.raises(ValueError):
            stats.check_margin(bad)
    with pytest.raises(ValueError, match="metric kind"):
        stats.default_margin("weird")
    with pytest.raises(ValueError):
        compare([1, 2, 3], [1, 2, 3], margin=-0.1)


# --------------------------------------------------------------------------- censored thresholds

def test_censored_values_are_compared_by_a_sign_test_on_the_paired_orderings():
    inf = math.inf
    a = [2.0, 3.0, inf, 2.0, 4.0, 3.0, inf]  # epochs to reach a threshold; inf: never
    b = [4.0, 5.0, inf, 3.0, inf, 6.0, 5.0]
    seeds = list(range(7))
    c = compare(a, b, a_seeds=seeds, b_seeds=seeds, expect="less", censored=True, margin=1.0)
    assert c.test == "sign test" and c.order == (1, 5, 1)  # A above B in seed 6, tied in seed 2
    assert c.p == pytest.approx(sps.binomtest(1, 6).pvalue, rel=RTOL)
    assert c.sign < 0 and math.isnan(c.p_tost) and c.seeds_needed == 6
    assert (c.a.n, c.a.n_censored, c.a.n_missing) == (5, 2, 0)
    text = c.sentence("A", "B", scale=1, unit=" epochs", never="never within 10 epochs")
    assert "never within 10 epochs counts as the largest value" in text and "sign test p = " in text
    # the same values without censoring: +inf is not finite, those seeds are dropped
    plain = compare(a, b, a_seeds=seeds, b_seeds=seeds, expect="less")
    assert plain.test == "paired t-test" and plain.dropped_seeds == (2, 4, 6)


def test_censored_values_unpaired_are_compared_by_mann_whitney():
    inf = math.inf
    a, b = [2.0, 3.0, 2.0, 4.0, 3.0], [4.0, inf, 5.0, inf, 6.0, 5.0]
    c = compare(a, b, expect="less", censored=True)
    ref = sps.mannwhitneyu(a, [4.0, 7.0, 5.0, 7.0, 6.0, 5.0], alternative="two-sided")
    assert c.test == "Mann–Whitney U" and c.p == pytest.approx(ref.pvalue, rel=RTOL)
    assert c.order[0] == ref.statistic and c.verdict == "supported"
    # no censored value: the t-test as usual
    assert compare([2.0, 3.0, 2.0], [4.0, 5.0, 6.0], censored=True).test == "Welch t-test"


def test_censored_summary_reads_never_not_not_finite():
    s = summarise([math.inf, math.inf], censored=True)
    assert (s.n, s.n_censored, s.n_missing) == (0, 2, 0)
    assert s.fmt(scale=1, digits=1, unit="", never="never within 3 epochs") == "never within 3 epochs (2 of 2)"
    s = summarise([2.0, math.inf, math.nan], censored=True)
    assert s.fmt(scale=1, digits=1, unit="", never="never within 3 epochs") == \
        "2.0 (1 of 3 never within 3 epochs; 1 of 3 not finite)"
    assert summarise([math.inf]).fmt() == "n/a (1 of 1 not finite)"  # not censored: missing
