"""Figures resolve wherever the findings are read: every image or figure file that a LOG.md, a
FINDINGS file or a worksheet (Markdown or notebook) links exists at that relative path."""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from keras_dyn import catalogue
from keras_dyn.cli.main import main as cli_main
from tests.test_cli import tiny_lab  # noqa: F401 - the fixture

LINK_RE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMG_RE = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"")
FILE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".pdf")


def linked_files(text: str) -> list[str]:
    """The relative file targets of the Markdown links, images and ``<img>`` tags in ``text``
    that name a figure file (web addresses, anchors and ``data:`` URIs are not files)."""
    out = []
    for target in LINK_RE.findall(text) + IMG_RE.findall(text):
        target = unquote(target.split("#", 1)[0])
        if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("/"):
            continue
        if target.lower().endswith(FILE_SUFFIXES):
            out.append(target)
    return out


def missing_targets(path: Path) -> list[str]:
    """The linked figure files that do not exist relative to ``path`` (a .md or .ipynb file)."""
    path = Path(path)
    if path.suffix == ".ipynb":
        import nbformat

        text = "\n".join(c.source for c in nbformat.read(path, 4).cells if c.cell_type == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    return [t for t in linked_files(text) if not (path.parent / t).is_file()]


def test_the_link_parser_finds_images_links_and_img_tags(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"png")
    page = tmp_path / "page.md"
    page.write_text("![a](figures/a.png) [b](figures/b.png \"title\") <img src=\"c.svg\"> "
                    "[web](https://example.org/x.png) ![inline](data:image/png;base64,AAAA) [doc](x.md)")
    assert linked_files(page.read_text()) == ["figures/a.png", "figures/b.png", "c.svg"]
    assert missing_targets(page) == ["figures/b.png", "c.svg"]


@pytest.mark.parametrize("lab", [lab.name for lab in catalogue.list_labs()])
def test_every_lab_log_and_its_worksheets_link_existing_figures(lab, tmp_path):
    entry = catalogue.find_lab(lab)
    assert missing_targets(entry.log_path) == []
    assert cli_main(["worksheet", lab, "--out", str(tmp_path)]) == 0
    assert cli_main(["worksheet", lab, "--out", str(tmp_path), "--format", "ipynb"]) == 0
    for written in (tmp_path / f"{lab}.md", tmp_path / f"{lab}.ipynb"):
        assert missing_targets(written) == [], written


def test_a_run_s_findings_and_filled_worksheet_link_existing_figures(tiny_lab, tmp_path):  # noqa: F811
    logdir, sheets = tmp_path / "logs", tmp_path / "sheets"
    # one seed (2 runs x 2 epochs on the circle): links, not statistics, are under test here
    assert cli_main(["lab", "tinylab", "--seeds", "1", "--logdir", str(logdir), "--worksheet", str(sheets)]) == 0
    findings = sorted((logdir / "tinylab").glob("FINDINGS-*.md"))
    assert findings and (sheets / "tinylab.md").is_file()
    # --report-only --out elsewhere: the figures go with the findings file
    out = tmp_path / "elsewhere"
    assert cli_main(["lab", "tinylab", "--seeds", "1", "--logdir", str(logdir), "--report-only",
                     "--out", str(out)]) == 0
    written = findings + sorted((out / "tinylab").glob("FINDINGS-*.md")) + [sheets / "tinylab.md"]
    assert len(written) == 3
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert linked_files(text), f"{path} links no figure"
        assert missing_targets(path) == [], path
