"""Jupyter worksheets: ``keras-dyn worksheet NAME --format ipynb`` writes ``NAME.ipynb``.

The notebook is built with ``nbformat`` (never hand-written JSON) and holds, in order: the lab's
title, question and hypotheses (Markdown); a parameters cell (``QUICK = True``: the ``--quick``
plan; ``--full`` writes ``QUICK = False``; ``LOGDIR``); a cell that runs the lab through the
Python API (``kd.lab(NAME).run(...)``: finished runs are reused); cells that load the runs with
``kd.load_runs`` into a DataFrame, tabulate the measured metric and draw the lab's own figures
(the ``curves``/figure sections of its ``[lab]``, drawn by the same code as the findings) and a
matplotlib plot of the raw curves; a ``%load_ext tensorboard`` / ``%tensorboard --logdir`` cell
(tagged ``skip-execution``: a headless run does not start a server); and one blank answer cell
per hypothesis and for the prediction. No verdict is printed anywhere: the student writes them.
"""

from __future__ import annotations

from pathlib import Path

from keras_dyn.errors import KerasDynError

ANSWER_TAG = "answer"
SKIP_TAG = "skip-execution"  # nbclient leaves cells with this tag unexecuted


def build_notebook(lab, *, quick=True, logdir="modellogs"):
    """The worksheet notebook of ``lab`` (a :class:`keras_dyn.catalogue.Lab`) as an
    ``nbformat.NotebookNode`` (version 4)."""
    import nbformat
    from nbformat import v4

    from keras_dyn.config import load_config

    cfg = load_config(lab.config_path)
    spec = cfg.lab
    keys = list(cfg.swept)
    metric = "test_accuracy"
    md, code = v4.new_markdown_cell, v4.new_code_cell

    def answer(text=""):
        return md(text, metadata={"tags": [ANSWER_TAG]})

    hyps = "\n".join(f"- **{h.id}** — {h.statement}" for h in (spec.hypotheses if spec else ()))
    cells = [
        md(f"# {lab.title}\n\n_Lab `{lab.name}`"
           + (f"; source: {lab.source}" if lab.source else "") + "._\n\n"
           f"## Question\n\n{lab.question}\n\n## Hypotheses\n\n{hyps or '_None stated._'}"),
        md("## Your prediction\n\nBefore running anything: which hypotheses do you expect to hold, "
           "and why? Write it in the cell below."),
        answer(),
        md("## Run the lab\n\n`QUICK = True` runs the quick plan (at most 8 runs × 2 epochs × 1,000 "
           "examples, a minute or so on a laptop); `QUICK = False` runs the full lab. Finished runs "
           "in `LOGDIR` are reused, so running the cell again trains nothing new."),
        code(f"QUICK = {bool(quick)}\nLOGDIR = {str(logdir)!r}", metadata={"tags": ["parameters"]}),
        code("import keras_dyn as kd\n\n"
             f"lab = kd.lab({lab.name!r})\n"
             "outcome = lab.run(quick=QUICK, logdir=LOGDIR)\n"
             "print(f\"{len(outcome.records)} run(s) in {outcome.experiment_dir}\")"),
        md("## The runs\n\n`kd.load_runs` reads every finished run into one tidy table: one row per "
           "run, epoch and metric, with the configuration keys the lab varies as columns."),
        code("runs = kd.load_runs(outcome.experiment_dir)\nruns.head()"),
        code(f"KEYS = {keys!r}  # the configuration keys this lab compares\n"
             f"METRIC = {metric!r}\n"
             "table = (runs[runs.metric == METRIC]\n"
             "         .groupby(KEYS + ['epoch'] if KEYS else ['epoch']).value.agg(['mean', 'std', 'count']))\n"
             "table"),
        md("## Figures\n\nThe lab's own figures, drawn from these runs by the code that draws its "
           "findings, then the raw curves with matplotlib."),
        code("from IPython.display import Image, display\n\n"
             "for figure in lab.figures(LOGDIR, quick=QUICK):\n"
             "    display(Image(filename=str(figure)))"),
        code("import matplotlib.pyplot as plt\n\n"
             "fig, ax = plt.subplots(figsize=(6, 4))\n"
             "curves = runs[runs.metric == METRIC]\n"
             "for name, group in (curves.groupby(KEYS) if KEYS else [('all runs', curves)]):\n"
             "    mean = group.groupby('epoch').value.mean()\n"
             "    ax.plot(mean.index, mean.values, marker='o', label=str(name))\n"
             "ax.set_xlabel('epoch')\nax.set_ylabel(METRIC)\nax.legend(title=', '.join(KEYS))\n"
             "plt.show()"),
        md("## TensorBoard\n\nThe same runs in TensorBoard (scalars, histograms and, for a lab "
           "that compares configurations, the HParams dashboard). Run this cell by hand."),
        code("%load_ext tensorboard\n%tensorboard --logdir {LOGDIR}", metadata={"tags": [SKIP_TAG]}),
        md("## Your answers\n\nFor each hypothesis: supported, refuted, equivalent or undecided? "
           "Give the numbers (means over seeds, their spread) and the figure that decide it."),
    ]
    for h in (spec.hypotheses if spec else ()):
        cells += [md(f"**{h.id}** — {h.statement}"), answer()]
    cells += [md("## Discussion\n\nWhat would you change in the lab to settle what these runs "
                 "leave undecided?"), answer()]
    nb = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "keras_dyn": {"lab": lab.name, "quick": bool(quick)}})
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # stable ids: the same lab gives the same file
    nbformat.validate(nb)
    return nb


def write_notebook(name: str, out=".", *, force=False, quick=True, logdir="modellogs") -> list[Path]:
    """Write ``out/NAME.ipynb`` (refused when it exists, unless ``force``); return ``[path]``."""
    import nbformat

    from keras_dyn.catalogue import find_lab
    from keras_dyn.report.worksheet import check_outside_package
    from keras_dyn.runs.files import atomic_write_text

    lab = find_lab(name)
    out = Path(out)
    check_outside_package(out)
    target = out / f"{name}.ipynb"
    if target.exists() and not force:
        raise KerasDynError(f"{target} exists already; use --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(build_notebook(lab, quick=quick, logdir=logdir))
    return [atomic_write_text(target, text if text.endswith("\n") else text + "\n")]
