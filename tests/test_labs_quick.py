"""Every lab, end to end with --quick on the real data: exit 0, findings in the log folder, LOG.md untouched."""

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


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_lab_quick_run(lab, tmp_path, real_data):
    log = REPO / "labs" / lab / "LOG.md"
    before = log.read_bytes()
    logdir = tmp_path / "modellogs"
    env = {**os.environ, "KERAS_DYN_DATA": str(real_data), "KERAS_DYN_NO_DOWNLOAD": "1",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", f"labs.{lab}", "--quick", "--logdir", str(logdir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert log.read_bytes() == before, "--quick must not write into the lab's LOG.md"
    findings = list(logdir.glob("*/FINDINGS-*.md"))
    assert findings, "no findings file in the log folder"
    text = findings[0].read_text()
    assert "Mean ± sd" in text or "mean ± sd" in text
    verdicts = re.findall(r"^- \*\*(\w+)\*\* — ", text, flags=re.M)
    assert verdicts and len(verdicts) == len(set(verdicts)) == text.count("**Verdict: ")
    assert "findings error" not in proc.stderr
    results = [r for d in logdir.iterdir() if d.is_dir() for r in load_results(d)]
    assert results and all(r["run"]["experiment"].endswith("-quick") for r in results)
    for png in findings[0].parent.glob("figures-*/*.png"):
        assert png.stat().st_size > 1000
