"""The command line every lab shares.

A lab is ``configs/<lab>.toml`` (runs and ``[lab]`` section) plus ``labs/<lab>/LOG.md``; no
Python of its own. ``python -m labs.<lab>`` (see ``labs/__init__.py``) calls :func:`main`, which
reads the lab's config, runs the experiment (one run after another, or through keras-tuner when
``[lab] runner = "grid"``; finished runs are reused, ``--restart`` trains them again into new
folders, ``--report-only`` trains nothing), and writes the findings
(:func:`keras_dyn.report.output.write_findings`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from keras_dyn.cli.args import OneLineParser, common_arguments, positive_int, print_warnings
from keras_dyn.errors import KerasDynError
from keras_dyn.quiet import quiet_tensorflow

REPO_ROOT = Path(__file__).resolve().parents[1]


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
                   worksheet=installed(),  # an installed package's LOG.md is never written
                   archive=lab.results_path)


def run_lab(main_file, findings=None, config=None, argv=None, *, tuner=None, prog=None,
            worksheet=False, archive=None) -> int:
    """Run a lab whose folder holds ``main_file`` (its LOG.md or an old ``__main__.py``).

    ``worksheet`` (``keras-dyn lab``): the lab's own LOG.md is never written; a full run writes
    the worksheet only where ``--worksheet DIR`` says (see :mod:`keras_dyn.report.worksheet`).

    ``archive``: the lab's committed results (:mod:`keras_dyn.runs.archive`): a full run writes
    them beside LOG.md (not when ``worksheet``); ``--report-only`` reads them when the log
    folder lacks runs of the plan.

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
        parser.add_argument("--workers", type=positive_int, default=0, metavar="N",
                            help="a keras-tuner chief and N workers on 127.0.0.1 (docs/distributed.md)")
    args = parser.parse_args(argv)
    if args.restart and args.report_only:
        parser.error("--restart and --report-only exclude each other")
    try:
        lab_log, lab_figures = lab_dir / "LOG.md", None
        if worksheet:  # keras-dyn lab: never the lab's own LOG.md (read-only when installed)
            from keras_dyn.report.worksheet import run_worksheet

            lab_log, lab_figures = run_worksheet(lab_dir.name, args.worksheet, quick=args.quick)
        from keras_dyn.api import train_and_report
        from keras_dyn.config import check_name, load_config

        check_name(main_file, "lab name", lab_dir.name)
        cfg = load_config(config)
        print_warnings(cfg)
        quiet_tensorflow()  # after the config check, so a bad file is reported at once
        outcome = train_and_report(cfg, args.logdir, runner="grid" if tuner else "sequential",
                                   quick=args.quick, seeds=args.seeds, data_dir=args.data_dir,
                                   restart=args.restart, report_only=args.report_only,
                                   workers=getattr(args, "workers", 0), config_path=config,
                                   lab_log=lab_log, lab_figures=lab_figures, out=args.out,
                                   archive=archive, save_archive=not worksheet)
        if outcome.records is None:  # a keras-tuner worker: the chief writes the findings
            return 0
        out, errors = outcome.findings_file, outcome.errors
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
