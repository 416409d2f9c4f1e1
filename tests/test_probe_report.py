"""Probe findings and figures from hand-made results dicts (no training)."""

import numpy as np
import pytest

from keras_dyn.config import from_dict
from keras_dyn.report import probe_findings as pf

E = 6
LAYERS = ["hidden1", "hidden2"]


def _cfg(**probes):
    return from_dict({"data": {"dataset": "mnist", "subset": 100}, "model": {"hidden": [8, 8]},
                      "training": {"epochs": E}, "probes": probes, "report": {"at_epochs": [3, 6]}})


def _run(noise, seed, tmp_path):
    rng = np.random.default_rng(seed + int(noise * 100))
    up = np.linspace(0.05, 0.9, E) + rng.normal(0, 0.01, E)
    true = np.concatenate([np.linspace(0.6, 0.8, 3), np.linspace(0.7, 0.3, E - 3)])
    test = 0.95 - noise * np.linspace(0, 0.5, E) + rng.normal(0, 0.005, E)
    r = {"run": {"seed": seed, "point": {"label_noise": noise}, "dataset": "mnist", "n_train": 100,
                 "n_val": 10, "n_test": 50, "epochs": E, "hidden": [8, 8]},
         "epochs": {"accuracy": list(np.linspace(0.5, 1.0, E)), "test_accuracy": list(test)},
         "run_dir": str(tmp_path / f"n{noise}_s{seed}")}
    if noise > 0:
        train = 0.6 * 0.97 + 0.4 * up
        r["noisy_labels"] = {"epoch": list(range(1, E + 1)), "clean_acc": [0.97] * E,
                             "memorised_acc": list(up), "corrupted_true_acc": list(true),
                             "train_acc": list(train), "val_acc": list(test), "test_acc": list(test),
                             "gap": list(train - test)}
    drift = {"epoch": list(range(1, E + 1)), "layers": LAYERS}
    for i, layer in enumerate(LAYERS):
        base = np.linspace(0.95, 0.6 - noise * 0.3 - 0.1 * i, E) + rng.normal(0, 0.005, E)
        drift[layer] = {"cosine_to_init": list(base), "cosine_to_prev": list(np.full(E, 0.99 - noise * 0.1)),
                        "cka_to_init": list(base + 0.02)}
    r["drift"] = drift
    r["gradients"] = {"first_kernel": "hidden1/kernel", "stats": {"hidden1/kernel": {
        "norm_var": list(np.linspace(0.01, 0.01 + noise, E) + rng.normal(0, 1e-4, E)),
        "norm_cv": list(np.linspace(0.2, 0.2 + noise, E))}}}
    kinds = ["rotation", "blur"]
    final = {k: [0.9 - noise * 0.2 - 0.1 * s for s in (1, 2, 3)] for k in kinds}
    r["shifts"] = {"kinds": kinds, "severities": [1, 2, 3], "epoch": [E], "final": final,
                   "final_clean": float(test[-1]), "final_mean": float(np.mean(list(final.values()))),
                   "clean_accuracy": [float(test[-1])], "mean_accuracy": [0.7]}
    if noise == 0:
        r["noisy_labels"] = {}
    return r


@pytest.fixture
def results(tmp_path):
    return [_run(p, s, tmp_path) for p in (0.0, 0.4) for s in (0, 1, 2)]


def test_label_noise_findings(results, tmp_path):
    md = pf.label_noise_findings(_cfg(), results, tmp_path / "fig", "fig/")
    assert "noise 40 %" in md and "noise 0 %" in md
    assert "memorisation signature" in md and "**seen**" in md
    assert (tmp_path / "fig" / "noisy_label_curves.png").stat().st_size > 1000
    assert "results.toml" in md


def test_drift_findings(results, tmp_path):
    md = pf.drift_findings(_cfg(drift=True), results, tmp_path / "fig", "fig/")
    assert "hidden1" in md and "hidden2" in md and "Early-layer gradient variance" in md
    assert (tmp_path / "fig" / "drift_per_layer.png").exists()
    assert (tmp_path / "fig" / "early_gradient_variance.png").exists()


def test_shift_findings(results, tmp_path):
    md = pf.shift_findings(_cfg(shifts=["rotation", "blur"]), results, tmp_path / "fig", "fig/")
    assert "rotation" in md and "extra drop with noise" in md
    assert "accuracy falls with every step up in severity" in md
    assert (tmp_path / "fig" / "shift_accuracy.png").exists()


def test_nan_strings_from_results_files(results, tmp_path):
    results[3]["drift"]["hidden2"]["cka_to_init"][-1] = "nan"  # how train.py stores NaN
    pf.drift_findings(_cfg(drift=True), results, tmp_path / "fig", "fig/")
