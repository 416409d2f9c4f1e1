"""Numbers over seeds: mean ± sd, and the one rule for comparing two sides of a lab.

Every comparison in every lab log goes through :func:`compare`, and a lab's hypotheses are judged
together by :func:`judge_family`; this docstring is the project's single statement of the rule.
(numpy, ``scipy.stats`` and ``statsmodels`` only: no TensorFlow, no matplotlib.)

**Summaries.** A side's values (one per seed) are summarised as mean ± sample sd (``ddof=1``;
sd 0 for one value, NaN for none). Non-finite values (NaN, ±inf: a diverged run, a metric not
measured) and ``None`` are never averaged and never silently dropped: they are left out of the
mean and sd, counted in ``n_missing`` and named (by seed, else by position) in ``missing``.
For a *censored* metric (epochs or CPU seconds until a threshold is reached: ``first_epoch``,
``cpu_seconds_to``) +inf means "never reached": it is counted in ``n_censored``, shown as "never
within N epochs", and kept in the comparison as a value above every reached one.

**Which test** (:func:`compare`).

* *Paired t-test* (``scipy.stats.ttest_rel``) when both sides name their seeds and ran the same
  set of seeds: values are matched by seed, a seed where either side is not finite is dropped
  (named in ``dropped_seeds``), and the test runs on ``d_s = A_s − B_s`` (same seed, same data
  order and initial state: most seed-to-seed spread cancels in ``d_s``).
* *Welch's t-test* (``scipy.stats.ttest_ind(equal_var=False)``) otherwise.
* *Rank tests* when a censored value ("never reached") is among the values compared: a *sign
  test* on the paired orderings (``scipy.stats.binomtest`` on how many seeds have A above B
  against A below B; ties left out), or *Mann–Whitney U* unpaired (``scipy.stats.mannwhitneyu``,
  every censored value tied above every reached one). They give no CI, TOST or MDE; a sign test
  needs at least 6 agreeing seeds to reach p < 0.05.

Each t-test gives the difference, its (1 − α) confidence interval (``confidence_interval``), a
two-sided ``p``, and, given a margin, the p of a *two one-sided test* (TOST, ``statsmodels``
``ttost_paired`` / ``ttost_ind(usevar="unequal")``) that ``−margin < difference < margin``.
``MDE`` is the minimum detectable difference: the true difference called beyond noise with 80 %
power at α for these seeds and this spread (``statsmodels.stats.power.TTestPower`` paired, on the
sd of ``d_s``; ``TTestIndPower`` unpaired, on the pooled sd). ``seeds_needed`` is the fewer of
the seeds that would give 80 % power for the observed difference and for a difference the size
of the margin (at this spread; at least 3): resolving the margin is what lets the equivalence
test decide a small difference. Judged in a family of k hypotheses, both are stated at α / k (the
strictest Holm step), since that is what a verdict there needs. Where the seeds needed come out no
more than the seeds run (a difference at the edge of what they resolve) the log says "a few more
than the N seeds run".

**Margins.** Every comparison hypothesis has a ``margin``: the smallest difference that matters,
in the metric's stored units (a fraction for accuracies: 0.01 is 1 point), or a string "N%":
N % of the mean magnitude of the two sides, ``(|mean A| + |mean B|) / 2``. Defaults by the
metric's kind (``Metric.kind``): accuracies and fractions (``percent``) 0.01 (1 point); losses
0.01; epoch counts 1 epoch; everything else (norms, ratios, times, counts) "10%". A lab file
checks a given margin at ``check`` (a number > 0, below 1 for a percent metric, or "N%").

**Multiplicity.** A lab's comparison hypotheses are one family: their difference p-values are
adjusted by Holm–Bonferroni (``statsmodels`` ``multipletests(method="holm")``), and so,
separately, are their TOST p-values (:func:`judge_family`). Verdicts use the adjusted values;
the log prints both. (Bound hypotheses, ``expect = "below"``, are checked run by run and are not
in the family.) Sections that make many exploratory comparisons do not adjust; they say how many
"beyond noise" calls chance alone would give (:func:`chance_note`).

**The four verdicts** (:func:`verdict`, on the adjusted p-values, α = 0.05):

1. fewer than 3 seeds (pairs, or on the smaller side) → **undecided**, whatever the p: one or two
   seeds cannot estimate their own spread;
2. TOST p < α → **equivalent** (|difference| < margin, beyond seed noise);
3. p < α → **supported** if the difference has the expected sign (``expect="greater"``: A > B;
   ``"less"``: A < B), else **refuted**;
4. otherwise **undecided**, and the log says how many seeds would decide it.

**Three more kinds of hypothesis** end in the same four verdicts, each with one p (and one TOST p
where it has a margin) in the lab's Holm family, and a CI and MDE in its line:

* *argmax* (:mod:`keras_dyn.stats.argmax`): the named setting of a grid key against each other
  setting by :func:`compare`, read one-sided; supported when every other setting is beyond noise
  worse (p = the largest one-sided p: an intersection–union test), refuted when one is beyond
  noise better (p = the smallest, Holm over the k − 1 pairs), otherwise undecided naming the settings within noise of the best
  mean; never "equivalent".
* *trend* (:mod:`keras_dyn.stats.trends`): Page's L (seeds shared by every level) or Spearman's ρ,
  two-sided; its size is the fitted change from the lowest level to the highest, whose CI, TOST
  against the margin, MDE and seeds needed come from :func:`compare` of the per-seed changes
  against 0 (``scipy.stats.linregress`` when unpaired).
* *interaction* (:func:`keras_dyn.stats.trends.interaction`): ``(A1 − B1) − (A2 − B2)`` as
  :func:`compare` of the per-seed differences ``A1 − B1`` against ``A2 − B2``, paired by seed.

Without a direction (``expect=None``) the words are **beyond seed noise**, **equivalent**,
**within seed noise** and **too few seeds**. No usable value on a side gives **no data**.

**No spread.** When the standard error is zero (or within rounding of zero: every per-seed
difference equal, or both sides constant) a t-test has nothing to divide by, so it cannot decide
on its own: the difference is judged against the margin (``|diff| < margin`` ⇒ TOST p = 0,
otherwise p = 1; a nonzero difference has t-test p = 0), and with fewer than 3 seeds the verdict
is at most undecided. Without a margin a nonzero difference is beyond noise (a deterministic
quantity such as the parameter count); the MDE of no spread is 0 and is not printed.

Example:
    >>> c = compare([0.871, 0.874, 0.869], [0.866, 0.870, 0.864], a_seeds=[0, 1, 2],
    ...             b_seeds=[0, 1, 2])
    >>> c.test, c.verdict
    ('paired t-test', 'supported')
    >>> compare([0.802, 0.790], [0.800, 0.788], a_seeds=[0, 1], b_seeds=[0, 1], margin=0.01).verdict
    'undecided'
    >>> summarise([0.871, float("nan"), 0.869]).fmt()
    '87.00 ± 0.14% (1 of 3 not finite)'

The package: :mod:`keras_dyn.stats.summary` (mean ± sd over seeds), :mod:`keras_dyn.stats.comparison`
(the comparison), :mod:`keras_dyn.stats.verdicts` (margins, Holm, the four verdicts),
:mod:`keras_dyn.stats.power` (MDE, seeds needed, multiplicity notes), :mod:`keras_dyn.stats.argmax`
and :mod:`keras_dyn.stats.trends` (the argmax, trend and interaction hypotheses) and
:mod:`keras_dyn.stats.text` (how a comparison reads in a log).
"""

from keras_dyn.stats.argmax import Argmax, argmax_test, one_sided
from keras_dyn.stats.comparison import Comparison, compare
from keras_dyn.stats.power import (chance_note, expected_false_calls, mde, resolvable_difference, seeds_needed,
                                   t_critical)
from keras_dyn.stats.summary import Summary, summarise
from keras_dyn.stats.trends import Trend, interaction, trend_test
from keras_dyn.stats.verdicts import (ALPHA, BEYOND_VERDICTS, MARGIN_DEFAULTS, MIN_SEEDS, POWER, RULE_SHORT, VERDICTS,
                                      check_margin, default_margin, holm, judge_family, resolve_margin, verdict)

__all__ = ["ALPHA", "BEYOND_VERDICTS", "MARGIN_DEFAULTS", "MIN_SEEDS", "POWER", "RULE_SHORT", "VERDICTS",
           "Argmax", "Comparison", "Summary", "Trend", "argmax_test", "chance_note", "interaction", "one_sided",
           "trend_test", "check_margin", "compare", "default_margin",
           "expected_false_calls", "holm", "judge_family", "mde", "resolvable_difference", "resolve_margin",
           "seeds_needed", "summarise", "t_critical", "verdict"]
