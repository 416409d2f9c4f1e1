"""Grid searches through keras-tuner (:func:`run_grid`): resumable, one search per tuner folder.

``python -m keras_dyn grid CONFIG.toml`` runs the config's ``[grid]`` (every point, every seed)
with :class:`keras_tuner.GridSearch` (:mod:`keras_dyn.tuning.oracle`) over the search space of
:mod:`keras_dyn.tuning.hypermodel`.

* Resume: the tuner state lives in ``<logdir>/<experiment>/_tuner`` (keras-tuner's
  ``directory``/``project_name``, ``overwrite=False``). Running the same command again reloads it;
  the trial that was running when the process died is handed out again (keras-tuner's retry
  queue). Every trial claims its run folder (:func:`keras_dyn.runs.claims.claim_run`): a folder
  with the trial's finished results is reused, not trained again; a folder a live process is
  training is waited for; a killed attempt's folder is cleared and trained again.
  ``restart=True`` starts a new search state; the finished run folders stay, listed in
  ``_tuner/superseded.json`` so the new search trains every trial again into new folders.
* One search per tuner folder: the process that drives the search (a single process, the
  ``--workers`` launcher, or a chief) holds ``<experiment>/.grid.lock``; a second ``grid`` on
  the same folder stops at once with one line naming the process that holds it.
* No validation split, no grid: trials are chosen on validation accuracy, so a config with
  ``data.validation_split = 0`` is refused before anything is written.
* Distributed: :mod:`keras_dyn.tuning.distributed`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import keras_tuner

from keras_dyn.config import ExperimentConfig, same_run_config
from keras_dyn.errors import ConfigError, KerasDynError
from keras_dyn.runs.claims import candidates, finished_results, owner_of, process_lock
from keras_dyn.runs.files import atomic_write_text, ensure_dir, inside
from keras_dyn.tuning.distributed import CHILD_ENV, launch_local
from keras_dyn.tuning.hparams import write_hparams_config
from keras_dyn.tuning.hypermodel import ExperimentHyperModel
from keras_dyn.tuning.oracle import KerasDynGridSearch
from keras_dyn.tuning.space import SUPERSEDED, TUNER_DIRNAME, plan_of, read_superseded

GRID_LOCK = ".grid.lock"






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
    from keras_dyn.runs.experiment import prepared

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
        quick, seeds, data_dir: as for :func:`keras_dyn.runs.experiment.run_experiment`.
        workers: 0 = this process runs every trial; N = start a chief and N worker processes on
            127.0.0.1 (needs ``config_path``, the TOML file the children read).
        restart: a new search state; every trial is trained again into a new run folder (the
            old ones stay, not reused).
        verbose: progress lines on stderr.
        report_only: train nothing: the finished runs of the grid, or one line saying how many
            trials have none.

    Returns:
        A list of :class:`keras_dyn.runs.experiment.RunRecord`, or ``None`` in a worker process (the chief
        or the launcher collects the results).
    """
    from keras_dyn.runs import diagnostics
    from keras_dyn.runs.experiment import collect_finished

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
