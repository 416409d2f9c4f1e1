"""``--quick`` is quick: every shipped lab's quick plan is small (counted, never timed), ``[lab.quick]``
is validated with one-line errors, and what the quick plan leaves out is said, not crashed on."""

import math

import pytest
from keras_dyn import tomlio

from keras_dyn.catalogue import configs_root
from keras_dyn.config import from_dict, load_config
from keras_dyn.errors import ConfigError
from keras_dyn.config.quick import (QUICK_MAX_EPOCHS, QUICK_MAX_EXAMPLES, QUICK_MAX_RUNS, default_plan,
                             plan_size, quick_version)
from keras_dyn.report.findings import build_findings
from keras_dyn.report.metrics import Reading

SHIPPED = sorted(configs_root().glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_lab_quick_plan_is_small(path):
    """runs <= 8, epochs <= 2, examples <= 5,000 per run: the plan, computed from the config."""
    cfg = load_config(path)
    assert cfg.lab is not None and cfg.lab.quick is not None, f"{path.name}: no [lab.quick] selection"
    quick = quick_version(cfg)
    size = plan_size(quick)
    assert size["runs"] <= QUICK_MAX_RUNS, size
    assert size["epochs"] <= QUICK_MAX_EPOCHS, size
    assert size["examples"] <= QUICK_MAX_EXAMPLES and size["test_examples"] <= QUICK_MAX_EXAMPLES, size
    assert size["runs"] * size["epochs"] * size["examples"] <= 8 * 2 * 5000
    assert quick.name == cfg.name + "-quick" and quick.quick
    # the quick run still tests something: at least one hypothesis is in its plan
    assert any(not h.absent for h in quick.lab.hypotheses), "the quick plan tests no hypothesis"
    for hyp in quick.lab.hypotheses:
        for side in (hyp.a, hyp.b):
            if side is not None and side.at.kind == "epoch":
                assert side.at.epoch <= size["epochs"]  # labelled with the epoch actually read


BASE = {
    "experiment": {"name": "q"},
    "data": {"dataset": "circle", "n_samples": 4000, "validation_split": 0.2},
    "model": {"hidden": [16]},
    "training": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 32, "epochs": 10,
                 "seeds": [0, 1, 2, 3, 4]},
    "grid": {"units": [4, 8, 16, 32], "layers": [1, 2, 3]},
    "lab": {
        "title": "t", "question": "q?",
        "hypotheses": [
            {"id": "H1", "statement": "32 beats 4", "metric": "test_accuracy", "at": 10, "expect": "greater",
             "a": {"units": 32}, "b": {"units": 4}, "pool": ["layers"]},
            {"id": "H2", "statement": "16 beats 8", "metric": "test_accuracy", "at": "last", "expect": "greater",
             "a": {"units": 16}, "b": {"units": 8}, "pool": ["layers"]},
            {"id": "H3", "statement": "later is better", "metric": "test_accuracy", "expect": "greater",
             "a": {"units": 32, "at": 10}, "b": {"units": 32, "at": 5}, "pool": ["layers"]},
        ],
        "findings": [
            {"section": "seed_table", "metrics": ["test_accuracy"], "at": [1, 5, 10]},
            {"section": "pairwise", "metric": "test_accuracy", "baseline": {"units": 8}},
            {"section": "source_values", "at": [10], "values": {"32": [90.0]}},
        ],
        "quick": {"keep": {"units": [4, 32], "layers": [1, 3]}, "seeds": 2},
    },
}


def _cfg(quick=None, drop_quick=False):
    raw = tomlio.loads(tomlio.dumps(BASE))
    if drop_quick:
        del raw["lab"]["quick"]
    elif quick is not None:
        raw["lab"]["quick"] = quick
    return from_dict(raw, source="q.toml")


def test_lab_quick_keeps_the_named_values_and_seeds():
    quick = quick_version(_cfg())
    assert quick.grid == {"units": (4, 32), "layers": (1, 3)}
    assert quick.training.seeds == (0, 1) or list(quick.training.seeds) == [0, 1]
    assert quick.training.epochs == 2 and quick.data.n_samples == 1000
    assert plan_size(quick)["runs"] == 8


def test_quick_readings_are_clamped_and_what_it_leaves_out_is_said(tmp_path):
    quick = quick_version(_cfg())
    h1, h2, h3 = quick.lab.hypotheses
    assert h1.a.at == Reading("epoch", epoch=2) and h1.a.at.label == "epoch 2" and not h1.absent
    assert "16 is left out; the quick plan keeps units = 4, 32" in h2.absent
    assert "same runs at epoch 2" in h3.absent  # epoch 10 against epoch 5: both read at 2
    seed_table, pairwise, source = quick.lab.findings
    assert "the source's numbers are at epoch 10; the quick run stops at epoch 2" in source.absent
    assert seed_table.params["at"] == [Reading("epoch", epoch=1), Reading("epoch", epoch=2)]
    assert "left out; the quick plan keeps units" in pairwise.absent
    md = build_findings(quick, [], tmp_path).markdown
    assert "**H2** — 16 beats 8  \n  Not in the quick plan:" in md
    assert md.count("**Verdict: not in the quick plan.**") == 2
    assert "section `pairwise`: not in the quick plan" in md


def test_default_quick_plan_fits_without_lab_quick():
    cfg = _cfg(drop_quick=True)
    grid, cases, seeds = default_plan(cfg)
    assert math.prod(len(v) for v in grid.values()) * seeds <= QUICK_MAX_RUNS
    assert grid["units"][0] == 4 and grid["units"][-1] == 32
    size = plan_size(quick_version(cfg))
    assert size["runs"] <= QUICK_MAX_RUNS and size["epochs"] == 2
    raw = tomlio.loads(tomlio.dumps(BASE))
    del raw["lab"]
    raw["grid"] = {"units": [4, 8, 16, 32], "layers": [1, 2, 3], "batch_size": [16, 32, 64]}
    assert plan_size(quick_version(from_dict(raw, source="q.toml")))["runs"] <= QUICK_MAX_RUNS


@pytest.mark.parametrize("quick, key, words", [
    ({"keep": {"units": [4, 8, 32], "layers": [1, 3]}}, "lab.quick", "12 runs"),
    ({"keep": {"unit": [4]}}, "lab.quick.keep.unit", "did you mean 'units'"),
    ({"keep": {"units": [5]}}, "lab.quick.keep.units", "not one of the plan's units values (4, 8, 16, 32)"),
    ({"keep": {"units": []}}, "lab.quick.keep.units", "non-empty list"),
    ({"keep": [4]}, "lab.quick.keep", "table of grid key"),
    ({"seeds": 0, "keep": {"units": [4]}}, "lab.quick.seeds", "from 1 to 8"),
    ({"epochs": 2}, "lab.quick.epochs", "allowed: keep, seeds"),
    (3, "lab.quick", "must be a table"),
])
def test_bad_lab_quick_is_one_line_naming_file_and_key(quick, key, words):
    with pytest.raises(ConfigError) as err:
        _cfg(quick=quick)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"config error: q.toml: {key}: ") and words in text, text


def test_check_quick_says_the_plan_and_what_it_leaves_out(tmp_path, capsys):
    from keras_dyn.__main__ import main

    path = tmp_path / "q.toml"
    path.write_text(tomlio.dumps(BASE))
    assert main(["check", str(path), "--quick"]) == 0
    out, err = capsys.readouterr()
    assert len(out.split()) == 8
    assert "quick plan: 8 run(s) x at most 2 epoch(s) x 1,000 training" in err
    assert "hypothesis H2 not in it" in err and "section 'pairwise' not in it" in err
