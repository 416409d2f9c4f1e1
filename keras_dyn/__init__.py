"""keras_dyn: a TensorFlow/Keras lab kit for studying how neural networks learn.

The Python API (:mod:`keras_dyn.api`), loaded on first use so that ``import keras_dyn`` stays light
(no TensorFlow, no pandas until asked for)::

    import keras_dyn as kd

    kd.labs()                                   # the catalogue as a DataFrame
    lab = kd.lab("exp2_epochs_vs_width")        # .config, .hypotheses, .run(), .findings()
    outcome = lab.run(quick=True, logdir="modellogs")
    runs = kd.load_runs(outcome.experiment_dir) # experiment, run, seed, status, units, epoch, metric, value
    lab.findings().verdicts                     # one row per hypothesis: difference, CI, p, adjusted p, verdict
    kd.run("my_experiment.toml")                # one experiment, like `keras-dyn run`
"""

import keras_dyn.quiet  # noqa: F401  first: TensorFlow's log level, before anything imports it

__version__ = "0.1.0"

__all__ = ["labs", "lab", "run", "load_runs", "Lab", "Outcome"]


def __getattr__(name):  # PEP 562: the API module is imported on first use
    if name in __all__:
        import importlib

        # by name, not an import statement: keras_dyn.api imports modules that read
        # keras_dyn.__version__, which is defined above and needs nothing from here
        return getattr(importlib.import_module("keras_dyn.api"), name)
    raise AttributeError(f"module 'keras_dyn' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
