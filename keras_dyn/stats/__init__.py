"""Numbers over seeds: mean ± sd, and the one rule for comparing two sides of a lab.

Every comparison in every lab log goes through :func:`compare`; this docstring is the project's
single statement of the rule. (numpy and ``scipy.stats`` only: no TensorFlow, no matplotlib.)

**Summaries.** A side's values (one per seed) are summarised as mean ± sample sd (``ddof=1``;
sd 0 for one value, NaN for none). Non-finite values (NaN, ±inf: a diverged run, a metric not
measured) and ``None`` are never averaged and never silently dropped: they are left out of the
mean and sd, counted in ``n_missing`` and named (by seed, else by position) in ``missing``.

**Which test.**

* *Paired t-test* when both sides name their seeds (``a_seeds``, ``b_seeds``) and ran the same
  set of seeds. Values are matched by seed (not by position); a seed where either side is
  non-finite is dropped from the pairs (and named in ``dropped_seeds``). The test runs on the
  per-seed differences ``d_s = A_s − B_s``: ``diff = mean(d)``, ``se = sd(d) / √n``,
  ``df = n − 1``. Runs with the same seed share their data order and initial state, so most of
  the seed-to-seed spread is common to both sides and cancels in ``d_s``: pairing is the honest
  test for such runs, and the more powerful one.
* *Welch's t-test* otherwise (the seed sets differ, or no seeds are given), on the finite values
  of each side: ``diff = mean(A) − mean(B)``, ``se = √(sd_A²/n_A + sd_B²/n_B)``, ``df`` by
  Welch–Satterthwaite, ``(sd_A²/n_A + sd_B²/n_B)² / ((sd_A²/n_A)²/(n_A−1) + (sd_B²/n_B)²/(n_B−1))``.

``t = diff / se``; ``p`` is two-sided, ``2 · P(T_df > |t|)``. (t, df and se are computed here
with numpy; ``scipy.stats.t`` gives only the distribution. The tests check t and p against
``scipy.stats.ttest_rel`` and ``ttest_ind(equal_var=False)`` on the same numbers.)

**Beyond seed noise** ⇔ ``p < α`` (``ALPHA = 0.05``, two-sided) ⇔ ``|diff| > threshold``, where
``threshold = t_{1−α/2, df} · se`` is the smallest difference this comparison would call beyond
noise. With an expected direction (``expect="greater"``: the hypothesis is A > B; ``"less"``:
A < B) a difference beyond noise in that direction is **supported**, in the other direction
**refuted**; anything else is **within seed noise**. Without a direction (``expect=None``) the
verdict is **beyond seed noise** or **within seed noise**.

**A single seed** — fewer than 2 finite values on a side (Welch), or fewer than 2 finite pairs
(paired) — has no spread to compare with: the verdict is at most **suggests** (the sign of
``diff`` agrees with ``expect``) or **suggests not** (it does not, or ``diff == 0``), or
**single seed** without a direction; ``threshold``, ``se``, ``t``, ``p`` and ``df`` are NaN.
No finite value on a side (or no finite pair) gives **no data**.

**No spread** (``se == 0``: every per-seed difference equal, or both sides constant): a zero
difference is within noise (``t = 0``, ``p = 1``), a nonzero one is beyond noise
(``t = ±inf``, ``p = 0``); ``threshold`` is 0. Where the Welch–Satterthwaite ``df`` is 0/0 it is
reported as ``n_A + n_B − 2``; it does not enter the verdict.

**Many comparisons.** α holds per comparison: among ``k`` comparisons where nothing differs,
chance alone calls about ``k · α`` of them beyond noise (:func:`expected_false_calls`). A
section that makes many comparisons says so (:func:`chance_note`). The smallest difference a
number of seeds with a given spread can resolve is :func:`resolvable_difference`.

Example:
    >>> c = compare([0.871, 0.874, 0.869], [0.866, 0.870, 0.864], a_seeds=[0, 1, 2],
    ...             b_seeds=[0, 1, 2])
    >>> c.test, c.verdict
    ('paired t-test', 'supported')
    >>> summarise([0.871, float("nan"), 0.869]).fmt()
    '87.00 ± 0.14% (1 of 3 not finite)'

The package: :mod:`keras_dyn.stats.summary` (mean ± sd over seeds) and
:mod:`keras_dyn.stats.comparison` (the comparison, resolution, multiplicity notes).
"""

from keras_dyn.stats.comparison import (ALPHA, BEYOND_VERDICTS, RULE_SHORT, Comparison, chance_note, compare,
                                     expected_false_calls, resolvable_difference, t_critical)
from keras_dyn.stats.summary import Summary, summarise

__all__ = ["ALPHA", "BEYOND_VERDICTS", "RULE_SHORT", "Comparison", "chance_note", "compare",
           "expected_false_calls", "resolvable_difference", "t_critical", "Summary", "summarise"]
