"""The one place that turns a run's ``[log]`` and ``[probes]`` sections into Keras callbacks.

``keras_dyn.runs.fit`` calls :func:`prepare_model` on the freshly built model (before compile) and
:func:`callbacks_for` to get the diagnostics for one run. Callbacks themselves never see the
config: they get plain arguments from here.
"""

from __future__ import annotations


def prepare_model(model, cfg):
    """Return the model to train (wrapped so gradient statistics can be recorded, if asked).

    With ``log.gradients`` and ``log.gradient_mode = "applied"`` (the default) the model is
    wrapped by :func:`keras_dyn.recording.instrument` (same layers and weights, a ``train_step``
    that records the applied gradients); otherwise it is returned unchanged.
    """
    if cfg.log.gradients and cfg.log.gradient_mode == "applied":
        from keras_dyn.recording import instrument

        return instrument(model)
    return model


def check_settings(cfg) -> None:
    """Resolve what the diagnostics take from the environment, before a run writes anything.

    With applied-gradient statistics on, this loads (building it the first time) the fused
    statistics kernel of :mod:`keras_dyn.gradient_table`, so a bad ``KERAS_DYN_FUSED_STATS``
    value, or ``=on`` without a kernel, stops the experiment with one line and no run folder.
    """
    if cfg.log.gradients and cfg.log.gradient_mode == "applied":
        from keras_dyn.gradient_table import fused_kernel

        fused_kernel()


def _probe_indices(n_total: int, size: int, seed: int = 0):
    """A seeded, sorted choice of ``size`` indices (the same for every run on the same data)."""
    import numpy as np

    n = min(int(size), int(n_total))
    return np.sort(np.random.default_rng(seed).choice(n_total, n, replace=False))


def _activation_layers(cfg) -> dict:
    """``hidden<i>`` -> the layer holding its post-activation output (``hidden<i>_act`` in a
    normalised model), for the activation and drift probes."""
    from keras_dyn.models import activation_layer_names

    return activation_layer_names(cfg.model)


def early_stopping_callback(cfg):
    """:class:`~keras_dyn.callbacks.early_stopping.EarlyStop` from ``training.early_stopping``, or
    ``None`` when it is off."""
    stop = cfg.training.early_stopping
    if not stop:
        return None
    from keras_dyn.callbacks.early_stopping import EarlyStop

    return EarlyStop(monitor=stop["monitor"], patience=stop["patience"], min_delta=stop["min_delta"],
                     restore_best=stop["restore_best"])


def training_dynamics_callbacks(cfg, data, run_dir, orders=None) -> list:
    """Gradient, activation and weight diagnostics chosen by ``cfg.log``.

    - :class:`~keras_dyn.callbacks.gradient_statistics.GradientStatistics` when
      ``log.gradients`` (``gradient_mode``, ``gradient_histogram_every``, and
      ``step_scalars_every`` for the per-step ``grad/...`` scalars in TensorBoard; probe mode uses
      ``log.probe_size`` training examples);
    - :class:`~keras_dyn.callbacks.activation_statistics.ActivationStatistics` when
      ``log.activations``, on ``log.probe_size`` validation examples (training examples if there
      is no validation split), at epoch 0 (the initial network) and at epochs ``log.every``,
      ``2 * log.every``, ... and the last;
    - :class:`~keras_dyn.callbacks.weight_statistics.WeightStatistics` when ``log.weights``,
      at epochs ``log.every``, ``2 * log.every``, ... and the last;
    - :class:`~keras_dyn.callbacks.per_example_gradients.PerExampleGradients` when
      ``log.per_example_every > 0``: every that many updates, on a batch of
      ``training.batch_size`` examples (the applied batch when ``orders`` is given, else a
      seeded draw), grouped clean / corrupted when ``data.label_noise > 0``;
    - :class:`~keras_dyn.callbacks.hessian_curvature.HessianCurvature` when
      ``log.curvature_every > 0``: at epochs ``curvature_every``, ``2 * curvature_every``, ... and
      the last, on ``log.curvature_batch`` training examples (``curvature_iterations``,
      ``curvature_samples``).

    (Epoch numbers follow :mod:`keras_dyn.callbacks.base`: epoch e = after e epochs.)

    All write to ``<run_dir>/train``. Probe batches are a seeded choice (seed 0), the same for
    every run on the same data.
    """
    log = cfg.log
    run_dir = None if run_dir is None else str(run_dir)
    out = []
    if log.gradients:
        from keras_dyn.callbacks.gradient_statistics import GradientStatistics
        from keras_dyn.data import constant_features

        constant = constant_features(data.x_train)  # its zero gradients are not the network's

        if log.gradient_mode == "probe":
            idx = _probe_indices(len(data.x_train), log.probe_size)
            out.append(GradientStatistics(run_dir, histogram_every=log.gradient_histogram_every,
                                          step_summary_every=log.step_scalars_every,
                                          mode="probe", probe_x=data.x_train[idx],
                                          probe_y=data.y_train[idx], constant_inputs=constant))
        else:
            out.append(GradientStatistics(run_dir, histogram_every=log.gradient_histogram_every,
                                          step_summary_every=log.step_scalars_every,
                                          constant_inputs=constant))
    if log.activations:
        from keras_dyn.callbacks.activation_statistics import ActivationStatistics

        pool = data.x_val if len(data.x_val) else data.x_train
        out.append(ActivationStatistics(pool[_probe_indices(len(pool), log.probe_size)],
                                        run_dir, every=log.every, layer_names=_activation_layers(cfg)))
    if log.weights:
        from keras_dyn.callbacks.weight_statistics import WeightStatistics

        out.append(WeightStatistics(run_dir, every=log.every))
    if log.per_example_every:
        from keras_dyn.callbacks.per_example_gradients import PerExampleGradients

        noisy = cfg.data.label_noise > 0 and data.corrupted is not None
        out.append(PerExampleGradients(data.x_train, data.y_train, run_dir, every_steps=log.per_example_every,
                                       batch_size=cfg.training.batch_size, orders=orders,
                                       groups=data.corrupted if noisy else None, seed=cfg.training.seeds[0]))
    if log.curvature_every:
        from keras_dyn.callbacks.hessian_curvature import HessianCurvature

        idx = _probe_indices(len(data.x_train), log.curvature_batch)
        out.append(HessianCurvature(data.x_train[idx], data.y_train[idx], run_dir, every=log.curvature_every,
                                    iterations=log.curvature_iterations, samples=log.curvature_samples))
    if log.step_loss:
        from keras_dyn.callbacks.step_loss import StepLoss

        out.append(StepLoss(run_dir, batch_size=cfg.training.batch_size, n_train=len(data.x_train),
                            summary_every=log.step_scalars_every))
    return out


def probe_callbacks(cfg, data, run_dir, orders=None) -> list:
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
                                 data.x_val, data.y_val if data.y_val_clean is None else data.y_val_clean,
                                 data.x_test, data.y_test, log_dir=run_dir,  # its val_acc: clean labels
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
        out.append(RepresentationDrift(data.x_train[idx], log_dir=run_dir,
                                       layer_names=_activation_layers(cfg)))
    if probes.decision_grid:
        from keras_dyn.callbacks.decision_surface import DecisionSurface

        out.append(DecisionSurface(np.concatenate([data.x_train, data.x_test]), data.x_test, data.y_test,
                                   size=probes.decision_grid))
    if probes.numpy_twin and (not probes.numpy_twin_seeds
                              or cfg.training.seeds[0] in probes.numpy_twin_seeds):
        from keras_dyn.callbacks.numpy_twin import NumpyTwin

        if orders is None:
            raise ValueError("probes.numpy_twin needs the run's batch orders (keras_dyn.runs.batches)")
        out.append(NumpyTwin(data.x_train, data.y_train, orders, cfg.training.batch_size, log_dir=run_dir))
    return out


def callbacks_for(cfg, data, run_dir, orders=None) -> list:
    """Every diagnostic of a run; ``orders``: the fixed batch order it is fed (the NumPy twin)."""
    return (training_dynamics_callbacks(cfg, data, run_dir, orders=orders)
            + probe_callbacks(cfg, data, run_dir, orders=orders))
