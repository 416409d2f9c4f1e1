"""TOML experiment files -> typed, validated config objects.

An experiment file has these sections (all optional except ``[data]``, ``[model]`` and
``[training]``)::

    [experiment]  name, description
    [data]        dataset, validation_split, normalize, subset, test_subset, split_seed,
                  n_samples, noise, label_noise, label_noise_kind, label_noise_seed,
                  input_corruption, input_corruption_seed
    [model]       hidden, activation, initializer
    [training]    optimizer, learning_rate, momentum, weight_decay, scheduler, step_size,
                  gamma, batch_size, epochs, seeds
    [grid]        lists of values to sweep (see GRID_KEYS)
    [[cases]]     listed combinations of GRID_KEYS values, each run with every grid point
    [log]         which diagnostics run and how often
    [probes]      memorisation and robustness probes
    [lab]         what a lab asks and claims, its hypotheses and findings sections
                  (validated by keras_dyn.lab_spec; see README "Writing a lab")

Every problem raises :class:`keras_dyn.errors.ConfigError` whose message is one line naming
the file, the dotted key and what is allowed. Every value is checked here, before any data is
loaded or anything written: names that become paths follow :func:`name_problem`, seeds fit
NumPy/Keras seeding, model sizes and the number of runs are capped (the constants below), and
every run of the plan is built once (:func:`_check_plan`). Nothing here imports TensorFlow, so a bad
file is reported in a fraction of a second.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import toml

from keras_dyn.errors import ConfigError

DATASETS = ("mnist", "fashion_mnist", "circle", "nested_rings")
NORMALIZATIONS = ("zero_one", "minus_one_one")
OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "exponential")
LABEL_NOISE_KINDS = ("symmetric", "pair", "random")
INPUT_CORRUPTIONS = ("none", "shuffled_pixels", "random_pixels")
# grid key ``corruption``: one name per Zhang et al. (2017) condition, each the data fields it sets
CORRUPTIONS = {
    "clean": {"label_noise": 0.0, "input_corruption": "none"},
    "random_labels": {"label_noise": 1.0, "label_noise_kind": "random", "input_corruption": "none"},
    "shuffled_pixels": {"label_noise": 0.0, "input_corruption": "shuffled_pixels"},
    "random_pixels": {"label_noise": 0.0, "input_corruption": "random_pixels"},
}
GRADIENT_MODES = ("applied", "probe")
SHIFT_KINDS = ("rotation", "translation", "gaussian_noise", "blur", "contrast", "occlusion")
OUTPUTS = ("softmax", "sigmoid")  # model.output: softmax over the classes, or one sigmoid unit (2 classes)
DTYPES = ("float32", "float64")  # model.dtype: Keras's default, or double precision (the NumPy twin follows it)
TWIN_OPTIMIZERS = ("sgd", "adam")  # what keras_dyn.numpy_mlp reproduces step for step
TWIN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")  # keras_dyn.numpy_mlp.ACTIVATIONS
SYNTHETIC = ("circle", "nested_rings")
MAX_DECISION_GRID = 200

# Friendly initialiser names -> Keras identifiers. Any other Keras initialiser name is accepted.
INITIALIZER_ALIASES = {
    "he": "he_normal",
    "kaiming": "he_normal",
    "xavier": "glorot_uniform",
    "glorot": "glorot_uniform",
    "lecun": "lecun_normal",
}
# Keras 3's own names (checked against keras's registries by tests/test_config.py), kept here
# so that validating a config never has to import TensorFlow.
KERAS_INITIALIZERS = frozenset({
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity",
    "lecun_normal", "lecun_uniform", "normal", "one", "ones", "orthogonal", "random_normal",
    "random_uniform", "truncated_normal", "uniform", "variance_scaling", "zero", "zeros",
})
# Every Keras 3 activation that maps a layer's output elementwise-compatible to the same width
# (``glu`` halves the width and ``threshold`` needs arguments, so they are left out).
KERAS_ACTIVATIONS = frozenset({
    "celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign",
    "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink",
})

_MISSING = object()

# ---- names and value caps (README, "Names and limits")

# A name that becomes part of a path (experiment name, run name, lab name): letters, digits,
# '.', '_' and '-', starting with a letter or digit, no '..', at most NAME_MAX characters. That
# rules out separators, absolute paths, '.', '..', empty names, spaces, NUL and other controls.
NAME_MAX = 100
RUN_NAME_MAX = 200  # run names are built from grid values and may be longer
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
SEED_MAX = 2**32 - 1  # NumPy's legacy seeding and Keras's set_random_seed need 0 <= seed < 2**32
MAX_WIDTH = 100_000  # units per hidden layer
MAX_LAYERS = 64  # hidden layers
MAX_PARAMS = 50_000_000  # parameters of one model (about 200 MB of float32 weights)
MAX_RUNS = 10_000  # grid points x seeds of one experiment
MAX_SEVERITY = 5
INT_MAX = 2**63 - 1  # TOML integers are 64-bit
# input size and classes per data set, so the parameter cap is checked without loading data
DATASET_SHAPES = {"mnist": (784, 10), "fashion_mnist": (784, 10), "circle": (2, 2),
                  "nested_rings": (2, 2)}


def name_problem(value, limit: int = NAME_MAX) -> str | None:
    """Why ``value`` cannot be a name that becomes part of a path, or ``None`` if it can.

    The rule (also in the README): 1 to ``limit`` characters from ``A-Z a-z 0-9 . _ -``, the
    first a letter or digit, and no ``..`` anywhere.
    """
    if not isinstance(value, str):
        return f"must be a string, not {_show(value)}"
    rule = (f"allowed: 1 to {limit} characters from A-Z a-z 0-9 . _ -, starting with a letter or "
            f"digit, no '..'")
    if not value:
        return f"must not be empty; {rule}"
    if len(value) > limit:
        return f"is {len(value)} characters long; {rule}"
    if not _NAME_RE.fullmatch(value) or ".." in value:
        bad = sorted({c for c in value if not (c.isascii() and (c.isalnum() or c in "._-"))})
        what = (f"holds {', '.join(_char_name(c) for c in bad[:5])}" if bad
                else "starts with '.', '_' or '-'" if not value[0].isalnum() else "holds '..'")
        return f"{_show(value)} {what}; {rule}"
    return None


def check_name(source, key: str, value, limit: int = NAME_MAX) -> str:
    """``value`` if it is a valid name (see :func:`name_problem`), else :class:`ConfigError`."""
    problem = name_problem(value, limit)
    if problem:
        raise ConfigError(source, key, problem)
    return value


def _char_name(c: str) -> str:
    return {"/": "'/'", "\\": "'\\'", " ": "a space", "\0": "NUL"}.get(
        c, repr(c) if c.isprintable() else f"control character U+{ord(c):04X}")


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class ExperimentSection:
    name: str = ""
    description: str = ""


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "mnist"
    validation_split: float = 0.1
    normalize: str = "zero_one"
    subset: int = 0  # training examples kept (0 = all)
    test_subset: int = 0  # test examples kept (0 = all)
    split_seed: int = 0
    n_samples: int = 2000  # synthetic data sets only
    noise: float = 0.1  # synthetic data sets only: std of input noise
    label_noise: float = 0.0
    label_noise_kind: str = "symmetric"
    label_noise_seed: int = 0
    input_corruption: str = "none"  # images only: none | shuffled_pixels | random_pixels
    input_corruption_seed: int = 0


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple = (128, 128)
    activation: str = "relu"
    initializer: str = "glorot_uniform"
    output: str = "softmax"  # "sigmoid": one unit with binary cross-entropy (2-class data only)
    dtype: str = "float32"  # the arithmetic of every layer, its weights and its optimiser state

    @property
    def keras_initializer(self) -> str:
        return INITIALIZER_ALIASES.get(self.initializer, self.initializer)


@dataclass(frozen=True)
class TrainingConfig:
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9  # sgd_momentum
    weight_decay: float = 1e-4  # adamw
    scheduler: str = "none"
    step_size: int = 5  # step: epochs between decays
    gamma: float = 0.5  # step / exponential: decay factor
    batch_size: int = 64
    epochs: int = 5
    seeds: tuple = (0,)


@dataclass(frozen=True)
class LogConfig:
    """Which diagnostics a run writes (see README, "TensorBoard tags")."""

    tensorboard: bool = True
    test_every_epoch: bool = True
    gradients: bool = True  # per-step stats of the applied gradients
    gradient_mode: str = "applied"  # "probe": a separate batch, tagged grad_probe/
    gradient_histogram_every: int = 0  # steps; 0 = at epoch ends only
    step_scalars_every: int = 0  # steps between per-step TensorBoard scalars (grad/..., step/loss); 0 = none
    activations: bool = True
    weights: bool = True
    step_loss: bool = False  # every optimiser step's training loss (raw, unfiltered)
    probe_size: int = 512  # examples in the fixed probe batch for activations
    every: int = 1  # epochs between activation / weight diagnostics


@dataclass(frozen=True)
class ProbesConfig:
    noisy_labels: bool = True  # active only when data.label_noise > 0
    shifts: tuple = ()  # names from SHIFT_KINDS; empty = no shifted-test probe
    shift_severities: tuple = (1, 2, 3)
    shift_every: int = 1
    shift_seed: int = 0
    shift_test_size: int = 2000
    drift: bool = False
    drift_probe_size: int = 512
    noisy_eval_size: int = 5000  # cap per subset evaluated by NoisyLabelGap (0 = all)
    numpy_twin: bool = False  # replay every batch on keras_dyn.numpy_mlp from the same weights
    numpy_twin_seeds: tuple = ()  # the seeds whose runs get the twin (empty = every seed)
    decision_grid: int = 0  # N > 0: the trained model's output on an N x N grid of the input plane


SECTION_TYPES = {
    "experiment": ExperimentSection,
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "log": LogConfig,
    "probes": ProbesConfig,
}
FREEFORM_SECTIONS = ("grid", "cases", "lab")
ALL_SECTIONS = tuple(SECTION_TYPES) + FREEFORM_SECTIONS
MAX_CASES = 1000  # [[cases]] blocks of one experiment

# grid key -> (section, field) it overrides; units/layers/units_N/hidden act on model.hidden
GRID_KEYS = {
    "units": ("model", "hidden"),
    "layers": ("model", "hidden"),
    "hidden": ("model", "hidden"),
    **{f"units_{i}": ("model", "hidden") for i in range(1, 9)},
    "activation": ("model", "activation"),
    "initializer": ("model", "initializer"),
    "optimizer": ("training", "optimizer"),
    "learning_rate": ("training", "learning_rate"),
    "batch_size": ("training", "batch_size"),
    "epochs": ("training", "epochs"),
    "scheduler": ("training", "scheduler"),
    "label_noise": ("data", "label_noise"),
    "input_corruption": ("data", "input_corruption"),
    "corruption": ("data", "corruption"),  # a preset: sets the data fields of CORRUPTIONS[value]
    "gamma": ("training", "gamma"),
    "dataset": ("data", "dataset"),
}
# short names used in run names, e.g. w256-256_bs64_lr0.001_s0
RUN_NAME_TAGS = {
    "activation": "",
    "initializer": "init-",
    "optimizer": "",
    "learning_rate": "lr",
    "epochs": "ep",
    "scheduler": "sched-",
    "label_noise": "noise",
    "input_corruption": "",
    "corruption": "",
    "gamma": "gamma",
    "dataset": "",
}


# --------------------------------------------------------------------------- the whole file


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
    lab: object = None  # keras_dyn.lab_spec.LabSpec, or None without [lab]
    quick: bool = False  # a --quick version: readings past its last epoch are read at the last

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
        sections = {name: _plain(dataclasses.asdict(getattr(self, name))) for name in SECTION_TYPES}
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
            if key in case and all(_same_value(point.get(k), v) for k, v in case.items()):
                return f"cases[{i}].{key}"
        return f"grid.{key}"

    def run_name(self, point: dict, seed: int, *, _at_point=None) -> str:
        """Readable run name, e.g. ``w256-256_bs64_s0`` (plus any other swept value)."""
        cfg = _at_point or self.at_point(point)
        parts = ["w" + "-".join(str(u) for u in cfg.model.hidden), f"bs{cfg.training.batch_size}"]
        for key, prefix in RUN_NAME_TAGS.items():
            if key in point:
                parts.append(f"{prefix}{_short(point[key])}")
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

    def to_dict(self) -> dict:
        out = {name: _plain(dataclasses.asdict(getattr(self, name))) for name in SECTION_TYPES}
        if self.grid:
            out["grid"] = {k: _plain(v) for k, v in self.grid.items()}
        if self.cases:
            out["cases"] = [{k: _plain(v) for k, v in case.items()} for case in self.cases]
        if self.lab_raw:
            out["lab"] = copy.deepcopy(self.lab_raw)
        return out

    def to_toml(self) -> str:
        return toml.dumps(self.to_dict())


def _same_value(a, b) -> bool:
    """Two point values equal (width lists as tuples or lists)."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b)
    return a == b


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return str(value)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- loading


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
        return from_dict(toml.loads(stored), source="config.toml").to_toml() == text
    except Exception:  # any damaged or foreign file is simply not this run
        return False


def load_config(path) -> ExperimentConfig:
    """Read and validate a TOML experiment file.

    Raises:
        ConfigError: the file is missing, is not valid TOML, or holds a bad key or value.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "", "no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not UTF-8 text ({_first_line(exc)})") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read it ({exc.strerror or _first_line(exc)})") from None
    try:
        raw = toml.loads(text)
    except Exception as exc:  # the toml package raises more than TomlDecodeError on odd input
        raise ConfigError(path, "", f"not valid TOML ({_first_line(exc)})") from None
    cfg = from_dict(raw, source=str(path))
    if not cfg.experiment.name:
        problem = name_problem(path.stem)
        if problem:
            raise ConfigError(path, "experiment.name", f"not set, and the file name {problem}; "
                              f"set experiment.name")
        cfg = cfg.replace(experiment={"name": path.stem})
    return cfg


def from_dict(raw: dict, source: str = "<dict>", *, quick: bool = False) -> ExperimentConfig:
    """Validate an already-parsed TOML table (the same rules as :func:`load_config`).

    ``quick`` marks a ``--quick`` version (see :func:`keras_dyn.train.quick_version`): the
    ``[lab]`` readings may lie past its (fewer) epochs; they are read at the last one.
    """
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "the top level must be a table")
    for name in raw:
        if name not in ALL_SECTIONS:
            raise ConfigError(source, name, f"unknown section{_suggest(name, ALL_SECTIONS)}; "
                              f"allowed: {', '.join(ALL_SECTIONS)}")
        if name == "cases":
            continue  # a list of tables, checked by _cases
        if not isinstance(raw[name], dict):
            raise ConfigError(source, name, "must be a table, e.g. [" + name + "]")
    for required in ("data", "model", "training"):
        if required not in raw:
            raise ConfigError(source, required, f"missing section [{required}]")
    sections = {name: _section(source, name, cls, raw.get(name, {}))
                for name, cls in SECTION_TYPES.items()}
    grid = _grid(source, raw.get("grid", {}), sections)
    cases = _cases(source, raw["cases"], grid) if "cases" in raw else ()
    cfg = ExperimentConfig(source=source, grid=grid, cases=cases, lab_raw=copy.deepcopy(raw.get("lab", {})),
                           quick=quick, **sections)
    _check_combinations(cfg)
    _check_plan(cfg)
    if "lab" in raw:
        from keras_dyn.lab_spec import parse_lab

        cfg = dataclasses.replace(cfg, lab=parse_lab(source, raw["lab"], cfg, quick=quick))
    return cfg


def _check_plan(cfg: ExperimentConfig):
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
        run_cfg = cfg.at_point(point) if point else cfg  # every point must build a valid config
        key = _grid_key_of(cfg, point, "model.hidden")
        hidden = run_cfg.model.hidden
        if len(hidden) > MAX_LAYERS:
            raise ConfigError(cfg.source, key, f"{len(hidden)} hidden layers; allowed: at most {MAX_LAYERS}")
        n_in, n_out = DATASET_SHAPES[run_cfg.data.dataset]
        _check_run_combinations(cfg, point, run_cfg)
        widths = [n_in, *hidden, 1 if run_cfg.model.output == "sigmoid" else n_out]
        params = sum(a * b + b for a, b in zip(widths, widths[1:]))
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
                raise ConfigError(cfg.source, where, f"points {_show_point(names[name])} and "
                                  f"{_show_point(point)} both give the run name {name!r}; make the "
                                  f"values distinct when written with 6 significant digits (a run "
                                  f"name shows {', '.join(RUN_NAME_TAGS)}, the widths and the "
                                  f"batch size)")
            names[name] = point


def _check_run_combinations(cfg: ExperimentConfig, point: dict, run_cfg: ExperimentConfig):
    """Settings that depend on the run's data set, model and optimiser (grid values applied)."""
    dataset = run_cfg.data.dataset
    data_key = _grid_key_of(cfg, point, "data.dataset")
    if run_cfg.model.output == "sigmoid" and DATASET_SHAPES[dataset][1] != 2:
        raise ConfigError(cfg.source, "model.output", f"\"sigmoid\" (one unit, binary cross-entropy) "
                          f"needs 2-class data; {dataset} ({data_key}) has {DATASET_SHAPES[dataset][1]} "
                          f"classes: use \"softmax\"")
    if cfg.probes.decision_grid and dataset not in SYNTHETIC:
        raise ConfigError(cfg.source, "probes.decision_grid", f"needs 2-D inputs (circle, nested_rings); "
                          f"{dataset} ({data_key}) is an image data set: use 0")
    if cfg.probes.decision_grid == 1:
        raise ConfigError(cfg.source, "probes.decision_grid", "1 is out of range; allowed: 0 (off) or "
                          f"2 to {MAX_DECISION_GRID}")
    if cfg.probes.numpy_twin_seeds and not cfg.probes.numpy_twin:
        raise ConfigError(cfg.source, "probes.numpy_twin_seeds", "needs probes.numpy_twin = true")
    if cfg.probes.numpy_twin:
        t = run_cfg.training
        if t.optimizer not in TWIN_OPTIMIZERS:
            raise ConfigError(cfg.source, "probes.numpy_twin", f"the NumPy twin reproduces "
                              f"{' and '.join(TWIN_OPTIMIZERS)} only; training.optimizer "
                              f"({_grid_key_of(cfg, point, 'training.optimizer')}) is {t.optimizer!r}")
        if t.scheduler != "none":
            raise ConfigError(cfg.source, "probes.numpy_twin", f"the NumPy twin uses a constant "
                              f"learning rate; training.scheduler is {t.scheduler!r}: use \"none\"")
        if run_cfg.model.activation not in TWIN_ACTIVATIONS:
            raise ConfigError(cfg.source, "probes.numpy_twin", f"the NumPy twin knows the activations "
                              f"{', '.join(TWIN_ACTIVATIONS)}; model.activation is "
                              f"{run_cfg.model.activation!r}")


def _grid_key_of(cfg, point: dict, target: str) -> str:
    """The grid or case key that sets ``target`` in this point, else ``target`` itself."""
    section, fld = target.split(".")
    for key in point:
        if GRID_KEYS[key] == (section, fld):
            return cfg.origin(point, key)
    return target


def _show_point(point: dict) -> str:
    return "{" + ", ".join(f"{k} = {_short(v)}" for k, v in point.items()) + "}"


def _section(source, name, cls, values):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(source, f"{name}.{key}",
                              f"unknown key{_suggest(key, fields)}; allowed: {', '.join(fields)}")
        kwargs[key] = _check_value(source, f"{name}.{key}", f"{name}.{key}", value, fields[key])
    return cls(**kwargs)


def _check_value(source, dotted, rule_key, value, fld):
    default = fld.default if fld.default is not dataclasses.MISSING else fld.default_factory()
    rule = _RULES.get(rule_key)
    value = _coerce(source, dotted, value, default)
    if rule is not None:
        value = rule(source, dotted, value)
    return value


def _coerce(source, dotted, value, default):
    """Check the TOML type against the default's type."""
    expected = type(default)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(source, dotted, f"must be true or false, not {_show(value)}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, dotted, f"must be a whole number, not {_show(value)}")
        if not -INT_MAX - 1 <= value <= INT_MAX:
            raise ConfigError(source, dotted, f"{value} is out of range; allowed: a 64-bit whole number")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(source, dotted, f"must be a number, not {_show(value)}")
        if not math.isfinite(value):
            raise ConfigError(source, dotted, f"must be a finite number, not {value}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(source, dotted, f"must be a string, not {_show(value)}")
        return _plain_text(source, dotted, value)
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise ConfigError(source, dotted, f"must be a list, e.g. [1, 2], not {_show(value)}")
        return tuple(value)
    raise ConfigError(source, dotted, f"unsupported type {expected.__name__}")  # pragma: no cover


def _plain_text(source, dotted, value: str) -> str:
    """No NUL or other control characters (TOML files and paths cannot hold them safely);
    tabs and newlines are allowed."""
    bad = [c for c in value if (ord(c) < 32 and c not in "\t\n") or ord(c) == 127]
    if bad:
        raise ConfigError(source, dotted, f"holds {_char_name(bad[0])}; allowed: text without "
                          f"control characters")
    return value


def _check_list_item(source, dotted, item, low: int, high: int | None = None) -> int:
    """One item of a list of whole numbers in ``low..high``; the error shows an out-of-range
    number as itself ("found 0") and anything else with its type ("found a string ('x')")."""
    is_int = isinstance(item, int) and not isinstance(item, bool)
    if not is_int or item < low or (high is not None and item > high):
        found = repr(item) if is_int else _show(item)
        allowed = f">= {low}" if high is None else f"from {low} to {high}"
        raise ConfigError(source, dotted, f"every item must be a whole number {allowed}, found {found}")
    return item


def _show(value) -> str:
    kind = {bool: "a boolean", int: "a whole number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} ({text if len(text) <= 40 else text[:37] + '...'})"


# ---- value rules, keyed by "section.key"


def _choice(choices):
    def rule(source, dotted, value):
        if value not in choices:
            raise ConfigError(source, dotted, f"unknown value {value!r}{_suggest(value, choices)}; "
                              f"allowed: {', '.join(choices)}")
        return value
    return rule


def _range(low=None, high=None, low_open=False, high_open=False, what="value"):
    def rule(source, dotted, value):
        bad = ((low is not None and (value < low or (low_open and value == low)))
               or (high is not None and (value > high or (high_open and value == high))))
        if bad:
            lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
            hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
            allowed = " and ".join(p for p in (lo, hi) if p)
            raise ConfigError(source, dotted, f"{value} is out of range; allowed: {allowed}")
        return value
    return rule


def _int_list(low, high=None, nonempty=True, what="whole numbers", max_len=None, distinct=False):
    def rule(source, dotted, value):
        if nonempty and not value:
            raise ConfigError(source, dotted, f"must be a non-empty list of {what}")
        if max_len is not None and len(value) > max_len:
            raise ConfigError(source, dotted, f"has {len(value)} items; allowed: at most {max_len}")
        for item in value:
            _check_list_item(source, dotted, item, low, high)
        if distinct and len(set(value)) != len(value):
            raise ConfigError(source, dotted, f"{what} must be distinct")
        return tuple(value)
    return rule


def _activation(source, dotted, value):
    if value in KERAS_ACTIVATIONS:
        return value
    raise ConfigError(source, dotted, f"unknown activation {value!r}"
                      f"{_suggest(value, KERAS_ACTIVATIONS)}; allowed: any Keras activation, e.g. "
                      f"relu, sigmoid, tanh, gelu, elu, selu, leaky_relu, silu, softplus, linear")


def _initializer(source, dotted, value):
    if INITIALIZER_ALIASES.get(value, value) in KERAS_INITIALIZERS:
        return value
    allowed = sorted(set(INITIALIZER_ALIASES) | KERAS_INITIALIZERS)
    raise ConfigError(source, dotted, f"unknown initializer {value!r}{_suggest(value, allowed)}; "
                      f"allowed: he, xavier, glorot, orthogonal, lecun or a Keras initializer "
                      f"name ({', '.join(sorted(KERAS_INITIALIZERS))})")


def _shift_list(source, dotted, value):
    for item in value:
        if item not in SHIFT_KINDS:
            shown = repr(item) if isinstance(item, str) else _show(item)
            raise ConfigError(source, dotted, f"unknown shift {shown}{_suggest(str(item), SHIFT_KINDS)}; "
                              f"allowed: {', '.join(SHIFT_KINDS)}")
    if len(set(value)) != len(value):
        raise ConfigError(source, dotted, "shifts must be distinct")
    return tuple(value)


_seeds = _int_list(0, SEED_MAX, what="seeds", max_len=MAX_RUNS, distinct=True)


QUICK_SUFFIX = "-quick"  # added by --quick (keras_dyn.train.quick_version)


def _experiment_name(source, dotted, value):
    if not value:
        return value  # "" = the file name (checked by load_config)
    limit = NAME_MAX + len(QUICK_SUFFIX) if value.endswith(QUICK_SUFFIX) else NAME_MAX
    return check_name(source, dotted, value, limit)


_RULES = {
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
    "model.output": _choice(OUTPUTS),
    "model.dtype": _choice(DTYPES),
    "training.optimizer": _choice(OPTIMIZERS),
    "training.learning_rate": _range(0.0, 10.0, low_open=True),
    "training.momentum": _range(0.0, 1.0, high_open=True),
    "training.weight_decay": _range(0.0, 1.0),
    "training.scheduler": _choice(SCHEDULERS),
    "training.step_size": _range(1),
    "training.gamma": _range(0.0, 1.0, low_open=True),
    "training.batch_size": _range(1, 1_000_000),
    "training.epochs": _range(1, 100_000),
    "training.seeds": _seeds,
    "log.gradient_mode": _choice(GRADIENT_MODES),
    "log.gradient_histogram_every": _range(0),
    "log.step_scalars_every": _range(0),
    "log.probe_size": _range(1),
    "log.every": _range(1),
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


def _grid_value(source, dotted, key, value):
    """One value of grid key ``key`` (a grid list item or a case's value), checked and normalised
    (width lists become tuples)."""
    section, fld = GRID_KEYS[key]
    if key == "hidden":
        if not isinstance(value, list):
            raise ConfigError(source, dotted, "must be a list of width lists, e.g. [[64, 64], [128]]"
                              if dotted.startswith("grid.") else
                              f"must be a list of widths, e.g. [64, 64], not {_show(value)}")
        return _RULES["model.hidden"](source, dotted, tuple(value))
    if key == "layers":
        return _check_list_item(source, dotted, value, 1, MAX_LAYERS)
    if key == "units" or key.startswith("units_"):
        return _check_list_item(source, dotted, value, 1, MAX_WIDTH)
    if key == "corruption":
        return _choice(tuple(CORRUPTIONS))(source, dotted, value)
    fdef = {f.name: f for f in dataclasses.fields(SECTION_TYPES[section])}[fld]
    return _check_value(source, dotted, f"{section}.{fld}", value, fdef)


def _grid(source, raw_grid, sections) -> dict:
    grid = {}
    for key, values in raw_grid.items():
        dotted = f"grid.{key}"
        if key not in GRID_KEYS:
            raise ConfigError(source, dotted, f"unknown grid key{_suggest(key, GRID_KEYS)}; "
                              f"allowed: {', '.join(GRID_KEYS)}")
        if not isinstance(values, list) or not values:
            raise ConfigError(source, dotted, f"must be a non-empty list of values, not {_show(values)}")
        checked = [_grid_value(source, dotted, key, value) for value in values]
        if len(set(map(repr, checked))) != len(checked):
            raise ConfigError(source, dotted, "values must be distinct")
        grid[key] = tuple(checked)
    if "hidden" in grid and any(k in grid for k in ("units", "layers")):
        raise ConfigError(source, "grid.hidden", "use either hidden or units/layers, not both")
    if "corruption" in grid:
        for other in ("label_noise", "input_corruption"):
            if other in grid:
                raise ConfigError(source, f"grid.{other}", "use either corruption (it sets "
                                  "label_noise and input_corruption) or this key, not both")
    return grid


def _cases(source, raw_cases, grid) -> tuple:
    """``[[cases]]``: listed combinations of grid-key values. Every case sets the same keys, none
    of them a ``[grid]`` key, and no two cases are equal."""
    if (not isinstance(raw_cases, list) or not raw_cases
            or not all(isinstance(c, dict) for c in raw_cases)):
        raise ConfigError(source, "cases", f"must be a non-empty list of tables ([[cases]] blocks, "
                          f"each setting grid keys, e.g. optimizer = \"sgd\" and learning_rate = "
                          f"0.1), not {_show(raw_cases)}")
    if len(raw_cases) > MAX_CASES:
        raise ConfigError(source, "cases", f"has {len(raw_cases)} cases; allowed: at most {MAX_CASES}")
    cases = []
    for i, raw in enumerate(raw_cases):
        if not raw:
            raise ConfigError(source, f"cases[{i}]", f"is empty; a case sets grid keys ("
                              f"{', '.join(GRID_KEYS)})")
        case = {}
        for key, value in raw.items():
            dotted = f"cases[{i}].{key}"
            if key not in GRID_KEYS:
                raise ConfigError(source, dotted, f"unknown key{_suggest(key, GRID_KEYS)}; "
                                  f"allowed: {', '.join(GRID_KEYS)}")
            if key in grid:
                raise ConfigError(source, dotted, f"is also a [grid] key; a key is swept either by "
                                  f"the grid or by the cases, not both")
            case[key] = _grid_value(source, dotted, key, value)
        if "hidden" in case and any(k in case or k in grid for k in ("units", "layers")):
            raise ConfigError(source, f"cases[{i}].hidden", "use either hidden or units/layers, not both")
        if "hidden" in grid and any(k in case for k in ("units", "layers")):
            raise ConfigError(source, f"cases[{i}]", "sets units/layers while grid.hidden is swept; "
                              "use either hidden or units/layers, not both")
        if i and set(case) != set(cases[0]):
            missing = [k for k in cases[0] if k not in case]
            extra = [k for k in case if k not in cases[0]]
            what = "; ".join(p for p in (f"lacks {', '.join(missing)}" if missing else "",
                                         f"adds {', '.join(extra)}" if extra else "") if p)
            raise ConfigError(source, f"cases[{i}]", f"{what}; every case must set the same keys "
                              f"(cases[0] sets {', '.join(cases[0])})")
        for j, other in enumerate(cases):
            if all(repr(other[k]) == repr(case[k]) for k in case):
                raise ConfigError(source, f"cases[{i}]", f"is the same as cases[{j}]; cases must "
                                  f"be distinct")
        cases.append({k: case[k] for k in cases[0]} if cases else case)  # cases[0]'s key order
    return tuple(cases)


def _check_combinations(cfg: ExperimentConfig):
    if cfg.data.dataset in ("circle", "nested_rings") and cfg.data.normalize != "zero_one":
        pass  # synthetic data are already centred; normalisation is a no-op for them
    if cfg.data.input_corruption != "none" and cfg.data.dataset not in ("mnist", "fashion_mnist"):
        raise ConfigError(cfg.source, "data.input_corruption", f"{cfg.data.input_corruption!r} "
                          f"permutes pixels; allowed: an image data set (mnist, fashion_mnist), or "
                          f"\"none\" for {cfg.data.dataset}")
    if cfg.log.gradient_mode == "probe" and not cfg.log.gradients:
        raise ConfigError(cfg.source, "log.gradient_mode", "needs log.gradients = true")


def _suggest(word, choices) -> str:
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _first_line(exc) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
