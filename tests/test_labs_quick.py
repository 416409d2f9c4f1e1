"""The shipped labs from the command line: one lab end to end with --quick on the real data (exit 0,
findings in the log folder, LOG.md untouched), and ``check`` plus ``check --quick`` of every lab's
config (exit 0, its runs listed, the quick plan within its caps). Training every lab is a full
run's job, not CI's: tests/test_quick.py counts every lab's quick plan."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keras_dyn.catalogue import list_labs
from keras_dyn.report.results import load_results

REPO = Path(__file__).resolve().parents[1]
LABS = [lab.name for lab in list_labs()]
# The lab run end to end: a grid of cases x values whose quick plan leaves hypotheses and a
# section out (they must say so) and reads epochs past the quick run's last one.
END_TO_END = "exp6_activations_optimizers"


def _env(real_data=None):
    env = {**os.environ, "KERAS_DYN_NO_DOWNLOAD": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": str(REPO)}
    if real_data is not None:
        env["KERAS_DYN_DATA"] = str(real_data)
    return env


@pytest.mark.slow
def test_one_lab_quick_end_to_end(tmp_path, real_data):
    lab = END_TO_END
    log = REPO / "labs" / lab / "LOG.md"
    before = log.read_bytes()
    logdir = tmp_path / "modellogs"
    proc = subprocess.run([sys.executable, "-m", f"labs.{lab}", "--quick", "--logdir", str(logdir)],
                          cwd=REPO, env=_env(real_data), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert log.read_bytes() == before, "--quick must not write into the lab's LOG.md"
    findings = list(logdir.glob("*/FINDINGS-*.md"))
    assert findings, "no findings file in the log folder"
    text = findings[0].read_text()
    assert "Mean ± sd" in text or "mean ± sd" in text
    verdicts = re.findall(r"^- \*\*(\w+)\*\* — ", text, flags=re.M)
    assert verdicts and len(verdicts) == len(set(verdicts)) == text.count("**Verdict: ")
    assert "**Verdict: not in the quick plan.**" in text  # H3 reads tanh, which the quick plan leaves out
    assert "not in the quick plan (lab.findings[" in text
    assert "@5" not in text and "epoch 5" not in text  # readings past epoch 2 are labelled as read
    assert "findings error" not in proc.stderr
    results = [r for d in logdir.iterdir() if d.is_dir() for r in load_results(d)]
    assert results and all(r["run"]["experiment"].endswith("-quick") for r in results)
    assert len(results) <= 8 and all(r["run"]["epochs_done"] <= 2 for r in results)
    for png in findings[0].parent.glob("figures-*/*.png"):
        assert png.stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_lab_check_and_check_quick(lab, tmp_path):
    config = REPO / "configs" / f"{lab}.toml"
    for extra in ([], ["--quick"]):
        proc = subprocess.run([sys.executable, "-m", "keras_dyn", "check", str(config), *extra],
                              cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
        runs = proc.stdout.split()
        assert runs and f"ok, {len(runs)} run(s)" in proc.stderr
        if extra:
            assert len(runs) <= 8 and re.search(r"quick plan: \d run\(s\) x at most [12] epoch", proc.stderr)
    assert not list(tmp_path.iterdir())  # check writes nothing
