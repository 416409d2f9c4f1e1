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
    """Noisy-label, shifted-test and representation-drift probes chosen by ``cfg.probes``.

    - :class:`~keras_dyn.callbacks.noisy_labels.NoisyLabelGap` when ``data.label_noise > 0`` and
      ``probes.noisy_labels`` (subsets capped at ``probes.noisy_eval_size``);
    - :class:`~keras_dyn.callbacks.shifted_test.ShiftedTestAccuracy` when ``probes.shifts`` is
      non-empty and the inputs are images (``shift_severities``, ``shift_every``, ``shift_seed``,
      ``shift_test_size``);
    - :class:`~keras_dyn.callbacks.representation_drift.RepresentationDrift` when
      ``probes.drift``, on ``probes.drift_probe_size`` training examples (a seeded choice, the
      same for every run on the same data).

    All write to ``<run_dir>/train``.
    """
    import numpy as np

    probes = cfg.probes
    out = []
    if probes.noisy_labels and cfg.data.label_noise > 0:
        from keras_dyn.callbacks.noisy_labels import NoisyLabelGap

        out.append(NoisyLabelGap(data.x_train, data.y_train, data.y_train_clean, data.corrupted,
                                 data.x_val, data.y_val, data.x_test, data.y_test, log_dir=run_dir,
                                 max_examples=probes.noisy_eval_size, seed=cfg.data.label_noise_seed))
    if probes.shifts and len(data.input_shape) == 2:
        from keras_dyn.callbacks.shifted_test import ShiftedTestAccuracy

        out.append(ShiftedTestAccuracy(data.x_test, data.y_test, kinds=probes.shifts,
                                       severities=probes.shift_severities, every=probes.shift_every,
                                       seed=probes.shift_seed, max_examples=probes.shift_test_size,
                                       value_range=data.value_range, log_dir=run_dir))
    if probes.drift:
        from keras_dyn.callbacks.representation_drift import RepresentationDrift

        n = min(probes.drift_probe_size, len(data.x_train))
        idx = np.sort(np.random.default_rng(0).choice(len(data.x_train), n, replace=False))
        out.append(RepresentationDrift(data.x_train[idx], log_dir=run_dir))
    return out


def callbacks_for(cfg, data, run_dir) -> list:
    return training_dynamics_callbacks(cfg, data, run_dir) + probe_callbacks(cfg, data, run_dir)
