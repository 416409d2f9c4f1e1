"""The command line every lab shares, and writing an experiment's findings.

A lab is ``configs/<lab>.toml`` (runs and ``[lab]`` section) plus ``labs/<lab>/LOG.md``; no
Python of its own. ``python -m labs.<lab>`` (see ``labs/__init__.py``) calls :func:`main`, which
reads the lab's config, runs the experiment (one run after another, or through keras-tuner when
``[lab] runner = "grid"``; finished runs are reused, ``--restart`` trains them again into new
folders, ``--report-only`` trains nothing), and writes the findings built by
:func:`keras_dyn.report.findings.build_findings` twice over: always to
``<logdir>/<experiment>/FINDINGS-<time>.md`` (with its figures beside it; both created
exclusively, ``-2``, ``-3``, ... when the name is taken), and, for a full run (not ``--quick``),
into the generated Setup and Findings blocks of the lab's ``LOG.md`` with figures in
``labs/<lab>/figures/``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
from pathlib import Path

from keras_dyn.errors import KerasDynError, OutputError

REPO_ROOT = Path(__file__).resolve().parents[1]


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``usage error: ...``) and exit status 2."""

    def error(self, message):
        self.exit(2, f"usage error: {self.prog}: {message} (see --help)\n")


MAX_SEEDS_OPTION = 10_000
MAX_WORKERS = 64


def common_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--quick", action="store_true",
                        help="the same experiment on a small subset (seconds, for tests); findings "
                             "go to the log folder only")
    parser.add_argument("--seeds", type=_bounded_int(1, MAX_SEEDS_OPTION), metavar="N",
                        help="run seeds 0..N-1 instead of the config's seeds")
    parser.add_argument("--logdir", default="modellogs", metavar="DIR",
                        help="root folder for run output (default: modellogs)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder holding mnist.npz and fashion-mnist/*.gz "
                             "(default: $KERAS_DYN_DATA, then the Keras cache, then download)")
    parser.add_argument("--restart", action="store_true",
                        help="train every run again, into new run folders (name_2, ...); nothing "
                             "is deleted (a grid also starts a new search state)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: rebuild the findings from the finished runs of the "
                             "plan (an error says how many planned runs have no results); a "
                             "read-only log folder gets them written elsewhere, named")
    parser.add_argument("--out", metavar="DIR",
                        help="write the findings and figures to DIR/<experiment> instead of the "
                             "log folder")
    return parser


def _bounded_int(low, high):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return value
    return parse


_positive_int = _bounded_int(1, MAX_WORKERS)


def quiet_tensorflow():
    """Keep TensorFlow's C++ start-up chatter out of the lab's output.

    ``TF_CPP_MIN_LOG_LEVEL`` silences TensorFlow's own logging, but a few lines are printed by
    native code before logging is set up (oneDNN, CUDA stubs); those are dropped by importing
    TensorFlow once with the process's stderr pointed at /dev/null. Python errors raised by the
    import are not affected: they surface after stderr is restored.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ.get("KERAS_DYN_VERBOSE_TF"):
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real file descriptor (e.g. captured by a test runner)
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
                import keras  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def write_findings(cfg, results, logdir, *, lab_log=None, quick=False,
                   lab_figures=None, out=None, fallback=False) -> tuple[Path, list[str]]:
    """Build the findings; write them to the log folder (and the lab log unless quick).

    ``FINDINGS-<time>.md`` and ``figures-<time>/`` are created exclusively (``-2``, ``-3``, ...
    when another process took the name in the same second); everything stays inside the log
    folder (the lab log and its figures inside the lab's folder). Returns the findings file and
    the findings errors (hypotheses or sections that could not be read: the runs are kept and
    ``--report-only`` rebuilds the findings without training).
    The lab log's figures go to ``lab_figures`` (default: ``figures/`` beside the log).
    ``out``: write the findings and figures to ``out/<experiment>`` instead (``--out DIR``);
    ``fallback`` (``--report-only``): when the log folder refuses them (read-only, full), write
    them to a writable folder under the system's temporary folder and say where.
    """
    from keras_dyn.report.findings import setup_markdown
    from keras_dyn.runfiles import atomic_write_text, ensure_dir, exclusive_name, inside

    runs_dir = Path(logdir) / cfg.name
    if out is None and fallback:
        try:
            return write_findings(cfg, results, logdir, lab_log=lab_log, quick=quick, lab_figures=lab_figures)
        except OutputError as exc:
            import tempfile

            out = Path(tempfile.gettempdir()) / "keras_dyn-findings"
            print(f"note: {exc}; the findings go to {out / cfg.name} instead (or give --out DIR)"
                  + ("; the lab log is not updated" if lab_log is not None and not quick else ""),
                  file=sys.stderr)
            lab_log = None
    logdir = Path(out) if out is not None else Path(logdir)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    experiment_dir = logdir / cfg.name
    ensure_dir(experiment_dir, logdir)

    def reserve(suffix):
        fig_dir = experiment_dir / f"figures-{stamp}{suffix}"
        md = experiment_dir / f"FINDINGS-{stamp}{suffix}.md"
        inside(logdir, fig_dir)
        if os.path.lexists(md):
            raise FileExistsError(md)
        try:
            fig_dir.mkdir()  # the reservation: one process per name
        except FileExistsError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot create folder {fig_dir}: {exc.strerror}") from None
        return fig_dir, md, suffix

    fig_dir, md, suffix = exclusive_name(experiment_dir, reserve)
    header = (f"_Generated by `{_command()}` on {_dt.datetime.now():%Y-%m-%d %H:%M}; "
              f"runs in `{runs_dir}`._\n\n")
    try:
        findings = _build(cfg, results, fig_dir, f"figures-{stamp}{suffix}/")
        setup = setup_markdown(cfg, results)
        out = atomic_write_text(md, f"# Findings: {cfg.name}\n\n" + header + "## Setup\n\n" + setup
                                + "\n\n" + findings.markdown, root=logdir, exclusive=True)
    except BaseException:
        _remove_tree(fig_dir)
        raise
    if not any(fig_dir.iterdir()):
        fig_dir.rmdir()
    if lab_log is not None and not quick:
        from keras_dyn.report.lablog import update_log

        lab_dir = Path(lab_log).parent
        inside(lab_dir, lab_log)  # a LOG.md linked out of the lab folder is not written through
        lab_fig_dir = ensure_dir(Path(lab_figures) if lab_figures else lab_dir / "figures", lab_dir)
        prefix = os.path.relpath(lab_fig_dir, lab_dir).replace(os.sep, "/") + "/"
        findings = _build(cfg, results, lab_fig_dir, prefix)
        update_log(lab_log, "## Findings (generated)\n\n" + header + findings.markdown, setup=setup)
    return out, findings.errors


def _build(cfg, results, fig_dir, prefix):
    """The findings; an unexpected failure of the engine becomes one line that keeps the runs
    (a failing section or hypothesis is already reported inside the findings and in ``errors``)."""
    from keras_dyn.report.findings import build_findings

    n_runs = len(results)
    try:
        return build_findings(cfg, results, fig_dir, prefix)
    except (KerasDynError, KeyboardInterrupt):
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the findings figures in {fig_dir}: {exc.strerror}") from None
    except Exception as exc:
        text = " ".join(str(exc).split())[:200] or "no message"
        raise KerasDynError(f"findings error: {type(exc).__name__}: {text}; the {n_runs} finished "
                            f"run(s) are kept: run the same command with --report-only to build the "
                            f"findings again without training") from None


def _remove_tree(folder: Path):
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _command() -> str:
    argv = [Path(sys.argv[0]).name if sys.argv else "python"] + sys.argv[1:]
    lab = getattr(sys.modules.get("__main__"), "__spec__", None)
    if lab is not None and lab.name.startswith("labs.") and lab.name.endswith(".__main__"):
        return " ".join([f"python -m {lab.name[:-len('.__main__')]}"] + sys.argv[1:])
    if argv and argv[0] == "__main__.py":
        argv[0] = "python -m " + (sys.modules["__main__"].__spec__.name.rsplit(".", 1)[0]
                                  if getattr(sys.modules.get("__main__"), "__spec__", None) else "lab")
    return " ".join(argv)


def main(name: str, argv=None) -> int:
    """Run lab ``name`` (``python -m labs.<name>``); exits 0, 2 and one line on bad input, or 1
    when the runs finished but part of the findings could not be written."""
    from keras_dyn.catalogue import find_lab, installed

    try:
        lab = find_lab(name)
    except KerasDynError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
    return run_lab(lab.log_path, config=lab.config_path, argv=argv, tuner=lab.runner == "grid",
                   worksheet=installed())  # an installed package's LOG.md is never written


def run_lab(main_file, findings=None, config=None, argv=None, *, tuner=None, prog=None,
            worksheet=False) -> int:
    """Run a lab whose folder holds ``main_file`` (its LOG.md or an old ``__main__.py``).

    ``worksheet`` (``keras-dyn lab``): the lab's own LOG.md is never written; a full run writes
    the worksheet only where ``--worksheet DIR`` says (see :mod:`keras_dyn.worksheet`).

    The runner comes from ``[lab] runner`` (``tuner`` overrides it): ``grid`` runs through
    keras-tuner (:func:`keras_dyn.tuning.run_grid`: resumable, HParams, ``--workers N``).
    Either way finished runs are reused, ``--restart`` trains them again into new folders and
    ``--report-only`` trains nothing. ``findings`` is accepted for older ``__main__.py`` files
    and ignored: the findings come from the ``[lab]`` section.
    """
    lab_dir = Path(main_file).resolve().parent
    config = Path(config) if config else REPO_ROOT / "configs" / f"{lab_dir.name}.toml"
    title = _lab_title(config) or lab_dir.name
    if tuner is None:
        tuner = _lab_runner(config) == "grid"
    parser = common_arguments(OneLineParser(prog=prog or f"python -m labs.{lab_dir.name}",
                                            description=title))
    if worksheet:
        parser.add_argument("--worksheet", metavar="DIR",
                            help=f"a full run writes the worksheet DIR/{lab_dir.name}.md (kept, "
                                 f"generated blocks rewritten) and its figures; default: none")
    if tuner:
        parser.add_argument("--workers", type=_positive_int, default=0, metavar="N",
                            help="a keras-tuner chief and N workers on 127.0.0.1 (docs/distributed.md)")
    args = parser.parse_args(argv)
    if args.restart and args.report_only:
        parser.error("--restart and --report-only exclude each other")
    try:
        lab_log, lab_figures = lab_dir / "LOG.md", None
        if worksheet:  # keras-dyn lab: never the lab's own LOG.md (read-only when installed)
            from keras_dyn.worksheet import run_worksheet

            lab_log, lab_figures = run_worksheet(lab_dir.name, args.worksheet, quick=args.quick)
        from keras_dyn.config import check_name, load_config
        from keras_dyn.report.results import records_to_results
        from keras_dyn.train import run_experiment

        check_name(main_file, "lab name", lab_dir.name)
        cfg = load_config(config)
        quiet_tensorflow()  # after the config check, so a bad file is reported at once
        if tuner:
            from keras_dyn.tuning import run_grid

            records = run_grid(cfg, args.logdir, quick=args.quick, seeds=args.seeds,
                               data_dir=args.data_dir, workers=args.workers,
                               restart=args.restart, config_path=config,
                               report_only=args.report_only)
            if records is None:  # a keras-tuner worker: the chief writes the findings
                return 0
        else:
            records = run_experiment(cfg, args.logdir, quick=args.quick, seeds=args.seeds,
                                     data_dir=args.data_dir, restart=args.restart,
                                     report_only=args.report_only)
        run_cfg = _experiment_cfg(cfg, args)
        out, errors = write_findings(run_cfg, records_to_results(records), args.logdir,
                                     lab_log=lab_log, quick=args.quick, lab_figures=lab_figures,
                                     out=args.out, fallback=args.report_only)
    except KerasDynError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted: finished runs keep their results; the unfinished run has none",
              file=sys.stderr)
        sys.exit(130)
    except OSError as exc:  # the file system refused something not written through runfiles
        print(f"output error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
    print(f"findings: {out}" + ("" if args.quick or lab_log is None else f" and {lab_log}"),
          file=sys.stderr)
    for error in errors:
        print(f"findings error: {error}", file=sys.stderr)
    if errors:
        sys.exit(1)
    return 0


def _lab_table(config) -> dict:
    from keras_dyn import tomlio

    try:
        return tomlio.loads(Path(config).read_text(encoding="utf-8")).get("lab", {}) or {}
    except (OSError, ValueError, IndexError, tomlio.TOMLDecodeError):
        return {}  # load_config reports it properly


def _lab_title(config) -> str:
    return str(_lab_table(config).get("title", ""))


def _lab_runner(config) -> str:
    return str(_lab_table(config).get("runner", "sequential"))


def _experiment_cfg(cfg, args):
    from keras_dyn.train import quick_version

    if args.seeds is not None:
        cfg = cfg.replace(training={"seeds": list(range(args.seeds))})
    return quick_version(cfg) if args.quick else cfg
