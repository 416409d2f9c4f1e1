"""Small helpers the diagnostic callbacks share: writing many summaries at once, fast.

Writing tens of thousands of scalars one eager ``tf.summary.scalar`` call at a time costs
seconds per epoch; these helpers write a whole ``[steps, tags]`` table inside one
``tf.function`` loop instead.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorboard.plugins.histogram import metadata as _hist_metadata
from tensorboard.plugins.scalar import metadata as _scalar_metadata


def histogram_metadata(tag: str):
    """The SummaryMetadata that marks a ``[k, 3]`` (left, right, count) tensor as a histogram."""
    return _hist_metadata.create_summary_metadata(display_name=tag, description="")


def scalar_table_writer(writer, tags: list[str]):
    """Return ``write(values, steps)``: ``values`` ``[n, len(tags)]``, ``steps`` ``[n]`` int64.

    Row ``i`` is written as one scalar per tag at step ``steps[i]``, all in one graph call.
    """

    # tf.summary.write, not tf.summary.scalar: inside the graph loop scalar() would prefix the
    # tags with the loop's name scope ("while/...")
    metas = [_scalar_metadata.create_summary_metadata(display_name=t, description="") for t in tags]

    @tf.function(reduce_retracing=True)
    def write(values, steps):
        with writer.as_default():
            for i in tf.range(tf.shape(values)[0]):
                for j, tag in enumerate(tags):
                    tf.summary.write(tag, values[i, j], step=steps[i], metadata=metas[j])
        return tf.constant(0)

    def call(values, steps):
        values = np.asarray(values, np.float32).reshape(len(steps), len(tags))
        if len(steps):
            write(tf.constant(values), tf.constant(np.asarray(steps, np.int64)))

    return call


def histogram_table_writer(writer, tags: list[str]):
    """Return ``write(hists, steps)``: ``hists`` ``[n, len(tags), k, 3]``, ``steps`` ``[n]``.

    Writes TensorBoard histogram summaries (the plugin's ``[k, 3]`` left/right/count layout,
    the same data ``tf.summary.histogram`` would write) in one graph call.
    """
    metas = [histogram_metadata(t) for t in tags]

    @tf.function(reduce_retracing=True)
    def write(hists, steps):
        with writer.as_default():
            for i in tf.range(tf.shape(hists)[0]):
                for j, tag in enumerate(tags):
                    tf.summary.write(tag, hists[i, j], step=steps[i], metadata=metas[j])
        return tf.constant(0)

    def call(hists, steps):
        if len(steps):
            write(tf.constant(np.asarray(hists, np.float64)), tf.constant(np.asarray(steps, np.int64)))

    return call


def histogram_of(values, bins: int = 30) -> np.ndarray:
    """A ``[bins, 3]`` (left, right, count) histogram of ``values`` (equal-width, min to max)."""
    v = np.asarray(values, np.float64).ravel()
    if v.size == 0:
        return np.zeros((bins, 3))
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)


def sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits (keeps results files small)."""
    x = float(x)
    return float(f"{x:.{digits}g}") if np.isfinite(x) else x
