"""The value rules: the TOML type of every key checked against its default's type, then the key's own rule (a choice, a range, a list of whole numbers, a Keras name). ``RULES`` is keyed by ``section.key``.
"""

from __future__ import annotations

import dataclasses
import math
import struct

from keras_dyn.config.names import check_name, plain_text, show, suggest
from keras_dyn.config.remedies import dropout_rule, early_stopping_rule
from keras_dyn.config.schema import (CORRUPTIONS, DATASETS, DTYPES, GRADIENT_MODES, GRID_KEYS,
                                     INITIALIZER_ALIASES, INPUT_CORRUPTIONS, INT_MAX, KERAS_ACTIVATIONS,
                                     KERAS_INITIALIZERS, LABEL_NOISE_KINDS, MAX_DECISION_GRID, MAX_LAYERS,
                                     MAX_RUNS, MAX_SEVERITY, MAX_WIDTH, NAME_MAX, NORM_LAYERS, NORMALIZATIONS,
                                     OPTIMIZERS,
                                     OUTPUTS, QUICK_SUFFIX, SCHEDULERS, SECTION_TYPES, SEED_MAX, SHIFT_KINDS)
from keras_dyn.errors import ConfigError


def check_value(source, dotted, rule_key, value, fld):
    default = fld.default if fld.default is not dataclasses.MISSING else fld.default_factory()
    rule = RULES.get(rule_key)
    if not getattr(rule, "any_type", False):  # such a rule checks the type itself
        value = _coerce(source, dotted, value, default)
    if rule is not None:
        value = rule(source, dotted, value)
    return value


def _coerce(source, dotted, value, default):
    """Check the TOML type against the default's type."""
    expected = type(default)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(source, dotted, f"must be true or false, not {show(value)}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, dotted, f"must be a whole number, not {show(value)}")
        if not -INT_MAX - 1 <= value <= INT_MAX:
            raise ConfigError(source, dotted, f"{value} is out of range; allowed: a 64-bit whole number")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(source, dotted, f"must be a number, not {show(value)}")
        if not math.isfinite(value):
            raise ConfigError(source, dotted, f"must be a finite number, not {value}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(source, dotted, f"must be a string, not {show(value)}")
        return plain_text(source, dotted, value)
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise ConfigError(source, dotted, f"must be a list, e.g. [1, 2], not {show(value)}")
        return tuple(value)
    raise ConfigError(source, dotted, f"unsupported type {expected.__name__}")  # pragma: no cover


def check_list_item(source, dotted, item, low: int, high: int | None = None) -> int:
    """One item of a list of whole numbers in ``low..high``; the error shows an out-of-range
    number as itself ("found 0") and anything else with its type ("found a string ('x')")."""
    is_int = isinstance(item, int) and not isinstance(item, bool)
    if not is_int or item < low or (high is not None and item > high):
        found = repr(item) if is_int else show(item)
        allowed = f">= {low}" if high is None else f"from {low} to {high}"
        raise ConfigError(source, dotted, f"every item must be a whole number {allowed}, found {found}")
    return item


def _allows(text):
    """Give a named rule function its ``allowed`` text (shown in docs/config.md)."""
    def mark(rule):
        rule.allowed = text
        return rule
    return mark


def _choice(choices):
    @_allows("one of: " + ", ".join(choices))
    def rule(source, dotted, value):
        if value not in choices:
            raise ConfigError(source, dotted, f"unknown value {value!r}{suggest(value, choices)}; "
                              f"allowed: {', '.join(choices)}")
        return value
    return rule


def _range(low=None, high=None, low_open=False, high_open=False, what="value"):
    lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
    allowed = " and ".join(p for p in (lo, hi) if p)

    @_allows(allowed)
    def rule(source, dotted, value):
        bad = ((low is not None and (value < low or (low_open and value == low)))
               or (high is not None and (value > high or (high_open and value == high))))
        if bad:
            raise ConfigError(source, dotted, f"{value} is out of range; allowed: {allowed}")
        return value
    return rule


def _int_list(low, high=None, nonempty=True, what="whole numbers", max_len=None, distinct=False):
    allowed = (f"{'a non-empty' if nonempty else 'a'} list of {'distinct ' if distinct else ''}{what}, each a "
               f"whole number {f'>= {low}' if high is None else f'from {low} to {high}'}"
               f"{f'; at most {max_len} items' if max_len is not None else ''}")

    @_allows(allowed)
    def rule(source, dotted, value):
        if nonempty and not value:
            raise ConfigError(source, dotted, f"must be a non-empty list of {what}")
        if max_len is not None and len(value) > max_len:
            raise ConfigError(source, dotted, f"has {len(value)} items; allowed: at most {max_len}")
        for item in value:
            check_list_item(source, dotted, item, low, high)
        if distinct and len(set(value)) != len(value):
            raise ConfigError(source, dotted, f"{what} must be distinct")
        return tuple(value)
    return rule


@_allows("any Keras activation that keeps the width: " + ", ".join(sorted(KERAS_ACTIVATIONS)))
def _activation(source, dotted, value):
    if value in KERAS_ACTIVATIONS:
        return value
    raise ConfigError(source, dotted, f"unknown activation {value!r}"
                      f"{suggest(value, KERAS_ACTIVATIONS)}; allowed: any Keras activation, e.g. "
                      f"relu, sigmoid, tanh, gelu, elu, selu, leaky_relu, silu, softplus, linear")


@_allows("an alias (" + ", ".join(f"{k} = {v}" for k, v in INITIALIZER_ALIASES.items()) + ") or a Keras "
         "initializer: " + ", ".join(sorted(KERAS_INITIALIZERS)))
def _initializer(source, dotted, value):
    if INITIALIZER_ALIASES.get(value, value) in KERAS_INITIALIZERS:
        return value
    allowed = sorted(set(INITIALIZER_ALIASES) | KERAS_INITIALIZERS)
    raise ConfigError(source, dotted, f"unknown initializer {value!r}{suggest(value, allowed)}; "
                      f"allowed: he, xavier, glorot, orthogonal, lecun or a Keras initializer "
                      f"name ({', '.join(sorted(KERAS_INITIALIZERS))})")


@_allows("a number > 0 and <= 100, or \"relu\" (sqrt(2)); not 1 only with orthogonal or identity")
def _gain(source, dotted, value):
    if value == "relu":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(source, dotted, f"must be a number or \"relu\", not {show(value)}")
    if not (math.isfinite(value) and 0 < value <= 100):
        raise ConfigError(source, dotted, f"{value} is out of range; allowed: > 0 and <= 100, or \"relu\"")
    return float(value)


_gain.any_type = True


@_allows("a list of distinct names from: " + ", ".join(SHIFT_KINDS))
def _shift_list(source, dotted, value):
    for item in value:
        if item not in SHIFT_KINDS:
            shown = repr(item) if isinstance(item, str) else show(item)
            raise ConfigError(source, dotted, f"unknown shift {shown}{suggest(str(item), SHIFT_KINDS)}; "
                              f"allowed: {', '.join(SHIFT_KINDS)}")
    if len(set(value)) != len(value):
        raise ConfigError(source, dotted, "shifts must be distinct")
    return tuple(value)


_seeds = _int_list(0, SEED_MAX, what="seeds", max_len=MAX_RUNS, distinct=True)


@_allows(f"1 to {NAME_MAX} characters from A-Z a-z 0-9 . _ -, starting "
         f"with a letter or digit, no '..'")
def _experiment_name(source, dotted, value):
    if not value:
        raise ConfigError(source, dotted, "must not be empty; leave the key out to use the file name")
    limit = NAME_MAX + len(QUICK_SUFFIX) if value.endswith(QUICK_SUFFIX) else NAME_MAX
    return check_name(source, dotted, value, limit)


# The smallest normal float32: a learning rate below it is 0 or subnormal in the optimiser's float32
# variable (Keras keeps the rate in float32 whatever model.dtype is), and the run trains nothing.
FLOAT32_TINY = 1.1754943508222875e-38


def _float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


@_allows(f"> 0 and <= 10, and at least {FLOAT32_TINY:.3g} (smaller rounds to 0 or a subnormal in float32)")
def _learning_rate(source, dotted, value):
    value = _range(0.0, 10.0, low_open=True)(source, dotted, value)
    if value < FLOAT32_TINY:
        raise ConfigError(source, dotted, f"{value} rounds to {'a subnormal' if _float32(value) else '0'} in "
                          f"float32 (the optimiser's learning-rate variable), so nothing would train; "
                          f"allowed: >= {FLOAT32_TINY:.3g} and <= 10")
    return value


RULES = {
    "experiment.name": _experiment_name,
    "data.dataset": _choice(DATASETS),
    "data.validation_split": _range(0.0, 1.0, high_open=True),
    "data.normalize": _choice(NORMALIZATIONS),
    "data.subset": _range(0),
    "data.test_subset": _range(0),
    "data.split_seed": _range(0, SEED_MAX),
    "data.n_samples": _range(10, 1_000_000),
    "data.noise": _range(0.0, 100.0),
    "data.label_noise": _range(0.0, 1.0),
    "data.label_noise_kind": _choice(LABEL_NOISE_KINDS),
    "data.label_noise_seed": _range(0, SEED_MAX),
    "data.input_corruption": _choice(INPUT_CORRUPTIONS),
    "data.input_corruption_seed": _range(0, SEED_MAX),
    "model.hidden": _int_list(1, MAX_WIDTH, what="layer widths", max_len=MAX_LAYERS),
    "model.activation": _activation,
    "model.initializer": _initializer,
    "model.init_gain": _gain,
    "model.output": _choice(OUTPUTS),
    "model.dtype": _choice(DTYPES),
    "model.dropout": dropout_rule,
    "model.l2": _range(0.0, 1.0),
    "model.normalization": _choice(NORM_LAYERS),
    "training.optimizer": _choice(OPTIMIZERS),
    "training.learning_rate": _learning_rate,
    "training.momentum": _range(0.0, 1.0, high_open=True),
    "training.weight_decay": _range(0.0, 1.0),
    "training.scheduler": _choice(SCHEDULERS),
    "training.step_size": _range(1),
    "training.gamma": _range(0.0, 1.0, low_open=True),
    "training.batch_size": _range(1, 1_000_000),
    "training.epochs": _range(1, 100_000),
    "training.seeds": _seeds,
    "training.early_stopping": early_stopping_rule,
    "log.gradient_mode": _choice(GRADIENT_MODES),
    "log.gradient_histogram_every": _range(0),
    "log.step_scalars_every": _range(0),
    "log.train_eval_size": _range(0),
    "log.probe_size": _range(1),
    "log.every": _range(1),
    "log.per_example_every": _range(0),
    "log.curvature_every": _range(0),
    "log.curvature_batch": _range(1, 100_000),
    "log.curvature_iterations": _range(1, 10_000),
    "log.curvature_samples": _range(1, 10_000),
    "probes.shifts": _shift_list,
    "probes.shift_severities": _int_list(1, MAX_SEVERITY, what="severities", distinct=True),
    "probes.shift_every": _range(1),
    "probes.shift_seed": _range(0, SEED_MAX),
    "probes.shift_test_size": _range(1),
    "probes.drift_probe_size": _range(2),
    "probes.noisy_eval_size": _range(0),
    "probes.decision_grid": _range(0, MAX_DECISION_GRID),
    "probes.numpy_twin_seeds": _int_list(0, SEED_MAX, nonempty=False, what="seeds", max_len=MAX_RUNS,
                                         distinct=True),
}


def allowed(rule_key: str, default) -> str:
    """What ``section.key`` accepts, in words: its rule's ``allowed`` text, else what its type allows."""
    rule = RULES.get(rule_key)
    if rule is not None:
        return rule.allowed
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, str):
        return "text without control characters"
    return "a 64-bit whole number" if isinstance(default, int) else "a finite number"


def grid_value(source, dotted, key, value):
    """One value of grid key ``key`` (a grid list item or a case's value), checked and normalised
    (width lists become tuples)."""
    section, fld = GRID_KEYS[key]
    if key == "hidden":
        if not isinstance(value, list):
            raise ConfigError(source, dotted, "must be a list of width lists, e.g. [[64, 64], [128]]"
                              if dotted.startswith("grid.") else
                              f"must be a list of widths, e.g. [64, 64], not {show(value)}")
        return RULES["model.hidden"](source, dotted, tuple(value))
    if key == "layers":
        return check_list_item(source, dotted, value, 1, MAX_LAYERS)
    if key == "units" or key.startswith("units_"):
        return check_list_item(source, dotted, value, 1, MAX_WIDTH)
    if key == "corruption":
        return _choice(tuple(CORRUPTIONS))(source, dotted, value)
    fdef = {f.name: f for f in dataclasses.fields(SECTION_TYPES[section])}[fld]
    return check_value(source, dotted, f"{section}.{fld}", value, fdef)
