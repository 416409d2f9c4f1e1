"""Lab exp4: 256, 512 and 1024 units through keras-tuner (configs/exp4_extended_width.toml)"""

from keras_dyn.lab import run_lab
from keras_dyn.report.tuning_findings import tuning_findings

if __name__ == "__main__":
    run_lab(__file__, tuning_findings, tuner=True)
