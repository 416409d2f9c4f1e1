"""One run (:func:`train_run`): build, fit with the diagnostics, write its results.

A run is one grid point with one seed. It writes ``modellogs/<experiment>/<run>/``:

* TensorBoard event files (``train/``, ``validation/``, ``test/`` and the diagnostics' tags),
* ``config.toml``: the resolved config of this run (grid values applied, its one seed),
* ``results.toml``: per-epoch metrics, final numbers and each diagnostic's table, written
  atomically once the run has finished (a killed run leaves no results file, never half of one).
  ``[run] status`` is ``"complete"``, or ``"diverged"`` for a run stopped because its loss
  became NaN or infinite (see :func:`fit_and_record`). Epochs are numbered from 1 (see
  :mod:`keras_dyn.callbacks.base` for the convention).
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
import time
from pathlib import Path

from keras_dyn import __version__
from keras_dyn.config import ExperimentConfig
from keras_dyn.errors import OutputError
from keras_dyn.runs.claims import discard_run_dir
from keras_dyn.runs.files import atomic_write_text, atomic_write_toml


def train_claimed(claim, run_cfg, data, *, root, **kwargs) -> dict:
    """Train into a claimed folder; on any failure the folder is removed (nothing half-written)
    and a refusing file system becomes one line."""
    try:
        results = train_run(run_cfg, data, claim.run_dir, root=root, **kwargs)
    except BaseException as exc:
        discard_run_dir(claim)
        problem = write_problem(exc)
        if problem is not None:
            raise OutputError(f"cannot write in {claim.run_dir}: {problem}; the unfinished run "
                              f"was removed") from None
        raise
    claim.release()
    return results


def write_problem(exc) -> str | None:
    """The reason, if ``exc`` is the file system refusing (OSError, or TensorFlow's version)."""
    if isinstance(exc, OutputError):
        return str(exc).removeprefix("output error: ")
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    text = str(exc)
    for needle in ("No space left", "Read-only file system", "Permission denied", "Disk quota"):
        if needle in text and type(exc).__module__.startswith("tensorflow"):
            return needle
    return None


def train_run(cfg: ExperimentConfig, data, run_dir, *, point=None, run_index=1, run_count=1,
              remaining_epochs_after=0, verbose=True, root=None) -> dict:
    """Train one model (the config's first seed) and write its folder; returns the results.

    ``root``: the log folder the run folder must lie in (default: the run folder itself)."""
    import keras

    from keras_dyn.callbacks.progress import Progress

    run_dir = Path(run_dir)
    atomic_write_text(run_dir / "config.toml", cfg.to_toml(), root=root if root is not None else run_dir)
    started = _dt.datetime.now().astimezone()
    model = build_compiled_model(cfg, data)
    progress = [Progress(run_index, run_count, run_dir.name, remaining_epochs_after)] if verbose else []
    results = fit_and_record(cfg, data, run_dir, model, point=point, extra_callbacks=progress,
                             started=started)
    keras.backend.clear_session()
    if verbose and results["run"]["status"] == "diverged":
        print(diverged_line(results), file=sys.stderr, flush=True)
    return results


def diverged_line(results: dict) -> str:
    """One line saying that (and where) a run diverged and that it was recorded."""
    run = results["run"]
    return (f"[{run['name']}] diverged: training loss not finite at epoch {run['diverged_epoch']}, "
            f"step {run['diverged_step']}; stopped and recorded (status = \"diverged\")")


def steps_per_epoch_of(cfg: ExperimentConfig, data) -> int:
    return max(1, math.ceil(len(data.x_train) / cfg.training.batch_size))


def build_compiled_model(cfg: ExperimentConfig, data):
    """Seed (the config's first seed), build, instrument and compile the run's model."""
    import keras

    from keras_dyn.models import build_model, training_loss
    from keras_dyn.optim import build_optimizer
    from keras_dyn.runs import diagnostics

    keras.utils.set_random_seed(cfg.training.seeds[0])
    model = build_model(cfg.model, data.input_shape, data.num_classes, seed=cfg.training.seeds[0])
    model = diagnostics.prepare_model(model, cfg)
    model.compile(optimizer=build_optimizer(cfg.training, steps_per_epoch_of(cfg, data)),
                  loss=training_loss(cfg.model), metrics=["accuracy"])
    return model


def fit_and_record(cfg: ExperimentConfig, data, run_dir, model, *, point=None, extra_callbacks=(),
                   started=None) -> dict:
    """Fit a compiled model with keras_dyn's callbacks and write ``results.toml`` atomically.

    ``extra_callbacks`` run after keras_dyn's own (progress lines, a tuner's callbacks).
    Returns the results dict (the same as the file's content).

    A run whose training loss becomes NaN or infinite is stopped
    (:class:`~keras_dyn.callbacks.divergence.StopOnDivergence`) and recorded, not raised:
    ``[run] status = "diverged"`` with ``diverged_epoch`` and ``diverged_step``, per-epoch lists
    as long as the epochs it reached (the last one partial), non-finite numbers stored as TOML
    ``nan`` / ``inf``. A run that trained all its epochs has ``status = "complete"``.
    """
    from keras_dyn.callbacks.divergence import StopOnDivergence
    from keras_dyn.callbacks.epoch_recorder import EpochRecorder
    from keras_dyn.runs import diagnostics
    from keras_dyn.runs.batches import epoch_orders, fixed_order_dataset, train_eval_indices

    run_dir = Path(run_dir)
    seed = cfg.training.seeds[0]
    started = started or _dt.datetime.now().astimezone()
    n_train = len(data.x_train)
    steps_per_epoch = steps_per_epoch_of(cfg, data)

    stop = StopOnDivergence()
    # EpochRecorder writes the epoch-level train/validation/test scalars (Keras's own
    # TensorBoard callback is not used: it numbers epochs from 0)
    # train_loss / train_accuracy: a fixed training subset evaluated with each epoch's end weights
    sub = train_eval_indices(n_train, cfg.log.train_eval_size, seed)
    recorder = EpochRecorder(data.x_test if cfg.log.test_every_epoch else None, data.y_test,
                             log_dir=run_dir if cfg.log.tensorboard else None,
                             x_train_eval=data.x_train[sub], y_train_eval=data.y_train[sub])
    # With the NumPy twin on, the batch order is drawn in advance (keras_dyn.runs.batches) so the
    # twin can replay it; otherwise Keras shuffles.
    orders = (epoch_orders(n_train, cfg.training.epochs, seed) if cfg.probes.numpy_twin else None)
    extra = diagnostics.callbacks_for(cfg, data, run_dir, orders=orders)
    # early stopping decides before any diagnostic records the epoch, so they all end on it
    early = diagnostics.early_stopping_callback(cfg)
    callbacks = [stop, *([early] if early else []), recorder, *extra, *extra_callbacks]

    validation = (data.x_val, data.y_val) if len(data.x_val) else None
    updates_before = _updates(model)
    t0, c0 = time.perf_counter(), time.process_time()
    if orders is not None:
        model.fit(fixed_order_dataset(data.x_train, data.y_train, orders, cfg.training.batch_size),
                  epochs=cfg.training.epochs, steps_per_epoch=steps_per_epoch, shuffle=False,
                  validation_data=validation, verbose=0, callbacks=callbacks)
    else:
        model.fit(data.x_train, data.y_train, batch_size=cfg.training.batch_size,
                  epochs=cfg.training.epochs, validation_data=validation, shuffle=True, verbose=0,
                  callbacks=callbacks)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    steps = _updates(model) - updates_before

    epochs = recorder.results()
    if not cfg.log.test_every_epoch:  # evaluate the test set once, at the end
        if cfg.model.l2 > 0:  # Keras's evaluate adds the L2 penalty; test_loss is the cross-entropy
            loss, acc = recorder.cross_entropy(data.x_test, data.y_test)
        else:
            loss, acc = model.evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)
        epochs["test_loss"], epochs["test_accuracy"] = [float(loss)], [float(acc)]
    results = {
        "run": {
            "experiment": cfg.name,
            "name": run_dir.name,
            "seed": seed,
            "point": toml_safe(point or {}),
            **stop.results(),
            "dataset": cfg.data.dataset,
            "num_classes": int(data.num_classes),
            "hidden": list(cfg.model.hidden),
            "batch_size": cfg.training.batch_size,
            "epochs": cfg.training.epochs,
            "epochs_done": len(epochs.get("epoch", [])),
            "params": int(model.count_params()),
            "n_train": int(n_train),
            "n_val": int(len(data.x_val)),
            "n_test": int(len(data.x_test)),
            "n_train_eval": int(len(sub)),
            "steps_per_epoch": steps_per_epoch,
            "steps": steps,
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "started": started.isoformat(timespec="seconds"),
            "keras_dyn": __version__,
        },
        "final": final_metrics(epochs, steps, at_epoch=early.results()["restored_epoch"] if early else 0),
        "epochs": epochs,
    }
    if early:
        results["early_stopping"] = early.results()
    for callback in extra:
        key = getattr(callback, "results_key", None)
        if key and hasattr(callback, "results"):
            results[key] = callback.results()
    results = toml_safe(results)
    atomic_write_toml(run_dir / "results.toml", results)
    return results


def _updates(model) -> int:
    """Optimiser updates done so far (0 before the first ``fit``)."""
    import keras

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(optimizer, "built", True):
        return 0
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


def final_metrics(epochs: dict, steps: int | None = None, at_epoch: int = 0) -> dict:
    """The ``[final]`` table: last-epoch numbers, the best validation epoch, time and rate.

    ``train_accuracy``/``train_loss``: the last epoch's end-of-epoch evaluation on the training
    subset; ``train_accuracy_running``: Keras's running mean over the last epoch. With
    ``at_epoch`` (early stopping restored that epoch's weights: the model the run ends with),
    these and ``test_accuracy``/``test_loss`` are that epoch's row instead (a test set evaluated
    once, after training, already saw the restored weights).
    ``best_val_epoch`` is the epoch (1-based) of the highest finite validation accuracy (left
    out when there is none). ``train_seconds`` / ``train_cpu_seconds`` sum the epochs' wall /
    CPU seconds (training and validation); ``steps_per_second`` = ``steps / train_seconds``.
    """
    final = {}
    numbers = epochs.get("epoch") or []
    row = numbers.index(at_epoch) if at_epoch and at_epoch in numbers else None

    def at(key):
        values = epochs[key]
        return values[row] if row is not None and len(values) == len(numbers) else values[-1]

    if epochs.get("test_accuracy"):
        final["test_accuracy"] = at("test_accuracy")
        final["test_loss"] = at("test_loss")
    for key in ("train_accuracy", "train_loss", "train_accuracy_running"):
        if epochs.get(key):
            final[key] = at(key)
    val = epochs.get("val_accuracy") or []
    finite = [i for i, v in enumerate(val) if math.isfinite(v)]
    if finite:
        best = max(finite, key=val.__getitem__)
        numbers = epochs.get("epoch") or list(range(1, len(val) + 1))
        final["best_val_epoch"] = int(numbers[best])
        final["best_val_accuracy"] = val[best]
        if len(epochs.get("test_accuracy", [])) == len(val):
            final["test_accuracy_at_best_val"] = epochs["test_accuracy"][best]
    final["train_seconds"] = float(sum(epochs.get("seconds", [])))
    final["train_cpu_seconds"] = float(sum(epochs.get("cpu_seconds", [])))
    if steps is not None:
        final["steps"] = int(steps)
        final["steps_per_second"] = (steps / final["train_seconds"] if final["train_seconds"] > 0
                                     else 0.0)
    return final


def toml_safe(value):
    """Plain Python values TOML can hold and read back.

    No None (left out), no NumPy scalars or arrays (plain Python), non-finite floats kept as
    floats (TOML ``nan`` / ``inf`` / ``-inf``, never strings), and lists of numbers that mix
    ints and floats made all floats (TOML arrays must be homogeneous).
    """
    import numpy as np

    if isinstance(value, dict):
        return {str(k): toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, np.ndarray):
        return toml_safe(value.tolist())
    if isinstance(value, (list, tuple)):
        items = [toml_safe(v) for v in value if v is not None]
        numbers = [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if (len(numbers) == len(items) and any(isinstance(v, float) for v in numbers)
                and any(isinstance(v, int) for v in numbers)):
            items = [float(v) for v in items]
        return items
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
