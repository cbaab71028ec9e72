"""`keras.ops.math`: segment reductions, top-k, logsumexp, erf and friends."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops import nn_ops as nn
from tenfold.keras.ops._dtypes import tensor, to_float

_wrap = Tensor._wrap


def _num_segments(ids, num_segments):
    if num_segments is not None:
        return int(num_segments)
    v = ids._value
    return int(v.max()) + 1 if v.size else 0


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of `data` rows per segment id (ids < 0 or >= num_segments are dropped)."""
    x = tensor(data)
    ids = tensor(segment_ids)
    n = _num_segments(ids, num_segments)
    iv = ids._value.astype(np.int64)
    keep = (iv >= 0) & (iv < n)
    if not keep.all():
        sel = _wrap(np.flatnonzero(keep).astype(np.int64))
        x = a.gather(x, sel, axis=0)
        iv = iv[keep]
    return a.scatter_nd(_wrap(iv.reshape(-1, 1)), x, (n,) + tuple(x._value.shape[1:]))


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    x = tensor(data)
    ids = tensor(segment_ids)
    n = _num_segments(ids, num_segments)
    iv = ids._value.astype(np.int64)
    v = x._value
    if v.dtype.kind == "f":
        out = np.full((n,) + v.shape[1:], -np.inf, v.dtype)
    else:
        out = np.full((n,) + v.shape[1:], np.iinfo(v.dtype).min, v.dtype)
    keep = (iv >= 0) & (iv < n)
    np.maximum.at(out, iv[keep], v[keep])
    return _wrap(out)


def top_k(x, k, sorted=True):
    """(values, indices) of the k largest entries along the last axis; indices are int32."""
    res = a.top_k(tensor(x), k=int(k), sorted=sorted)
    return res.values, tensor(res.indices, "int32")


def in_top_k(targets, predictions, k):
    p = tensor(predictions)
    t = tensor(targets)
    if t._value.dtype.kind not in "iu":
        t = tensor(t, "int32")
    tgt = a.take_along_axis(p, a.expand_dims(tensor(t, "int64"), -1), axis=-1)
    greater = m.reduce_sum(m.cast(m.greater(p, tgt), np.int32), axis=-1)
    return m.less(greater, int(k))


def logsumexp(x, axis=None, keepdims=False):
    return m.reduce_logsumexp(to_float(x), axis=axis, keepdims=keepdims)


def erf(x):
    return nn.erf(to_float(x))


def erfinv(x):
    x = to_float(x)
    try:
        from scipy.special import erfinv as _erfinv
        return _wrap(np.asarray(_erfinv(x._value)).astype(x._value.dtype))
    except ImportError:  # pragma: no cover
        raise ImportError("keras.ops.erfinv needs scipy (pip install scipy)") from None


def rsqrt(x):
    return m.rsqrt(to_float(x))


def extract_sequences(x, sequence_length, sequence_stride):
    x = tensor(x)
    n = x._value.shape[-1]
    count = 1 + (n - sequence_length) // sequence_stride
    idx = (np.arange(count)[:, None] * sequence_stride + np.arange(sequence_length)[None, :])
    return a.gather(x, _wrap(idx.astype(np.int64)), axis=x._value.ndim - 1)


def logdet(x):
    from tenfold.ops import linalg_ops
    return linalg_ops.logdet(tensor(x))
