"""What every command line of keras_dyn shares: one-line usage errors (:class:`OneLineParser`), the run options (``--quick``, ``--seeds``, ``--logdir``, ``--data-dir``, ``--restart``, ``--report-only``).
"""

from __future__ import annotations

import argparse
import sys


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
    parser.add_argument("--seeds", type=bounded_int(1, MAX_SEEDS_OPTION), metavar="N",
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


def bounded_int(low, high):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return value
    return parse


positive_int = bounded_int(1, MAX_WORKERS)


def print_warnings(cfg):
    """The config's no-effect warnings (:mod:`keras_dyn.config.effects`), one ``warning:`` line
    each on stderr: by ``check`` and, once before anything trains, by every training command."""
    from keras_dyn.config.effects import no_effect_warnings

    for line in no_effect_warnings(cfg):
        print(f"warning: {line}", file=sys.stderr)
