"""``run``, ``grid`` and ``check``: run or check an experiment described by a TOML file.

    python -m keras_dyn run CONFIG.toml [--logdir DIR] [--quick] [--seeds N] [--data-dir DIR]
                                        [--restart | --report-only]
    python -m keras_dyn check CONFIG.toml [--quick]
    python -m keras_dyn grid CONFIG.toml [--logdir DIR] [--quick] [--seeds N] [--data-dir DIR]
                                         [--workers N] [--restart | --report-only]

Bad input prints one line per problem (file, key, what is allowed) and exits with status 2;
a key the file sets that has no effect in its plan gets a ``warning:`` line (exit status
unchanged), from ``check`` and before anything trains. The other
commands of ``keras-dyn`` (``lab``, ``labs``, ``worksheet``) are :mod:`keras_dyn.cli.main`'s.
"""

from __future__ import annotations

import sys

from keras_dyn.cli.args import MAX_WORKERS, OneLineParser, bounded_int, common_arguments, print_warnings
from keras_dyn.config.quick import plan_size, quick_version
from keras_dyn.errors import KerasDynError
from keras_dyn.quiet import quiet_tensorflow


def main(argv=None, prog: str = "python -m keras_dyn") -> int:
    parser = OneLineParser(prog=prog,
                           description="keras_dyn: TOML experiment -> Keras runs -> TensorBoard logs and findings")
    sub = parser.add_subparsers(dest="command", required=True)
    run = common_arguments(sub.add_parser("run", help="train every grid point and seed of CONFIG"))
    run.add_argument("config", help="experiment TOML file")
    check = sub.add_parser("check", help="validate CONFIG and list its runs, without training")
    check.add_argument("config", help="experiment TOML file")
    check.add_argument("--quick", action="store_true",
                       help="check the --quick plan (at most 8 runs x 2 epochs) and say what it leaves out")
    grid = common_arguments(sub.add_parser(
        "grid", help="run CONFIG's grid through keras-tuner (GridSearch, resumable, HParams)"))
    grid.add_argument("config", help="experiment TOML file")
    grid.add_argument("--workers", type=bounded_int(0, MAX_WORKERS), default=0, metavar="N",
                      help="start a keras-tuner chief and N workers on 127.0.0.1 (docs/distributed.md)")
    args = parser.parse_args(argv)
    if getattr(args, "restart", False) and getattr(args, "report_only", False):
        parser.error("--restart and --report-only exclude each other")
    try:
        from keras_dyn.config import load_config

        cfg = load_config(args.config)
        if not (args.command == "grid" and _grid_child()):  # a --workers child: its launcher printed them
            print_warnings(cfg)
        if args.command != "check":
            quiet_tensorflow()  # after the config check, so a bad file is reported at once
        if args.command == "check":
            if args.quick:
                cfg = quick_version(cfg)
            for point in cfg.points():
                for seed in cfg.training.seeds:
                    print(cfg.run_name(point, seed))
            print(f"{args.config}: ok, {len(cfg.points()) * len(cfg.training.seeds)} run(s)",
                  file=sys.stderr)
            if cfg.swept and cfg.data.validation_split == 0:
                print(f"note: data.validation_split = 0: fine for `run`; `grid` refuses it (a "
                      f"keras-tuner grid chooses on validation accuracy)", file=sys.stderr)
            if args.quick:
                _quick_note(cfg)
            return 0
        if args.command == "grid":
            return _grid(cfg, args)
        from keras_dyn.api import train_and_report

        outcome = train_and_report(cfg, args.logdir, quick=args.quick, seeds=args.seeds,
                                   data_dir=args.data_dir, restart=args.restart,
                                   report_only=args.report_only, out=args.out)
        return _report(outcome.findings_file, outcome.errors)
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


def _grid_child() -> bool:
    import os

    from keras_dyn.tuning.distributed import CHILD_ENV

    return bool(os.environ.get(CHILD_ENV))


def _grid(cfg, args) -> int:
    import os

    from keras_dyn.api import train_and_report
    from keras_dyn.tuning import CHILD_ENV

    try:
        outcome = train_and_report(cfg, args.logdir, runner="grid", quick=args.quick, seeds=args.seeds,
                                   data_dir=args.data_dir, workers=args.workers, restart=args.restart,
                                   config_path=args.config, report_only=args.report_only, out=args.out,
                                   findings=not os.environ.get(CHILD_ENV))
    except KeyboardInterrupt:
        print("interrupted: finished trials keep their results; run the same command again to "
              "continue with the first unfinished trial", file=sys.stderr)
        return 130
    if outcome.records is None or os.environ.get(CHILD_ENV):  # a worker, or a child of --workers
        return 0
    return _report(outcome.findings_file, outcome.errors)


def _quick_note(cfg):
    """``check --quick``: the quick plan's size and what of the lab it cannot test."""
    size = plan_size(cfg)
    print(f"quick plan: {size['runs']} run(s) x at most {size['epochs']} epoch(s) x {size['examples']:,} "
          f"training / {size['test_examples']:,} test examples", file=sys.stderr)
    for hyp in (cfg.lab.hypotheses if cfg.lab else ()):
        if hyp.absent:
            print(f"quick plan: hypothesis {hyp.id} not in it ({hyp.absent})", file=sys.stderr)
    for spec in (cfg.lab.findings if cfg.lab else ()):
        if spec.absent:
            print(f"quick plan: section {spec.section!r} not in it ({spec.absent})", file=sys.stderr)


def _report(out, errors) -> int:
    print(f"findings: {out}", file=sys.stderr)
    for error in errors:
        print(f"findings error: {error}", file=sys.stderr)
    return 1 if errors else 0

