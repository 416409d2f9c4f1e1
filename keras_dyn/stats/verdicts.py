"""The verdict rule: the four verdicts, margins per metric kind, and Holm–Bonferroni over a lab's hypotheses (:func:`verdict`, :func:`default_margin`, :func:`judge_family`). The rule is stated once, in :mod:`keras_dyn.stats`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np
from statsmodels.stats.multitest import multipletests

ALPHA = 0.05  # two-sided level of the difference test; each one-sided test of TOST uses it too
POWER = 0.8  # power at which the minimum detectable difference and the seeds needed are stated
MIN_SEEDS = 3  # fewer seeds (pairs, or on a side) than this decide nothing: at most "undecided"

VERDICTS = ("supported", "refuted", "equivalent", "undecided")
BEYOND_VERDICTS = ("supported", "refuted", "beyond seed noise")

# Margin defaults per metric kind (what Metric.kind says; keras_dyn.report.metrics).
# A number is absolute, in the metric's stored units; a string "N%" is relative to the mean
# magnitude of the two sides, (|mean A| + |mean B|) / 2.
MARGIN_DEFAULTS = {
    "percent": 0.01,   # accuracies and fractions: 1 point
    "loss": 0.01,      # cross-entropy losses (nats)
    "epochs": 1.0,     # epoch counts (first epoch reaching a threshold, best epoch): one epoch
    "ratio": "10%",    # norms, ratios, times, counts: 10 % of the sides' mean magnitude
}

RULE_SHORT = (f"The rule (keras_dyn.stats): a paired t-test on the per-seed differences when both sides "
              f"ran the same seeds, Welch's t-test otherwise (a sign test / Mann–Whitney U when a "
              f"threshold was never reached); equivalence by TOST against the hypothesis's margin; "
              f"p-values adjusted by Holm–Bonferroni over the lab's hypotheses, each verdict at "
              f"α = {ALPHA} on the adjusted p; fewer than {MIN_SEEDS} seeds a side is at most "
              f"\"undecided\"; MDE at {POWER:.0%} power.")


def default_margin(kind: str):
    """The margin a hypothesis gets when it names none, for a metric kind.

    Args:
        kind: "percent", "loss", "epochs" or "ratio" (``Metric.kind``).

    Returns:
        A float (absolute, in the metric's stored units) or a string "N%" (relative).

    Example:
        >>> default_margin("percent"), default_margin("ratio")
        (0.01, '10%')
    """
    if kind not in MARGIN_DEFAULTS:
        raise ValueError(f"unknown metric kind {kind!r}; known: {', '.join(MARGIN_DEFAULTS)}")
    return MARGIN_DEFAULTS[kind]


def check_margin(margin) -> float | str:
    """A margin as given in a lab file: a finite number > 0, or a string "N%" with 0 < N.

    Raises:
        ValueError: anything else (the message says what is allowed).

    Example:
        >>> check_margin(0.02), check_margin("5%")
        (0.02, '5%')
    """
    if isinstance(margin, str):
        text = margin.strip()
        try:
            value = float(text[:-1]) if text.endswith("%") else math.nan
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"a relative margin is a string like \"10%\", not {margin!r}")
        return text
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) \
            or margin <= 0:
        raise ValueError(f"must be a number > 0 (in the metric's units) or a string like \"10%\", "
                         f"not {margin!r}")
    return float(margin)


def resolve_margin(margin, a_mean: float, b_mean: float) -> float:
    """An absolute margin: a number as it is; "N%" as N/100 of ``(|a_mean| + |b_mean|) / 2``
    (NaN when a mean is not finite); None as NaN (no equivalence test).

    Example:
        >>> round(resolve_margin("10%", 2.0, 4.0), 6)
        0.3
    """
    if margin is None:
        return math.nan
    if isinstance(margin, str):
        ref = (abs(a_mean) + abs(b_mean)) / 2.0
        return float(margin.strip()[:-1]) / 100.0 * ref if math.isfinite(ref) else math.nan
    return float(margin)


def verdict(sign: float, p: float, p_tost: float, n: int, expect: str | None,
            alpha: float = ALPHA) -> str:
    """The one mapping from test results to a verdict (rule: :mod:`keras_dyn.stats`).

    Args:
        sign: the direction of the difference A − B (> 0, < 0 or 0).
        p: two-sided p of the difference test (adjusted, when in a family); NaN for none.
        p_tost: p of the equivalence test (adjusted); NaN when there is no margin.
        n: seeds behind the comparison (pairs, or the smaller side); 0 is "no data".
        expect: "greater" (A > B), "less" (A < B) or None (no direction).

    Returns:
        With ``expect``: "supported", "refuted", "equivalent", "undecided" or "no data";
        without: "beyond seed noise", "equivalent", "within seed noise", "too few seeds" or
        "no data".

    Example:
        >>> verdict(+1, 0.001, float("nan"), 5, "greater"), verdict(+1, 0.001, 0.2, 2, "greater")
        ('supported', 'undecided')
    """
    if n == 0:
        return "no data"
    if n < MIN_SEEDS:
        return "undecided" if expect else "too few seeds"
    if p_tost < alpha:
        return "equivalent"
    if p < alpha and sign != 0:
        if expect is None:
            return "beyond seed noise"
        wanted = 1.0 if expect == "greater" else -1.0
        return "supported" if sign * wanted > 0 else "refuted"
    return "undecided" if expect else "within seed noise"


def holm(pvalues) -> list[float]:
    """Holm–Bonferroni adjusted p-values (``statsmodels`` ``multipletests(method="holm")``);
    NaN entries stay NaN and are not counted in the family.

    Example:
        >>> [round(p, 3) for p in holm([0.01, 0.04, float("nan"), 0.03])]
        [0.03, 0.06, nan, 0.06]
    """
    p = np.asarray(list(pvalues), dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return [float(x) for x in out]


def judge_family(comparisons: Mapping[str, object], alpha: float = ALPHA) -> dict:
    """A lab's comparisons judged together: Holm over the family's difference p-values, Holm
    (separately) over their TOST p-values, and the verdict from the adjusted values. MDE and
    seeds needed are then stated at α / family (the strictest Holm step).

    Args:
        comparisons: id → :class:`keras_dyn.stats.Comparison` (the lab's comparison hypotheses), or
            an argmax or trend result (:mod:`keras_dyn.stats.argmax`, :mod:`keras_dyn.stats.trends`:
            any frozen dataclass with ``p``, ``p_tost``, ``sign``, ``n_seeds``, ``expect`` and the
            fields set here; its ``direction``, "greater" or "less", is the sign it expects).

    Returns:
        id → the comparison with ``p_adj``, ``p_tost_adj``, ``family`` and ``verdict`` set.

    Example:
        >>> from keras_dyn.stats import compare
        >>> c = compare([0.9, 0.91, 0.92], [0.8, 0.81, 0.83], a_seeds=[0, 1, 2], b_seeds=[0, 1, 2])
        >>> judged = judge_family({"H1": c, "H2": c})
        >>> judged["H1"].p_adj == min(1.0, 2 * c.p), judged["H1"].verdict
        (True, 'supported')
    """
    ids = list(comparisons)
    p_adj = holm(comparisons[i].p for i in ids)
    t_adj = holm(comparisons[i].p_tost for i in ids)
    family = sum(1 for i in ids if math.isfinite(comparisons[i].p))
    out = {}
    for i, pa, ta in zip(ids, p_adj, t_adj):
        c = comparisons[i]
        out[i] = dataclasses.replace(c, p_adj=pa, p_tost_adj=ta, family=family, power_alpha=alpha / max(family, 1),
                                     verdict=verdict(c.sign, pa, ta, c.n_seeds, getattr(c, "direction", c.expect),
                                                     alpha))
    return out
