"""Lab exp11 (configs/exp11_label_noise.toml); see LOG.md."""

from keras_dyn.lab import run_lab
from keras_dyn.report.probe_findings import label_noise_findings

if __name__ == "__main__":
    run_lab(__file__, label_noise_findings)
