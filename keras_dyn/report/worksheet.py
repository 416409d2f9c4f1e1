"""Worksheets to hand out: a lab's LOG.md without findings, as markdown and as one HTML page.

``keras-dyn worksheet NAME [--out DIR] [--force]`` writes ``DIR/NAME.md`` and ``DIR/NAME.html``:
the lab's worksheet (question, hypotheses, the space for the student's prediction, setup,
discussion questions) with

* the Setup block generated from the lab's config alone (no runs: data, model, training, grid and
  what is measured are known before anything runs; sizes and parameter counts are filled in by
  the run), between its markers, so a run can rewrite it;
* the Findings block replaced by one line saying how to fill it in, between its markers, so
  ``keras-dyn lab NAME --worksheet DIR`` writes the findings into the same file and keeps
  whatever the student wrote around them;
* the last run's summary comment dropped, links into the checkout (``../../configs/...``)
  reduced to their text and ``python -m labs.NAME`` given as ``keras-dyn lab NAME``;
* the figures that the remaining text references copied to ``DIR/NAME-figures/`` (the markdown
  points there) and embedded in the HTML page as ``data:`` URIs, so the page stands alone.

The HTML is rendered by Python-Markdown (``markdown``) with a small print-friendly stylesheet.
Existing files are never overwritten without ``--force``; nothing is ever written inside the
installed package.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
import shutil
from pathlib import Path

from keras_dyn.errors import KerasDynError

FIGURE_REF_RE = re.compile(r"(!?)\[([^\]]*)\]\(figures/([^)\s]+)\)")
OUTSIDE_LINK_RE = re.compile(r"(?<!!)\[([^\]]+)\]\((?:\.\./)+[^)\s]*\)")
EMPTY_BULLETS_RE = re.compile(r"(?m)^(?:[ \t]*[-*][ \t]*\n)+")
# a list straight after a paragraph line (GitHub starts a list there, Python-Markdown does not)
LIST_AFTER_TEXT_RE = re.compile(r"(?m)^(?!\d+\.[ \t])([^\s|>#*+-].*)\n(?=[ \t]*(?:[-*+]|\d+\.)[ \t]+\S)")
MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "sane_lists"]


def placeholder(name: str) -> str:
    return (f"_No findings yet: run the lab to fill this in (`keras-dyn lab {name} --worksheet DIR`, "
            f"with DIR the folder holding this file)._")


def figures_dirname(name: str) -> str:
    """The figures folder beside ``NAME.md`` (per lab, so worksheets can share a folder)."""
    return f"{name}-figures"


def blank_markdown(lab) -> str:
    """The lab's worksheet without findings (markdown; figure references still ``figures/...``)."""
    from keras_dyn.catalogue import SUMMARY_RE
    from keras_dyn.config import load_config
    from keras_dyn.report.setup import setup_markdown
    from keras_dyn.report.lablog import (FINDINGS_END, FINDINGS_START, SETUP_END, SETUP_START,
                                         replace_block)

    if not lab.log_path.is_file():
        raise KerasDynError(f"lab {lab.name}: no worksheet {lab.log_path}")
    text = lab.log_path.read_text(encoding="utf-8")
    cfg = load_config(lab.config_path)
    text = replace_block(text, setup_markdown(cfg, []), SETUP_START, SETUP_END, append=False)
    text = replace_block(text, "## Findings\n\n" + placeholder(lab.name), FINDINGS_START, FINDINGS_END)
    text = SUMMARY_RE.sub("", text)
    text = OUTSIDE_LINK_RE.sub(r"\1", text)
    # the command that works wherever keras_dyn is installed, not only in a checkout
    return text.replace(f"python -m labs.{lab.name}", f"keras-dyn lab {lab.name}")


def referenced_figures(text: str) -> list[str]:
    """File names under ``figures/`` that ``text`` links to or shows, in order, once each."""
    seen = []
    for m in FIGURE_REF_RE.finditer(text):
        if m.group(3) not in seen:
            seen.append(m.group(3))
    return seen


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _anchor(fig: str) -> str:
    return "figure-" + re.sub(r"[^A-Za-z0-9_-]+", "-", fig)


STYLE = """
body { font: 11pt/1.5 Georgia, "DejaVu Serif", serif; color: #111; max-width: 46em;
       margin: 2em auto; padding: 0 1.2em; }
h1, h2, h3 { font-family: "Helvetica Neue", Arial, sans-serif; line-height: 1.25; }
h1 { font-size: 1.6em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #bbb; padding-bottom: .15em; margin-top: 1.8em; }
code { font: .9em "DejaVu Sans Mono", monospace; background: #f3f3f3; padding: 0 .2em; }
pre { background: #f3f3f3; padding: .6em; overflow-x: auto; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #aaa; padding: .25em .55em; text-align: left; }
img { max-width: 100%; }
figure { margin: 1em 0; }
figcaption { font-size: .9em; color: #444; }
ul.answer { list-style: none; padding-left: 0; }
ul.answer li { border-bottom: 1px dotted #888; height: 2.2em; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  a { color: inherit; text-decoration: none; }
  h2, h3 { page-break-after: avoid; }
  img, table, figure, ul.answer { page-break-inside: avoid; }
}
"""


def render_html(text: str, title: str, figure_dir: Path | None = None) -> str:
    """A standalone HTML page of the markdown ``text``: figures under ``figures/`` that exist in
    ``figure_dir`` are embedded (images in place; links lead to a copy at the end of the page)."""
    import markdown

    figure_dir = Path(figure_dir) if figure_dir else None
    linked = []

    def embed(m):
        bang, label, fig = m.groups()
        path = figure_dir / fig if figure_dir else None
        if path is None or not path.is_file():
            return label if not bang else f"_(figure {fig} not available)_"
        if bang:
            return f"![{label}]({_data_uri(path)})"
        if fig not in linked:
            linked.append(fig)
        return f"[{label}](#{_anchor(fig)})"

    text = FIGURE_REF_RE.sub(embed, text)
    # the worksheet's empty bullets are the space for the student's answers: ruled lines on paper
    text = EMPTY_BULLETS_RE.sub(
        lambda m: "\n<ul class=\"answer\">" + "<li></li>" * m.group(0).count("\n") + "</ul>\n\n", text)
    text = LIST_AFTER_TEXT_RE.sub(lambda m: m.group(1) + "\n\n", text)
    body = markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    for fig in linked:
        body += (f'\n<figure id="{_anchor(fig)}"><img src="{_data_uri(figure_dir / fig)}" '
                 f'alt="{html.escape(fig)}"><figcaption>{html.escape(fig)}</figcaption></figure>')
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


def check_outside_package(folder: Path):
    from keras_dyn.catalogue import PACKAGE_DIR, installed

    folder = folder.resolve()
    if installed() and (folder == PACKAGE_DIR or PACKAGE_DIR in folder.parents):
        raise KerasDynError(f"{folder} is inside the installed keras_dyn package; "
                            f"write worksheets to a folder of your own")


def write_worksheet(name: str, out=".", *, force=False, html_page=True) -> list[Path]:
    """Write ``out/NAME.md`` (and ``out/NAME.html``) and the figures they reference; return the
    files written. Refuses to overwrite any of them unless ``force``."""
    from keras_dyn.catalogue import find_lab
    from keras_dyn.runs.files import atomic_write_text

    lab = find_lab(name)
    out = Path(out)
    check_outside_package(out)
    text = blank_markdown(lab)
    figures = [f for f in referenced_figures(text) if (lab.figure_dir / f).is_file()]
    fig_dir = out / figures_dirname(name)
    targets = [out / f"{name}.md"] + ([out / f"{name}.html"] if html_page else [])
    targets += [fig_dir / f for f in figures]
    if not force:
        existing = [str(p) for p in targets if p.exists()]
        if existing:
            raise KerasDynError(f"{existing[0]} exists already"
                                + (f" (and {len(existing) - 1} more)" if len(existing) > 1 else "")
                                + "; use --force to overwrite")
    written = []
    for fig in figures:
        (fig_dir / fig).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lab.figure_dir / fig, fig_dir / fig)
        written.append(fig_dir / fig)
    md = FIGURE_REF_RE.sub(lambda m: f"{m.group(1)}[{m.group(2)}]({figures_dirname(name)}/{m.group(3)})"
                           if m.group(3) in figures else m.group(0), text)
    written.insert(0, atomic_write_text(out / f"{name}.md", md))
    if html_page:
        page = render_html(text, f"{lab.title} ({name})", lab.figure_dir)
        written.insert(1, atomic_write_text(out / f"{name}.html", page))
    return written


def run_worksheet(name: str, folder, *, quick=False) -> tuple[Path | None, Path | None]:
    """Where ``keras-dyn lab NAME --worksheet DIR`` writes: ``(DIR/NAME.md, DIR/NAME-figures)``.

    The blank worksheet is written first when ``DIR/NAME.md`` does not exist yet; an existing one
    is kept (the run rewrites only its generated blocks). ``(None, None)`` without ``--worksheet``
    and for ``--quick`` (quick findings go to the log folder only)."""
    import sys

    if folder is None:
        return None, None
    if quick:
        print("--quick: the worksheet is not written (quick findings go to the log folder only)",
              file=sys.stderr)
        return None, None
    folder = Path(folder)
    check_outside_package(folder)
    log = folder / f"{name}.md"
    if not log.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_worksheet(name, folder, html_page=False, force=True)  # only its figures could exist
    return log, folder / figures_dirname(name)
