"""Numbers over seeds: mean ± sd, and comparisons that respect seed noise.

The verdict rule (used by every lab):

* with at least two seeds on each side, a difference ``d = mean(A) - mean(B)`` counts only if
  it is larger than two standard errors of the difference, ``2 * sqrt(sd_A²/n_A + sd_B²/n_B)``,
  and larger than the seed spread itself, ``max(sd_A, sd_B)``; otherwise it is "within seed noise";
* with a single seed on either side there is no spread to compare with: the verdict can only be
  "suggests" (or "suggests not"), never "supported" or "refuted".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import mean, stdev


@dataclass(frozen=True)
class Summary:
    mean: float
    sd: float  # sample standard deviation (n - 1); 0 for one value
    n: int

    def fmt(self, scale=100.0, digits=2, unit="%") -> str:
        if self.n == 0:
            return "n/a"
        text = f"{self.mean * scale:.{digits}f}"
        if self.n > 1:
            text += f" ± {self.sd * scale:.{digits}f}"
        return text + unit


def summarise(values) -> Summary:
    values = [float(v) for v in values]
    if not values:
        return Summary(math.nan, math.nan, 0)
    return Summary(mean(values), stdev(values) if len(values) > 1 else 0.0, len(values))


@dataclass(frozen=True)
class Comparison:
    a: Summary
    b: Summary
    diff: float
    threshold: float  # what the difference has to exceed; nan with a single seed
    verdict: str  # "supported", "refuted", "within seed noise", "suggests", "suggests not"

    def outcome(self, a_name: str, b_name: str, larger: str = "ahead") -> str:
        """Which side has the larger value, in words that do not depend on the hypothesis's
        direction. ``larger`` says what a larger value means ("ahead" for an accuracy; for a
        loss or a drop in accuracy, say "drops more")."""
        if self.verdict == "within seed noise":
            return "within seed noise"
        side = a_name if self.diff > 0 else b_name
        if self.verdict in ("suggests", "suggests not"):
            return f"{side} {larger} in a single seed (no verdict possible)"
        return f"{side} {larger} beyond seed noise"

    def sentence(self, a_name: str, b_name: str, scale=100.0, unit=" points", verdict=True,
                 larger: str = "ahead") -> str:
        """One line with the difference, the threshold and either the verdict or which side is
        larger (see :meth:`outcome`)."""
        d = f"{self.diff * scale:+.2f}{unit}"
        word = self.verdict if verdict else self.outcome(a_name, b_name, larger)
        if self.a.n < 2 or self.b.n < 2:
            return (f"{a_name} − {b_name} = {d} from a single seed: **{word}**; one seed cannot "
                    f"separate a difference from seed noise.")
        return (f"{a_name} − {b_name} = {d} over {self.a.n} and {self.b.n} seeds; a difference "
                f"must exceed {self.threshold * scale:.2f}{unit} (2 standard errors and the seed "
                f"spread) to count: **{word}**.")


def compare(a_values, b_values, *, expect="greater") -> Comparison:
    """Compare A against B for the hypothesis "A > B" (``expect="greater"``) or "A < B"."""
    a, b = summarise(a_values), summarise(b_values)
    diff = a.mean - b.mean
    signed = diff if expect == "greater" else -diff
    if a.n < 2 or b.n < 2:
        return Comparison(a, b, diff, math.nan, "suggests" if signed > 0 else "suggests not")
    se = math.sqrt(a.sd ** 2 / a.n + b.sd ** 2 / b.n)
    threshold = max(2 * se, a.sd, b.sd)
    if abs(diff) <= threshold:
        verdict = "within seed noise"
    else:
        verdict = "supported" if signed > 0 else "refuted"
    return Comparison(a, b, diff, threshold, verdict)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
