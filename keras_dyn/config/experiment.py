"""A whole experiment file: :class:`ExperimentConfig` (the validated, frozen config, its points and run names), :func:`load_config` and :func:`from_dict`.

Every problem is a :class:`keras_dyn.errors.ConfigError` whose message is one line naming the file, the dotted key and what is allowed; a file with several problems raises them all at once (:class:`keras_dyn.errors.ConfigErrors`, one line each): independent keys and sections are each checked, and a check that needs earlier values (the plan, the ``[lab]`` hypotheses) waits until those are valid. Every value is checked here, before any data is loaded or anything written.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

from keras_dyn import tomlio
from keras_dyn.config.lab import parse_lab
from keras_dyn.config.names import first_line, name_problem, plain, same_value, short, suggest
from keras_dyn.config.plan import check_combinations, check_plan, parse_cases, parse_grid
from keras_dyn.config.rules import check_value
from keras_dyn.config.schema import (ALL_SECTIONS, CORRUPTIONS, FREEFORM_SECTIONS, GRID_KEYS,
                                     REQUIRED_SECTIONS, RUN_NAME_TAGS, SECTION_TYPES, DataConfig,
                                     ExperimentSection, LogConfig, ModelConfig, ProbesConfig, TrainingConfig)
from keras_dyn.errors import Collector, ConfigError


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment: one TOML file.

    ``grid`` maps grid keys to tuples of values; ``cases`` is a tuple of dicts (each a listed
    combination of grid-key values, ``[[cases]]``); ``points()`` expands them into the runs:
    every case with every grid point.
    """

    source: str
    experiment: ExperimentSection
    data: DataConfig
    model: ModelConfig
    training: TrainingConfig
    log: LogConfig = field(default_factory=LogConfig)
    probes: ProbesConfig = field(default_factory=ProbesConfig)
    grid: dict = field(default_factory=dict)
    cases: tuple = ()  # dicts: grid key -> value, all with the same keys (none also in grid)
    lab_raw: dict = field(default_factory=dict)  # the [lab] table as written (saved with the config)
    lab: object = None  # keras_dyn.config.lab.LabSpec, or None without [lab]
    quick: bool = False  # a --quick version: readings past its last epoch are read at the last
    # the keys the file itself sets (file_keys); a config rebuilt from to_dict() sets them all
    file_keys: frozenset = field(default=frozenset(), compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.experiment.name

    def points(self) -> list[dict]:
        """The plan's points in a stable order: each case (in file order) with every point of the
        cartesian product of the grid's lists; a point is a plain dict, the case's keys first."""
        keys = list(self.grid)
        grid_points = [dict(zip(keys, values))
                       for values in itertools.product(*(self.grid[k] for k in keys))]
        return [{**case, **gp} for case in (self.cases or ({},)) for gp in grid_points]

    @property
    def swept(self) -> dict:
        """Every key the plan's points set -> the values it takes, in plan order (case keys
        first, each with its distinct values in case order, then the grid's keys and lists)."""
        out: dict = {}
        for case in self.cases:
            for key, value in case.items():
                values = out.setdefault(key, [])
                if value not in values:
                    values.append(value)
        out = {k: tuple(v) for k, v in out.items()}
        out.update(self.grid)
        return out

    @property
    def n_points(self) -> int:
        return max(len(self.cases), 1) * math.prod(len(v) for v in self.grid.values())

    def at_point(self, point: dict, seed: int | None = None) -> "ExperimentConfig":
        """The config of one run: grid values applied, grid emptied, optionally one seed."""
        sections = self._sections()
        hidden = list(sections["model"]["hidden"])
        if "hidden" in point:
            hidden = list(point["hidden"])
        if "layers" in point or "units" in point:
            layers = point.get("layers", len(hidden))
            units = point.get("units", hidden[0] if hidden else 64)
            hidden = [units] * layers
        for i in range(1, 9):
            key = f"units_{i}"
            if key in point:
                if i > len(hidden):
                    raise ConfigError(self.source, self.origin(point, key),
                                      f"the model has only {len(hidden)} hidden layers")
                hidden[i - 1] = point[key]
        sections["model"]["hidden"] = hidden
        for key, value in point.items():
            section, fld = GRID_KEYS[key]
            if key == "corruption":
                sections["data"].update(CORRUPTIONS[value])
            elif fld != "hidden":
                sections[section][fld] = value
        if seed is not None:
            sections["training"]["seeds"] = [seed]
        raw = {name: values for name, values in sections.items()}
        return from_dict(raw, source=self.source)  # a run's config: no grid, no [lab]

    def origin(self, point: dict, key: str) -> str:
        """Where ``point[key]`` comes from, for an error: ``grid.KEY`` or ``cases[i].KEY``."""
        if key in self.grid:
            return f"grid.{key}"
        for i, case in enumerate(self.cases):
            if key in case and all(same_value(point.get(k), v) for k, v in case.items()):
                return f"cases[{i}].{key}"
        return f"grid.{key}"

    def run_name(self, point: dict, seed: int, *, _at_point=None) -> str:
        """Readable run name, e.g. ``w256-256_bs64_s0`` (plus any other swept value)."""
        cfg = _at_point or self.at_point(point)
        parts = ["w" + "-".join(str(u) for u in cfg.model.hidden), f"bs{cfg.training.batch_size}"]
        for key, prefix in RUN_NAME_TAGS.items():
            if key in point:
                parts.append(f"{prefix}{short(point[key])}")
        parts.append(f"s{seed}")
        return "_".join(parts)

    def replace(self, quick=None, **sections) -> "ExperimentConfig":
        """A copy with some section fields replaced: ``cfg.replace(training={"epochs": 2})``."""
        raw = self.to_dict()
        for name, values in sections.items():
            if name in FREEFORM_SECTIONS:
                raw[name] = values
            else:
                raw.setdefault(name, {}).update(values)
        return from_dict(raw, source=self.source, quick=self.quick if quick is None else quick)

    def _sections(self) -> dict:
        """Every section's values; an unset experiment name ("": from_dict without one) is left out."""
        out = {name: plain(dataclasses.asdict(getattr(self, name))) for name in SECTION_TYPES}
        if not out["experiment"].get("name"):
            out["experiment"].pop("name", None)
        return out

    def to_dict(self) -> dict:
        out = self._sections()
        if self.grid:
            out["grid"] = {k: plain(v) for k, v in self.grid.items()}
        if self.cases:
            out["cases"] = [{k: plain(v) for k, v in case.items()} for case in self.cases]
        if self.lab_raw:
            out["lab"] = copy.deepcopy(self.lab_raw)
        return out

    def to_toml(self) -> str:
        return tomlio.dumps(self.to_dict())


def same_run_config(stored: str | None, text: str) -> bool:
    """Whether a run folder's saved ``config.toml`` (``stored``) is the config ``text``.

    Byte for byte, or else once ``stored`` is read by this version of keras_dyn: a key that a
    later version added (with a default that keeps the old behaviour) takes its default, so the
    runs of an earlier version are still found and reused. A value that differs, a key this
    version does not know, or a file that does not parse is a different run.
    """
    if stored is None:
        return False
    if stored == text:
        return True
    try:
        return from_dict(tomlio.loads(stored), source="config.toml").to_toml() == text
    except Exception:  # any damaged or foreign file is simply not this run
        return False


def load_config(path) -> ExperimentConfig:
    """Read and validate a TOML experiment file.

    Raises:
        ConfigError: the file is missing, is not valid TOML, or holds a bad key or value
            (:class:`~keras_dyn.errors.ConfigErrors`, one line each, when it holds several).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "", "no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not UTF-8 text ({first_line(exc)})") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read it ({exc.strerror or first_line(exc)})") from None
    try:
        raw = tomlio.loads(text)
    except Exception as exc:  # TOMLDecodeError, or RecursionError on absurdly nested arrays
        raise ConfigError(path, "", f"not valid TOML ({first_line(exc)})") from None
    cfg = from_dict(raw, source=str(path))
    if not cfg.experiment.name:
        problem = name_problem(path.stem)
        if problem:
            raise ConfigError(path, "experiment.name", f"not set, and the file name {problem}; "
                              f"set experiment.name")
        cfg = dataclasses.replace(cfg.replace(experiment={"name": path.stem}), file_keys=cfg.file_keys)
    return cfg


def from_dict(raw: dict, source: str = "<dict>", *, quick: bool = False) -> ExperimentConfig:
    """Validate an already-parsed TOML table (the same rules as :func:`load_config`).

    ``quick`` marks a ``--quick`` version (see :func:`keras_dyn.config.quick.quick_version`): the
    ``[lab]`` readings may lie past its (fewer) epochs; they are read at the last one.
    """
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "the top level must be a table")
    col = Collector()  # every independent problem is reported; dependent checks wait for a clean file
    for name in raw:
        if name not in ALL_SECTIONS:
            col.add(ConfigError(source, name, f"unknown section{suggest(name, ALL_SECTIONS)}; "
                                f"allowed: {', '.join(ALL_SECTIONS)}"))
        elif name != "cases" and not isinstance(raw[name], dict):  # cases: a list, parse_cases's
            col.add(ConfigError(source, name, "must be a table, e.g. [" + name + "]"))
    for required in REQUIRED_SECTIONS:
        if required not in raw:
            col.add(ConfigError(source, required, f"missing section [{required}]"))
    table = {name: value for name, value in raw.items() if isinstance(value, dict)}
    sections = {name: col.attempt(parse_section, source, name, cls, table.get(name, {}))
                for name, cls in SECTION_TYPES.items()}
    grid = col.attempt(parse_grid, source, table.get("grid", {}))
    cases = col.attempt(parse_cases, source, raw["cases"], table.get("grid", {})) if "cases" in raw else ()
    cfg = None
    if col.ok:
        cfg = ExperimentConfig(source=source, grid=grid, cases=cases, lab_raw=copy.deepcopy(raw.get("lab", {})),
                               quick=quick, file_keys=file_keys(raw), **sections)
        col.attempt(check_combinations, cfg)
    if col.ok:
        col.attempt(check_plan, cfg)  # every run of the plan: needs every section, the grid and the cases
    if "lab" in raw and isinstance(raw["lab"], dict):
        lab = col.attempt(parse_lab, source, raw["lab"], cfg if col.ok else None, quick=quick)
        if col.ok:
            cfg = dataclasses.replace(cfg, lab=lab)
    col.raise_all()
    return cfg


def file_keys(raw: dict) -> frozenset:
    """The keys a file sets itself: ``section.key`` for the sections, ``grid.KEY`` and
    ``cases.KEY`` for the swept keys (what the no-effect warnings look at)."""
    out = set()
    for name in SECTION_TYPES:
        out.update(f"{name}.{key}" for key in raw.get(name, {}))
    out.update(f"grid.{key}" for key in raw.get("grid", {}))
    for case in raw.get("cases", ()):
        out.update(f"cases.{key}" for key in case)
    return frozenset(out)


def parse_section(source, name, cls, values):
    """One section's table: every key checked on its own (each bad key is reported)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs, col = {}, Collector()
    for key, value in values.items():
        if key not in fields:
            col.add(ConfigError(source, f"{name}.{key}",
                                f"unknown key{suggest(key, fields)}; allowed: {', '.join(fields)}"))
            continue
        kwargs[key] = col.attempt(check_value, source, f"{name}.{key}", f"{name}.{key}", value, fields[key])
    col.raise_all()
    return cls(**kwargs)
