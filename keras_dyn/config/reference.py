"""docs/config.md, generated: every key of an experiment file, its type, default, what it allows
and what it means, then the grid keys, ``[[cases]]``, the ``[lab]`` keys, the findings sections
and the metrics.

Nothing here is written by hand twice: the keys and defaults are the dataclasses of
:mod:`keras_dyn.config.schema` (each field's ``metadata["doc"]`` is its meaning), the allowed
values are the rules' own ``allowed`` texts (:mod:`keras_dyn.config.rules`), the keys that act
only under another key's value are :data:`keras_dyn.config.effects.EFFECTS`, the ``[lab]`` keys
are :mod:`keras_dyn.config.lab_keys`, and the sections and metrics are their registries. Regenerate
with ``python -m keras_dyn.config.reference > docs/config.md`` (tests/test_docs.py checks it).
"""

from __future__ import annotations

import dataclasses
import inspect

from keras_dyn.config.effects import EFFECTS, conditions
from keras_dyn.config.lab_keys import (CLAIM_KEY_DOCS, HYPOTHESIS_KEY_DOCS, LAB_KEY_DOCS, PARAM_KIND_DOCS,
                                       SIDE_EXTRA_DOCS)
from keras_dyn.config.rules import RULES, allowed
from keras_dyn.config.schema import (GRID_KEY_DOCS, GRID_KEYS, MAX_CASES, MAX_PARAMS, MAX_RUNS, NAME_MAX,
                                     REQUIRED_SECTIONS, RUN_NAME_MAX, SECTION_TYPES, LogConfig, ProbesConfig)
from keras_dyn.report.metrics import METRICS
from keras_dyn.report.sections import SECTIONS

COMMAND = "python -m keras_dyn.config.reference > docs/config.md"
TYPES = {bool: "true/false", int: "whole number", float: "number", str: "string", tuple: "list"}


def toml(value) -> str:
    """A value as it is written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):  # a Table too
        return "{" + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + "}"
    return repr(value)


def default(value) -> str:
    """A default for a table cell: TOML in backticks, or a dash for none."""
    return "—" if value is None else f"`{toml(value)}`"


def table(header: tuple, rows) -> list[str]:
    """A markdown table (``|`` in a cell escaped)."""
    cell = lambda c: str(c).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows), ""]


def field_rows(section: str, cls) -> list[tuple]:
    """One row per key of a section: key, type, default, allowed, meaning."""
    rows = []
    for f in dataclasses.fields(cls):
        value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        rule_type = getattr(RULES.get(f"{section}.{f.name}"), "type_text", None)
        rows.append((f"`{f.name}`", rule_type or TYPES[type(value)], default(value),
                     allowed(f"{section}.{f.name}", value), f.metadata["doc"]))
    return rows


def needs(need: str) -> str:
    """The config switch a metric needs, in the file's own terms."""
    if need == "validation":
        return "`data.validation_split` > 0"
    if need == "per_example_groups":
        return "`log.per_example_every` > 0 and `data.label_noise` > 0"
    for name, cls in (("log", LogConfig), ("probes", ProbesConfig)):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if need in fields:
            on = " > 0" if type(fields[need].default) is int else ""  # a period: 0 is off
            return f"`{name}.{need}`{on}"
    return need or "—"


def sections_part() -> list[str]:
    """Every experiment section: what it is for, then its keys."""
    out = [f"Sections [{'], ['.join(REQUIRED_SECTIONS)}] are required, the others optional; a key left "
           "out takes its default, an unknown key is an error.", ""]
    for name, cls in SECTION_TYPES.items():
        out += [f"## [{name}]", "", inspect.cleandoc(cls.__doc__).split("\n\n")[0].replace("\n", " "), ""]
        out += table(("key", "type", "default", "allowed", "meaning"), field_rows(name, cls))
    return out


def plan_part() -> list[str]:
    """``[grid]`` and ``[[cases]]``."""
    out = ["## [grid]", "", "Each grid key takes a non-empty list of distinct values; the plan runs every "
           "combination, each with every seed.", ""]
    rows = [(f"`{key}`", GRID_KEY_DOCS.get(key) or f"`{section}.{fld}` (allowed: as there)")
            for key, (section, fld) in GRID_KEYS.items()]
    out += table(("key", "what each value sets"), rows)
    out += ["## [[cases]]", "", f"Each `[[cases]]` block sets grid keys (above) to one value each; the plan is "
            f"each case × every grid point × every seed, cases in file order. Every case sets the same keys, "
            f"none of them a `[grid]` key, and no two cases are equal; at most {MAX_CASES} cases.", "",
            "## Limits", "", f"- at most {MAX_RUNS:,} runs (grid points × cases × seeds) per experiment",
            f"- at most {MAX_PARAMS:,} parameters per model",
            f"- experiment and lab names: at most {NAME_MAX} characters; run names: at most {RUN_NAME_MAX}", ""]
    return out


def effects_part() -> list[str]:
    """The keys that act only under another key's value (:data:`keras_dyn.config.effects.EFFECTS`)."""
    out = ["## Keys with no effect", "", "These keys act only when another key has certain values. `check` (and "
           "every training command, before it trains) prints a `warning:` line, exit status unchanged, for one "
           "the file sets where it does nothing: a section key set to a value other than its default when it "
           "acts in no run of the plan, a `[grid]` or `[[cases]]` key when it does nothing in some of its runs "
           "(named).", ""]
    return out + table(("key", "acts only when"), [(f"`{k}`", " and ".join(c.text for c in conditions(k)))
                                                          for k in EFFECTS])


def lab_part() -> list[str]:
    """The ``[lab]`` keys, its hypotheses, sides and claims."""
    out = ["## [lab]", "", "A lab is an experiment with a `[lab]` section ([labs-format.md](labs-format.md)).", ""]
    out += table(("key", "meaning"), [(f"`{k}`", v) for k, v in LAB_KEY_DOCS.items()])
    for title, docs in (("[[lab.hypotheses]]", HYPOTHESIS_KEY_DOCS),
                        ("a side (`a`, `b`): besides grid keys and metric parameters", SIDE_EXTRA_DOCS),
                        ("[[lab.claims]]", CLAIM_KEY_DOCS)):
        out += [f"### {title}", ""] + table(("key", "meaning"), [(f"`{k}`", v) for k, v in docs.items()])
    return out


def findings_part() -> list[str]:
    """The findings sections a ``[[lab.findings]]`` block may name, with their parameters."""
    out = ["## Findings sections", "", "`section = \"NAME\"` in a `[[lab.findings]]` block, with that section's "
           "parameters (`python -m labs sections`).", ""]
    for s in SECTIONS.values():
        out += [f"### `{s.name}`", "", s.what, ""]
        if s.params:
            out += table(("parameter", "default", "allowed", "meaning"),
                         [(f"`{k}`", "required" if p.required else default(p.default), PARAM_KIND_DOCS[p.kind],
                           p.what or "—")
                          for k, p in s.params.items()])
    return out


def metrics_part() -> list[str]:
    """The metrics a hypothesis or a findings section may name."""
    rows = [(f"`{m.name}`", ", ".join(m.params) or "—", "per epoch (`at`)" if m.per_epoch else "per run",
             needs(m.needs), m.what) for m in METRICS.values()]
    return ["## Metrics", "", "`metric = \"NAME\"` in a hypothesis or a findings section (`python -m labs "
            "metrics`).", ""] + table(("metric", "parameters", "read", "needs", "what"), rows)


def render() -> str:
    """The whole of docs/config.md."""
    missing = [f"{s}.{f.name}" for s, c in SECTION_TYPES.items() for f in dataclasses.fields(c) if not f.metadata.get("doc")]
    unknown = [k for k in RULES if k.split(".")[0] not in SECTION_TYPES]
    if missing or unknown:
        raise ValueError(f"keys without a meaning: {missing}; rules for no key: {unknown}")
    head = ["# Config reference", "", f"<!-- Generated by `{COMMAND}`; edit keras_dyn/config, not this file. -->",
            "", "Every key of an experiment file (TOML), generated from the schema in `keras_dyn/config`. How to "
            "write experiments and labs: [labs-format.md](labs-format.md).", ""]
    lines = head + sections_part() + plan_part() + effects_part() + lab_part() + findings_part() + metrics_part()
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
