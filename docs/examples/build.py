"""Builds docs/examples/exp2_pandas.ipynb with nbformat (never hand-written JSON).

    python docs/examples/build.py          # rewrite the notebook
    python docs/examples/build.py --check  # exit 1 when the committed notebook differs

The notebook runs lab exp2 in its quick plan into a log folder of its own (a temporary folder, or
``$KERAS_DYN_EXAMPLE_LOGDIR``; finished runs there are reused), loads those stored runs with
``kd.load_runs``, reproduces the lab's verdict numbers for test accuracy with pandas (checked
against ``lab.findings().verdicts``) and draws one figure with matplotlib. CI executes it
(tests/test_notebooks.py, slow suite).
"""

import sys
from pathlib import Path

import nbformat
from nbformat import v4

HERE = Path(__file__).resolve().parent
TARGET = HERE / "exp2_pandas.ipynb"


def build():
    md, code = v4.new_markdown_cell, v4.new_code_cell
    cells = [
        md("# Lab exp2 with pandas\n\n"
           "This notebook runs lab `exp2_epochs_vs_width` (two hidden layers of width 64, 128 or "
           "256 on Fashion-MNIST) in its quick plan, loads the stored runs into one tidy DataFrame "
           "with `kd.load_runs`, reproduces the numbers behind the lab's verdicts on test accuracy "
           "with pandas, and draws the test-accuracy curves with matplotlib. The quick plan (2 "
           "seeds, 2 epochs, 1,000 examples) takes about a minute of CPU."),
        code("import os\nimport tempfile\n\nimport keras_dyn as kd\n\n"
             "LOGDIR = os.environ.get('KERAS_DYN_EXAMPLE_LOGDIR') or tempfile.mkdtemp(prefix='exp2-')\n"
             "lab = kd.lab('exp2_epochs_vs_width')\n"
             "outcome = lab.run(quick=True, logdir=LOGDIR, verbose=False)\n"
             "print(f'{len(outcome.records)} runs in {outcome.experiment_dir}')"),
        md("## The stored runs, one tidy table\n\nOne row per run, epoch and metric; the lab's "
           "configuration key (`units`) is a column."),
        code("runs = kd.load_runs(outcome.experiment_dir)\n"
             "runs[runs.metric == 'test_accuracy'].head()"),
        md("## A findings table, reproduced\n\nMean ± sd of test accuracy over seeds, per width and "
           "epoch (the lab's seed table), in percent:"),
        code("acc = runs[runs.metric == 'test_accuracy']\n"
             "table = acc.groupby(['units', 'epoch']).value.agg(['mean', 'std', 'count'])\n"
             "(table[['mean', 'std']] * 100).round(2).unstack('epoch')"),
        md("Hypothesis H1 compares 256-256 with 128-128 on test accuracy after the last epoch (10 in "
           "the full lab, 2 in the quick plan). Its difference A − B, paired by seed, is the "
           "difference of the two means; the findings' verdicts table (`lab.findings().verdicts`) "
           "must agree with pandas:"),
        code("verdicts = lab.findings().verdicts.set_index('id')\n"
             "last = acc.epoch.max()\n"
             "means = acc[acc.epoch == last].groupby('units').value.mean()\n"
             "mine = means[256] - means[128]\n"
             "h1 = verdicts.loc['H1']\n"
             "assert abs(mine - h1.difference) < 1e-9, (mine, h1.difference)\n"
             "print(f'H1: pandas {mine * 100:+.3f} points, findings {h1.difference * 100:+.3f} points')\n"
             "verdicts.loc[['H1'], ['A', 'B', 'A_mean', 'B_mean', 'difference', 'ci_low', 'ci_high', 'p', "
             "'p_adjusted', 'verdict']]"),
        md("## One figure\n\nTest accuracy against epochs, mean over seeds with ± 1 sd, one line per width."),
        code("import matplotlib.pyplot as plt\n\n"
             "fig, ax = plt.subplots(figsize=(6, 4))\n"
             "for units, group in table.groupby(level='units'):\n"
             "    group = group.droplevel('units')\n"
             "    ax.plot(group.index, group['mean'] * 100, marker='o', label=f'{units}-{units}')\n"
             "    ax.fill_between(group.index, (group['mean'] - group['std'].fillna(0)) * 100,\n"
             "                    (group['mean'] + group['std'].fillna(0)) * 100, alpha=0.2)\n"
             "ax.set_xlabel('epoch')\nax.set_ylabel('test accuracy (%)')\nax.legend(title='hidden')\n"
             "plt.show()"),
    ]
    nb = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # stable ids: the committed file is reproducible
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


if __name__ == "__main__":
    text = build()
    if "--check" in sys.argv[1:]:
        sys.exit(0 if TARGET.is_file() and TARGET.read_text(encoding="utf-8") == text else 1)
    TARGET.write_text(text, encoding="utf-8")
