"""Jupyter notebooks: the worksheet ``keras-dyn worksheet NAME --format ipynb`` writes (its cells,
no verdicts) and the docs example; in the slow suite both are executed end to end with nbclient
(exp2 in its quick plan, trained once: the docs example reuses the worksheet's runs)."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from keras_dyn.cli.main import main as cli_main
from keras_dyn.report.notebook import ANSWER_TAG, SKIP_TAG

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "exp2_pandas.ipynb"
LAB = "exp2_epochs_vs_width"
VERDICT_WORDS = ("supported", "refuted", "equivalent", "within seed noise")


def _sources(nb, kind):
    return [c.source for c in nb.cells if c.cell_type == kind]


def test_worksheet_notebook_cells(tmp_path, capsys):
    assert cli_main(["worksheet", LAB, "--format", "ipynb", "--out", str(tmp_path),
                     "--logdir", "runs here"]) == 0
    path = tmp_path / f"{LAB}.ipynb"
    assert f"wrote {path}" in capsys.readouterr().out
    nb = nbformat.read(path, 4)
    nbformat.validate(nb)
    markdown, code = "\n".join(_sources(nb, "markdown")), "\n".join(_sources(nb, "code"))
    assert "Does a wider network need more epochs" in markdown
    from keras_dyn.catalogue import find_lab
    from keras_dyn.config import load_config

    ids = [h.id for h in load_config(find_lab(LAB).config_path).lab.hypotheses]
    assert ids[:2] == ["H1", "H2"]
    for hid in ids:
        assert f"**{hid}**" in markdown
    assert "QUICK = True" in code and "LOGDIR = 'runs here'" in code
    assert f"kd.lab({LAB!r})" in code and "lab.run(quick=QUICK, logdir=LOGDIR)" in code
    assert "kd.load_runs(" in code and "lab.figures(" in code and "plt." in code
    tb = [c for c in nb.cells if "%tensorboard --logdir" in c.source]
    assert len(tb) == 1 and "%load_ext tensorboard" in tb[0].source
    assert SKIP_TAG in tb[0].metadata["tags"]  # a headless run starts no TensorBoard server
    answers = [c for c in nb.cells if ANSWER_TAG in c.metadata.get("tags", [])]
    assert len(answers) == 1 + len(ids) + 1 and all(c.source == "" for c in answers)  # prediction, each hypothesis, discussion
    # no verdicts: the student writes them; the only mention is the list to choose from
    assert "verdicts" not in code and "findings(" not in code
    assert "**Verdict" not in markdown
    # --full, and never over an existing file without --force
    assert cli_main(["worksheet", LAB, "--format", "ipynb", "--out", str(tmp_path)]) == 2
    assert cli_main(["worksheet", LAB, "--format", "ipynb", "--out", str(tmp_path), "--full", "--force"]) == 0
    assert "QUICK = False" in "\n".join(_sources(nbformat.read(path, 4), "code"))


def test_docs_example_is_the_built_one():
    built = subprocess.run([sys.executable, str(EXAMPLE.parent / "build.py"), "--check"])
    assert built.returncode == 0, "docs/examples/exp2_pandas.ipynb is stale: run python docs/examples/build.py"
    nb = nbformat.read(EXAMPLE, 4)
    code = "\n".join(_sources(nb, "code"))
    assert "kd.load_runs(" in code and "groupby" in code and "plt." in code and "verdicts" in code


def _execute(path: Path, cwd: Path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, 4)
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(cwd)}}).execute()  # raises on any cell error
    return nb


def _outputs_text(nb) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


@pytest.mark.slow
def test_worksheet_and_docs_example_execute(tmp_path, monkeypatch, real_data):
    """exp2's worksheet in quick mode, then the docs example on the same log folder (its runs
    reused): every cell runs without error, the figures are drawn, no verdict is printed by the
    worksheet, and the example's pandas numbers match the findings (asserted inside it)."""
    pytest.importorskip("nbclient")
    logdir = tmp_path / "logs"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("KERAS_DYN_DATA", str(real_data))
    monkeypatch.setenv("KERAS_DYN_NO_DOWNLOAD", "1")
    monkeypatch.setenv("KERAS_DYN_EXAMPLE_LOGDIR", str(logdir))
    assert cli_main(["worksheet", LAB, "--format", "ipynb", "--out", str(tmp_path),
                     "--logdir", str(logdir)]) == 0
    sheet = _execute(tmp_path / f"{LAB}.ipynb", tmp_path)
    images = [o for c in sheet.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # the lab's two curves figures and the matplotlib plot
    text = _outputs_text(sheet)
    assert "6 run(s) in" in text
    assert not any(word in text for word in VERDICT_WORDS), "the worksheet printed a verdict"
    tb = [c for c in sheet.cells if "%tensorboard" in c.source][0]
    assert not tb.get("outputs")  # skipped, as tagged
    example = _execute(EXAMPLE, tmp_path)
    text = _outputs_text(example)
    assert "6 runs in" in text and "H1: pandas" in text
    assert any("image/png" in o.get("data", {}) for c in example.cells for o in c.get("outputs", []))
