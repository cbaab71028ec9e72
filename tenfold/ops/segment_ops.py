"""Segment reductions, bincount, confusion matrices and histograms (`tf.math`).

Two primitives (unsorted segment sum, and segment max/min/prod by scatter-reduce); every other
segment op is composed from them. Segment ids out of range are errors, except that
`unsorted_segment_*` drop negative ids, as TensorFlow does.
"""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive, INTEGER_VALUED
from tenfold.ops._convert import tensor
from tenfold.ops import _checks
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a

from tenfold.backend import xp_of, kernels_of

_wrap = Tensor._wrap


def _seg_kernel(data, ids, num_segments, how):
    xp = xp_of(data)
    k = ids.ndim
    flat_ids = ids.reshape(-1)
    flat = data.reshape((-1,) + data.shape[k:])
    keep = flat_ids >= 0
    if not keep.all():
        flat_ids, flat = flat_ids[keep], flat[keep]
    if num_segments is None:  # max id + 1, from the data (so a graph replay gets its own)
        num_segments = int(flat_ids.max()) + 1 if flat_ids.size else 0
    out_shape = (num_segments,) + data.shape[k:]
    _checks.check_alloc(f"segment_{how}", out_shape, data.dtype)
    if flat_ids.size and flat_ids.max() >= num_segments:
        raise InvalidArgumentError(f"segment ids must be < num_segments = {num_segments}, "
                                   f"got {int(flat_ids.max())}")
    if how == "sum":
        out = xp.zeros(out_shape, dtype=data.dtype)
        kernels_of(data).scatter_add(out, flat_ids, flat)
        return out
    if how == "prod":
        out = xp.ones(out_shape, dtype=data.dtype)
        np.multiply.at(out, flat_ids, flat)
        return out
    if data.dtype.kind == "f":  # empty segments: the dtype's lowest (highest), as TensorFlow
        info = np.finfo(data.dtype)
        init = info.min if how == "max" else info.max
    elif data.dtype.name == "bfloat16":
        init = -np.inf if how == "max" else np.inf
    else:
        info = np.iinfo(data.dtype)
        init = info.min if how == "max" else info.max
    out = xp.full(out_shape, init, dtype=data.dtype)
    (np.maximum if how == "max" else np.minimum).at(out, flat_ids, flat)
    return out


def _gather_ids(t, ids):
    """t[ids] for ids of any rank (negative ids give zeros)."""
    valid = m.greater_equal(ids, 0)
    safe = m.where(valid, ids, m._zeros_like(ids))
    g = a.gather(t, safe)
    mask_shape = ids._value.shape + (1,) * (g._value.ndim - ids._value.ndim)
    return m.multiply(g, m.cast(a.reshape(valid, mask_shape), g.dtype))


def _seg_grad(g, out, data, ids, num_segments, how):
    if how == "sum":
        return _gather_ids(g, ids)
    if how in ("max", "min"):
        picked = _gather_ids(out, ids)
        hit = m.cast(m.equal(data, picked), g.dtype)
        count = _gather_ids(_seg(hit, ids, num_segments=num_segments, how="sum"), ids)
        return m.div_no_nan(m.multiply(hit, _gather_ids(g, ids)), count)
    # prod: the product of the other entries, handling zeros as TensorFlow does
    zero = m.equal(data, 0)
    nonzero_data = m.where(zero, m.ones_like(data), data)
    nz_prod = _seg(nonzero_data, ids, num_segments=num_segments, how="prod")
    zeros = _seg(m.cast(zero, dtypes.int32), ids, num_segments=num_segments, how="sum")
    gz = _gather_ids(zeros, ids)
    others = m.where(zero, m.where(m.equal(gz, 1), _gather_ids(nz_prod, ids),
                                   m.zeros_like(data)),
                     m.div_no_nan(_gather_ids(out, ids), data))
    return m.multiply(others, _gather_ids(g, ids))


_seg = primitive("unsorted_segment_reduce", _seg_kernel, grads=(_seg_grad, None))


def _seg_args(data, segment_ids, op):
    x, ids = tensor(data), tensor(segment_ids)
    if ids._value.dtype.kind not in "iu":
        raise TypeError(f"{op}: segment_ids must be int32 or int64, got {ids.dtype.name}")
    k = ids._value.ndim
    if x._value.shape[:k] != ids._value.shape:
        raise InvalidArgumentError(f"{op}: segment_ids shape {list(ids._value.shape)} must be a "
                                   f"prefix of data shape {list(x._value.shape)}")
    return x, ids


def _segments_arg(num_segments, x, ids, op):
    n = _checks.non_negative_int(num_segments, op, "num_segments")
    _checks.check_alloc(op, (n,) + x._value.shape[ids._value.ndim:], x._value.dtype)
    return n


def _unsorted(how):
    def op(data, segment_ids, num_segments, name=None):
        opname = f"unsorted_segment_{how}"
        x, ids = _seg_args(data, segment_ids, opname)
        # empty segments hold 0 (sum), 1 (prod) or the dtype's lowest / highest (max / min)
        n = _segments_arg(num_segments, x, ids, opname)
        return _seg(x, ids, num_segments=n, how=how)
    op.__name__ = f"unsorted_segment_{how}"
    return op


unsorted_segment_sum = _unsorted("sum")
unsorted_segment_prod = _unsorted("prod")
unsorted_segment_max = _unsorted("max")
unsorted_segment_min = _unsorted("min")


def _counts(ids, n, dtype):
    ones = m.cast(m.greater_equal(ids, 0), dtype)
    return _seg(ones, ids, num_segments=n, how="sum")


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    x, ids = _seg_args(data, segment_ids, "unsorted_segment_mean")
    n = _segments_arg(num_segments, x, ids, "unsorted_segment_mean")
    s = _seg(x, ids, num_segments=n, how="sum")
    c = _counts(ids, n, x.dtype)
    c = a.reshape(c, c._value.shape + (1,) * (s._value.ndim - 1))
    return m.div_no_nan(s, c)


def unsorted_segment_sqrt_n(data, segment_ids, num_segments, name=None):
    x, ids = _seg_args(data, segment_ids, "unsorted_segment_sqrt_n")
    n = _segments_arg(num_segments, x, ids, "unsorted_segment_sqrt_n")
    s = _seg(x, ids, num_segments=n, how="sum")
    c = _counts(ids, n, x.dtype)
    c = a.reshape(c, c._value.shape + (1,) * (s._value.ndim - 1))
    return m.div_no_nan(s, m.sqrt(c))


def _sorted(how):
    def op(data, segment_ids, name=None):
        opname = f"segment_{how}"
        x, ids = _seg_args(data, segment_ids, opname)
        v = ids._value
        if v.ndim != 1:
            raise InvalidArgumentError(f"{opname}: segment_ids must be 1-D, got shape "
                                       f"{list(v.shape)}")
        if v.size and ((v < 0).any() or (np.diff(v) < 0).any()):
            raise InvalidArgumentError(f"{opname}: segment_ids must be sorted and "
                                       f"non-negative, got {v.tolist()[:10]}")
        n = int(v[-1]) + 1 if v.size else 0
        if how == "mean":
            return unsorted_segment_mean(x, ids, n)
        if how == "sqrt_n":
            return unsorted_segment_sqrt_n(x, ids, n)
        out = _seg(x, ids, num_segments=n, how=how)
        if how in ("max", "min"):  # empty segments are 0 in the sorted variants
            c = _counts(ids, n, dtypes.int32)
            c = a.reshape(c, c._value.shape + (1,) * (out._value.ndim - 1))
            out = m.where(m.greater(c, 0), out, m.zeros_like(out))
        return out
    op.__name__ = f"segment_{how}"
    return op


segment_sum = _sorted("sum")
segment_prod = _sorted("prod")
segment_max = _sorted("max")
segment_min = _sorted("min")
segment_mean = _sorted("mean")
segment_sqrt_n = _sorted("sqrt_n")


def _bincount_kernel(arr, weights, minlength, maxlength, dtype, binary):
    # The output length depends on the data (max + 1), so the kernel works it out: a graph
    # replays this node on new values and gets the new length.
    flat = arr.reshape(-1).astype(np.int64)
    if flat.size and flat.min() < 0:
        raise InvalidArgumentError(f"bincount: input arr must be non-negative, got "
                                   f"{int(flat.min())}")
    length = int(flat.max()) + 1 if flat.size else 0
    if minlength is not None:
        length = max(length, minlength)
    if maxlength is not None:
        length = min(length, maxlength)
    _checks.check_alloc("bincount", (length,), np.float64)
    keep = flat < length
    w = None if weights is None else weights.reshape(-1)[keep]
    if binary:
        out = np.zeros(length, dtype=dtype)
        out[flat[keep]] = 1
        return out
    return np.bincount(flat[keep], weights=w, minlength=length)[:length].astype(dtype)


# No gradient: integer-valued counts.
_bincount = primitive("bincount", lambda arr, minlength, maxlength, dtype, binary:
                      _bincount_kernel(arr, None, minlength, maxlength, dtype, binary),
                      no_grad=INTEGER_VALUED)
_bincount_w = primitive("bincount_weighted", lambda arr, w, minlength, maxlength, dtype, binary:
                        _bincount_kernel(arr, w, minlength, maxlength, dtype, binary),
                        no_grad=INTEGER_VALUED)


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=dtypes.int32, name=None,
             axis=None, binary_output=False):
    """Counts of each non-negative integer in arr (or sums of weights); 1-D output."""
    x = tensor(arr)
    if x._value.dtype.kind not in "iu":
        raise TypeError(f"bincount: arr must be integers, got {x.dtype.name}")
    if axis not in (None, 0, -1):
        raise NotImplementedError("bincount: only axis=None (or 0) is supported")
    lo = None if minlength is None else _checks.non_negative_int(minlength, "bincount", "minlength")
    hi = None if maxlength is None else _checks.non_negative_int(maxlength, "bincount", "maxlength")
    if weights is not None:
        w = tensor(weights)
        if w._value.shape != x._value.shape:
            raise InvalidArgumentError(f"bincount: weights shape {list(w._value.shape)} must "
                                       f"match arr shape {list(x._value.shape)}")
        return _bincount_w(x, w, minlength=lo, maxlength=hi, dtype=w._value.dtype,
                           binary=bool(binary_output))
    return _bincount(x, minlength=lo, maxlength=hi, dtype=dtypes.as_dtype(dtype)._np,
                     binary=bool(binary_output))


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=dtypes.int32,
                     name=None):
    """[num_classes, num_classes] counts: rows are labels, columns are predictions."""
    lab = m.cast(a.reshape(tensor(labels), [-1]), dtypes.int64)
    pred = m.cast(a.reshape(tensor(predictions), [-1]), dtypes.int64)
    if lab._value.shape != pred._value.shape:
        raise InvalidArgumentError(f"confusion_matrix: labels ({lab._value.shape[0]}) and "
                                   f"predictions ({pred._value.shape[0]}) must have the same "
                                   f"number of elements")
    lv, pv = lab._value, pred._value
    if (lv.size and lv.min() < 0) or (pv.size and pv.min() < 0):
        raise InvalidArgumentError("confusion_matrix: labels and predictions must be "
                                   "non-negative")
    if num_classes is None:
        num_classes = int(max(lv.max() if lv.size else -1, pv.max() if pv.size else -1)) + 1
    n = int(num_classes)
    if (lv.size and lv.max() >= n) or (pv.size and pv.max() >= n):
        raise InvalidArgumentError(f"confusion_matrix: labels and predictions must be < "
                                   f"num_classes = {n}")
    dt = dtypes.as_dtype(dtype)
    w = a.ones_like(lab, dtype=dt) if weights is None else \
        m.cast(a.reshape(tensor(weights), [-1]), dt)
    idx = a.stack([lab, pred], axis=1)
    return a.scatter_nd(idx, w, [n, n])


def histogram_fixed_width_bins(values, value_range, nbins=100, dtype=dtypes.int32, name=None):
    """The bin index of each value among nbins equal bins over value_range (clamped)."""
    op = "histogram_fixed_width_bins"
    vals = tensor(values)
    rng = tensor(value_range)
    if vals._value.dtype.kind not in "iuf" or rng._value.dtype.kind not in "iuf":
        raise TypeError(f"{op}: values and value_range must be numeric, got "
                        f"{vals.dtype.name} and {rng.dtype.name}")
    if rng._value.shape != (2,):
        raise InvalidArgumentError(f"{op}: value_range must have shape [2], got "
                                   f"{list(rng._value.shape)}")
    nbins = _checks.positive_int(nbins, op, "nbins")
    v = m.cast(vals, dtypes.float64)
    lo, hi = [float(x) for x in np.asarray(rng._value, np.float64)]
    if not lo < hi:
        raise InvalidArgumentError(f"{op}: value_range[0] must be < value_range[1], got "
                                   f"{[lo, hi]}")
    scaled = m.multiply(m.divide(m.subtract(v, lo), hi - lo), float(nbins))
    idx = m.clip_by_value(m.floor(scaled), 0.0, float(nbins - 1))
    return m.cast(idx, dtype)


def histogram_fixed_width(values, value_range, nbins=100, dtype=dtypes.int32, name=None):
    """Counts of values in nbins equal bins over value_range (outliers go to the end bins)."""
    bins = histogram_fixed_width_bins(values, value_range, nbins, dtypes.int64)
    return bincount(bins, minlength=int(nbins), maxlength=int(nbins), dtype=dtype)
