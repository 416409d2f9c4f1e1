"""The rules of the regularisation and architecture remedies: ``model.dropout`` (a rate or one per
hidden layer), ``training.early_stopping`` (a table of sub-keys), and the checks that depend on a
run's other settings (a dropout list as long as the hidden widths, an early-stopping monitor that
exists, a NumPy twin only for the plain MLP it reproduces). Every problem is one line naming the
key, e.g. ``training.early_stopping.patience``.

No TensorFlow here. :mod:`keras_dyn.config.rules` puts the two rules in ``RULES``;
:mod:`keras_dyn.config.plan` calls :func:`check_run_remedies` for every run of the plan.
"""

from __future__ import annotations

import math

from keras_dyn.config.names import show, suggest
from keras_dyn.config.schema import EARLY_STOPPING_KEYS, EARLY_STOPPING_MONITORS, MAX_LAYERS, Table
from keras_dyn.errors import ConfigError

MAX_PATIENCE = 100_000


def _rate(source, dotted, value, item=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value < 1.0:
        number = not isinstance(value, bool) and isinstance(value, (int, float))
        found = f"{value}" if number else show(value)
        if item:
            raise ConfigError(source, dotted, f"every item must be a rate >= 0 and < 1, found {found}")
        if number:
            raise ConfigError(source, dotted, f"{value} is out of range; allowed: >= 0 and < 1")
        raise ConfigError(source, dotted, f"must be a rate (a number >= 0 and < 1) or a list of rates, "
                          f"one per hidden layer, not {found}")
    return float(value)


def dropout_rule(source, dotted, value):
    """``model.dropout``: a rate in [0, 1), or a non-empty list of them (one per hidden layer)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ConfigError(source, dotted, "must be a rate or a non-empty list of rates, one per "
                              "hidden layer")
        if len(value) > MAX_LAYERS:
            raise ConfigError(source, dotted, f"has {len(value)} items; allowed: at most {MAX_LAYERS}")
        return tuple(_rate(source, dotted, v, item=True) for v in value)
    return _rate(source, dotted, value)


dropout_rule.any_type = True
dropout_rule.allowed = (f"a number >= 0 and < 1, or a list of them with one rate per hidden layer "
                        f"(as many as model.hidden)")
dropout_rule.type_text = "number or list"


def dropout_rates(dropout, n_layers: int) -> tuple:
    """The rate of each of ``n_layers`` hidden layers (a list must have ``n_layers`` items)."""
    if isinstance(dropout, (list, tuple)):
        if len(dropout) != n_layers:
            raise ValueError(f"{len(dropout)} dropout rates for {n_layers} hidden layers")
        return tuple(float(r) for r in dropout)
    return (float(dropout),) * n_layers


def early_stopping_rule(source, dotted, value):
    """``training.early_stopping``: ``{}`` (off) or a table of the sub-keys, completed with their
    defaults in a fixed order, so a resolved config always lists all four."""
    if not isinstance(value, dict):
        raise ConfigError(source, dotted, f"must be a table, e.g. {{ patience = 5 }}, not {show(value)}")
    if not value:
        return Table()
    out = {}
    for key in value:
        if key not in EARLY_STOPPING_KEYS:
            raise ConfigError(source, f"{dotted}.{key}", f"unknown key{suggest(key, EARLY_STOPPING_KEYS)}; "
                              f"allowed: {', '.join(EARLY_STOPPING_KEYS)}")
    for key, (default, _doc) in EARLY_STOPPING_KEYS.items():
        v = value.get(key, default)
        where = f"{dotted}.{key}"
        if key == "monitor":
            if v not in EARLY_STOPPING_MONITORS:
                shown = repr(v) if isinstance(v, str) else show(v)
                raise ConfigError(source, where, f"unknown value {shown}{suggest(str(v), EARLY_STOPPING_MONITORS)}; "
                                  f"allowed: {', '.join(EARLY_STOPPING_MONITORS)}")
        elif key == "patience":
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(source, where, f"must be a whole number, not {show(v)}")
            if not 0 <= v <= MAX_PATIENCE:
                raise ConfigError(source, where, f"{v} is out of range; allowed: >= 0 and <= {MAX_PATIENCE}")
        elif key == "min_delta":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(source, where, f"must be a number, not {show(v)}")
            if not (math.isfinite(v) and v >= 0):
                raise ConfigError(source, where, f"{v} is out of range; allowed: a finite number >= 0")
            v = float(v)
        elif not isinstance(v, bool):
            raise ConfigError(source, where, f"must be true or false, not {show(v)}")
        out[key] = v
    return Table(out)


early_stopping_rule.any_type = True
early_stopping_rule.allowed = ("{} (off) or a table with any of: monitor (" + ", ".join(EARLY_STOPPING_MONITORS)
                               + "), patience (a whole number from 0 to " + f"{MAX_PATIENCE}"
                               + "), min_delta (a number >= 0), restore_best (true or false)")
early_stopping_rule.type_text = "table"


REMEDY_KEYS = ("dropout", "l2", "normalization", "residual")  # model keys the NumPy twin does not reproduce


def uses_remedies(model) -> bool:
    """Whether a model section asks for any layer beyond the plain MLP's Dense layers."""
    rates = model.dropout if isinstance(model.dropout, tuple) else (model.dropout,)
    return any(rates) or model.l2 > 0 or model.normalization != "none" or model.residual


def check_early_stopping_point(cfg, point: dict, key_of) -> None:
    """An early-stopping table swept by ``[grid]`` / ``[[cases]]`` that watches a ``val_`` log needs
    a validation split; checked before the run's config is built, so the error names the case."""
    stop = point.get("early_stopping", cfg.training.early_stopping)
    if stop and stop["monitor"].startswith("val_") and cfg.data.validation_split <= 0:
        raise ConfigError(cfg.source, key_of("training.early_stopping") + ".monitor", f"{stop['monitor']!r} "
                          f"needs a validation split (data.validation_split > 0); use \"loss\" or \"accuracy\"")


def check_run_remedies(cfg, point: dict, run_cfg, key_of) -> None:
    """The remedies of one run of the plan (grid values applied). ``key_of(target)`` names the
    grid or case key that sets ``target`` in this point (else the target itself)."""
    model = run_cfg.model
    if isinstance(model.dropout, tuple) and len(model.dropout) != len(model.hidden):
        raise ConfigError(cfg.source, key_of("model.dropout"), f"has {len(model.dropout)} rates but the "
                          f"model has {len(model.hidden)} hidden layers ({_named(key_of, 'model.hidden')} = "
                          f"{list(model.hidden)}); give one rate per hidden layer, or one number for all")
    stop = run_cfg.training.early_stopping
    if stop and stop["monitor"].startswith("val_") and run_cfg.data.validation_split <= 0:
        raise ConfigError(cfg.source, key_of("training.early_stopping") + ".monitor", f"{stop['monitor']!r} needs a "
                          f"validation split (data.validation_split > 0); use \"loss\" or \"accuracy\"")
    if run_cfg.log.per_example_every and (model.normalization != "none" or model.residual):
        what = (f"{_named(key_of, 'model.normalization')} = {model.normalization!r}" if model.normalization != "none"
                else f"{_named(key_of, 'model.residual')} = true")
        raise ConfigError(cfg.source, "log.per_example_every", f"per-example gradients are exact for a chain "
                          f"of Dense layers only, and {what}; use 0 (off) or a plain MLP")
    if cfg.probes.numpy_twin:
        for name in REMEDY_KEYS:
            value = getattr(model, name)
            default = {"dropout": 0.0, "l2": 0.0, "normalization": "none", "residual": False}[name]
            if (any(value) if isinstance(value, tuple) else value != default):
                raise ConfigError(cfg.source, "probes.numpy_twin", f"the NumPy twin reproduces the plain "
                                  f"MLP only; {_named(key_of, 'model.' + name)} is "
                                  f"{_toml(value)}: use {_toml(default)}")


def _named(key_of, target: str) -> str:
    """``target``, and the grid or case key that sets it when there is one."""
    where = key_of(target)
    return target if where == target else f"{target} ({where})"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else f"{value:g}"


def count_params(widths, normalization: str = "none", residual: bool = False) -> int:
    """Trainable parameters of the MLP with layer sizes ``widths`` (inputs, hidden..., outputs):
    kernels and biases, plus gamma and beta of each normalisation layer and the kernels of the
    residual projections (between hidden layers of different widths)."""
    widths = [int(w) for w in widths]
    params = sum(a * b + b for a, b in zip(widths, widths[1:]))
    hidden = widths[1:-1]
    if normalization != "none":
        params += 2 * sum(hidden)
    if residual:
        params += sum(a * b for a, b in zip(hidden, hidden[1:]) if a != b)
    return params
