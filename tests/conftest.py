"""Shared test set-up: quiet TensorFlow, a tiny synthetic experiment, the real data when present."""

import os
from pathlib import Path

import pytest

import keras_dyn  # noqa: F401,E402  sets TensorFlow's log level (keras_dyn/quiet.py) before any test imports it

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "datasets"


def real_data_dir():
    """The folder with the real data sets: $KERAS_DYN_DATA, else ../shared/datasets, else None."""
    env = os.environ.get("KERAS_DYN_DATA")
    for candidate in (env, SHARED_DATA):
        if candidate and (Path(candidate) / "mnist.npz").is_file():
            return Path(candidate)
    return None


@pytest.fixture
def real_data():
    path = real_data_dir()
    if path is None:
        pytest.skip("real data sets not found (set KERAS_DYN_DATA)")
    return path


TINY_TOML = """
[experiment]
name = "tiny"

[data]
dataset = "circle"
n_samples = 256
validation_split = 0.25

[model]
hidden = [8, 8]
activation = "relu"
initializer = "he"

[training]
optimizer = "adam"
learning_rate = 0.01
batch_size = 32
epochs = 2
seeds = [0, 1]
"""


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML)
    return path
