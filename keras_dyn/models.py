"""Build the Keras MLP that a ``[model]`` section describes.

Layers are named so that tags, results files and figures agree: ``flatten`` (image inputs only),
``hidden1`` ... ``hiddenN`` (the Dense layers: their kernels are ``hidden<i>/kernel`` with or
without the remedies), ``output``. ``model.normalization``, ``dropout`` and ``residual`` add
``hidden<i>_norm``, ``hidden<i>_act``, ``hidden<i>_dropout``, ``hidden<i>_skip`` and
``hidden<i>_add`` to a hidden layer (see ``_hidden_block``); ``model.l2`` regularises every
Dense kernel. The output layer follows ``model.output``: a softmax
over ``num_classes`` units trained with sparse categorical cross-entropy (the default), or
``"sigmoid"``: one unit giving P(class 1), trained with binary cross-entropy (2-class data only;
the config check refuses it otherwise). Code that reads predictions goes through
:func:`class_probabilities`, which turns a sigmoid model's ``[N, 1]`` output into the ``[N, 2]``
class probabilities a softmax model gives, so accuracy, argmax and ``-log p[y]`` work alike.
"""

from __future__ import annotations

import keras

from keras_dyn.config import ModelConfig
from keras_dyn.config.remedies import count_params, dropout_rates
from keras_dyn.initializers import gain_value, set_initial_weights


def build_model(cfg: ModelConfig, input_shape, num_classes: int, name: str = "mlp",
                seed: int | None = None) -> keras.Model:
    """Return an uncompiled functional MLP.

    With ``seed``, every kernel is drawn in float64 NumPy from it
    (:func:`keras_dyn.initializers.set_initial_weights`: the same bits on every machine) and the
    biases are zero; without, Keras's own initialisers draw them (counting parameters, tests).

    Args:
        cfg: the model section (hidden widths, activation, initialiser, output, dtype: every
            layer computes and keeps its weights in ``cfg.dtype``, so the optimiser's slots
            follow; inputs are cast to it).
        input_shape: shape of one example, e.g. ``(28, 28)`` or ``(2,)``.
        num_classes: number of output classes.
    """
    dtype = getattr(cfg, "dtype", "float32")
    inputs = keras.Input(shape=tuple(input_shape), name="inputs", dtype=dtype)
    x = inputs
    if len(input_shape) > 1:
        x = keras.layers.Flatten(name="flatten", dtype=dtype)(x)
    for i, units in enumerate(cfg.hidden, start=1):
        x = _hidden_block(cfg, x, i, units, dtype)
    sigmoid = getattr(cfg, "output", "softmax") == "sigmoid"
    if sigmoid and num_classes != 2:
        raise ValueError(f"a sigmoid output needs 2 classes, not {num_classes}")
    outputs = keras.layers.Dense(
        1 if sigmoid else num_classes,
        activation="sigmoid" if sigmoid else "softmax",
        kernel_initializer=_keras_initializer(cfg),
        kernel_regularizer=_regularizer(cfg),
        name="output",
        dtype=dtype,
    )(x)
    model = keras.Model(inputs, outputs, name=name)
    if seed is not None:
        skips = {f"hidden{i}_skip": SKIP_INDEX + i for i in range(1, len(cfg.hidden) + 1)}
        set_initial_weights(model, cfg.keras_initializer, seed, getattr(cfg, "init_gain", 1.0), indices=skips)
    return model


#: the initial-kernel index of hidden layer i's residual projection is SKIP_INDEX + i, apart from
#: the main layers' 1, 2, ... (so a residual model's other kernels are those of the plain model)
SKIP_INDEX = 1000


def _hidden_block(cfg, x, i: int, units: int, dtype):
    """Hidden layer ``i``: ``hidden<i>`` (Dense), then with ``model.normalization``
    ``hidden<i>_norm`` and ``hidden<i>_act`` (the Dense is then linear, its bias kept), then
    ``hidden<i>_dropout`` and, with ``model.residual`` from the second layer on, ``hidden<i>_add``
    (its input added, through ``hidden<i>_skip``, a Dense without bias, when the widths differ).
    A plain model's block is the one Dense layer with its activation, as it always was."""
    block_input = x
    normalization = getattr(cfg, "normalization", "none")
    split = normalization != "none"
    x = keras.layers.Dense(units, activation=None if split else cfg.activation,
                           kernel_initializer=_keras_initializer(cfg), kernel_regularizer=_regularizer(cfg),
                           name=f"hidden{i}", dtype=dtype)(x)
    if split:
        norm = keras.layers.BatchNormalization if normalization == "batch" else keras.layers.LayerNormalization
        x = norm(name=f"hidden{i}_norm", dtype=dtype)(x)
        x = keras.layers.Activation(cfg.activation, name=f"hidden{i}_act", dtype=dtype)(x)
    rate = dropout_rates(getattr(cfg, "dropout", 0.0), len(cfg.hidden))[i - 1]
    if rate > 0:
        x = keras.layers.Dropout(rate, name=f"hidden{i}_dropout", dtype=dtype)(x)
    if getattr(cfg, "residual", False) and i > 1:
        skip = block_input
        if int(block_input.shape[-1]) != int(units):
            skip = keras.layers.Dense(units, use_bias=False, kernel_initializer=_keras_initializer(cfg),
                                      kernel_regularizer=_regularizer(cfg), name=f"hidden{i}_skip",
                                      dtype=dtype)(block_input)
        x = keras.layers.Add(name=f"hidden{i}_add", dtype=dtype)([x, skip])
    return x


def _regularizer(cfg):
    """``model.l2`` as Keras's kernel regulariser (None for 0: no penalty, no loss term)."""
    l2 = float(getattr(cfg, "l2", 0.0))
    return keras.regularizers.L2(l2) if l2 > 0 else None


def activation_layer_names(cfg: ModelConfig) -> dict:
    """Hidden layer ``hidden<i>`` -> the layer whose output is its post-activation output (before
    Dropout and the residual sum): ``hidden<i>_act`` with normalisation, else ``hidden<i>``."""
    split = getattr(cfg, "normalization", "none") != "none"
    return {f"hidden{i}": f"hidden{i}_act" if split else f"hidden{i}" for i in range(1, len(cfg.hidden) + 1)}


def _keras_initializer(cfg: ModelConfig):
    """Keras's initialiser of the config (the gain applied to orthogonal and identity)."""
    name = cfg.keras_initializer
    if name in ("orthogonal", "identity"):
        gain = gain_value(getattr(cfg, "init_gain", 1.0))
        cls = keras.initializers.Orthogonal if name == "orthogonal" else keras.initializers.Identity
        return cls(gain=gain)
    return keras.initializers.get(name)


def training_loss(cfg: ModelConfig) -> keras.losses.Loss:
    """The Keras loss of the model's output: binary or sparse categorical cross-entropy,
    computed in ``cfg.dtype`` (a Keras loss otherwise casts its inputs to the global float32,
    and a float64 model would train on float32 gradients of the loss)."""
    dtype = getattr(cfg, "dtype", "float32")
    if getattr(cfg, "output", "softmax") == "sigmoid":
        return keras.losses.BinaryCrossentropy(dtype=dtype)
    return keras.losses.SparseCategoricalCrossentropy(dtype=dtype)


def class_probabilities(predictions):
    """``[N, classes]`` class probabilities from a model's predictions (NumPy).

    A softmax model's output is returned as it is; a sigmoid model's ``[N, 1]`` output ``p``
    (P(class 1)) becomes ``[1 - p, p]``, so ``argmax`` gives the predicted class and
    ``-log probs[y]`` the binary cross-entropy.
    """
    import numpy as np

    probs = np.asarray(predictions)
    if probs.ndim == 2 and probs.shape[1] == 1:
        return np.concatenate([1.0 - probs, probs], axis=1)
    return probs


def hidden_layer_names(model: keras.Model) -> list[str]:
    """Names of the hidden Dense layers, in order (``hidden1`` ... without the block's other
    layers, ``hidden<i>_norm``, ``_act``, ``_dropout``, ``_skip``, ``_add``)."""
    return [layer.name for layer in model.layers
            if layer.name.startswith("hidden") and layer.name[6:].isdigit()]


def count_parameters(hidden, input_size: int, num_classes: int, normalization: str = "none",
                     residual: bool = False) -> int:
    """The trainable parameters of :func:`build_model`'s MLP (weights and biases of every dense
    layer, gamma and beta of the normalisation layers, residual projections) for ``input_size``
    inputs, without building it."""
    return count_params([int(input_size), *map(int, hidden), int(num_classes)], normalization, residual)
