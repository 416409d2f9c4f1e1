"""DiagnosticCallback: one epoch convention (1-based, every = k -> k, 2k, ..., last), writers
opened and closed, results tables; every diagnostic on it follows the same numbering."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_dyn import tomlio

from keras_dyn.callbacks import (ActivationStatistics, DiagnosticCallback, EpochRecorder,
                                 GradientStatistics, NoisyLabelGap, Record, RepresentationDrift,
                                 ShiftedTestAccuracy, WeightStatistics)
from keras_dyn.callbacks._summaries import histogram_of
from keras_dyn.recording import instrument
from keras_dyn.runs.fit import final_metrics as _final, toml_safe as _toml_safe

from _dyn_helpers import read_events, tiny_data, tiny_model


class KernelNorm(DiagnosticCallback):
    """A diagnostic in a few lines: the first kernel's norm, per epoch."""

    results_key = "kernel_norm"

    def setup(self):
        self.calls = []
        return {"layer": "hidden1"}

    def record(self, epoch, logs):
        self.calls.append(epoch)
        n = float(np.linalg.norm(self.model.get_layer("hidden1").kernel.numpy()))
        return Record({"norm": n, "nested": {"twice": 2 * n}}, scalars={"kn/hidden1": n},
                      histograms={"kn_hist/hidden1": self.model.get_layer("hidden1").kernel.numpy()})


def _fit(callbacks, epochs, model=None, lr=0.05):
    model = model or tiny_model()
    model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = tiny_data(32)
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks)
    return model


@pytest.mark.parametrize("every, epochs, want", [(1, 3, [1, 2, 3]), (2, 5, [2, 4, 5]),
                                                 (3, 6, [3, 6]), (4, 2, [2])])
def test_every_k_records_k_2k_and_the_last_epoch(tmp_path, every, epochs, want):
    cb = KernelNorm(tmp_path, every=every)
    _fit([cb], epochs)
    res = cb.results()
    assert res["epoch"] == want and cb.calls == want
    assert len(res["norm"]) == len(want) and res["layer"] == "hidden1"
    assert res["nested"]["twice"] == pytest.approx([2 * v for v in res["norm"]])
    events, _ = read_events(tmp_path / "train")
    assert [s for s, _ in events["kn/hidden1"]] == want  # the same numbers in TensorBoard
    assert [s for s, _ in events["kn_hist/hidden1"]] == want
    assert [float(v) for _, v in events["kn/hidden1"]] == pytest.approx(res["norm"], rel=1e-6)


def test_record_start_adds_epoch_zero_before_any_step(tmp_path):
    model = tiny_model()
    before = float(np.linalg.norm(model.get_layer("hidden1").kernel.numpy()))
    cb = KernelNorm(tmp_path, every=2)
    cb.record_start = True
    _fit([cb], 3, model=model)
    assert cb.results()["epoch"] == [0, 2, 3]
    assert cb.results()["norm"][0] == pytest.approx(before)
    events, _ = read_events(tmp_path / "train")
    assert [s for s, _ in events["kn/hidden1"]] == [0, 2, 3]


def test_a_run_stopped_early_records_its_last_epoch():
    class StopAfterTwo(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    cb = KernelNorm(None, every=5)
    _fit([StopAfterTwo(), cb], 10)
    assert cb.results()["epoch"] == [2]  # not due (every 5), but training ends there


def test_writer_opened_at_train_begin_and_closed_at_train_end(tmp_path):
    cb = KernelNorm(tmp_path / "run", every=1)
    assert cb.results() == {}  # nothing before training
    _fit([cb], 1)
    assert (tmp_path / "run" / "train").is_dir()
    assert cb._writers == {}  # closed
    silent = KernelNorm(None)
    _fit([silent], 1)
    assert silent.results()["epoch"] == [1] and silent.writer() is None
    # a second fit starts a fresh table
    _fit([cb], 2)
    assert cb.results()["epoch"] == [1, 2]


def test_every_diagnostic_numbers_epochs_the_same_way(tmp_path):
    """every = 2 over 3 epochs: the k-epoch ones record 2 and 3 (activations also 0), the
    every-epoch ones 1, 2, 3; TensorBoard's epoch-level steps are the same numbers."""
    rng = np.random.default_rng(0)
    x = rng.random((48, 28, 28)).astype("float32")
    y = rng.integers(0, 3, 48).astype("int32")
    corrupted = np.zeros(48, bool)
    corrupted[:10] = True
    model = instrument(tiny_model(input_shape=(28, 28)))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    cbs = {
        "epochs": EpochRecorder(x[:16], y[:16], log_dir=tmp_path),
        "gradients": GradientStatistics(tmp_path),
        "activations": ActivationStatistics(x[:16], tmp_path, every=2),
        "weights": WeightStatistics(tmp_path, every=2),
        "noisy_labels": NoisyLabelGap(x, y, y, corrupted, x[:8], y[:8], x[:16], y[:16], log_dir=tmp_path),
        "shifts": ShiftedTestAccuracy(x[:16], y[:16], kinds=("blur",), severities=(1,), every=2,
                                      log_dir=tmp_path),
        "drift": RepresentationDrift(x[:16], every=2, log_dir=tmp_path),
    }
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_data=(x[:8], y[:8]),
              callbacks=list(cbs.values()))
    want = {"epochs": [1, 2, 3], "gradients": [1, 2, 3], "activations": [0, 2, 3],
            "weights": [2, 3], "noisy_labels": [1, 2, 3], "shifts": [2, 3], "drift": [2, 3]}
    for key, cb in cbs.items():
        assert cb.results_key == key
        assert cb.results()["epoch"] == want[key], key
    events, _ = read_events(tmp_path / "train")
    tags = {"epochs": "epoch_loss", "gradients": "grad_epoch/attenuation",
            "activations": "act/hidden1/mean", "weights": "update_ratio/hidden1/kernel",
            "noisy_labels": "noisy/train_acc", "shifts": "shift/clean_accuracy",
            "drift": "drift/hidden1/cka_to_init"}
    for key, tag in tags.items():
        assert [s for s, _ in events[tag]] == want[key], (key, tag)
    assert [s for s, _ in events["grad/hidden1/kernel/norm"]] == list(range(1, 10))  # 3 x 3 updates
    # the whole set is TOML-able and reads back
    text = tomlio.dumps(_toml_safe({k: cb.results() for k, cb in cbs.items()}))
    assert tomlio.loads(text)["activations"]["epoch"] == [0, 2, 3]


def test_histograms_bin_finite_values_only():
    h = histogram_of([1.0, 2.0, np.nan, np.inf, -np.inf, 3.0], bins=4)
    assert h[:, 2].sum() == 3 and h[0, 0] == 1.0 and h[-1, 1] == 3.0
    assert histogram_of([np.nan, np.inf]) is None
    assert histogram_of([]).shape == (30, 3)


def test_results_keep_nan_and_inf_as_toml_numbers():
    results = {"a": [1.0, float("nan"), float("inf"), -float("inf")], "b": [1, 2.5, np.float32(3)],
               "c": np.array([1, 2]), "d": {"x": np.float64("nan"), "skip": None},
               "e": [np.bool_(True)], "n": np.int64(4)}
    back = tomlio.loads(tomlio.dumps(_toml_safe(results)))
    assert back["a"][0] == 1.0 and np.isnan(back["a"][1]) and back["a"][2:] == [np.inf, -np.inf]
    assert back["b"] == [1.0, 2.5, 3.0] and all(isinstance(v, float) for v in back["b"])
    assert back["c"] == [1, 2] and np.isnan(back["d"]["x"]) and "skip" not in back["d"]
    assert back["e"] == [True] and back["n"] == 4


def test_final_skips_nan_validation_epochs_and_reports_rates():
    epochs = {"epoch": [1, 2, 3], "val_accuracy": [0.5, float("nan"), 0.4],
              "test_accuracy": [0.6, 0.1, 0.2], "test_loss": [1.0, float("nan"), 2.0],
              "train_accuracy": [0.5, 0.5, 0.7], "train_accuracy_running": [0.4, 0.5, 0.6], "seconds": [1.0, 2.0, 1.0], "cpu_seconds": [2.0, 3.0, 1.0]}
    final = _final(epochs, steps=40)
    assert final["best_val_epoch"] == 1 and final["test_accuracy_at_best_val"] == 0.6
    assert final["train_seconds"] == 4.0 and final["train_cpu_seconds"] == 6.0
    assert final["steps"] == 40 and final["steps_per_second"] == 10.0
    assert final["train_accuracy"] == 0.7 and final["train_accuracy_running"] == 0.6  # the last epoch's
    assert "best_val_epoch" not in _final({"val_accuracy": [float("nan")]})
