"""End-to-end: the probe labs, as data, on a tiny MNIST subset for 5 epochs (``pytest -m slow``)."""

import os
from pathlib import Path

import pytest
from keras_dyn import tomlio

REPO = Path(__file__).resolve().parents[1]
LABS = {
    "exp11_label_noise": "Memorisation signature",
    "exp12_representation_drift": "Reconciliation",
    "exp14_dataset_shift": "above-chance kept",
    "exp13_width_memorisation": "epochs to memorise 90% of the corrupted examples",
    "exp16_random_labels": "test − chance",
}

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lab", sorted(LABS))
def test_lab_runs_and_writes_findings(lab, tmp_path):
    from keras_dyn.cli.lab import run_lab

    if not os.environ.get("KERAS_DYN_DATA"):
        pytest.skip("needs KERAS_DYN_DATA")
    raw = tomlio.loads((REPO / "configs" / f"{lab}.toml").read_text())
    raw["data"]["subset"] = 300
    raw["data"]["test_subset"] = 200
    raw["model"]["hidden"] = [16, 16, 16]
    # exp12 reads the last 5 epochs; a hypothesis or findings section read at epoch k needs k epochs
    # in the full config that is checked first (the --quick run itself trains at most 2)
    read = [h.get("at") for h in raw["lab"]["hypotheses"]] + \
           [h[side].get("at") for h in raw["lab"]["hypotheses"] for side in ("a", "b") if side in h]
    for block in raw["lab"].get("findings", []):
        at = block.get("at")
        read += at if isinstance(at, list) else [at]
    raw["training"]["epochs"] = max([5] + [int(e) for e in read if isinstance(e, int) or str(e).isdigit()])
    raw["training"]["seeds"] = [0, 1]
    raw.setdefault("probes", {})["shift_test_size"] = 100
    config = tmp_path / f"{lab}.toml"
    config.write_text(tomlio.dumps(raw))
    log = REPO / "labs" / lab / "LOG.md"
    before = log.read_bytes()
    assert run_lab(log, config=config, argv=["--quick", "--logdir", str(tmp_path / "logs")]) == 0
    assert log.read_bytes() == before
    found = list((tmp_path / "logs").glob("*/FINDINGS-*.md"))
    assert len(found) == 1
    text = found[0].read_text()
    assert LABS[lab] in text
    assert text.count("**Verdict: ") == len(raw["lab"]["hypotheses"])
    assert list((tmp_path / "logs").glob("*/figures-*/*.png"))
