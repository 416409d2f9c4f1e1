"""Grid searches through keras-tuner: resumable, on the HParams dashboard, over several workers.

``python -m keras_dyn grid CONFIG.toml`` runs the config's ``[grid]`` (every point, every seed)
with :class:`keras_tuner.GridSearch`:

* :class:`ExperimentHyperModel` turns the config into a search space: with ``[[cases]]``, first
  an ``hp.Choice`` named ``case`` over the case indices (0, 1, ...; the case's own values are
  what the HParams dashboard shows), then one ``hp.Choice`` per grid
  key (``hidden`` lists are encoded as strings such as ``"128-128"``) and a last ``hp.Choice``
  named ``seed`` over the config's seeds, so one trial is one grid point with one seed and the
  grid search visits each exactly once, in the same order as ``python -m keras_dyn run``.
  ``build(hp)`` builds and compiles the model through :func:`keras_dyn.train.build_compiled_model`
  (models.build_model, diagnostics.prepare_model, optim.build_optimizer); ``fit(hp, model, ...)``
  trains it through :func:`keras_dyn.train.fit_and_record` with the batch size and epochs of the
  trial and keras_dyn's callbacks, so every trial is an ordinary run folder
  ``<logdir>/<experiment>/<run name>/`` with its event files, ``config.toml`` and ``results.toml``.
* Selection: the objective is ``val_accuracy`` (max, last epoch). Test accuracy is reported to the
  oracle and written for every trial, never used to choose. A diverged trial (loss NaN or
  infinite; recorded with ``status = "diverged"``) reports ``val_accuracy = 0.0``: it finishes
  like any other trial and a resumed grid does not run it again (see :func:`trial_metrics`).
* TensorBoard HParams: ``hparams_config`` at the experiment folder (the union over all grids in
  the same log folder, see :func:`write_hparams_config`), and per trial an ``hparams`` session
  (trial id = ``<run name> (<experiment>)``) with the final scalars ``final/val_accuracy``,
  ``final/best_val_accuracy``, ``final/test_accuracy``, ``final/train_seconds``, ``final/params``
  in the run folder itself. The dashboard's columns are the grid keys, the parameter count and
  the seed, with whole numbers written as text (see :func:`hparam_display`), and the first four
  scalars. (keras-tuner's own integration, a ``keras.callbacks.TensorBoard``
  passed to ``search``, would log to ``<log_dir>/<trial id>/execution0`` instead of keras_dyn's
  run folders, so the summaries are written here with ``tensorboard.plugins.hparams.api``.)
* Resume: the tuner state lives in ``<logdir>/<experiment>/_tuner`` (keras-tuner's
  ``directory``/``project_name``, ``overwrite=False``). Running the same command again reloads it;
  the trial that was running when the process died is handed out again (keras-tuner's retry
  queue). Every trial claims its run folder (:func:`keras_dyn.runfiles.claim_run`): a folder
  with the trial's finished results (it finished, but the process died before the tuner
  recorded it, or a ``run`` of the same config trained it) is reused, not trained again; a folder
  a live process is training is waited for; a killed attempt's folder is cleared and trained
  again. ``restart=True`` starts a new search state; the finished run folders stay, listed in
  ``_tuner/superseded.json`` so the new search trains every trial again into new folders.
* One search per tuner folder: the process that drives the search (a single process, the
  ``--workers`` launcher, or a chief) holds ``<experiment>/.grid.lock``; a second ``grid`` on
  the same folder stops at once with one line naming the process that holds it.
* No validation split, no grid: trials are chosen on validation accuracy, so a config with
  ``data.validation_split = 0`` is refused before anything is written.
* Distributed: keras-tuner's own mode (``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP``,
  ``KERASTUNER_ORACLE_PORT``; the chief serves the oracle over gRPC, workers run trials).
  :func:`run_grid` with ``workers=N`` starts a chief and N workers on 127.0.0.1 as subprocesses.
  See ``docs/distributed.md``.

Two things keras-tuner 1.4.8's ``GridSearchOracle`` does not do, added by
:class:`ResumableGridSearchOracle`: it keeps its ordering state only in memory (a reloaded grid
search fails with ``KeyError`` in ``LinkedList.next``, keras-team/keras-tuner#1055), and it
proposes a trial's successor only once that trial has ended, so parallel workers mostly wait.
Both are fixed for the static search spaces built here, and its state files are written
atomically.
"""

from __future__ import annotations

import functools
import json
import numbers
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras_tuner
from keras_tuner.src.engine.trial import TrialStatus
from keras_tuner.src.tuners.gridsearch import GridSearchOracle, LinkedList

from keras_dyn.config import ExperimentConfig, same_run_config
from keras_dyn.errors import ConfigError, KerasDynError, OutputError
from keras_dyn.runfiles import (atomic_write_text, candidates, claim_run, discard_run_dir,
                                ensure_dir, experiment_lock, finished_results, inside,
                                owner_of, process_lock)

TUNER_DIRNAME = "_tuner"
OBJECTIVE = "val_accuracy"
SEED_HP = "seed"
CASE_HP = "case"  # the index of a [[cases]] block (not a grid key: GRID_KEYS has no "case")
FINAL_TAGS = ("val_accuracy", "best_val_accuracy", "test_accuracy", "train_seconds", "params")
_HPARAMS_MARKER = ".hparams_written"
CHILD_ENV = "KERAS_DYN_GRID_CHILD"  # set by the --workers launcher in its children
GRID_LOCK = ".grid.lock"
SUPERSEDED = "superseded.json"


# --------------------------------------------------------------------------- search space


def encode(key: str, value):
    """A grid value as a keras-tuner / HParams value (lists become ``"128-128"``)."""
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return value


def decode(key: str, value):
    if key == "hidden":
        return tuple(int(v) for v in str(value).split("-"))
    return value


def plan_of(cfg: ExperimentConfig) -> list[tuple[dict, int]]:
    """Every (grid point, seed) in run order, the same order as ``run_experiment``."""
    return [(point, seed) for point in cfg.points() for seed in cfg.training.seeds]


def hparam_values(point: dict, seed: int) -> dict:
    """The HParams of one trial: the grid values (encoded) and the seed."""
    return {**{k: encode(k, v) for k, v in point.items()}, SEED_HP: seed}


class ExperimentHyperModel(keras_tuner.HyperModel):
    """A keras-tuner HyperModel for one keras_dyn experiment (its ``[grid]`` and seeds).

    Args:
        cfg: the validated experiment (quick/seeds options already applied).
        experiment_dir: ``<logdir>/<experiment>``, where the run folders go.
        data_dir: folder with the data sets (overrides ``KERAS_DYN_DATA``).
        verbose: print keras_dyn's progress line per epoch.

    Example:
        >>> hm = ExperimentHyperModel(cfg, "modellogs/exp1")
        >>> tuner = KerasDynGridSearch(hm, "modellogs/exp1")
        >>> tuner.search(verbose=0)
    """

    def __init__(self, cfg: ExperimentConfig, experiment_dir, data_dir=None, verbose=True, root=None):
        super().__init__(name=cfg.name or "keras_dyn", tunable=True)
        self.cfg = cfg
        self.experiment_dir = Path(experiment_dir)
        self.root = Path(root) if root is not None else self.experiment_dir.parent
        self.data_dir = data_dir
        self.verbose = verbose
        self.plan = plan_of(cfg)
        self._datasets = {}
        self._superseded = None

    def superseded(self) -> set[str]:
        """Run folders a ``--restart`` said not to reuse (read once, from ``_tuner``)."""
        if self._superseded is None:
            self._superseded = read_superseded(self.experiment_dir)
        return self._superseded

    # -- hyperparameters
    def declare(self, hp) -> tuple[dict, int]:
        """Declare ``case`` (with [[cases]]), one Choice per grid key, then ``seed``; return the
        trial's (point, seed). keras-tuner's GridSearch varies the last-declared choice fastest,
        so the trials come in the order of ``cfg.points()`` x seeds."""
        point = {}
        if self.cfg.cases:
            case = hp.Choice(CASE_HP, list(range(len(self.cfg.cases))))
            point.update(self.cfg.cases[int(case)])
        for key, values in self.cfg.grid.items():
            point[key] = decode(key, hp.Choice(key, [encode(key, v) for v in values]))
        seed = hp.Choice(SEED_HP, list(self.cfg.training.seeds))
        return point, int(seed)

    def run_config(self, hp) -> tuple[dict, int, ExperimentConfig]:
        point, seed = self.declare(hp)
        return point, seed, self.cfg.at_point(point, seed=seed)

    def data_for(self, run_cfg):
        from keras_dyn.data import load_dataset

        if run_cfg.data not in self._datasets:
            self._datasets[run_cfg.data] = load_dataset(run_cfg.data, data_dir=self.data_dir)
        return self._datasets[run_cfg.data]

    def preload(self):
        """Load every data set the grid needs (a data error before anything is written)."""
        for point in self.cfg.points():
            self.data_for(self.cfg.at_point(point))

    # -- keras-tuner API
    def build(self, hp):
        from keras_dyn.train import build_compiled_model

        _, _, run_cfg = self.run_config(hp)
        try:
            return build_compiled_model(run_cfg, self.data_for(run_cfg))
        except Exception as exc:  # keras-tuner would log and skip it; stop the grid instead
            raise keras_tuner.errors.FatalError(f"building {run_cfg.name}: {exc!r}") from exc

    def fit(self, hp, model, *args, callbacks=None, verbose=None, **kwargs):
        """Train one trial into its run folder; returns the metrics reported to the oracle."""
        from keras_dyn.callbacks.progress import Progress
        from keras_dyn.train import _write_problem, fit_and_record

        point, seed, run_cfg = self.run_config(hp)
        name = self.cfg.run_name(point, seed)
        index = self.plan.index((point, seed))
        tag = f"[run {index + 1}/{len(self.plan)} {name}]"
        try:
            claim = claim_run(self.experiment_dir, name, run_cfg.to_toml(), root=self.root,
                              wait=True, skip=self.superseded(),
                              on_wait=lambda owner: self._say(f"{tag} being trained by {owner}: "
                                                              f"waiting for it"))
        except KerasDynError as exc:  # keras-tuner would record a failed trial and go on
            raise keras_tuner.errors.FatalError(str(exc)) from exc
        run_dir = claim.run_dir
        if claim.state == "finished":
            results = claim.results
            self._say(f"{tag} finished earlier: results reused from {run_dir}")
        else:
            if claim.state == "retaken":
                self._say(f"{tag} an unfinished attempt (its process is gone) was cleared: "
                          f"training it again")
            after = sum(self.cfg.at_point(p).training.epochs for p, _ in self.plan[index + 1:])
            extra = [Progress(index + 1, len(self.plan), name, after)] if self.verbose else []
            extra += list(callbacks or [])
            try:
                results = fit_and_record(run_cfg, self.data_for(run_cfg), run_dir, model,
                                         point=point, extra_callbacks=extra)
                write_trial_hparams(run_dir, point, seed, results)
            except BaseException as exc:  # nothing half-written; stop the grid (resume retries it)
                discard_run_dir(claim)
                if not isinstance(exc, Exception):
                    raise
                problem = _write_problem(exc)
                cause = (OutputError(f"cannot write in {run_dir}: {problem}; the unfinished run "
                                     f"was removed") if problem else exc)
                raise keras_tuner.errors.FatalError(f"training {name}: {exc!r}") from cause
            claim.release()
        if self.verbose and results["run"].get("status") == "diverged":
            from keras_dyn.train import diverged_line

            print(diverged_line(results) + f"; reported to the tuner as {OBJECTIVE} = 0.0",
                  file=sys.stderr, flush=True)
        if not (run_dir / _HPARAMS_MARKER).exists():
            write_trial_hparams(run_dir, point, seed, results)
        return trial_metrics(results)

    def _say(self, text):
        if self.verbose:
            print(text, file=sys.stderr, flush=True)


def trial_metrics(results: dict) -> dict:
    """What the oracle records for a trial (``val_accuracy`` is the objective).

    A diverged trial (``[run] status = "diverged"``: its training loss became NaN or infinite)
    is a finished trial like any other: its objective is reported as ``0.0``, a finite number
    keras-tuner accepts (a NaN objective would mark the trial invalid and stop the grid), so
    the trial is recorded COMPLETED, never retried, and never chosen as the best. Its
    accuracies as measured stay in its ``results.toml``; ``diverged`` is 1.0 for it (0.0
    otherwise).
    """
    final = results["final"]
    diverged = results["run"].get("status") == "diverged"
    val = results["epochs"].get("val_accuracy") or [float("nan")]
    return {
        OBJECTIVE: 0.0 if diverged else float(val[-1]),
        "best_val_accuracy": float(final.get("best_val_accuracy", float("nan"))),
        "test_accuracy": float(final.get("test_accuracy", float("nan"))),
        "train_seconds": float(final.get("train_seconds", 0.0)),
        "params": float(results["run"]["params"]),
        "diverged": 1.0 if diverged else 0.0,
    }


# --------------------------------------------------------------------------- run folders


def read_superseded(experiment_dir) -> set[str]:
    """Run folder names ``--restart`` superseded for the current search state."""
    try:
        return set(json.loads((Path(experiment_dir) / TUNER_DIRNAME / SUPERSEDED).read_text(
            encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return set()


def finished_run_dirs(cfg: ExperimentConfig, experiment_dir) -> list[Path]:
    """Finished run folders (any of them, not only the newest) of this grid's trials."""
    out = []
    for point, seed in plan_of(cfg):
        name = cfg.run_name(point, seed)
        text = cfg.at_point(point, seed=seed).to_toml()
        for candidate in candidates(experiment_dir, name):
            config = candidate / "config.toml"
            if (finished_results(candidate) is not None and config.is_file()
                    and same_run_config(config.read_text(encoding="utf-8"), text)):
                out.append(candidate)
    return out


# --------------------------------------------------------------------------- HParams


def hparams_domains(cfg: ExperimentConfig) -> list:
    from tensorboard.plugins.hparams import api as hp_api

    out = [hp_api.HParam(key, hp_api.Discrete([encode(key, v) for v in values]))
           for key, values in cfg.swept.items()]
    out.append(hp_api.HParam(SEED_HP, hp_api.Discrete(list(cfg.training.seeds))))
    return out


HPARAMS_METRICS = (
    ("final/val_accuracy", "val accuracy (last epoch, selects)"),
    ("final/best_val_accuracy", "best val accuracy"),
    ("final/test_accuracy", "test accuracy (reported only)"),
    ("final/train_seconds", "training time (s)"),
)  # the parameter count is an hparams column (PARAMS_HP), shown as a whole number

# --------------------------------------------------------------------------- HParams values shown

PARAMS_HP = "params"  # the parameter count, a column of the HParams table ("parameters")
WHOLE_NUMBER_HPARAMS = frozenset({"layers", "units", "batch_size", "epochs", SEED_HP, PARAMS_HP,
                                  *(f"units_{i}" for i in range(1, 9))})
WHOLE_NUMBER_WIDTH = 13  # right-aligned to this many characters (up to 9,999,999,999)


def hparam_display(key: str, value):
    """``value`` of hyperparameter ``key`` as the HParams dashboard is to show it.

    The dashboard prints every number with five significant digits (``prettyPrint`` in
    TensorBoard's tf-hparams-utils is ``value.toPrecision(5)``: 2 shows as ``2.0000``, 134,794 as
    ``1.3479e+5``) and a string as it is. Whole-number hyperparameters and the parameter count
    are therefore written as strings (the count with thousands separators). Strings sort as text
    there (the table's sort, the filter list, the parallel-coordinates axis), so they are
    right-aligned with spaces to a fixed width: text order is then numeric order, and the
    browser does not show the leading spaces. Other values (rates, names) are left as they are.
    """
    if key in WHOLE_NUMBER_HPARAMS and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        text = f"{int(value):,}" if key == PARAMS_HP else str(int(value))
        return text.rjust(WHOLE_NUMBER_WIDTH)
    return value


def dashboard_hparams(point: dict, seed: int, params=None) -> dict:
    """One trial's values for its HParams session: :func:`hparam_values` as they are to be shown,
    and the parameter count."""
    values = {k: hparam_display(k, v) for k, v in hparam_values(point, seed).items()}
    if params is not None:
        values[PARAMS_HP] = hparam_display(PARAMS_HP, int(params))
    return values


def grid_param_counts(cfg: ExperimentConfig) -> list[int]:
    """The parameter count of every grid point's model, from the config alone (the MLP of
    :func:`keras_dyn.models.build_model`: dense layers with biases), without building a model."""
    from keras_dyn.data.datasets import IMAGE_SHAPE, NUM_CLASSES, SYNTHETIC_DATASETS
    from keras_dyn.models import count_parameters

    counts = set()
    for point in cfg.points():
        run = cfg.at_point(point)
        dataset = run.data.dataset
        inputs = 2 if dataset in SYNTHETIC_DATASETS else IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
        outputs = 1 if run.model.output == "sigmoid" else NUM_CLASSES[dataset]
        counts.add(count_parameters(run.model.hidden, inputs, outputs))
    return sorted(counts)


def write_hparams_config(cfg: ExperimentConfig, experiment_dir):
    """Record this grid's hyperparameters and refresh the HParams experiment summaries.

    TensorBoard's HParams plugin shows one experiment summary per ``--logdir`` and picks an
    arbitrary one when it finds several, so every grid folder under the same log folder gets the
    same summary: the union of the hyperparameters of all the grids there. ``tensorboard
    --logdir modellogs`` then lists every trial of every grid with all its columns, and
    ``--logdir modellogs/<experiment>`` shows one grid (with blank columns for the others' keys).
    """
    experiment_dir = Path(experiment_dir)
    description = json.dumps({"grid": {k: [encode(k, v) for v in vs] for k, vs in cfg.swept.items()},
                              "seeds": list(cfg.training.seeds),
                              PARAMS_HP: grid_param_counts(cfg)}, sort_keys=False)
    marker = experiment_dir / TUNER_DIRNAME / "hparams_config.json"
    if not (marker.is_file() and marker.read_text(encoding="utf-8") == description):
        atomic_write_text(marker, description, root=experiment_dir)
    refresh_hparams_summaries(experiment_dir.parent)


def refresh_hparams_summaries(logdir):
    """Write the union of all grids' hyperparameters as each grid folder's HParams summary.

    Only real grid folders inside ``logdir`` are written (a symbolic link out is skipped); two
    grids refreshing at once take turns (a lock on ``<logdir>/.lock``)."""
    with experiment_lock(logdir):
        _refresh_hparams_summaries(logdir)


def _refresh_hparams_summaries(logdir):
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp_api

    union: dict[str, list] = {}
    folders = sorted(p.parent.parent for p in Path(logdir).glob(f"*/{TUNER_DIRNAME}/hparams_config.json")
                     if _really_inside(logdir, p))
    for folder in folders:
        try:
            spec = json.loads((folder / TUNER_DIRNAME / "hparams_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        extra = [(SEED_HP, spec.get("seeds", []))] + ([(PARAMS_HP, spec[PARAMS_HP])] if spec.get(PARAMS_HP) else [])
        for key, values in list(spec.get("grid", {}).items()) + extra:
            known = union.setdefault(key, [])
            known += [v for v in values if v not in known]
    keys = sorted(union, key=lambda k: (k == SEED_HP, k == PARAMS_HP, k))
    signature = json.dumps({k: union[k] for k in keys})
    for folder in folders:
        stamp = folder / TUNER_DIRNAME / "hparams_summary.json"
        if stamp.is_file() and stamp.read_text(encoding="utf-8") == signature:
            continue
        for old in folder.glob("events.out.tfevents.*"):  # only this module writes here
            old.unlink()
        writer = tf.summary.create_file_writer(str(folder))
        with writer.as_default():
            hp_api.hparams_config(
                hparams=[hp_api.HParam(k, hp_api.Discrete([hparam_display(k, v) for v in union[k]]),
                                       display_name="parameters" if k == PARAMS_HP else None)
                         for k in keys],
                metrics=[hp_api.Metric(tag, display_name=name) for tag, name in HPARAMS_METRICS])
        writer.close()
        atomic_write_text(stamp, signature, root=folder)


def _really_inside(root, path) -> bool:
    try:
        inside(root, path)
    except OutputError:
        return False
    return not any(p.is_symlink() for p in [path, *list(path.parents)[:2]])


def trial_id(run_dir) -> str:
    """``w128-128_bs64_s0 (exp3_depth)``: the run first (the dashboard truncates long ids), the
    experiment after it, so ids stay unique when several grids share one log folder."""
    run_dir = Path(run_dir)
    return f"{run_dir.name} ({run_dir.parent.name})"


def write_trial_hparams(run_dir, point: dict, seed: int, results: dict):
    """One HParams session per trial: its values and final metrics, in the run folder."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp_api

    run_dir = Path(run_dir)
    metrics = trial_metrics(results)
    writer = tf.summary.create_file_writer(str(run_dir))
    with writer.as_default():
        hp_api.hparams(dashboard_hparams(point, seed, results["run"].get("params")),
                       trial_id=trial_id(run_dir))
        for tag in FINAL_TAGS:
            tf.summary.scalar(f"final/{tag}", metrics[tag], step=0)
    writer.close()
    atomic_write_text(run_dir / _HPARAMS_MARKER, "", root=run_dir)


# --------------------------------------------------------------------------- tuner


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
        _atomic_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        _atomic_json(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"),
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
        _atomic_json(self._get_tuner_fname(), self.get_state())


def _atomic_json(path, state):
    atomic_write_text(path, json.dumps(state))  # inside _tuner, checked by run_grid


# --------------------------------------------------------------------------- running a grid


def role() -> str:
    """``"single"``, ``"chief"`` or ``"worker"`` from keras-tuner's environment variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    missing = [v for v in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID") if v not in os.environ]
    if missing:
        raise KerasDynError(f"distributed grid: KERASTUNER_ORACLE_IP is set but {', '.join(missing)} "
                            f"is not (see docs/distributed.md)")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def prepare(cfg: ExperimentConfig, *, quick=False, seeds=None) -> ExperimentConfig:
    """The config the grid runs: ``--seeds`` then ``--quick`` applied (as ``run_experiment``)."""
    from keras_dyn.train import prepared

    return prepared(cfg, quick=quick, seeds=seeds)


def check_validation(cfg: ExperimentConfig):
    """A grid chooses on validation accuracy: no validation split, no grid (one line)."""
    if cfg.data.validation_split == 0:
        raise ConfigError(cfg.source, "data.validation_split",
                          "is 0, but a keras-tuner grid chooses on validation accuracy; allowed for "
                          "grid: > 0 (e.g. 0.1), or use `python -m keras_dyn run`, which chooses nothing")


def check_same_grid(cfg: ExperimentConfig, experiment_dir):
    """Resuming needs the same experiment: the tuner state records the config it was made for."""
    stamp = Path(experiment_dir) / TUNER_DIRNAME / "keras_dyn_config.toml"
    text = cfg.to_toml()
    if stamp.is_file():
        if not same_run_config(stamp.read_text(encoding="utf-8"), text):
            raise KerasDynError(f"grid {cfg.name}: the config differs from the one the tuner state in "
                                f"{stamp.parent} was made for; use --restart to start over, or "
                                f"another --logdir (or experiment name) to keep both")
    else:
        atomic_write_text(stamp, text, root=experiment_dir)


def start_over(cfg: ExperimentConfig, experiment_dir):
    """A new search state: the tuner state and the HParams summary are removed; every finished
    run folder of this grid stays, listed in ``_tuner/superseded.json`` (not reused). Called
    with the grid lock held."""
    experiment_dir = Path(experiment_dir)
    old = {p.name for p in finished_run_dirs(cfg, experiment_dir)}
    shutil.rmtree(experiment_dir / TUNER_DIRNAME, ignore_errors=True)
    for stale in experiment_dir.glob("events.out.tfevents.*"):
        stale.unlink()
    atomic_write_text(experiment_dir / TUNER_DIRNAME / SUPERSEDED, json.dumps(sorted(old)),
                      root=experiment_dir)
    return old


def grid_lock(experiment_dir, name: str):
    """Take ``<experiment>/.grid.lock`` (one search per tuner folder) or stop with one line."""
    path = Path(experiment_dir) / GRID_LOCK
    fd = process_lock(path, f"grid {name}")
    if fd is None:
        raise KerasDynError(f"grid {name}: another grid process ({owner_of(path)}) is running the "
                            f"search in {experiment_dir}; wait for it to finish (then run this "
                            f"command again to get its findings), or use --workers N to spread one "
                            f"grid over several processes")
    return fd


def run_grid(cfg: ExperimentConfig, logdir="modellogs", *, quick=False, seeds=None, data_dir=None,
             workers=0, restart=False, verbose=True, config_path=None, report_only=False):
    """Run the config's grid through keras-tuner; returns the finished runs in grid order.

    Args:
        cfg: the validated experiment.
        logdir: root of the run output; nothing is written outside it.
        quick, seeds, data_dir: as for :func:`keras_dyn.train.run_experiment`.
        workers: 0 = this process runs every trial; N = start a chief and N worker processes on
            127.0.0.1 (needs ``config_path``, the TOML file the children read).
        restart: a new search state; every trial is trained again into a new run folder (the
            old ones stay, not reused).
        verbose: progress lines on stderr.
        report_only: train nothing: the finished runs of the grid, or one line saying how many
            trials have none.

    Returns:
        A list of :class:`keras_dyn.train.RunRecord`, or ``None`` in a worker process (the chief
        or the launcher collects the results).
    """
    from keras_dyn import diagnostics
    from keras_dyn.train import collect_finished

    cfg = prepare(cfg, quick=quick, seeds=seeds)
    experiment_dir = Path(logdir) / cfg.name
    inside(logdir, experiment_dir)
    inside(logdir, experiment_dir / TUNER_DIRNAME)
    if report_only:
        return collect_finished(cfg, experiment_dir, skip=read_superseded(experiment_dir))
    check_validation(cfg)
    hypermodel = ExperimentHyperModel(cfg, experiment_dir, data_dir=data_dir, verbose=verbose,
                                      root=logdir)
    hypermodel.preload()  # a data error stops the grid before anything is written
    diagnostics.check_settings(cfg)
    me = role()
    if workers:
        if me != "single":
            raise KerasDynError("--workers starts its own chief and workers; unset KERASTUNER_*")
        if config_path is None:
            raise KerasDynError("--workers needs the config file")
    lock = None
    if me != "worker" and not os.environ.get(CHILD_ENV):  # the launcher holds it for its children
        ensure_dir(experiment_dir, logdir)
        lock = grid_lock(experiment_dir, cfg.name)
    try:
        superseded = start_over(cfg, experiment_dir) if restart and me != "worker" else None
        plan = hypermodel.plan
        if verbose and me != "worker":
            note = (f"; --restart: {len(superseded)} finished run folder(s) kept, not reused"
                    if superseded is not None else "")
            print(f"keras_dyn grid: {cfg.name}: {len(cfg.points())} "
                  + (f"point(s) ({len(cfg.cases)} case(s) x grid)" if cfg.cases else "grid point(s)")
                  + " x "
                  f"{len(cfg.training.seeds)} seed(s) = {len(plan)} trial(s) -> {experiment_dir} "
                  f"(keras-tuner state in {experiment_dir / TUNER_DIRNAME}{note})",
                  file=sys.stderr, flush=True)
        if workers:
            launch_local(config_path, logdir, workers, quick=quick, seeds=seeds, data_dir=data_dir)
        else:
            if me != "worker":
                ensure_dir(experiment_dir / TUNER_DIRNAME, logdir)
                for stale in (experiment_dir / TUNER_DIRNAME).glob("**/.*.tmp"):
                    stale.unlink()  # temporary files of a process killed while writing its state
                check_same_grid(cfg, experiment_dir)
            tuner = KerasDynGridSearch(hypermodel, experiment_dir)
            if me != "worker":
                write_hparams_config(cfg, experiment_dir)
            try:
                tuner.search(verbose=0)
            except keras_tuner.errors.FatalError as exc:
                if isinstance(exc.__cause__, KerasDynError):
                    raise exc.__cause__ from None
                raise
            if me == "worker":
                return None
    finally:
        if lock is not None:
            os.close(lock)
    return collect_finished(cfg, experiment_dir, skip=read_superseded(experiment_dir),
                            what=f"grid {cfg.name}",
                            hint=f"see {experiment_dir / TUNER_DIRNAME}/trial_*/trial.json, or start "
                                 f"over with --restart")


def free_port(host="127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def child_command(config_path, logdir, *, quick=False, seeds=None, data_dir=None) -> list[str]:
    cmd = [sys.executable, "-m", "keras_dyn", "grid", str(config_path), "--logdir", str(logdir)]
    if quick:
        cmd.append("--quick")
    if seeds is not None:
        cmd += ["--seeds", str(seeds)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return cmd


def launch_local(config_path, logdir, workers: int, *, quick=False, seeds=None, data_dir=None,
                 host="127.0.0.1"):
    """Start a chief and ``workers`` workers on this machine; wait until all have finished."""
    port = free_port(host)
    cmd = child_command(config_path, logdir, quick=quick, seeds=seeds, data_dir=data_dir)
    base = dict(os.environ, KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port))
    base[CHILD_ENV] = "1"
    print(f"keras_dyn grid: chief oracle on {host}:{port}, {workers} worker(s)", file=sys.stderr,
          flush=True)
    procs = {"chief": subprocess.Popen(cmd, env=dict(base, KERASTUNER_TUNER_ID="chief"))}
    for i in range(workers):
        procs[f"tuner{i}"] = subprocess.Popen(cmd, env=dict(base, KERASTUNER_TUNER_ID=f"tuner{i}"))
    try:
        failed = []
        pending = dict(procs)
        while pending:
            for name, proc in list(pending.items()):
                code = proc.poll()
                if code is None:
                    continue
                del pending[name]
                if code != 0:
                    failed.append(f"{name} exited with {code}")
            if failed:
                break
            time.sleep(0.5)
        if failed:
            _stop(procs.values())
            raise KerasDynError("distributed grid: " + "; ".join(failed)
                                + " (run the same command again to resume)")
    except KeyboardInterrupt:
        _stop(procs.values())
        raise


def _stop(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.time() + 20
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
