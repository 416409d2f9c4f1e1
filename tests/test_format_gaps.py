"""Format gaps found by exp18_memorisation_remedies: ``early_stopping`` as a ``[[cases]]`` / ``[grid]``
key, noisy validation labels (``data.label_noise_validation``), ``first_epoch_of_best`` on loss
metrics (lower is better), and the ``sweep`` / ``ranking`` section parameters. Tiny synthetic data,
no training."""

import pytest

from keras_dyn.config import from_dict
from keras_dyn.config.experiment import same_run_config
from keras_dyn.errors import ConfigError, ConfigErrors

BASE = {"experiment": {"name": "gaps"}, "data": {"dataset": "circle", "n_samples": 200, "validation_split": 0.25},
        "model": {"hidden": [6]}, "training": {"epochs": 4, "seeds": [0, 1, 2]},
        "log": {"gradients": False, "activations": False, "weights": False}}

ES = {"monitor": "val_loss", "patience": 3, "restore_best": True}


def cfg_with(**extra):
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    for key, value in extra.items():
        if isinstance(value, dict) and key in raw:
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return from_dict(raw)


def error_of(**extra) -> str:
    with pytest.raises((ConfigError, ConfigErrors)) as info:
        cfg_with(**extra)
    return str(info.value)


# -- 1. early_stopping as a case / grid key

def test_cases_with_and_without_early_stopping():
    cfg = cfg_with(cases=[{"early_stopping": {}}, {"early_stopping": ES}])
    names = [cfg.run_name(p, 0) for p in cfg.points()]
    assert names == ["w6_bs64_es-off_s0", "w6_bs64_es-val_loss-p3_s0"]
    off, on = (cfg.at_point(p).training.early_stopping for p in cfg.points())
    assert off == {} and on == {"monitor": "val_loss", "patience": 3, "min_delta": 0.0, "restore_best": True}
    assert cfg.at_point(cfg.points()[1]).to_toml() == from_dict(cfg.at_point(cfg.points()[1]).to_dict()).to_toml()


def test_early_stopping_grid_names_are_distinct():
    cfg = cfg_with(grid={"early_stopping": [{}, {"patience": 3}, {"patience": 3, "restore_best": False},
                                            {"patience": 3, "min_delta": 0.01}]})
    names = [cfg.run_name(p, 0) for p in cfg.points()]
    assert names == ["w6_bs64_es-off_s0", "w6_bs64_es-val_loss-p3_s0", "w6_bs64_es-val_loss-p3-norestore_s0",
                     "w6_bs64_es-val_loss-p3-d0.01_s0"]


@pytest.mark.parametrize("cases, key", [
    ([{"early_stopping": {}}, {"early_stopping": {"patience": -1}}], "cases[1].early_stopping.patience"),
    ([{"early_stopping": {}}, {"early_stopping": {"patiense": 1}}], "cases[1].early_stopping.patiense"),
    ([{"early_stopping": {}}, {"early_stopping": {"monitor": "val_los"}}], "cases[1].early_stopping.monitor"),
    ([{"early_stopping": {}}, {"early_stopping": 3}], "cases[1].early_stopping"),
    ([{"early_stopping": {"patience": 5}}, {"early_stopping": {"patience": 5, "min_delta": 0}}], "cases[1]"),
])
def test_early_stopping_case_errors_name_the_key(cases, key):
    text = error_of(cases=cases)
    assert f": {key}: " in text and len(text.splitlines()) == 1


def test_early_stopping_val_monitor_without_validation_names_the_case():
    text = error_of(data={"validation_split": 0.0}, cases=[{"early_stopping": {}}, {"early_stopping": ES}])
    assert ": cases[1].early_stopping.monitor: 'val_loss' needs a validation split" in text
    text = error_of(data={"validation_split": 0.0}, grid={"early_stopping": [{}, ES]})
    assert ": grid.early_stopping.monitor: " in text


def test_early_stopping_grid_values_distinct_and_not_both():
    assert "grid.early_stopping: values must be distinct" in error_of(grid={"early_stopping": [{}, {}]})
    assert "cases[0].early_stopping: is also a [grid] key" in error_of(
        grid={"early_stopping": [{}, ES]}, cases=[{"early_stopping": {}}])


def test_lab_selectors_and_quick_keep_on_early_stopping():
    lab = {"title": "t", "question": "q", "quick": {"keep": {"early_stopping": [{}, {"patience": 3}]}},
           "hypotheses": [{"id": "H", "statement": "s", "metric": "test_accuracy", "expect": "greater",
                           "a": {"early_stopping": {"monitor": "val_loss", "patience": 3}},
                           "b": {"early_stopping": {}}}]}
    cfg = cfg_with(cases=[{"early_stopping": {}}, {"early_stopping": ES}], lab=lab)
    assert cfg.lab.hypotheses[0].a.select["early_stopping"]["patience"] == 3
    bad = {**lab, "hypotheses": [{**lab["hypotheses"][0], "a": {"early_stopping": {"patience": 4}}}]}
    assert "lab.hypotheses[0].a.early_stopping" in error_of(cases=[{"early_stopping": {}}, {"early_stopping": ES}],
                                                             lab=bad)


def test_report_select_completes_early_stopping_tables():
    from keras_dyn.report.context import FindingsContext

    cfg = cfg_with(cases=[{"early_stopping": {}}, {"early_stopping": ES}])
    stored = [{"run": {"point": {"early_stopping": {}}, "seed": 0, "hidden": [6]}},
              {"run": {"point": {"early_stopping": dict(cfg.points()[1]["early_stopping"])}, "seed": 0,
                       "hidden": [6]}}]
    ctx = FindingsContext(cfg, stored, "/nonexistent")
    assert ctx.select({"early_stopping": {"patience": 3, "monitor": "val_loss"}}) == [stored[1]]
    assert ctx.select({"early_stopping": {}}) == [stored[0]]
    assert ctx.label(stored[1]) == "early_stopping=val_loss-p3"


def test_tuner_encoding_round_trips_early_stopping():
    from keras_dyn.tuning.space import decode, encode

    cfg = cfg_with(grid={"early_stopping": [{}, ES]})
    for point in cfg.points():
        value = point["early_stopping"]
        text = encode("early_stopping", value)
        assert isinstance(text, str)
        back = decode("early_stopping", text)
        assert back == value and hash(back) == hash(value)
        assert cfg.run_name({"early_stopping": back}, 0) == cfg.run_name(point, 0)


# -- 2. noisy validation labels

NOISY = {"label_noise": 0.4, "label_noise_seed": 3}


def test_label_noise_validation_corrupts_the_validation_split_only():
    from keras_dyn.data import load_dataset

    clean = load_dataset(cfg_with(data=NOISY).data)
    noisy = load_dataset(cfg_with(data={**NOISY, "label_noise_validation": True}).data)
    again = load_dataset(cfg_with(data={**NOISY, "label_noise_validation": True}).data)
    assert clean.y_val_clean is None
    assert (noisy.y_train == clean.y_train).all() and (noisy.x_val == clean.x_val).all()
    assert (noisy.y_test == clean.y_test).all()  # the test set stays clean
    assert (noisy.y_val_clean == clean.y_val).all()
    changed = noisy.y_val != clean.y_val
    assert changed.sum() == round(0.4 * len(clean.y_val))  # symmetric: every chosen label is wrong
    assert (again.y_val == noisy.y_val).all()  # deterministic from the seed
    other = load_dataset(cfg_with(data={**NOISY, "label_noise_seed": 4, "label_noise_validation": True}).data)
    assert (other.y_val != noisy.y_val).any()


def test_label_noise_validation_is_off_by_default_and_old_configs_still_match():
    cfg = cfg_with(data=NOISY)
    assert cfg.data.label_noise_validation is False
    text = cfg.to_toml()
    assert "label_noise_validation = false" in text
    stored = text.replace("label_noise_validation = false\n", "")  # a run folder from before the key
    assert stored != text and same_run_config(stored, text)
    assert not same_run_config(stored, cfg_with(data={**NOISY, "label_noise_validation": True}).to_toml())


def test_label_noise_validation_has_no_effect_without_noise_or_split():
    from keras_dyn.config.effects import no_effect_warnings

    assert no_effect_warnings(cfg_with(data={**NOISY, "label_noise_validation": True})) == []
    (line,) = no_effect_warnings(cfg_with(data={"label_noise_validation": True}))
    assert "data.label_noise_validation: has no effect: data.label_noise = 0" in line
    assert "it acts only when data.label_noise > 0 and data.validation_split > 0" in line
    (line,) = no_effect_warnings(cfg_with(data={**NOISY, "validation_split": 0.0, "label_noise_validation": True}))
    assert "where" not in line and "data.validation_split = 0" in line and "data.label_noise =" not in line
    assert "label_noise_validation" in error_of(data={"label_noise_validation": 1})


# -- 3. first_epoch_of_best: lower is better for losses

def test_first_epoch_of_best_follows_the_metric_direction():
    from keras_dyn.config.lab_kinds import default_better
    from keras_dyn.report.metrics import METRICS

    run = {"run": {"hidden": [6]}, "epochs": {"epoch": [1, 2, 3, 4, 5],
                                               "val_loss": [0.9, 0.5, 0.4, 0.6, 0.8],
                                               "val_accuracy": [0.5, 0.7, 0.9, 0.8, 0.85]}}
    read = METRICS["first_epoch_of_best"].scalar
    assert read(run, {"of": "val_loss", "fraction": 1.0}) == 3.0  # the lowest validation loss
    assert read(run, {"of": "val_loss", "fraction": 0.8}) == 2.0  # 0.5 <= 0.4 / 0.8
    assert read(run, {"of": "val_accuracy", "fraction": 1.0}) == 3.0
    assert read(run, {"of": "val_accuracy", "fraction": 0.75}) == 2.0  # 0.7 >= 0.675
    assert METRICS["val_loss"].better == "lower" and METRICS["val_accuracy"].better == "higher"
    assert default_better(METRICS["test_loss"]) == METRICS["test_loss"].better  # one definition


# -- 4. sweep's log_x, ranking's title

def _lab(findings, grid):
    return {"grid": grid, "lab": {"title": "t", "question": "q", "findings": findings}}


def test_sweep_log_x_and_ranking_title_are_declared_and_checked():
    ok = cfg_with(**_lab([{"section": "sweep", "x": "learning_rate", "log_x": True},
                          {"section": "ranking", "title": "What the tuner picks"}], {"learning_rate": [0.001, 0.01, 0.1]}))
    assert ok.lab is not None
    assert "lab.findings[0].log_x" in error_of(**_lab([{"section": "sweep", "x": "learning_rate", "log_x": "yes"}],
                                                       {"learning_rate": [0.001, 0.01]}))
    text = error_of(**_lab([{"section": "sweep", "x": "label_noise", "log_x": True}], {"label_noise": [0.0, 0.2]}))
    assert "log_x = true needs every label_noise value > 0" in text and len(text.splitlines()) == 1
    assert "lab.findings[0].titel" in error_of(**_lab([{"section": "ranking", "titel": "x"}], {"learning_rate": [0.1]}))


def test_sweep_draws_a_log_x_axis_and_ranking_takes_a_title(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from keras_dyn.report.context import FindingsContext
    from keras_dyn.report.sections import SECTIONS
    import matplotlib.pyplot as plt

    cfg = cfg_with(grid={"learning_rate": [0.001, 0.01, 0.1]})
    results = [{"run": {"point": {"learning_rate": lr}, "seed": s, "hidden": [6], "params": 33,
                        "steps_per_epoch": 3, "status": "complete"},
                "final": {"test_accuracy": 0.5 + lr + 0.01 * s, "train_cpu_seconds": 1.0},
                "epochs": {"epoch": [1], "val_accuracy": [0.6 + lr], "test_accuracy": [0.5 + lr + 0.01 * s]}}
               for lr in (0.001, 0.01, 0.1) for s in (0, 1, 2)]
    ctx = FindingsContext(cfg, results, tmp_path / "fig", "fig/")
    scales = []
    real_save = ctx.save_figure

    def save(fig, name, **kw):
        scales.extend(ax.get_xscale() for ax in fig.axes)
        return real_save(fig, name, **kw)

    monkeypatch.setattr(ctx, "save_figure", save)
    spec = SECTIONS["sweep"]
    params = {k: p.default for k, p in spec.params.items()}
    md = spec.render()(ctx, **{**params, "x": "learning_rate", "log_x": True})
    assert scales == ["log"] and "learning_rate" in md
    spec = SECTIONS["ranking"]
    md = spec.render()(ctx, **{**{k: p.default for k, p in spec.params.items()}, "title": "What the tuner picks"})
    assert md.startswith("### What the tuner picks\n")
    plt.close("all")
