"""Build the Keras MLP that a ``[model]`` section describes.

Layers are named so that tags, results files and figures agree: ``flatten`` (image inputs only),
``hidden1`` ... ``hiddenN``, ``output``. The output layer is inferred from the data: a softmax
over ``num_classes`` units, trained with sparse categorical cross-entropy.
"""

from __future__ import annotations

import keras

from keras_dyn.config import ModelConfig


def build_model(cfg: ModelConfig, input_shape, num_classes: int, name: str = "mlp") -> keras.Model:
    """Return an uncompiled functional MLP.

    Args:
        cfg: the model section (hidden widths, activation, initialiser).
        input_shape: shape of one example, e.g. ``(28, 28)`` or ``(2,)``.
        num_classes: number of output classes.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="inputs")
    x = inputs
    if len(input_shape) > 1:
        x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(cfg.hidden, start=1):
        x = keras.layers.Dense(
            units,
            activation=cfg.activation,
            kernel_initializer=keras.initializers.get(cfg.keras_initializer),
            name=f"hidden{i}",
        )(x)
    outputs = keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_initializer=keras.initializers.get(cfg.keras_initializer),
        name="output",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def hidden_layer_names(model: keras.Model) -> list[str]:
    """Names of the hidden Dense layers, in order."""
    return [layer.name for layer in model.layers if layer.name.startswith("hidden")]


def count_parameters(hidden, input_size: int, num_classes: int) -> int:
    """The trainable parameters of :func:`build_model`'s MLP (weights and biases of every dense
    layer) for ``input_size`` inputs, without building it."""
    sizes = [int(input_size), *map(int, hidden), int(num_classes)]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))
