"""The keys of a ``[lab]`` section, each with its one-line meaning (the one place for both), and
what a findings-section parameter of each kind accepts.

:mod:`keras_dyn.config.lab` validates the section with these key lists;
:mod:`keras_dyn.config.reference` writes the meanings into docs/config.md.
"""

from __future__ import annotations

RUNNERS = ("sequential", "grid")


EXPECTS = ("greater", "less", "below", "argmax", "increasing", "decreasing")  # below: every run of side a under `bound`

KIND_EXPECTS = ("argmax", "increasing", "decreasing")  # over a grid key (keras_dyn.config.lab_kinds)

BETTER = ("higher", "lower")  # an argmax's direction


# how a claim's hypotheses test it: as the source states it, a weaker form, a related claim, or not at all
TESTED_AS = ("stated", "weaker", "related", "untested")


LAB_KEY_DOCS = {
    "title": "required: a short title",
    "question": "required: the question the lab asks, one sentence",
    "source": "the write-up the lab checks (a file in shared/seeds); \"\" = none",
    "runner": "sequential (one run after another, the default) or grid (keras-tuner; needs a [grid] "
              "or [[cases]] and data.validation_split > 0)",
    "hypotheses": "[[lab.hypotheses]] blocks: what is expected, each checked on the runs (keys below)",
    "claims": "[[lab.claims]] blocks: the source's claims, each tested by hypotheses (keys below)",
    "findings": "[[lab.findings]] blocks: the findings sections to write, in order; section = a name "
                "below, plus that section's parameters",
    "quick": "[lab.quick]: what --quick keeps: keep = { grid key = [values] } (a key left out keeps every "
             "value) and seeds = N (default 2); at most 8 runs in all (keras_dyn.config.quick)",
}


HYPOTHESIS_KEY_DOCS = {
    "id": "required: a short name (a letter, then letters, digits, _ or -; at most 20), distinct",
    "statement": "required: the hypothesis in words",
    "metric": "required: a metric name (see Metrics below)",
    "at": "the reading: an epoch, \"last\" (default), \"last:K\", \"best_val\" or \"mean\"",
    "expect": "required: greater (A > B), less (A < B), below (every run of A < bound), argmax (the setting "
              "best of the grid key over has the best mean), increasing or decreasing (a monotone trend over the "
              "numeric grid key over)",
    "a": "side A: a table of grid / case values selecting runs (a key left out selects every value), "
         "metric parameters, at and label",
    "b": "side B, like a; left out when expect = \"below\", \"argmax\", \"increasing\" or \"decreasing\"",
    "layer": "metric parameter: hidden1 ... hiddenN, output, first, last or mean (/kernel or /bias)",
    "kind": "metric parameter: a shift kind (one of probes.shifts) or mean (every kind)",
    "severity": "metric parameter: a shift severity (probes.shift_severities)",
    "of": "metric parameter: the per-epoch metric a derived metric reads",
    "threshold": "metric parameter: the absolute value a derived metric waits for",
    "fraction": "metric parameter: the fraction of the run's own final or best value a derived metric waits for",
    "bound": "expect = \"below\" only: the number every run of side a must stay under",
    "pool": "comparisons, argmax, trends: the grid keys a side may leave out and average over, per seed (e.g. [\"seed_set\"]); "
            "a side that leaves out a key the plan sweeps, without pool, is refused",
    "over": "argmax, increasing, decreasing: the grid key whose values are compared (a side a, optional, fixes the "
            "other keys); a trend needs a numeric key with at least 3 values",
    "best": "argmax only: the value of over expected to have the best mean (one of the grid's values)",
    "better": "argmax only: higher or lower is better; default lower for losses and epoch counts, higher otherwise",
    "by": "an interaction (with greater / less): one grid key and two of its values, by = { units = [4, 32] }; "
          "the hypothesis is about (A − B | first) − (A − B | second), paired by seed; a and b leave that key out",
    "margin": "greater / less / increasing / decreasing only: the smallest difference that matters, in the metric's units (a fraction "
              "for accuracies: 0.01 = 1 point) or \"N%\" of the sides' mean; decides \"equivalent\" (TOST). "
              "Default by the metric's kind: 1 point, 0.01 for losses, 1 epoch, \"10%\" otherwise "
              "(keras_dyn.stats); an interaction's margin bounds the difference of differences, a trend's the "
              "change from the lowest to the highest value of over",
}


CLAIM_KEY_DOCS = {
    "claim": "required: the claim, as the source makes it",
    "hypotheses": "required: the ids of the hypotheses that test it (at least one; [] only when tested_as = "
                  "\"untested\")",
    "tested_as": "required: stated (the hypotheses test the claim as written), weaker (a weaker form of it), "
                 "related (a related claim, not this one) or untested (not tested here; hypotheses = [])",
    "why": "one sentence: why the test is weaker or related, or why the claim is not tested here; "
           "required unless tested_as = \"stated\" (at most 300 characters)",
    "source_value": "the number the source reports, shown beside ours (at most 200 characters)",
}


SIDE_EXTRA_DOCS = {
    "at": "a reading for this side only (overrides the hypothesis's at)",
    "label": "the side's name in the findings (at most 80 characters)",
}


LAB_KEYS = tuple(LAB_KEY_DOCS)


HYPOTHESIS_KEYS = tuple(HYPOTHESIS_KEY_DOCS)


CLAIM_KEYS = tuple(CLAIM_KEY_DOCS)


SIDE_EXTRA = tuple(SIDE_EXTRA_DOCS)


# what a findings-section parameter of each kind accepts (checked by lab_checks.check_param_value)
PARAM_KIND_DOCS = {
    "text": "text",
    "bool": "true or false",
    "number": "a number > 0",
    "int": "a whole number >= 0",
    "fraction": "a number in (0, 1]",
    "metric": "a metric name (see Metrics)",
    "metrics": "a non-empty list of metric names",
    "reading": "a reading: an epoch, \"last\", \"last:K\", \"best_val\" or \"mean\"",
    "readings": "a non-empty list of readings",
    "grid_key": "a key the plan sweeps ([grid] or [[cases]])",
    "grid_keys": "a non-empty list of keys the plan sweeps",
    "layer": "a layer: hidden1 ... hiddenN, output, first or last, optionally /kernel or /bias",
    "strings": "a list of strings",
    "selector": "a table of grid values selecting runs, e.g. { label_noise = 0.4 }",
    "values": "a table of label = [numbers]",
    "params": "a table of metric parameters, e.g. { layer = \"hidden1\" }",
    "params_list": "a table of metric parameters or a list of them",
}
