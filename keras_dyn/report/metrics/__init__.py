"""What a lab can measure: every metric a hypothesis or a findings section may name.

A metric reads one number per run from the run's ``results.toml`` (never from a live model), at a
*reading*: an epoch, the mean of the last k epochs, the best-validation epoch, or (for run-level
numbers such as the parameter count) the run as a whole. This module is pure Python (no
TensorFlow, no matplotlib): the config check imports it to validate ``[lab]`` before anything runs.

Readings (``at`` in a lab's TOML)::

    at = 10          # after epoch 10 (epochs are 1-based: epoch e = after e epochs of training)
    at = "last"      # the last epoch the run reached
    at = "last:3"    # the mean over the last 3 epochs
    at = "best_val"  # the epoch with the highest validation accuracy (chosen on validation data,
                     # never on test data; the first such epoch on ties)
    at = "mean"      # the mean over every recorded epoch of the run (the whole run at once)
    at = ["1", "last"]  # in a list mixing the two, epochs are written as strings (TOML arrays
                        # read by the toml package must hold one type)

Metric parameters (``layer``, ``kind``, ``severity``) are given in the hypothesis or section,
or per side. ``layer`` names a layer as in the tags and results files: ``hidden1`` ...
``hiddenN``, ``output``, or ``first`` (= hidden1) / ``last`` (= output); gradient and weight
metrics take ``<layer>/kernel`` or ``<layer>/bias`` (``/kernel`` when left out). Activation and
drift metrics also take ``layer = "mean"``: the mean over the hidden layers.

The metric list (name: what, where it comes from) is :data:`METRICS`; ``python -m labs metrics``
prints it and docs/labs-format.md describes them.

The package: ``base`` (what a metric is, access to the results tables), ``tables`` (readers of the
recorded tables), ``registry`` (``METRICS`` and the derived metrics), ``readings`` (when a metric is
read; :func:`value` and :func:`series`).
"""

from keras_dyn.report.metrics.base import (CHANCE_KEY, LAYER_RE, OF_DEFAULT, PARAMS, Metric, MetricError,
                                           best_val_epoch, hidden_layers, resolve_layer)
from keras_dyn.report.metrics.readings import (Reading, check_param, describe, parse_reading, recorded_every,
                                               series, value)
from keras_dyn.report.metrics.registry import EPOCH_TREND_WINDOW, METRICS
from keras_dyn.report.metrics.tables import TWIN_LOCKSTEP, VOLATILITY_WINDOW

__all__ = ["CHANCE_KEY", "LAYER_RE", "OF_DEFAULT", "PARAMS", "Metric", "MetricError", "hidden_layers",
           "resolve_layer", "Reading", "best_val_epoch", "check_param", "describe", "parse_reading",
           "recorded_every", "series", "value", "EPOCH_TREND_WINDOW", "METRICS", "TWIN_LOCKSTEP",
           "VOLATILITY_WINDOW"]
