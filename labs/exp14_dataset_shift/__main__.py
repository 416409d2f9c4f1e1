"""Lab exp14 (configs/exp14_dataset_shift.toml); see LOG.md."""

from keras_dyn.lab import run_lab
from keras_dyn.report.probe_findings import shift_findings

if __name__ == "__main__":
    run_lab(__file__, shift_findings)
