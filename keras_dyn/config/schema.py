"""The shape of an experiment file: its sections as frozen dataclasses (every key with its default), the value vocabularies, the grid keys and the size caps.

Nothing here imports TensorFlow, so a bad file is reported in a fraction of a second.

This is the one place for what a key means: each section field's ``metadata["doc"]`` (one line),
and ``GRID_KEY_DOCS`` for the grid keys; each rule in :mod:`keras_dyn.config.rules` says what
it allows (``rule.allowed``). :mod:`keras_dyn.config.reference` builds docs/config.md from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


NORM_LAYERS = ("none", "batch", "layer")  # model.normalization: none, BatchNormalization, LayerNormalization


EARLY_STOPPING_MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")  # Keras's epoch logs


# training.early_stopping, when on: every sub-key with its default and meaning (docs/config.md)
EARLY_STOPPING_KEYS = {
    "monitor": ("val_loss", "the epoch log watched: val_loss, val_accuracy (validation split needed), "
                "loss or accuracy (Keras's running training means)"),
    "patience": (5, "epochs without an improvement after which training stops"),
    "min_delta": (0.0, "the smallest change of the monitored value that counts as an improvement"),
    "restore_best": (True, "end the run with the weights of the best epoch (Keras restores them at the "
                     "end of training, stopped early or not)"),
}


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


class Table(dict):
    """A read-only, hashable table value of a section key (``training.early_stopping``), so the
    sections stay frozen and hashable; written to TOML as a plain table."""

    def __hash__(self):
        return hash(tuple(self.items()))

    def _read_only(self, *args, **kwargs):
        raise TypeError("a config table is read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _read_only

    def __reduce__(self):
        return (type(self), (dict(self),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _key(default, doc: str):
    """A section key: its default and its one-line meaning (``metadata["doc"]``, in docs/config.md)."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class ExperimentSection:
    """What the experiment is called."""

    name: str = _key("", "the folder under modellogs/ its runs are written to; left out: the file's name (\"\" is refused)")
    description: str = _key("", "free text, kept with the runs")


@dataclass(frozen=True)
class DataConfig:
    """The data set, its validation split, subsets, label noise and input corruption (in that order)."""

    dataset: str = _key("mnist", "the data set; circle and nested_rings are 2-D synthetic (2 classes)")
    validation_split: float = _key(0.1, "fraction of the training pool held out for validation (test untouched)")
    normalize: str = _key("zero_one", "image scaling: x / 255 in [0, 1], or x / 127.5 - 1 in [-1, 1]")
    subset: int = _key(0, "training examples kept, a seeded choice; validation shrinks alike (0 = all)")
    test_subset: int = _key(0, "test examples kept, a seeded choice (0 = all)")
    split_seed: int = _key(0, "seed of the validation split, the subsets and the synthetic data")
    n_samples: int = _key(2000, "synthetic data sets only: training pool size (test: a quarter, at least 10)")
    noise: float = _key(0.1, "synthetic data sets only: std of the input noise")
    label_noise: float = _key(0.0, "fraction of training labels changed (after subsets)")
    label_noise_kind: str = _key("symmetric", "symmetric: another class at random; pair: c -> c+1 mod K; "
                                 "random: any class")
    label_noise_seed: int = _key(0, "seed of the label noise")
    label_noise_validation: bool = _key(False, "also give the validation split's labels the same noise "
                                        "(fraction, kind; its own stream of label_noise_seed), a held-out noisy "
                                        "split as a practitioner has: val_loss, val_accuracy and early stopping "
                                        "then watch noisy labels; the test labels stay clean; false = only the "
                                        "training labels are noisy")
    input_corruption: str = _key("none", "images only: one pixel permutation for all images, or one per image")
    input_corruption_seed: int = _key(0, "seed of the input corruption")


@dataclass(frozen=True)
class ModelConfig:
    """A fully connected network: hidden widths, activation, initialiser, output layer, dtype."""

    hidden: tuple = _key((128, 128), "hidden layer widths; the output layer follows from the data")
    activation: str = _key("relu", "activation of every hidden layer")
    initializer: str = _key("glorot_uniform", "kernel initialiser of every layer, drawn in float64 NumPy "
                            "from the run's seed (the same weights on every machine)")
    init_gain: float = _key(1.0, "orthogonal and identity only: the gain their kernels are scaled by; "
                            "\"relu\" = sqrt(2), the ReLU gain")
    output: str = _key("softmax", "softmax over the classes, or one sigmoid unit with binary "
                       "cross-entropy (2-class data only)")
    dtype: str = _key("float32", "the arithmetic of every layer, its weights and its optimiser state")
    dropout: float = _key(0.0, "Keras Dropout after each hidden layer's activation (active while training, off at evaluation): one rate "
                          "for all, or one per hidden layer; 0 = no Dropout layer at all")
    l2: float = _key(0.0, "L2 kernel regulariser (keras.regularizers.L2) on every Dense kernel: adds "
                     "l2 * sum(W**2) to the loss, so its gradient 2 * l2 * W passes through the optimiser "
                     "(Adam rescales it per entry), unlike adamw's decoupled training.weight_decay, which "
                     "shrinks the weights directly; Keras's own losses include the penalty (the running "
                     "training loss train_loss_running, val_loss, and so early stopping on loss or val_loss), "
                     "keras_dyn's evaluations train_loss and test_loss are the cross-entropy alone; 0 = none")
    normalization: str = _key("none", "BatchNormalization (batch) or LayerNormalization (layer) between each "
                              "hidden Dense and its activation (the Dense keeps its bias); none = neither")
    residual: bool = _key(False, "skip connections: each hidden layer after the first outputs "
                          "its activation (after Dropout) + its input (keras Add), through a linear "
                          "projection without bias (hidden<i>_skip) when the widths differ")

    @property
    def keras_initializer(self) -> str:
        return INITIALIZER_ALIASES.get(self.initializer, self.initializer)


@dataclass(frozen=True)
class TrainingConfig:
    """The optimiser, its learning rate and schedule, the batch size, the epochs and the seeds."""

    optimizer: str = _key("adam", "the optimiser (sgd_momentum: SGD with momentum; adamw: Adam with weight decay)")
    learning_rate: float = _key(1e-3, "the (initial) learning rate; refused when float32 rounds it to 0 or a subnormal (it would train nothing)")
    momentum: float = _key(0.9, "sgd_momentum only: the momentum")
    weight_decay: float = _key(1e-4, "adamw only: the decoupled weight decay")
    scheduler: str = _key("none", "learning-rate schedule: constant, step decay, cosine decay to 0 over "
                          "the epochs, exponential decay")
    step_size: int = _key(5, "step only: epochs between decays")
    gamma: float = _key(0.5, "step / exponential: decay factor (per step_size epochs / per epoch)")
    batch_size: int = _key(64, "examples per optimiser step")
    epochs: int = _key(5, "epochs of training per run")
    seeds: tuple = _key((0,), "one run per seed (per grid point); --seeds N replaces them with 0..N-1")
    early_stopping: dict = field(default_factory=Table, metadata={"doc": (
        "keras.callbacks.EarlyStopping: a table of " + "; ".join(
            f"{k} (default {v[0]!r}: {v[1]})" for k, v in EARLY_STOPPING_KEYS.items()).replace("True", "true")
        + "; absent or {} = off. The run records [early_stopping] stopped_epoch (0 = never stopped) "
        "and restored_epoch (0 = none restored); epoch tables end at the last epoch trained, "
        "[final] describes the restored weights")})


@dataclass(frozen=True)
class LogConfig:
    """Which diagnostics a run writes and how often (docs/diagnostics.md)."""

    tensorboard: bool = _key(True, "write TensorBoard event files (the results file is written either way)")
    test_every_epoch: bool = _key(True, "evaluate the test set every epoch (false: once, at the end)")
    train_eval_size: int = _key(5000, "training examples (a fixed subset drawn from the run's seed; 0 = all) "
                                "evaluated with each epoch's end weights: train_loss, train_accuracy "
                                "(Keras's running means: train_*_running)")
    gradients: bool = _key(True, "per-step statistics of the gradients, per layer")
    gradient_mode: str = _key("applied", "applied: the training batches' gradients; probe: a separate fixed "
                              "batch, tagged grad_probe/")
    gradient_histogram_every: int = _key(0, "steps between gradient histograms; 0 = at epoch ends only")
    step_scalars_every: int = _key(0, "steps between per-step TensorBoard scalars (grad/..., step/loss); 0 = none "
                                   "(the results file keeps every step either way)")
    activations: bool = _key(True, "activation statistics per layer (dead units, saturation)")
    weights: bool = _key(True, "weight norms, update norms and update ratios per layer")
    step_loss: bool = _key(False, "every optimiser step's training loss (raw, unfiltered)")
    probe_size: int = _key(512, "examples in the fixed probe batch for activations (and probe gradients)")
    every: int = _key(1, "epochs between activation / weight diagnostics (and the last epoch)")
    per_example_every: int = _key(0, "optimiser steps between per-example gradient measurements on a training "
                                  "batch (norms per layer, noise scale, GSNR; Dense-only models); 0 = off")
    curvature_every: int = _key(0, "epochs between curvature measurements on a fixed training batch "
                                "(sharpness, Hessian trace); 0 = off")
    curvature_batch: int = _key(512, "training examples in the fixed curvature batch")
    curvature_iterations: int = _key(20, "power-iteration steps (Hessian-vector products) for the sharpness, at most")
    curvature_samples: int = _key(10, "Rademacher vectors of the Hutchinson trace estimate")


@dataclass(frozen=True)
class ProbesConfig:
    """Memorisation and robustness probes: noisy labels, shifted test images, representation drift,
    the NumPy twin, the decision surface."""

    noisy_labels: bool = _key(True, "accuracy on the clean and the corrupted labels; only when "
                              "data.label_noise > 0")
    shifts: tuple = _key((), "input shifts applied to the test images; empty = no shifted-test probe")
    shift_severities: tuple = _key((1, 2, 3), "severities of every shift")
    shift_every: int = _key(1, "epochs between shifted-test evaluations")
    shift_seed: int = _key(0, "seed of the random parts of the shifts")
    shift_test_size: int = _key(2000, "test images the shifts are evaluated on (at most)")
    drift: bool = _key(False, "representation drift per layer against initialisation and the previous epoch")
    drift_probe_size: int = _key(512, "training examples the drift is measured on")
    noisy_eval_size: int = _key(5000, "cap per subset evaluated by the noisy-label probe (0 = all)")
    numpy_twin: bool = _key(False, "replay every batch on keras_dyn.numpy_mlp from the same weights "
                            "(sgd or adam, constant rate, relu/tanh/sigmoid/linear)")
    numpy_twin_seeds: tuple = _key((), "the seeds whose runs get the twin (empty = every seed)")
    decision_grid: int = _key(0, "N > 0: the trained model's output on an N x N grid of the input plane "
                              "(2-D data; N = 1 is refused)")


SECTION_TYPES = {
    "experiment": ExperimentSection,
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "log": LogConfig,
    "probes": ProbesConfig,
}


FREEFORM_SECTIONS = ("grid", "cases", "lab")


REQUIRED_SECTIONS = ("data", "model", "training")


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
    "init_gain": ("model", "init_gain"),
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
    "dropout": ("model", "dropout"),
    "l2": ("model", "l2"),
    "normalization": ("model", "normalization"),
    "residual": ("model", "residual"),
    "early_stopping": ("training", "early_stopping"),
}


# what a grid key sets, for docs/config.md (a key missing here sets its (section, field) plainly)
GRID_KEY_DOCS = {
    "units": f"the width of every hidden layer (a whole number from 1 to {MAX_WIDTH})",
    "layers": f"the number of hidden layers, each as wide as the first (1 to {MAX_LAYERS})",
    "hidden": "a whole width list per value, e.g. hidden = [[64, 64], [128]] (not with units / layers)",
    **{f"units_{i}": f"the width of hidden layer {i} (the model must have {i} or more)" for i in range(1, 9)},
    "corruption": "a preset: each of " + ", ".join(CORRUPTIONS) + " sets data.label_noise, "
                  "label_noise_kind and input_corruption (not with label_noise / input_corruption)",
    "early_stopping": "a `training.early_stopping` table per value, {} = off, e.g. [[cases]] early_stopping = "
                      "{ monitor = \"val_loss\", patience = 3 } beside early_stopping = {} (run names: "
                      "es-val_loss-p3, es-off; sub-keys left out take their defaults)",
}


# short names used in run names, e.g. w256-256_bs64_lr0.001_s0
RUN_NAME_TAGS = {
    "activation": "",
    "initializer": "init-",
    "init_gain": "gain",
    "optimizer": "",
    "learning_rate": "lr",
    "epochs": "ep",
    "scheduler": "sched-",
    "label_noise": "noise",
    "input_corruption": "",
    "corruption": "",
    "gamma": "gamma",
    "dataset": "",
    "dropout": "drop",
    "l2": "l2-",
    "normalization": "norm-",
    "residual": "res-",
    "early_stopping": "es-",  # es-off, es-val_loss-p3 (names.short of a table)
}


QUICK_SUFFIX = "-quick"  # added by --quick (keras_dyn.runs.experiment.quick_version)
