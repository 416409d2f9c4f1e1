"""A hypothesis side that leaves a swept grid key out averages over that key's values: refused at
check unless the hypothesis says so with ``pool`` (issue 21: an interaction written with a key
that is later deleted must not pass as a main effect under the instructor's label)."""

import copy

import pytest

from keras_dyn.config import from_dict
from keras_dyn.errors import ConfigError

BASE = {
    "experiment": {"name": "pool"},
    "data": {"dataset": "circle", "n_samples": 64},
    "model": {"hidden": [4]},
    "training": {"epochs": 2, "seeds": [0, 1, 2]},
    "grid": {"units": [4, 8], "label_noise": [0.0, 0.2]},
    "lab": {"title": "t", "question": "q", "hypotheses": [{
        "id": "H1", "statement": "wider is better", "metric": "test_accuracy", "expect": "greater",
        "a": {"units": 8, "label_noise": 0.2}, "b": {"units": 4, "label_noise": 0.2}}]},
}


def _with(**changes):
    raw = copy.deepcopy(BASE)
    raw["lab"]["hypotheses"][0].update(changes)
    return raw


def test_sides_naming_every_swept_key_pass():
    assert from_dict(copy.deepcopy(BASE)).lab.hypotheses[0].pool == ()


def test_a_side_leaving_a_key_out_is_refused_naming_it():
    raw = _with(a={"units": 8}, b={"units": 4})
    with pytest.raises(ConfigError) as err:
        from_dict(raw, source="p.toml")
    text = str(err.value)
    assert "lab.hypotheses[0].a" in text and "label_noise" in text and 'pool = ["label_noise"]' in text
    assert "\n" not in text


def test_pool_says_the_side_averages_on_purpose():
    hyp = from_dict(_with(a={"units": 8}, b={"units": 4}, pool=["label_noise"])).lab.hypotheses[0]
    assert hyp.pool == ("label_noise",)


@pytest.mark.parametrize("pool, words", [
    (["seed_set"], "not a grid key"), ([], "non-empty list"), ("label_noise", "non-empty list"), ([1], "non-empty list"),
])
def test_bad_pool_is_one_line(pool, words):
    with pytest.raises(ConfigError, match=words):
        from_dict(_with(a={"units": 8}, b={"units": 4}, pool=pool))


def test_a_bound_takes_no_pool():
    raw = _with(expect="below", bound=1.0, a={"units": 8}, pool=["label_noise"])
    del raw["lab"]["hypotheses"][0]["b"]
    with pytest.raises(ConfigError, match=r"pool.*only for a comparison"):
        from_dict(raw)
