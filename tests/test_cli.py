"""The ``keras-dyn`` command: its commands and options, labs from any folder, worksheets written
only where asked (never into the lab's own LOG.md), one-line errors with exit status 2."""

import re

import pytest

from keras_dyn import catalogue, cli
from keras_dyn.report.lablog import FINDINGS_END, FINDINGS_START, SETUP_END, SETUP_START

TINY_LAB_TOML = """
[experiment]
name = "tinylab"

[data]
dataset = "circle"
n_samples = 400
subset = 240        # below --quick's caps (1000 training, 500 test examples), which a
test_subset = 80    # synthetic set of 1000 points at most cannot fill
validation_split = 0.25

[model]
hidden = [6, 6]

[training]
learning_rate = 0.02
batch_size = 32
epochs = 2
seeds = [0, 1]

[log]
gradients = false
activations = false
weights = false

[grid]
units = [3, 9]

[lab]
title = "Width on the circle"
question = "Is 9-9 better than 3-3 after 2 epochs?"
runner = "sequential"

[[lab.hypotheses]]
id = "H1"
statement = "9-9 has a higher validation accuracy than 3-3 after 2 epochs"
metric = "val_accuracy"
at = 2
expect = "greater"
a = { units = 9 }
b = { units = 3 }

[[lab.findings]]
section = "seed_table"
metrics = ["val_accuracy"]

[[lab.findings]]
section = "curves"
metric = "val_accuracy"
"""

TINY_LOG = f"""# Lab tinylab — width on the circle

Run it with `python -m labs.tinylab`. The experiment is [`configs/tinylab.toml`](../../configs/tinylab.toml).

## Hypothesis

**9-9 beats 3-3 after two epochs.** See [the sketch](figures/sketch.png).

## Your prediction

-
-

## Setup

{SETUP_START}
_Written by the first full run._
{SETUP_END}

{FINDINGS_START}
## Findings (generated)

Mean ± sd over 9 seeds: **supported**, within seed noise. ![old](figures/old_curve.png)
<!-- keras_dyn:summary {{"runs": 4, "quick": false}} -->
{FINDINGS_END}

## What I learned

MY OWN NOTES
"""

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
       b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00"
       b"\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def tiny_lab(tmp_path, monkeypatch):
    """A checkout-like pair of folders with one lab (tinylab) that the catalogue finds."""
    configs, labs = tmp_path / "repo" / "configs", tmp_path / "repo" / "labs"
    (labs / "tinylab" / "figures").mkdir(parents=True)
    configs.mkdir(parents=True)
    (configs / "tinylab.toml").write_text(TINY_LAB_TOML)
    (labs / "tinylab" / "LOG.md").write_text(TINY_LOG)
    (labs / "tinylab" / "figures" / "sketch.png").write_bytes(PNG)
    (labs / "tinylab" / "figures" / "old_curve.png").write_bytes(PNG)
    monkeypatch.setattr(catalogue, "configs_root", lambda: configs)
    monkeypatch.setattr(catalogue, "labs_root", lambda: labs)
    return labs / "tinylab"


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: keras-dyn")
    for command in ("run", "grid", "check", "lab", "labs", "worksheet"):
        assert f"\n    {command} " in out or f"\n    {command}\n" in out, command


def test_experiment_commands_are_keras_dyn_main_with_the_console_name(tiny_config, capsys):
    assert cli.main(["check", str(tiny_config)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == ["w8-8_bs32_s0", "w8-8_bs32_s1"]
    assert "ok, 2 run(s)" in captured.err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--nope", str(tiny_config)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage error: keras-dyn") and "unrecognized arguments: --nope" in err
    assert err.count("\n") == 1  # one line


def test_python_m_keras_dyn_has_the_same_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"], prog="python -m keras_dyn")
    assert capsys.readouterr().out.startswith("usage: python -m keras_dyn")


def test_labs_lists_the_catalogue_with_the_keras_dyn_command(tiny_lab, capsys):
    assert cli.main(["labs"]) == 0
    out = capsys.readouterr().out
    assert "tinylab — Width on the circle" in out
    assert "question: Is 9-9 better than 3-3 after 2 epochs?" in out
    assert "run: keras-dyn lab tinylab" in out and "python -m labs" not in out


def test_unknown_lab_is_one_line_exit_2(tiny_lab, capsys):
    assert cli.main(["lab", "tinylba"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no lab 'tinylba' (did you mean 'tinylab'?)" in err
    assert cli.main(["worksheet", "nope"]) == 2


def test_lab_options_follow_the_name(tiny_lab, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["lab", "tinylab", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: keras-dyn lab tinylab")
    for option in ("--quick", "--seeds N", "--logdir DIR", "--data-dir DIR", "--worksheet DIR"):
        assert option in out
    assert "--workers" not in out  # a sequential lab
    with pytest.raises(SystemExit) as exit_:
        cli.main(["lab", "tinylab", "--seeds", "0"])
    assert exit_.value.code == 2


@pytest.mark.slow  # end to end (real runs, ~10-30 s): in `pytest -m slow`, which CI runs
def test_lab_run_writes_the_worksheet_only_where_asked(tiny_lab, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    log_before = (tiny_lab / "LOG.md").read_bytes()
    # without --worksheet: runs and findings under ./modellogs, no worksheet anywhere
    assert cli.main(["lab", "tinylab", "--seeds", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "modellogs" / "tinylab").glob("FINDINGS-*.md"))
    assert (tiny_lab / "LOG.md").read_bytes() == log_before
    assert not list(tmp_path.glob("*.md"))
    # --quick with --worksheet: quick findings never go into a worksheet
    assert cli.main(["lab", "tinylab", "--quick", "--worksheet", "sheets"]) == 0
    assert not (tmp_path / "sheets").exists()
    assert "--quick: the worksheet is not written" in capsys.readouterr().err
    # a full run with --worksheet: the blank worksheet first, then its generated blocks
    assert cli.main(["lab", "tinylab", "--worksheet", "sheets"]) == 0
    sheet = tmp_path / "sheets" / "tinylab.md"
    text = sheet.read_text()
    block = text.split(FINDINGS_START)[1].split(FINDINGS_END)[0]
    assert block.lstrip().startswith("## Findings (generated)")
    assert "4 run(s): 2 configuration(s) × seeds 0, 1" in block and "Verdict: " in block
    assert "9 seeds" not in text and "MY OWN NOTES" in text
    assert re.search(r"- Data: circle, [0-9,]+ training / [0-9,]+ validation", text)  # setup from the runs
    figures = list((tmp_path / "sheets" / "tinylab-figures").glob("*.png"))
    assert any(f.name != "sketch.png" for f in figures)  # the run's figures beside the sketch
    assert "](tinylab-figures/" in block and "](figures/" not in block
    assert (tiny_lab / "LOG.md").read_bytes() == log_before, "the lab's own LOG.md is never written"
    # the student's notes survive a second run
    sheet.write_text(text.replace("MY OWN NOTES", "MY OWN NOTES, EDITED"))
    assert cli.main(["lab", "tinylab", "--worksheet", "sheets"]) == 0
    assert "MY OWN NOTES, EDITED" in sheet.read_text()


def test_installed_labs_are_found_in_the_package_and_are_never_written(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "keras_dyn"
    (package / "_configs").mkdir(parents=True)
    (package / "_labs" / "tinylab").mkdir(parents=True)
    (package / "_configs" / "tinylab.toml").write_text(TINY_LAB_TOML)
    (package / "_labs" / "tinylab" / "LOG.md").write_text(TINY_LOG)
    monkeypatch.setattr(catalogue, "PACKAGE_DIR", package)
    assert catalogue.installed()
    assert catalogue.configs_root() == package / "_configs"
    assert catalogue.labs_root() == package / "_labs"
    assert [lab.name for lab in catalogue.list_labs()] == ["tinylab"]
    with pytest.raises(catalogue.KerasDynError, match="not inside the installed package"):
        catalogue.scaffold("mylab")
    assert cli.main(["worksheet", "tinylab", "--out", str(package / "_labs")]) == 2


def test_checkout_labs_come_from_the_repository():
    assert not catalogue.installed()
    assert catalogue.configs_root() == catalogue.REPO_ROOT / "configs"
    assert "exp2_epochs_vs_width" in [lab.name for lab in catalogue.list_labs()]
