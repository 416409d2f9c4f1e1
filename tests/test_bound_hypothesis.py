"""``expect = "below"``: a hypothesis that every run stays under a bound (exp15's twin check)."""

from __future__ import annotations

import pytest
from keras_dyn import tomlio

from keras_dyn.config import from_dict
from keras_dyn.errors import ConfigError
from keras_dyn.report.findings import build_findings
from tests.test_lab_format import BASE

BOUND = {"id": "B1", "statement": "the last validation accuracy of every run stays below 0.8",
         "metric": "val_accuracy", "at": "last", "expect": "below", "bound": 0.8, "a": {"units": 4}}


def _raw(hyp):
    raw = tomlio.loads(tomlio.dumps(BASE))
    raw["lab"]["hypotheses"] = [raw["lab"]["hypotheses"][0], hyp]
    raw["lab"]["claims"] = [{"claim": "narrow stays low", "hypotheses": ["B1"], "tested_as": "stated"}]
    raw["lab"]["findings"] = []
    return raw


def test_bound_hypothesis_parses_with_no_b_side():
    (h1, b1) = from_dict(_raw(BOUND), source="lab.toml").lab.hypotheses
    assert h1.b is not None and not h1.is_bound
    assert b1.is_bound and b1.b is None and b1.bound == 0.8 and b1.a.select == {"units": 4}


@pytest.mark.parametrize("change, key, words", [
    ({"bound": None}, "lab.hypotheses[1].bound", "missing"),
    ({"bound": "small"}, "lab.hypotheses[1].bound", "not a finite number"),
    ({"bound": float("inf")}, "lab.hypotheses[1].bound", "not a finite number"),
    ({"b": {"units": 32}}, "lab.hypotheses[1].b", "leave b out"),
    ({"expect": "greater", "b": {"units": 32}}, "lab.hypotheses[1].bound", "only for expect"),
    ({"a": {"units": 7}}, "lab.hypotheses[1].a.units", "not in the grid"),
])
def test_broken_bound_hypothesis_is_one_line_naming_the_key(change, key, words):
    hyp = {**BOUND, **change}
    hyp = {k: v for k, v in hyp.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        from_dict(_raw(hyp), source="lab.toml")
    text = str(info.value)
    assert "\n" not in text and text.startswith("config error: lab.toml: " + key), text
    assert words in text, text


def _results(vals):
    """Finished-run results for the grid points units x label_noise, seeds 0-2."""
    out = []
    for (units, noise), by_seed in vals.items():
        for seed, v in enumerate(by_seed):
            out.append({"run": {"seed": seed, "status": "complete", "hidden": [units, units],
                                "name": f"w{units}_n{noise}_s{seed}", "point": {"units": units, "label_noise": noise}},
                        "epochs": {"epoch": [1, 2, 3], "val_accuracy": [0.5, 0.6, v],
                                   "test_accuracy": [0.5, 0.6, v], "train_accuracy": [0.6, 0.7, 0.8]}})
    return out


@pytest.mark.parametrize("narrow, verdict, below", [((0.6, 0.7, 0.75), "supported", "6 of 6"),
                                                    ((0.6, 0.85, 0.75), "refuted", "5 of 6")])
def test_bound_verdict_is_supported_only_if_every_selected_run_is_below(tmp_path, narrow, verdict, below):
    cfg = from_dict(_raw(BOUND), source="lab.toml")
    vals = {(4, 0.0): narrow, (4, 0.3): (0.7, 0.7, 0.7), (32, 0.0): (0.9, 0.95, 0.9), (32, 0.3): (0.9, 0.9, 0.9)}
    findings = build_findings(cfg, _results(vals), tmp_path)
    text = findings.markdown
    line = text.split("**B1**")[1].split("**Verdict: ")[1]
    assert line.startswith(verdict), text
    assert f"{below} run(s) below the bound" in text
    assert findings.summary["verdicts"]["B1"] == verdict
    assert text.count("**Verdict: ") == 2
    assert "| B1 | a bound checked on each of 6 run(s)" in text  # a row of the resolution table
    if verdict == "refuted":
        assert "w4_n0.0_s1 (0.85)" in text
    assert f"B1: {verdict}" in text  # the claims table
