"""``python -m keras_dyn``: run or check an experiment described by a TOML file.

    python -m keras_dyn run CONFIG.toml [--logdir DIR] [--quick] [--seeds N] [--data-dir DIR]
                                        [--restart | --report-only]
    python -m keras_dyn check CONFIG.toml
    python -m keras_dyn grid CONFIG.toml [--logdir DIR] [--quick] [--seeds N] [--data-dir DIR]
                                         [--workers N] [--restart | --report-only]

Bad input prints one line (file, key, what is allowed) and exits with status 2. The other
commands of ``keras-dyn`` (``lab``, ``labs``, ``worksheet``) work here too: see keras_dyn/cli.py.
"""

from __future__ import annotations

import sys

from keras_dyn.errors import KerasDynError
from keras_dyn.lab import MAX_WORKERS, OneLineParser, _bounded_int, common_arguments, write_findings
from keras_dyn.quiet import quiet_tensorflow


def main(argv=None, prog: str = "python -m keras_dyn") -> int:
    parser = OneLineParser(prog=prog,
                           description="keras_dyn: TOML experiment -> Keras runs -> TensorBoard logs and findings")
    sub = parser.add_subparsers(dest="command", required=True)
    run = common_arguments(sub.add_parser("run", help="train every grid point and seed of CONFIG"))
    run.add_argument("config", help="experiment TOML file")
    check = sub.add_parser("check", help="validate CONFIG and list its runs, without training")
    check.add_argument("config", help="experiment TOML file")
    grid = common_arguments(sub.add_parser(
        "grid", help="run CONFIG's grid through keras-tuner (GridSearch, resumable, HParams)"))
    grid.add_argument("config", help="experiment TOML file")
    grid.add_argument("--workers", type=_bounded_int(0, MAX_WORKERS), default=0, metavar="N",
                      help="start a keras-tuner chief and N workers on 127.0.0.1 (docs/distributed.md)")
    args = parser.parse_args(argv)
    if getattr(args, "restart", False) and getattr(args, "report_only", False):
        parser.error("--restart and --report-only exclude each other")
    try:
        from keras_dyn.config import load_config

        cfg = load_config(args.config)
        if args.command != "check":
            quiet_tensorflow()  # after the config check, so a bad file is reported at once
        if args.command == "check":
            for point in cfg.points():
                for seed in cfg.training.seeds:
                    print(cfg.run_name(point, seed))
            print(f"{args.config}: ok, {len(cfg.points()) * len(cfg.training.seeds)} run(s)",
                  file=sys.stderr)
            if cfg.swept and cfg.data.validation_split == 0:
                print(f"note: data.validation_split = 0: fine for `run`; `grid` refuses it (a "
                      f"keras-tuner grid chooses on validation accuracy)", file=sys.stderr)
            return 0
        if args.command == "grid":
            return _grid(cfg, args)
        from keras_dyn.lab import _experiment_cfg
        from keras_dyn.report.results import records_to_results
        from keras_dyn.train import run_experiment

        records = run_experiment(cfg, args.logdir, quick=args.quick, seeds=args.seeds,
                                 data_dir=args.data_dir, restart=args.restart,
                                 report_only=args.report_only)
        out, errors = write_findings(_experiment_cfg(cfg, args), records_to_results(records),
                                     args.logdir, quick=args.quick)
        return _report(out, errors)
    except KerasDynError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished runs keep their results; the unfinished run has none",
              file=sys.stderr)
        return 130
    except OSError as exc:  # the file system refused something not written through runfiles
        print(f"output error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _grid(cfg, args) -> int:
    import os

    from keras_dyn.lab import _experiment_cfg
    from keras_dyn.report.results import records_to_results
    from keras_dyn.tuning import CHILD_ENV, run_grid

    try:
        records = run_grid(cfg, args.logdir, quick=args.quick, seeds=args.seeds,
                           data_dir=args.data_dir, workers=args.workers, restart=args.restart,
                           config_path=args.config, report_only=args.report_only)
    except KeyboardInterrupt:
        print("interrupted: finished trials keep their results; run the same command again to "
              "continue with the first unfinished trial", file=sys.stderr)
        return 130
    if records is None or os.environ.get(CHILD_ENV):  # a worker, or a child of --workers
        return 0
    out, errors = write_findings(_experiment_cfg(cfg, args), records_to_results(records),
                                 args.logdir, quick=args.quick)
    return _report(out, errors)


def _report(out, errors) -> int:
    print(f"findings: {out}", file=sys.stderr)
    for error in errors:
        print(f"findings error: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    from keras_dyn.cli import main as cli_main  # run/grid/check come back to main() above

    sys.exit(cli_main(prog="python -m keras_dyn"))
