"""`check` is complete: findings sections validated like every other key, no traceback on any value.

Two parts. Targeted cases: each a value that `check` used to accept and that failed only after
training (a reading past the last epoch, findings ``params`` never validated, a layer that does
not exist, a learning rate float32 rounds to zero, an empty experiment name), or that raised a
traceback (an empty list where a name belongs). Then the leaf-mutation corpus: every leaf of
every shipped config (``[lab]`` included) gets wrong types, an empty list, an empty string, an
unknown name, a negative and a huge number; each mutated config goes through the check in-process
(:func:`keras_dyn.config.from_dict`) and must be accepted or refused with a one-line
:class:`~keras_dyn.errors.ConfigError` (exit status 2), never another exception. A sample of 300 runs in
the fast suite, a sample of 20,000 in the slow one (every mutation with KERAS_DYN_FULL_CORPUS=1);
one subprocess case proves exit 2 and one line.
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
    ("pairwise", "expect", "sideways", "must be one of greater, less"),
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


def test_a_metric_that_is_not_a_name_beside_a_margin_is_one_line():
    """The margin check looked the metric up before the metric's own check: a list there was a
    TypeError (found by the slow leaf-mutation corpus on exp6's H14)."""
    raw = _small(section="seed_table", metrics=["test_accuracy"], at=[1, 2])
    raw["grid"] = {"units": [4, 8]}
    raw["lab"]["hypotheses"] = [{"id": "H1", "statement": "s", "metric": [], "expect": "greater", "margin": 0.01,
                                 "a": {"units": 8}, "b": {"units": 4}}]
    assert "unknown metric" in _refused(raw)


def test_hypothesis_of_empty_list_is_one_line():
    raw = _shipped("exp6_activations_optimizers")
    raw["lab"]["hypotheses"][0]["of"] = []
    _refused(raw)


# --------------------------------------------------------------------------- the leaf-mutation corpus

MUTATIONS = ["", [], [[]], "zzz_unknown", -1, 0, 10 ** 18, 1e308, -1e308, float("nan"), float("inf"), True,
             {"x": 1}, [{}], "../../x"]


def _leaves(node, path=()):
    """Every leaf path of a parsed TOML table: scalars, lists (as a whole), and each item of a list."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
        return
    if path:
        yield path
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _leaves(item, path + (i,))


def _set(raw, path, value):
    node = raw
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def corpus():
    out = []
    for path in SHIPPED:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        for leaf in _leaves(raw):
            for i, value in enumerate(MUTATIONS):
                out.append((path.stem, leaf, i))
    return out


CORPUS = corpus()
SAMPLE = random.Random(20).sample(CORPUS, 300)
_RAW = {}


def _mutated(stem, leaf, i):
    if stem not in _RAW:
        _RAW[stem] = tomllib.loads((REPO / "configs" / f"{stem}.toml").read_text(encoding="utf-8"))
    raw = copy.deepcopy(_RAW[stem])
    _set(raw, leaf, copy.deepcopy(MUTATIONS[i]))
    return raw


def _check_one(stem, leaf, i):
    """None when the mutation is accepted or refused in one line; else what went wrong."""
    try:
        from_dict(_mutated(stem, leaf, i), source=f"{stem}.toml")
    except ConfigError as exc:
        text = str(exc)
        if "\n" in text or not text.startswith(f"config error: {stem}.toml"):
            return f"not one line naming the file: {text!r}"
    except Exception as exc:  # noqa: BLE001 - what the test is for
        return f"{type(exc).__name__}: {exc}"
    return None


def _run(cases):
    problems = []
    for stem, leaf, i in cases:
        problem = _check_one(stem, leaf, i)
        if problem:
            problems.append(f"{stem} {'.'.join(map(str, leaf))} = {MUTATIONS[i]!r}: {problem}")
    assert not problems, f"{len(problems)} of {len(cases)}:\n" + "\n".join(problems[:40])


def test_a_sample_of_leaf_mutations_is_accepted_or_one_line():
    assert len(SAMPLE) == 300 and len({s for s, _, _ in CORPUS}) == len(SHIPPED)
    _run(SAMPLE)


CI_SAMPLE = 20_000  # of 78,330 (24 labs): about 3.5 CPU minutes; the whole corpus takes ~14


@pytest.mark.slow
def test_every_leaf_mutation_of_every_shipped_config_is_accepted_or_one_line():
    """A fixed random sample of 20,000 mutations in CI (every config and mutation kind appears;
    the whole corpus outgrew CI's time as labs were added); KERAS_DYN_FULL_CORPUS=1 runs them all."""
    import os

    if os.environ.get("KERAS_DYN_FULL_CORPUS") == "1" or len(CORPUS) <= CI_SAMPLE:
        _run(CORPUS)
    else:
        cases = random.Random(21).sample(CORPUS, CI_SAMPLE)
        assert {s for s, _, _ in cases} == {s for s, _, _ in CORPUS}
        _run(cases)


def test_a_mutation_from_the_command_line_exits_2_with_one_line(tmp_path):
    import tomli_w

    raw = _shipped("exp10_optimizers")
    _findings(raw, "seed_table")[1]["by"] = [[]]
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(raw))
    proc = subprocess.run([sys.executable, "-m", "keras_dyn", "check", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "lab.findings[" in proc.stderr and ".by" in proc.stderr, proc.stderr


# --------------------------------------------------------------------------- values that cannot work


@pytest.mark.parametrize("lr,words", [(1e-300, "rounds to 0"), (1e-40, "rounds to a subnormal"),
                                      (0.0, "out of range"), (11.0, "out of range")])
def test_learning_rate_float32_cannot_hold_is_refused(lr, words):
    raw = _small(section="seed_table")
    raw["training"]["learning_rate"] = lr
    text = _refused(raw)
    assert "training.learning_rate" in text and words in text, text
    raw = _small(section="seed_table")
    raw["grid"]["learning_rate"] = [0.01, lr]
    assert "grid.learning_rate" in _refused(raw)


def test_smallest_normal_float32_learning_rate_is_accepted():
    raw = _small(section="seed_table")
    raw["training"]["learning_rate"] = 1.2e-38
    assert from_dict(raw).training.learning_rate == 1.2e-38


def test_empty_experiment_name_is_refused(tmp_path):
    from keras_dyn.config import load_config

    raw = _small(section="seed_table")
    raw["experiment"]["name"] = ""
    assert "leave the key out to use the file name" in _refused(raw)
    del raw["experiment"]["name"]
    cfg = from_dict(raw)  # no name: load_config names it after the file
    assert cfg.at_point(cfg.points()[0]).name == "" and from_dict(cfg.to_dict()).name == ""
    path = tmp_path / "named_by_file.toml"
    import tomli_w

    path.write_text(tomli_w.dumps(raw))
    assert load_config(path).name == "named_by_file"


@pytest.mark.parametrize("values,words", [({"units=4": [90.0]}, "one per reading"),
                                          ({"units=4": [90.0, float("nan")]}, "finite")])
def test_source_values_need_one_finite_number_per_reading(values, words):
    raw = _small(section="source_values", at=[1, 2], values=values)
    text = _refused(raw)
    assert "lab.findings[0]" in text and words in text and "source_values" in text, text


# --------------------------------------------------------------------------- TOML 1.0


def test_toml_1_0_is_read_mixed_arrays_and_quoted_keys(tmp_path):
    """The toml package refused both; tomllib reads TOML 1.0."""
    from keras_dyn.config import load_config

    text = (REPO / "configs" / "exp6_activations_optimizers.toml").read_text(encoding="utf-8")
    text = text.replace('at = ["1", "last"]', 'at = [1, "last"]', 1)
    assert 'at = [1, "last"]' in text
    text += ('\n[[lab.findings]]\nsection = "source_values"\nmetric = "test_accuracy"\nat = [1, "last"]\n'
             'values = { "a = 1, b = 2" = [90, 91.5] }\n')
    path = tmp_path / "toml10.toml"
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    assert cfg.lab.findings[-1].params["values"] == {"a = 1, b = 2": [90, 91.5]}
    assert [r.kind for r in cfg.lab.findings[-1].params["at"]] == ["epoch", "last"]


def test_results_written_by_tomli_w_keep_nan_and_infinities(tmp_path):
    import math

    import numpy as np

    from keras_dyn.runs.files import atomic_write_toml, read_toml

    data = {"epochs": {"loss": [1.0, float("nan"), float("inf"), -float("inf")], "n": np.int64(3),
                       "x": np.float32(0.5), "gone": None, "widths": (64, 64)}}
    path = atomic_write_toml(tmp_path / "results.toml", data, root=tmp_path)
    back = read_toml(path)["epochs"]
    assert back["loss"][0] == 1.0 and math.isnan(back["loss"][1]) and back["loss"][2:] == [math.inf, -math.inf]
    assert back["n"] == 3 and back["x"] == 0.5 and "gone" not in back and back["widths"] == [64, 64]


# --------------------------------------------------------------------------- quick mode


def test_quick_findings_head_the_epoch_actually_read():
    raw = _small(section="seed_table", metrics=["test_accuracy"], at=[1, 2])
    raw["training"]["epochs"] = 8
    raw["lab"]["findings"][0]["at"] = [1, 5, 8]
    cfg = from_dict(raw)
    assert [r.epoch for r in cfg.lab.findings[0].params["at"]] == [1, 5, 8]
    quick = cfg.replace(training={"epochs": 5}, quick=True)  # what quick_version does to the epochs
    # epoch 8 is read at 5 and headed @5; the two @5 columns are one (source_values, whose
    # numbers sit at the source's epochs, is left out of such a quick plan instead)
    assert [r.short for r in quick.lab.findings[0].params["at"]] == ["@1", "@5"]
    raw["lab"]["findings"][0]["at"] = [1, 5, 10 ** 18]
    assert "past the end" in _refused(raw)  # the full version is checked first, quick or not
