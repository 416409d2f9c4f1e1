"""Names that become paths, and the wording of config errors: how a value, a point or a suggestion is shown in a one-line :class:`~keras_dyn.errors.ConfigError`.
"""

from __future__ import annotations

import difflib
import re

from keras_dyn.config.schema import EARLY_STOPPING_KEYS, NAME_MAX
from keras_dyn.errors import ConfigError

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def name_problem(value, limit: int = NAME_MAX) -> str | None:
    """Why ``value`` cannot be a name that becomes part of a path, or ``None`` if it can.

    The rule (also in the README): 1 to ``limit`` characters from ``A-Z a-z 0-9 . _ -``, the
    first a letter or digit, and no ``..`` anywhere.
    """
    if not isinstance(value, str):
        return f"must be a string, not {show(value)}"
    rule = (f"allowed: 1 to {limit} characters from A-Z a-z 0-9 . _ -, starting with a letter or "
            f"digit, no '..'")
    if not value:
        return f"must not be empty; {rule}"
    if len(value) > limit:
        return f"is {len(value)} characters long; {rule}"
    if not _NAME_RE.fullmatch(value) or ".." in value:
        bad = sorted({c for c in value if not (c.isascii() and (c.isalnum() or c in "._-"))})
        what = (f"holds {', '.join(char_name(c) for c in bad[:5])}" if bad
                else "starts with '.', '_' or '-'" if not value[0].isalnum() else "holds '..'")
        return f"{show(value)} {what}; {rule}"
    return None


def check_name(source, key: str, value, limit: int = NAME_MAX) -> str:
    """``value`` if it is a valid name (see :func:`name_problem`), else :class:`ConfigError`."""
    problem = name_problem(value, limit)
    if problem:
        raise ConfigError(source, key, problem)
    return value


def char_name(c: str) -> str:
    return {"/": "'/'", "\\": "'\\'", " ": "a space", "\0": "NUL"}.get(
        c, repr(c) if c.isprintable() else f"control character U+{ord(c):04X}")


def same_value(a, b) -> bool:
    """Two point values equal (width lists as tuples or lists; an early-stopping table as written,
    its sub-keys left out at their defaults, or as resolved)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and full_table(a) == full_table(b)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b)
    return a == b


def full_table(table: dict) -> dict:
    """A ``training.early_stopping`` table with its left-out sub-keys at their defaults (``{}``: off)."""
    if not table:
        return {}
    return {key: table.get(key, default) for key, (default, _doc) in EARLY_STOPPING_KEYS.items()}


def table_tag(table: dict) -> str:
    """A ``training.early_stopping`` table as a run-name part: ``off``, ``val_loss-p3``, plus
    ``-d0.01`` for a min_delta other than 0 and ``-norestore`` for restore_best = false, so two
    distinct tables give distinct tags."""
    if not table:
        return "off"
    t = full_table(table)
    parts = [str(t["monitor"]), f"p{t['patience']}"]
    if t["min_delta"]:
        parts.append(f"d{float(t['min_delta']):g}")
    if not t["restore_best"]:
        parts.append("norestore")
    return "-".join(parts)


def short(value) -> str:
    if isinstance(value, dict):
        return table_tag(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return str(value)


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def show_point(point: dict) -> str:
    return "{" + ", ".join(f"{k} = {short(v)}" for k, v in point.items()) + "}"


def plain_text(source, dotted, value: str) -> str:
    """No NUL or other control characters (TOML files and paths cannot hold them safely);
    tabs and newlines are allowed."""
    bad = [c for c in value if (ord(c) < 32 and c not in "\t\n") or ord(c) == 127]
    if bad:
        raise ConfigError(source, dotted, f"holds {char_name(bad[0])}; allowed: text without "
                          f"control characters")
    return value


def show(value) -> str:
    kind = {bool: "a boolean", int: "a whole number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} ({text if len(text) <= 40 else text[:37] + '...'})"


def suggest(word, choices) -> str:
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def first_line(exc) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
