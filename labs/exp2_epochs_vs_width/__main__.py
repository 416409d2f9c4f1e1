"""Lab exp2: does a wider network need more epochs to pull ahead? (configs/exp2_epochs_vs_width.toml)"""

from keras_dyn.lab import run_lab
from keras_dyn.report.grid_findings import grid_findings

if __name__ == "__main__":
    run_lab(__file__, grid_findings)
