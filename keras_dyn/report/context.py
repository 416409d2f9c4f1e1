"""What every findings section reads through: :class:`FindingsContext` (the runs grouped by configuration, selectors, values at readings, comparisons through :mod:`keras_dyn.stats`, figures saved in one place) and the small formatting helpers the sections share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from keras_dyn import stats
from keras_dyn.config.names import same_value, short
from keras_dyn.report import metrics as M

STRUCTURAL = {"units", "layers", "hidden"} | {f"units_{i}" for i in range(1, 9)}


VERDICT_COLUMNS = ("id", "statement", "metric", "A", "B", "A_mean", "B_mean", "difference", "ci_low",
                   "ci_high", "p", "p_adjusted", "margin", "verdict")


@dataclass
class Findings:
    """What :func:`keras_dyn.report.findings.build_findings` returns.

    ``markdown``: the generated findings; ``summary``: the machine-readable summary; ``errors``:
    what could not be read; ``verdict_rows``: one dict per hypothesis (keys
    :data:`VERDICT_COLUMNS`; NaN where a number does not apply, e.g. a bound or a hypothesis the
    quick plan cannot test); ``figures``: the PNG files written.
    """

    markdown: str
    summary: dict
    errors: list = field(default_factory=list)
    verdict_rows: list = field(default_factory=list)
    figures: list = field(default_factory=list)

    @property
    def verdicts(self):
        """The verdicts as a pandas DataFrame, one row per hypothesis (columns
        :data:`VERDICT_COLUMNS`: A and B are the sides' names, A_mean and B_mean their means over
        seeds, the CI is ``ci_low``..``ci_high`` of the difference A − B, ``p_adjusted`` is Holm's
        over the lab's comparison hypotheses)."""
        import pandas as pd

        return pd.DataFrame(self.verdict_rows, columns=list(VERDICT_COLUMNS))


class FindingsContext:
    """What a findings section gets: the runs, the lab, where figures go, and the shared readers.

    Args:
        cfg: the experiment config as run (``--quick``/``--seeds`` applied).
        results: every run's results dict (diverged runs included).
        figure_dir: folder for PNGs; ``figure_ref``: how the markdown refers to it.
    """

    def __init__(self, cfg, results, figure_dir, figure_ref=""):
        self.cfg = cfg
        self.lab = cfg.lab
        self.results = list(results)
        self.figure_dir = Path(figure_dir)
        self.figure_ref = figure_ref
        self.quick = bool(getattr(cfg, "quick", False))
        self.notes: list[str] = []

    # -- grouping
    def grid_keys(self, by=None) -> list[str]:
        return list(by) if by else list(self.cfg.swept)

    def point(self, result) -> dict:
        return result["run"].get("point", {}) or {}

    def label(self, result, by=None) -> str:
        """``256-256`` for width/depth keys, ``key=value`` for the others (``all runs`` if none)."""
        keys = self.grid_keys(by)
        point = self.point(result)
        parts = []
        if not keys or STRUCTURAL & set(keys):
            parts.append(arch_label(result["run"]["hidden"]))
        parts += [f"{k}={short(point[k])}" for k in keys if k not in STRUCTURAL and k in point]
        return ", ".join(parts) or "all runs"

    def groups(self, by=None, runs=None) -> dict[str, list[dict]]:
        """Runs grouped by the values of ``by`` (default: every grid and case key), in plan order."""
        out: dict[str, list[dict]] = {}
        for r in (self.results if runs is None else runs):
            out.setdefault(self.label(r, by), []).append(r)
        return out

    def select(self, selector: dict, runs=None) -> list[dict]:
        return [r for r in (self.results if runs is None else runs)
                if all(same_value(self.point(r).get(k), v) for k, v in selector.items())]

    # -- reading values
    def reading(self, at) -> M.Reading:
        if at is None:
            return M.Reading("last")
        return at if isinstance(at, M.Reading) else M.parse_reading(at)

    def value(self, result, metric, params=None, at=None) -> float:
        at = self.reading(at)
        if self.quick and at.kind == "epoch":
            last = len(result.get("epochs", {}).get("epoch", [])) or at.epoch
            if at.epoch > last:
                self.note(f"quick run: readings past epoch {last} are read at epoch {last}")
                at = M.Reading("last")
        try:
            return float(M.value(result, metric, params or {}, at))
        except M.MetricError as exc:
            if self.quick:
                self.note(f"{metric} {at.short}: {exc} (quick run)")
                return math.nan
            raise

    def values(self, runs, metric, params=None, at=None) -> tuple[list[float], list[int]]:
        return ([self.value(r, metric, params, at) for r in runs], [int(r["run"]["seed"]) for r in runs])

    def summary(self, runs, metric, params=None, at=None) -> stats.Summary:
        values, seeds = self.values(runs, metric, params, at)
        return stats.summarise(values, seeds=seeds if len(set(seeds)) == len(seeds) else None,
                               censored=(M.METRICS[metric] if isinstance(metric, str) else metric).censored)

    def compare(self, a_runs, b_runs, metric, *, a_params=None, b_params=None, a_at=None, b_at=None,
                expect="greater", margin=None) -> stats.Comparison:
        """:func:`keras_dyn.stats.compare` of two sides' runs, one value per seed; a censored
        metric (a threshold never reached) is compared by rank. ``margin``: as in a hypothesis."""
        a, sa = per_seed(*self.values(a_runs, metric, a_params, a_at))
        b, sb = per_seed(*self.values(b_runs, metric, b_params, b_at))
        return stats.compare(a, b, expect=expect, a_seeds=sa, b_seeds=sb, margin=margin,
                             censored=(M.METRICS[metric] if isinstance(metric, str) else metric).censored)

    def never(self) -> str:
        """What a censored value reads as: "never within 10 epochs" (the longest run here)."""
        last = max((len(r.get("epochs", {}).get("epoch", [])) for r in self.results), default=0)
        return f"never within {last} epochs" if last else "never reached"

    # -- formatting
    def fmt(self, summary: stats.Summary, metric) -> str:
        m = M.METRICS[metric] if isinstance(metric, str) else metric
        if m.percent or summary.n == 0:
            return summary.fmt(scale=100.0, digits=2, unit="%", never=self.never())
        text = short_number(summary.mean) + (f" ± {short_number(summary.sd, 2)}" if summary.n > 1 else "")
        notes = [f"{summary.n_censored} of {summary.n_all} {self.never()}"] if summary.n_censored else []
        notes += [f"{summary.n_missing} of {summary.n_all} not finite"] if summary.n_missing else []
        return text + (f" ({'; '.join(notes)})" if notes else "")

    def sentence(self, comp, a_name, b_name, metric, larger="higher") -> str:
        """:meth:`keras_dyn.stats.Comparison.sentence` in the metric's units (points for percent)."""
        m = M.METRICS[metric] if isinstance(metric, str) else metric
        if m.percent:
            return comp.sentence(a_name, b_name, scale=100.0, unit=" points", larger=larger, never=self.never())
        unit = " epochs" if m.kind == "epochs" else ""
        return comp.sentence(a_name, b_name, scale=1.0, unit=unit, larger=larger, spec=".3g", never=self.never())

    def scale_unit(self, metric) -> tuple[float, str]:
        m = M.METRICS[metric] if isinstance(metric, str) else metric
        return (100.0, " points") if m.percent else (1.0, " epochs" if m.kind == "epochs" else "")

    # -- figures and notes
    def figure(self, name: str) -> tuple[Path, str]:
        """``(path to write, markdown reference)`` for a figure file name."""
        return self.figure_dir / name, f"{self.figure_ref}{name}"

    def save_figure(self, fig, name: str, **savefig) -> str:
        """Write a matplotlib figure as ``name`` in the figure folder, close it, and return its
        markdown reference (``savefig`` options such as ``dpi`` pass through)."""
        import matplotlib.pyplot as plt

        path, ref = self.figure(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, **savefig)
        plt.close(fig)
        return ref

    def note(self, text: str):
        if text not in self.notes:
            self.notes.append(text)


def per_seed(values, seeds) -> tuple[list[float], list[int]]:
    """One value per seed: a side that selects several runs per seed (several grid cells) is
    compared through the mean over its cells for each seed, so the seeds still pair. A seed with a
    NaN run is NaN (and counted as not finite); +inf (a threshold never reached) carries through
    the mean, so a censored metric stays censored."""
    by_seed: dict[int, list[float]] = {}
    for v, s in zip(values, seeds):
        by_seed.setdefault(s, []).append(v)
    out_seeds = sorted(by_seed)
    out = []
    for s in out_seeds:
        vals = by_seed[s]
        out.append(math.nan if any(math.isnan(v) for v in vals) else sum(vals) / len(vals))
    return out, out_seeds


def arch_label(hidden) -> str:
    """``256-256`` for up to four hidden layers; ``8×256`` for more of one width."""
    hidden = [int(u) for u in hidden]
    if len(hidden) > 4 and len(set(hidden)) == 1:
        return f"{len(hidden)}×{hidden[0]}"
    return "-".join(map(str, hidden))


def short_number(x, digits=3) -> str:
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits}g}"
    return f"{x:.{max(digits, 3)}g}" if abs(x) < 100 else f"{x:,.1f}"


def seeds_text(results) -> str:
    seeds = sorted({int(r["run"]["seed"]) for r in results})
    return ", ".join(map(str, seeds))


def diverged(results) -> list[dict]:
    return [r for r in results if r["run"].get("status") == "diverged"]


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)
