"""Lab exp7: per-layer applied-gradient statistics (configs/exp7_gradient_baseline.toml); see LOG.md."""

from keras_dyn.lab import run_lab
from keras_dyn.report.dynamics_findings import gradient_baseline_findings

if __name__ == "__main__":
    run_lab(__file__, gradient_baseline_findings)
