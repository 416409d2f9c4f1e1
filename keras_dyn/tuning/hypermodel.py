"""The search space of an experiment (:class:`ExperimentHyperModel`): with ``[[cases]]``, first an ``hp.Choice`` named ``case`` over the case indices, then one ``hp.Choice`` per grid key (``hidden`` lists encoded as strings such as ``"128-128"``) and a last ``hp.Choice`` named ``seed``, so one trial is one grid point with one seed, visited in the same order as ``python -m keras_dyn run``. ``build(hp)`` builds and compiles through :func:`keras_dyn.runs.fit.build_compiled_model`; ``fit(hp, model, ...)`` claims the trial's run folder and trains through :func:`keras_dyn.runs.fit.fit_and_record`, so every trial is an ordinary run folder.

Selection: the objective is ``val_accuracy`` (max, last epoch). Test accuracy is reported, never used to choose. A diverged trial reports ``val_accuracy = 0.0`` (see :func:`trial_metrics`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras_tuner

from keras_dyn.config import ExperimentConfig
from keras_dyn.errors import KerasDynError, OutputError
from keras_dyn.runs.claims import claim_run, discard_run_dir
from keras_dyn.tuning.hparams import HPARAMS_MARKER, write_trial_hparams
from keras_dyn.tuning.space import (CASE_HP, OBJECTIVE, SEED_HP, decode, encode, plan_of, read_superseded,
                                    trial_metrics)


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
        from keras_dyn.runs.fit import build_compiled_model

        _, _, run_cfg = self.run_config(hp)
        try:
            return build_compiled_model(run_cfg, self.data_for(run_cfg))
        except Exception as exc:  # keras-tuner would log and skip it; stop the grid instead
            raise keras_tuner.errors.FatalError(f"building {run_cfg.name}: {exc!r}") from exc

    def fit(self, hp, model, *args, callbacks=None, verbose=None, **kwargs):
        """Train one trial into its run folder; returns the metrics reported to the oracle."""
        from keras_dyn.callbacks.progress import Progress
        from keras_dyn.runs.fit import fit_and_record, write_problem

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
                problem = write_problem(exc)
                cause = (OutputError(f"cannot write in {run_dir}: {problem}; the unfinished run "
                                     f"was removed") if problem else exc)
                raise keras_tuner.errors.FatalError(f"training {name}: {exc!r}") from cause
            claim.release()
        if self.verbose and results["run"].get("status") == "diverged":
            from keras_dyn.runs.fit import diverged_line

            print(diverged_line(results) + f"; reported to the tuner as {OBJECTIVE} = 0.0",
                  file=sys.stderr, flush=True)
        if not (run_dir / HPARAMS_MARKER).exists():
            write_trial_hparams(run_dir, point, seed, results)
        return trial_metrics(results)

    def _say(self, text):
        if self.verbose:
            print(text, file=sys.stderr, flush=True)


