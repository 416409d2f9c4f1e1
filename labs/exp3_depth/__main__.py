"""Lab exp3: two against three hidden layers through keras-tuner (configs/exp3_depth.toml)"""

from keras_dyn.lab import run_lab
from keras_dyn.report.tuning_findings import tuning_findings

if __name__ == "__main__":
    run_lab(__file__, tuning_findings, tuner=True)
