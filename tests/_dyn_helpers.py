"""Shared helpers for the training-dynamics tests: a tiny model and the TensorBoard reader."""

from __future__ import annotations

import os
import shutil

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

needs_compiler = pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                                    reason="no C++ compiler to build the fused kernel")


def tiny_model(input_shape=(4, 4), hidden=(8, 6), classes=3, activation="relu", seed=0):
    """Input -> Flatten -> hidden1..N -> output softmax (the keras_dyn layout, tiny)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name="inputs")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(hidden, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"hidden{i}")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="tiny")


def tiny_data(n=64, input_shape=(4, 4), classes=3, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    x = rng.random((n,) + tuple(input_shape)).astype(dtype)
    y = rng.integers(0, classes, n).astype("int32")
    return x, y


def read_events(path):
    """All tensors TensorBoard's own reader finds under ``path``: {tag: [(step, array)]}."""
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={event_accumulator.TENSORS: 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        out[tag] = [(e.step, np.asarray(_array(e.tensor_proto))) for e in acc.Tensors(tag)]
    return out, acc


def _array(proto):
    import tensorflow as tf

    return tf.make_ndarray(proto)


def dense_variable_names(model):
    return [f"{l.name}/{v}" for l in model.layers if isinstance(l, keras.layers.Dense)
            for v in ("kernel", "bias")]
