"""TOML experiment files -> typed, validated config objects.

An experiment file has these sections (all optional except ``[data]``, ``[model]`` and
``[training]``); every key, its type, default and allowed values are in ``docs/config.md``,
generated from :mod:`keras_dyn.config.reference`::

    [experiment]  name, description
    [data]        the data set, its split, subsets, label noise and input corruption
    [model]       hidden widths, activation, initializer, output, dtype
    [training]    optimizer, learning rate, scheduler, batch size, epochs, seeds
    [grid]        lists of values to sweep (see GRID_KEYS)
    [[cases]]     listed combinations of GRID_KEYS values, each run with every grid point
    [log]         which diagnostics run and how often
    [probes]      memorisation and robustness probes
    [lab]         what a lab asks and claims, its hypotheses and findings sections
                  (validated by :mod:`keras_dyn.config.lab`)

The package, one job a module: ``schema`` (sections, vocabularies, caps), ``names`` (path names
and the wording of errors), ``rules`` (each key's rule), ``plan`` (grid, cases, every run
checked), ``experiment`` (the whole file: load, validate, expand), ``effects`` (keys that act only
under another key's value: the no-effect warnings), ``lab``, ``lab_checks``, ``lab_claims`` and ``lab_keys``
(the ``[lab]`` table), ``reference`` (docs/config.md, generated). Every problem is a :class:`keras_dyn.errors.ConfigError`, one line
naming the file, the dotted key and what is allowed; a file with several raises them together
(:class:`keras_dyn.errors.ConfigErrors`, one line each). Nothing here imports TensorFlow.
"""

from keras_dyn.config.experiment import ExperimentConfig, from_dict, load_config, same_run_config
from keras_dyn.config.names import check_name, name_problem
from keras_dyn.config.schema import (ALL_SECTIONS, CORRUPTIONS, DATASETS, GRID_KEYS, INPUT_CORRUPTIONS,
                                     KERAS_ACTIVATIONS, KERAS_INITIALIZERS, LABEL_NOISE_KINDS, MAX_LAYERS,
                                     MAX_PARAMS, MAX_RUNS, MAX_WIDTH, NAME_MAX, OPTIMIZERS, QUICK_SUFFIX,
                                     RUN_NAME_MAX, SCHEDULERS, SEED_MAX, SHIFT_KINDS, DataConfig,
                                     ExperimentSection, LogConfig, ModelConfig, ProbesConfig, TrainingConfig)

__all__ = [
    "ExperimentConfig", "from_dict", "load_config", "same_run_config", "check_name", "name_problem",
    "ALL_SECTIONS", "CORRUPTIONS", "DATASETS", "GRID_KEYS", "INPUT_CORRUPTIONS", "KERAS_ACTIVATIONS",
    "KERAS_INITIALIZERS", "LABEL_NOISE_KINDS", "MAX_LAYERS", "MAX_PARAMS", "MAX_RUNS", "MAX_WIDTH",
    "NAME_MAX", "OPTIMIZERS", "QUICK_SUFFIX", "RUN_NAME_MAX", "SCHEDULERS", "SEED_MAX", "SHIFT_KINDS",
    "DataConfig", "ExperimentSection", "LogConfig", "ModelConfig", "ProbesConfig", "TrainingConfig",
]
