"""Lab exp8: gradient attenuation and dispersion against depth (configs/exp8_depth_scaling.toml); see LOG.md."""

from keras_dyn.lab import run_lab
from keras_dyn.report.dynamics_findings import depth_scaling_findings

if __name__ == "__main__":
    run_lab(__file__, depth_scaling_findings)
