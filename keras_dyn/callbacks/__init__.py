"""keras_dyn's Keras callbacks, one diagnostic per module.

    from keras_dyn.callbacks import GradientStatistics, ActivationStatistics

Each writes ``tf.summary`` data under a run folder (see the README's tag table) and, where it
keeps per-epoch tables, exposes ``results_key`` and ``results()`` for the run's results file.
"""

from keras_dyn.callbacks.activation_statistics import ActivationStatistics
from keras_dyn.callbacks.epoch_recorder import EpochRecorder
from keras_dyn.callbacks.gradient_statistics import GradientStatistics
from keras_dyn.callbacks.noisy_labels import NoisyLabelGap
from keras_dyn.callbacks.progress import Progress
from keras_dyn.callbacks.representation_drift import RepresentationDrift
from keras_dyn.callbacks.shifted_test import ShiftedTestAccuracy
from keras_dyn.callbacks.weight_statistics import WeightStatistics

__all__ = [
    "ActivationStatistics", "EpochRecorder", "GradientStatistics", "NoisyLabelGap", "Progress",
    "RepresentationDrift", "ShiftedTestAccuracy", "WeightStatistics",
]
