"""Epoch-end training metrics (issue 21): ``train_loss``/``train_accuracy`` are the end-of-epoch
weights evaluated on a fixed training subset drawn from the run's seed; Keras's running means
stay as ``train_*_running``; reports read the former and refuse an older file without it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_dyn.callbacks.epoch_recorder import EpochRecorder
from keras_dyn.report import metrics as M
from keras_dyn.report.metrics.base import MetricError
from keras_dyn.runs.batches import train_eval_indices


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int32")
    return x, y


def test_train_eval_indices_are_a_fixed_seeded_subset():
    a = train_eval_indices(1000, 100, seed=3)
    assert len(a) == len(set(a.tolist())) == 100 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(a, train_eval_indices(1000, 100, seed=3))
    assert not np.array_equal(a, train_eval_indices(1000, 100, seed=4))
    np.testing.assert_array_equal(train_eval_indices(50, 0, seed=3), np.arange(50))
    np.testing.assert_array_equal(train_eval_indices(50, 80, seed=3), np.arange(50))


def test_epoch_end_accuracy_is_model_evaluate_on_the_subset():
    keras.utils.set_random_seed(0)
    x, y = _data()
    sub = train_eval_indices(len(x), 200, seed=0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy", metrics=["accuracy"])
    rec = EpochRecorder(x_train_eval=x[sub], y_train_eval=y[sub])
    model.fit(x, y, batch_size=16, epochs=2, shuffle=True, verbose=0, callbacks=[rec])
    out = rec.results()
    loss, acc = model.evaluate(x[sub], y[sub], batch_size=1024, verbose=0)
    assert out["train_accuracy"][-1] == pytest.approx(acc, abs=1e-6)  # Keras counts in float32
    assert out["train_loss"][-1] == pytest.approx(loss, rel=1e-4)
    assert len(out["train_accuracy_running"]) == 2 and "accuracy" not in out
    # the running mean over the epoch's batches is not the end-of-epoch number
    assert out["train_accuracy_running"][0] != pytest.approx(out["train_accuracy"][0], abs=1e-6)
    assert out["train_loss_running"][0] != pytest.approx(out["train_loss"][0], rel=1e-4)


def _result(epochs):
    return {"run": {"hidden": [8], "status": "complete"}, "epochs": {"epoch": [1, 2], **epochs}}


def test_metrics_read_the_epoch_end_numbers_and_the_running_means():
    r = _result({"train_accuracy": [0.8, 0.9], "train_accuracy_running": [0.7, 0.85],
                 "test_accuracy": [0.75, 0.8]})
    assert M.value(r, "train_accuracy", {}) == pytest.approx(0.9)
    assert M.value(r, "train_accuracy_running", {}) == pytest.approx(0.85)
    assert M.value(r, "train_test_gap", {}) == pytest.approx(0.1)


def test_an_older_results_file_gives_its_running_mean_by_name_only():
    old = _result({"accuracy": [0.7, 0.85], "loss": [0.6, 0.4], "test_accuracy": [0.75, 0.8]})
    assert M.value(old, "train_accuracy_running", {}) == pytest.approx(0.85)
    assert M.value(old, "train_loss_running", {}) == pytest.approx(0.4)
    for name in ("train_accuracy", "train_loss", "train_test_gap"):
        with pytest.raises(MetricError, match="end-of-epoch"):
            M.value(old, name, {})


def test_progress_shows_the_epoch_end_numbers():
    import io

    from keras_dyn.callbacks.progress import Progress

    p = Progress(1, 1, "r", stream=io.StringIO())
    p.params = {"epochs": 2}
    p.on_train_begin()
    p.on_epoch_begin(0)
    p.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.4, "train_loss": 0.3, "train_accuracy": 0.9})
    p.on_epoch_begin(1)
    p.on_epoch_end(1, {"loss": 0.5, "accuracy": 0.4})  # no subset: the running means
    first, second = p.stream.getvalue().splitlines()
    assert "loss 0.3000  acc 0.9000" in first and "loss 0.5000  acc 0.4000" in second
