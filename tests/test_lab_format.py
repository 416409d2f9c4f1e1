"""A lab is data: [lab] validation, metrics and readings, the findings engine, the catalogue."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from keras_dyn import tomlio

from keras_dyn import catalogue
from keras_dyn.config import from_dict, load_config
from keras_dyn.errors import ConfigError
from keras_dyn.report import metrics as M

REPO = Path(__file__).resolve().parents[1]

BASE = {
    "experiment": {"name": "toml_only_lab"},
    "data": {"dataset": "circle", "n_samples": 400, "validation_split": 0.2, "label_noise": 0.0},
    "model": {"hidden": [16, 16], "initializer": "he"},
    "training": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 32, "epochs": 3,
                 "seeds": [0, 1, 2]},
    "grid": {"units": [4, 32], "label_noise": [0.0, 0.3]},
    "log": {"gradients": True, "activations": True, "weights": False},
    "lab": {
        "title": "Width and label noise on the circle",
        "question": "Does width help, and is noise memorised?",
        "runner": "sequential",
        "hypotheses": [
            {"id": "H1", "statement": "32 units beat 4 units on validation accuracy", "metric": "val_accuracy",
             "at": 3, "expect": "greater", "a": {"units": 32, "label_noise": 0.0},
             "b": {"units": 4, "label_noise": 0.0}},
            {"id": "H2", "statement": "the first layer gets a smaller gradient than the output layer",
             "metric": "grad_norm", "at": "last", "expect": "less",
             "a": {"layer": "hidden1/kernel", "units": 32}, "b": {"layer": "output/kernel", "units": 32},
             "pool": ["label_noise"]},
            {"id": "H3", "statement": "noisy labels are memorised more with 32 units",
             "metric": "memorised_frac", "at": "last", "expect": "greater",
             "a": {"units": 32, "label_noise": 0.3}, "b": {"units": 4, "label_noise": 0.3}},
        ],
        "claims": [{"claim": "wider is better", "hypotheses": ["H1"], "source_value": "—", "tested_as": "stated"},
                   {"claim": "wider memorises more", "hypotheses": ["H3"], "tested_as": "weaker",
                    "why": "H3 reads one noise level only"}],
        "findings": [
            {"section": "seed_table", "metrics": ["val_accuracy", "test_accuracy"], "at": [1, 3]},
            {"section": "curves", "metric": "val_accuracy", "by": ["units"]},
            {"section": "pairwise", "metric": "test_accuracy", "baseline": {"units": 4, "label_noise": 0.0}},
            {"section": "runs", "metrics": ["test_accuracy", "dead_frac"], "params": {"layer": "mean"}},
        ],
    },
}


def _raw(**changes):
    raw = tomlio.loads(tomlio.dumps(BASE))
    for dotted, value in changes.items():
        node = raw
        parts = dotted.split(".")
        for p in parts[:-1]:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is DELETE:
            del node[parts[-1]]
        else:
            node[int(parts[-1]) if parts[-1].isdigit() else parts[-1]] = value
    return raw


DELETE = object()


def test_valid_lab_parses():
    cfg = from_dict(_raw())
    assert [h.id for h in cfg.lab.hypotheses] == ["H1", "H2", "H3"]
    assert cfg.lab.hypotheses[0].a.at.epoch == 3
    assert cfg.lab.findings[0].params["at"][1].epoch == 3
    assert "lab" in cfg.to_dict() and "lab" not in cfg.at_point({"units": 4, "label_noise": 0.0}).to_dict()


BROKEN = [
    ({"lab.colour": "red"}, "lab.colour", "unknown key"),
    ({"lab.runner": "gird"}, "lab.runner", "did you mean 'grid'"),
    ({"lab.hypotheses.0.expect": "greatr"}, "lab.hypotheses[0].expect", "did you mean 'greater'"),
    ({"lab.hypotheses.0.expect": DELETE}, "lab.hypotheses[0].expect", "missing"),
    ({"lab.hypotheses.0.metric": "val_acuracy"}, "lab.hypotheses[0].metric", "did you mean 'val_accuracy'"),
    ({"lab.hypotheses.0.a": {"units": 64}}, "lab.hypotheses[0].a.units", "not in the grid"),
    ({"lab.hypotheses.0.a": {"width": 32}}, "lab.hypotheses[0].a.width", "not a grid key"),
    ({"lab.hypotheses.0.at": 4}, "lab.hypotheses[0].at", "past the end"),
    ({"lab.hypotheses.0.at": "best"}, "lab.hypotheses[0].at", "unknown reading"),
    ({"lab.hypotheses.0.at": 0}, "lab.hypotheses[0].at", "numbered from 1"),
    ({"lab.hypotheses.0.at": "last:9"}, "lab.hypotheses[0].at", "needs 9 epochs"),
    ({"lab.hypotheses.1.a": {"layer": "hidden9/kernel", "units": 32}}, "lab.hypotheses[1].a.layer", "does not exist"),
    ({"lab.hypotheses.1.a": {"layer": "hiden1", "units": 32}}, "lab.hypotheses[1].a.layer", "unknown layer"),
    ({"lab.hypotheses.2.b": {"units": 4, "label_noise": 0.0}}, "lab.hypotheses[2]", "label_noise > 0"),
    ({"lab.hypotheses.1.id": "H1"}, "lab.hypotheses[1].id", "duplicate id"),
    ({"lab.hypotheses.0.b": {"units": 32, "label_noise": 0.0}}, "lab.hypotheses[0]", "the same runs"),
    ({"lab.claims.0.hypotheses": ["H9"]}, "lab.claims[0].hypotheses", "no hypothesis 'H9'"),
    ({"lab.claims.0.tested_as": DELETE}, "lab.claims[0].tested_as", "missing; allowed: stated, weaker, related, untested"),
    ({"lab.claims.0.tested_as": "weak"}, "lab.claims[0].tested_as", "did you mean 'weaker'"),
    ({"lab.claims.0.tested_as": 1}, "lab.claims[0].tested_as", "must be a string"),
    ({"lab.claims.0.tested_as": "Stated"}, "lab.claims[0].tested_as", "unknown value 'Stated'"),
    ({"lab.claims.1.why": DELETE}, "lab.claims[1].why", "needs one sentence"),
    ({"lab.claims.1.why": ""}, "lab.claims[1].why", "missing"),
    ({"lab.claims.1.why": 3}, "lab.claims[1].why", "must be a string"),
    ({"lab.claims.0.hypotheses": []}, "lab.claims[0].hypotheses", "[] only with tested_as = \"untested\""),
    ({"lab.claims.0.hypotheses": DELETE}, "lab.claims[0].hypotheses", "non-empty list"),
    ({"lab.claims.1.tested_as": "untested"}, "lab.claims[1].hypotheses", "must be [] when tested_as = \"untested\""),
    ({"lab.claims.0.tested_as": "untested", "lab.claims.0.hypotheses": []}, "lab.claims[0].why", "needs one sentence"),
    ({"lab.claims.0.colour": "red"}, "lab.claims[0].colour", "allowed: claim, hypotheses, tested_as, why"),
    ({"lab.findings.0.section": "seed_tabel"}, "lab.findings[0].section", "did you mean 'seed_table'"),
    ({"lab.findings.0.colour": 1}, "lab.findings[0].colour", "unknown key"),
    ({"lab.findings.1.by": ["width"]}, "lab.findings[1].by", "not a grid key"),
    ({"lab.findings.2.baseline": {"units": 7}}, "lab.findings[2].baseline.units", "not in the grid"),
    ({"lab.findings.0.at": ["never"]}, "lab.findings[0].at", "unknown reading"),
    ({"lab.title": DELETE}, "lab.title", "missing"),
    ({"log.gradients": False}, "lab.hypotheses[1]", "log.gradients = true"),
    ({"data.validation_split": 0.0}, "lab.hypotheses[0]", "validation_split > 0"),
]


@pytest.mark.parametrize("changes,key,words", BROKEN, ids=[b[1] + ":" + b[2] for b in BROKEN])
def test_broken_lab_section_is_one_line_naming_the_key(changes, key, words):
    with pytest.raises(ConfigError) as info:
        from_dict(_raw(**changes), source="lab.toml")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("config error: lab.toml: " + key), text
    assert words in text, text


def test_claims_say_how_they_are_tested():
    claims = from_dict(_raw()).lab.claims
    assert [(c.tested_as, c.why) for c in claims] == [("stated", ""), ("weaker", "H3 reads one noise level only")]
    untested = from_dict(_raw(**{"lab.claims.0.tested_as": "untested", "lab.claims.0.hypotheses": [],
                                 "lab.claims.0.why": "needs a noise sweep this lab does not run"})).lab.claims[0]
    assert untested.hypotheses == () and untested.tested_as == "untested"
    left_out = _raw(**{"lab.claims.0.tested_as": "untested", "lab.claims.0.why": "not run here"})
    del left_out["lab"]["claims"][0]["hypotheses"]
    assert from_dict(left_out).lab.claims[0].hypotheses == ()


def test_claims_table_shows_how_each_claim_is_tested():
    from keras_dyn.report.findings import claims_table
    lab = from_dict(_raw(**{"lab.claims.0.tested_as": "untested", "lab.claims.0.hypotheses": [],
                            "lab.claims.0.why": "needs a noise sweep"})).lab
    text = "\n".join(claims_table(lab, {"H3": "supported"}))
    assert "| claim | source's number | this lab (verdict) | tested as | why |" in text
    assert "| wider is better | — | not tested here | untested | needs a noise sweep |" in text
    assert "| wider memorises more | — | H3: supported | weaker | H3 reads one noise level only |" in text


def test_broken_lab_from_the_command_line_exits_2_and_writes_nothing(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(tomlio.dumps(_raw(**{"lab.hypotheses.0.expect": "bigger"})))
    logdir = tmp_path / "logs"
    proc = subprocess.run([sys.executable, "-m", "keras_dyn", "run", str(path), "--logdir", str(logdir)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "expect" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not logdir.exists()


# --------------------------------------------------------------------------- metrics and readings


def _result(val, test=None, status="complete"):
    n = len(val)
    return {"run": {"seed": 0, "status": status, "hidden": [8, 8]},
            "epochs": {"epoch": list(range(1, n + 1)), "val_accuracy": val,
                       "test_accuracy": test or [0.5] * n, "train_accuracy": [0.9] * n}}


def test_readings():
    r = _result([0.5, 0.7, 0.7, 0.6], test=[0.1, 0.2, 0.3, 0.4])
    assert M.value(r, "test_accuracy", at=M.parse_reading(2)) == 0.2
    assert M.value(r, "test_accuracy", at=M.parse_reading("last")) == 0.4
    assert M.value(r, "test_accuracy", at=M.parse_reading("last:2")) == pytest.approx(0.35)
    # best validation epoch: the first of the ties (epoch 2), never chosen on test accuracy
    assert M.best_val_epoch(r) == 2
    assert M.value(r, "test_accuracy", at=M.parse_reading("best_val")) == 0.2
    assert M.value(r, "train_test_gap", at=M.parse_reading(4)) == pytest.approx(0.5)


def test_diverged_run_reads_nan_after_it_diverged():
    r = _result([0.5, float("nan")], test=[0.3, float("nan")], status="diverged")
    assert M.value(r, "test_accuracy", at=M.parse_reading(1)) == 0.3
    assert math.isnan(M.value(r, "test_accuracy", at=M.parse_reading("last")))
    assert math.isnan(M.value(r, "test_accuracy", at=M.parse_reading(5)))


def test_first_epoch_metric():
    r = _result([0.5, 0.7, 0.8, 0.9])
    assert M.value(r, "first_epoch", {"of": "val_accuracy", "threshold": 0.75}) == 3
    assert M.value(r, "first_epoch", {"of": "val_accuracy", "fraction": 0.75}) == 2  # 0.675 of 0.9
    assert M.value(r, "first_epoch", {"of": "val_accuracy", "threshold": 0.95}) == math.inf


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def lab_tree(tmp_path, monkeypatch):
    """A lab collection in a temporary folder: configs/<name>.toml and labs/<name>/LOG.md."""
    monkeypatch.setattr(catalogue, "configs_root", lambda: tmp_path / "configs")
    monkeypatch.setattr(catalogue, "labs_root", lambda: tmp_path / "labs")
    (tmp_path / "configs").mkdir()
    (tmp_path / "labs").mkdir()
    return tmp_path


def test_scaffolded_lab_lists_and_refuses_to_overwrite(lab_tree):
    config_path, log_path = catalogue.scaffold("exp99_mine")
    cfg = load_config(config_path)  # the template is a valid lab
    assert cfg.lab.hypotheses[0].id == "H1"
    text = log_path.read_text()
    for part in ("## Hypothesis", "## Your prediction", "keras_dyn:setup:start", "keras_dyn:findings:start",
                 "## What I learned", "## Discussion questions", "H1"):
        assert part in text
    assert [lab.name for lab in catalogue.list_labs()] == ["exp99_mine"]
    with pytest.raises(Exception, match="exists already"):
        catalogue.scaffold("exp99_mine")
    with pytest.raises(Exception, match="not allowed"):
        catalogue.scaffold("../escape")


@pytest.mark.slow  # end to end (real runs, ~10-30 s): in `pytest -m slow`, which CI runs
def test_toml_only_lab_on_grid_and_label_noise_runs_to_verdicts(lab_tree, monkeypatch, capsys):
    """The issue's check: a new lab as TOML only (grid and label noise) runs and gives its verdicts."""
    from keras_dyn.cli.lab import main

    name = "exp98_toml_only"
    catalogue.scaffold(name)
    raw = _raw(**{"experiment.name": name, "training.seeds": [0, 1]})  # 2 x 2 grid x 2 seeds: 8 runs
    (lab_tree / "configs" / f"{name}.toml").write_text(tomlio.dumps(raw))
    logdir = lab_tree / "modellogs"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    assert main(name, ["--logdir", str(logdir)]) == 0
    log = (lab_tree / "labs" / name / "LOG.md").read_text()
    findings = log.split("keras_dyn:findings:start")[1]
    for hid in ("H1", "H2", "H3"):
        assert findings.count(f"**{hid}**") == 1
    assert findings.count("**Verdict: ") == 3
    assert "What these seeds can resolve" in findings
    assert "The source's claims" in findings
    setup = log.split("keras_dyn:setup:start")[1].split("keras_dyn:setup:end")[0]
    assert "circle" in setup and "seeds 0, 1" in setup and "seeds 0, 1, 2" not in setup and "label noise" in setup
    assert (lab_tree / "labs" / name / "figures" / "val_accuracy_vs_epochs.png").stat().st_size > 1000
    last = catalogue.find_lab(name).last_run()
    assert set(last["verdicts"]) == {"H1", "H2", "H3"} and last["runs"] == 8
    assert name in catalogue.format_catalogue(catalogue.list_labs())


def test_python_m_labs_finds_a_data_only_lab():
    """labs/exp2_epochs_vs_width has no __main__.py: labs/__init__ supplies it."""
    assert not (REPO / "labs" / "exp2_epochs_vs_width" / "__main__.py").exists()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "labs.exp2_epochs_vs_width", "--help"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout and "Epochs against width" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "labs"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "exp2_epochs_vs_width" in proc.stdout


def test_every_shipped_lab_config_is_valid():
    labs = catalogue.list_labs()
    assert len(labs) >= 5
    for lab in labs:
        cfg = load_config(lab.config_path)
        assert cfg.lab is not None and cfg.lab.hypotheses, lab.name
        assert lab.log_path.is_file()
