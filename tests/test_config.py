"""Config loading and validation: typed objects, and one clear line for every kind of bad input."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_dyn.config import from_dict, load_config
from keras_dyn.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

GOOD = {
    "data": {"dataset": "circle"},
    "model": {"hidden": [16, 16], "activation": "tanh", "initializer": "orthogonal"},
    "training": {"optimizer": "sgd_momentum", "learning_rate": 0.1, "scheduler": "step",
                 "batch_size": 16, "epochs": 3, "seeds": [0, 1]},
}


def with_(section, **values):
    raw = {k: dict(v) for k, v in GOOD.items()}
    raw.setdefault(section, {}).update(values)
    return raw


def test_good_config_is_typed():
    cfg = from_dict(GOOD)
    assert cfg.model.hidden == (16, 16)
    assert cfg.training.seeds == (0, 1)
    assert cfg.training.learning_rate == 0.1
    assert cfg.data.validation_split == 0.1  # default


@pytest.mark.parametrize("alias, keras_name", [("he", "he_normal"), ("xavier", "glorot_uniform"),
                                               ("glorot", "glorot_uniform"), ("orthogonal", "orthogonal"),
                                               ("he_uniform", "he_uniform")])
def test_initializer_aliases(alias, keras_name):
    assert from_dict(with_("model", initializer=alias)).model.keras_initializer == keras_name


def test_every_repo_config_is_valid():
    configs = sorted((REPO / "configs").glob("*.toml"))
    assert configs
    for path in configs:
        load_config(path)


def test_grid_points_and_run_names():
    cfg = from_dict({**GOOD, "grid": {"units": [32, 64], "learning_rate": [0.1, 0.01]}})
    points = cfg.points()
    assert len(points) == 4
    run = cfg.at_point(points[-1], seed=1)
    assert run.model.hidden == (64, 64) and run.training.learning_rate == 0.01
    assert run.training.seeds == (1,) and run.grid == {}
    assert cfg.run_name(points[-1], 1) == "w64-64_bs16_lr0.01_s1"


def test_grid_per_layer_units_and_depth():
    cfg = from_dict({**GOOD, "grid": {"units_1": [32, 256], "units_2": [64]}})
    assert [cfg.at_point(p).model.hidden for p in cfg.points()] == [(32, 64), (256, 64)]
    cfg = from_dict({**GOOD, "grid": {"layers": [2, 3], "units": [128]}})
    assert [cfg.at_point(p).model.hidden for p in cfg.points()] == [(128, 128), (128, 128, 128)]


BAD = [
    # (raw config, key named in the message, words that must appear)
    (with_("data", dataset="cifar"), "data.dataset", "allowed: mnist, fashion_mnist"),
    (with_("data", datset="mnist"), "data.datset", "did you mean 'dataset'"),
    (with_("model", activation="relux"), "model.activation", "did you mean 'relu'"),
    (with_("model", initializer="hee"), "model.initializer", "unknown initializer"),
    (with_("model", hidden=[16, 0]), "model.hidden", "from 1 to 100000"),
    (with_("model", hidden="16"), "model.hidden", "must be a list"),
    (with_("training", optimizer="adamax"), "training.optimizer", "allowed: sgd, sgd_momentum, adam"),
    (with_("training", learning_rate=-1.0), "training.learning_rate", "out of range"),
    (with_("training", batch_size=0), "training.batch_size", "out of range"),
    (with_("training", epochs=2.5), "training.epochs", "whole number"),
    (with_("training", epochs=True), "training.epochs", "whole number"),
    (with_("training", seeds=[1, 1]), "training.seeds", "distinct"),
    (with_("training", scheduler="linear"), "training.scheduler", "allowed: none, step, cosine"),
    (with_("data", validation_split=1.0), "data.validation_split", "< 1.0"),
    (with_("data", label_noise=1.5), "data.label_noise", "<= 1.0"),
    (with_("log", gradients="yes"), "log.gradients", "true or false"),
    ({**GOOD, "trainig": {}}, "trainig", "did you mean 'training'"),
    ({"data": GOOD["data"], "model": GOOD["model"]}, "training", "missing section"),
    ({**GOOD, "grid": {"width": [1, 2]}}, "grid.width", "unknown grid key"),
    ({**GOOD, "grid": {"units": []}}, "grid.units", "non-empty list"),
    ({**GOOD, "grid": {"optimizer": ["adam", "nadam"]}}, "grid.optimizer", "allowed"),
    ({**GOOD, "grid": {"units_3": [8]}}, "grid.units_3", "only 2 hidden layers"),
]


@pytest.mark.parametrize("raw, key, words", BAD, ids=[b[1] + ":" + b[2][:12] for b in BAD])
def test_bad_values_give_one_line_naming_the_key(raw, key, words):
    with pytest.raises(ConfigError) as info:
        from_dict(raw, source="exp.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("config error: exp.toml: " + key + ":")
    assert words in message


def test_toml_syntax_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[data]\ndataset = 'mnist\n")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


MALFORMED_FILES = {
    "syntax.toml": "[data\ndataset = 'mnist'\n",
    "unknown_key.toml": "[data]\ndataset='mnist'\n[model]\nhiden=[8]\n[training]\n",
    "wrong_type.toml": "[data]\ndataset='mnist'\n[model]\n[training]\nbatch_size='64'\n",
    "out_of_range.toml": "[data]\ndataset='mnist'\nvalidation_split=-0.2\n[model]\n[training]\n",
    "bad_activation.toml": "[data]\ndataset='mnist'\n[model]\nactivation='rleu'\n[training]\n",
    "bad_optimizer.toml": "[data]\ndataset='mnist'\n[model]\n[training]\noptimizer='adagrad'\n",
    "bad_initializer.toml": "[data]\ndataset='mnist'\n[model]\ninitializer='kaiming_fancy'\n[training]\n",
    "bad_dataset.toml": "[data]\ndataset='svhn'\n[model]\n[training]\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED_FILES))
def test_cli_malformed_config_exits_2_with_one_line_and_writes_nothing(tmp_path, name):
    path = tmp_path / name
    path.write_text(MALFORMED_FILES[name])
    logdir = tmp_path / "modellogs"
    proc = subprocess.run([sys.executable, "-m", "keras_dyn", "run", str(path), "--logdir", str(logdir)],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"config error: {path}")
    assert "Traceback" not in proc.stderr
    assert not logdir.exists()


def test_static_name_lists_match_keras():
    """The names config.py accepts without importing Keras are names Keras itself knows."""
    import keras

    from keras_dyn.config import KERAS_ACTIVATIONS, KERAS_INITIALIZERS

    for name in KERAS_ACTIVATIONS:
        keras.activations.get(name)
    for name in KERAS_INITIALIZERS:
        keras.initializers.get(name)
