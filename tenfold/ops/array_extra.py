"""Less common array ops: sorting, top-k, unique, searchsorted, roll / repeat / meshgrid,
sequence masks, space-to-depth, bitcast, dynamic partition / stitch, scatter max / min.

Split from array_ops so that `import tenfold` compiles less; `array_ops.<name>` still finds them.
"""
import builtins
from collections import namedtuple as _nt

import numpy as np

from tenfold.backend import xp_of, kernels_of, to_numpy

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive, FREE, INTEGER_VALUED
from tenfold.ops._convert import tensor
from tenfold.ops import _checks
from tenfold.ops import math_ops
from tenfold.ops.math_ops import normalize_axis
from tenfold.ops.array_ops import range as _tf_range
from tenfold.ops.array_ops import (  # noqa: F401
    _check_indices, _gather, _gather_nd, _index_dtype, _int_indices, _ints, _strided_slice,
    _tensor_scatter_args, _wrap, boolean_mask, broadcast_to, concat, expand_dims, gather,
    reshape, transpose)


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None, name=None):
    """Reverses the first seq_lengths[i] entries of each batch element i along seq_axis."""
    x, lens = tensor(input), tensor(seq_lengths)
    if seq_axis is None:
        raise ValueError("reverse_sequence: seq_axis is required (the axis to reverse along), "
                         "got None")
    batch_axis = 0 if batch_axis is None else batch_axis
    nd = x._value.ndim
    (sa,) = normalize_axis(seq_axis, nd, "reverse_sequence")
    (ba,) = normalize_axis(batch_axis, nd, "reverse_sequence")
    n_t, n_b = x._value.shape[sa], x._value.shape[ba]
    t = _tf_range(n_t, dtype=lens.dtype)
    lens_c = expand_dims(lens, 1)
    src = math_ops.where(math_ops.less(t, lens_c), math_ops.subtract(lens_c - 1, t),
                         broadcast_to(t, (n_b, n_t)))
    perm = [ba, sa] + [i for i in builtins.range(nd) if i not in (ba, sa)]
    xt = transpose(x, perm)
    out = gather(xt, src, axis=1, batch_dims=1)
    return transpose(out, [int(i) for i in np.argsort(perm)])


def roll(input, shift, axis, name=None):
    """Rotates elements along axis (or axes) by shift positions."""
    x = tensor(input)
    shifts = _ints(shift, "roll's shift")
    axes = _ints(axis, "roll's axis")
    if len(shifts) != len(axes):
        raise InvalidArgumentError(f"roll: shift {list(shifts)} and axis {list(axes)} must "
                                   f"have the same length")
    total = {}
    for s, a in zip(shifts, axes):
        (a,) = normalize_axis(a, x._value.ndim, "roll")
        total[a] = total.get(a, 0) + s
    out = x
    for a, s in total.items():
        n = x._value.shape[a]
        if n == 0 or s % n == 0:
            continue
        idx = (np.arange(n) - s) % n
        out = _gather(out, _wrap(idx.astype(np.int64)), axis=a, batch_dims=0)
    return out


def repeat(input, repeats, axis=None, name=None):
    """Repeats each element `repeats` times along axis (on the flattened input if None)."""
    x = tensor(input)
    if axis is None:
        x = reshape(x, [-1])
        axis = 0
    (ax,) = normalize_axis(axis, x._value.ndim, "repeat")
    r = np.asarray(repeats.numpy() if isinstance(repeats, Tensor) else repeats)
    n = x._value.shape[ax]
    if r.ndim and r.shape[0] not in (1, n):
        raise InvalidArgumentError(f"repeat: repeats has {r.shape[0]} entries but axis {ax} "
                                   f"has size {n}")
    if r.dtype.kind not in "iu":
        raise TypeError(f"repeat: repeats must be integers, got {r.dtype}")
    if (r < 0).any():
        raise InvalidArgumentError("repeat: repeats must be non-negative")
    total = int(r.astype(object).sum()) * (1 if r.ndim else n)
    _checks.check_alloc("repeat", x._value.shape[:ax] + (total,) + x._value.shape[ax + 1:],
                        x._value.dtype)
    idx = np.repeat(np.arange(n), r.astype(np.int64))
    return _gather(x, _wrap(idx.astype(np.int64)), axis=ax, batch_dims=0)


def _scatter_minmax_kernel(t, indices, updates, how):
    for j in builtins.range(indices.shape[-1]):
        _check_indices(indices[..., j], t.shape[j], "tensor_scatter_nd_" + how, j)
    out = t.copy()
    ufunc = np.maximum if how == "max" else np.minimum
    ufunc.at(out, tuple(np.moveaxis(indices, -1, 0)), updates)
    return out


def _scatter_minmax_grad_t(g, out, t, indices, updates, how):
    return math_ops._mul(g, math_ops._cast(math_ops._equal(out, t), dtype=g._value.dtype))


def _scatter_minmax_grad_u(g, out, t, indices, updates, how):
    hit = math_ops._equal(_gather_nd(out, indices), updates)
    return math_ops._mul(_gather_nd(g, indices), math_ops._cast(hit, dtype=g._value.dtype))


_scatter_minmax = primitive("tensor_scatter_minmax", _scatter_minmax_kernel,
                            grads=(_scatter_minmax_grad_t, None, _scatter_minmax_grad_u), flops=FREE)


def _tensor_scatter_minmax(op, how, tensor_, indices, updates):
    t, idx, upd = _tensor_scatter_args(op, tensor_, indices, updates)
    return _scatter_minmax(t, idx, upd, how=how)


def tensor_scatter_nd_max(tensor_, indices, updates, name=None):
    return _tensor_scatter_minmax("tensor_scatter_nd_max", "max", tensor_, indices, updates)


def tensor_scatter_nd_min(tensor_, indices, updates, name=None):
    return _tensor_scatter_minmax("tensor_scatter_nd_min", "min", tensor_, indices, updates)


def dynamic_partition(data, partitions, num_partitions, name=None):
    x, p = tensor(data), tensor(partitions)
    n = _checks.non_negative_int(num_partitions, "dynamic_partition", "num_partitions")
    if p._value.dtype.kind not in "iu":
        raise TypeError(f"dynamic_partition: partitions must be int32, got {p.dtype.name}")
    pv = p._value
    if pv.size and (pv.min() < 0 or pv.max() >= n):
        raise InvalidArgumentError(f"dynamic_partition: partitions must be in [0, {n})")
    return [boolean_mask(x, math_ops.equal(p, i)) for i in builtins.range(n)]


def dynamic_stitch(indices, data, name=None):
    """Interleaves data[i] into positions indices[i] (later entries win on duplicates)."""
    idx = [tensor(i) for i in _checks.tensor_list(indices, "dynamic_stitch", "indices")]
    dat = [tensor(d) for d in _checks.tensor_list(data, "dynamic_stitch", "data")]
    if not idx or len(idx) != len(dat):
        raise InvalidArgumentError(f"dynamic_stitch: indices and data must be non-empty lists "
                                   f"of the same length, got {len(idx)} and {len(dat)}")
    # the output's size depends on the index values: read them on the host (explicitly)
    flat_idx = np.concatenate([to_numpy(i._value).reshape(-1) for i in idx]).astype(np.int64)
    if flat_idx.size and flat_idx.min() < 0:
        raise InvalidArgumentError("dynamic_stitch: indices must be non-negative")
    n = int(flat_idx.max()) + 1 if flat_idx.size else 0
    tail = dat[0]._value.shape[idx[0]._value.ndim:]
    _checks.check_alloc("dynamic_stitch", (n,) + tuple(tail), dat[0]._value.dtype)
    flat_data = concat([reshape(d, (-1,) + tail) for d, i in zip(dat, idx)], 0) \
        if len(dat) > 1 else reshape(dat[0], (-1,) + tail)
    last = np.full(n, -1, np.int64)
    last[flat_idx] = np.arange(flat_idx.size)  # NumPy keeps the last write
    if (last < 0).any():
        raise InvalidArgumentError("dynamic_stitch: indices must cover 0..max(indices)")
    return _gather(flat_data, _wrap(last), axis=0, batch_dims=0)


def linspace(start, stop, num, name=None, axis=0):
    """num evenly spaced values from start to stop inclusive (tensors broadcast)."""
    s = tensor(start)
    if s._value.dtype.kind != "f" and s.dtype != dtypes.bfloat16:
        s = math_ops.cast(s, dtypes.float32 if s._value.dtype.itemsize <= 2 else dtypes.float64)
    e = convert_to_tensor(stop, dtype=s.dtype) if not isinstance(stop, Tensor) else tensor(stop)
    if e._value.dtype != s._value.dtype:
        e = math_ops.cast(e, s.dtype)
    num = _checks.non_negative_int(num, "linspace", "num")
    s_b, e_b = _broadcast_pair(s, e)
    _checks.check_alloc("linspace", s_b._value.shape + (num,), s_b._value.dtype)
    _checks.check_alloc("linspace", (num,), np.float64, "the steps")
    s1, e1 = expand_dims(s_b, axis), expand_dims(e_b, axis)
    if num == 0:
        return _strided_slice(s1, key=(builtins.slice(0, 0),) * 0 + _empty_key(s1, axis))
    if num == 1:
        return s1
    delta = math_ops.divide(math_ops.subtract(e1, s1), float(num - 1))
    shape = [1] * s1._value.ndim
    ax = axis % s1._value.ndim
    shape[ax] = num - 2
    mid_i = _wrap(np.arange(1, num - 1, dtype=s._value.dtype).reshape(shape))
    mid = math_ops.add(s1, math_ops.multiply(mid_i, delta))
    return concat([s1, mid, e1], ax)


def _broadcast_pair(a, b):
    shp = np.broadcast_shapes(a._value.shape, b._value.shape)
    return broadcast_to(a, shp), broadcast_to(b, shp)


def _empty_key(t, axis):
    ax = axis % t._value.ndim
    return tuple(builtins.slice(0, 0) if i == ax else builtins.slice(None)
                 for i in builtins.range(t._value.ndim))


def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool, name=None):
    """mask[i, j] = j < lengths[i]."""
    lens = tensor(lengths)
    if lens._value.dtype.kind not in "iu":
        raise TypeError(f"sequence_mask: lengths must be integers, got {lens.dtype.name}")
    if maxlen is None:
        maxlen = int(lens._value.max()) if lens._value.size else 0
    else:
        maxlen = _checks.scalar_int(maxlen, "sequence_mask", "maxlen")
    r = _tf_range(int(maxlen), dtype=lens.dtype)
    mask = math_ops.less(r, expand_dims(lens, -1))
    return mask if dtypes.as_dtype(dtype) == dtypes.bool else math_ops.cast(mask, dtype)


def meshgrid(*args, **kwargs):
    """Coordinate grids from 1-D tensors; indexing='xy' (default) or 'ij'."""
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"meshgrid: unexpected arguments {sorted(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [reshape(tensor(a), [-1]) for a in args]
    n = len(xs)
    sizes = [x._value.shape[0] for x in xs]
    if indexing == "xy" and n >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, x in enumerate(xs):
        pos = i
        if indexing == "xy" and n >= 2 and i < 2:
            pos = 1 - i
        shape = [1] * n
        shape[pos] = x._value.shape[0]
        out.append(broadcast_to(reshape(x, shape), sizes))
    return out


def space_to_depth(input, block_size, data_format="NHWC", name=None):
    x = tensor(input)
    b = _checks.scalar_int(block_size, "space_to_depth", "block_size")
    if b < 2:
        raise InvalidArgumentError(f"space_to_depth: block_size must be at least 2, got {b}")
    if data_format not in ("NHWC", "NCHW"):
        raise InvalidArgumentError(f"space_to_depth: data_format must be 'NHWC' or 'NCHW', got "
                                   f"{data_format!r}")
    if x._value.ndim != 4:
        raise InvalidArgumentError(f"space_to_depth expects a 4-D tensor, got shape "
                                   f"{list(x._value.shape)}")
    if data_format == "NCHW":
        x = transpose(x, [0, 2, 3, 1])
    n, h, w, c = x._value.shape
    if h % b or w % b:
        raise InvalidArgumentError(f"space_to_depth: height {h} and width {w} must be "
                                   f"divisible by block_size {b}")
    y = reshape(x, [n, h // b, b, w // b, b, c])
    y = reshape(transpose(y, [0, 1, 3, 2, 4, 5]), [n, h // b, w // b, b * b * c])
    return transpose(y, [0, 3, 1, 2]) if data_format == "NCHW" else y


def depth_to_space(input, block_size, data_format="NHWC", name=None):
    x = tensor(input)
    b = _checks.scalar_int(block_size, "depth_to_space", "block_size")
    if b < 2:
        raise InvalidArgumentError(f"depth_to_space: block_size must be at least 2, got {b}")
    if data_format not in ("NHWC", "NCHW"):
        raise InvalidArgumentError(f"depth_to_space: data_format must be 'NHWC' or 'NCHW', got "
                                   f"{data_format!r}")
    if x._value.ndim != 4:
        raise InvalidArgumentError(f"depth_to_space expects a 4-D tensor, got shape "
                                   f"{list(x._value.shape)}")
    if data_format == "NCHW":
        x = transpose(x, [0, 2, 3, 1])
    n, h, w, c = x._value.shape
    if c % (b * b):
        raise InvalidArgumentError(f"depth_to_space: depth {c} must be divisible by "
                                   f"block_size**2 = {b * b}")
    y = reshape(x, [n, h, w, b, b, c // (b * b)])
    y = reshape(transpose(y, [0, 1, 3, 2, 4, 5]), [n, h * b, w * b, c // (b * b)])
    return transpose(y, [0, 3, 1, 2]) if data_format == "NCHW" else y


_bitcast = primitive("bitcast", lambda x, dtype: _bitcast_kernel(x, dtype), flops=FREE, no_grad=INTEGER_VALUED)


def _bitcast_kernel(x, dtype):
    if dtype.itemsize == x.dtype.itemsize:
        return x.view(dtype)
    if dtype.itemsize < x.dtype.itemsize:
        return np.ascontiguousarray(x).view(dtype).reshape(x.shape + (-1,))
    if x.shape[-1] * x.dtype.itemsize != dtype.itemsize:
        raise InvalidArgumentError("bitcast: the last axis must hold exactly one element of "
                                   "the wider dtype")
    return np.ascontiguousarray(x).view(dtype).reshape(x.shape[:-1])


def bitcast(input, type, name=None):  # noqa: A002 - TensorFlow's name
    return _bitcast(tensor(input), dtype=dtypes.as_dtype(type)._np)


def _argsort_kernel(v, axis, descending):
    if descending:
        # stable descending: equal values keep their original order
        idx = np.flip(np.argsort(np.flip(v, axis), axis=axis, kind="stable"), axis)
        return (v.shape[axis] - 1 - idx).astype(np.int32)
    return np.argsort(v, axis=axis, kind="stable").astype(np.int32)


_argsort = primitive("argsort", _argsort_kernel, no_grad=INTEGER_VALUED)


def sort(values, axis=-1, direction="ASCENDING", name=None):
    x = tensor(values)
    idx = argsort(x, axis=axis, direction=direction, stable=True)
    (ax,) = normalize_axis(axis, x._value.ndim, "sort")
    return _take_along(x, idx, axis=ax)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """Indices (int32) that sort values along axis; ties keep their order."""
    x = tensor(values)
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"argsort: direction must be ASCENDING or DESCENDING, got "
                         f"{direction!r}")
    if x._value.ndim == 0:
        raise InvalidArgumentError("argsort: needs a tensor of rank >= 1, got a scalar")
    (ax,) = normalize_axis(axis, x._value.ndim, "argsort")
    return _argsort(x, axis=ax, descending=direction == "DESCENDING")


def _take_along_kernel(x, idx, axis):
    return np.take_along_axis(x, idx.astype(np.intp, copy=False), axis)


def _take_along_grad(g, out, x, idx, axis):
    return _take_along_scatter(g, idx, shape=x._value.shape, axis=axis)


def _take_along_scatter_kernel(g, idx, shape, axis):
    xp = xp_of(g)
    out = xp.zeros(shape, g.dtype)
    grids = list(xp.indices(idx.shape, sparse=True))
    grids[axis] = idx.astype(np.intp, copy=False)
    kernels_of(g).scatter_add(out, tuple(grids), g)
    return out


_take_along = primitive("take_along_axis", _take_along_kernel, grads=(_take_along_grad, None), aliasing="fresh")


_take_along_scatter = primitive(
    "take_along_axis_grad", _take_along_scatter_kernel,
    grads=(lambda g, o, x, idx, shape, axis: _take_along(g, idx, axis=axis), None), aliasing="fresh")


def take_along_axis(x, indices, axis):
    x, idx = tensor(x), _int_indices(tensor(indices), "take_along_axis")
    (ax,) = normalize_axis(axis, x._value.ndim, "take_along_axis")
    _check_indices(idx._value, x._value.shape[ax], "take_along_axis", ax)
    return _take_along(x, idx, axis=ax)




_TopK = _nt("TopKV2", ["values", "indices"])


def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    """The k largest entries of the last axis and their indices (ties: lower index first)."""
    x = tensor(input)
    if x._value.ndim == 0:
        raise InvalidArgumentError("top_k: input must have rank >= 1, got a scalar")
    k = int(k)
    n = x._value.shape[-1]
    if k < 0 or k > n:
        raise InvalidArgumentError(f"top_k: k={k} must be in [0, {n}] for a last axis of size "
                                   f"{n} (input shape {list(x._value.shape)})")
    nd = x._value.ndim
    order = _argsort(x, axis=nd - 1, descending=True)
    idx = _strided_slice(order, key=(Ellipsis, builtins.slice(0, k)))
    vals = _take_along(x, idx, axis=nd - 1)
    it = dtypes.as_dtype(_index_dtype(index_type, "top_k", "index_type"))
    if it != dtypes.int32:
        idx = math_ops.cast(idx, it)
    return _TopK(vals, idx)


def in_top_k(targets, predictions, k, name=None):
    """For each row, whether predictions[i, targets[i]] is among the k largest (ties count)."""
    p = tensor(predictions)
    t = _int_indices(tensor(targets), "in_top_k")
    if p._value.ndim != 2 or t._value.ndim != 1 or t._value.shape[0] != p._value.shape[0]:
        raise InvalidArgumentError(f"in_top_k: predictions must be [batch, classes] and "
                                   f"targets [batch], got {list(p._value.shape)} and "
                                   f"{list(t._value.shape)}")
    n = p._value.shape[1]
    valid = math_ops.logical_and(math_ops.greater_equal(t, 0), math_ops.less(t, n))
    safe_t = math_ops.where(valid, t, math_ops._zeros_like(t))
    target_vals = _take_along(p, expand_dims(safe_t, 1), axis=1)
    n_greater = math_ops.reduce_sum(math_ops.cast(math_ops.greater(p, target_vals),
                                                  dtypes.int32), axis=1)
    finite = math_ops._is_finite(reshape(target_vals, [-1]))
    return math_ops.logical_and(math_ops.logical_and(math_ops.less(n_greater, int(k)), finite),
                                valid)


def _unique_kernel(v, part, dtype):
    vals, first, inv, counts = np.unique(v, return_index=True, return_inverse=True,
                                         return_counts=True)
    order = np.argsort(first, kind="stable")
    if part == "y":
        return vals[order]
    if part == "count":
        return counts[order].astype(dtype)
    rank_ = np.empty_like(order)
    rank_[order] = xp_of(order).arange(len(order))
    return rank_[inv.reshape(-1)].astype(dtype)


_unique = primitive("unique", _unique_kernel, no_grad=INTEGER_VALUED)


def _index_dtype(d, op, arg="out_idx"):
    try:
        dt = dtypes.as_dtype(d)
    except (TypeError, ValueError):
        dt = None
    if dt not in (dtypes.int32, dtypes.int64):
        raise TypeError(f"{op}: {arg} must be tf.int32 or tf.int64, got {d!r}")
    return dt._np


def unique(x, out_idx=dtypes.int32, name=None):
    """The distinct values of a 1-D tensor in order of first appearance, and each element's
    index into them."""
    t = tensor(x)
    if t._value.ndim != 1:
        raise InvalidArgumentError(f"unique expects a 1-D tensor, got shape "
                                   f"{list(t._value.shape)}")
    dt = _index_dtype(out_idx, "unique")
    return _nt("Unique", ["y", "idx"])(_unique(t, part="y", dtype=dt),
                                      _unique(t, part="idx", dtype=dt))


def unique_with_counts(x, out_idx=dtypes.int32, name=None):
    t = tensor(x)
    y, idx = unique(t, out_idx)
    dt = _index_dtype(out_idx, "unique_with_counts")
    return _nt("UniqueWithCounts", ["y", "idx", "count"])(
        y, idx, _unique(t, part="count", dtype=dt))


def searchsorted(sorted_sequence, values, side="left", out_type=dtypes.int32, name=None):
    """Insertion indices of values into each row of sorted_sequence (along the last axis)."""
    seq, vals = tensor(sorted_sequence), tensor(values)
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if seq._value.shape[:-1] != vals._value.shape[:-1]:
        raise InvalidArgumentError(f"searchsorted: leading dimensions of sorted_sequence "
                                   f"{list(seq._value.shape)} and values "
                                   f"{list(vals._value.shape)} must match")
    seq, vals = _same_dtype(seq, vals, "searchsorted")
    return _searchsorted(seq, vals, side=side, dtype=_index_dtype(out_type, "searchsorted"))


def _same_dtype(a, b, op):
    from tenfold.ops._convert import binary
    return binary(a, b, op)


def _searchsorted_kernel(seq, vals, side, dtype):
    if seq.ndim == 1:
        return np.searchsorted(seq, vals, side=side).astype(dtype)
    s2 = seq.reshape(-1, seq.shape[-1])
    v2 = vals.reshape(-1, vals.shape[-1])
    out = np.stack([np.searchsorted(a, b, side=side) for a, b in zip(s2, v2)]) \
        if s2.shape[0] else np.zeros(v2.shape, np.int64)
    return out.reshape(vals.shape).astype(dtype)


_searchsorted = primitive("searchsorted", _searchsorted_kernel, no_grad=INTEGER_VALUED)
