"""TOML in and out: read by the standard library's :mod:`tomllib` (TOML 1.0: mixed-type arrays,
quoted keys holding ``=`` or ``,``), written by ``tomli-w``.

NaN and infinities are written as TOML's ``nan``, ``inf`` and ``-inf`` and read back as floats.
A key whose value is ``None`` is left out (TOML has no null); tuples become arrays and NumPy
scalars their Python values.
"""

from __future__ import annotations

import tomllib

import tomli_w

TOMLDecodeError = tomllib.TOMLDecodeError


def loads(text: str) -> dict:
    return tomllib.loads(text)


def dumps(data: dict) -> str:
    # a long array goes one item a line; without indentation that costs no more bytes than one line
    # (results files hold every step's gradient statistics)
    return tomli_w.dumps(_plain(data), indent=0)


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes, bool, int, float)):
        return value.item()  # a NumPy scalar
    return value
