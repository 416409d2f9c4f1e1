"""Diagnostics sections drawn from real callback results, read back through TOML as a run's
results file holds them (the synthetic cases are in test_sections.py)."""

from __future__ import annotations

import keras
from keras_dyn import tomlio

from keras_dyn.callbacks.activation_statistics import ActivationStatistics
from keras_dyn.callbacks.gradient_statistics import GradientStatistics
from keras_dyn.callbacks.weight_statistics import WeightStatistics
from keras_dyn.config import from_dict
from keras_dyn.recording import instrument
from keras_dyn.report.findings import FindingsContext
from keras_dyn.report.sections import SECTIONS

from _dyn_helpers import tiny_data, tiny_model


def _results(seed):
    model = instrument(tiny_model(seed=seed))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    x, y = tiny_data(48)
    cbs = [GradientStatistics(None), ActivationStatistics(x[:16]), WeightStatistics(None)]
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=cbs)
    out = tomlio.loads(tomlio.dumps({c.results_key: c.results() for c in cbs}))
    out["run"] = {"seed": seed, "name": f"tiny_s{seed}", "hidden": [8, 6], "point": {}}
    out["run_dir"] = f"/x/tiny_s{seed}"
    return out


def _render(name, ctx, **params):
    spec = SECTIONS[name]
    full = {k: p.default for k, p in spec.params.items()}
    full.update(params)
    return spec.render()(ctx, **full)


def test_sections_from_callback_results(tmp_path):
    results = [_results(0), _results(1)]
    cfg = from_dict({"experiment": {"name": "tiny"}, "data": {"dataset": "circle"},
                     "model": {"hidden": [8, 6]}, "training": {"epochs": 2, "seeds": [0, 1]}})
    ctx = FindingsContext(cfg, results, tmp_path / "fig", "fig/")
    md = _render("run_figures", ctx)
    pngs = sorted(p.name for p in (tmp_path / "fig").glob("*.png"))
    assert pngs == ["8_6_dead_units.png", "8_6_gradient_flow.png", "8_6_gradient_histograms.png",
                    "8_6_step_norms.png"]
    for p in (tmp_path / "fig").glob("*.png"):
        assert p.read_bytes()[:4] == b"\x89PNG"
    assert "seed 0" in md and not ctx.notes
    _render("layer_profile", ctx, metric="update_ratio")
    _render("layer_curves", ctx, metric="grad_norm_cv", part="all")
    assert (tmp_path / "fig" / "update_ratio_kernel_profile.png").stat().st_size > 3000
    assert (tmp_path / "fig" / "grad_norm_cv_all_per_layer.png").stat().st_size > 3000
    md = _render("layer_table", ctx, metrics=["grad_norm", "grad_norm_var"], part="all", bias_vs_kernel=True,
                 expect="less")
    assert md.count("| hidden") == 4 and md.count("| output") == 2
