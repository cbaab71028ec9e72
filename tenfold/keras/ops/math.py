"""`keras.ops.math`: segment reductions, top-k, logsumexp, erf and friends."""
import numpy as np

from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops import nn_ops as nn
from tenfold.keras.ops._dtypes import const, npd, shape_of, tensor, to_float


def _segment(how, data, segment_ids, num_segments):
    """Keras's segment reductions: ids outside [0, num_segments) are dropped; without
    `num_segments` the count is max id + 1, worked out by the kernel from the data."""
    from tenfold.ops.segment_ops import _seg, _seg_args
    x, ids = _seg_args(tensor(data), tensor(segment_ids), f"segment_{how}")
    if num_segments is None:
        return _seg(x, ids, num_segments=None, how=how)
    n = int(num_segments)
    drop = m.greater_equal(ids, tensor(n, ids.dtype.name))
    ids = m.where(drop, m.negative(m.ones_like(ids)), ids)  # negative ids are dropped
    return _seg(x, ids, num_segments=n, how=how)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of `data` rows per segment id (ids < 0 or >= num_segments are dropped)."""
    return _segment("sum", data, segment_ids, num_segments)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Maxima of `data` rows per segment id (empty segments: the dtype's lowest value)."""
    return _segment("max", data, segment_ids, num_segments)


def top_k(x, k, sorted=True):
    """(values, indices) of the k largest entries along the last axis; indices are int32."""
    res = a.top_k(tensor(x), k=int(k), sorted=sorted)
    return res.values, tensor(res.indices, "int32")


def in_top_k(targets, predictions, k):
    p = tensor(predictions)
    t = tensor(targets)
    if npd(t).kind not in "iu":
        t = tensor(t, "int32")
    tgt = a.take_along_axis(p, a.expand_dims(tensor(t, "int64"), -1), axis=-1)
    greater = m.reduce_sum(m.cast(m.greater(p, tgt), np.int32), axis=-1)
    return m.less(greater, int(k))


def logsumexp(x, axis=None, keepdims=False):
    return m.reduce_logsumexp(to_float(x), axis=axis, keepdims=keepdims)


def erf(x):
    return nn.erf(to_float(x))


def erfinv(x):
    from tenfold.ops.math_extra import erfinv as _erfinv
    return _erfinv(to_float(x))


def rsqrt(x):
    return m.rsqrt(to_float(x))


def extract_sequences(x, sequence_length, sequence_stride):
    x = tensor(x)
    n = shape_of(x)[-1]
    count = 1 + (n - sequence_length) // sequence_stride
    idx = (np.arange(count)[:, None] * sequence_stride + np.arange(sequence_length)[None, :])
    return a.gather(x, const(idx.astype(np.int64)), axis=x.ndim - 1)


def logdet(x):
    from tenfold.ops import linalg_ops
    return linalg_ops.logdet(tensor(x))
