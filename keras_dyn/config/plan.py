"""The plan of an experiment: ``[grid]`` and ``[[cases]]`` parsed and checked, and every run of the plan built once (valid config, model under the caps, a distinct valid run name) before anything runs.
"""

from __future__ import annotations

from keras_dyn.config.names import name_problem, show, show_point, suggest
from keras_dyn.config.remedies import check_early_stopping_point, check_run_remedies, count_params
from keras_dyn.config.rules import grid_value
from keras_dyn.config.schema import (DATASET_SHAPES, GRID_KEYS, MAX_CASES, MAX_DECISION_GRID, MAX_LAYERS,
                                     MAX_PARAMS, MAX_RUNS, RUN_NAME_MAX, RUN_NAME_TAGS, SYNTHETIC,
                                     TWIN_ACTIVATIONS, TWIN_OPTIMIZERS)
from keras_dyn.errors import Collector, ConfigError


def check_plan(cfg):
    """Every run of the plan: a valid config (grid values applied), a model under the size caps,
    a valid and distinct run name. The plan's size is checked before it is expanded."""
    n_points = cfg.n_points
    n_runs = n_points * len(cfg.training.seeds)
    if n_runs > MAX_RUNS:
        key = "grid" if cfg.grid else "cases" if cfg.cases else "training.seeds"
        what = (f"{len(cfg.cases)} case(s) x {n_points // len(cfg.cases)} grid point(s)" if cfg.cases
                else f"{n_points} grid point(s)")
        raise ConfigError(cfg.source, key, f"{what} x {len(cfg.training.seeds)} "
                          f"seed(s) = {n_runs} runs; allowed: at most {MAX_RUNS}")
    names = {}
    for point in cfg.points():
        check_early_stopping_point(cfg, point, lambda target: grid_key_of(cfg, point, target))
        run_cfg = cfg.at_point(point) if point else cfg  # every point must build a valid config
        key = grid_key_of(cfg, point, "model.hidden")
        hidden = run_cfg.model.hidden
        if len(hidden) > MAX_LAYERS:
            raise ConfigError(cfg.source, key, f"{len(hidden)} hidden layers; allowed: at most {MAX_LAYERS}")
        n_in, n_out = DATASET_SHAPES[run_cfg.data.dataset]
        check_run_combinations(cfg, point, run_cfg)
        widths = [n_in, *hidden, 1 if run_cfg.model.output == "sigmoid" else n_out]
        params = count_params(widths, run_cfg.model.normalization, run_cfg.model.residual)
        if params > MAX_PARAMS:
            raise ConfigError(cfg.source, key, f"the model {'-'.join(map(str, hidden))} on "
                              f"{run_cfg.data.dataset} has {params:,} parameters; allowed: at most "
                              f"{MAX_PARAMS:,}")
        for seed in cfg.training.seeds:
            name = cfg.run_name(point, seed, _at_point=run_cfg)
            problem = name_problem(name, RUN_NAME_MAX)
            where = "cases" if cfg.cases else "grid"
            if problem:
                raise ConfigError(cfg.source, where, f"run name {problem}")
            if name in names and names[name] != point:
                raise ConfigError(cfg.source, where, f"points {show_point(names[name])} and "
                                  f"{show_point(point)} both give the run name {name!r}; make the "
                                  f"values distinct when written with 6 significant digits (a run "
                                  f"name shows {', '.join(RUN_NAME_TAGS)}, the widths and the "
                                  f"batch size)")
            names[name] = point


def check_run_combinations(cfg, point: dict, run_cfg):
    """Settings that depend on the run's data set, model and optimiser (grid values applied)."""
    dataset = run_cfg.data.dataset
    data_key = grid_key_of(cfg, point, "data.dataset")
    if run_cfg.model.output == "sigmoid" and DATASET_SHAPES[dataset][1] != 2:
        raise ConfigError(cfg.source, "model.output", f"\"sigmoid\" (one unit, binary cross-entropy) "
                          f"needs 2-class data; {dataset} ({data_key}) has {DATASET_SHAPES[dataset][1]} "
                          f"classes: use \"softmax\"")
    gain, init = run_cfg.model.init_gain, run_cfg.model.keras_initializer
    if gain != 1.0 and init not in ("orthogonal", "identity"):
        raise ConfigError(cfg.source, grid_key_of(cfg, point, "model.init_gain"), f"a gain of "
                          f"{gain} scales orthogonal and identity kernels only; the initializer "
                          f"({grid_key_of(cfg, point, 'model.initializer')}) is "
                          f"{run_cfg.model.initializer!r}: use 1.0")
    if cfg.probes.decision_grid and dataset not in SYNTHETIC:
        raise ConfigError(cfg.source, "probes.decision_grid", f"needs 2-D inputs (circle, nested_rings); "
                          f"{dataset} ({data_key}) is an image data set: use 0")
    if cfg.probes.decision_grid == 1:
        raise ConfigError(cfg.source, "probes.decision_grid", "1 is out of range; allowed: 0 (off) or "
                          f"2 to {MAX_DECISION_GRID}")
    check_run_remedies(cfg, point, run_cfg, lambda target: grid_key_of(cfg, point, target))
    if cfg.probes.numpy_twin_seeds and not cfg.probes.numpy_twin:
        raise ConfigError(cfg.source, "probes.numpy_twin_seeds", "needs probes.numpy_twin = true")
    if cfg.probes.numpy_twin:
        t = run_cfg.training
        if t.optimizer not in TWIN_OPTIMIZERS:
            raise ConfigError(cfg.source, "probes.numpy_twin", f"the NumPy twin reproduces "
                              f"{' and '.join(TWIN_OPTIMIZERS)} only; training.optimizer "
                              f"({grid_key_of(cfg, point, 'training.optimizer')}) is {t.optimizer!r}")
        if t.scheduler != "none":
            raise ConfigError(cfg.source, "probes.numpy_twin", f"the NumPy twin uses a constant "
                              f"learning rate; training.scheduler is {t.scheduler!r}: use \"none\"")
        if run_cfg.model.activation not in TWIN_ACTIVATIONS:
            raise ConfigError(cfg.source, "probes.numpy_twin", f"the NumPy twin knows the activations "
                              f"{', '.join(TWIN_ACTIVATIONS)}; model.activation is "
                              f"{run_cfg.model.activation!r}")


def grid_key_of(cfg, point: dict, target: str) -> str:
    """The grid or case key that sets ``target`` in this point, else ``target`` itself."""
    section, fld = target.split(".")
    for key in point:
        if GRID_KEYS[key] == (section, fld):
            return cfg.origin(point, key)
    return target


def check_grid_key(source, dotted, key, what):
    """``key`` is one of GRID_KEYS, else a one-line error with a suggestion and the keys allowed."""
    if key not in GRID_KEYS:
        raise ConfigError(source, dotted, f"{what}{suggest(key, GRID_KEYS)}; allowed: {', '.join(GRID_KEYS)}")


def parse_grid(source, raw_grid, sections=None) -> dict:
    """``[grid]``: each key checked on its own (every bad key is reported); the keys that
    exclude each other are checked among the keys that are valid."""
    grid, col = {}, Collector()
    for key, values in raw_grid.items():
        checked = col.attempt(_grid_values, source, key, values)
        if checked is not Collector.FAILED:
            grid[key] = checked
    if "hidden" in grid and any(k in grid for k in ("units", "layers")):
        col.add(ConfigError(source, "grid.hidden", "use either hidden or units/layers, not both"))
    if "corruption" in grid:
        for other in ("label_noise", "input_corruption"):
            if other in grid:
                col.add(ConfigError(source, f"grid.{other}", "use either corruption (it sets "
                                    "label_noise and input_corruption) or this key, not both"))
    col.raise_all()
    return grid


def _grid_values(source, key, values) -> tuple:
    dotted = f"grid.{key}"
    check_grid_key(source, dotted, key, "unknown grid key")
    if not isinstance(values, list) or not values:
        raise ConfigError(source, dotted, f"must be a non-empty list of values, not {show(values)}")
    checked = [grid_value(source, dotted, key, value) for value in values]
    if len(set(map(repr, checked))) != len(checked):
        raise ConfigError(source, dotted, "values must be distinct")
    return tuple(checked)


def parse_cases(source, raw_cases, grid) -> tuple:
    """``[[cases]]``: listed combinations of grid-key values. Every case sets the same keys, none
    of them a ``[grid]`` key (``grid``: the grid's keys), and no two cases are equal. Each case is
    checked on its own (every bad case is reported); the cases that failed are left out of the
    comparisons between cases."""
    if (not isinstance(raw_cases, list) or not raw_cases
            or not all(isinstance(c, dict) for c in raw_cases)):
        raise ConfigError(source, "cases", f"must be a non-empty list of tables ([[cases]] blocks, "
                          f"each setting grid keys, e.g. optimizer = \"sgd\" and learning_rate = "
                          f"0.1), not {show(raw_cases)}")
    if len(raw_cases) > MAX_CASES:
        raise ConfigError(source, "cases", f"has {len(raw_cases)} cases; allowed: at most {MAX_CASES}")
    cases, col = [], Collector()  # cases: (index, case) of the cases that are valid
    for i, raw in enumerate(raw_cases):
        case = col.attempt(_case, source, i, raw, grid)
        if case is Collector.FAILED or col.attempt(_compare_case, source, i, case, cases) is Collector.FAILED:
            continue
        cases.append((i, {k: case[k] for k in cases[0][1]} if cases else case))  # the first's key order
    col.raise_all()
    return tuple(case for _, case in cases)


def _case(source, i, raw, grid) -> dict:
    if not raw:
        raise ConfigError(source, f"cases[{i}]", f"is empty; a case sets grid keys ("
                          f"{', '.join(GRID_KEYS)})")
    case = {}
    for key, value in raw.items():
        dotted = f"cases[{i}].{key}"
        check_grid_key(source, dotted, key, "unknown key")
        if key in grid:
            raise ConfigError(source, dotted, f"is also a [grid] key; a key is swept either by "
                              f"the grid or by the cases, not both")
        case[key] = grid_value(source, dotted, key, value)
    if "hidden" in case and any(k in case or k in grid for k in ("units", "layers")):
        raise ConfigError(source, f"cases[{i}].hidden", "use either hidden or units/layers, not both")
    if "hidden" in grid and any(k in case for k in ("units", "layers")):
        raise ConfigError(source, f"cases[{i}]", "sets units/layers while grid.hidden is swept; "
                          "use either hidden or units/layers, not both")
    return case


def _compare_case(source, i, case, cases):
    """Case ``i`` sets the keys the first valid case sets, and equals none of the cases before it."""
    if cases and set(case) != set(cases[0][1]):
        j0, first = cases[0]
        missing = [k for k in first if k not in case]
        extra = [k for k in case if k not in first]
        what = "; ".join(p for p in (f"lacks {', '.join(missing)}" if missing else "",
                                     f"adds {', '.join(extra)}" if extra else "") if p)
        raise ConfigError(source, f"cases[{i}]", f"{what}; every case must set the same keys "
                          f"(cases[{j0}] sets {', '.join(first)})")
    for j, other in cases:
        if all(repr(other[k]) == repr(case[k]) for k in case):
            raise ConfigError(source, f"cases[{i}]", f"is the same as cases[{j}]; cases must "
                              f"be distinct")


def check_combinations(cfg):
    """Settings of the sections that exclude each other (each reported; the runs' own
    combinations are :func:`check_run_combinations`)."""
    col = Collector()
    if cfg.data.input_corruption != "none" and cfg.data.dataset not in ("mnist", "fashion_mnist"):
        col.add(ConfigError(cfg.source, "data.input_corruption", f"{cfg.data.input_corruption!r} "
                            f"permutes pixels; allowed: an image data set (mnist, fashion_mnist), or "
                            f"\"none\" for {cfg.data.dataset}"))
    if cfg.log.gradient_mode == "probe" and not cfg.log.gradients:
        col.add(ConfigError(cfg.source, "log.gradient_mode", "needs log.gradients = true"))
    col.raise_all()
