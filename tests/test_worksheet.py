"""Blank worksheets: the lab's LOG.md without findings, as markdown and as a standalone HTML page
(checked in headless Chromium where it is installed)."""

import re

import pytest

from keras_dyn import cli
from keras_dyn.catalogue import find_lab
from keras_dyn.report.lablog import FINDINGS_END, FINDINGS_START, SETUP_END, SETUP_START
from keras_dyn.report.worksheet import blank_markdown, render_html, write_worksheet
from tests._chromium import Chromium, chromium_executable
from tests.test_cli import PNG, tiny_lab  # noqa: F401 (a fixture)

EXP2_HYPOTHESIS = "after 10 epochs, two hidden layers of 256 units reach a higher test accuracy"
FINDINGS_WORDS = ("Findings (generated)", "Verdict", "within seed noise", "±", "keras_dyn:summary",
                  "results.toml", "Compared with the source")


def test_blank_exp2_has_hypothesis_prediction_setup_and_no_findings():
    text = blank_markdown(find_lab("exp2_epochs_vs_width"))
    flat = " ".join(text.split())
    assert EXP2_HYPOTHESIS in flat
    assert "## Your prediction" in text and "\n-\n-\n" in text
    # the setup, generated from the config alone, between its markers (a run rewrites it)
    setup = text.split(SETUP_START)[1].split(SETUP_END)[0]
    assert "- Grid: units ∈ {64, 128, 256} — 3 configuration(s) × 5 seed(s)." in setup
    assert "- Training: Adam, learning rate 0.001 (constant), batch 64, 10 epochs" in setup
    # no findings: the block holds one line saying how to fill it in
    block = text.split(FINDINGS_START)[1].split(FINDINGS_END)[0]
    assert block.strip().startswith("## Findings\n\n_No findings yet: run the lab to fill this in")
    assert "keras-dyn lab exp2_epochs_vs_width --worksheet DIR" in block
    for word in FINDINGS_WORDS:
        assert word not in text, word
    assert "figures/" not in text
    # what works outside the checkout
    assert "python -m labs." not in text and "../../configs" not in text
    assert "keras-dyn lab exp2_epochs_vs_width" in text
    # the questions and notes around the blocks are kept as written
    original = find_lab("exp2_epochs_vs_width").log_path.read_text()
    assert original.split(FINDINGS_END)[1] == text.split(FINDINGS_END)[1]


def test_worksheet_files_figures_and_overwrite(tiny_lab, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "handout"
    assert cli.main(["worksheet", "tinylab", "--out", str(out)]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "tinylab-figures/sketch.png", "tinylab.html", "tinylab.md"]  # not the findings' figure
    md = (out / "tinylab.md").read_text()
    assert "[the sketch](tinylab-figures/sketch.png)" in md and "old_curve" not in md
    assert (out / "tinylab-figures" / "sketch.png").read_bytes() == PNG
    assert "supported" not in md and "MY OWN NOTES" in md
    page = (out / "tinylab.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "@media print" in page
    assert 'href="#figure-sketch-png"' in page and 'id="figure-sketch-png"' in page
    assert "data:image/png;base64," in page and "figures/" not in page.replace("tinylab-figures", "")
    assert '<ul class="answer"><li></li><li></li></ul>' in page  # the prediction space
    # existing files are kept unless --force
    (out / "tinylab.md").write_text("the student's copy")
    assert cli.main(["worksheet", "tinylab", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "tinylab.md exists already" in err and "--force" in err and err.count("\n") == 1
    assert (out / "tinylab.md").read_text() == "the student's copy"
    assert cli.main(["worksheet", "tinylab", "--out", str(out), "--force"]) == 0
    assert (out / "tinylab.md").read_text() == md


def test_html_rendering_of_markdown():
    page = render_html("# T\n\nSome text:\n- one\n- two\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n"
                       "![gone](figures/missing.png)\n", "T <&>")
    assert "<title>T &lt;&amp;&gt;</title>" in page
    assert re.search(r"<p>Some text:</p>\s*<ul>\s*<li>one</li>", page)  # a list right after text
    assert "<table>" in page and "<td>2</td>" in page
    assert "figure missing.png not available" in page and "<img" not in page


@pytest.fixture
def browser(tmp_path):
    if chromium_executable() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with Chromium(tmp_path / "profile", width=900, height=1400) as b:
        yield b


def _load(browser, page, needle):
    browser.goto(page.resolve().as_uri())
    return browser.wait_for_text([needle], timeout=60)


def test_html_worksheet_in_chromium_shows_the_hypothesis_and_no_findings(tmp_path, browser):
    write_worksheet("exp2_epochs_vs_width", tmp_path)
    text = _load(browser, tmp_path / "exp2_epochs_vs_width.html", "No findings yet")
    assert EXP2_HYPOTHESIS in text
    for heading in ("Hypothesis", "Your prediction", "Setup", "Findings", "What I learned"):
        assert heading in text
    assert "Grid: units ∈ {64, 128, 256}" in text
    for word in FINDINGS_WORDS:
        assert word not in text, word
    shot = browser.screenshot(tmp_path / "worksheet.png")
    assert shot.stat().st_size > 10_000


def test_html_worksheet_in_chromium_embeds_its_figures(tiny_lab, tmp_path, browser):  # noqa: F811
    write_worksheet("tinylab", tmp_path / "out")
    page = tmp_path / "out" / "tinylab.html"
    (tmp_path / "out" / "tinylab-figures" / "sketch.png").unlink()  # the page must not need it
    _load(browser, page, "9-9 beats 3-3")
    loaded = browser.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth)")
    assert loaded == [1]  # the one figure the worksheet references, from its data: URI
