"""``--quick``: the same experiment, small enough for a first look (and for CI).

A quick plan trains at most :data:`QUICK_MAX_RUNS` runs of at most :data:`QUICK_MAX_EPOCHS`
epochs, each on at most :data:`QUICK_TRAIN_EXAMPLES` training and :data:`QUICK_TEST_EXAMPLES` test
examples (synthetic sets: at most :data:`QUICK_SYNTHETIC_SAMPLES` points). Which runs it keeps is
the lab's choice, written in its TOML file::

    [lab.quick]
    keep = { units = [256, 2048], label_noise = [0.0, 0.4] }  # values of grid/case keys it keeps
    seeds = 2                                                 # the first N seeds (default 2)

A key left out of ``keep`` keeps every value; a case is kept when each of its values for the
``keep`` keys is kept. The plan (points x seeds) must hold at most eight runs: the config check
refuses it otherwise. Without ``[lab.quick]`` (or without ``[lab]``) the plan is chosen here
(:func:`default_plan`): every key trimmed to its first and last value, then one seed, then keys
reduced to their first value, until it fits.

Hypotheses and findings sections that read runs, epochs or readings the quick plan leaves out are
not checked against it: they say "not in the quick plan" (see :mod:`keras_dyn.config.lab`). Epoch
readings past the quick run's last epoch are read, and labelled, at that epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from keras_dyn.config.names import same_value, show, suggest
from keras_dyn.errors import ConfigError

QUICK_MAX_RUNS = 8
QUICK_MAX_EPOCHS = 2
QUICK_MAX_EXAMPLES = 5000  # training examples of one quick run (the plan-size test's bound)
QUICK_TRAIN_EXAMPLES = 1000
QUICK_TEST_EXAMPLES = 500
QUICK_SYNTHETIC_SAMPLES = 1000
QUICK_MAX_SEEDS = 2  # the default number of seeds
QUICK_KEYS = ("keep", "seeds")


@dataclass(frozen=True)
class QuickSpec:
    """``[lab.quick]``: ``keep`` maps swept keys to the values kept (tuples); ``seeds`` a count."""

    keep: dict
    seeds: int = QUICK_MAX_SEEDS


def parse_quick(source, raw, cfg) -> QuickSpec:
    """Validate ``[lab.quick]`` against the full experiment ``cfg`` (one-line errors)."""
    if not isinstance(raw, dict):
        raise ConfigError(source, "lab.quick", f"must be a table ([lab.quick]), not {show(raw)}")
    for key in raw:
        if key not in QUICK_KEYS:
            raise ConfigError(source, f"lab.quick.{key}", f"unknown key{suggest(key, QUICK_KEYS)}; "
                              f"allowed: {', '.join(QUICK_KEYS)}")
    seeds = raw.get("seeds", QUICK_MAX_SEEDS)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= QUICK_MAX_RUNS:
        raise ConfigError(source, "lab.quick.seeds", f"must be a whole number from 1 to {QUICK_MAX_RUNS} "
                          f"(the first N seeds of training.seeds), not {show(seeds)}")
    keep_raw = raw.get("keep", {})
    if not isinstance(keep_raw, dict):
        raise ConfigError(source, "lab.quick.keep", f"must be a table of grid key = [values], e.g. "
                          f"keep = {{ units = [64, 256] }}, not {show(keep_raw)}")
    swept = cfg.swept
    keep = {}
    for key, values in keep_raw.items():
        dotted = f"lab.quick.keep.{key}"
        if key not in swept:
            allowed = ", ".join(swept) if swept else "none (this experiment has no [grid] or [[cases]])"
            raise ConfigError(source, dotted, f"not a grid key{suggest(key, swept)}; grid keys: {allowed}")
        if not isinstance(values, list) or not values:
            raise ConfigError(source, dotted, f"must be a non-empty list of {key} values, not {show(values)}")
        shown = ", ".join(repr(list(v)) if isinstance(v, tuple) else repr(v) for v in swept[key])
        kept = []
        for value in values:
            match = [v for v in swept[key] if _same(v, value)]
            if not match:
                raise ConfigError(source, dotted, f"{value!r} is not one of the plan's {key} values "
                                  f"({shown})")
            if match[0] not in kept:
                kept.append(match[0])
        keep[key] = tuple(v for v in swept[key] if v in kept)  # plan order
    spec = QuickSpec(keep, seeds)
    grid, cases = kept_plan(cfg, spec)
    if cfg.cases and not cases:
        raise ConfigError(source, "lab.quick.keep", "keeps no case: every case has a value it leaves out")
    points = max(len(cases), 1) * math.prod(len(v) for v in grid.values())
    runs = points * min(seeds, len(cfg.training.seeds))
    if runs > QUICK_MAX_RUNS:
        raise ConfigError(source, "lab.quick", f"the quick plan has {runs} runs ({points} point(s) x "
                          f"{min(seeds, len(cfg.training.seeds))} seed(s)); at most {QUICK_MAX_RUNS}: keep "
                          f"fewer values (lab.quick.keep) or fewer seeds (lab.quick.seeds)")
    return spec


def _same(a, b) -> bool:
    return same_value(a, b)


def kept_plan(cfg, spec: QuickSpec) -> tuple[dict, list]:
    """The grid (key -> list) and the cases (dicts) that ``spec.keep`` keeps, in plan order."""
    grid = {k: [v for v in vs if k not in spec.keep or v in spec.keep[k]] for k, vs in cfg.grid.items()}
    cases = [case for case in cfg.cases
             if all(k not in spec.keep or any(_same(v, x) for x in spec.keep[k]) for k, v in case.items())]
    return grid, cases


def default_plan(cfg) -> tuple[dict, list, int]:
    """The quick plan of an experiment that names none: ``(grid, cases, seeds)`` with at most
    :data:`QUICK_MAX_RUNS` runs. Each swept list (a grid list; the list of cases) is trimmed to
    its first and last value (the longest first), then one seed, then lists reduced to their
    first value (the last key first)."""
    axes = [list(vs) for vs in cfg.grid.values()] + ([list(cfg.cases)] if cfg.cases else [])
    seeds = min(QUICK_MAX_SEEDS, len(cfg.training.seeds))

    def runs():
        return math.prod(len(a) for a in axes) * seeds

    while runs() > QUICK_MAX_RUNS and any(len(a) > 2 for a in axes):
        longest = max(range(len(axes)), key=lambda i: len(axes[i]))
        axes[longest] = [axes[longest][0], axes[longest][-1]]
    if runs() > QUICK_MAX_RUNS:
        seeds = 1
    for axis in reversed(axes):
        if runs() <= QUICK_MAX_RUNS:
            break
        del axis[1:]
    grid = dict(zip(cfg.grid, axes))
    cases = axes[-1] if cfg.cases else []
    return grid, cases, seeds


def quick_plan(cfg) -> tuple[dict, list, int]:
    """``(grid, cases, seeds)`` of the quick plan: the lab's ``[lab.quick]``, else the default."""
    spec = getattr(cfg.lab, "quick", None) if cfg.lab is not None else None
    if spec is None:
        return default_plan(cfg)
    grid, cases = kept_plan(cfg, spec)
    return grid, cases, min(spec.seeds, len(cfg.training.seeds))


def quick_version(cfg):
    """The quick plan of ``cfg`` as an experiment config (name + ``-quick``, ``cfg.quick`` set):
    the kept grid values and cases, the first seeds, at most two epochs (cases or grid epochs that
    become equal are run once), small data subsets and probe sizes."""
    grid, cases, n_seeds = quick_plan(cfg)
    if cfg.data.dataset in ("circle", "nested_rings"):  # small already: fewer points, no subsets
        data = {"n_samples": min(cfg.data.n_samples, QUICK_SYNTHETIC_SAMPLES)}
    else:
        data = {"subset": min(cfg.data.subset or QUICK_TRAIN_EXAMPLES, QUICK_TRAIN_EXAMPLES),
                "test_subset": min(cfg.data.test_subset or QUICK_TEST_EXAMPLES, QUICK_TEST_EXAMPLES)}
    training = {"seeds": list(cfg.training.seeds[:n_seeds]),
                "epochs": min(cfg.training.epochs, QUICK_MAX_EPOCHS)}
    sections = {}
    if cfg.grid:
        raw_grid = cfg.to_dict()["grid"]
        grid = {k: [raw_grid[k][list(cfg.grid[k]).index(v)] for v in vs] for k, vs in grid.items()}
        if "epochs" in grid:
            grid["epochs"] = sorted({min(e, QUICK_MAX_EPOCHS) for e in grid["epochs"]})
        sections["grid"] = grid
    if cfg.cases:
        raw_cases = cfg.to_dict()["cases"]
        kept = []  # cases that become equal once capped are run once
        for case in cases:
            case = dict(raw_cases[list(cfg.cases).index(case)])
            if "epochs" in case:
                case["epochs"] = min(case["epochs"], QUICK_MAX_EPOCHS)
            if case not in kept:
                kept.append(case)
        sections["cases"] = kept
    probes = {"shift_test_size": min(cfg.probes.shift_test_size, 300),
              "drift_probe_size": min(cfg.probes.drift_probe_size, 128)}
    log = {"probe_size": min(cfg.log.probe_size, 128)}
    return cfg.replace(data=data, training=training, probes=probes, log=log,
                       experiment={"name": cfg.name + "-quick"}, quick=True, **sections)


def plan_size(cfg) -> dict:
    """What a (quick) config trains: ``runs``, the most ``epochs`` of a run, the training
    ``examples`` and ``test_examples`` of a run (the data set's own sizes when no subset is set:
    ``None`` for a full image set, which a quick plan never has)."""
    points = cfg.points()
    runs_cfg = [cfg.at_point(p) for p in points]
    epochs = max(c.training.epochs for c in runs_cfg)
    synthetic = [c.data for c in runs_cfg if c.data.dataset in ("circle", "nested_rings")]
    images = [c.data for c in runs_cfg if c.data.dataset not in ("circle", "nested_rings")]
    examples = max([d.n_samples for d in synthetic] + [d.subset or math.inf for d in images])
    test = max([max(d.n_samples // 4, 10) for d in synthetic] + [d.test_subset or math.inf for d in images])
    return {"runs": len(points) * len(cfg.training.seeds), "epochs": epochs,
            "examples": examples, "test_examples": test}
