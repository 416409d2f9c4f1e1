"""The command lines: ``keras-dyn`` and ``python -m keras_dyn`` (:mod:`keras_dyn.cli.main`), the
experiment commands ``run``/``grid``/``check`` (:mod:`keras_dyn.cli.experiment`), the command line
every lab shares (:mod:`keras_dyn.cli.lab`) and the options they share (:mod:`keras_dyn.cli.args`).
"""

from keras_dyn.cli.main import main

__all__ = ["main"]
