"""The generated reference pages are up to date, and what they are generated from is complete.

Fast and without TensorFlow: docs/config.md against :func:`keras_dyn.config.reference.render`,
docs/labs.md against :func:`keras_dyn.catalogue.markdown_catalogue` of the current labs.
"""

import dataclasses
import re
from pathlib import Path

from keras_dyn import catalogue
from keras_dyn.config import lab_keys
from keras_dyn.config.reference import render
from keras_dyn.config.rules import RULES
from keras_dyn.config.schema import GRID_KEY_DOCS, GRID_KEYS, SECTION_TYPES
from keras_dyn.report.metrics import PARAMS
from keras_dyn.report.sections import SECTIONS

REPO = Path(__file__).resolve().parents[1]


def test_config_md_is_up_to_date():
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    assert text == render(), ("docs/config.md is out of date with keras_dyn/config; regenerate it with "
                              "`python -m keras_dyn.config.reference > docs/config.md`")


def test_labs_md_is_up_to_date():
    """Against the labs' current LOG.md summaries: a full run rewrites its LOG.md, and
    regenerating docs/labs.md afterwards is one command."""
    text = (REPO / "docs" / "labs.md").read_text(encoding="utf-8")
    assert text == catalogue.markdown_catalogue(catalogue.list_labs()), (
        "docs/labs.md is out of date with configs/*.toml and labs/*/LOG.md (a lab was added or changed, or "
        "a full run rewrote its LOG.md); regenerate it with `python -m labs docs > docs/labs.md`")


def test_labs_md_shows_each_lab_and_its_last_run():
    labs = catalogue.list_labs()
    text = catalogue.markdown_catalogue(labs)
    for lab in labs:
        assert f"## {lab.name}\n" in text and f"`python -m labs.{lab.name}`" in text
        last = lab.last_run()
        if last and not last.get("quick"):
            assert catalogue.run_summary(last) in text
    assert catalogue.verdict_counts({"H1": "supported", "H2": "refuted", "H3": "supported"}) == "2 supported, 1 refuted"


def test_every_schema_key_has_a_meaning():
    missing = [f"{name}.{f.name}" for name, cls in SECTION_TYPES.items() for f in dataclasses.fields(cls)
               if not str(f.metadata.get("doc", "")).strip()]
    assert not missing, f"keys without a one-line meaning (field(metadata={{'doc': ...}}) in schema.py): {missing}"


def test_every_rule_says_what_it_allows_and_has_a_key():
    keys = {f"{name}.{f.name}" for name, cls in SECTION_TYPES.items() for f in dataclasses.fields(cls)}
    assert set(RULES) <= keys
    assert not [k for k, rule in RULES.items() if not str(getattr(rule, "allowed", "")).strip()]


def test_sections_are_still_frozen_with_metadata():
    for cls in SECTION_TYPES.values():
        assert cls.__dataclass_params__.frozen
        assert cls() == cls() and hash(cls()) == hash(cls())


def test_grid_keys_and_lab_keys_are_documented():
    assert set(GRID_KEY_DOCS) <= set(GRID_KEYS)
    assert set(PARAMS) <= set(lab_keys.HYPOTHESIS_KEYS)  # every metric parameter has its meaning
    kinds = {p.kind for s in SECTIONS.values() for p in s.params.values()}
    assert kinds <= set(lab_keys.PARAM_KIND_DOCS), kinds - set(lab_keys.PARAM_KIND_DOCS)


def test_readme_and_docs_links_resolve():
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not re.match(r"[a-z]+://", target):
                assert (page.parent / target).is_file(), f"{page.name} links to {target}, which does not exist"


def test_python_m_labs_docs_prints_it(capsys):
    assert catalogue.main(["docs"]) == 0
    assert capsys.readouterr().out == catalogue.markdown_catalogue(catalogue.list_labs())
