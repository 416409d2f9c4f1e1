"""Lab exp1: width of layer 1 x width of layer 2 through keras-tuner (configs/exp1_width_grid.toml)"""

from keras_dyn.lab import run_lab
from keras_dyn.report.tuning_findings import tuning_findings

if __name__ == "__main__":
    run_lab(__file__, tuning_findings, tuner=True)
