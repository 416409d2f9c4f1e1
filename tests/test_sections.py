"""Findings sections on small synthetic results dicts (no training), and the MNIST labs' fixes.

Every results dict here is built the way ``results.toml`` holds it (tables with an ``epoch``
list); the numbers are chosen so that each assertion could fail: a side that differs beyond seed
noise, one that does not, a variance and a cv that point opposite ways, a model that keeps the
same fraction of a lower accuracy.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from keras_dyn import tomlio

from keras_dyn.config import from_dict, load_config
from keras_dyn.errors import ConfigError
from keras_dyn.report import metrics as M
from keras_dyn.report.findings import FindingsContext, build_findings
from keras_dyn.report.sections import SECTIONS

REPO = Path(__file__).resolve().parents[1]
E = 4  # epochs
SEEDS = (0, 1, 2)
SHIFT_KINDS = ["rotation", "blur"]


# --------------------------------------------------------------------------- synthetic runs


def _grad_table(depth, seed, scale_first=1.0, cv_first=0.3, epochs=E):
    """A ``[gradients]`` table: kernels and biases of hidden1..depth and output."""
    rng = np.random.default_rng(seed)
    names = [f"hidden{i}/{p}" for i in range(1, depth + 1) for p in ("kernel", "bias")] + \
            ["output/kernel", "output/bias"]
    sizes = {}
    for n in names:
        fan_in = 784 if n.startswith("hidden1/") else 32
        fan_out = 10 if n.startswith("output") else 32
        sizes[n] = fan_in * fan_out if n.endswith("kernel") else fan_out
    stats = {}
    for n in names:
        mean = (scale_first if n == "hidden1/kernel" else 1.0) * (0.1 if n.endswith("bias") else 1.0)
        mean = mean * (1 + rng.normal(0, 0.01))
        cv = (cv_first if n == "hidden1/kernel" else 0.4) * (1 + rng.normal(0, 0.01))
        norm_mean = [mean * (1 - 0.1 * e) for e in range(epochs)]
        norm_cv = [cv] * epochs
        norm_std = [m * c for m, c in zip(norm_mean, norm_cv)]
        stats[n] = {"norm_mean": norm_mean, "norm_cv": norm_cv, "norm_std": norm_std,
                    "norm_var": [s * s for s in norm_std],
                    "mean_abs_mean": [m / math.sqrt(sizes[n]) for m in norm_mean],
                    "std_mean": [0.0] * epochs, "zero_frac_mean": [0.1] * epochs}
    first, last = "hidden1/kernel", "output/kernel"
    edges = list(np.linspace(-8, 1, 10))
    return {"variables": names, "sizes": sizes, "first_kernel": first, "last_kernel": last, "constant_inputs": 0,
            "epoch": list(range(1, epochs + 1)), "steps": [8] * epochs,
            "attenuation": [a / b for a, b in zip(stats[first]["norm_mean"], stats[last]["norm_mean"])],
            "stats": stats, "loghist_edges": edges,
            "loghist": {n: [[1] * 9 for _ in range(epochs)] for n in names},
            "step_norms": {n: [[m] * 8 for m in stats[n]["norm_mean"]] for n in names}}


def _run(tmp_path, seed, point, hidden, *, noise=0.0, grads=None, shifts=None, drift_scale=1.0,
         val=None, test=None):
    rng = np.random.default_rng(seed + 100)
    val = val or [0.80 + 0.02 * e for e in range(E)]
    test = test or [v - 0.01 for v in val]
    r = {"run_dir": str(tmp_path / f"{'_'.join(f'{k}{v}' for k, v in point.items())}_s{seed}"),
         "run": {"experiment": "syn", "name": f"run_s{seed}", "seed": seed, "point": point,
                 "dataset": "mnist", "hidden": hidden, "params": 1000, "n_train": 100, "n_val": 20,
                 "n_test": 50, "epochs": E, "steps_per_epoch": 8, "status": "complete"},
         "final": {"test_accuracy": test[-1]},
         "epochs": {"epoch": list(range(1, E + 1)), "train_accuracy": [0.9 + 0.02 * e for e in range(E)],
                    "val_accuracy": [v + rng.normal(0, 1e-4) for v in val],
                    "test_accuracy": [t + rng.normal(0, 0.002) for t in test],
                    "train_loss": [1.0 - 0.2 * e for e in range(E)]}}
    if grads is not None:
        r["gradients"] = grads
    layers = [f"hidden{i}" for i in range(1, len(hidden) + 1)]
    r["activations"] = {"layers": layers, "epoch": list(range(1, E + 1)),
                        **{l: {"dead_frac": [0.01 * i] * E} for i, l in enumerate(layers, 1)}}
    r["weights"] = {"variables": (grads or {}).get("variables", []), "epoch": list(range(1, E + 1)),
                    "update_ratio": {n: [0.01] * E for n in (grads or {}).get("variables", [])},
                    "norm": {n: [1.0] * E for n in (grads or {}).get("variables", [])}}
    r["drift"] = {"epoch": list(range(1, E + 1)), "layers": layers,
                  **{l: {"cka_to_init": [1 - drift_scale * 0.1 * (e + 1) * i / len(layers) + rng.normal(0, 1e-3)
                                         for e in range(E)],
                         "cosine_to_init": [1 - 0.05 * (e + 1) for e in range(E)],
                         "cosine_to_prev": [0.99] * E} for i, l in enumerate(layers, 1)}}
    if noise > 0:
        # memorised: low up to the best-validation epoch (2), then rising; crosses 0.5 at epoch 3
        mem = [0.05, 0.10, 0.55, 0.90]
        true = [0.70, 0.80, 0.40, 0.10]
        r["noisy_labels"] = {"epoch": list(range(1, E + 1)), "clean_acc": [0.95] * E,
                             "memorised_acc": [m + rng.normal(0, 0.005) for m in mem],
                             "corrupted_true_acc": [t + rng.normal(0, 0.005) for t in true],
                             "train_acc": [0.9] * E, "val_acc": val, "test_acc": test, "gap": [0.1] * E}
    if shifts is not None:
        r["shifts"] = shifts(rng)
    return r


def _shift_table(clean, kept, rng, epochs=E):
    """Shift results with unshifted accuracy ``clean[e]`` and every cell keeping ``kept[kind][s]``."""
    accuracy = {k: {f"s{s}": [clean[e] * kept[k][s - 1] + rng.normal(0, 0.002) for e in range(epochs)]
                    for s in (1, 2, 3)} for k in SHIFT_KINDS}
    mean = [float(np.mean([accuracy[k][f"s{s}"][e] for k in SHIFT_KINDS for s in (1, 2, 3)]))
            for e in range(epochs)]
    return {"kinds": SHIFT_KINDS, "severities": [1, 2, 3], "epoch": list(range(1, epochs + 1)),
            "clean_accuracy": list(clean), "mean_accuracy": mean, "accuracy": accuracy}


def _cfg(grid, **sections):
    raw = {"experiment": {"name": "syn"}, "data": {"dataset": "mnist", "validation_split": 0.1},
           "model": {"hidden": [32, 32]}, "training": {"epochs": E, "seeds": list(SEEDS)},
           "grid": grid, "log": {"gradients": True, "activations": True, "weights": True}}
    for key, value in sections.items():
        raw[key] = value
    return from_dict(raw)


def _ctx(cfg, results, tmp_path):
    return FindingsContext(cfg, results, tmp_path / "fig", "fig/")


def _render(name, ctx, **params):
    spec = SECTIONS[name]
    full = {k: p.default for k, p in spec.params.items()}
    full.update(params)
    return spec.render()(ctx, **full)


@pytest.fixture
def depth_runs(tmp_path):
    """Depth 2 and 3; at depth 3 the first layer's gradient is 3x larger but relatively calmer."""
    out = []
    for seed in SEEDS:
        out.append(_run(tmp_path, seed, {"layers": 2}, [32, 32], grads=_grad_table(2, seed)))
        out.append(_run(tmp_path, seed, {"layers": 3}, [32, 32, 32],
                        grads=_grad_table(3, seed, scale_first=3.0, cv_first=0.15)))
    return out


# --------------------------------------------------------------------------- dynamics sections


def test_layer_table_verdict_per_layer_and_chance_count(depth_runs, tmp_path):
    cfg = _cfg({"layers": [2, 3], "units": [32]})
    md = _render("layer_table", _ctx(cfg, depth_runs, tmp_path), metrics=["grad_norm"],
                 at=[M.Reading("epoch", epoch=1)], a={"layers": 3}, b={"layers": 2}, expect="greater")
    rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if line.startswith("| hidden")
            or line.startswith("| output")}
    # depth 3 has one more row, and only the first layer differs beyond noise (3x)
    assert set(rows) == {"hidden1/kernel", "hidden2/kernel", "hidden3/kernel", "output/kernel"}
    assert "supported" not in rows["hidden2/kernel"] and "A higher beyond seed noise" in rows["hidden1/kernel"]
    assert rows["hidden3/kernel"].count("—") >= 2  # depth 2 has no hidden3: no value, no comparison
    assert "A higher than B beyond seed noise in hidden1/kernel; lower in none" in md
    assert "1 of 3 comparisons is beyond seed noise; chance alone gives about 0.2" in md


def test_layer_table_bias_against_kernel(depth_runs, tmp_path):
    cfg = _cfg({"layers": [2, 3], "units": [32]})
    md = _render("layer_table", _ctx(cfg, depth_runs, tmp_path), metrics=["grad_norm_var"],
                 select={"layers": 2}, bias_vs_kernel=True, expect="less")
    assert "| hidden1/bias |" in md and "| hidden1/kernel |" in md
    assert "lower in hidden1, hidden2, output" in md  # bias variance is 1 % of the kernel's everywhere
    assert "0 of" not in md.split("lower in")[1].split("\n")[0]
    assert "3 of 3 comparisons are beyond seed noise" in md


def test_layer_curves_and_profile_write_figures(depth_runs, tmp_path):
    cfg = _cfg({"layers": [2, 3], "units": [32]})
    ctx = _ctx(cfg, depth_runs, tmp_path)
    md = _render("layer_curves", ctx, metric="grad_norm", log_y=True)
    png = tmp_path / "fig" / "grad_norm_kernel_per_layer.png"
    assert f"]({'fig/'}{png.name})" in md and png.stat().st_size > 5000
    md = _render("layer_profile", ctx, metric="update_ratio", at=[M.Reading("epoch", epoch=1), M.Reading("last")])
    assert (tmp_path / "fig" / "update_ratio_kernel_profile.png").stat().st_size > 5000
    md = _render("layer_curves", ctx, metric="dead_frac", select={"layers": 3})
    assert (tmp_path / "fig" / "dead_frac_per_layer_layers___3.png").is_file()


def test_run_figures_draw_the_lowest_seed_of_the_selection(depth_runs, tmp_path):
    cfg = _cfg({"layers": [2, 3], "units": [32]})
    md = _render("run_figures", _ctx(cfg, depth_runs, tmp_path), select={"layers": 3})
    for name in ("gradient_flow", "step_norms", "gradient_histograms", "dead_units"):
        assert (tmp_path / "fig" / f"32_32_32_{name}.png").stat().st_size > 3000
        assert f"fig/32_32_32_{name}.png" in md
    assert "seed 0" in md and "seed 1" not in md


def test_variance_decomposition_reconciles_variance_and_cv(depth_runs, tmp_path):
    """Depth 3's first layer: 3x the norm, half the cv -> variance (0.5 * 3)^2 = 2.25x; they point
    opposite ways, and the identity var = cv^2 mean^2 holds per seed."""
    cfg = _cfg({"layers": [2, 3], "units": [32]})
    md = _render("variance_decomposition", _ctx(cfg, depth_runs, tmp_path), a={"layers": 3},
                 b={"layers": 2}, layer="hidden1/kernel", at=[M.Reading("epoch", epoch=1)])
    m = re.search(r"variance ×([0-9.]+) = \(cv ×([0-9.]+)\)² × \(mean norm ×([0-9.]+)\)²", md)
    assert m, md
    v, c, mean = map(float, m.groups())
    assert v == pytest.approx(2.25, rel=0.05) and c == pytest.approx(0.5, rel=0.05)
    assert mean == pytest.approx(3.0, rel=0.05)
    assert v == pytest.approx(c * c * mean * mean, rel=0.01)
    assert "They point opposite ways" in md
    assert "`grad_norm_var` @1: A − B" in md and "`grad_norm_cv` @1: A − B" in md
    assert "beyond seed noise** (A higher)" in md  # the variance
    assert "beyond seed noise** (B higher)" in md  # the cv
    assert "comparisons are beyond seed noise" in md
    # over a window of epochs the split is of geometric means over epochs, so it stays exact
    md = _render("variance_decomposition", _ctx(cfg, depth_runs, tmp_path), a={"layers": 3},
                 b={"layers": 2}, layer="hidden1/kernel", at=[M.Reading("last_k", k=3)])
    assert "geometric means over the 3 epochs of the reading and seeds 0, 1, 2" in md
    v, c, mean = map(float, re.search(r"variance ×([0-9.]+) = \(cv ×([0-9.]+)\)² × \(mean norm ×([0-9.]+)\)²",
                                      md).groups())
    assert v == pytest.approx(c * c * mean * mean, rel=0.01)
    assert float(re.search(r"here to ([0-9.e-]+) %", md).group(1)) < 0.01
    figs = list((tmp_path / "fig").glob("hidden1_kernel_grad_norm_*.png"))
    assert len(figs) == 2


# --------------------------------------------------------------------------- probe sections


@pytest.fixture
def noise_runs(tmp_path):
    """Clean: 95 % unshifted, keeps 90 % under shift. Noisy: 60 % unshifted, keeps the same 90 %:
    its drop in points is smaller only because it has less to lose. Best validation epoch 2."""
    val = [0.80, 0.90, 0.85, 0.84]
    out = []
    kept = {k: [0.95, 0.9, 0.85] for k in SHIFT_KINDS}
    for seed in SEEDS:
        out.append(_run(tmp_path, seed, {"label_noise": 0.0}, [32, 32], val=val, test=[0.9, 0.95, 0.95, 0.95],
                        shifts=lambda rng: _shift_table([0.9, 0.95, 0.95, 0.95], kept, rng)))
        out.append(_run(tmp_path, seed, {"label_noise": 0.4}, [32, 32], noise=0.4, val=val,
                        test=[0.7, 0.8, 0.65, 0.6], drift_scale=2.0,
                        shifts=lambda rng: _shift_table([0.7, 0.8, 0.65, 0.6], kept, rng)))
    return out


def test_noisy_labels_section(noise_runs, tmp_path):
    cfg = _cfg({"label_noise": [0.0, 0.4]}, probes={"noisy_labels": True},
               data={"dataset": "mnist", "validation_split": 0.1, "label_noise": 0.4})
    md = _render("noisy_labels", _ctx(cfg, noise_runs, tmp_path),
                 at=[M.Reading("best_val"), M.Reading("last")], memorise={"threshold": 0.5})
    corrupted = md.split("On the corrupted training examples")[1].split("Memorisation signature")[0]
    assert "label_noise=0.4" in corrupted and "label_noise=0 " not in corrupted  # the clean group has none
    assert "| 3.0 ± 0.0 |" in corrupted  # memorised fraction reaches 0.5 at epoch 3 in every run
    assert "2.0 ± 0.0 (runs: 2, 2, 2)" in md  # best-validation epoch, chosen on validation
    assert md.count("signature (both of the above supported): **seen**") == 1
    assert "2 comparisons are beyond seed noise" in md
    assert (tmp_path / "fig" / "noisy_label_curves.png").stat().st_size > 5000


def test_shift_table_kept_fractions_and_best_val_reading(noise_runs, tmp_path):
    """The exp14 fix: the noise-trained model's drop in points is smaller (capped), but it keeps the
    same fraction: the per-cell and overall verdicts on `shift_kept` are within noise while
    `shift_drop` differs; the best-validation reading reads epoch 2."""
    cfg = _cfg({"label_noise": [0.0, 0.4]}, probes={"shifts": SHIFT_KINDS, "shift_every": 1})
    ctx = _ctx(cfg, noise_runs, tmp_path)
    md = _render("shift_table", ctx, a={"label_noise": 0.4}, b={"label_noise": 0.0},
                 at=[M.Reading("last"), M.Reading("best_val")])
    last, best = md.split("#### Read at the last epoch")[1].split("#### Read at the best-validation epoch")
    assert "Unshifted: A 60.00" in last and "Unshifted: A 80.00" in best  # epoch 4 and epoch 2
    overall = [line for line in last.splitlines() if line.startswith("- All shifts")][0]
    assert "**undecided**" in overall  # neither beyond noise nor shown within a margin (none given)
    within = int(re.search(r"the other (\d) of 6 within seed noise", last).group(1))
    assert within >= 5  # equal kept fractions: at most a chance call among 6 cells
    assert f"{6 - within} of 6 comparison" in last and "chance alone gives about 0.3" in last
    row = [line for line in last.splitlines() if line.startswith("| rotation | 3 |")][0]
    kept_a, kept_b = (float(c.split(" ±")[0]) for c in row.split(" | ")[4:6])
    assert kept_a == pytest.approx(85.0, abs=0.5) and kept_b == pytest.approx(85.0, abs=0.5)  # kept 85 %
    # the same data in points: the noisy model "drops less" beyond noise, which is the cap
    drop = ctx.compare(ctx.select({"label_noise": 0.4}), ctx.select({"label_noise": 0.0}), "shift_drop",
                       a_params={"kind": "mean"}, b_params={"kind": "mean"}, expect=None)
    assert drop.beyond_noise and drop.diff < 0
    # above-chance kept is lower for the model nearer chance: (0.6*0.9 - 0.1) / (0.6 - 0.1) < 0.9
    above = ctx.summary(ctx.select({"label_noise": 0.4}), "shift_kept_above_chance", {"kind": "mean"})
    assert above.mean == pytest.approx((0.6 * 0.9 - 0.1) / 0.5, abs=0.01)
    assert (tmp_path / "fig" / "shift_accuracy_last.png").is_file()
    assert (tmp_path / "fig" / "shift_accuracy_best_val.png").is_file()


def test_drift_layer_table_verdicts_on_cka(noise_runs, tmp_path):
    """The exp12 fix: verdicts per layer on CKA (the noisy runs' CKA falls twice as far)."""
    cfg = _cfg({"label_noise": [0.0, 0.4]}, probes={"drift": True})
    md = _render("layer_table", _ctx(cfg, noise_runs, tmp_path), metrics=["drift_cka", "drift_cosine"],
                 a={"label_noise": 0.4}, b={"label_noise": 0.0}, expect="less")
    assert "A − B: drift_cka @last" in md
    assert "lower in hidden1, hidden2" in md  # CKA: beyond noise in both layers
    assert "2 of 2 comparisons are beyond seed noise" in md


# --------------------------------------------------------------------------- validation


def _lab(findings, grid=None, **extra):
    raw = {"experiment": {"name": "v"}, "data": {"dataset": "mnist", "validation_split": 0.1,
                                                 "label_noise": 0.4},
           "model": {"hidden": [32, 32]}, "training": {"epochs": 3, "seeds": [0, 1]},
           "grid": grid or {"label_noise": [0.0, 0.4]},
           "probes": {"noisy_labels": True, "shifts": ["rotation"], "shift_every": 1, "drift": True},
           "lab": {"title": "t", "question": "q", "findings": findings}}
    raw.update(extra)
    return raw


BAD_SECTIONS = [
    ({"section": "layer_table", "metrics": ["test_accuracy"]}, "not per layer"),
    ({"section": "layer_table", "metrics": ["grad_norm"], "a": {"label_noise": 0.4}}, "give both a and b"),
    ({"section": "layer_table", "metrics": ["drift_cka"], "bias_vs_kernel": True}, "gradient or weight metric"),
    ({"section": "layer_table", "metrics": ["grad_norm"], "expect": "bigger"}, "expect must be"),
    ({"section": "layer_curves", "metric": "grad_norm", "part": "weights"}, "part must be"),
    ({"section": "run_figures", "figures": ["step_norm"]}, "unknown figure"),
    ({"section": "shift_table", "a": {"label_noise": 0.4}, "b": {"label_noise": 0.0}, "metric": "test_accuracy"},
     "per-cell shift metric"),
    ({"section": "shift_table", "a": {"label_noise": 0.5}, "b": {"label_noise": 0.0}}, "not in the grid"),
    ({"section": "noisy_labels", "memorise": {"threshold": 2}}, "threshold must be"),
    ({"section": "variance_decomposition", "a": {"label_noise": 0.4}, "b": {"label_noise": 0.0},
      "layer": "mean"}, "not \"mean\""),
]


@pytest.mark.parametrize("section,words", BAD_SECTIONS, ids=[b[1] for b in BAD_SECTIONS])
def test_broken_sections_are_one_line_errors(section, words):
    with pytest.raises(ConfigError) as info:
        from_dict(_lab([section]), source="lab.toml")
    text = str(info.value)
    assert "\n" not in text and text.startswith("config error: lab.toml: lab.findings[0]")
    assert words in text, text


def test_best_val_reading_needs_shifts_every_epoch():
    raw = _lab([{"section": "shift_table", "a": {"label_noise": 0.4}, "b": {"label_noise": 0.0},
                 "at": ["best_val"]}])
    raw["probes"]["shift_every"] = 2
    with pytest.raises(ConfigError, match="needs shifts recorded every epoch"):
        from_dict(raw, source="lab.toml")
    raw = _lab([{"section": "noisy_labels"}], grid={"units": [32, 64]})
    raw["data"]["label_noise"] = 0.0
    with pytest.raises(ConfigError, match="label_noise > 0"):
        from_dict(raw, source="lab.toml")


def test_mixed_readings_are_written_as_strings():
    assert M.parse_reading("5") == M.Reading("epoch", epoch=5)
    cfg = from_dict(_lab([{"section": "seed_table", "metrics": ["test_accuracy"], "at": ["1", "best_val"]}]))
    assert [r.kind for r in cfg.lab.findings[0].params["at"]] == ["epoch", "best_val"]


def test_every_new_section_in_one_lab_builds_without_errors(noise_runs, tmp_path):
    for r in noise_runs:
        r["gradients"] = _grad_table(2, int(r["run"]["seed"]))
    findings = [
        {"section": "layer_table", "metrics": ["grad_norm"], "a": {"label_noise": 0.4}, "b": {"label_noise": 0.0}},
        {"section": "layer_curves", "metric": "drift_cka"},
        {"section": "layer_profile", "metric": "grad_norm", "at": ["1", "last"]},
        {"section": "run_figures"},
        {"section": "variance_decomposition", "a": {"label_noise": 0.4}, "b": {"label_noise": 0.0}},
        {"section": "noisy_labels"},
        {"section": "shift_table", "a": {"label_noise": 0.4}, "b": {"label_noise": 0.0}, "at": ["last", "best_val"]},
    ]
    raw = _lab(findings, training={"epochs": E, "seeds": list(SEEDS)},
               probes={"noisy_labels": True, "shifts": SHIFT_KINDS, "shift_every": 1, "drift": True})
    raw["lab"]["hypotheses"] = [
        {"id": "H1", "statement": "keeps less", "metric": "shift_kept", "kind": "mean", "at": "last",
         "expect": "less", "a": {"label_noise": 0.4}, "b": {"label_noise": 0.0}},
        {"id": "H2", "statement": "drifts more", "metric": "drift_cka", "layer": "mean", "at": "last",
         "expect": "less", "a": {"label_noise": 0.4}, "b": {"label_noise": 0.0}}]
    cfg = from_dict(raw)
    out = build_findings(cfg, noise_runs, tmp_path / "fig", "fig/")
    assert out.errors == []
    assert out.markdown.count("**Verdict: ") == 2
    assert out.summary["verdicts"] == {"H1": "equivalent", "H2": "supported"}  # shift_kept within 1 point
    assert "What these seeds can resolve.**" in out.markdown and "| H1 |" in out.markdown
    assert "Holm" in out.markdown and "margin ±1 points (default for percent metrics)" in out.markdown
    print(out.markdown)


# --------------------------------------------------------------------------- the labs' fixes


def test_exp8_rms_attenuation_from_recorded_sizes():
    """``sizes`` in the gradients results (entries per variable) make the per-entry ratio: the
    whole-matrix ratio times sqrt(entries_last / entries_first)."""
    import keras

    from keras_dyn.callbacks.gradient_statistics import GradientStatistics
    from keras_dyn.recording import instrument

    from _dyn_helpers import tiny_data, tiny_model

    model = instrument(tiny_model(input_shape=(4, 4), hidden=(8, 6), classes=3))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    x, y = tiny_data(48)
    cb = GradientStatistics(None)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[cb])
    g = tomlio.loads(tomlio.dumps({"gradients": cb.results()}))["gradients"]
    assert g["sizes"] == {"hidden1/kernel": 128, "hidden1/bias": 8, "hidden2/kernel": 48,
                          "hidden2/bias": 6, "output/kernel": 18, "output/bias": 3}
    result = {"run": {"hidden": [8, 6]}, "gradients": g}
    raw = M.series(result, "grad_attenuation")[1]
    rms = M.series(result, "grad_attenuation_rms")[1]
    first, last = g["stats"]["hidden1/kernel"]["norm_mean"], g["stats"]["output/kernel"]["norm_mean"]
    for r, q, f, l in zip(raw, rms, first, last):
        assert q == pytest.approx((f / math.sqrt(128)) / (l / math.sqrt(18)), rel=1e-5)
        assert q == pytest.approx(r * math.sqrt(18 / 128), rel=1e-4)


def test_exp8_config_has_he_at_depth_8_weights_and_both_ratios():
    cfg = load_config(REPO / "configs" / "exp8_depth_scaling.toml")
    assert set(cfg.grid["initializer"]) == {"glorot", "he"} and 8 in cfg.grid["layers"]
    assert cfg.log.weights
    metrics = {h.metric for h in cfg.lab.hypotheses}
    assert {"grad_attenuation", "grad_attenuation_rms"} <= metrics
    assert any(h.a.select.get("initializer") == "he" and h.a.select.get("layers") == 8 for h in cfg.lab.hypotheses)


def test_exp12_config_verdicts_on_cka_and_one_reconciliation():
    cfg = load_config(REPO / "configs" / "exp12_representation_drift.toml")
    assert any(h.metric == "drift_cka" for h in cfg.lab.hypotheses)
    assert [s.section for s in cfg.lab.findings].count("variance_decomposition") == 1
    table = [s for s in cfg.lab.findings if s.section == "layer_table" and "drift_cka" in s.params["metrics"]]
    assert table and table[0].params["metrics"][0] == "drift_cka"  # the per-layer verdicts are on CKA


def test_exp14_config_one_overall_verdict_kept_fractions_best_val():
    cfg = load_config(REPO / "configs" / "exp14_dataset_shift.toml")
    assert cfg.probes.shift_every == 1
    robust = [h for h in cfg.lab.hypotheses if h.metric in ("shift_kept", "shift_kept_above_chance",
                                                             "shift_drop")]
    assert len(robust) == 1 and robust[0].metric == "shift_kept" and robust[0].a.params == {"kind": "mean"}
    # the source's own sentence ("less accurate under shift") is tested once, as stated, beside it
    plain = [h for h in cfg.lab.hypotheses if h.metric == "shift_accuracy"]
    assert len(plain) == 1 and plain[0].a.params == {"kind": "mean"}
    table = [s for s in cfg.lab.findings if s.section == "shift_table"]
    assert len(table) == 1 and {r.kind for r in table[0].params["at"]} == {"last", "best_val"}


def test_exp11_best_accuracy_is_read_at_best_validation():
    cfg = load_config(REPO / "configs" / "exp11_label_noise.toml")
    best = [h for h in cfg.lab.hypotheses if h.metric == "test_accuracy" and "best_val" in
            (h.a.at.kind, h.b.at.kind)]
    assert best
    text = (REPO / "configs" / "exp11_label_noise.toml").read_text()
    assert "best test" not in text.lower()


# --------------------------------------------------------------------------- grid sections


def _grid_result(u1, u2, seed, val, test):
    return {"run_dir": f"/x/w{u1}-{u2}_bs64_s{seed}",
            "run": {"experiment": "e", "name": f"w{u1}-{u2}_bs64_s{seed}", "seed": seed,
                    "point": {"units_1": u1, "units_2": u2}, "dataset": "fashion_mnist",
                    "hidden": [u1, u2], "batch_size": 64, "epochs": 2, "params": u1 * u2,
                    "n_train": 100, "n_val": 10, "n_test": 50, "steps_per_epoch": 10},
            "final": {"test_accuracy": test, "train_seconds": 2.0, "cpu_seconds": 3.0},
            "epochs": {"epoch": [1, 2], "val_accuracy": [val - 0.01, val], "test_accuracy": [test - 0.01, test]}}


def test_ranking_heatmap_and_balanced_on_a_width_grid(tmp_path):
    """What the keras-tuner labs' findings were: the grid ranked on validation accuracy (test
    reported, never used to choose), the heatmap, balanced against unbalanced cells."""
    cfg = from_dict({"experiment": {"name": "e"}, "data": {"dataset": "circle", "validation_split": 0.2},
                     "model": {"hidden": [8, 8]}, "training": {"seeds": [0, 1], "epochs": 2},
                     "grid": {"units_1": [8, 16], "units_2": [8, 16]}})
    # 16-16 has the best validation accuracy; 8-16 the best test accuracy (must not be chosen)
    acc = {(8, 8): (0.80, 0.80), (8, 16): (0.82, 0.95), (16, 8): (0.81, 0.81), (16, 16): (0.90, 0.85)}
    results = [_grid_result(u1, u2, s, val + 0.001 * s, test + 0.001 * s)
               for (u1, u2), (val, test) in acc.items() for s in (0, 1)]
    ctx = _ctx(cfg, results, tmp_path)
    md = _render("ranking", ctx, columns=["steps_per_epoch", "params_per_point"])
    rows = [line for line in md.splitlines() if line.startswith("| 1 |") or line.startswith("| 4 |")]
    assert rows[0].startswith("| 1 | 16-16 | 90.05 ± 0.07% | 85.05 ± 0.07%"), rows
    assert rows[1].startswith("| 4 | 8-8 |")
    assert "Top two on validation accuracy: 16-16 − 8-16" in md
    md = _render("heatmap", ctx, x="units_1", y="units_2")
    png = tmp_path / "fig" / "heatmap_units_1_units_2.png"
    assert png.stat().st_size > 5000 and "fig/heatmap_units_1_units_2.png" in md
    md = _render("heatmap", ctx, x="units_1", y="units_2", at=M.Reading("best_val"))  # its own file
    assert "fig/heatmap_units_1_units_2_best_val.png" in md and png.is_file()
    md = _render("balanced", ctx, keys=["units_1", "units_2"], metric="val_accuracy")
    assert "over the 2 balanced and the 2 unbalanced configurations" in md
    assert "balanced − unbalanced = +3.50 points" in md


# --------------------------------------------------------------------------- memorise thresholds, fit_table


def test_noisy_labels_memorise_list_one_column_per_threshold(noise_runs, tmp_path):
    """`memorise` as a list: one 'epochs to memorise' column per threshold (0.5 at epoch 3, 0.9 at
    epoch 4 in the synthetic curve [0.05, 0.10, 0.55, 0.90], read with its noise as 3 of 3 or
    never: 0.99 is never reached)."""
    cfg = _cfg({"label_noise": [0.0, 0.4]}, probes={"noisy_labels": True},
               data={"dataset": "mnist", "validation_split": 0.1, "label_noise": 0.4})
    md = _render("noisy_labels", _ctx(cfg, noise_runs, tmp_path), at=[M.Reading("last")],
                 memorise=[{"threshold": 0.5}, {"threshold": 0.99}])
    corrupted = md.split("On the corrupted training examples")[1].split("Memorisation signature")[0]
    assert "epochs to memorise 50% of the corrupted examples" in corrupted
    assert "epochs to memorise 99% of the corrupted examples" in corrupted
    row = [line for line in corrupted.splitlines() if line.startswith("| label_noise=0.4")][0]
    assert row.rstrip().endswith("| 3.0 ± 0.0 | never (3 of 3 runs) |"), row


def test_memorise_list_validated_in_a_lab():
    raw = {"experiment": {"name": "m"}, "data": {"dataset": "mnist", "label_noise": 0.4},
           "model": {"hidden": [8]}, "training": {"epochs": 3, "seeds": [0]},
           "grid": {"units": [8, 16]}, "probes": {"noisy_labels": True},
           "lab": {"title": "t", "question": "q", "findings": [
               {"section": "noisy_labels", "memorise": [{"threshold": 0.5}, {"fraction": 0.9}]}]}}
    assert from_dict(raw).lab is not None
    raw["lab"]["findings"][0]["memorise"] = [{"threshold": 0.5}, {"threshold": 1.5}]
    with pytest.raises(ConfigError, match=r"threshold must be a number in \(0, 1\]"):
        from_dict(raw)
    raw["lab"]["findings"][0]["memorise"] = [{"threshold": 0.5}, 3]
    with pytest.raises(ConfigError, match=r"memorise.*a table of metric parameters or a list of them"):
        from_dict(raw)
    raw["lab"]["findings"][0]["memorise"] = [{"epochs": 3}]
    with pytest.raises(ConfigError, match=r"memorise\[0\]\.epochs.*unknown metric parameter"):
        from_dict(raw)


def _fit_run(tmp_path, seed, corruption, train, test, cpu=0.5):
    return {"run_dir": str(tmp_path / f"{corruption}_s{seed}"),
            "run": {"experiment": "fit", "name": f"{corruption}_s{seed}", "seed": seed,
                    "point": {"corruption": corruption}, "dataset": "mnist", "hidden": [8], "params": 1000,
                    "num_classes": 10, "epochs": len(train), "status": "complete"},
            "final": {"train_cpu_seconds": cpu * len(train)},
            "epochs": {"epoch": list(range(1, len(train) + 1)), "train_accuracy": train,
                       "val_accuracy": test, "test_accuracy": test,
                       "cpu_seconds": [cpu] * len(train)}}


def test_cpu_seconds_to_sums_the_epochs_up_to_the_first_epoch(tmp_path):
    r = _fit_run(tmp_path, 0, "clean", [0.5, 0.8, 0.96, 0.99], [0.9] * 4, cpu=0.25)
    r["epochs"]["cpu_seconds"] = [1.0, 0.5, 0.25, 2.0]
    params = {"of": "train_accuracy", "threshold": 0.95}
    assert M.value(r, "first_epoch", params) == 3.0
    assert M.value(r, "cpu_seconds_to", params) == pytest.approx(1.75)
    assert M.value(r, "cpu_seconds_to", {"of": "train_accuracy", "threshold": 1.0}) == math.inf


def test_fit_table_zhang_shape(tmp_path):
    """Clean fits by epoch 2 and generalises; random labels fit by epoch 4 (one seed never) and
    sit at chance on test."""
    cfg = from_dict({"experiment": {"name": "fit"}, "data": {"dataset": "mnist", "label_noise_kind": "random"},
                     "model": {"hidden": [8]}, "training": {"epochs": 4, "seeds": [0, 1, 2]},
                     "grid": {"corruption": ["clean", "random_labels"]}})
    results = []
    for s in (0, 1, 2):
        results.append(_fit_run(tmp_path, s, "clean", [0.9, 0.96, 0.98, 0.99], [0.95] * 4))
        last = 0.97 if s < 2 else 0.90  # seed 2 never reaches 95 %
        results.append(_fit_run(tmp_path, s, "random_labels", [0.2, 0.5, 0.8, last],
                                [0.10, 0.11, 0.09, 0.10 + 0.01 * s]))
    md = _render("fit_table", _ctx(cfg, results, tmp_path), threshold=0.95, of="train_accuracy",
                 at=None, by=None, title="Fit")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| corruption=")}
    clean, rand = rows["corruption=clean"], rows["corruption=random_labels"]
    assert "| 99.00 ± 0.00% | 95.00 ± 0.00% | 85.00 ± 0.00 points | 3 of 3 | 2.0 ± 0.0 | 1.0 ± 0.0 |" in clean
    assert "| 94.67 ± 4.04% | 11.00 ± 1.00% | 1.00 ± 1.00 points | 2 of 3 | 4.0 ± 0.0 (never in 1 of 3 runs) |" in rand
    assert "| 2.0 ± 0.0 (never in 1 of 3 runs) |" in rand  # CPU seconds to 95 %: 4 epochs x 0.5 s


def test_fit_table_heads_its_fit_column_with_the_quantity_it_shows(tmp_path):
    """of = "test_accuracy" fills the fit column with test accuracy: the heading says so (it read
    "train acc" before)."""
    cfg = from_dict({"experiment": {"name": "fit"}, "data": {"dataset": "mnist"}, "model": {"hidden": [8]},
                     "training": {"epochs": 4, "seeds": [0, 1]}, "grid": {"corruption": ["clean", "random_labels"]}})
    results = [_fit_run(tmp_path, s, c, [0.2, 0.5, 0.8, 0.9], [0.3, 0.6, 0.7, 0.8])
               for s in (0, 1) for c in ("clean", "random_labels")]
    md = _render("fit_table", _ctx(cfg, results, tmp_path), threshold=0.75, of="test_accuracy",
                 at=None, by=None, title="")
    header = next(line for line in md.splitlines() if line.startswith("| condition"))
    assert "| test_accuracy @last |" in header and "train acc" not in header
    assert "The fit column is" in md and "Training accuracy (" not in md
    default = _render("fit_table", _ctx(cfg, results, tmp_path), threshold=0.75, of="train_accuracy",
                      at=None, by=None, title="")
    assert "| train acc @last |" in next(line for line in default.splitlines() if line.startswith("| condition"))


def test_fit_table_validated():
    raw = {"experiment": {"name": "f"}, "data": {"dataset": "mnist"}, "model": {"hidden": [8]},
           "training": {"epochs": 3, "seeds": [0]}, "grid": {"corruption": ["clean", "random_pixels"]},
           "lab": {"title": "t", "question": "q", "findings": [{"section": "fit_table", "threshold": 0.95}]}}
    assert from_dict(raw).lab is not None
    raw["lab"]["findings"][0]["threshold"] = 95
    with pytest.raises(ConfigError, match=r"lab\.findings\[0\]\.threshold.*a number in \(0, 1\]"):
        from_dict(raw)
    raw["lab"]["findings"][0] = {"section": "fit_table", "of": "train_loss"}
    with pytest.raises(ConfigError, match="of must be a per-epoch accuracy"):
        from_dict(raw)


# --------------------------------------------------------------------------- gradient against update


def _optimizer_runs(tmp_path):
    """Depth-3 runs of two cases: "sgd" steps in proportion to its gradient (its update profile
    is the gradient's), "adam" takes the same-sized step per entry in every layer. The first
    layer's gradient is 4x smaller per entry than the others'."""
    out = []
    for seed in SEEDS:
        for opt in ("sgd", "adam"):
            grads = _grad_table(3, seed, scale_first=1.0)
            sizes = grads["sizes"]
            rng = np.random.default_rng(seed + 7)
            for n in grads["variables"]:  # gradient per entry: 1 everywhere but 0.25 in hidden1
                per_entry = (0.25 if n == "hidden1/kernel" else 1.0) * (1 + rng.normal(0, 0.01))
                grads["stats"][n]["norm_mean"] = [per_entry * math.sqrt(sizes[n])] * E
            r = _run(tmp_path, seed, {"optimizer": opt, "learning_rate": 0.1 if opt == "sgd" else 0.001},
                     [32, 32, 32], grads=grads)
            names = grads["variables"]
            step = {n: (grads["stats"][n]["norm_mean"][0] / math.sqrt(sizes[n]) if opt == "sgd" else 0.01)
                    * (1 + rng.normal(0, 0.01)) for n in names}
            r["weights"]["sizes"] = dict(sizes)
            r["weights"]["update_norm"] = {n: [step[n] * math.sqrt(sizes[n])] * E for n in names}
            r["weights"]["update_ratio"] = {n: [step[n] * 0.5] * E for n in names}
            r["run_dir"] += f"_{opt}"
            out.append(r)
    return out


def _cases_cfg():
    raw = {"experiment": {"name": "syn"}, "data": {"dataset": "mnist", "validation_split": 0.1},
           "model": {"hidden": [32, 32, 32]}, "training": {"epochs": E, "seeds": list(SEEDS)},
           "cases": [{"optimizer": "sgd", "learning_rate": 0.1}, {"optimizer": "adam", "learning_rate": 0.001}],
           "log": {"gradients": True, "activations": True, "weights": True}}
    return from_dict(raw)


def test_per_entry_metrics_and_layer_spread(tmp_path):
    runs = _optimizer_runs(tmp_path)
    sgd, adam = runs[0], runs[1]
    assert M.value(sgd, "grad_rms", {"layer": "hidden1"}) == pytest.approx(0.25, rel=0.05)
    assert M.value(sgd, "grad_rms", {"layer": "output"}) == pytest.approx(1.0, rel=0.05)
    assert M.value(adam, "update_rms", {"layer": "hidden2"}) == pytest.approx(0.01, rel=0.05)
    assert M.value(sgd, "update_norm", {"layer": "hidden1"}) == pytest.approx(
        0.25 * math.sqrt(784 * 32), rel=0.05)
    assert M.value(sgd, "layer_spread", {"of": "grad_rms"}) == pytest.approx(4.0, rel=0.05)
    assert M.value(adam, "layer_spread", {"of": "update_rms"}) == pytest.approx(1.0, abs=0.05)
    assert M.value(sgd, "layer_spread", {"of": "update_rms"}) == pytest.approx(4.0, rel=0.05)
    with pytest.raises(ValueError, match="per-layer gradient or weight metric"):
        M.check_param(M.METRICS["layer_spread"], "of", "test_accuracy")


def test_gradient_vs_update_section_separates_rescaling_from_plain_steps(tmp_path):
    cfg = _cases_cfg()
    ctx = _ctx(cfg, _optimizer_runs(tmp_path), tmp_path)
    md = _render("gradient_vs_update", ctx, by=["optimizer"], at=[M.Reading("epoch", epoch=1), M.Reading("last")])
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in md.splitlines()
            if line.startswith("| hidden") or line.startswith("| output")}
    # columns: kernel, then sgd: grad_rms, update_rms, update_ratio; adam: the same
    def num(cell):
        return float(cell.split(" ")[0])
    h1 = rows["hidden1/kernel"]
    assert num(h1[1]) == pytest.approx(0.25, rel=0.05) and num(h1[2]) == pytest.approx(0.25, rel=0.05)
    assert num(h1[4]) == pytest.approx(0.25, rel=0.05) and num(h1[5]) == pytest.approx(1.0, rel=0.05)
    assert num(rows["output/kernel"][1]) == 1.0
    lines = {line.split(":")[0]: line for line in md.splitlines() if line.startswith("- ")}
    assert "lower beyond seed noise" not in lines["- optimizer=sgd"]  # sgd's steps follow its gradient
    adam = [line for line in md.splitlines() if line.startswith("- optimizer=adam: spread of `update_rms`")]
    assert adam and "**supported**" in adam[0] and "A − B = -3" in adam[0], md
    assert (tmp_path / "fig" / "gradient_vs_update.png").stat().st_size > 5000


def test_gradient_vs_update_checks():
    base = {"experiment": {"name": "v"}, "data": {"dataset": "mnist"}, "model": {"hidden": [8, 8]},
            "training": {"epochs": 2}, "log": {"weights": False},
            "lab": {"title": "t", "question": "q", "findings": [{"section": "gradient_vs_update"}]}}
    with pytest.raises(ConfigError, match=r"lab.findings\[0\]: metric 'update_rms' needs log.weights = true"):
        from_dict(base, source="lab.toml")
    base["log"] = {}
    base["lab"]["findings"] = [{"section": "gradient_vs_update", "metrics": ["grad_rms"]}]
    with pytest.raises(ConfigError, match="at least two"):
        from_dict(base, source="lab.toml")
    base["lab"]["findings"] = [{"section": "gradient_vs_update", "metrics": ["grad_rms", "dead_frac"]}]
    with pytest.raises(ConfigError, match="not a per-layer gradient or weight metric"):
        from_dict(base, source="lab.toml")
    base["lab"]["findings"] = []
    base["lab"]["hypotheses"] = [{"id": "H1", "statement": "s", "metric": "layer_spread", "expect": "less",
                                  "a": {"of": "update_rms"}, "b": {"of": "grad_rms"}}]
    assert from_dict(base, source="lab.toml").lab.hypotheses[0].a.params == {"of": "update_rms"}
    base["log"] = {"every": 2}
    with pytest.raises(ConfigError, match=r"lab.hypotheses\[0\].a.of: layer_spread of update_rms needs weights"):
        from_dict(base, source="lab.toml")
