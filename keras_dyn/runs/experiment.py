"""A whole experiment (:func:`run_experiment`): every point of the plan with every seed, one after another; finished runs are found and reused, ``--restart`` supersedes them, ``--report-only`` collects them. ``--quick`` is :func:`keras_dyn.config.quick.quick_version`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from keras_dyn.config import ExperimentConfig, same_run_config
from keras_dyn.config.quick import quick_version
from keras_dyn.errors import KerasDynError
from keras_dyn.runs.claims import candidates, claim_run, find_finished, finished_results
from keras_dyn.runs.files import inside
from keras_dyn.runs.fit import train_claimed


@dataclass(frozen=True)
class RunRecord:
    """A finished run: where it lives and what its results file says."""

    run_dir: Path
    results: dict


def run_experiment(cfg: ExperimentConfig, logdir="modellogs", *, quick=False, seeds=None,
                   data_dir=None, verbose=True, restart=False, report_only=False) -> list[RunRecord]:
    """Run every grid point with every seed, one after another; finished runs are reused.

    Each run's folder is claimed before it trains (:func:`keras_dyn.runs.claims.claim_run`), so
    several processes on the same log folder share the work: a run whose folder already holds
    its finished results (same resolved ``config.toml``) is reused, never trained again; a run
    another live process is training is left to it, this process trains the others first and
    then waits for it and reuses its results; a killed attempt's folder is cleared and trained
    again.

    Args:
        cfg: the validated experiment.
        logdir: root of the run output (``modellogs``); nothing is written outside it.
        quick: run :func:`quick_version` of the experiment instead (experiment name gets ``-quick``).
        seeds: if given, an int N (seeds 0..N-1) replacing the config's seeds.
        data_dir: folder with the data sets (overrides ``KERAS_DYN_DATA``).
        verbose: print progress lines to stderr.
        restart: train every run again into new folders (``name_2``, ...); nothing is deleted,
            and runs finished before this call are not reused.
        report_only: train nothing: return the finished runs of the plan, or raise
            :class:`KerasDynError` saying how many planned runs have no results.

    Returns:
        One :class:`RunRecord` per run, in grid order.
    """
    from keras_dyn.data import load_dataset  # imported here: keeps `--help` and config errors fast
    from keras_dyn.runs import diagnostics

    cfg = prepared(cfg, quick=quick, seeds=seeds)
    points = cfg.points()
    plan = [(point, seed) for point in points for seed in cfg.training.seeds]
    experiment_dir = Path(logdir) / cfg.name
    inside(logdir, experiment_dir)  # a symbolic link pointing out of the log folder is refused
    if report_only:
        return collect_finished(cfg, experiment_dir)
    # Load every data set before anything is written: a data error leaves modellogs untouched.
    datasets = {}
    for point in points:
        data_cfg = cfg.at_point(point).data
        if data_cfg not in datasets:
            datasets[data_cfg] = load_dataset(data_cfg, data_dir=data_dir)
    diagnostics.check_settings(cfg)
    runs = [(point, seed, cfg.at_point(point, seed=seed)) for point, seed in plan]
    texts = [run_cfg.to_toml() for _, _, run_cfg in runs]
    names = [cfg.run_name(point, seed) for point, seed in plan]
    epochs_of = [run_cfg.training.epochs for _, _, run_cfg in runs]
    skip = superseded_runs(experiment_dir, names, texts) if restart else set()
    if verbose:
        print(f"keras_dyn: {cfg.name}: {len(points)} "
              + (f"point(s) ({len(cfg.cases)} case(s) x grid)" if cfg.cases else "grid point(s)")
              + f" x {len(cfg.training.seeds)} "
              f"seed(s) = {len(plan)} run(s) -> {experiment_dir}"
              + (f" (--restart: {len(skip)} finished run(s) not reused)" if restart else ""),
              file=sys.stderr, flush=True)
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if verbose else (lambda text: None)
    hparams = HParamsWriter(cfg, experiment_dir) if cfg.swept else None
    records: list = [None] * len(plan)
    deferred = []
    for wait in (False, True):
        for index in (range(len(plan)) if not wait else deferred):
            point, seed, run_cfg = runs[index]
            tag = f"[run {index + 1}/{len(plan)} {names[index]}]"
            claim = claim_run(experiment_dir, names[index], texts[index], root=logdir, wait=wait,
                              skip=skip, on_wait=lambda owner: say(f"{tag} being trained by {owner}: "
                                                                   f"waiting for it"))
            if claim.state == "busy":
                say(f"{tag} being trained by {claim.owner}: training the other runs first")
                deferred.append(index)
                continue
            if claim.state == "finished":
                say(f"{tag} finished earlier: results reused from {claim.run_dir}")
                records[index] = RunRecord(claim.run_dir, claim.results)
                if hparams:
                    hparams.trial(claim.run_dir, point, seed, claim.results)
                continue
            if claim.state == "retaken":
                say(f"{tag} an unfinished attempt (its process is gone) was cleared: training it again")
            records[index] = RunRecord(claim.run_dir, train_claimed(
                claim, run_cfg, datasets[run_cfg.data], point=point, run_index=index + 1,
                run_count=len(plan), remaining_epochs_after=sum(epochs_of[index + 1:]),
                verbose=verbose, root=logdir))
            if hparams:
                hparams.trial(claim.run_dir, point, seed, records[index].results)
    return records


class HParamsWriter:
    """The HParams dashboard for an experiment that compares configurations, run one after
    another: the same summaries a keras-tuner grid writes (:mod:`keras_dyn.tuning.hparams`, the
    one implementation): the experiment's hyperparameters (the union over every experiment of
    the log folder) and, per run, its configuration keys, seed and final metrics."""

    def __init__(self, cfg, experiment_dir):
        from keras_dyn.tuning.hparams import write_hparams_config

        write_hparams_config(cfg, experiment_dir)

    @staticmethod
    def trial(run_dir, point, seed, results):
        from keras_dyn.tuning.hparams import HPARAMS_MARKER, write_trial_hparams

        if not (Path(run_dir) / HPARAMS_MARKER).exists():
            write_trial_hparams(run_dir, point, seed, results)


def prepared(cfg: ExperimentConfig, *, quick=False, seeds=None) -> ExperimentConfig:
    """The config an experiment runs: ``--seeds N`` then ``--quick`` applied."""
    if seeds is not None:
        cfg = cfg.replace(training={"seeds": list(range(int(seeds)))})
    return quick_version(cfg) if quick else cfg


def superseded_runs(experiment_dir, names, texts) -> set[str]:
    """Folder names of every finished run of the plan (what ``--restart`` does not reuse)."""
    out = set()
    for name, text in zip(names, texts):
        for candidate in candidates(experiment_dir, name):
            if finished_results(candidate) is not None and _same_config(candidate, text):
                out.add(candidate.name)
    return out


def _same_config(run_dir, text) -> bool:
    try:
        stored = (Path(run_dir) / "config.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return same_run_config(stored, text)


def collect_finished(cfg: ExperimentConfig, experiment_dir, skip=(), *, what="report-only",
                     hint="run the same command without --report-only to train them") -> list[RunRecord]:
    """The finished runs of the plan (``cfg`` already prepared), newest folder of each run.

    Raises:
        KerasDynError: some planned runs have no finished folder (one line: how many, which).
    """
    plan = [(point, seed) for point in cfg.points() for seed in cfg.training.seeds]
    records, missing = [], []
    for point, seed in plan:
        name = cfg.run_name(point, seed)
        found = find_finished(experiment_dir, name, cfg.at_point(point, seed=seed).to_toml(), skip)
        if found is None:
            missing.append(name)
        else:
            records.append(RunRecord(found, finished_results(found)))
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise KerasDynError(f"{what}: {len(missing)} of {len(plan)} planned run(s) of {cfg.name} "
                            f"have no results in {experiment_dir} ({shown}); {hint}")
    return records
