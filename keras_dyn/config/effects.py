"""Keys that only act under another key's value, and the warnings for a file that sets one where
it does nothing (``check`` and every training command print them; they are not errors).

``EFFECTS`` is the one table of these dependencies: each row says which key acts only when which
other key has which values. The schema's docs say the same in words ("sgd_momentum only: ...");
a dependency that can never work (an image-only key on 2-D data, the twin's seeds without the
twin) is an error in :mod:`keras_dyn.config.plan` instead.

A warning is given only for a key the file sets itself (``ExperimentConfig.file_keys``): a
section key set to a value other than its default (a run folder's ``config.toml`` writes every
key) when it acts at no point of the plan, a swept key (``[grid]`` or ``[[cases]]``) when it does
not act at some of its points (those runs differ in nothing but their name).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from keras_dyn.config.names import short
from keras_dyn.config.schema import (CORRUPTIONS, DATASETS, GRID_KEYS, INITIALIZER_ALIASES, SECTION_TYPES,
                                     SYNTHETIC)


@dataclass(frozen=True)
class Condition:
    """What ``key`` must be for a dependent key to act: one of ``values``, or (``values`` empty)
    a test named by ``test``: ``positive`` (> 0), ``true``, ``nonempty``, ``not_none`` (not "none")."""

    key: str  # section.key
    values: tuple = ()
    test: str = ""

    def holds(self, value) -> bool:
        if self.values:
            return value in self.values
        return {"positive": lambda v: v > 0, "true": lambda v: v is True, "nonempty": lambda v: len(v) > 0,
                "not_none": lambda v: v != "none"}[self.test](value)

    @property
    def text(self) -> str:
        """What the condition asks, in words: ``training.scheduler is step or exponential``."""
        if self.values:
            return f"{self.key} is {' or '.join(map(str, self.values))}"
        return {"positive": f"{self.key} > 0", "true": f"{self.key} = true",
                "nonempty": f"{self.key} is not empty", "not_none": f"{self.key} is not \"none\""}[self.test]


IMAGES = tuple(d for d in DATASETS if d not in SYNTHETIC)

# dependent key -> the condition under which it acts, or a tuple of conditions that must all hold
# (the only place these are written down)
EFFECTS = {
    "training.momentum": Condition("training.optimizer", ("sgd_momentum",)),
    "training.weight_decay": Condition("training.optimizer", ("adamw",)),
    "training.step_size": Condition("training.scheduler", ("step",)),
    "training.gamma": Condition("training.scheduler", ("step", "exponential")),
    "model.init_gain": Condition("model.initializer", ("orthogonal", "identity")),  # Keras names
    "data.normalize": Condition("data.dataset", IMAGES),
    "data.n_samples": Condition("data.dataset", SYNTHETIC),
    "data.noise": Condition("data.dataset", SYNTHETIC),
    "data.label_noise_kind": Condition("data.label_noise", test="positive"),
    "data.label_noise_seed": Condition("data.label_noise", test="positive"),
    "data.label_noise_validation": (Condition("data.label_noise", test="positive"),
                                    Condition("data.validation_split", test="positive")),
    "data.input_corruption_seed": Condition("data.input_corruption", test="not_none"),
    "log.gradient_histogram_every": Condition("log.gradients", test="true"),
    "probes.noisy_labels": Condition("data.label_noise", test="positive"),
    "probes.noisy_eval_size": Condition("data.label_noise", test="positive"),
    "probes.shifts": Condition("data.dataset", IMAGES),
    "probes.shift_severities": Condition("probes.shifts", test="nonempty"),
    "probes.shift_every": Condition("probes.shifts", test="nonempty"),
    "probes.shift_seed": Condition("probes.shifts", test="nonempty"),
    "probes.shift_test_size": Condition("probes.shifts", test="nonempty"),
    "probes.drift_probe_size": Condition("probes.drift", test="true"),
}


def value_at(cfg, point: dict, dotted: str):
    """The value of ``section.key`` in the run at ``point`` (grid values applied, without
    building the run's config); an initializer as its Keras name."""
    section, fld = dotted.split(".")
    value = getattr(getattr(cfg, section), fld)
    for key, swept in point.items():
        if _sets(key, swept, dotted):
            value = CORRUPTIONS[swept][fld] if key == "corruption" else swept
    if dotted == "model.initializer":
        value = INITIALIZER_ALIASES.get(value, value)
    return value


def _default(dotted: str):
    section, fld = dotted.split(".")
    f = {f.name: f for f in dataclasses.fields(SECTION_TYPES[section])}[fld]
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def _sets(key: str, swept, dotted: str) -> bool:
    """Whether grid key ``key`` with value ``swept`` sets ``section.key`` (a preset may not)."""
    section, fld = dotted.split(".")
    if key == "corruption":
        return section == "data" and fld in CORRUPTIONS[swept]
    return GRID_KEYS[key] == (section, fld) and fld != "hidden"


def _label(cfg, key: str) -> str:
    return f"grid.{key}" if key in cfg.grid else f"cases.{key}"


def _where(cfg, cond: Condition, points: list[dict]) -> str:
    """``training.scheduler = 'none' (grid.scheduler)``: the condition key's values at ``points``."""
    values = []
    for point in points:
        value = value_at(cfg, point, cond.key)
        if value not in values:
            values.append(value)
    shown = " or ".join(repr(v) if isinstance(v, str) else short(v) for v in values)
    origins = sorted({_label(cfg, k) for p in points for k in p if _sets(k, p[k], cond.key)})
    return f"{cond.key} = {shown}" + (f" ({', '.join(origins)})" if origins else "")


def conditions(dotted: str) -> tuple:
    """The conditions under which ``dotted`` acts (all must hold), as a tuple."""
    cond = EFFECTS[dotted]
    return cond if isinstance(cond, tuple) else (cond,)


def _acts(conds, cfg, point) -> bool:
    return all(c.holds(value_at(cfg, point, c.key)) for c in conds)


def _where_all(cfg, conds, points) -> str:
    """The failing conditions' keys and values at ``points`` (see :func:`_where`)."""
    return "; ".join(_where(cfg, c, failing) for c in conds
                     if (failing := [p for p in points if not c.holds(value_at(cfg, p, c.key))]))


def no_effect_warnings(cfg) -> list[str]:
    """One line per key the file sets that does nothing at some point of its plan:
    ``FILE: KEY: has no effect ...; it acts only when CONDITION``. Empty for a clean file."""
    points = cfg.points()
    out = []
    for dotted in EFFECTS:
        conds = conditions(dotted)
        needs = "it acts only when " + " and ".join(c.text for c in conds)
        section, fld = dotted.split(".")
        for key in cfg.swept:  # a swept key: warned when it does nothing at some of its points
            if key == "corruption" or GRID_KEYS[key] != (section, fld) or _label(cfg, key) not in cfg.file_keys:
                continue  # (a preset sets what its condition needs along with it)
            idle = [p for p in points if not _acts(conds, cfg, p)]
            if idle:
                at = "every point" if len(idle) == len(points) else f"{len(idle)} of {len(points)} points"
                if key not in cfg.grid:  # name the cases
                    at = ", ".join(dict.fromkeys(cfg.origin(p, key).split(".")[0] for p in idle)) + f" ({at})"
                out.append(f"{cfg.source}: {_label(cfg, key)}: has no effect at {at}, where "
                           f"{_where_all(cfg, conds, idle)}; {needs}")
        if dotted in cfg.file_keys and value_at(cfg, {}, dotted) != _default(dotted):
            # a section key (not at its default): warned when it does nothing at any point it is not swept
            own = [p for p in points if not any(_sets(k, v, dotted) for k, v in p.items())]
            if own and not any(_acts(conds, cfg, p) for p in own):
                out.append(f"{cfg.source}: {dotted}: has no effect: {_where_all(cfg, conds, own)}; {needs}")
    return out
