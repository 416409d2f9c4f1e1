"""Lab exp12 (configs/exp12_representation_drift.toml); see LOG.md."""

from keras_dyn.lab import run_lab
from keras_dyn.report.probe_findings import drift_findings

if __name__ == "__main__":
    run_lab(__file__, drift_findings)
