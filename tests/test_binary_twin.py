"""Sigmoid output + binary cross-entropy, the NumPy twin, step losses, decision surfaces, the
dataset grid key and the metrics and sections built on them (exp15)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dyn.runs.batches import batch_indices, epoch_orders, fixed_order_dataset, steps_per_epoch
from keras_dyn.callbacks.numpy_twin import NumpyTwin
from keras_dyn.callbacks.step_loss import BatchLoss
from keras_dyn.config import from_dict
from keras_dyn.errors import ConfigError
from keras_dyn.models import build_model, class_probabilities
from keras_dyn.numpy_mlp import SGD, Adam, NumpyMLP
from keras_dyn.report import metrics as M

BASE = {
    "experiment": {"name": "bt"},
    "data": {"dataset": "circle", "n_samples": 240, "validation_split": 0.0},
    "model": {"hidden": [8, 8], "initializer": "he", "output": "sigmoid"},
    "training": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 16, "epochs": 4, "seeds": [0]},
    "log": {"gradients": True, "activations": False, "weights": False, "step_loss": True},
    "probes": {"numpy_twin": True, "decision_grid": 12},
}


def _raw(**sections):
    raw = {k: dict(v) for k, v in BASE.items()}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return raw


# ---------------------------------------------------------------- config


@pytest.mark.parametrize("sections, key", [
    ({"model": {"output": "tanh"}}, "model.output"),
    ({"data": {"dataset": "mnist"}, "probes": {"numpy_twin": False, "decision_grid": 0}}, "model.output"),
    ({"data": {"dataset": "mnist"}, "model": {"output": "softmax"}, "probes": {"numpy_twin": False}},
     "probes.decision_grid"),
    ({"training": {"optimizer": "rmsprop"}}, "probes.numpy_twin"),
    ({"training": {"scheduler": "cosine"}}, "probes.numpy_twin"),
    ({"model": {"activation": "gelu"}}, "probes.numpy_twin"),
    ({"probes": {"numpy_twin": False, "numpy_twin_seeds": [0]}}, "probes.numpy_twin_seeds"),
    ({"probes": {"decision_grid": 1}}, "probes.decision_grid"),
    ({"probes": {"decision_grid": 500}}, "probes.decision_grid"),
])
def test_bad_combinations_are_one_line_config_errors(sections, key):
    with pytest.raises(ConfigError) as err:
        from_dict(_raw(**sections), source="bt.toml")
    assert key in str(err.value) and "\n" not in str(err.value)


def test_sigmoid_on_an_image_set_in_a_dataset_grid_is_refused():
    raw = _raw(grid={"dataset": ["circle", "mnist"]}, probes={"numpy_twin": False, "decision_grid": 0})
    with pytest.raises(ConfigError, match="model.output.*mnist.*10 classes"):
        from_dict(raw, source="bt.toml")


def test_dataset_grid_key_gives_distinct_run_names():
    cfg = from_dict(_raw(grid={"dataset": ["circle", "nested_rings"], "layers": [1, 2]}), source="bt.toml")
    names = [cfg.run_name(p, 0) for p in cfg.points()]
    assert len(set(names)) == 4 and any("nested_rings" in n for n in names)
    assert {cfg.at_point(p).data.dataset for p in cfg.points()} == {"circle", "nested_rings"}


# ---------------------------------------------------------------- model and predictions


def test_sigmoid_model_has_one_unit_and_class_probabilities_are_two_columns():
    cfg = from_dict(_raw(), source="bt.toml")
    model = build_model(cfg.model, (2,), 2)
    assert model.output_shape == (None, 1)
    assert model.get_layer("output").activation.__name__ == "sigmoid"
    p = np.array([[0.2], [0.9]])
    np.testing.assert_allclose(class_probabilities(p), [[0.8, 0.2], [0.1, 0.9]])
    soft = np.array([[0.3, 0.7]])
    assert class_probabilities(soft) is not None and class_probabilities(soft).shape == (1, 2)
    with pytest.raises(ValueError):
        build_model(cfg.model, (2,), 10)


# ---------------------------------------------------------------- the NumPy MLP


def _keras_sigmoid_mlp(hidden=(6, 5), seed=1):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((2,))
    x = inputs
    for i, u in enumerate(hidden, 1):
        x = keras.layers.Dense(u, activation="relu", name=f"hidden{i}")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    return keras.Model(inputs, out)


def test_bce_gradients_match_gradient_tape_in_float64():
    old = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        model = _keras_sigmoid_mlp()
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(20, 2)) * 3, rng.integers(0, 2, 20)
        @tf.function  # as in fit: in a graph Keras takes the BCE from the sigmoid's logits
        def loss_and_grads(x, y):
            with tf.GradientTape() as tape:
                loss = keras.losses.BinaryCrossentropy()(y, model(x))
            return loss, tape.gradient(loss, model.trainable_weights)

        loss, tape_grads = loss_and_grads(tf.constant(x), tf.constant(y[:, None].astype("float64")))
        tape_grads = [g.numpy() for g in tape_grads]
        net = NumpyMLP.from_keras(model)
        assert net.output == "sigmoid"
        np_loss, grads = net.loss_and_gradients(x, y)
        # Keras rounds part of the loss's reduction through float32 even in float64 mode (measured
        # ~3e-8 relative), so the check is to 1e-6: a wrong formula is off by far more
        assert abs(np_loss - float(loss)) < 1e-6 * abs(float(loss))
        for mine, theirs in zip([g for pair in grads for g in pair], tape_grads):
            np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-9)
    finally:
        keras.config.set_floatx(old)


def test_bce_from_logits_is_finite_for_confident_outputs():
    net = NumpyMLP([(np.zeros((2, 1)), np.array([40.0]))], [], output="sigmoid")
    x = np.zeros((3, 2))
    assert net.loss(x, [0, 0, 0]) == pytest.approx(40.0)
    assert net.loss(x, [1, 1, 1]) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_numpy_optimisers_follow_keras_for_many_steps_in_float32(name):
    model = _keras_sigmoid_mlp(seed=3)
    opt = keras.optimizers.SGD(0.05) if name == "sgd" else keras.optimizers.Adam(0.01)
    net = NumpyMLP.from_keras(model, dtype=np.float32)
    mine = SGD(0.05) if name == "sgd" else Adam(0.01)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2)).astype("float32")
    y = (np.hypot(x[:, 0], x[:, 1]) > 1).astype("int32")
    lossfn = keras.losses.BinaryCrossentropy()
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = lossfn(y[:, None].astype("float32"), model(x))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))
        _, grads = net.loss_and_gradients(x, y)
        mine.step(net, grads)
    for w, theirs in zip(model.trainable_weights, [a for pair in net.weights for a in pair]):
        assert theirs.dtype == np.float32
        np.testing.assert_allclose(theirs, w.numpy(), rtol=1e-4, atol=1e-6)


def test_from_keras_refuses_a_linear_output():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="output")(inputs))
    with pytest.raises(ValueError, match="softmax or sigmoid"):
        NumpyMLP.from_keras(model)


# ---------------------------------------------------------------- batches and the twin


def test_fixed_order_dataset_yields_the_planned_batches_across_epochs():
    x = np.arange(10, dtype="float32")[:, None]
    y = np.arange(10, dtype="int32")
    orders = epoch_orders(10, 3, seed=5)
    batches = list(fixed_order_dataset(x, y, orders, 4).as_numpy_iterator())
    assert len(batches) == 3 * steps_per_epoch(10, 4) == 9
    for e in range(3):
        for k in range(3):
            np.testing.assert_array_equal(batches[3 * e + k][1], batch_indices(orders, e, k, 4))
    assert not np.array_equal(orders[0], orders[1])


def test_batch_loss_recovers_each_batch_from_the_running_mean():
    losses, sizes = [0.9, 0.5, 0.7, 0.2], [4, 4, 4, 2]
    tracker, total, count, got = BatchLoss(), 0.0, 0, []
    for loss, n in zip(losses, sizes):
        total, count = total + loss * n, count + n
        got.append(tracker.update(total / count, n))
    np.testing.assert_allclose(got, losses, rtol=1e-12)


def _fit_with_twin(orders_for_twin=None, epochs=4):
    model = _keras_sigmoid_mlp(hidden=(8, 8), seed=2)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 2)).astype("float32")
    y = (np.hypot(x[:, 0], x[:, 1]) > 1.1).astype("int32")
    orders = epoch_orders(len(x), epochs, seed=0)
    twin = NumpyTwin(x, y, orders if orders_for_twin is None else orders_for_twin, 16)
    model.fit(fixed_order_dataset(x, y, orders, 16), epochs=epochs,
              steps_per_epoch=steps_per_epoch(len(x), 16), shuffle=False, verbose=0, callbacks=[twin])
    return twin.results()


def test_twin_agrees_with_keras_over_a_whole_tiny_run():
    r = _fit_with_twin()
    assert r["epoch"] == [1, 2, 3, 4] and r["optimizer"] == "adam" and r["dtype"] == "float32"
    assert max(r["loss_rel_diff"]) < 1e-4
    assert max(r["weight_rel_diff"]) < 1e-4
    assert max(r["step_loss_rel_diff_max"]) < 1e-4
    assert len(r["keras_step_loss"][0]) == steps_per_epoch(120, 16)
    assert r["keras_loss"][-1] < r["keras_loss"][0]  # it trained


def test_twin_fed_other_batches_disagrees():
    r = _fit_with_twin(orders_for_twin=epoch_orders(120, 4, seed=99))
    assert max(r["step_loss_rel_diff_max"]) > 1e-3
    assert max(r["weight_rel_diff"]) > 1e-3


def test_twin_refuses_momentum():
    model = _keras_sigmoid_mlp()
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "binary_crossentropy")
    x = np.zeros((8, 2), "float32")
    y = np.zeros(8, "int32")
    orders = epoch_orders(8, 1, 0)
    with pytest.raises(Exception, match="SGD \\(no momentum\\) and Adam"):
        model.fit(fixed_order_dataset(x, y, orders, 4), epochs=1, steps_per_epoch=2, shuffle=False, verbose=0,
                  callbacks=[NumpyTwin(x, y, orders, 4)])


# ---------------------------------------------------------------- a whole run through keras_dyn


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from keras_dyn.runs.experiment import run_experiment

    raw = _raw(grid={"dataset": ["circle", "nested_rings"], "layers": [1, 2], "units": [8]},
               probes={"numpy_twin": True, "numpy_twin_seeds": [0], "decision_grid": 12},
               training={"seeds": [0, 1], "epochs": 3})
    cfg = from_dict(raw, source="bt.toml")
    logdir = tmp_path_factory.mktemp("logs")
    records = run_experiment(cfg, logdir=logdir, verbose=False)
    return cfg, [r.results for r in records]


@pytest.mark.slow  # the shared run of this module trains for ~20 s: `pytest -m slow`, which CI runs
def test_run_records_sigmoid_accuracy_twin_steps_and_surface(finished):
    cfg, results = finished
    assert len(results) == 8
    for r in results:
        assert 0.0 <= r["final"]["test_accuracy"] <= 1.0
        assert r["run"]["params"] in (8 * 2 + 8 + 8 + 1, 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1)
        steps = r["step_loss"]["loss"]
        assert len(steps) == 3 and len(steps[0]) == r["run"]["steps_per_epoch"]
        surf = r["decision_surface"]
        assert surf["epoch"] == [3] and len(surf["p"][0]) == 144
        assert all(0.0 <= v <= 1.0 for v in surf["p"][0])
        x0, x1, y0, y1 = surf["extent"]
        assert all(x0 <= px <= x1 and y0 <= py <= y1 for px, py in surf["points"])
        if r["run"]["seed"] == 0:
            t = r["numpy_twin"]
            assert max(t["loss_rel_diff"]) < 1e-3
            # the Keras step losses the twin recovered are those StepLoss recorded
            np.testing.assert_allclose(t["keras_step_loss"], steps, rtol=1e-6)
        else:
            assert "numpy_twin" not in r


@pytest.mark.slow  # the shared run of this module trains for ~20 s: `pytest -m slow`, which CI runs
def test_sigmoid_test_accuracy_matches_the_last_epochs_curve(finished):
    _, results = finished
    for r in results:
        assert r["final"]["test_accuracy"] == r["epochs"]["test_accuracy"][-1]
        assert r["epochs"]["test_loss"][-1] > 0


@pytest.mark.slow  # the shared run of this module trains for ~20 s: `pytest -m slow`, which CI runs
def test_sections_render_from_results(finished, tmp_path):
    from keras_dyn.report.findings import FindingsContext
    from keras_dyn.report.sections import SECTIONS

    cfg, results = finished
    ctx = FindingsContext(cfg, results, tmp_path / "fig", "fig/")
    text = SECTIONS["numpy_twin"].render()(ctx, tolerance=1e-3, by=["dataset", "layers"])
    assert "Agreement: within tolerance" in text and "4 run(s)" in text
    strict = SECTIONS["numpy_twin"].render()(ctx, tolerance=1e-30, by=None)
    assert "Agreement: tolerance exceeded" in strict
    text = SECTIONS["decision_boundaries"].render()(ctx, rows="dataset", cols="layers")
    assert "4 panel(s)" in text
    text = SECTIONS["step_loss_curves"].render()(ctx, rows="dataset", by=["layers"])
    assert "step_loss_dataset.png" in text
    assert {p.name for p in (tmp_path / "fig").iterdir()} >= {
        "decision_boundaries_dataset_layers.png", "step_loss_dataset.png", "numpy_twin_curves.png"}


@pytest.mark.slow  # the shared run of this module trains for ~20 s: `pytest -m slow`, which CI runs
def test_new_metrics_read_the_run(finished):
    _, results = finished
    r = next(r for r in results if r["run"]["seed"] == 0)
    _, norms = M.series(r, "grad_global_norm")
    steps = r["gradients"]["step_norms"]
    first = [math.sqrt(sum(steps[v][0][k] ** 2 for v in steps)) for k in range(len(steps["output/kernel"][0]))]
    assert norms[0] == pytest.approx(sum(first) / len(first), rel=1e-9)
    assert M.value(r, "grad_global_norm_cv", at=M.parse_reading("mean")) > 0
    assert 0 < M.value(r, "loss_volatility", at=M.Reading("last")) < 1
    assert M.value(r, "twin_max_loss_rel_diff") < 1e-3
    assert M.value(r, "twin_lockstep_epochs") == 3.0
    other = next(r for r in results if r["run"]["seed"] == 1)
    with pytest.raises(M.MetricError, match="numpy_twin"):
        M.value(other, "twin_max_loss_rel_diff")


# ---------------------------------------------------------------- metrics on hand-made results


def _steps_result(rows):
    return {"run": {"status": "complete"}, "step_loss": {"epoch": list(range(1, len(rows) + 1)), "loss": rows}}


def test_loss_volatility_is_zero_for_a_smooth_loss_and_grows_with_oscillation():
    smooth = _steps_result([[1.0] * 40, [1.0] * 40])
    assert M.series(smooth, "loss_volatility")[1] == [0.0, 0.0]
    wobble = _steps_result([[1.0 + (0.1 if i % 2 else -0.1) for i in range(40)]] * 2)
    more = _steps_result([[1.0 + (0.3 if i % 2 else -0.3) for i in range(40)]] * 2)
    v1, v3 = M.series(wobble, "loss_volatility")[1][0], M.series(more, "loss_volatility")[1][0]
    assert 0.08 < v1 < 0.11 and v3 == pytest.approx(3 * v1, rel=1e-2)


def test_mean_reading_averages_every_epoch_and_is_nan_for_a_diverged_run():
    r = {"run": {"status": "complete"}, "epochs": {"epoch": [1, 2, 3], "test_accuracy": [0.5, 0.6, 0.7]}}
    assert M.value(r, "test_accuracy", at=M.parse_reading("mean")) == pytest.approx(0.6)
    r["run"]["status"] = "diverged"
    assert math.isnan(M.value(r, "test_accuracy", at=M.parse_reading("mean")))


def test_lockstep_counts_epochs_before_the_weights_part():
    r = {"run": {}, "numpy_twin": {"epoch": [1, 2, 3, 4], "weight_rel_diff": [1e-7, 1e-6, 1e-2, 1e-8],
                                   "loss_rel_diff": [0, 0, 0.1, 0]}}
    assert M.value(r, "twin_lockstep_epochs") == 2.0
    assert M.value(r, "twin_max_loss_rel_diff") == 0.1


def test_lab_refuses_twin_and_step_loss_metrics_when_off():
    raw = _raw(probes={"numpy_twin": False}, log={"step_loss": False},
               grid={"layers": [1, 2]},
               lab={"title": "t", "question": "q", "hypotheses": [
                   {"id": "H1", "statement": "s", "metric": "loss_volatility", "expect": "greater",
                    "a": {"layers": 2}, "b": {"layers": 1}}]})
    with pytest.raises(ConfigError, match="log.step_loss = true"):
        from_dict(raw, source="bt.toml")
    raw["log"]["step_loss"] = True
    raw["lab"]["findings"] = [{"section": "numpy_twin"}]
    with pytest.raises(ConfigError, match="probes.numpy_twin = true"):
        from_dict(raw, source="bt.toml")


@pytest.mark.slow  # the shared run of this module trains for ~20 s: `pytest -m slow`, which CI runs
def test_sweep_draws_metrics_against_depth_and_refuses_a_non_numeric_key(finished, tmp_path):
    from keras_dyn.report.findings import FindingsContext
    from keras_dyn.report.sections import SECTIONS

    cfg, results = finished
    ctx = FindingsContext(cfg, results, tmp_path / "fig", "fig/")
    text = SECTIONS["sweep"].render()(ctx, x="layers", metrics=["test_accuracy", "grad_global_norm"],
                                      at=M.parse_reading("mean"), by=["dataset"], title="Against depth")
    assert text.startswith("### Against depth") and "test_accuracy_grad_global_norm_vs_layers.png" in text
    assert (tmp_path / "fig" / "test_accuracy_grad_global_norm_vs_layers.png").stat().st_size > 1000
    raw = _raw(grid={"dataset": ["circle", "nested_rings"], "layers": [1, 2], "units": [8]},
               lab={"title": "t", "question": "q", "findings": [{"section": "sweep", "x": "dataset"}]})
    with pytest.raises(ConfigError, match=r"lab\.findings\[0\].*must be a grid key with numbers"):
        from_dict(raw, source="bt.toml")
