"""``[[lab.claims]]``: the source's claims, each with the hypotheses that test it and how
(:class:`Claim`, :func:`parse_claim`), validated like the rest of the ``[lab]`` table.
"""

from __future__ import annotations

from dataclasses import dataclass

from keras_dyn.config.lab_checks import text_value
from keras_dyn.config.lab_keys import CLAIM_KEYS, TESTED_AS
from keras_dyn.config.names import show, suggest


@dataclass(frozen=True)
class Claim:
    claim: str
    hypotheses: tuple
    source_value: str = ""
    tested_as: str = "stated"  # stated | weaker | related | untested (lab_keys.TESTED_AS)
    why: str = ""  # why it is weaker, related or untested ("" only for stated)


def parse_claim(ctx, dotted, raw, ids) -> Claim:
    """One ``[[lab.claims]]`` block; ``ids``: the lab's hypothesis ids."""

    for key in raw:
        if key not in CLAIM_KEYS:
            raise ctx.error(f"{dotted}.{key}", f"unknown key{suggest(key, CLAIM_KEYS)}; "
                            f"allowed: {', '.join(CLAIM_KEYS)}")
    text = text_value(ctx.source, f"{dotted}.claim", raw.get("claim"), required=True)
    tested_as = raw.get("tested_as")
    if tested_as is None:
        raise ctx.error(f"{dotted}.tested_as", f"missing; allowed: {', '.join(TESTED_AS)}")
    if not isinstance(tested_as, str):
        raise ctx.error(f"{dotted}.tested_as", f"must be a string, not {show(tested_as)}; "
                        f"allowed: {', '.join(TESTED_AS)}")
    if tested_as not in TESTED_AS:
        raise ctx.error(f"{dotted}.tested_as", f"unknown value {tested_as!r}"
                        f"{suggest(tested_as, TESTED_AS)}; allowed: {', '.join(TESTED_AS)}")
    why = raw.get("why", "")
    if tested_as != "stated" and (why is None or why == ""):
        raise ctx.error(f"{dotted}.why", f"missing; tested_as = {tested_as!r} needs one sentence saying why "
                        f"(e.g. why = \"needs a scheduler sweep this lab does not run\"); allowed: a text of at "
                        f"most 300 characters, left out only with tested_as = \"stated\"")
    why = text_value(ctx.source, f"{dotted}.why", why, limit=300)
    hyps = raw.get("hypotheses", [])
    if not isinstance(hyps, list) or not all(isinstance(h, str) for h in hyps):
        raise ctx.error(f"{dotted}.hypotheses", f"must be a list of hypothesis ids, not {show(hyps)}")
    if tested_as == "untested" and hyps:
        raise ctx.error(f"{dotted}.hypotheses", "must be [] when tested_as = \"untested\"; "
                        "allowed: [] here, or tested_as = stated / weaker / related")
    if tested_as != "untested" and not hyps:
        raise ctx.error(f"{dotted}.hypotheses", f"must be a non-empty list of hypothesis ids when "
                        f"tested_as = {tested_as!r}; allowed: [] only with tested_as = \"untested\"")
    for h in hyps:
        if h not in ids:
            raise ctx.error(f"{dotted}.hypotheses", f"no hypothesis {h!r}{suggest(h, ids)}; "
                            f"ids: {', '.join(ids) or 'none'}")
    return Claim(text, tuple(hyps), text_value(ctx.source, f"{dotted}.source_value", raw.get("source_value", ""), limit=200),
                 tested_as, why)
