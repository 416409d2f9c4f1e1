"""The command line every lab shares, and writing an experiment's findings.

A lab's ``__main__.py`` is a few lines::

    from keras_dyn.lab import run_lab
    from keras_dyn.report.grid_findings import grid_findings

    if __name__ == "__main__":
        run_lab(__file__, grid_findings)

``run_lab`` reads ``configs/<lab folder name>.toml``, runs the experiment (finished runs are
reused; ``--restart`` trains them again into new folders, ``--report-only`` trains nothing), and
writes the findings twice over: always to ``<logdir>/<experiment>/FINDINGS-<time>.md`` (with its
figures beside it; both created exclusively, ``-2``, ``-3``, ... when the name is taken), and,
for a full run (not ``--quick``), into the generated block of the lab's ``LOG.md`` with figures
in ``labs/<lab>/figures/``.
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
                             "plan (an error says how many planned runs have no results)")
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


def write_findings(cfg, results, findings, logdir, *, lab_log=None, quick=False) -> Path:
    """Build the findings markdown; write it to the log folder (and the lab log unless quick).

    ``FINDINGS-<time>.md`` and ``figures-<time>/`` are created exclusively (``-2``, ``-3``, ...
    when another process took the name in the same second); everything stays inside the log
    folder (the lab log and its figures inside the lab's folder). A findings step that fails
    leaves no partial findings file or figure folder, and says how to rebuild it without training.
    """
    from keras_dyn.runfiles import atomic_write_text, ensure_dir, exclusive_name, inside

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    experiment_dir = Path(logdir) / cfg.name
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
              f"runs in `{experiment_dir}`._\n\n")
    try:
        body = _build(findings, cfg, results, fig_dir, f"figures-{stamp}{suffix}/", len(results))
        out = atomic_write_text(md, f"# Findings: {cfg.name}\n\n" + header + body + "\n",
                                root=logdir, exclusive=True)
    except BaseException:
        _remove_tree(fig_dir)
        raise
    if not any(fig_dir.iterdir()):
        fig_dir.rmdir()
    if lab_log is not None and not quick:
        from keras_dyn.report.lablog import update_log

        lab_dir = Path(lab_log).parent
        inside(lab_dir, lab_log)  # a LOG.md linked out of the lab folder is not written through
        lab_fig_dir = ensure_dir(lab_dir / "figures", lab_dir)
        body = _build(findings, cfg, results, lab_fig_dir, "figures/", len(results))
        update_log(lab_log, "## Findings (generated)\n\n" + header + body)
    return out


def _build(findings, cfg, results, fig_dir, prefix, n_runs) -> str:
    """The findings text; an unexpected failure becomes one line that keeps the runs."""
    try:
        return findings(cfg, results, fig_dir, prefix)
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
    if argv and argv[0] == "__main__.py":
        argv[0] = "python -m " + (sys.modules["__main__"].__spec__.name.rsplit(".", 1)[0]
                                  if getattr(sys.modules.get("__main__"), "__spec__", None) else "lab")
    return " ".join(argv)


def run_lab(main_file, findings, config=None, argv=None, *, tuner=False) -> int:
    """Run a lab from its ``__main__.py``; exits with 0, or 2 and one line on bad input.

    With ``tuner=True`` the grid runs through keras-tuner (:func:`keras_dyn.tuning.run_grid`:
    resumable, HParams, ``--workers N``). Either way finished runs are reused, ``--restart``
    trains them again into new folders and ``--report-only`` trains nothing.
    """
    lab_dir = Path(main_file).resolve().parent
    config = Path(config) if config else REPO_ROOT / "configs" / f"{lab_dir.name}.toml"
    parser = common_arguments(OneLineParser(
        prog=f"python -m labs.{lab_dir.name}", description=(lab_dir / "LOG.md").read_text(
            encoding="utf-8").splitlines()[0].lstrip("# ") if (lab_dir / "LOG.md").exists() else None))
    if tuner:
        parser.add_argument("--workers", type=_positive_int, default=0, metavar="N",
                            help="a keras-tuner chief and N workers on 127.0.0.1 (docs/distributed.md)")
    args = parser.parse_args(argv)
    if args.restart and args.report_only:
        parser.error("--restart and --report-only exclude each other")
    try:
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
        run_cfg = records and _experiment_cfg(cfg, args)
        out = write_findings(run_cfg, records_to_results(records), findings, args.logdir,
                             lab_log=lab_dir / "LOG.md", quick=args.quick)
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
    print(f"findings: {out}" + ("" if args.quick else f" and {lab_dir / 'LOG.md'}"), file=sys.stderr)
    return 0


def _experiment_cfg(cfg, args):
    from keras_dyn.train import quick_version

    if args.seeds is not None:
        cfg = cfg.replace(training={"seeds": list(range(args.seeds))})
    return quick_version(cfg) if args.quick else cfg
