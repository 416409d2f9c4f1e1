"""Two things keras-tuner 1.4.8's ``GridSearchOracle`` does not do, added by :class:`ResumableGridSearchOracle`: it keeps its ordering state only in memory (a reloaded grid search fails with ``KeyError`` in ``LinkedList.next``, keras-team/keras-tuner#1055), and it proposes a trial's successor only once that trial has ended, so parallel workers mostly wait. Both are fixed for the static search spaces built here, and its state files are written atomically.
"""

from __future__ import annotations

import functools
import json
import os
import time

import keras_tuner
from keras_tuner.src.engine.trial import TrialStatus
from keras_tuner.src.tuners.gridsearch import GridSearchOracle, LinkedList

from keras_dyn.runs.files import atomic_write_text
from keras_dyn.tuning.hypermodel import ExperimentHyperModel
from keras_dyn.tuning.space import OBJECTIVE, TUNER_DIRNAME


class ResumableGridSearchOracle(GridSearchOracle):
    """keras-tuner's GridSearchOracle, resumable after a reload and parallel across workers.

    * ``set_state`` rebuilds the ordered trial list and the queue of trials whose successor is
      due, which the parent class keeps only in memory.
    * Every new trial is queued at once (the parent does that for the first trial only), so a
      second worker gets the next grid point instead of waiting for the running one to end.
      That is safe here because the whole space is declared before the first trial.
    * ``oracle.json`` and ``trial.json`` are written atomically.
    """

    def populate_space(self, trial_id):
        first = len(self.start_order) == 0
        response = super().populate_space(trial_id)
        if response["status"] == TrialStatus.RUNNING and not first:
            self._populate_next.append(trial_id)
        return response

    def set_state(self, state):
        super().set_state(state)
        ids = [t for t in self.start_order if t in self.trials]
        values = {t: self.trials[t].hyperparameters.values for t in ids}
        ids.sort(key=functools.cmp_to_key(lambda a, b: self._compare(values[a], values[b])))
        self._ordered_ids = LinkedList()
        for trial_id in ids:
            self._ordered_ids.insert(trial_id)
        self._populate_next = list(ids)

    def save(self):
        atomic_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        atomic_json(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"),
                     trial.get_state())


class KerasDynGridSearch(keras_tuner.GridSearch):
    """``keras_tuner.GridSearch`` over an :class:`ExperimentHyperModel`, objective
    ``val_accuracy`` (max), state in ``<experiment_dir>/_tuner``, never overwritten."""

    def __init__(self, hypermodel: ExperimentHyperModel, experiment_dir, **kwargs):
        self.seed = None
        oracle = ResumableGridSearchOracle(
            objective=keras_tuner.Objective(OBJECTIVE, direction="max"), max_trials=None,
            max_retries_per_trial=0, max_consecutive_failed_trials=1)
        keras_tuner.Tuner.__init__(self, oracle, hypermodel, directory=str(experiment_dir),
                                   project_name=TUNER_DIRNAME, overwrite=False, **kwargs)
        self._waiting = False

    def pre_create_trial(self):
        # An IDLE answer (the oracle waits for running trials) sends the loop straight back;
        # pause between asks so workers do not flood the chief.
        if self._waiting:
            time.sleep(0.5)
        self._waiting = True

    def on_trial_begin(self, trial):
        self._waiting = False
        super().on_trial_begin(trial)

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        atomic_json(self._get_tuner_fname(), self.get_state())


def atomic_json(path, state):
    atomic_write_text(path, json.dumps(state))  # inside _tuner, checked by run_grid
