"""The ``keras-dyn`` command (also ``python -m keras_dyn``): experiments, labs and worksheets.

    keras-dyn run CONFIG.toml [--logdir DIR] [--quick] [--seeds N] [--data-dir DIR]
    keras-dyn grid CONFIG.toml [... --workers N] [--restart]
    keras-dyn check CONFIG.toml
    keras-dyn lab NAME [--quick] [--seeds N] [--logdir DIR] [--data-dir DIR] [--worksheet DIR]
                       [--workers N] [--restart]          (the last two for grid labs)
    keras-dyn labs
    keras-dyn worksheet NAME [--out DIR] [--force] [--format md|ipynb [--full] [--logdir DIR]]

``run``, ``grid`` and ``check`` are :mod:`keras_dyn.cli.experiment`'s commands. ``lab`` runs
a lab of the catalogue from any folder: runs go to ``./modellogs`` (``--logdir``), its findings to
``<logdir>/<experiment>/FINDINGS-<time>.md``, and a full run fills in a worksheet only where
``--worksheet DIR`` says (``DIR/NAME.md``, see :mod:`keras_dyn.report.worksheet`); the lab's own LOG.md,
inside the installed package, is never written. Bad input: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from keras_dyn.errors import KerasDynError

PROG = "keras-dyn"
EXPERIMENT_COMMANDS = ("run", "grid", "check")


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="keras_dyn: TOML experiments and labs -> Keras runs -> TensorBoard "
                               "logs and findings")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # run / grid / check are parsed by keras_dyn.cli.experiment (listed here for --help)
    sub.add_parser("run", help="train every grid point and seed of CONFIG.toml", add_help=False)
    sub.add_parser("grid", help="run CONFIG.toml's grid through keras-tuner (resumable, HParams)",
                   add_help=False)
    sub.add_parser("check", help="validate CONFIG.toml and list its runs, without training",
                   add_help=False)
    lab = sub.add_parser("lab", help="run a lab (NAME from `labs`) from any folder",
                         description="Run a lab. Its options (--quick, --seeds N, --logdir DIR, "
                                     "--data-dir DIR, --worksheet DIR; --workers N, --restart for "
                                     f"grid labs) follow NAME: `{prog} lab NAME --help` lists them.")
    lab.add_argument("name", help="the lab, e.g. exp2_epochs_vs_width")
    lab.add_argument("options", nargs=argparse.REMAINDER, help="the lab's options")
    sub.add_parser("labs", help="the lab catalogue: each lab's question, source and last full run")
    sheet = sub.add_parser("worksheet", help="a lab's worksheet to hand out, without findings "
                                             "(NAME.md and a standalone NAME.html)")
    sheet.add_argument("name", help="the lab, e.g. exp2_epochs_vs_width")
    sheet.add_argument("--out", default=".", metavar="DIR", help="folder to write to (default: .)")
    sheet.add_argument("--force", action="store_true", help="overwrite existing files")
    sheet.add_argument("--format", choices=("md", "ipynb"), default="md",
                       help="md: NAME.md and NAME.html (default); ipynb: a Jupyter notebook NAME.ipynb "
                            "that runs the lab, loads its runs and draws its figures")
    sheet.add_argument("--full", action="store_true",
                       help="ipynb: the notebook runs the full lab (default: the --quick plan)")
    sheet.add_argument("--logdir", default="modellogs", metavar="DIR",
                       help="ipynb: the log folder the notebook runs into (default: modellogs)")
    return parser


def main(argv=None, prog: str = PROG) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in EXPERIMENT_COMMANDS:
        from keras_dyn.cli.experiment import main as experiment_main

        return experiment_main(argv, prog=prog)
    args = build_parser(prog).parse_args(argv)
    try:
        if args.command == "lab":
            return _lab(args, prog)
        if args.command == "labs":
            from keras_dyn.catalogue import format_catalogue, list_labs

            sys.stdout.write(format_catalogue(list_labs(), run=f"{prog} lab {{name}}"))
            return 0
        if args.command == "worksheet":
            if args.format == "ipynb":
                from keras_dyn.report.notebook import write_notebook

                paths = write_notebook(args.name, args.out, force=args.force, quick=not args.full,
                                       logdir=args.logdir)
            else:
                from keras_dyn.report.worksheet import write_worksheet

                paths = write_worksheet(args.name, args.out, force=args.force)
            for path in paths:
                print(f"wrote {path}")
            return 0
    except KerasDynError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    raise AssertionError(args.command)  # argparse allows no other command


def _lab(args, prog) -> int:
    from keras_dyn.catalogue import find_lab
    from keras_dyn.cli.lab import run_lab

    lab = find_lab(args.name)
    return run_lab(lab.log_path, config=lab.config_path, argv=args.options,
                   tuner=lab.runner == "grid", prog=f"{prog} lab {lab.name}", worksheet=True,
                   archive=lab.results_path)

