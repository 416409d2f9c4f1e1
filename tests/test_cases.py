"""``[[cases]]``: listed combinations beside the cartesian ``[grid]``. The plan they expand to,
every bad input refused by ``check`` (exit 2, one line, nothing written), ``[lab]`` selectors on
case keys, the round trip through ``to_toml``, and tiny runs on ``circle`` through both runners
(``run`` and the keras-tuner grid)."""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import keras_tuner
import pytest
from keras_dyn import tomlio

from keras_dyn.__main__ import main
from keras_dyn.config import from_dict, load_config

REPO = Path(__file__).resolve().parents[1]

BASE = """
[experiment]
name = "cases_test"

[data]
dataset = "circle"
n_samples = 160
validation_split = 0.25

[model]
hidden = [6, 6]
initializer = "he"

[training]
batch_size = 32
epochs = 1
seeds = [0, 1]

[log]
gradients = false
activations = false
weights = {weights}

[grid]
activation = ["relu", "tanh"]

[[cases]]
optimizer = "sgd"
learning_rate = 0.1

[[cases]]
optimizer = "adam"
learning_rate = 0.01
"""

LAB = """
[lab]
title = "t"
question = "q"
runner = "{runner}"

[[lab.hypotheses]]
id = "H1"
statement = "Adam beats SGD"
metric = "val_accuracy"
expect = "greater"
a = {{ optimizer = "adam" }}
b = {{ optimizer = "sgd" }}
pool = ["activation"]

[[lab.findings]]
section = "seed_table"
metrics = ["val_accuracy"]
by = ["optimizer"]
"""


def write(tmp_path, text=None, name="c.toml", weights=False, lab=None):
    path = tmp_path / name
    body = (text or BASE).replace("{weights}", "true" if weights else "false")
    if lab:
        body += LAB.format(runner=lab)
    path.write_text(body, encoding="utf-8")
    return path


def check(path):
    """``main(["check", path])``: (exit code, stderr lines, stdout)."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(["check", str(path)])
    return code, [line for line in err.getvalue().splitlines() if line.strip()], out.getvalue()


# --------------------------------------------------------------------------- the plan


def test_plan_is_each_case_times_every_grid_point_in_order(tmp_path):
    cfg = load_config(write(tmp_path))
    assert cfg.cases == ({"optimizer": "sgd", "learning_rate": 0.1},
                         {"optimizer": "adam", "learning_rate": 0.01})
    assert cfg.points() == [
        {"optimizer": "sgd", "learning_rate": 0.1, "activation": "relu"},
        {"optimizer": "sgd", "learning_rate": 0.1, "activation": "tanh"},
        {"optimizer": "adam", "learning_rate": 0.01, "activation": "relu"},
        {"optimizer": "adam", "learning_rate": 0.01, "activation": "tanh"},
    ]
    assert cfg.n_points == 4
    assert cfg.swept == {"optimizer": ("sgd", "adam"), "learning_rate": (0.1, 0.01),
                         "activation": ("relu", "tanh")}
    run = cfg.at_point(cfg.points()[2], seed=1)
    assert (run.training.optimizer, run.training.learning_rate, run.model.activation) == ("adam", 0.01, "relu")
    assert not run.cases and not run.grid
    assert cfg.run_name(cfg.points()[0], 0) == "w6-6_bs32_relu_sgd_lr0.1_s0"
    code, lines, out = check(write(tmp_path))
    assert code == 0 and lines[-1].endswith("ok, 8 run(s)")
    assert out.split() == [cfg.run_name(p, s) for p in cfg.points() for s in (0, 1)]


def test_cases_without_a_grid_and_structural_keys(tmp_path):
    text = BASE.replace('[grid]\nactivation = ["relu", "tanh"]\n', "")
    text = text.replace('optimizer = "sgd"\nlearning_rate = 0.1', 'layers = 1\nunits = 4')
    text = text.replace('optimizer = "adam"\nlearning_rate = 0.01', 'layers = 3\nunits = 8')
    cfg = load_config(write(tmp_path, text))
    assert [cfg.at_point(p).model.hidden for p in cfg.points()] == [(4,), (8, 8, 8)]
    assert [cfg.run_name(p, 0) for p in cfg.points()] == ["w4_bs32_s0", "w8-8-8_bs32_s0"]


def test_round_trip_through_to_toml(tmp_path):
    cfg = load_config(write(tmp_path, lab="sequential"))
    text = cfg.to_toml()
    again = from_dict(tomlio.loads(text), source=cfg.source)
    assert again.cases == cfg.cases and again.points() == cfg.points()
    assert again.to_toml() == text
    assert cfg.replace(training={"epochs": 2}).cases == cfg.cases


def test_quick_version_caps_epochs_in_cases_and_merges_equal_ones(tmp_path):
    from keras_dyn.runs.experiment import quick_version

    text = BASE.replace('learning_rate = 0.1', 'learning_rate = 0.1\nepochs = 8').replace(
        'optimizer = "adam"\nlearning_rate = 0.01', 'optimizer = "sgd"\nlearning_rate = 0.1\nepochs = 20')
    cfg = load_config(write(tmp_path, text))
    assert len(cfg.cases) == 2
    quick = quick_version(cfg)
    assert quick.cases == ({"optimizer": "sgd", "learning_rate": 0.1, "epochs": 2},)


def test_lab_selectors_and_groupings_use_case_keys(tmp_path):
    cfg = load_config(write(tmp_path, lab="sequential"))
    hyp = cfg.lab.hypotheses[0]
    assert hyp.a.select == {"optimizer": "adam"} and hyp.b.select == {"optimizer": "sgd"}


# --------------------------------------------------------------------------- refused inputs

BAD = [
    # (what to replace, by what, dotted key in the error, words in the message)
    ('optimizer = "adam"', 'optimiser = "adam"', "cases[1].optimiser", "unknown key (did you mean 'optimizer'?); allowed: units"),
    ("learning_rate = 0.01", "learning_rate = 0.0", "cases[1].learning_rate", "0.0 is out of range"),
    ("learning_rate = 0.01", "learning_rate = 12.0", "cases[1].learning_rate", "out of range; allowed: > 0.0 and <= 10.0"),
    ("learning_rate = 0.01", 'learning_rate = "fast"', "cases[1].learning_rate", "must be a number"),
    ('optimizer = "adam"', 'optimizer = "adamm"', "cases[1].optimizer", "unknown value 'adamm' (did you mean 'adam'?)"),
    ('optimizer = "adam"\nlearning_rate = 0.01', 'optimizer = "sgd"\nlearning_rate = 0.1', "cases[1]", "is the same as cases[0]"),
    ("learning_rate = 0.01", "learning_rate = 0.01\nbatch_size = 16", "cases[1]", "adds batch_size; every case must set the same keys"),
    ('optimizer = "adam"\nlearning_rate = 0.01', 'optimizer = "adam"', "cases[1]", "lacks learning_rate"),
    ("learning_rate = 0.01", 'learning_rate = 0.01\nactivation = "relu"', "cases[1].activation", "is also a [grid] key"),
    ('optimizer = "adam"\nlearning_rate = 0.01', 'optimizer = "sgd"\nlearning_rate = 0.1000001', "cases", "both give the run name"),
    ('[[cases]]\noptimizer = "adam"\nlearning_rate = 0.01\n', "[[cases]]\n", "cases[1]", "is empty"),
    ("learning_rate = 0.01", "learning_rate = 0.01\nunits_3 = 4", "cases[1]", "adds units_3"),
]


@pytest.mark.parametrize("old, new, key, words", BAD, ids=[b[2] + ":" + b[3][:20] for b in BAD])
def test_bad_cases_are_one_line_exit_2(tmp_path, monkeypatch, old, new, key, words):
    monkeypatch.chdir(tmp_path)
    text = BASE[::-1].replace(old[::-1], new[::-1], 1)[::-1]  # the last occurrence: the second case
    assert text != BASE
    path = write(tmp_path, text)
    before = sorted(tmp_path.rglob("*"))
    code, lines, _ = check(path)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"config error: {path}: {key}: "), lines[0]
    assert words in lines[0], lines[0]
    assert sorted(tmp_path.rglob("*")) == before


def test_other_refusals(tmp_path):
    def refused(text, key, words):
        code, lines, _ = check(write(tmp_path, text))
        # every error of the file at once: the first names the key; two bad cases give two lines
        assert code == 2 and f": {key}: " in lines[0] and words in lines[0], lines
        assert all(line.startswith("config error: ") for line in lines), lines

    no_cases = BASE[:BASE.index("[[cases]]")]
    refused("cases = []\n" + no_cases, "cases", "must be a non-empty list of tables")
    refused("cases = 3\n" + no_cases, "cases", "must be a non-empty list of tables")
    refused("cases = [1, 2]\n" + no_cases, "cases", "must be a non-empty list of tables")
    refused(BASE.replace('learning_rate = 0.1', 'learning_rate = 0.1\nunits_3 = 4')
            .replace('learning_rate = 0.01', 'learning_rate = 0.01\nunits_3 = 5'),
            "cases[0].units_3", "the model has only 2 hidden layers")
    refused(BASE.replace('learning_rate = 0.1', 'learning_rate = 0.1\nhidden = 4')
            .replace('learning_rate = 0.01', 'learning_rate = 0.01\nhidden = 5'),
            "cases[0].hidden", "must be a list of widths")
    refused(BASE.replace('learning_rate = 0.1', 'learning_rate = 0.1\nunits = 100001')
            .replace('learning_rate = 0.01', 'learning_rate = 0.01\nunits = 4'),
            "cases[0].units", "from 1 to 100000")
    refused(BASE.replace('learning_rate = 0.1', 'learning_rate = 0.1\nhidden = [4]\nunits = 4')
            .replace('learning_rate = 0.01', 'learning_rate = 0.01\nhidden = [5]\nunits = 5'),
            "cases[0].hidden", "use either hidden or units/layers")


def test_lab_selector_naming_a_value_in_no_case_is_refused(tmp_path):
    path = write(tmp_path, lab="sequential")
    path.write_text(path.read_text().replace('a = { optimizer = "adam" }', 'a = { optimizer = "rmsprop" }'))
    code, lines, _ = check(path)
    assert code == 2 and len(lines) == 1
    assert ": lab.hypotheses[0].a.optimizer: 'rmsprop' is in no case; the cases' optimizer values are 'sgd', 'adam'" in lines[0]
    path.write_text(path.read_text().replace('a = { optimizer = "rmsprop" }', 'a = { learning_rate = 0.5 }'))
    code, lines, _ = check(path)
    assert code == 2 and "lab.hypotheses[0].a.learning_rate: 0.5 is in no case" in lines[0]
    path.write_text(path.read_text().replace('by = ["optimizer"]', 'by = ["momentum"]'))
    code, lines, _ = check(path)
    assert code == 2  # (the hypothesis still fails first; a bad `by` is covered below)
    ok = write(tmp_path, name="ok.toml", lab="sequential")
    ok.write_text(ok.read_text().replace('by = ["optimizer"]', 'by = ["momentum"]'))
    code, lines, _ = check(ok)
    assert code == 2 and "lab.findings[0].by: a string ('momentum') is not a grid key" in lines[0]
    assert "grid keys: optimizer, learning_rate, activation" in lines[0]


def test_check_in_a_subprocess_misspelt_case_key(tmp_path):
    text = BASE[::-1].replace('optimizer = "adam"'[::-1], 'optimzer = "adam"'[::-1], 1)[::-1]
    path = write(tmp_path, text)
    work = tmp_path / "cwd"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-m", "keras_dyn", "check", str(path)], cwd=work,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"config error: {path}: cases[1].optimzer: unknown key (did you mean 'optimizer'?)")
    assert not any(work.iterdir())


# --------------------------------------------------------------------------- the tuner's space


def test_hypermodel_declares_the_case_index_first(tmp_path):
    from keras_dyn.tuning import ExperimentHyperModel, hparams_domains, plan_of

    cfg = load_config(write(tmp_path))
    hm = ExperimentHyperModel(cfg, tmp_path)
    hp = keras_tuner.HyperParameters()
    point, seed = hm.declare(hp)
    assert [h.name for h in hp.space] == ["case", "activation", "seed"]
    assert point == {"optimizer": "sgd", "learning_rate": 0.1, "activation": "relu"} and seed == 0
    assert len(plan_of(cfg)) == 8
    hp.values["case"] = 1
    assert hm.declare(hp)[0]["optimizer"] == "adam"
    names = [h.name for h in hparams_domains(cfg)]
    assert names == ["optimizer", "learning_rate", "activation", "seed"]  # the case's values shown


# --------------------------------------------------------------------------- tiny runs


@pytest.mark.slow  # end to end (real runs, ~10-30 s): in `pytest -m slow`, which CI runs
def test_tiny_cases_run_sequential_and_grid_and_findings(tmp_path):
    """Two cases x two activations x 2 seeds on circle through `run` and the keras-tuner grid:
    the same run folders, each run trained with its case's optimiser and rate, the findings'
    verdict and grouping by a case key, the HParams session with the case's values."""
    from keras_dyn.report.findings import build_findings
    from keras_dyn.report.setup import setup_markdown
    from keras_dyn.report.results import records_to_results
    from keras_dyn.runs.files import read_toml
    from keras_dyn.runs.experiment import run_experiment
    from keras_dyn.tuning import run_grid

    cfg = load_config(write(tmp_path, weights=True, lab="grid"))
    by_run = run_experiment(cfg, tmp_path / "a", verbose=False)
    by_tuner = run_grid(cfg, tmp_path / "b", verbose=False)
    names = [r.run_dir.name for r in by_run]
    assert names == [r.run_dir.name for r in by_tuner]
    assert names[0] == "w6-6_bs32_relu_sgd_lr0.1_s0" and names[-1] == "w6-6_bs32_tanh_adam_lr0.01_s1"
    for t, r in zip(by_tuner, by_run):
        assert t.results["run"]["point"] == r.results["run"]["point"]
        assert t.results["final"]["test_accuracy"] == pytest.approx(r.results["final"]["test_accuracy"], abs=1e-6)
    for rec in by_run:
        run_cfg = read_toml(rec.run_dir / "config.toml")
        point = rec.results["run"]["point"]
        assert run_cfg["training"]["optimizer"] == point["optimizer"]
        assert run_cfg["training"]["learning_rate"] == point["learning_rate"]
        assert rec.results["epochs"]["learning_rate"][0] == pytest.approx(point["learning_rate"])
        assert "cases" not in run_cfg
    results = records_to_results(by_run)
    findings = build_findings(cfg, results, tmp_path / "figs")
    assert not findings.errors, findings.errors
    assert "**H1**" in findings.markdown and "optimizer=adam" in findings.markdown
    setup = setup_markdown(cfg, results)
    assert "- Cases (2, each overriding the values above, run with every grid point): " \
           "{optimizer = sgd, learning_rate = 0.1}; {optimizer = adam, learning_rate = 0.01}." in setup
    assert "2 case(s) × 2 grid point(s) = 4 configuration(s) × 2 seed(s)" in setup
    # the HParams session of a trial holds the case's values
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(by_tuner[2].run_dir))
    acc.Reload()
    content = acc.PluginTagToContent("hparams")
    data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hps = {k: v for k, v in data.session_start_info.hparams.items()}
    assert hps["optimizer"].string_value == "sgd" and hps["learning_rate"].number_value == pytest.approx(0.1)
    assert hps["activation"].string_value == "tanh"


def test_shipped_exp10_runs_each_optimiser_at_its_own_rate():
    cfg = load_config(REPO / "configs" / "exp10_optimizers.toml")
    rates = {p["optimizer"]: p["learning_rate"] for p in cfg.points()}
    assert list(rates) == ["sgd", "sgd_momentum", "adam"] and len(cfg.points()) == 3
    assert rates["adam"] < rates["sgd"]
    assert len(cfg.training.seeds) == 5 and cfg.log.weights and cfg.log.gradients
    h7 = next(h for h in cfg.lab.hypotheses if h.id == "H7")
    assert (h7.metric, h7.a.params, h7.b.params) == ("layer_spread", {"of": "update_rms"}, {"of": "grad_rms"})
    assert any(s.section == "gradient_vs_update" for s in cfg.lab.findings)
