"""Optimisers and learning-rate schedules from a ``[training]`` section.

Schedules are per-epoch in meaning (``step_size`` and the decay of ``exponential`` count epochs)
but are applied per optimiser step, as Keras schedules are, so the rate Keras logs at each epoch
is the one in force.
"""

from __future__ import annotations

import keras

from keras_dyn.config import TrainingConfig


def build_schedule(cfg: TrainingConfig, steps_per_epoch: int):
    """The learning rate, or a ``keras.optimizers.schedules`` object for it."""
    lr = cfg.learning_rate
    if cfg.scheduler == "none":
        return lr
    if cfg.scheduler == "step":
        return keras.optimizers.schedules.ExponentialDecay(
            lr, decay_steps=cfg.step_size * steps_per_epoch, decay_rate=cfg.gamma, staircase=True)
    if cfg.scheduler == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            lr, decay_steps=steps_per_epoch, decay_rate=cfg.gamma, staircase=False)
    if cfg.scheduler == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=cfg.epochs * steps_per_epoch)
    raise ValueError(f"unknown scheduler {cfg.scheduler!r}")  # config validation prevents this


def build_optimizer(cfg: TrainingConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """A fresh Keras optimiser for one run."""
    lr = build_schedule(cfg, steps_per_epoch)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr)
    if cfg.optimizer == "sgd_momentum":
        return keras.optimizers.SGD(learning_rate=lr, momentum=cfg.momentum)
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")  # config validation prevents this
