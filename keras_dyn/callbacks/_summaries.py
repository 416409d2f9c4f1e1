"""Small helpers the diagnostic callbacks share: writing many summaries at once, fast.

Writing tens of thousands of scalars one eager ``tf.summary.scalar`` call at a time costs
seconds per epoch (and a ``tf.function`` loop costs a trace per run); these helpers write a whole
``[steps, tags]`` table with one ``tf.summary.experimental.write_raw_pb`` call per step and hand-assembled protobuf bytes.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorboard.plugins.histogram import metadata as _hist_metadata
from tensorboard.plugins.scalar import metadata as _scalar_metadata


# Histogram tensors are written in float32, half the bytes of tf.summary.histogram's float64:
# TensorBoard's histogram plugin reads any float dtype (tests/test_tensorboard_server.py asks a
# real server for them); edges keep 7 significant digits and counts are exact up to 2**24 per
# bucket. (TensorBoard cannot read compressed event files: its readers open them uncompressed.)
HISTOGRAM_DTYPE = np.float32


def histogram_metadata(tag: str):
    """The SummaryMetadata that marks a ``[k, 3]`` (left, right, count) tensor as a histogram."""
    return _hist_metadata.create_summary_metadata(display_name=tag, description="")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


class _TableWriter:
    """Writes rows of summaries, one ``Summary`` protobuf per step (all tags of that step).

    Each row becomes one event holding every tag's value (TensorBoard's reader splits them
    again), written with ``tf.summary.experimental.write_raw_pb``: one eager call per step
    instead of one per value. The protobuf bytes are assembled directly (``Summary.value`` ->
    ``Value{tag, metadata, tensor}`` -> ``TensorProto{dtype, tensor_shape, tensor_content}``),
    which is some 20x faster than building message objects; the plugin metadata goes with the
    first value of each tag only (that is where TensorBoard reads it from).
    """

    def __init__(self, writer, tags, metadata, dtype, shape=()):
        self.writer, self.tags = writer, list(tags)
        self.dtype = np.dtype(dtype).newbyteorder("<")
        dtype_enum = 1 if self.dtype.itemsize == 4 else 2  # DT_FLOAT, DT_DOUBLE
        self.shape = tuple(shape)
        dims = b"".join(_field(2, b"\x08" + _varint(d)) for d in self.shape)
        self._tensor_head = b"\x08" + _varint(dtype_enum) + _field(2, dims)
        self._nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self._tag_bytes = [_field(1, t.encode("utf-8")) for t in self.tags]
        self._meta_bytes = [_field(9, m.SerializeToString()) for m in metadata]
        self.seen = [False] * len(self.tags)

    def _value(self, j, content: bytes, meta: bool) -> bytes:
        tensor = self._tensor_head + _field(4, content)
        return _field(1, self._tag_bytes[j] + (self._meta_bytes[j] if meta else b"")
                      + _field(8, tensor))

    def _rows(self, values):
        """Serialized Summary per row, metadata-free: constant prefixes + the values' bytes."""
        n, size = len(values), self._nbytes
        content = values.reshape(n, len(self.tags), -1).view(np.uint8).reshape(n, len(self.tags), size)
        prefixes = [self._value(j, bytes(size), False)[:-size] for j in range(len(self.tags))]
        width = sum(len(p) for p in prefixes) + size * len(self.tags)
        buf = np.empty((n, width), np.uint8)
        off = 0
        for j, prefix in enumerate(prefixes):
            buf[:, off:off + len(prefix)] = np.frombuffer(prefix, np.uint8)
            off += len(prefix)
            buf[:, off:off + size] = content[:, j]
            off += size
        return buf

    def __call__(self, values, steps):
        values = np.ascontiguousarray(np.asarray(values).astype(self.dtype))
        values = values.reshape((len(steps), len(self.tags)) + self.shape)
        if not len(steps):
            return
        rows = [r.tobytes() for r in self._rows(values)]
        if not all(self.seen):  # the first row carries each tag's plugin metadata
            raw, size = values[0].tobytes(), self._nbytes
            rows[0] = b"".join(self._value(j, raw[j * size:(j + 1) * size], not self.seen[j])
                               for j in range(len(self.tags)))
            self.seen = [True] * len(self.tags)
        self._write_all(tf.constant(rows), tf.constant(np.asarray(steps, np.int64)))

    def _write_all(self, rows, steps):
        _raw_writer(self.writer)(rows, steps)


@tf.function
def _write_rows(resource, rows, steps):
    """A loop of WriteRawProtoSummary on a writer's resource handle: traced once per process."""
    from tensorflow.python.ops import gen_summary_ops

    for i in tf.range(tf.shape(rows)[0]):
        gen_summary_ops.write_raw_proto_summary(resource, steps[i], rows[i])
    return tf.constant(0)


def _raw_writer(writer):
    """``write(rows, steps)`` for ``writer``; falls back to a per-writer graph if the writer
    has no resource handle (a TensorFlow version that changed the internals)."""
    resource = getattr(writer, "_resource", None)
    if resource is not None:
        return lambda rows, steps: _write_rows(resource, rows, steps)
    fn = getattr(writer, "_keras_dyn_raw_writer", None)
    if fn is None:
        @tf.function
        def fn(rows, steps):
            with writer.as_default():
                for i in tf.range(tf.shape(rows)[0]):
                    tf.summary.experimental.write_raw_pb(rows[i], step=steps[i])
            return tf.constant(0)

        writer._keras_dyn_raw_writer = fn
    return fn


def scalar_table_writer(writer, tags: list[str]):
    """Return ``write(values, steps)``: ``values`` ``[n, len(tags)]``, ``steps`` ``[n]``.

    Row ``i`` is written as one scalar per tag at step ``steps[i]`` (the same data
    ``tf.summary.scalar`` writes: a float32 scalar tensor with the scalars plugin's metadata).
    """
    metas = [_scalar_metadata.create_summary_metadata(display_name=t, description="") for t in tags]
    return _TableWriter(writer, tags, metas, np.float32)


def histogram_table_writer(writer, tags: list[str], bins: int = 30):
    """Return ``write(hists, steps)``: ``hists`` ``[n, len(tags), k, 3]``, ``steps`` ``[n]``.

    Writes TensorBoard histogram summaries (the plugin's ``[k, 3]`` left/right/count layout that
    ``tf.summary.histogram`` writes), in float32 (:data:`HISTOGRAM_DTYPE`).
    """
    return _TableWriter(writer, tags, [histogram_metadata(t) for t in tags], HISTOGRAM_DTYPE,
                        shape=(bins, 3))


def histogram_of(values, bins: int = 30) -> np.ndarray | None:
    """A ``[bins, 3]`` (left, right, count) histogram of the finite ``values`` (equal-width, min
    to max). NaN and infinite values are left out; ``None`` when no value is finite (an empty
    input gives all-zero counts)."""
    v = np.asarray(values, np.float64).ravel()
    if v.size == 0:
        return np.zeros((bins, 3))
    finite = np.isfinite(v)
    if not finite.all():
        v = v[finite]
        if v.size == 0:
            return None
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)


def finite_histogram(h) -> bool:
    """Whether a ``[k, 3]`` histogram has finite edges and counts (one binned from finite values)."""
    return h is not None and bool(np.all(np.isfinite(np.asarray(h))))


def sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits (keeps results files small)."""
    x = float(x)
    return float(f"{x:.{digits}g}") if np.isfinite(x) else x


def write_row(writer, step: int, scalars: dict | None = None, histograms: dict | None = None,
              binned: dict | None = None):
    """Write some scalars (tag -> float) and histograms (tag -> values) at one step, eagerly.

    Histograms are bucketed in NumPy (:func:`histogram_of`, 30 equal-width buckets over the
    finite values, the layout ``tf.summary.histogram`` writes; a histogram with no finite value
    is left out); ``binned`` holds histograms already bucketed (tag -> ``[k, 3]``), written as
    they are; both in float32, as :func:`histogram_table_writer` (one beyond float32's range is
    left out too). Everything goes out as one ``Summary`` in one ``write_raw_pb`` call: much
    cheaper than one eager ``tf.summary`` call per tag.
    """
    from tensorboard.compat.proto import summary_pb2

    summary = summary_pb2.Summary()
    for tag, value in (scalars or {}).items():
        v = summary.value.add(tag=tag)
        v.metadata.CopyFrom(_scalar_metadata.create_summary_metadata(display_name=tag, description=""))
        v.tensor.dtype = 1  # DT_FLOAT
        v.tensor.tensor_content = np.asarray(value, "<f4").reshape(()).tobytes()
    tables = {tag: histogram_of(values) for tag, values in (histograms or {}).items()}
    tables.update(binned or {})
    for tag, h in tables.items():
        if h is None:
            continue
        with np.errstate(over="ignore"):
            h = np.asarray(h, np.float64).astype("<f4")
        if not np.isfinite(h).all():  # beyond float32's range (a float64 model diverging)
            continue
        v = summary.value.add(tag=tag)
        v.metadata.CopyFrom(histogram_metadata(tag))
        v.tensor.dtype = 1  # DT_FLOAT (HISTOGRAM_DTYPE)
        for d in h.shape:
            v.tensor.tensor_shape.dim.add(size=d)
        v.tensor.tensor_content = h.tobytes()
    if not summary.value:
        return
    with writer.as_default():
        tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=int(step))
