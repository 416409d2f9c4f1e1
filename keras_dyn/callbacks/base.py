"""DiagnosticCallback: the base every per-epoch diagnostic of keras_dyn is built on.

It owns what every diagnostic needs and nothing a single one should decide for itself: the
summary writers (one per sub-folder of the run folder, opened in ``on_train_begin``, flushed
after every write, closed in ``on_train_end``), the ``every`` knob, the epoch numbering, and the
per-epoch results table behind ``results()`` / ``results_key``. A diagnostic implements
:meth:`DiagnosticCallback.record` (and usually :meth:`DiagnosticCallback.setup`), much as
fastai's ``ActivationStats`` only implements the hook of its ``HookCallback``.

The epoch convention (the one convention of keras_dyn: tags, results files, figures)
-----------------------------------------------------------------------------------
- **Epoch e** (1-based) is the state *after e epochs of training*. **Epoch 0** is the state
  before the first optimiser step; it is recorded only by diagnostics that record a starting
  state (``record_start = True``: of keras_dyn's own, only :class:`ActivationStatistics`).
- **``every = k``**: a diagnostic records at epochs k, 2k, 3k, ... and always at the last epoch
  (the last of ``fit``'s ``epochs``, or the epoch in which training stopped early, e.g. a run
  that diverged).
- **TensorBoard**: epoch-level summaries at step = the epoch number (1-based, 0 for a starting
  state); per-step summaries at step = the number of optimiser updates done (1-based: the
  gradient applied by the first update is at step 1).
- **Results files**: every per-epoch table has an ``epoch`` list holding these numbers, one
  per recorded row; figures put these numbers on the x axis as they are.

Keras itself numbers epochs from 0 (``on_epoch_end(epoch=0)`` ends the first epoch); the
conversion happens here, once (``epoch + 1``), and nowhere else.

Non-finite values (a run whose loss became NaN or infinite) never stop a diagnostic: scalars
stay NaN / inf in the results (TOML ``nan`` / ``inf``), histograms bin the finite values only
and are left out when there are none.

Writing a diagnostic
--------------------
::

    class MeanOutput(DiagnosticCallback):
        '''Mean of the model's output on a fixed batch.'''

        results_key = "mean_output"

        def __init__(self, x, log_dir=None, every=1):
            super().__init__(log_dir, every=every)
            self.x = x

        def record(self, epoch, logs):
            m = float(np.mean(self.model.predict(self.x, verbose=0)))
            return Record({"mean": m}, scalars={"out/mean": m})

``results()`` then is ``{"epoch": [1, 2, ...], "mean": [...]}`` and TensorBoard gets
``out/mean`` at steps 1, 2, ... in ``<log_dir>/train``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import keras

from keras_dyn.callbacks._summaries import write_row


@dataclass
class Record:
    """What :meth:`DiagnosticCallback.record` returns for one epoch.

    Attributes:
        values: a nested dict whose leaves are appended, one item each, to the lists at the same
            path in the results table (``{"hidden1": {"mean": 0.1}}`` appends 0.1 to
            ``results()["hidden1"]["mean"]``). A leaf may itself be a list (one item per epoch).
        scalars: TensorBoard tag -> float, written at step = the epoch.
        histograms: TensorBoard tag -> array of values, bucketed (finite values only) and
            written at step = the epoch.
    """

    values: dict = field(default_factory=dict)
    scalars: dict = field(default_factory=dict)
    histograms: dict = field(default_factory=dict)


class DiagnosticCallback(keras.callbacks.Callback):
    """Base class of keras_dyn's diagnostics: writer, ``every``, epoch numbering, results.

    Subclasses implement:

    - ``setup(self) -> dict | None`` (optional): build the per-run state (probe sets, side
      models, ...), called from ``on_train_begin`` once ``self.model`` and ``self.params`` are
      set. What it returns goes into the results table as it is (static entries such as the
      list of layers).
    - ``record(self, epoch, logs) -> Record | None``: measure at ``epoch`` (1-based; 0 for the
      starting state) and return a :class:`Record`, or ``None`` to record nothing.
    - ``teardown(self)`` (optional): release resources, called from ``on_train_end``.

    The base calls ``record`` at the epochs of the convention above (see the module docstring),
    appends the epoch number to ``results()["epoch"]``, appends the record's values to the
    table and writes its scalars and histograms. Subclasses that write more (per-step tables,
    other sub-folders) use :meth:`writer` and :meth:`write`.

    Class attributes:
        results_key: the table name in the run's ``results.toml`` (``None``: no table).
        record_start: also record epoch 0, the state before the first step.

    Args:
        log_dir: the run folder; summaries go to ``<log_dir>/<subdir>``. ``None``: no
            summaries, results only.
        every: record every this many epochs (and always at the last one).
        subdir: the default sub-folder of ``log_dir`` for the summaries.

    Example:
        >>> class Norm(DiagnosticCallback):
        ...     results_key = "norm"
        ...     def record(self, epoch, logs):
        ...         n = float(sum(np.sum(w.numpy() ** 2) for w in self.model.weights) ** 0.5)
        ...         return Record({"norm": n}, scalars={"norm/all": n})
        >>> cb = Norm("modellogs/demo/run1", every=2)
        >>> model.fit(x, y, epochs=5, callbacks=[cb])
        >>> cb.results()["epoch"]
        [2, 4, 5]
    """

    results_key: str | None = None
    record_start: bool = False

    def __init__(self, log_dir=None, *, every: int = 1, subdir: str = "train"):
        super().__init__()
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.every = max(1, int(every))
        self.subdir = subdir
        self._table = None
        self._writers = {}

    # ------------------------------------------------------------------ for subclasses

    def setup(self) -> dict | None:
        """Build the per-run state; return static entries of the results table (or None)."""
        return None

    def record(self, epoch: int, logs: dict) -> Record | None:
        """Measure at ``epoch`` (1-based, 0 = before training) and return a :class:`Record`."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Release what ``setup`` built (called from ``on_train_end``)."""

    # ------------------------------------------------------------------ the machinery

    @property
    def last_epoch(self) -> int | None:
        """The last epoch ``fit`` was asked for (1-based), if known."""
        epochs = (self.params or {}).get("epochs")
        return None if epochs is None else int(epochs)

    def due(self, epoch: int) -> bool:
        """Whether ``epoch`` (1-based) is recorded: k, 2k, ..., the last, or a stop."""
        if epoch % self.every == 0 or epoch == self.last_epoch:
            return True
        return bool(getattr(self.model, "stop_training", False))  # the run stops after this epoch

    def on_train_begin(self, logs=None):
        self._close_writers()
        self.writer()  # opens <log_dir>/<subdir> (other sub-folders open on first write)
        self._table = {"epoch": []}
        self._table.update(self.setup() or {})
        if self.record_start:
            self._take(0, {})

    def on_epoch_end(self, epoch, logs=None):
        number = int(epoch) + 1  # Keras counts epochs from 0; the convention from 1
        if self.due(number):
            self._take(number, logs if logs is not None else {})

    def on_train_end(self, logs=None):
        try:
            self.teardown()
        finally:
            self._close_writers()

    def _take(self, epoch: int, logs: dict):
        rec = self.record(epoch, logs)
        if rec is None:
            return
        self._table["epoch"].append(int(epoch))
        _append(self._table, rec.values)
        if rec.scalars or rec.histograms:
            self.write(epoch, rec.scalars, rec.histograms)

    def writer(self, subdir: str | None = None):
        """The summary writer of ``<log_dir>/<subdir>`` (default ``self.subdir``); ``None``
        when there is no ``log_dir``. Opened on first use, closed in ``on_train_end``."""
        if self.log_dir is None:
            return None
        subdir = self.subdir if subdir is None else subdir
        if subdir not in self._writers:
            import tensorflow as tf

            self._writers[subdir] = tf.summary.create_file_writer(str(self.log_dir / subdir))
        return self._writers[subdir]

    def write(self, step: int, scalars: dict | None = None, histograms: dict | None = None,
              subdir: str | None = None) -> None:
        """Write scalars (tag -> float) and histograms (tag -> values) at ``step``, then flush.

        Non-finite scalars are written as they are (TensorBoard marks them); histograms bin the
        finite values only and are skipped when there are none. Nothing happens without a
        ``log_dir``.
        """
        w = self.writer(subdir)
        if w is None:
            return
        write_row(w, step, scalars, histograms)
        w.flush()

    def _close_writers(self):
        writers, self._writers = self._writers, {}
        for w in writers.values():
            w.close()

    def results(self) -> dict:
        """The per-epoch table: ``epoch`` (the recorded epochs) and one list per value."""
        return {} if self._table is None else _copy(self._table)


def _append(table: dict, values: dict) -> None:
    for key, value in values.items():
        if isinstance(value, dict):
            _append(table.setdefault(key, {}), value)
        else:
            table.setdefault(key, []).append(value)


def _copy(node):
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) for v in node]
    return node
