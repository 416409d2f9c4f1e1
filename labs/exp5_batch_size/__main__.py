"""Lab exp5: batch size for a 256-256 network through keras-tuner (configs/exp5_batch_size.toml)"""

from keras_dyn.lab import run_lab
from keras_dyn.report.tuning_findings import tuning_findings

if __name__ == "__main__":
    run_lab(__file__, tuning_findings, tuner=True)
