"""keras_dyn: a TensorFlow/Keras lab kit for studying how neural networks learn."""

import keras_dyn.quiet  # noqa: F401  first: TensorFlow's log level, before anything imports it

__version__ = "0.1.0"
