"""The one place that turns a run's ``[log]`` and ``[probes]`` sections into Keras callbacks.

``keras_dyn.train`` calls :func:`prepare_model` on the freshly built model (before compile) and
:func:`callbacks_for` to get the diagnostics for one run. Callbacks themselves never see the
config: they get plain arguments from here.
"""

from __future__ import annotations


def prepare_model(model, cfg):
    """Return the model to train (wrapped so gradient statistics can be recorded, if asked)."""
    return model


def training_dynamics_callbacks(cfg, data, run_dir) -> list:
    """Gradient, activation and weight diagnostics chosen by ``cfg.log``."""
    return []


def probe_callbacks(cfg, data, run_dir) -> list:
    """Noisy-label, shifted-test and representation-drift probes chosen by ``cfg.probes``."""
    return []


def callbacks_for(cfg, data, run_dir) -> list:
    return training_dynamics_callbacks(cfg, data, run_dir) + probe_callbacks(cfg, data, run_dir)
