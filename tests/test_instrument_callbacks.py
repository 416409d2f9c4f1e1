"""PerExampleGradients and HessianCurvature inside a real (tiny, float64) fit."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from keras_dyn.callbacks.hessian_curvature import HessianCurvature
from keras_dyn.callbacks.per_example_gradients import DRAW_STREAM, PerExampleGradients
from keras_dyn.errors import KerasDynError


def tiny(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3,), dtype="float64")
    h = keras.layers.Dense(4, activation="tanh", name="hidden1", dtype="float64")(inputs)
    out = keras.layers.Dense(3, activation="softmax", name="output", dtype="float64")(h)
    model = keras.Model(inputs, out)
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(dtype="float64"))
    return model


def data(n=40):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)), rng.integers(0, 3, size=n)


def brute_norms(model, x, y):
    """[B, layers] per-example gradient norms (kernel and bias together), one tape each."""
    loss = keras.losses.SparseCategoricalCrossentropy(dtype="float64")
    rows = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            li = loss(y[i:i + 1], model(x[i:i + 1], training=False))
        g = tape.gradient(li, model.trainable_weights)
        rows.append([np.sqrt(sum(np.sum(np.square(v)) for v in g[k:k + 2])) for k in (0, 2)])
    return np.array(rows)


def test_per_example_norms_match_brute_force_at_the_first_update(tmp_path):
    x, y = data()
    model = tiny()
    before = [w.numpy().copy() for w in model.weights]
    corrupted = np.arange(len(x)) % 4 == 0
    pex = PerExampleGradients(x, y, tmp_path, every_steps=100, batch_size=8, groups=corrupted)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[pex])
    res = pex.results()
    assert res["epoch"] == [1, 2] and res["measurements"] == [1, 0]
    assert res["layers"] == ["hidden1", "output", "total"] and res["batch"] == "drawn"
    # the measurement of update 1 saw the initial weights and the drawn batch
    idx = np.sort(np.random.default_rng([0, DRAW_STREAM]).choice(len(x), 8, replace=False))
    for w, b in zip(model.weights, before):
        w.assign(b)
    norms = brute_norms(model, x[idx], y[idx])
    total = np.sqrt(np.sum(norms ** 2, axis=1))
    for j, name in enumerate(("hidden1", "output")):
        assert res["norm"][name]["mean"][0] == pytest.approx(norms[:, j].mean(), rel=1e-5)
        assert res["norm"][name]["q50"][0] == pytest.approx(np.median(norms[:, j]), rel=1e-5)
    assert res["norm"]["total"]["sd"][0] == pytest.approx(total.std(), rel=1e-5)
    assert np.isnan(res["norm"]["total"]["mean"][1])  # epoch 2 had no measurement
    assert res["group_count"]["corrupted"][0] == int(corrupted[idx].sum())
    assert res["group_count"]["clean"][0] + res["group_count"]["corrupted"][0] == 8
    assert res["group_norm"]["corrupted"]["total"]["mean"][0] == pytest.approx(
        total[corrupted[idx]].mean(), rel=1e-5)
    assert np.isfinite(res["noise_scale"]["total"][0]) or res["grad_sq_norm"]["total"][0] <= 0
    assert all(np.isfinite(res["gsnr"][n]["median"][0]) for n in res["layers"])
    assert (tmp_path / "train").is_dir()


def test_per_example_every_step_and_applied_batches():
    from keras_dyn.runs.batches import epoch_orders, fixed_order_dataset, steps_per_epoch

    x, y = data()
    model = tiny()
    orders = epoch_orders(len(x), 2, seed=0)
    pex = PerExampleGradients(x, y, every_steps=2, batch_size=8, orders=orders)
    model.fit(fixed_order_dataset(x, y, orders, 8), epochs=2, shuffle=False, steps_per_epoch=steps_per_epoch(len(x), 8),
              verbose=0, callbacks=[pex])
    res = pex.results()
    assert res["batch"] == "applied" and res["measurements"] == [3, 2]  # updates 1, 3, 5 | 7, 9
    assert all(np.isfinite(v) for v in res["trace_cov"]["total"])


def test_per_example_refuses_a_normalisation_layer():
    inputs = keras.Input((3,))
    h = keras.layers.LayerNormalization()(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = data()
    with pytest.raises(KerasDynError, match="LayerNormalization"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[PerExampleGradients(x, y, batch_size=8)])


def test_curvature_callback_matches_the_full_hessian(tmp_path):
    x, y = data()
    model = tiny()
    curv = HessianCurvature(x[:16], y[:16], tmp_path, every=2, iterations=500, samples=200, tol=1e-12)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[curv])
    res = curv.results()
    assert res["epoch"] == [2, 3] and res["batch"] == 16
    loss = keras.losses.SparseCategoricalCrossentropy(dtype="float64")
    params = model.trainable_weights
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            value = loss(y[:16], model(x[:16], training=False))
        flat = tf.concat([tf.reshape(g, [-1]) for g in inner.gradient(value, params)], 0)
    blocks = outer.jacobian(flat, params, experimental_use_pfor=False)
    hessian = np.concatenate([b.numpy().reshape(len(flat), -1) for b in blocks], axis=1)
    eig = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    assert res["sharpness"][-1] == pytest.approx(eig[np.argmax(np.abs(eig))], rel=1e-3)
    assert abs(res["hessian_trace"][-1] - np.trace(hessian)) < 5 * res["hessian_trace_stderr"][-1]


@pytest.mark.slow
def test_a_run_records_both_instruments(tmp_path):
    """A tiny run end to end: the tables in results.toml, the tags in TensorBoard, the metrics."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from keras_dyn.config import load_config
    from keras_dyn.report import metrics as M
    from keras_dyn.runs.experiment import run_experiment
    from keras_dyn.runs.files import read_toml
    from tests.conftest import TINY_TOML

    text = TINY_TOML.replace("seeds = [0, 1]", "seeds = [0]").replace("n_samples = 256", "n_samples = 128\n"
                                                                      "label_noise = 0.25")
    text += "\n[log]\ngradients = false\nactivations = false\nweights = false\nper_example_every = 2\ncurvature_every = 1\ncurvature_batch = 32\ncurvature_samples = 3\n"
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    run_experiment(load_config(path), tmp_path / "modellogs", verbose=False)
    (results_file,) = (tmp_path / "modellogs").rglob("results.toml")
    r = read_toml(results_file)
    assert r["per_example"]["epoch"] == [1, 2] and r["curvature"]["epoch"] == [1, 2]
    assert r["per_example"]["groups"] == ["clean", "corrupted"]
    for name in ("grad_noise_scale", "gsnr", "per_example_grad_norm", "sharpness", "hessian_trace",
                 "per_example_grad_norm_clean"):
        assert np.isfinite(M.value(r, name)), name
    acc = EventAccumulator(str(results_file.parent / "train"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = acc.Tags()["tensors"]
    assert {"curvature/sharpness", "noise_scale/total", "per_example/total/grad_norm",
            "per_example/corrupted/grad_norm_mean"} <= set(tags)
