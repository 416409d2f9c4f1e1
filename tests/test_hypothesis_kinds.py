"""Issue 22 item 3: argmax, trend (increasing / decreasing) and interaction hypotheses: parsed and
checked at `check` (one-line errors), judged in the lab's Holm family with the four verdicts, each
line with its CI and MDE. Synthetic results, no training."""

from __future__ import annotations

import pytest

from keras_dyn import stats, tomlio
from keras_dyn.config import from_dict
from keras_dyn.errors import ConfigError
from keras_dyn.report.findings import build_findings
from tests.test_lab_format import BASE

UNITS = (4, 16, 32)
NOISE = (0.0, 0.3)


def _raw(hyps, seeds=(0, 1, 2, 3)):
    raw = tomlio.loads(tomlio.dumps(BASE))
    raw["training"]["seeds"] = list(seeds)
    raw["grid"] = {"units": list(UNITS), "label_noise": list(NOISE), "activation": ["relu", "tanh"]}
    raw["lab"]["hypotheses"] = hyps
    raw["lab"]["claims"] = []
    raw["lab"]["findings"] = []
    return raw


def _results(cell_values):
    """``cell_values[(units, noise)]``: the last validation accuracy per seed (relu runs; tanh
    runs read 0.5)."""
    out = []
    for (units, noise), by_seed in cell_values.items():
        for act in ("relu", "tanh"):
            for seed, v in enumerate(by_seed):
                v = v if act == "relu" else 0.5
                out.append({"run": {"seed": seed, "status": "complete", "hidden": [units, units],
                                    "name": f"w{units}_n{noise}_{act}_s{seed}",
                                    "point": {"units": units, "label_noise": noise, "activation": act}},
                            "epochs": {"epoch": [1, 2, 3], "val_accuracy": [0.5, 0.6, v], "test_accuracy": [0.5, 0.6, v],
                                       "val_loss": [1.0, 0.9, 1 - v]}})
    return out


def _findings(tmp_path, hyps, cells, seeds=(0, 1, 2, 3)):
    cfg = from_dict(_raw(hyps, seeds), source="lab.toml")
    return build_findings(cfg, _results(cells), tmp_path)


def _line(md, hid):
    return md.split(f"**{hid}**")[1].split("**Verdict:")[0]


def _row(md, hid):
    return next(line for line in md.splitlines() if line.startswith(f"| {hid} |"))


def _cells(fn):
    """Cells from ``fn(units, noise, seed)``, four seeds."""
    return {(u, n): [fn(u, n, s) for s in range(4)] for u in UNITS for n in NOISE}


JITTER = (0.004, -0.003, 0.001, -0.002)


def _j(s, u, n=0.0):
    """Seed-to-seed noise that differs between cells."""
    return JITTER[(s + UNITS.index(u) + 2 * NOISE.index(n)) % 4]


def _argmax(**extra):
    return {"id": "A1", "statement": "16 units are best", "metric": "val_accuracy", "expect": "argmax",
            "over": "units", "best": 16, "a": {"label_noise": 0.0, "activation": "relu"}, **extra}


def _trend(**extra):
    return {"id": "T1", "statement": "accuracy rises with width", "metric": "val_accuracy",
            "expect": "increasing", "over": "units", "a": {"label_noise": 0.0, "activation": "relu"}, **extra}


def _interaction(**extra):
    return {"id": "X1", "statement": "label noise hurts the narrow network more than the wide one",
            "metric": "val_accuracy", "expect": "greater", "a": {"label_noise": 0.0, "activation": "relu"},
            "b": {"label_noise": 0.3, "activation": "relu"}, "by": {"units": [4, 32]}, **extra}


# -- argmax

def test_argmax_with_a_planted_best_is_supported_and_names_each_pair(tmp_path):
    peak = {4: 0.80, 16: 0.90, 32: 0.85}
    out = _findings(tmp_path, [_argmax()], _cells(lambda u, n, s: peak[u] + JITTER[s] * (1 + u % 3)))
    line = _line(out.markdown, "A1")
    assert out.summary["verdicts"] == {"A1": "supported"}
    assert "vs 4:" in line and "vs 32:" in line and "95% CI" in line and "MDE" in line
    assert "every other setting beyond noise worse" in line
    assert "no equivalence for an argmax" in _row(out.markdown, "A1")
    row = out.verdicts.set_index("id").loc["A1"]
    assert row["A"] == "units=16" and row["B"] == "units=32" and row["difference"] > 0.04


def test_argmax_with_no_best_is_undecided_and_names_the_settings_within_noise(tmp_path):
    out = _findings(tmp_path, [_argmax()], _cells(lambda u, n, s: 0.85 + _j(s, u)))
    line = _line(out.markdown, "A1")
    assert out.summary["verdicts"]["A1"] == "undecided"
    assert "within noise of the best mean" in line and "4, " in line.split("within noise of the best mean")[1]


def test_argmax_refuted_when_another_setting_is_beyond_noise_better_and_lower_is_better_for_a_loss(tmp_path):
    peak = {4: 0.80, 16: 0.85, 32: 0.90}
    cells = _cells(lambda u, n, s: peak[u] + JITTER[s])
    out = _findings(tmp_path, [_argmax()], cells)
    assert out.summary["verdicts"]["A1"] == "refuted"
    assert "32 beyond noise higher than 16" in _line(out.markdown, "A1")
    loss = _findings(tmp_path, [_argmax(metric="val_loss", best=32)], cells)  # val_loss = 1 − v: 32 lowest
    assert loss.summary["verdicts"]["A1"] == "supported" and "lower is better" in _line(loss.markdown, "A1")


# -- trends

def test_trend_with_a_planted_rise_is_supported_by_pages_test(tmp_path):
    rise = {4: 0.80, 16: 0.83, 32: 0.86}
    out = _findings(tmp_path, [_trend()], _cells(lambda u, n, s: rise[u] + _j(s, u)))
    line = _line(out.markdown, "T1")
    assert out.summary["verdicts"] == {"T1": "supported"}
    assert "Page's L" in line and "paired by seed over 4 seeds" in line and "95% CI" in line and "MDE" in line
    row = out.verdicts.set_index("id").loc["T1"]
    assert 0.05 < row["difference"] < 0.07 and row["ci_low"] > 0


def test_trend_with_none_is_equivalent_with_a_loose_margin_and_undecided_with_a_tight_one(tmp_path):
    cells = _cells(lambda u, n, s: 0.85 + _j(s, u) / 4)
    loose = _findings(tmp_path, [_trend(margin=0.01)], cells)
    assert loose.summary["verdicts"] == {"T1": "equivalent"}
    assert "TOST |change| < 1 points" in _line(loose.markdown, "T1")
    tight = _findings(tmp_path, [_trend(margin=0.0001)], cells)
    assert tight.summary["verdicts"] == {"T1": "undecided"}
    assert "would resolve it" in _line(tight.markdown, "T1")


def test_trend_refuted_the_other_way_and_unpaired_seeds_use_spearman():
    seeds = [0, 1, 2, 3]
    fall = {4: [0.90, 0.91, 0.92, 0.90], 16: [0.88, 0.90, 0.90, 0.89], 32: [0.85, 0.87, 0.88, 0.86]}
    paired = stats.trend_test({u: (v, seeds) for u, v in fall.items()}, "increasing")
    assert paired.test == "Page's L" and paired.verdict == "refuted"
    unpaired = stats.trend_test({u: (v, [s + 10 * i for s in seeds]) for i, (u, v) in enumerate(fall.items())},
                                "decreasing", margin=0.005)
    assert unpaired.test == "Spearman ρ" and unpaired.verdict == "supported" and unpaired.ci_high < 0


# -- interactions

def test_interaction_with_a_planted_effect_is_supported(tmp_path):
    hurt = {4: 0.10, 16: 0.05, 32: 0.02}
    out = _findings(tmp_path, [_interaction()],
                    _cells(lambda u, n, s: 0.9 - (hurt[u] if n else 0) + _j(s, u, n)))
    line = _line(out.markdown, "X1")
    assert out.summary["verdicts"] == {"X1": "supported"}
    assert "(label_noise=0 − label_noise=0.3 | units=4) − (label_noise=0 − label_noise=0.3 | units=32)" in line
    assert "95% CI" in line and "MDE at 80% power" in line
    row = out.verdicts.set_index("id").loc["X1"]
    assert 0.07 < row["difference"] < 0.09


def test_interaction_without_one_is_not_supported_and_joins_the_family(tmp_path):
    cells = _cells(lambda u, n, s: 0.9 - (0.05 if n else 0) + _j(s, u, n))
    out = _findings(tmp_path, [_interaction(margin=0.02), _trend(margin=0.01)], cells)
    assert out.summary["verdicts"]["X1"] in ("equivalent", "undecided")
    assert out.summary["verdicts"]["X1"] == "equivalent"
    assert "Holm-adjusted over 2 hypotheses" in _line(out.markdown, "X1")
    assert "one family" in out.markdown


def test_the_family_adjusts_the_kinds_with_the_comparisons():
    c = stats.compare([0.9, 0.91, 0.92], [0.89, 0.905, 0.91], a_seeds=[0, 1, 2], b_seeds=[0, 1, 2])
    t = stats.trend_test({1: ([0.1, 0.2, 0.15], [0, 1, 2]), 2: ([0.2, 0.3, 0.25], [0, 1, 2]),
                          3: ([0.3, 0.35, 0.4], [0, 1, 2])}, "increasing")
    judged = stats.judge_family({"C": c, "T": t})
    assert judged["T"].family == 2 and judged["T"].p_adj >= t.p and judged["T"].verdict in stats.VERDICTS


# -- parsing and validation

def test_the_kinds_parse():
    lab = from_dict(_raw([_argmax(), _trend(margin=0.02), _interaction()]), source="lab.toml").lab
    a, t, x = lab.hypotheses
    assert (a.kind, a.over, a.best, a.better, a.b) == ("argmax", "units", 16, "higher", None)
    assert (t.kind, t.over, t.margin) == ("trend", "units", 0.02)
    assert (x.kind, x.by, x.b.select) == ("interaction", ("units", 4, 32), {"label_noise": 0.3, "activation": "relu"})
    assert a.a.select == {"label_noise": 0.0, "activation": "relu"}


@pytest.mark.parametrize("hyp, key, words", [
    (_argmax(over="width"), "lab.hypotheses[0].over", "is not a grid key"),
    (_argmax(over=None), "lab.hypotheses[0].over", "missing"),
    (_argmax(best=64), "lab.hypotheses[0].best", "64 is not among the values of units: 4, 16, 32"),
    (_argmax(best=None), "lab.hypotheses[0].best", "missing; name the setting of units"),
    (_argmax(margin=0.01), "lab.hypotheses[0].margin", "no equivalence verdict"),
    (_argmax(better="more"), "lab.hypotheses[0].better", "allowed: higher, lower"),
    (_argmax(b={"units": 4}), "lab.hypotheses[0].b", "leave b out"),
    (_argmax(a={"units": 4, "label_noise": 0.0, "activation": "relu"}), "lab.hypotheses[0].a.units",
     "the key the hypothesis runs over"),
    (_argmax(a={"label_noise": 0.0}), "lab.hypotheses[0].a", "leaves grid key 'activation' out"),
    (_trend(over="activation"), "lab.hypotheses[0].over", "activation is not numeric (relu, tanh)"),
    (_trend(over="label_noise"), "lab.hypotheses[0].over", "a trend needs at least 3"),
    (_trend(best=16), "lab.hypotheses[0].best", "only for expect = \"argmax\""),
    (_trend(better="lower"), "lab.hypotheses[0].better", "only for expect = \"argmax\""),
    (_trend(metric="first_epoch", of="val_accuracy", threshold=0.7), "lab.hypotheses[0].metric",
     "a trend needs a finite value per run"),
    ({**_interaction(), "by": {"units": [4]}}, "lab.hypotheses[0].by.units", "a list of two of its values"),
    ({**_interaction(), "by": {"units": [4, 64]}}, "lab.hypotheses[0].by.units", "64 is not among"),
    ({**_interaction(), "by": {"width": [4, 32]}}, "lab.hypotheses[0].by.width", "not a grid key"),
    ({**_interaction(), "by": {"units": [4, 32], "label_noise": [0.0, 0.3]}}, "lab.hypotheses[0].by",
     "one grid key"),
    (_interaction(expect="argmax"), "lab.hypotheses[0].by", "needs expect = \"greater\" or \"less\""),
    (_interaction(a={"units": 4, "label_noise": 0.0, "activation": "relu"}), "lab.hypotheses[0].a.units",
     "the key the hypothesis runs over"),
    (_interaction(over="units"), "lab.hypotheses[0].over", "not an interaction (by)"),
    ({**_interaction(), "by": {"units": [4, 4]}}, "lab.hypotheses[0].by.units", "must differ"),
    ({**_interaction(), "by": None}, "lab.hypotheses[0].by", "must be a table of one grid key"),
])
def test_a_bad_kind_is_one_line_naming_the_key(hyp, key, words):
    hyp = {k: v for k, v in hyp.items() if v is not None or k == "by"}
    with pytest.raises(ConfigError) as info:
        from_dict(_raw([hyp]), source="lab.toml")
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"config error: lab.toml: {key}:") and words in text, text


def test_over_and_best_are_refused_on_a_plain_comparison():
    hyp = {"id": "H", "statement": "s", "metric": "val_accuracy", "expect": "greater", "over": "units",
           "a": {"units": 32, "label_noise": 0.0, "activation": "relu"},
           "b": {"units": 4, "label_noise": 0.0, "activation": "relu"}}
    with pytest.raises(ConfigError, match=r"lab.hypotheses\[0\].over: only for expect = \"argmax\""):
        from_dict(_raw([hyp]), source="lab.toml")


@pytest.mark.parametrize("make", [_argmax, _trend, _interaction])
def test_any_mutated_leaf_of_a_kind_is_accepted_or_one_line(make):
    """Every key of each kind (and each side's keys) replaced by a wrong type or value: the check
    accepts it or refuses it in one line, never a traceback."""
    base = make()
    paths = [(k,) for k in base] + [(s, k) for s in ("a", "b", "by") if isinstance(base.get(s), dict) for k in base[s]]
    for path in paths:
        for bad in ([], {}, "x", -1, 1e300, True, [1, 2], {"units": 4}, "DELETE"):
            hyp = tomlio.loads(tomlio.dumps({"h": base}))["h"]
            node = hyp
            for p in path[:-1]:
                node = node[p]
            if bad == "DELETE":
                del node[path[-1]]
            else:
                node[path[-1]] = bad
            try:
                from_dict(_raw([hyp]), source="lab.toml")
            except ConfigError as exc:
                assert "\n" not in str(exc), (path, bad, str(exc))


def test_docstring_examples_of_the_kinds_hold():
    import doctest

    from keras_dyn.stats import argmax, trends

    results = [doctest.testmod(m, optionflags=doctest.ELLIPSIS) for m in (argmax, trends)]
    assert sum(r.attempted for r in results) >= 4 and sum(r.failed for r in results) == 0


def test_argmax_support_is_an_intersection_union_test_on_the_raw_one_sided_p():
    """Every pair must reject, so the supported side takes the largest raw one-sided p (no Holm
    over the pairs, which would only cost power); the refuted side (any pair) is Holm-adjusted."""
    from scipy.stats import ttest_rel

    from keras_dyn.stats.argmax import argmax_test

    seeds = [0, 1, 2, 3, 4]
    best = [0.90, 0.91, 0.92, 0.90, 0.91]
    others = {0.1: [0.89, 0.905, 0.905, 0.899, 0.90], 0.001: [0.891, 0.904, 0.906, 0.898, 0.901]}
    res = argmax_test({0.01: (best, seeds), **{k: (v, seeds) for k, v in others.items()}}, 0.01)
    raw = [ttest_rel(best, v, alternative="greater").pvalue for v in others.values()]
    assert res.p == pytest.approx(max(raw), rel=1e-9)
    assert res.sign > 0
