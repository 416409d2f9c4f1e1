"""keras_dyn: a TensorFlow/Keras lab kit for studying how neural networks learn."""

__version__ = "0.1.0"
