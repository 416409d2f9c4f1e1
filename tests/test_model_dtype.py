"""``model.dtype``: a float64 Keras model end to end, and the NumPy twin following it to the last
digits (exp15's two-engine check)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dyn.runs.batches import epoch_orders, fixed_order_dataset, steps_per_epoch
from keras_dyn.callbacks.numpy_twin import NumpyTwin
from keras_dyn.config import ModelConfig, from_dict
from keras_dyn.errors import ConfigError
from keras_dyn.models import build_model, training_loss
from keras_dyn.numpy_mlp import Adam, NumpyMLP, keras_constant

RAW = {
    "experiment": {"name": "dt"},
    "data": {"dataset": "nested_rings", "n_samples": 240, "validation_split": 0.0},
    "model": {"hidden": [16, 16, 16, 16], "initializer": "he", "output": "sigmoid", "dtype": "float64"},
    "training": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 16, "epochs": 3, "seeds": [0]},
    "log": {"gradients": True, "activations": True, "weights": True, "step_loss": True, "every": 1},
    "probes": {"numpy_twin": True, "decision_grid": 8},
}


def test_dtype_is_checked_with_a_one_line_error():
    bad = {k: dict(v) for k, v in RAW.items()}
    bad["model"]["dtype"] = "float16"
    with pytest.raises(ConfigError, match=r"dt\.toml.*model\.dtype.*float32, float64"):
        from_dict(bad, source="dt.toml")


def test_default_is_float32_and_old_configs_read_the_same():
    raw = {k: dict(v) for k, v in RAW.items()}
    del raw["model"]["dtype"]
    assert from_dict(raw, source="dt.toml").model.dtype == "float32"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_model_weights_loss_and_optimiser_slots_take_the_dtype(dtype):
    cfg = ModelConfig(hidden=(4,), output="sigmoid", dtype=dtype)
    model = build_model(cfg, (2,), 2)
    model.compile(keras.optimizers.Adam(1e-3), training_loss(cfg))
    model.fit(np.zeros((8, 2), "float32"), np.zeros(8, "int32"), epochs=1, verbose=0)
    assert {w.dtype for w in model.weights} == {dtype}
    slots = [v for v in model.optimizer.variables if len(v.shape) > 0]
    assert slots and {v.dtype for v in slots} == {dtype}
    assert model.predict(np.zeros((2, 2), "float32"), verbose=0).dtype == np.dtype(dtype)


def test_keras_constant_is_what_keras_casts_a_python_float_to():
    assert keras_constant(0.999) == float(keras.ops.convert_to_numpy(keras.ops.cast(0.999, "float64")))
    assert keras_constant(0.999) != 0.999


def _deep_run(dtype, epochs=3):
    cfg = ModelConfig(hidden=(16, 16, 16, 16), initializer="he", output="sigmoid", dtype=dtype)
    keras.utils.set_random_seed(4)
    model = build_model(cfg, (2,), 2)
    model.compile(keras.optimizers.Adam(0.01), training_loss(cfg))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(160, 2)).astype("float32")
    y = ((np.hypot(x[:, 0], x[:, 1]) * 3).astype(int) % 2).astype("int32")
    orders = epoch_orders(len(x), epochs, seed=0)
    twin = NumpyTwin(x, y, orders, 16)
    model.fit(fixed_order_dataset(x, y, orders, 16), epochs=epochs, steps_per_epoch=steps_per_epoch(len(x), 16),
              shuffle=False, verbose=0, callbacks=[twin])
    return twin.results()


def test_float64_twin_follows_a_float64_model_to_rounding_over_a_whole_run():
    r = _deep_run("float64")
    assert r["dtype"] == "float64"  # the twin took the model's dtype
    assert max(r["weight_rel_diff"]) < 1e-12
    assert max(r["loss_rel_diff"]) < 1e-12
    assert r["keras_loss"][-1] < r["keras_loss"][0]  # it trained


def test_without_keras_float32_constants_the_float64_twin_parts(monkeypatch):
    """Keras rounds the learning rate and Adam's beta**t bases through float32 (``keras_constant``):
    a twin using the exact Python floats is off by ~1e-8 from the first steps, so the bound above
    is not vacuous."""
    import keras_dyn.numpy_mlp as numpy_mlp

    monkeypatch.setattr(numpy_mlp, "keras_constant", lambda value: value)
    r = _deep_run("float64", epochs=1)
    assert max(r["weight_rel_diff"]) > 1e-10


def test_a_float64_run_records_every_diagnostic_and_a_lockstep_twin(tmp_path):
    from keras_dyn.report import metrics as M
    from keras_dyn.runs.experiment import run_experiment

    cfg = from_dict(RAW, source="dt.toml")
    (record,) = run_experiment(cfg, logdir=tmp_path, verbose=False)
    r = record.results
    assert r["numpy_twin"]["dtype"] == "float64"
    assert M.value(r, "twin_max_loss_rel_diff") < 1e-12
    assert M.value(r, "twin_lockstep_epochs") == 3
    assert M.value(r, "grad_global_norm", at=M.parse_reading("mean")) > 0
    assert 0.0 <= M.value(r, "dead_frac", {"layer": "hidden1"}, at=M.Reading("last")) <= 1.0
    assert len(r["decision_surface"]["p"][0]) == 64
    assert "dtype = \"float64\"" in (record.run_dir / "config.toml").read_text()
