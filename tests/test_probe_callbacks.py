"""Probe callbacks on a tiny model for 2 epochs; tags read back with TensorBoard's own reader."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from keras_dyn.callbacks.noisy_labels import NoisyLabelGap  # noqa: E402
from keras_dyn.callbacks.representation_drift import RepresentationDrift  # noqa: E402
from keras_dyn.callbacks.shifted_test import ShiftedTestAccuracy  # noqa: E402
from keras_dyn.data.noise import corrupt_labels  # noqa: E402

EPOCHS = 2


def _tiny_images(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n).astype(np.int32)
    x = rng.uniform(0, 0.2, size=(n, 28, 28)).astype(np.float32)
    for i, c in enumerate(y):
        x[i, 4 + 7 * c:10 + 7 * c, 6:22] = 1.0  # class = which band is bright
    return x, y


def _model():
    inputs = keras.Input((28, 28))
    h = keras.layers.Flatten(name="flatten")(inputs)
    h = keras.layers.Dense(16, activation="relu", name="hidden1")(h)
    h = keras.layers.Dense(8, activation="relu", name="hidden2")(h)
    out = keras.layers.Dense(3, activation="softmax", name="output")(h)
    model = keras.Model(inputs, out)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _scalars(folder):
    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    out = {}
    for tag in tags.get("tensors", []):
        out[tag] = [(e.step, float(tf.make_ndarray(e.tensor_proto)))
                    for e in acc.Tensors(tag)]
    for tag in tags.get("scalars", []):
        out[tag] = [(e.step, e.value) for e in acc.Scalars(tag)]
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    keras.utils.set_random_seed(0)
    run_dir = tmp_path_factory.mktemp("run")
    x, y_clean = _tiny_images(120, 0)
    x_val, y_val = _tiny_images(30, 1)
    x_test, y_test = _tiny_images(40, 2)
    y_noisy, corrupted = corrupt_labels(y_clean, 0.4, 3, seed=0)
    callbacks = [
        NoisyLabelGap(x, y_noisy, y_clean, corrupted, x_val, y_val, x_test, y_test,
                      log_dir=run_dir, max_examples=30),
        ShiftedTestAccuracy(x_test, y_test, kinds=("rotation", "blur"), severities=(1, 3),
                            max_examples=25, log_dir=run_dir),
        RepresentationDrift(x[:20], log_dir=run_dir),
    ]
    model = _model()
    model.fit(x, y_noisy, epochs=EPOCHS, batch_size=32, verbose=0, callbacks=callbacks)
    return run_dir, callbacks


def test_every_probe_tag_at_every_epoch(trained):
    run_dir, _ = trained
    scalars = _scalars(run_dir / "train")
    expected = [f"noisy/{n}" for n in ("clean_acc", "memorised_acc", "corrupted_true_acc",
                                       "train_acc", "val_acc", "test_acc", "gap")]
    expected += [f"shift/{k}/s{s}/accuracy" for k in ("rotation", "blur") for s in (1, 3)]
    expected += ["shift/mean_accuracy", "shift/clean_accuracy"]
    expected += [f"drift/{layer}/{m}" for layer in ("hidden1", "hidden2")
                 for m in ("cosine_to_init", "cosine_to_prev", "cka_to_init")]
    for tag in expected:
        assert tag in scalars, f"missing tag {tag}; have {sorted(scalars)}"
        assert [step for step, _ in scalars[tag]] == list(range(1, EPOCHS + 1)), tag  # epochs 1..E
        assert all(np.isfinite(v) for _, v in scalars[tag]), tag


def test_results_are_per_epoch_and_consistent(trained):
    run_dir, (gap, shift, drift) = trained
    g = gap.results()
    assert g["epoch"] == [1, 2]
    for key in ("clean_acc", "memorised_acc", "corrupted_true_acc", "train_acc", "val_acc", "test_acc", "gap"):
        assert len(g[key]) == EPOCHS
    assert g["gap"][-1] == pytest.approx(g["train_acc"][-1] - g["test_acc"][-1])
    # train subset = 30 clean + 30 corrupted examples: train_acc is their mean
    assert g["train_acc"][-1] == pytest.approx((g["clean_acc"][-1] + g["memorised_acc"][-1]) / 2)

    s = shift.results()
    assert s["epoch"] == [1, 2]
    assert set(s["final"]) == {"rotation", "blur"} and len(s["final"]["blur"]) == 2
    assert s["final_mean"] == pytest.approx(np.mean([v for vals in s["final"].values() for v in vals]))

    d = drift.results()
    assert d["layers"] == ["hidden1", "hidden2"]
    for layer in d["layers"]:
        for m in ("cosine_to_init", "cosine_to_prev", "cka_to_init"):
            assert len(d[layer][m]) == EPOCHS
            assert all(-1.0 <= v <= 1.0 + 1e-9 for v in d[layer][m])


def test_results_are_toml_able(trained):
    from keras_dyn import tomlio

    _, callbacks = trained
    for cb in callbacks:
        text = tomlio.dumps({cb.results_key: cb.results()})
        assert tomlio.loads(text)[cb.results_key].keys() == cb.results().keys()


def test_shift_every_k_epochs_still_measures_last(tmp_path):
    keras.utils.set_random_seed(1)
    x, y = _tiny_images(60, 3)
    shift = ShiftedTestAccuracy(x, y, kinds=("contrast",), severities=(2,), every=2, log_dir=None)
    drift = RepresentationDrift(x[:10], every=2)
    _model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[shift, drift])
    assert shift.results()["epoch"] == [2, 3]
    assert drift.results()["epoch"] == [2, 3]
