"""TensorBoard HParams: ``hparams_config`` at the experiment folder (the union over all grids in the same log folder, see :func:`write_hparams_config`), and per trial an ``hparams`` session (trial id = ``<run name> (<experiment>)``) with the final scalars ``final/val_accuracy``, ``final/best_val_accuracy``, ``final/test_accuracy``, ``final/train_seconds``, ``final/params`` in the run folder itself. The dashboard's columns are the grid keys, the parameter count and the seed, with whole numbers written as text (see :func:`hparam_display`). (keras-tuner's own integration, a ``keras.callbacks.TensorBoard`` passed to ``search``, would log to ``<log_dir>/<trial id>/execution0`` instead of keras_dyn's run folders, so the summaries are written here with ``tensorboard.plugins.hparams.api``.)
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path

from keras_dyn.config import ExperimentConfig
from keras_dyn.errors import OutputError
from keras_dyn.runs.claims import experiment_lock
from keras_dyn.runs.files import atomic_write_text, inside
from keras_dyn.tuning.space import FINAL_TAGS, SEED_HP, TUNER_DIRNAME, encode, hparam_values, trial_metrics

HPARAMS_MARKER = ".hparams_written"


def hparams_domains(cfg: ExperimentConfig) -> list:
    from tensorboard.plugins.hparams import api as hp_api

    out = [hp_api.HParam(key, hp_api.Discrete([encode(key, v) for v in values]))
           for key, values in cfg.swept.items()]
    out.append(hp_api.HParam(SEED_HP, hp_api.Discrete(list(cfg.training.seeds))))
    return out


HPARAMS_METRICS = (
    ("final/val_accuracy", "val accuracy (last epoch, selects)"),
    ("final/best_val_accuracy", "best val accuracy"),
    ("final/test_accuracy", "test accuracy (reported only)"),
    ("final/train_seconds", "training time (s)"),
)  # the parameter count is an hparams column (PARAMS_HP), shown as a whole number


PARAMS_HP = "params"  # the parameter count, a column of the HParams table ("parameters")


WHOLE_NUMBER_HPARAMS = frozenset({"layers", "units", "batch_size", "epochs", SEED_HP, PARAMS_HP,
                                  *(f"units_{i}" for i in range(1, 9))})


WHOLE_NUMBER_WIDTH = 13  # right-aligned to this many characters (up to 9,999,999,999)


def hparam_display(key: str, value):
    """``value`` of hyperparameter ``key`` as the HParams dashboard is to show it.

    The dashboard prints every number with five significant digits (``prettyPrint`` in
    TensorBoard's tf-hparams-utils is ``value.toPrecision(5)``: 2 shows as ``2.0000``, 134,794 as
    ``1.3479e+5``) and a string as it is. Whole-number hyperparameters and the parameter count
    are therefore written as strings (the count with thousands separators). Strings sort as text
    there (the table's sort, the filter list, the parallel-coordinates axis), so they are
    right-aligned with spaces to a fixed width: text order is then numeric order, and the
    browser does not show the leading spaces. Other values (rates, names) are left as they are.
    """
    if key in WHOLE_NUMBER_HPARAMS and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        text = f"{int(value):,}" if key == PARAMS_HP else str(int(value))
        return text.rjust(WHOLE_NUMBER_WIDTH)
    return value


def dashboard_hparams(point: dict, seed: int, params=None) -> dict:
    """One trial's values for its HParams session: :func:`hparam_values` as they are to be shown,
    and the parameter count."""
    values = {k: hparam_display(k, v) for k, v in hparam_values(point, seed).items()}
    if params is not None:
        values[PARAMS_HP] = hparam_display(PARAMS_HP, int(params))
    return values


def grid_param_counts(cfg: ExperimentConfig) -> list[int]:
    """The parameter count of every grid point's model, from the config alone (the MLP of
    :func:`keras_dyn.models.build_model`: dense layers with biases), without building a model."""
    from keras_dyn.data.datasets import IMAGE_SHAPE, NUM_CLASSES, SYNTHETIC_DATASETS
    from keras_dyn.models import count_parameters

    counts = set()
    for point in cfg.points():
        run = cfg.at_point(point)
        dataset = run.data.dataset
        inputs = 2 if dataset in SYNTHETIC_DATASETS else IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
        outputs = 1 if run.model.output == "sigmoid" else NUM_CLASSES[dataset]
        counts.add(count_parameters(run.model.hidden, inputs, outputs, run.model.normalization,
                                    run.model.residual))
    return sorted(counts)


def write_hparams_config(cfg: ExperimentConfig, experiment_dir):
    """Record this grid's hyperparameters and refresh the HParams experiment summaries.

    TensorBoard's HParams plugin shows one experiment summary per ``--logdir`` and picks an
    arbitrary one when it finds several, so every grid folder under the same log folder gets the
    same summary: the union of the hyperparameters of all the grids there. ``tensorboard
    --logdir modellogs`` then lists every trial of every grid with all its columns, and
    ``--logdir modellogs/<experiment>`` shows one grid (with blank columns for the others' keys).
    """
    experiment_dir = Path(experiment_dir)
    description = json.dumps({"grid": {k: [encode(k, v) for v in vs] for k, vs in cfg.swept.items()},
                              "seeds": list(cfg.training.seeds),
                              PARAMS_HP: grid_param_counts(cfg)}, sort_keys=False)
    marker = experiment_dir / TUNER_DIRNAME / "hparams_config.json"
    if not (marker.is_file() and marker.read_text(encoding="utf-8") == description):
        atomic_write_text(marker, description, root=experiment_dir)
    refresh_hparams_summaries(experiment_dir.parent)


def refresh_hparams_summaries(logdir):
    """Write the union of all grids' hyperparameters as each grid folder's HParams summary.

    Only real grid folders inside ``logdir`` are written (a symbolic link out is skipped); two
    grids refreshing at once take turns (a lock on ``<logdir>/.lock``)."""
    with experiment_lock(logdir):
        refresh_hparams_now(logdir)


def refresh_hparams_now(logdir):
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp_api

    union: dict[str, list] = {}
    folders = sorted(p.parent.parent for p in Path(logdir).glob(f"*/{TUNER_DIRNAME}/hparams_config.json")
                     if really_inside(logdir, p))
    for folder in folders:
        try:
            spec = json.loads((folder / TUNER_DIRNAME / "hparams_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        extra = [(SEED_HP, spec.get("seeds", []))] + ([(PARAMS_HP, spec[PARAMS_HP])] if spec.get(PARAMS_HP) else [])
        for key, values in list(spec.get("grid", {}).items()) + extra:
            known = union.setdefault(key, [])
            known += [v for v in values if v not in known]
    keys = sorted(union, key=lambda k: (k == SEED_HP, k == PARAMS_HP, k))
    signature = json.dumps({k: union[k] for k in keys})
    for folder in folders:
        stamp = folder / TUNER_DIRNAME / "hparams_summary.json"
        if stamp.is_file() and stamp.read_text(encoding="utf-8") == signature:
            continue
        for old in folder.glob("events.out.tfevents.*"):  # only this module writes here
            old.unlink()
        writer = tf.summary.create_file_writer(str(folder))
        with writer.as_default():
            hp_api.hparams_config(
                hparams=[hp_api.HParam(k, hp_api.Discrete(uniform([hparam_display(k, v) for v in union[k]])),
                                       display_name="parameters" if k == PARAMS_HP else None)
                         for k in keys],
                metrics=[hp_api.Metric(tag, display_name=name) for tag, name in HPARAMS_METRICS])
        writer.close()
        atomic_write_text(stamp, signature, root=folder)


def uniform(values: list) -> list:
    """One type for a domain (TensorBoard's ``Discrete`` refuses a mix): experiments sharing a
    log folder may give the same key as 1 in one and 0.5 in another (floats then), or as a
    number in one and text in another (text then)."""
    kinds = {type(v) for v in values}
    if len(kinds) <= 1:
        return values
    if kinds <= {int, float}:
        return [float(v) for v in values]
    return [str(v) for v in values]


def really_inside(root, path) -> bool:
    try:
        inside(root, path)
    except OutputError:
        return False
    return not any(p.is_symlink() for p in [path, *list(path.parents)[:2]])


def trial_id(run_dir) -> str:
    """``w128-128_bs64_s0 (exp3_depth)``: the run first (the dashboard truncates long ids), the
    experiment after it, so ids stay unique when several grids share one log folder."""
    run_dir = Path(run_dir)
    return f"{run_dir.name} ({run_dir.parent.name})"


def write_trial_hparams(run_dir, point: dict, seed: int, results: dict):
    """One HParams session per trial: its values and final metrics, in the run folder."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp_api

    run_dir = Path(run_dir)
    metrics = trial_metrics(results)
    writer = tf.summary.create_file_writer(str(run_dir))
    with writer.as_default():
        hp_api.hparams(dashboard_hparams(point, seed, results["run"].get("params")),
                       trial_id=trial_id(run_dir))
        for tag in FINAL_TAGS:
            tf.summary.scalar(f"final/{tag}", metrics[tag], step=0)
    writer.close()
    atomic_write_text(run_dir / HPARAMS_MARKER, "", root=run_dir)
