"""End-to-end: the three probe labs on a tiny MNIST subset for 2 epochs (``pytest -m slow``)."""

import os
from pathlib import Path

import pytest
import toml

REPO = Path(__file__).resolve().parents[1]
LABS = {
    "exp11_label_noise": ("label_noise_findings", "memorisation signature"),
    "exp12_representation_drift": ("drift_findings", "Early-layer gradient variance"),
    "exp14_dataset_shift": ("shift_findings", "extra drop with noise"),
}

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lab", sorted(LABS))
def test_lab_runs_and_writes_findings(lab, tmp_path, monkeypatch):
    from keras_dyn.lab import run_lab
    from keras_dyn.report import probe_findings

    if not os.environ.get("KERAS_DYN_DATA"):
        pytest.skip("needs KERAS_DYN_DATA")
    raw = toml.loads((REPO / "configs" / f"{lab}.toml").read_text())
    raw["data"]["subset"] = 300
    raw["data"]["test_subset"] = 200
    raw["model"]["hidden"] = [16, 16, 16]
    raw["training"]["epochs"] = 2
    raw["training"]["seeds"] = [0, 1]
    raw.setdefault("probes", {})["shift_test_size"] = 100
    raw["probes"]["shift_every"] = 1
    config = tmp_path / f"{lab}.toml"
    config.write_text(toml.dumps(raw))
    main_file = REPO / "labs" / lab / "__main__.py"
    findings_name, marker = LABS[lab]
    assert run_lab(main_file, getattr(probe_findings, findings_name), config=config,
                   argv=["--quick", "--logdir", str(tmp_path / "logs")]) == 0
    found = list((tmp_path / "logs").glob("*/FINDINGS-*.md"))
    assert len(found) == 1
    text = found[0].read_text()
    assert marker in text
    assert list((tmp_path / "logs").glob("*/figures-*/*.png"))
