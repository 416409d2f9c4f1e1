"""Grid searches through keras-tuner: resumable, on the HParams dashboard, over several workers.

One job a module: ``space`` (hyperparameter names and encodings, the plan in trial order),
``hypermodel`` (:class:`ExperimentHyperModel`: build and fit one trial as an ordinary run),
``oracle`` (:class:`ResumableGridSearchOracle`, :class:`KerasDynGridSearch`), ``hparams`` (the
TensorBoard HParams dashboard), ``grid`` (:func:`run_grid`: resume, lock, restart, report-only)
and ``distributed`` (a chief and workers on this machine; ``docs/distributed.md``).
"""

from keras_dyn.tuning.distributed import CHILD_ENV
from keras_dyn.tuning.grid import GRID_LOCK, check_validation, run_grid
from keras_dyn.tuning.hparams import (WHOLE_NUMBER_HPARAMS, dashboard_hparams, grid_param_counts,
                                      hparam_display, hparams_domains)
from keras_dyn.tuning.hypermodel import ExperimentHyperModel
from keras_dyn.tuning.oracle import KerasDynGridSearch, ResumableGridSearchOracle
from keras_dyn.tuning.space import decode, encode, plan_of, trial_metrics

__all__ = ["CHILD_ENV", "GRID_LOCK", "check_validation", "run_grid", "WHOLE_NUMBER_HPARAMS",
           "dashboard_hparams", "grid_param_counts", "hparam_display", "hparams_domains",
           "ExperimentHyperModel", "KerasDynGridSearch", "ResumableGridSearchOracle", "decode", "encode",
           "plan_of", "trial_metrics"]
