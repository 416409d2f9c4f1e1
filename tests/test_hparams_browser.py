"""End to end: a grid through keras-tuner and a sequential lab (one run after another) in one log
folder, a real TensorBoard, and the HParams dashboard rendered by headless Chromium (Debian's
``chromium``; skipped when it is not installed). The page must list every trial and every run of
the sequential lab with its configuration values; a screenshot is saved (and copied to
``$KERAS_DYN_SCREENSHOT`` when that is set)."""

import os
import shutil

import pytest

from keras_dyn.config import load_config
from keras_dyn.runs.experiment import run_experiment
from keras_dyn.tuning import run_grid
from tests._chromium import Chromium, chromium_executable
from tests._tensorboard import tensorboard_server

BROWSER_TOML = """
[experiment]
name = "browsergrid"

[data]
dataset = "circle"
n_samples = 160
validation_split = 0.25

[model]
hidden = [6, 6]

[training]
learning_rate = 0.02
batch_size = 32
epochs = 1
seeds = [0]

[log]
gradients = false
activations = false
weights = false

[grid]
hidden = [[5, 7], [9, 3]]
learning_rate = [0.0123, 0.0456]
"""

# a sequential lab comparing batch sizes (a key the grid above does not sweep)
SEQUENTIAL_TOML = BROWSER_TOML.replace('name = "browsergrid"', 'name = "browserseq"').split("[grid]")[0] + """
[grid]
batch_size = [16, 48]

[lab]
title = "Batch size on the circle"
question = "Does the batch size matter here?"
runner = "sequential"
"""


@pytest.mark.slow
def test_hparams_dashboard_lists_every_trial(tmp_path):
    if chromium_executable() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    config = tmp_path / "browser.toml"
    config.write_text(BROWSER_TOML)
    records = run_grid(load_config(config), tmp_path / "modellogs", verbose=False)
    names = [r.run_dir.name for r in records]
    assert len(names) == 4
    sequential = tmp_path / "sequential.toml"
    sequential.write_text(SEQUENTIAL_TOML)
    seq_records = run_experiment(load_config(sequential), tmp_path / "modellogs", verbose=False)
    seq_names = [r.run_dir.name for r in seq_records]
    assert len(seq_names) == 2 and "browserseq" in load_config(sequential).name
    shot = tmp_path / "hparams.png"
    with tensorboard_server(tmp_path / "modellogs") as base:
        with Chromium(tmp_path / "profile", width=1500, height=700) as browser:
            browser.goto(base + "/#hparams")
            needles = names + seq_names + ["5-7", "9-3", "0.0123", "0.0456", "learning_rate", "hidden",
                                           "batch_size", "test accuracy (reported only)", "parameters"]
            text = browser.wait_for_text(needles, timeout=180)
            browser.screenshot(shot)
    missing = [n for n in needles if n not in text]
    assert not missing, f"not on the HParams page: {missing}; page text: {text[:1500]}"
    # whole numbers as whole numbers: the parameter counts (5-7: 73, 9-3: 65) and the seed
    assert sorted({r.results["run"]["params"] for r in records}) == [65, 73]
    tokens = text.split()
    assert "65" in tokens and "73" in tokens and "0" in tokens
    for shown_as_float in ("65.000", "73.000", "0.0000", "e+"):
        assert shown_as_float not in text, shown_as_float
    assert shot.stat().st_size > 10_000
    if os.environ.get("KERAS_DYN_SCREENSHOT"):
        shutil.copy(shot, os.environ["KERAS_DYN_SCREENSHOT"])
