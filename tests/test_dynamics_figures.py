"""Dynamics figures are drawn from results dicts (as read back from a TOML file)."""

from __future__ import annotations

import keras
import toml

from keras_dyn.callbacks.activation_statistics import ActivationStatistics
from keras_dyn.callbacks.gradient_statistics import GradientStatistics
from keras_dyn.recording import instrument
from keras_dyn.report import dynamics_figures as dfig

from _dyn_helpers import tiny_data, tiny_model


def test_figures_from_a_results_file(tmp_path):
    model = instrument(tiny_model())
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    x, y = tiny_data(48)
    cbs = [GradientStatistics(None), ActivationStatistics(x[:16])]
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=cbs)
    results = toml.loads(toml.dumps({c.results_key: c.results() for c in cbs}))
    paths = dfig.dynamics_figures(results, tmp_path)
    assert sorted(p.name for p in paths) == ["dead_units.png", "gradient_flow.png",
                                             "gradient_histograms.png", "step_norms.png"]
    for p in paths:
        assert p.read_bytes()[:4] == b"\x89PNG"
    g = results["gradients"]
    p = dfig.depth_profile({"a": [g, g], "b": [g]}, tmp_path / "depth.png")
    assert p.stat().st_size > 0
