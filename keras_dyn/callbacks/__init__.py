"""keras_dyn's Keras callbacks, one diagnostic per module.

    from keras_dyn.callbacks import GradientStatistics, ActivationStatistics

The diagnostics are built on :class:`~keras_dyn.callbacks.base.DiagnosticCallback`, which owns
their summary writers, the ``every`` knob, the epoch numbering (epoch e = after e epochs,
1-based; see :mod:`keras_dyn.callbacks.base` for the whole convention) and ``results()`` /
``results_key``, the per-epoch table each puts in the run's results file. Each writes
``tf.summary`` data under a run folder (see the README's tag table).
"""

from keras_dyn.callbacks.activation_statistics import ActivationStatistics
from keras_dyn.callbacks.base import DiagnosticCallback, Record
from keras_dyn.callbacks.divergence import StopOnDivergence
from keras_dyn.callbacks.epoch_recorder import EpochRecorder
from keras_dyn.callbacks.gradient_statistics import GradientStatistics
from keras_dyn.callbacks.hessian_curvature import HessianCurvature
from keras_dyn.callbacks.noisy_labels import NoisyLabelGap
from keras_dyn.callbacks.per_example_gradients import PerExampleGradients
from keras_dyn.callbacks.progress import Progress
from keras_dyn.callbacks.representation_drift import RepresentationDrift
from keras_dyn.callbacks.shifted_test import ShiftedTestAccuracy
from keras_dyn.callbacks.weight_statistics import WeightStatistics

__all__ = [
    "ActivationStatistics", "DiagnosticCallback", "EpochRecorder", "GradientStatistics",
    "HessianCurvature", "NoisyLabelGap", "PerExampleGradients", "Progress", "Record",
    "RepresentationDrift", "ShiftedTestAccuracy", "StopOnDivergence", "WeightStatistics",
]
