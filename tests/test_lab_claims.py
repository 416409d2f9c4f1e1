"""Every shipped lab says, for each of its source's claims, how its hypotheses test it (issue 21).

``tested_as`` is one of stated / weaker / related / untested; anything but "stated" carries a
one-sentence ``why``; an untested claim has no hypotheses and every other claim has at least one.
"""

import tomllib

import pytest

from keras_dyn import catalogue
from keras_dyn.config import load_config
from keras_dyn.config.lab_keys import TESTED_AS

LAB_FILES = sorted(p for p in catalogue.configs_root().glob("*.toml") if "[lab]" in p.read_text())


def test_there_are_labs():
    assert len(LAB_FILES) >= 19


@pytest.mark.parametrize("path", LAB_FILES, ids=[p.stem for p in LAB_FILES])
def test_every_claim_says_how_it_is_tested(path):
    raw = tomllib.loads(path.read_text())
    claims = raw["lab"].get("claims", [])
    assert claims, f"{path.name}: no [[lab.claims]]"
    for i, c in enumerate(claims):
        where = f"{path.name}: lab.claims[{i}] ({c.get('claim', '')[:60]!r})"
        assert c.get("tested_as") in TESTED_AS, f"{where}: tested_as missing or unknown"
        if c["tested_as"] != "stated":
            assert c.get("why", "").strip(), f"{where}: tested_as = {c['tested_as']!r} needs a why"
        if c["tested_as"] == "untested":
            assert c.get("hypotheses", []) == [], where
        else:
            assert c.get("hypotheses"), where
    lab = load_config(path).lab  # and the whole section validates
    assert [c.tested_as for c in lab.claims] == [c["tested_as"] for c in claims]
