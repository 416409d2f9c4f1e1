"""Dropout, L2, normalisation, residual connections and early stopping: the keys and their
one-line errors, the models they build, the diagnostics on the new layers and a tiny run that
stops early (synthetic circle data, a few epochs)."""

import copy

import numpy as np
import pytest

from keras_dyn import tomlio
from keras_dyn.config import from_dict, same_run_config
from keras_dyn.errors import ConfigError

BASE = {"experiment": {"name": "rem"}, "data": {"dataset": "circle", "n_samples": 200, "validation_split": 0.25},
        "model": {"hidden": [8, 8, 4], "initializer": "he"},
        "training": {"epochs": 2, "batch_size": 32, "seeds": [0]}}


def config(**changes):
    """BASE with ``section__key = value`` changes."""
    raw = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        raw.setdefault(section, {})[key] = value
    return from_dict(raw)


def error(**changes) -> str:
    with pytest.raises(ConfigError) as info:
        config(**changes)
    text = str(info.value)
    assert "\n" not in text
    return text


# ---------------------------------------------------------------------------------- the keys


def test_defaults_keep_the_plain_mlp_and_appear_in_the_resolved_config():
    cfg = config()
    m = cfg.model
    assert (m.dropout, m.l2, m.normalization, m.residual) == (0.0, 0.0, "none", False)
    assert cfg.training.early_stopping == {}
    text = cfg.to_toml()
    for line in ("dropout = 0.0", "l2 = 0.0", 'normalization = "none"', "residual = false",
                 "[training.early_stopping]"):
        assert line in text
    assert from_dict(tomlio.loads(text)).to_toml() == text


def test_an_old_stored_config_without_the_new_keys_is_the_same_run():
    cfg = config()
    text = cfg.to_toml()
    raw = cfg.to_dict()
    for key in ("dropout", "l2", "normalization", "residual"):
        del raw["model"][key]
    del raw["training"]["early_stopping"]
    older = tomlio.dumps(raw)
    assert "dropout" not in older and "early_stopping" not in older
    assert same_run_config(older, text)
    raw["model"]["dropout"] = 0.1  # a value that differs is another run
    assert not same_run_config(tomlio.dumps(raw), text)


def test_early_stopping_is_completed_with_its_defaults():
    stop = config(training__early_stopping={"patience": 1}).training.early_stopping
    assert stop == {"monitor": "val_loss", "patience": 1, "min_delta": 0.0, "restore_best": True}


@pytest.mark.parametrize("changes, key, words", [
    ({"model__dropout": 1.0}, "model.dropout", "allowed: >= 0 and < 1"),
    ({"model__dropout": -0.1}, "model.dropout", "out of range"),
    ({"model__dropout": "half"}, "model.dropout", "must be a rate"),
    ({"model__dropout": [0.1, "a", 0.2]}, "model.dropout", "every item must be a rate"),
    ({"model__dropout": []}, "model.dropout", "non-empty"),
    ({"model__dropout": [0.1, 0.2]}, "model.dropout", "has 2 rates but the model has 3 hidden layers"),
    ({"model__l2": -1e-4}, "model.l2", "out of range"),
    ({"model__l2": "big"}, "model.l2", "must be a number"),
    ({"model__normalization": "btch"}, "model.normalization", "did you mean 'batch'"),
    ({"model__residual": 1}, "model.residual", "true or false"),
    ({"training__early_stopping": 3}, "training.early_stopping", "must be a table"),
    ({"training__early_stopping": {"patiense": 2}}, "training.early_stopping.patiense", "did you mean 'patience'"),
    ({"training__early_stopping": {"patience": -1}}, "training.early_stopping.patience", "out of range"),
    ({"training__early_stopping": {"patience": 1.5}}, "training.early_stopping.patience", "whole number"),
    ({"training__early_stopping": {"monitor": "val_acc"}}, "training.early_stopping.monitor", "val_accuracy"),
    ({"training__early_stopping": {"min_delta": -1}}, "training.early_stopping.min_delta", "out of range"),
    ({"training__early_stopping": {"restore_best": "yes"}}, "training.early_stopping.restore_best",
     "true or false"),
    ({"training__early_stopping": {"monitor": "val_loss"}, "data__validation_split": 0.0},
     "training.early_stopping.monitor", "needs a validation split"),
    ({"probes__numpy_twin": True, "model__dropout": 0.2}, "probes.numpy_twin", "model.dropout is 0.2"),
    ({"probes__numpy_twin": True, "model__l2": 1e-3}, "probes.numpy_twin", "model.l2"),
    ({"probes__numpy_twin": True, "model__normalization": "layer"}, "probes.numpy_twin", "model.normalization"),
    ({"probes__numpy_twin": True, "model__residual": True}, "probes.numpy_twin", "model.residual is true"),
])
def test_bad_values_are_one_line_naming_the_key(changes, key, words):
    text = error(**changes)
    assert f": {key}: " in text and words in text


def test_the_twin_refuses_a_remedy_set_by_the_grid():
    text = error(probes__numpy_twin=True, grid__normalization=["none", "batch"])
    assert ": probes.numpy_twin: " in text and 'model.normalization is "batch"' in text


def test_a_dropout_list_must_match_every_point_of_the_grid():
    assert config(model__dropout=[0.1, 0.2, 0.3]).model.dropout == (0.1, 0.2, 0.3)
    assert "has 3 rates but the model has 2 hidden layers" in error(model__dropout=[0.1, 0.2, 0.3],
                                                                     grid__layers=[3, 2])


def test_a_grid_over_the_new_keys_gives_distinct_run_names():
    cfg = config(grid__dropout=[0.0, 0.2, [0.1, 0.0, 0.3]], grid__normalization=["none", "batch"],
                 grid__residual=[False, True], grid__l2=[0.0, 1e-4])
    names = [cfg.run_name(p, 0) for p in cfg.points()]
    assert len(names) == len(set(names)) == 24
    assert "w8-8-4_bs32_drop0.1-0.0-0.3_l2-0.0001_norm-batch_res-True_s0" in names
    assert cfg.at_point({"dropout": (0.1, 0.0, 0.3)}).model.dropout == (0.1, 0.0, 0.3)


def test_grid_values_of_the_new_keys_survive_keras_tuner_encoding():
    from keras_dyn.tuning.space import decode, encode

    for key, value in (("dropout", 0.2), ("dropout", (0.1, 1e-05)), ("l2", 1e-4), ("normalization", "batch"),
                       ("residual", True)):
        encoded = encode(key, value)
        assert decode(key, encoded) == value
    assert {type(encode("dropout", v)) for v in (0.0, (0.1, 0.2))} == {str}  # one Choice, one type


# ---------------------------------------------------------------------------------- the models


def build(**changes):
    from keras_dyn.models import build_model

    cfg = config(**changes)
    return cfg, build_model(cfg.model, (2,), 2, seed=0)


def kinds(model) -> dict:
    return {layer.name: type(layer).__name__ for layer in model.layers}


def test_the_plain_model_is_unchanged():
    _, model = build()
    assert list(kinds(model)) == ["inputs", "hidden1", "hidden2", "hidden3", "output"]
    assert not model.losses


def test_dropout_layers_one_rate_or_one_per_layer():
    _, model = build(model__dropout=0.25)
    assert [model.get_layer(f"hidden{i}_dropout").rate for i in (1, 2, 3)] == [0.25] * 3
    _, model = build(model__dropout=[0.1, 0.0, 0.3])
    names = kinds(model)
    assert "hidden2_dropout" not in names  # a zero rate adds no layer
    assert model.get_layer("hidden1_dropout").rate == 0.1 and model.get_layer("hidden3_dropout").rate == 0.3


def test_l2_regularises_every_dense_kernel():
    import keras

    _, model = build(model__l2=1e-3, model__residual=True)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.name for d in dense] == ["hidden1", "hidden2", "hidden3", "hidden3_skip", "output"]
    for d in dense:
        assert isinstance(d.kernel_regularizer, keras.regularizers.L2)
        assert d.kernel_regularizer.l2 == pytest.approx(1e-3)
    assert len(model.losses) == len(dense)
    expected = 1e-3 * sum(float(np.sum(d.kernel.numpy().astype(np.float64) ** 2)) for d in dense)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("norm, cls", [("batch", "BatchNormalization"), ("layer", "LayerNormalization")])
def test_normalisation_between_the_dense_layer_and_its_activation(norm, cls):
    _, model = build(model__normalization=norm)
    names = list(kinds(model))
    assert names[1:4] == ["hidden1", "hidden1_norm", "hidden1_act"]
    assert kinds(model)["hidden2_norm"] == cls and kinds(model)["hidden2_act"] == "Activation"
    assert model.get_layer("hidden1").activation.__name__ == "linear"
    assert model.get_layer("hidden1_act").activation.__name__ == "relu"
    assert model.get_layer("hidden1").bias is not None  # the bias is kept


def test_residual_connections_and_projections():
    from keras_dyn.models import count_parameters

    _, plain = build()
    cfg, model = build(model__residual=True)
    names = kinds(model)
    assert "hidden1_add" not in names  # the first layer, from the input, has no skip
    assert names["hidden2_add"] == "Add" and "hidden2_skip" not in names  # 8 -> 8: the identity
    skip = model.get_layer("hidden3_skip")  # 8 -> 4: a projection without bias
    assert skip.bias is None and tuple(skip.kernel.shape) == (8, 4)
    # the projection is drawn apart, so every other kernel is the plain model's, bit for bit
    for name in ("hidden1", "hidden2", "hidden3", "output"):
        for a, b in zip(plain.get_layer(name).get_weights(), model.get_layer(name).get_weights()):
            assert np.array_equal(a, b)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert count_parameters(cfg.model.hidden, 2, 2, "none", True) == trainable


def test_initial_weights_are_deterministic_with_every_remedy():
    from keras_dyn.initializers import weights_digest

    changes = dict(model__dropout=0.2, model__l2=1e-4, model__normalization="batch", model__residual=True)
    assert weights_digest(build(**changes)[1]) == weights_digest(build(**changes)[1])
    cfg, model = build(**changes)
    from keras_dyn.models import count_parameters

    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert count_parameters(cfg.model.hidden, 2, 2, "batch", True) == trainable


def test_activation_statistics_read_the_post_activation_output():
    import keras

    from keras_dyn.callbacks.activation_statistics import ActivationStatistics, activation_stats
    from keras_dyn.models import activation_layer_names

    cfg, model = build(model__normalization="layer", model__dropout=0.5, model__residual=True)
    names = activation_layer_names(cfg.model)
    assert names == {"hidden1": "hidden1_act", "hidden2": "hidden2_act", "hidden3": "hidden3_act"}
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    stats = ActivationStatistics(x, layer_names=names)
    stats.set_model(model)
    stats.on_train_begin()
    table = stats.results()
    assert table["layers"] == ["hidden1", "hidden2", "hidden3"] and table["hidden2"]["activation"] == "relu"
    act = keras.Model(model.inputs[0], model.get_layer("hidden2_act").output)(x, training=False)
    expected = activation_stats(np.asarray(act), "relu")
    assert table["hidden2"]["mean"][0] == pytest.approx(expected["mean"], rel=1e-5)
    assert table["hidden2"]["dead_frac"][0] == pytest.approx(expected["dead_frac"])


def test_the_setup_block_names_the_remedies():
    from keras_dyn.report.setup import setup_markdown

    cfg = config(model__dropout=0.2, model__normalization="batch", model__residual=True, model__l2=1e-4,
                 training__early_stopping={"patience": 2})
    text = setup_markdown(cfg, [])
    for words in ("dropout 0.2", "L2 0.0001", "batch normalisation", "residual connections",
                  "early stopping on val_loss (patience 2"):
        assert words in text


# ---------------------------------------------------------------------------------- a run


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """Six epochs asked, patience 1 and a min_delta no change reaches: it stops after epoch 2 and
    restores epoch 1. Every remedy is on, with drift and diagnostics every 4 epochs."""
    from keras_dyn.runs.experiment import run_experiment

    raw = copy.deepcopy(BASE)
    raw["model"].update(dropout=0.1, l2=1e-4, normalization="batch", residual=True)
    raw["training"].update(epochs=6, early_stopping={"patience": 1, "min_delta": 10.0})
    raw["log"] = {"every": 4, "probe_size": 32}
    raw["probes"] = {"drift": True, "drift_probe_size": 32}
    cfg = from_dict(raw)
    records = run_experiment(cfg, tmp_path_factory.mktemp("es") / "modellogs", verbose=False)
    return cfg, records[0].results


@pytest.mark.slow  # ~10-25 s of real work: CI's slow suite runs it (the fast suite stays under 5 minutes)
def test_early_stopping_stops_restores_and_records_its_epochs(stopped):
    cfg, results = stopped
    es = results["early_stopping"]
    assert es["stopped_epoch"] == 2 and es["restored_epoch"] == 1 and es["best_epoch"] == 1
    assert es["monitor"] == "val_loss" and es["patience"] == 1 and es["restore_best"] is True
    assert results["run"]["epochs"] == 6 and results["run"]["epochs_done"] == 2
    epochs = results["epochs"]
    assert epochs["epoch"] == [1, 2] and len(epochs["val_loss"]) == len(epochs["test_accuracy"]) == 2
    # the run ends with epoch 1's weights: [final] is that epoch's row
    assert results["final"]["test_accuracy"] == epochs["test_accuracy"][0]
    assert results["final"]["train_loss"] == epochs["train_loss"][0]
    # every diagnostic ends on the epoch training stopped in (every = 4 would skip it otherwise)
    assert results["activations"]["epoch"] == [0, 2]
    assert results["weights"]["epoch"] == [2]
    assert results["gradients"]["epoch"] == [1, 2]
    assert results["drift"]["epoch"] == [1, 2]


@pytest.mark.slow  # shares the module's 6-epoch early-stopping run
def test_the_stopped_and_restored_epochs_are_metrics(stopped):
    from keras_dyn.report.metrics import METRICS

    _, results = stopped
    assert METRICS["stopped_epoch"].scalar(results, {}) == 2.0
    assert METRICS["restored_epoch"].scalar(results, {}) == 1.0
    plain = {k: v for k, v in results.items() if k != "early_stopping"}
    assert METRICS["stopped_epoch"].scalar(plain, {}) == 0.0  # a run without early stopping
    assert METRICS["stopped_epoch"].kind == "epochs"


@pytest.mark.slow  # shares the module's 6-epoch early-stopping run
def test_diagnostics_cover_the_new_layers(stopped):
    _, results = stopped
    grads = results["gradients"]["variables"]
    for name in ("hidden1_norm/gamma", "hidden1_norm/beta", "hidden3_skip/kernel"):
        assert name in grads
        assert np.all(np.isfinite(results["gradients"]["stats"][name]["norm_mean"]))
    assert not any("moving" in v for v in grads)
    weights = results["weights"]
    assert "hidden2_norm/gamma" in weights["variables"]
    assert weights["skipped"] == [f"hidden{i}_norm/moving_{s}" for i in (1, 2, 3) for s in ("mean", "variance")]
    assert results["activations"]["layers"] == ["hidden1", "hidden2", "hidden3"]
    assert results["drift"]["layers"] == ["hidden1", "hidden2", "hidden3"]


def test_early_stop_puts_back_the_best_epochs_weights():
    import keras

    from keras_dyn.callbacks.early_stopping import EarlyStop

    keras.utils.set_random_seed(0)
    cfg, model = build()
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(1).normal(size=(64, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    seen = []
    snapshot = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.get_weights()))
    stop = EarlyStop(monitor="loss", patience=1, min_delta=10.0)
    model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[stop, snapshot])
    table = stop.results()
    assert len(seen) == table["stopped_epoch"] == 2 and table["restored_epoch"] == 1
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), seen[0]))
    assert not all(np.array_equal(a, b) for a, b in zip(seen[1], seen[0]))
    off = EarlyStop(monitor="loss", patience=1, min_delta=10.0, restore_best=False)
    model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[off])
    assert off.results()["restored_epoch"] == 0 and off.results()["stopped_epoch"] == 2


@pytest.mark.parametrize("model", [{"model__normalization": "batch"}, {"model__residual": True}])
def test_per_example_gradients_are_refused_at_check_with_normalization_or_residual(model):
    """The exact per-example form needs a chain of Dense layers: refused before any folder exists."""
    text = error(log__per_example_every=5, **model)
    assert "log.per_example_every" in text and "exact for a chain of Dense layers" in text
    config(log__per_example_every=5)  # a plain MLP is fine
