"""The shape of an experiment file: its sections as frozen dataclasses (every key with its default), the value vocabularies, the grid keys and the size caps.

Nothing here imports TensorFlow, so a bad file is reported in a fraction of a second. The meaning of every key, for the generated reference (docs/config.md), is in :mod:`keras_dyn.config.reference`.
"""

from __future__ import annotations

from dataclasses import dataclass


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


# A name that becomes part of a path (experiment name, run name, lab name): letters, digits,
# '.', '_' and '-', starting with a letter or digit, no '..', at most NAME_MAX characters. That
# rules out separators, absolute paths, '.', '..', empty names, spaces, NUL and other controls.
NAME_MAX = 100


RUN_NAME_MAX = 200  # run names are built from grid values and may be longer


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


@dataclass(frozen=True)
class ExperimentSection:
    name: str = ""  # left out: the file name ("" written out is refused)
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
    learning_rate: float = 1e-3  # > 0 and <= 10, and a normal float32 (>= 1.18e-38: else it trains nothing)
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


QUICK_SUFFIX = "-quick"  # added by --quick (keras_dyn.train.quick_version)
