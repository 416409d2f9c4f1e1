"""``python -m keras_dyn``: the ``keras-dyn`` command (:mod:`keras_dyn.cli.main`).

    python -m keras_dyn run CONFIG.toml [--logdir DIR] [--quick] [--seeds N] [--data-dir DIR]
                                        [--restart | --report-only]
    python -m keras_dyn check CONFIG.toml
    python -m keras_dyn grid CONFIG.toml [... --workers N] [--restart | --report-only]
    python -m keras_dyn lab NAME | labs | worksheet NAME
"""

from __future__ import annotations

import sys

from keras_dyn.cli.main import main as _cli_main


def main(argv=None, prog: str = "python -m keras_dyn") -> int:
    """Every ``keras-dyn`` command, with ``python -m keras_dyn`` in its messages."""
    return _cli_main(argv, prog=prog)


if __name__ == "__main__":
    sys.exit(main())
