"""Issue 21: a lab's verdicts (supported / refuted / equivalent / undecided), the margin, Holm over the
lab's hypotheses, power in every line, and censored thresholds, end to end through build_findings."""

from __future__ import annotations

import re

import pytest

from keras_dyn import tomlio
from keras_dyn.config import from_dict
from keras_dyn.errors import ConfigError
from keras_dyn.report.findings import build_findings
from tests.test_lab_format import BASE


def _raw(hyps, seeds=(0, 1, 2)):
    raw = tomlio.loads(tomlio.dumps(BASE))
    raw["training"]["seeds"] = list(seeds)
    raw["lab"]["hypotheses"] = hyps
    raw["lab"]["claims"] = []
    raw["lab"]["findings"] = []
    return raw


def _hyp(hid="H1", **extra):
    return {"id": hid, "statement": "32 units beat 4 units", "metric": "val_accuracy", "at": "last",
            "expect": "greater", "a": {"units": 32, "label_noise": 0.0}, "b": {"units": 4, "label_noise": 0.0},
            **extra}


def _results(series):
    """Finished runs: ``series[(units, noise)]`` is one validation-accuracy list per seed."""
    out = []
    for (units, noise), by_seed in series.items():
        for seed, vals in enumerate(by_seed):
            n = len(vals)
            out.append({"run": {"seed": seed, "status": "complete", "hidden": [units, units],
                                "name": f"w{units}_n{noise}_s{seed}", "point": {"units": units, "label_noise": noise}},
                        "epochs": {"epoch": list(range(1, n + 1)), "val_accuracy": list(vals),
                                   "test_accuracy": list(vals), "train_accuracy": list(vals)}})
    return out


def _last(values_by_cell):
    """Three-epoch series ending at the given last values."""
    return {cell: [[0.5, 0.6, v] for v in vals] for cell, vals in values_by_cell.items()}


def _findings(tmp_path, hyps, series, seeds=(0, 1, 2)):
    cfg = from_dict(_raw(hyps, seeds), source="lab.toml")
    return build_findings(cfg, _results(series), tmp_path)


def _line(md, hid):
    return md.split(f"**{hid}**")[1].split("**Verdict:")[0]


def test_two_seeds_with_no_spread_decide_nothing_and_say_so(tmp_path):
    # issue 21 item 7: every per-seed difference 0.002 was "supported" with p = 0, and the
    # resolution line read "differences smaller than 0 points are within seed noise"
    out = _findings(tmp_path, [_hyp()], _last({(32, 0.0): [0.802, 0.790], (4, 0.0): [0.800, 0.788],
                                               (32, 0.3): [0.7, 0.7], (4, 0.3): [0.7, 0.7]}), seeds=(0, 1))
    md = out.markdown
    assert out.summary["verdicts"] == {"H1": "undecided"}
    assert "smaller than 0 points" not in md and "0.00 points are within" not in md
    assert "a single seed on a side resolves nothing" not in md  # two seeds are not one
    assert "fewer than 3 seeds a side decide nothing" in md
    row = next(line for line in md.splitlines() if line.startswith("| H1 |"))
    assert "| — | ±1 points | 3 | undecided |" in row  # no MDE from no spread; at least 3 seeds


def test_planted_effect_is_supported_and_the_line_states_ci_mde_and_margin(tmp_path):
    out = _findings(tmp_path, [_hyp()], _last({(32, 0.0): [0.90, 0.92, 0.91], (4, 0.0): [0.80, 0.81, 0.79],
                                               (32, 0.3): [0.7] * 3, (4, 0.3): [0.7] * 3}))
    line = _line(out.markdown, "H1")
    assert out.summary["verdicts"] == {"H1": "supported"}
    assert "95% CI" in line and "MDE at 80% power" in line and "margin ±1 points (default for percent metrics)" in line
    assert "1 comparison hypothesis: no adjustment" in out.markdown


def test_planted_null_with_a_loose_margin_is_equivalent_and_a_tight_one_undecided(tmp_path):
    series = _last({(32, 0.0): [0.801, 0.812, 0.795, 0.805], (4, 0.0): [0.800, 0.811, 0.797, 0.804],
                    (32, 0.3): [0.7] * 4, (4, 0.3): [0.7] * 4})
    loose = _findings(tmp_path, [_hyp(margin=0.01)], series, seeds=(0, 1, 2, 3))
    assert loose.summary["verdicts"] == {"H1": "equivalent"}
    assert "TOST |diff| < 1.00 points" in _line(loose.markdown, "H1")
    tight = _findings(tmp_path, [_hyp(margin=0.0005)], series, seeds=(0, 1, 2, 3))
    assert tight.summary["verdicts"] == {"H1": "undecided"}
    row = next(line for line in tight.markdown.splitlines() if line.startswith("| H1 |"))
    need = int(row.split("|")[5])
    assert need > 4  # more seeds than were run, and the line says how many
    assert f"about {need} seeds would resolve it" in _line(tight.markdown, "H1")


def test_holm_adjusts_over_the_labs_hypotheses_and_the_verdict_uses_the_adjusted_p(tmp_path):
    # H1 alone is supported at p just under 0.05; beside two more hypotheses Holm lifts it over.
    a, b = [0.800, 0.815, 0.790, 0.805, 0.812], [0.795, 0.808, 0.787, 0.803, 0.801]
    series = _last({(32, 0.0): a, (4, 0.0): b, (32, 0.3): [0.7] * 5, (4, 0.3): [0.7] * 5})
    alone = _findings(tmp_path, [_hyp(margin=0.001)], series, seeds=range(5))
    p = float(re.search(r"t-test p = ([0-9.]+)", _line(alone.markdown, "H1")).group(1))
    assert 0.0167 < p < 0.05 and alone.summary["verdicts"]["H1"] == "supported"
    others = [_hyp("H2", a={"units": 32, "label_noise": 0.3}, b={"units": 4, "label_noise": 0.3}, margin=0.001),
              _hyp("H3", a={"units": 4, "label_noise": 0.3}, b={"units": 32, "label_noise": 0.3}, margin=0.001)]
    family = _findings(tmp_path, [_hyp(margin=0.001)] + others, series, seeds=range(5))
    line = _line(family.markdown, "H1")
    assert f"t-test p = {p:.2g}, Holm-adjusted over 3 hypotheses p = {3 * p:.2g}" in line  # both printed
    assert family.summary["verdicts"]["H1"] == "undecided"
    assert "one family" in family.markdown and "Holm–Bonferroni" in family.markdown


def test_a_threshold_never_reached_is_censored_and_compared_by_sign(tmp_path):
    hyp = {"id": "E1", "statement": "32 units reach 0.75 sooner", "metric": "first_epoch", "of": "val_accuracy",
           "threshold": 0.75, "expect": "less", "a": {"units": 32, "label_noise": 0.0},
           "b": {"units": 4, "label_noise": 0.0}}
    fast, never = [0.5, 0.8, 0.9], [0.5, 0.6, 0.7]
    series = {(32, 0.0): [fast] * 6, (4, 0.0): [never] * 6, (32, 0.3): [fast] * 6, (4, 0.3): [fast] * 6}
    out = _findings(tmp_path, [hyp], series, seeds=range(6))
    line = _line(out.markdown, "E1")
    assert "never within 3 epochs (6 of 6)" in line and "not finite" not in line
    assert "sign test" in line and out.summary["verdicts"] == {"E1": "supported"}
    few = _findings(tmp_path, [hyp], {k: v[:3] for k, v in series.items()})
    assert few.summary["verdicts"] == {"E1": "undecided"}
    assert "a sign test needs at least 6 seeds that all agree" in _line(few.markdown, "E1")


@pytest.mark.parametrize("margin, words", [(0, "must be a number > 0"), (-0.01, "must be a number > 0"),
                                           ("abc", "like \"10%\""), (True, "must be a number > 0"),
                                           (2, "is a fraction: give the margin as one")])
def test_a_bad_margin_is_one_line_naming_the_key(margin, words):
    with pytest.raises(ConfigError) as info:
        from_dict(_raw([_hyp(margin=margin)]), source="lab.toml")
    text = str(info.value)
    assert text.startswith("config error: lab.toml: lab.hypotheses[0].margin") and words in text, text


def test_margin_parses_and_a_bound_takes_none():
    (h,) = from_dict(_raw([_hyp(margin="5%")]), source="lab.toml").lab.hypotheses
    assert h.margin == "5%"
    (h,) = from_dict(_raw([_hyp()]), source="lab.toml").lab.hypotheses
    assert h.margin is None
    bound = {"id": "B1", "statement": "s", "metric": "val_accuracy", "expect": "below", "bound": 0.8,
             "a": {"units": 4}, "margin": 0.01}
    with pytest.raises(ConfigError, match=r"lab\.hypotheses\[0\]\.margin: only for a comparison"):
        from_dict(_raw([bound]), source="lab.toml")
