"""How a :class:`keras_dyn.stats.Comparison` reads in a log: the verdict sentence (difference, CI, p raw and Holm-adjusted, TOST, MDE, seeds needed) and the short table cell. The rule is stated once, in :mod:`keras_dyn.stats`.
"""

from __future__ import annotations

import math

from keras_dyn.stats.verdicts import BEYOND_VERDICTS, MIN_SEEDS, POWER


def p_text(p: float) -> str:
    """``"p = 0.21"``, ``"p < 0.001"``; ``"p n/a"`` for NaN.

    Example:
        >>> p_text(0.0004), p_text(0.213)
        ('p < 0.001', 'p = 0.21')
    """
    if not math.isfinite(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def seeds_text(n: float, paired: bool = True, ran: int = 0) -> str:
    """The seeds needed in words: ``"about 12 seeds"``, ``"more than 10,000 seeds"``; no more
    than the ``ran`` seeds already run (the difference sits at the edge of what they resolve)
    reads as more than those.

    Example:
        >>> seeds_text(12.0), seeds_text(float("inf")), seeds_text(5.0, paired=False), seeds_text(4.0, ran=5)
        ('about 12 seeds', 'more than 10,000 seeds', 'about 5 seeds a side', 'a few more than the 5 seeds run')
    """
    side = "" if paired else " a side"
    if math.isnan(n):
        return "an unknown number of seeds (no spread to go on)"
    if math.isinf(n):
        return f"more than 10,000 seeds{side}"
    if n <= ran:
        return f"a few more than the {ran} seeds{side} run"
    return f"about {int(n):,} seeds{side}"


def seed_list(seeds) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def outcome(c, a_name: str, b_name: str, larger: str = "higher") -> str:
    """A table cell naming the larger side (see :meth:`Comparison.outcome`)."""
    if c.verdict == "no data":
        return "no data"
    side = c.larger(a_name, b_name)
    if c.test == "single seed":
        if side == "neither":
            return "equal in a single seed (no verdict possible)"
        return f"{side} {larger} in a single seed (no verdict possible)"
    if c.n_seeds < MIN_SEEDS:
        return f"{'equal' if side == 'neither' else f'{side} {larger}'} in {c.n_seeds} seeds (too few for a verdict)"
    if c.verdict == "equivalent":
        return "equivalent within the margin"
    if not c.beyond_noise:
        return "within seed noise"
    return f"{side} {larger} beyond seed noise"


def _dropped(c, a_name: str, b_name: str) -> str:
    if c.paired:
        return f"{seed_list(c.dropped_seeds)} dropped, not finite on a side" if c.dropped_seeds else ""
    gone = [f"{s.n_missing} of {name} not finite" for name, s in ((a_name, c.a), (b_name, c.b)) if s.n_missing]
    return ", ".join(gone)


def _p_pair(c, p: float, p_adj: float, what: str) -> str:
    """``"t-test p = 0.02, Holm-adjusted over 3 hypotheses p = 0.06"`` (the adjusted part only
    in a family)."""
    text = f"{what} {p_text(p)}"
    if c.family > 1 and math.isfinite(p_adj):
        text += f", Holm-adjusted over {c.family} hypotheses {p_text(p_adj)}"
    return text


def sentence(c, a_name, b_name, scale=100.0, unit=" points", larger="higher", spec=".2f",
             never="never reached") -> str:
    """The verdict sentence of a comparison, in the metric's units.

    Args:
        c: the comparison. a_name, b_name: the sides' names. scale, unit, spec: how numbers read
            (100, " points", ".2f" for fractions shown as points). larger: what a larger value
            means. never: what a censored value is called ("never within 10 epochs").

    Example:
        >>> from keras_dyn.stats import compare
        >>> print(compare([0.81, 0.80, 0.82], [0.80, 0.80, 0.81], a_seeds=[0, 1, 2],
        ...               b_seeds=[0, 1, 2], margin=0.02).sentence("A", "B"))  # doctest: +ELLIPSIS
        A − B = +0.67 points (95% CI -0.77 to +2.10 points), paired over 3 seeds (t-test p = 0.18; ... **equivalent** ...
    """
    def num(x, sign=""):
        return f"{x * scale:{sign}{spec}}{unit}"

    head = f"{a_name} − {b_name}"
    dropped = _dropped(c, a_name, b_name)
    if c.verdict == "no data":
        gone = [f"{name}: {s.n_missing} of {s.n_all} not finite"
                for name, s in ((a_name, c.a), (b_name, c.b)) if s.n_missing]
        if c.paired and c.dropped_seeds:
            gone.append(f"no seed finite on both sides ({seed_list(c.dropped_seeds)})")
        return f"{head}: no data{' (' + '; '.join(gone) + ')' if gone else ''}: **no data**."
    if c.test == "single seed":
        side = c.larger(a_name, b_name)
        where = "equal in that seed" if side == "neither" else f"{side} {larger} in that seed"
        return (f"{head} = {num(c.diff, '+')} from a single seed ({where}{'; ' + dropped if dropped else ''}): "
                f"**{c.verdict}**; one seed has no spread to compare with, so nothing can be resolved.")
    if c.rank_test:
        return _rank_sentence(c, head, a_name, b_name, num, larger, never, dropped)
    how = f"paired over {c.n_pairs} seeds" if c.paired else f"{c.a.n} and {c.b.n} seeds, unpaired"
    level = f"{1 - c.alpha:.0%}"
    test = "t-test" if c.paired else "Welch t-test"
    if c.se == 0:
        parts = [f"{test}: no spread over seeds, so the difference is judged against the margin alone"
                 if math.isfinite(c.margin) else f"{test}: no spread over seeds and no margin"]
    else:
        parts = [_p_pair(c, c.p, c.p_adj, test)]
    if math.isfinite(c.margin):
        parts.append(_p_pair(c, c.p_tost, c.p_tost_adj, f"TOST |diff| < {num(c.margin)}"))
    if c.se > 0 and math.isfinite(c.mde):
        parts.append(f"MDE at {POWER:.0%} power {num(c.mde)}")
    if dropped:
        parts.insert(0, dropped)
    ci = f"{c.ci_low * scale:+{spec}} to {num(c.ci_high, '+')}"
    text = f"{head} = {num(c.diff, '+')} ({level} CI {ci}), {how} ({'; '.join(parts)}): **{c.verdict}**"
    return text + _tail(c, a_name, b_name, larger)


def _tail(c, a_name, b_name, larger) -> str:
    if c.verdict in BEYOND_VERDICTS:
        return f" ({c.larger(a_name, b_name)} {larger})."
    if c.verdict == "equivalent":
        return " (|diff| < margin, beyond seed noise)."
    if c.n_seeds < MIN_SEEDS:
        need = f"at least {MIN_SEEDS}"
        if c.se > 0 and c.seeds_needed > MIN_SEEDS:
            need += f" (at this spread, {seeds_text(c.seeds_needed, c.paired).replace(' seeds', '')})"
        return f"; fewer than {MIN_SEEDS} seeds a side decide nothing: {need} seeds needed."
    if c.verdict in ("undecided", "within seed noise"):
        return f"; {seeds_text(c.seeds_needed, c.paired, c.n_seeds)} would resolve it."
    return "."


def _rank_sentence(c, head, a_name, b_name, num, larger, never, dropped) -> str:
    if c.test == "sign test":
        above, below, ties = c.order
        what = (f"{a_name} {larger} in {above} of {c.n_pairs} seeds, {b_name} in {below}, tied in "
                f"{ties} ({never} counts as the largest value)")
    else:
        what = (f"Mann–Whitney U = {c.order[0]:g} of {c.order[0] + c.order[1]:g} for {a_name} above "
                f"{b_name}, {c.a.n + c.a.n_censored} and {c.b.n + c.b.n_censored} seeds, unpaired "
                f"({never} counts as the largest value)")
    diff = f"median difference {num(c.diff, '+')}" if math.isfinite(c.diff) else "median difference n/a"
    parts = [p for p in (dropped, _p_pair(c, c.p, c.p_adj, c.test)) if p]
    text = f"{head}: {what}; {diff} ({'; '.join(parts)}): **{c.verdict}**"
    if c.verdict in BEYOND_VERDICTS:
        return text + f" ({c.larger(a_name, b_name)} {larger})."
    if c.test == "sign test" and c.verdict in ("undecided", "within seed noise"):
        return text + f"; a sign test needs at least {int(c.seeds_needed)} seeds that all agree."
    return text + "."
