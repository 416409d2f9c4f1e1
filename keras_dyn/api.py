"""The Python API (``import keras_dyn as kd``): the catalogue, labs, single experiments and their
runs as pandas DataFrames. The command lines (:mod:`keras_dyn.cli`) call these functions; nothing
is implemented twice.

    >>> import keras_dyn as kd
    >>> kd.labs()[["name", "runner"]].head(2)                      # doctest: +SKIP
    >>> lab = kd.lab("exp2_epochs_vs_width")
    >>> lab.hypotheses[["id", "metric", "expect"]]                 # doctest: +SKIP
    >>> outcome = lab.run(quick=True, logdir="modellogs")          # doctest: +SKIP
    >>> runs = kd.load_runs(outcome.experiment_dir)                # doctest: +SKIP
    >>> lab.findings().verdicts[["id", "difference", "p_adjusted", "verdict"]]  # doctest: +SKIP

Nothing here imports TensorFlow until something trains.
"""

from __future__ import annotations

import math
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from keras_dyn.errors import KerasDynError

RUN_COLUMNS = ("experiment", "run", "seed", "status")  # before the configuration keys
TIDY_COLUMNS = ("epoch", "metric", "value")  # after them


@dataclass
class Outcome:
    """What a run of an experiment or lab leaves: its finished runs, its findings file, errors.

    ``records``: one :class:`keras_dyn.runs.experiment.RunRecord` per run (``None`` in a
    keras-tuner worker, whose chief writes the findings); ``cfg``: the experiment as run
    (``--quick``/``--seeds`` applied); ``findings_file``: the ``FINDINGS-<time>.md`` written (or
    ``None``); ``errors``: hypotheses or sections that could not be read.
    """

    cfg: object
    logdir: Path
    records: list | None
    findings_file: Path | None = None
    errors: list = field(default_factory=list)

    @property
    def experiment_dir(self) -> Path:
        """``<logdir>/<experiment>``: the folder :func:`load_runs` reads."""
        return Path(self.logdir) / self.cfg.name

    def runs(self):
        """The runs of this outcome as :func:`load_runs` gives them."""
        return load_runs(*(r.run_dir for r in self.records or ()))


def _config(config_or_path):
    from keras_dyn.config import ExperimentConfig, load_config

    return config_or_path if isinstance(config_or_path, ExperimentConfig) else load_config(config_or_path)


def train_and_report(cfg, logdir="modellogs", *, runner="sequential", quick=False, seeds=None,
                     data_dir=None, restart=False, report_only=False, workers=0, config_path=None,
                     lab_log=None, lab_figures=None, out=None, findings=True, verbose=True,
                     archive=None, save_archive=True) -> Outcome:
    """Train ``cfg`` (``runner``: ``"sequential"`` or ``"grid"`` through keras-tuner), then write
    its findings to the log folder (and ``lab_log`` for a full run). The one implementation
    behind :func:`run`, :meth:`Lab.run` and the ``run``/``grid``/``lab`` commands.

    ``report_only`` trains nothing (the finished runs of the plan, or a one-line error);
    ``findings=False`` writes no findings. Raises :class:`keras_dyn.errors.KerasDynError` on bad
    input (one line).

    ``archive``: the lab's committed results (:mod:`keras_dyn.runs.archive`). ``report_only``
    reads the runs from it when the log folder does not hold them all; a full run that writes
    ``lab_log`` writes it afterwards (unless ``save_archive`` is false).
    """
    from keras_dyn.quiet import quiet_tensorflow
    from keras_dyn.report.output import write_findings
    from keras_dyn.report.results import records_to_results
    from keras_dyn.runs.experiment import prepared

    quiet_tensorflow()  # a notebook's run cell too: TensorFlow's start-up lines filtered, once
    from_archive = False
    try:
        if runner == "grid":
            from keras_dyn.tuning import run_grid

            records = run_grid(cfg, logdir, quick=quick, seeds=seeds, data_dir=data_dir, workers=workers,
                               restart=restart, config_path=config_path, report_only=report_only,
                               verbose=verbose)
        else:
            from keras_dyn.runs.experiment import run_experiment

            records = run_experiment(cfg, logdir, quick=quick, seeds=seeds, data_dir=data_dir,
                                     restart=restart, report_only=report_only, verbose=verbose)
    except KerasDynError:
        if not (report_only and archive is not None and Path(archive).is_file()):
            raise
        from keras_dyn.runs.archive import archived_records

        records, from_archive = archived_records(prepared(cfg, quick=quick, seeds=seeds), archive,
                                                 logdir), True
        if verbose:
            print(f"report-only: the log folder lacks runs of the plan: all {len(records)} run(s) "
                  f"read from the committed results {archive}", file=sys.stderr, flush=True)
    outcome = Outcome(prepared(cfg, quick=quick, seeds=seeds), Path(logdir), records)
    if records is None or not findings:
        return outcome
    outcome.findings_file, outcome.errors = write_findings(
        outcome.cfg, records_to_results(records), logdir, lab_log=lab_log, quick=quick,
        lab_figures=lab_figures, out=out, fallback=report_only)
    if archive is not None and save_archive and lab_log is not None and not quick and not from_archive:
        from keras_dyn.runs.archive import write_archive

        write_archive(archive, outcome.cfg, records)
    return outcome


def run(config_or_path, logdir="modellogs", *, quick=False, seeds=None, data_dir=None, restart=False,
        report_only=False, verbose=True) -> Outcome:
    """Run one experiment (every point of its plan with every seed, one after another; finished
    runs are reused) and write its findings beside the runs, like ``keras-dyn run``.

    Args:
        config_or_path: an :class:`keras_dyn.config.ExperimentConfig` or a TOML file.
        logdir: the log folder; runs go to ``<logdir>/<experiment>/<run>``.
        quick: the ``--quick`` plan (at most 8 runs x 2 epochs x 1,000 examples).
        seeds: an int N: seeds 0..N-1 instead of the config's.

    Example:
        >>> outcome = kd.run("configs/exp3_depth.toml", quick=True)   # doctest: +SKIP
        >>> kd.load_runs(outcome.experiment_dir).query("metric == 'train_accuracy'")  # doctest: +SKIP
    """
    return train_and_report(_config(config_or_path), logdir, quick=quick, seeds=seeds, data_dir=data_dir,
                            restart=restart, report_only=report_only, verbose=verbose)


def labs():
    """The lab catalogue as a DataFrame: one row per lab (name, title, question, source, runner,
    config, log, runs and verdicts of its last full run).

    Example:
        >>> kd.labs().set_index("name").loc["exp2_epochs_vs_width", "runner"]
        'sequential'
    """
    import pandas as pd

    from keras_dyn.catalogue import list_labs, verdict_counts

    rows = []
    for lab in list_labs():
        last = lab.last_run()
        rows.append({"name": lab.name, "title": lab.title, "question": lab.question, "source": lab.source,
                     "runner": lab.runner, "config": str(lab.config_path), "log": str(lab.log_path),
                     "last_runs": last.get("runs"), "last_verdicts": verdict_counts(last.get("verdicts", {}))
                     if last else ""})
    return pd.DataFrame(rows, columns=["name", "title", "question", "source", "runner", "config", "log",
                                       "last_runs", "last_verdicts"])


def lab(name: str) -> "Lab":
    """The lab ``name`` of the catalogue (see :func:`labs`).

    Example:
        >>> kd.lab("exp2_epochs_vs_width").config.grid
        {'units': (64, 128, 256)}
    """
    from keras_dyn.catalogue import find_lab

    return Lab(find_lab(name))


class Lab:
    """A lab of the catalogue: its config and hypotheses; :meth:`run` trains it, :meth:`findings`
    builds its findings (with :attr:`~keras_dyn.report.context.Findings.verdicts`) from the
    finished runs of the last :meth:`run` (or of the log folder given)."""

    def __init__(self, entry):
        self.entry = entry
        self.name = entry.name
        self.title = entry.title
        self.question = entry.question
        self._last = {"logdir": "modellogs", "quick": False, "seeds": None}

    def __repr__(self):
        return f"<keras_dyn lab {self.name}: {self.title}>"

    @property
    def archive(self) -> Path:
        """The lab's committed results (``labs/<lab>/results.json.gz``): :meth:`findings` and
        ``run(report_only=True)`` read them when the log folder lacks the runs."""
        return self.entry.results_path

    @property
    def config(self):
        """The lab's :class:`keras_dyn.config.ExperimentConfig` (validated; ``.lab`` is its ``[lab]``)."""
        return _config(self.entry.config_path)

    @property
    def hypotheses(self):
        """The hypotheses as a DataFrame: id, statement, metric, expect, A and B (what each side
        selects), at (the reading)."""
        import pandas as pd

        rows = [{"id": h.id, "statement": h.statement, "metric": h.metric, "expect": h.expect,
                 "A": h.a.label or h.a.select, "B": (h.b.label or h.b.select) if h.b else None,
                 "at": getattr(h.at, "label", h.at)} for h in self.config.lab.hypotheses]
        return pd.DataFrame(rows, columns=["id", "statement", "metric", "expect", "A", "B", "at"])

    def run(self, quick=False, seeds=None, logdir="modellogs", *, data_dir=None, restart=False,
            report_only=False, workers=0, lab_log=None, lab_figures=None, out=None,
            verbose=True) -> Outcome:
        """Train the lab (its runner: sequential or a keras-tuner grid; finished runs reused) and
        write its findings to ``<logdir>/<experiment>/FINDINGS-<time>.md``. The lab's own LOG.md
        is written only when ``lab_log`` names it (the ``python -m labs.NAME`` command does).

        Example:
            >>> kd.lab("exp2_epochs_vs_width").run(quick=True, logdir="/tmp/logs")  # doctest: +SKIP
        """
        outcome = train_and_report(self.config, logdir, runner=self.entry.runner, quick=quick,
                                   seeds=seeds, data_dir=data_dir, restart=restart,
                                   report_only=report_only, workers=workers,
                                   config_path=self.entry.config_path, lab_log=lab_log,
                                   lab_figures=lab_figures, out=out, verbose=verbose,
                                   archive=self.archive, save_archive=lab_log == self.entry.log_path)
        self._last = {"logdir": logdir, "quick": quick, "seeds": seeds}
        return outcome

    def findings(self, logdir=None, *, quick=None, seeds=None, figure_dir=None):
        """The findings of the finished runs (nothing is trained) as a
        :class:`keras_dyn.report.context.Findings`: ``.markdown``, ``.verdicts`` (a DataFrame),
        ``.figures`` (PNG files, in ``figure_dir`` or a new temporary folder). The defaults are
        those of the last :meth:`run`."""
        from keras_dyn.report.findings import build_findings
        from keras_dyn.report.results import records_to_results
        from keras_dyn.runs.experiment import collect_finished, prepared

        logdir = self._last["logdir"] if logdir is None else logdir
        quick = self._last["quick"] if quick is None else quick
        seeds = self._last["seeds"] if seeds is None else seeds
        cfg = prepared(self.config, quick=quick, seeds=seeds)
        try:
            records = collect_finished(cfg, Path(logdir) / cfg.name, what="findings",
                                       hint="run the lab first (Lab.run)")
        except KerasDynError:
            if not self.archive.is_file():
                raise
            from keras_dyn.runs.archive import archived_records

            records = archived_records(cfg, self.archive, logdir)
        figure_dir = Path(figure_dir or tempfile.mkdtemp(prefix=f"keras_dyn-{cfg.name}-"))
        return build_findings(cfg, records_to_results(records), figure_dir, figure_dir.as_posix() + "/")


    def figures(self, logdir=None, *, quick=None, seeds=None, figure_dir=None) -> list:
        """The lab's figures (PNG files) drawn from its finished runs, as :meth:`findings` draws them."""
        return self.findings(logdir, quick=quick, seeds=seeds, figure_dir=figure_dir).figures


def load_runs(*paths):
    """Every finished run under ``paths`` as one tidy DataFrame, one row per run, epoch and metric.

    A path may be a run folder, an experiment folder (``<logdir>/<experiment>``) or a whole log
    folder (every experiment in it). Columns: experiment, run (the run folder's name), seed,
    status, then the configuration keys the runs' plan sets (``units``, ``learning_rate``, ...:
    the union over the runs; empty where a run has no such key), then epoch, metric, value. The
    metrics are the per-epoch lists of each ``results.toml``: ``[epochs]`` by their names
    (``loss``, ``accuracy``, ``test_accuracy``, ...), a diagnostic's table as ``TABLE/KEY``.

    Example:
        >>> runs = kd.load_runs("modellogs/exp2_epochs_vs_width-quick")   # doctest: +SKIP
        >>> runs.query("metric == 'test_accuracy'").groupby(["units", "epoch"]).value.mean()  # doctest: +SKIP
    """
    import pandas as pd

    from keras_dyn.report.results import load_results

    results = []
    for path in paths:
        path = Path(path)
        found = load_results(path)
        if not found and not (path / "results.toml").is_file():
            for experiment in sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else ():
                found += load_results(experiment)
        results += found
    keys: list = []
    rows = []
    for res in results:
        run = res.get("run", {})
        point = run.get("point") or {}
        keys += [k for k in point if k not in keys]
        base = {"experiment": run.get("experiment", Path(res["run_dir"]).parent.name),
                "run": Path(res["run_dir"]).name, "seed": run.get("seed"), "status": run.get("status"),
                **{k: _plain(v) for k, v in point.items()}}
        for table, values in res.items():
            if not isinstance(values, dict) or not isinstance(values.get("epoch"), list):
                continue
            epochs = values["epoch"]
            for key, series in values.items():
                if key == "epoch" or not isinstance(series, list) or len(series) != len(epochs) \
                        or not all(isinstance(v, (int, float)) for v in series):
                    continue
                metric = key if table == "epochs" else f"{table}/{key}"
                rows += [{**base, "epoch": int(e), "metric": metric, "value": float(v)}
                         for e, v in zip(epochs, series)]
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, *keys, *TIDY_COLUMNS])


def _plain(value):
    """A configuration value as a DataFrame cell: lists as ``"128-128"`` (hashable, groupable)."""
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return value if not (isinstance(value, float) and math.isnan(value)) else None
