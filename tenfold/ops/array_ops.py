"""Shape manipulation, indexing, creation and gather/scatter: primitives and public ops."""
import builtins

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.tensor_shape import TensorShape
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive
from tenfold.ops._convert import tensor
from tenfold.ops import math_ops
from tenfold.ops.math_ops import normalize_axis, _mul, _add

_wrap = Tensor._wrap


def _ints(v, what):
    """A tuple of Python ints from a shape-like value (list, tuple, tensor, TensorShape)."""
    if isinstance(v, TensorShape):
        v = v.as_list()
    elif isinstance(v, Tensor):
        v = v.numpy().tolist()
    elif isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (int, np.integer)):
        return (int(v),)
    try:
        return tuple(-1 if d is None else int(d) for d in v)
    except TypeError:
        raise TypeError(f"{what} must be a list of ints, got {v!r}") from None


# ------------------------------------------------------------------------------------------
# reshape / transpose / broadcast

_reshape = primitive("reshape", lambda x, shape: np.reshape(x, shape),
                     grads=(lambda g, o, x, shape: _reshape(g, shape=x._value.shape),))


def reshape(tensor_, shape, name=None):
    x = tensor(tensor_)
    shape = _ints(shape, "reshape's shape")
    if shape == x._value.shape:
        return x
    n = x._value.size
    known = int(np.prod([d for d in shape if d != -1])) if shape else 1
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or n % known)) or \
            (-1 not in shape and known != n) or builtins.any(d < -1 for d in shape):
        raise InvalidArgumentError(
            f"reshape: cannot reshape a tensor of shape {list(x._value.shape)} ({n} elements) "
            f"into shape {list(shape)}" + ("" if -1 in shape else f" ({known} elements)") +
            ". The number of elements must stay the same.")
    return _reshape(x, shape=shape)


def _transpose_grad(g, o, x, perm):
    return _transpose(g, perm=tuple(np.argsort(perm)))


_transpose = primitive("transpose", lambda x, perm: np.transpose(x, perm),
                       grads=(_transpose_grad,))


def transpose(a, perm=None, conjugate=False, name=None):
    x = tensor(a)
    nd = x._value.ndim
    perm = tuple(reversed(range(nd))) if perm is None else _ints(perm, "perm")
    if sorted(p % nd if nd else p for p in perm) != list(range(nd)):
        raise InvalidArgumentError(f"transpose: perm {list(perm)} is not a permutation of "
                                   f"the {nd} axes of a tensor of shape {list(x._value.shape)}")
    perm = tuple(p % nd for p in perm)
    out = _transpose(x, perm=perm) if perm != tuple(range(nd)) else x
    return math_ops.conj(out) if conjugate else out


def matrix_transpose(a, name=None, conjugate=False):
    x = tensor(a)
    nd = x._value.ndim
    perm = list(range(nd - 2)) + [nd - 1, nd - 2]
    return transpose(x, perm, conjugate=conjugate)


_broadcast_to = primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                          grads=(lambda g, o, x, shape: g,))


def broadcast_to(input, shape, name=None):
    x = tensor(input)
    shape = _ints(shape, "broadcast_to's shape")
    if x._value.shape == shape:
        return x
    try:
        np.broadcast_shapes(x._value.shape, shape)
        if np.broadcast_shapes(x._value.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise InvalidArgumentError(f"broadcast_to: cannot broadcast a tensor of shape "
                                   f"{list(x._value.shape)} to shape {list(shape)}") from None
    return _broadcast_to(x, shape=shape)


def broadcast_static_shape(a, b):
    return TensorShape(np.broadcast_shapes(tuple(a), tuple(b)))


def broadcast_dynamic_shape(a, b):
    return convert_to_tensor(np.broadcast_shapes(tuple(_ints(a, "shape")),
                                                 tuple(_ints(b, "shape"))), dtype="int32")


def unbroadcast(g, shape):
    """Sums gradient g down to `shape` (undoing NumPy broadcasting). Used by the tape."""
    gs = g._value.shape
    lead = len(gs) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape)
                                      if d == 1 and gs[i + lead] != 1)
    if axes:
        g = math_ops._reduce_sum(g, axis=axes, keepdims=True)
    if g._value.shape != tuple(shape):
        g = _reshape(g, shape=tuple(shape))
    return g


def expand_dims(input, axis, name=None):
    x = tensor(input)
    nd = x._value.ndim
    axis = int(axis)
    if not -nd - 1 <= axis <= nd:
        raise InvalidArgumentError(f"expand_dims: axis {axis} out of range for a tensor of rank "
                                   f"{nd} (expected -{nd + 1} <= axis <= {nd})")
    if axis < 0:
        axis += nd + 1
    shape = list(x._value.shape)
    shape.insert(axis, 1)
    return _reshape(x, shape=tuple(shape))


def squeeze(input, axis=None, name=None):
    x = tensor(input)
    shape = x._value.shape
    if axis is None:
        new = tuple(d for d in shape if d != 1)
    else:
        ax = normalize_axis(axis, len(shape), "squeeze")
        for a in ax:
            if shape[a] != 1:
                raise InvalidArgumentError(f"squeeze: cannot squeeze axis {a} of size {shape[a]} "
                                           f"(shape {list(shape)}); only size-1 axes can go.")
        new = tuple(d for i, d in enumerate(shape) if i not in ax)
    return x if new == shape else _reshape(x, shape=new)


# ------------------------------------------------------------------------------------------
# slicing ([]), concat, stack, split, tile, pad, reverse

def _getitem_grad(g, out, x, key):
    return _scatter_slice(g, shape=x._value.shape, key=key)


def _scatter_slice_kernel(g, shape, key):
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, key, g) if _is_advanced(key) else out.__setitem__(key, g)
    return out


def _is_advanced(key):
    return builtins.any(isinstance(k, np.ndarray) for k in key)


_strided_slice = primitive("strided_slice", lambda x, key: x[key], grads=(_getitem_grad,))
_scatter_slice = primitive("slice_grad", _scatter_slice_kernel,
                           grads=(lambda g, o, x, shape, key: _strided_slice(g, key=key),))


def _normalize_key(key, shape, op="slice"):
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    dim = 0
    n_real = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    for k in key:
        if k is None:
            out.append(None)
            continue
        if k is Ellipsis:
            out.append(Ellipsis)
            dim += len(shape) - n_real
            continue
        if isinstance(k, Tensor):
            k = k.numpy()
        if isinstance(k, (list, np.ndarray)):
            k = np.asarray(k)
            if k.dtype == np.bool_:
                raise TypeError(f"{op}: boolean masks are not valid indices here; use "
                                "tf.boolean_mask(tensor, mask).")
            if dim >= len(shape):
                raise InvalidArgumentError(f"{op}: too many indices for a tensor of shape "
                                           f"{list(shape)}")
            if k.size and (k.min() < -shape[dim] or k.max() >= shape[dim]):
                raise InvalidArgumentError(f"{op}: index out of range for axis {dim} of size "
                                           f"{shape[dim]}")
            out.append(k.astype(np.int64))
            dim += 1
            continue
        if isinstance(k, builtins.slice):
            out.append(builtins.slice(_opt_int(k.start), _opt_int(k.stop), _opt_int(k.step)))
            if k.step is not None and int(k.step) == 0:
                raise InvalidArgumentError(f"{op}: slice step cannot be zero")
            dim += 1
            continue
        try:
            i = int(k.__index__() if hasattr(k, "__index__") else k)
        except TypeError:
            raise TypeError(f"{op}: only integers, slices (`:`), ellipsis (`...`), "
                            f"tf.newaxis (`None`) and integer lists are valid indices; "
                            f"got {k!r}") from None
        if dim >= len(shape):
            raise InvalidArgumentError(f"{op}: too many indices for a tensor of shape "
                                       f"{list(shape)}")
        if not -shape[dim] <= i < shape[dim]:
            raise InvalidArgumentError(f"{op}: index {i} is out of bounds for axis {dim} with "
                                       f"size {shape[dim]} (tensor shape {list(shape)})")
        out.append(i)
        dim += 1
    if dim > len(shape):
        raise InvalidArgumentError(f"{op}: too many indices ({dim}) for a tensor of rank "
                                   f"{len(shape)}")
    return tuple(out)


def _opt_int(v):
    if v is None:
        return None
    if isinstance(v, Tensor):
        return int(v)
    return int(v)


def getitem(x, key):
    x = tensor(x)
    return _strided_slice(x, key=_normalize_key(key, x._value.shape))


def slice(input_, begin, size, name=None):  # noqa: A001 - TensorFlow's name
    x = tensor(input_)
    begin, size = _ints(begin, "begin"), _ints(size, "size")
    key = tuple(builtins.slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))
    for a, (b, s) in enumerate(zip(begin, size)):
        if b < 0 or (s != -1 and b + s > x._value.shape[a]):
            raise InvalidArgumentError(f"slice: begin {list(begin)} / size {list(size)} out of "
                                       f"bounds for shape {list(x._value.shape)}")
    return _strided_slice(x, key=key)


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, name=None):
    begin, end = _ints(begin, "begin"), _ints(end, "end")
    strides = _ints(strides, "strides") if strides is not None else (1,) * len(begin)
    key = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        if ellipsis_mask >> i & 1:
            key.append(Ellipsis)
        elif new_axis_mask >> i & 1:
            key.append(None)
        elif shrink_axis_mask >> i & 1:
            key.append(b)
        else:
            key.append(builtins.slice(None if begin_mask >> i & 1 else b,
                                      None if end_mask >> i & 1 else e, s))
    return getitem(input_, tuple(key))


def _concat_grads(g, out, *xs, axis):
    pieces = []
    start = 0
    for x in xs:
        n = x._value.shape[axis]
        key = (builtins.slice(None),) * axis + (builtins.slice(start, start + n),)
        pieces.append(_strided_slice(g, key=key))
        start += n
    return pieces


_concat = primitive("concat", lambda *xs, axis: np.concatenate(xs, axis=axis),
                    grads=_concat_grads)


def concat(values, axis, name=None):
    vals = [tensor(v) for v in values]
    if not vals:
        raise ValueError("concat needs at least one tensor")
    if len(vals) == 1:
        return vals[0]
    first = vals[0]
    nd = first._value.ndim
    if nd == 0:
        raise InvalidArgumentError("concat: cannot concatenate scalars; use tf.stack.")
    (ax,) = normalize_axis(axis, nd, "concat")
    for i, v in enumerate(vals[1:], 1):
        if v._value.dtype != first._value.dtype:
            raise InvalidArgumentError(f"concat: tensor {i} has dtype {v.dtype.name}, tensor 0 "
                                       f"has {first.dtype.name}; all must match.")
        vs, fs = v._value.shape, first._value.shape
        if len(vs) != nd or builtins.any(a != b for j, (a, b) in enumerate(zip(vs, fs))
                                         if j != ax):
            raise InvalidArgumentError(
                f"concat: shapes must match except along axis {ax}; got {list(fs)} (tensor 0) "
                f"and {list(vs)} (tensor {i}).")
    return _concat(*vals, axis=ax)


def stack(values, axis=0, name=None):
    vals = [tensor(v) for v in values]
    if not vals:
        raise ValueError("stack needs at least one tensor")
    shape0 = vals[0]._value.shape
    for i, v in enumerate(vals):
        if v._value.shape != shape0:
            raise InvalidArgumentError(f"stack: all tensors must have the same shape; tensor 0 "
                                       f"has {list(shape0)}, tensor {i} has "
                                       f"{list(v._value.shape)}")
    nd = len(shape0) + 1
    if not -nd <= axis < nd:
        raise InvalidArgumentError(f"stack: axis {axis} out of range for rank {nd} output")
    expanded = [expand_dims(v, axis) for v in vals]
    if len(expanded) == 1:
        return expanded[0]
    return concat(expanded, axis)


def unstack(value, num=None, axis=0, name=None):
    x = tensor(value)
    (ax,) = normalize_axis(axis, x._value.ndim, "unstack")
    n = x._value.shape[ax]
    if num is not None and num != n:
        raise InvalidArgumentError(f"unstack: num={num} but axis {ax} has size {n}")
    pre = (builtins.slice(None),) * ax
    return [_strided_slice(x, key=pre + (i,)) for i in range(n)]


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    x = tensor(value)
    (ax,) = normalize_axis(axis, x._value.ndim, "split")
    n = x._value.shape[ax]
    if isinstance(num_or_size_splits, (int, np.integer)) or (
            isinstance(num_or_size_splits, Tensor) and num_or_size_splits.ndim == 0):
        k = int(num_or_size_splits)
        if k <= 0 or n % k:
            raise InvalidArgumentError(f"split: axis {ax} of size {n} cannot be split into "
                                       f"{k} equal parts")
        sizes = [n // k] * k
    else:
        sizes = list(_ints(num_or_size_splits, "size_splits"))
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = n - (builtins.sum(sizes) + 1)
        if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
            raise InvalidArgumentError(f"split: sizes {sizes} don't add up to axis {ax}'s size {n}")
    pre = (builtins.slice(None),) * ax
    out, start = [], 0
    for s in sizes:
        out.append(_strided_slice(x, key=pre + (builtins.slice(start, start + s),)))
        start += s
    return out


def _tile_grad(g, out, x, multiples):
    shape = []
    for m, d in zip(multiples, x._value.shape):
        shape += [m, d]
    r = _reshape(g, shape=tuple(shape))
    return math_ops._reduce_sum(r, axis=tuple(range(0, 2 * len(multiples), 2)), keepdims=False)


_tile = primitive("tile", lambda x, multiples: np.tile(x, multiples), grads=(_tile_grad,))


def tile(input, multiples, name=None):
    x = tensor(input)
    m = _ints(multiples, "multiples")
    if len(m) != x._value.ndim:
        raise InvalidArgumentError(f"tile: multiples has length {len(m)} but the input has rank "
                                   f"{x._value.ndim} (shape {list(x._value.shape)})")
    if builtins.any(v < 0 for v in m):
        raise InvalidArgumentError(f"tile: multiples must be non-negative, got {list(m)}")
    return _tile(x, multiples=m)


def _pad_kernel(x, paddings, mode, constant_values):
    if mode == "CONSTANT":
        return np.pad(x, paddings, mode="constant", constant_values=constant_values)
    return np.pad(x, paddings, mode="reflect" if mode == "REFLECT" else "symmetric")


def _pad_grad(g, out, x, paddings, mode, constant_values):
    if mode != "CONSTANT":
        return None
    key = tuple(builtins.slice(a, a + d) for (a, b), d in zip(paddings, x._value.shape))
    return _strided_slice(g, key=key)


_pad = primitive("pad", _pad_kernel, grads=(_pad_grad,))


def pad(tensor_, paddings, mode="CONSTANT", constant_values=0, name=None):
    x = tensor(tensor_)
    p = np.asarray(paddings.numpy() if isinstance(paddings, Tensor) else paddings)
    if p.shape != (x._value.ndim, 2):
        raise InvalidArgumentError(f"pad: paddings must have shape [{x._value.ndim}, 2] for a "
                                   f"tensor of shape {list(x._value.shape)}, got {list(p.shape)}")
    if (p < 0).any():
        raise InvalidArgumentError("pad: paddings must be non-negative")
    mode = mode.upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}")
    return _pad(x, paddings=tuple(map(tuple, p.tolist())), mode=mode,
                constant_values=constant_values)


_reverse = primitive("reverse", lambda x, axis: np.flip(x, axis),
                     grads=(lambda g, o, x, axis: _reverse(g, axis=axis),))


def reverse(tensor_, axis, name=None):
    x = tensor(tensor_)
    ax = normalize_axis(axis, x._value.ndim, "reverse")
    return _reverse(x, axis=ax) if ax else x


# ------------------------------------------------------------------------------------------
# gather / scatter

def _check_indices(idx, n, op, axis):
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].ravel()[0]
        raise InvalidArgumentError(f"{op}: indices[...] = {int(bad)} is not in [0, {n}) "
                                   f"(axis {axis} has size {n})")


def _gather_kernel(params, indices, axis, batch_dims):
    _check_indices(indices, params.shape[axis], "gather", axis)
    if batch_dims == 0:
        return np.take(params, indices, axis=axis)
    # batch_dims > 0: gather per batch element
    b = params.shape[:batch_dims]
    pf = params.reshape((-1,) + params.shape[batch_dims:])
    inf = indices.reshape((-1,) + indices.shape[batch_dims:])
    outs = [np.take(p, i, axis=axis - batch_dims) for p, i in zip(pf, inf)]
    out = np.stack(outs)
    return out.reshape(b + out.shape[1:])


def _gather_grad(g, out, params, indices, axis, batch_dims):
    return _gather_scatter(g, indices, shape=params._value.shape, axis=axis,
                           batch_dims=batch_dims)


def _gather_scatter_kernel(g, indices, shape, axis, batch_dims):
    out = np.zeros(shape, dtype=g.dtype)
    if batch_dims == 0:
        # move axis to front, scatter-add rows
        o = np.moveaxis(out, axis, 0)
        gi = np.moveaxis(g.reshape(shape[:axis] + indices.shape + shape[axis + 1:]),
                         list(range(axis, axis + indices.ndim)), list(range(indices.ndim)))
        np.add.at(o, indices, gi)
        return out
    of = out.reshape((-1,) + shape[batch_dims:])
    gf = g.reshape((-1,) + g.shape[batch_dims:])
    inf = indices.reshape((-1,) + indices.shape[batch_dims:])
    a = axis - batch_dims
    for o, gg, ii in zip(of, gf, inf):
        o2 = np.moveaxis(o, a, 0)
        g2 = np.moveaxis(gg, list(range(a, a + ii.ndim)), list(range(ii.ndim)))
        np.add.at(o2, ii, g2)
    return out


_gather = primitive("gather", _gather_kernel, grads=(_gather_grad, None))
_gather_scatter = primitive(
    "gather_grad", _gather_scatter_kernel,
    grads=(lambda g, o, x, indices, shape, axis, batch_dims:
           _gather(g, indices, axis=axis, batch_dims=batch_dims), None))


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    p = tensor(params)
    idx = tensor(indices)
    if idx._value.dtype.kind not in "iu":
        raise TypeError(f"gather: indices must be int32 or int64, got {idx.dtype.name}")
    if axis is None:
        axis = batch_dims
    (ax,) = normalize_axis(axis, p._value.ndim, "gather")
    if batch_dims < 0:
        batch_dims += idx._value.ndim
    return _gather(p, idx, axis=ax, batch_dims=int(batch_dims))


def _gather_nd_kernel(params, indices, batch_dims=0):
    if batch_dims:
        b = params.shape[:batch_dims]
        pf = params.reshape((-1,) + params.shape[batch_dims:])
        inf = indices.reshape((-1,) + indices.shape[batch_dims:])
        out = np.stack([_gather_nd_kernel(p, i) for p, i in zip(pf, inf)])
        return out.reshape(b + out.shape[1:])
    k = indices.shape[-1]
    if k > params.ndim:
        raise InvalidArgumentError(f"gather_nd: index depth {k} exceeds params rank {params.ndim}")
    for j in range(k):
        _check_indices(indices[..., j], params.shape[j], "gather_nd", j)
    return params[tuple(np.moveaxis(indices, -1, 0))]


def _gather_nd_grad(g, out, params, indices, batch_dims=0):
    if batch_dims:
        return None
    return scatter_nd(indices, g, params._value.shape)


_gather_nd = primitive("gather_nd", _gather_nd_kernel, grads=(_gather_nd_grad, None))


def gather_nd(params, indices, batch_dims=0, name=None):
    p, idx = tensor(params), tensor(indices)
    if idx._value.dtype.kind not in "iu":
        raise TypeError(f"gather_nd: indices must be integers, got {idx.dtype.name}")
    return _gather_nd(p, idx, batch_dims=int(batch_dims))


def _scatter_nd_kernel(indices, updates, shape):
    out = np.zeros(shape, dtype=updates.dtype)
    k = indices.shape[-1]
    for j in range(k):
        _check_indices(indices[..., j], shape[j], "scatter_nd", j)
    np.add.at(out, tuple(np.moveaxis(indices, -1, 0)), updates)
    return out


_scatter_nd = primitive("scatter_nd", _scatter_nd_kernel,
                        grads=(None, lambda g, o, i, u, shape: _gather_nd(g, i)))


def scatter_nd(indices, updates, shape, name=None):
    idx, upd = tensor(indices), tensor(updates)
    shape = _ints(shape, "shape")
    k = idx._value.shape[-1]
    want = idx._value.shape[:-1] + tuple(shape[k:])
    if upd._value.shape != want:
        raise InvalidArgumentError(f"scatter_nd: updates must have shape {list(want)} for indices "
                                   f"{list(idx._value.shape)} and shape {list(shape)}, got "
                                   f"{list(upd._value.shape)}")
    return _scatter_nd(idx, upd, shape=shape)


def tensor_scatter_nd_update(tensor_, indices, updates, name=None):
    t, idx, upd = tensor(tensor_), tensor(indices), tensor(updates)
    k = idx._value.shape[-1]
    for j in range(k):
        _check_indices(idx._value[..., j], t._value.shape[j], "tensor_scatter_nd_update", j)
    mask = _scatter_nd(idx, _wrap(np.ones(upd._value.shape, dtype=t._value.dtype)),
                       shape=t._value.shape)
    keep = math_ops.cast(math_ops.equal(mask, 0), t.dtype)
    return _add(_mul(t, keep), _scatter_nd(idx, upd, shape=t._value.shape))


def tensor_scatter_nd_add(tensor_, indices, updates, name=None):
    t = tensor(tensor_)
    return _add(t, scatter_nd(indices, updates, t._value.shape))


def where_indices(condition):
    return _wrap(np.argwhere(condition._value).astype(np.int64))


def boolean_mask(tensor_, mask, axis=None, name=None):
    x, m = tensor(tensor_), tensor(mask)
    if m._value.dtype != np.bool_:
        raise TypeError(f"boolean_mask: mask must be bool, got {m.dtype.name}")
    axis = 0 if axis is None else int(axis) % max(x._value.ndim, 1)
    k = m._value.ndim
    if x._value.shape[axis:axis + k] != m._value.shape:
        raise InvalidArgumentError(f"boolean_mask: mask shape {list(m._value.shape)} must match "
                                   f"the tensor's shape {list(x._value.shape)} at axis {axis}")
    lead = x._value.shape[:axis]
    flat = reshape(x, lead + (-1,) + x._value.shape[axis + k:]) if k != 1 else x
    idx = _wrap(np.flatnonzero(m._value.ravel()).astype(np.int64))
    return gather(flat, idx, axis=axis)


# ------------------------------------------------------------------------------------------
# creation

def _dtype_np(dtype, default=np.float32):
    return default if dtype is None else dtypes.as_dtype(dtype)._np


def zeros(shape, dtype=dtypes.float32, name=None):
    return _wrap(np.zeros(_ints(shape, "shape"), dtype=_dtype_np(dtype)))


def ones(shape, dtype=dtypes.float32, name=None):
    return _wrap(np.ones(_ints(shape, "shape"), dtype=_dtype_np(dtype)))


def zeros_like(input, dtype=None, name=None):
    x = tensor(input)
    return _wrap(np.zeros(x._value.shape, dtype=_dtype_np(dtype, x._value.dtype)))


def ones_like(input, dtype=None, name=None):
    x = tensor(input)
    return _wrap(np.ones(x._value.shape, dtype=_dtype_np(dtype, x._value.dtype)))


def fill(dims, value, name=None):
    v = convert_to_tensor(value)
    return _wrap(np.full(_ints(dims, "dims"), v._value, dtype=v._value.dtype))


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    e = np.eye(int(num_rows), None if num_columns is None else int(num_columns),
               dtype=_dtype_np(dtype))
    if batch_shape is not None:
        e = np.broadcast_to(e, tuple(_ints(batch_shape, "batch_shape")) + e.shape).copy()
    return _wrap(e)


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001
    vals = [v.numpy() if isinstance(v, Tensor) else v for v in (start, limit, delta)]
    start, limit, delta = vals
    if limit is None:
        start, limit = 0, start
    if delta == 0:
        raise InvalidArgumentError("range: delta must not be 0")
    if dtype is None:
        is_float = builtins.any(isinstance(v, (float, np.floating)) for v in (start, limit, delta))
        dt = np.float32 if is_float else np.int32
    else:
        dt = dtypes.as_dtype(dtype)._np
    return _wrap(np.arange(start, limit, delta).astype(dt))


def linspace(start, stop, num, name=None, axis=0):
    s, e = tensor(start), tensor(stop)
    dt = s._value.dtype if s._value.dtype.kind == "f" else np.float64
    out = np.linspace(s._value, e._value, int(num), axis=axis).astype(dt)
    return _wrap(out)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    idx = tensor(indices)
    if idx._value.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got {idx.dtype.name}")
    depth = int(depth)
    if dtype is None:
        dtype = (convert_to_tensor(on_value).dtype if on_value is not None else
                 convert_to_tensor(off_value).dtype if off_value is not None else dtypes.float32)
    dt = dtypes.as_dtype(dtype)._np
    on = 1 if on_value is None else (on_value.numpy() if isinstance(on_value, Tensor) else on_value)
    off = 0 if off_value is None else (off_value.numpy() if isinstance(off_value, Tensor)
                                       else off_value)
    v = idx._value
    out = np.full(v.shape + (depth,), off, dtype=dt)
    valid = (v >= 0) & (v < depth)  # out-of-range indices give all-off rows, as TensorFlow
    np.put_along_axis(out, np.where(valid, v, 0)[..., None],
                      np.where(valid, np.asarray(on, dt), np.asarray(off, dt))[..., None], -1)
    if axis is not None and axis != -1:
        out = np.moveaxis(out, -1, axis)
    return _wrap(out)


# ------------------------------------------------------------------------------------------
# shape queries

def shape(input, out_type=dtypes.int32, name=None):
    x = tensor(input)
    return _wrap(np.asarray(x._value.shape, dtype=dtypes.as_dtype(out_type)._np))


def shape_n(input, out_type=dtypes.int32, name=None):
    return [shape(x, out_type) for x in input]


def rank(input, name=None):
    return _wrap(np.asarray(tensor(input)._value.ndim, dtype=np.int32))


def size(input, out_type=dtypes.int32, name=None):
    return _wrap(np.asarray(tensor(input)._value.size, dtype=dtypes.as_dtype(out_type)._np))


def identity(input, name=None):
    return _identity(tensor(input))


_identity = primitive("identity", lambda x: x.copy(), grads=(lambda g, o, x: g,))
_stop_gradient = primitive("stop_gradient", lambda x: x)


def stop_gradient(input, name=None):
    return _stop_gradient(tensor(input))


# ------------------------------------------------------------------------------------------
# sort / argsort / top_k

def sort(values, axis=-1, direction="ASCENDING", name=None):
    x = tensor(values)
    idx = argsort(x, axis=axis, direction=direction, stable=True)
    (ax,) = normalize_axis(axis, x._value.ndim, "sort")
    return _take_along(x, idx, ax)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    x = tensor(values)
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"direction must be ASCENDING or DESCENDING, got {direction!r}")
    (ax,) = normalize_axis(axis, x._value.ndim, "argsort")
    v = x._value
    if direction == "DESCENDING":
        idx = np.flip(np.argsort(np.flip(v, ax), axis=ax, kind="stable"), ax)
        idx = v.shape[ax] - 1 - idx
    else:
        idx = np.argsort(v, axis=ax, kind="stable")
    return _wrap(idx.astype(np.int32))


def _take_along_kernel(x, idx, axis):
    return np.take_along_axis(x, idx, axis)


def _take_along_grad(g, out, x, idx, axis):
    return _take_along_scatter(g, idx, shape=x._value.shape, axis=axis)


def _take_along_scatter_kernel(g, idx, shape, axis):
    out = np.zeros(shape, g.dtype)
    _add_along(out, idx, g, axis)
    return out


def _add_along(out, idx, g, axis):
    grids = list(np.indices(idx.shape, sparse=True))
    grids[axis] = idx
    np.add.at(out, tuple(grids), g)


_take_along = primitive("take_along_axis", _take_along_kernel, grads=(_take_along_grad, None))
_take_along_scatter = primitive(
    "take_along_axis_grad", _take_along_scatter_kernel,
    grads=(lambda g, o, x, idx, shape, axis: _take_along(g, idx, axis=axis), None))


def take_along_axis(x, indices, axis):
    x, idx = tensor(x), tensor(indices)
    (ax,) = normalize_axis(axis, x._value.ndim, "take_along_axis")
    return _take_along(x, idx, axis=ax)


def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    x = tensor(input)
    k = int(k)
    n = x._value.shape[-1]
    if k < 0 or k > n:
        raise InvalidArgumentError(f"top_k: k={k} must be in [0, {n}] for last axis of size {n}")
    idx = argsort(x, axis=-1, direction="DESCENDING")._value[..., :k]
    idx_t = _wrap(idx.astype(dtypes.as_dtype(index_type)._np))
    vals = _take_along(x, _wrap(idx), axis=x._value.ndim - 1)
    return _TopK(vals, idx_t)


from collections import namedtuple as _nt  # noqa: E402

_TopK = _nt("TopKV2", ["values", "indices"])


def in_top_k(targets, predictions, k, name=None):
    p = tensor(predictions)
    t = tensor(targets)
    target_vals = _take_along_kernel(p._value, t._value.astype(np.int64)[:, None], 1)
    greater = (p._value > target_vals).sum(axis=1)
    return _wrap(greater < int(k))


def unique(x, out_idx=dtypes.int32, name=None):
    v = tensor(x)._value
    vals, first, inv = np.unique(v, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank_ = np.empty_like(order)
    rank_[order] = np.arange(len(order))
    return _nt("Unique", ["y", "idx"])(_wrap(vals[order]),
                                      _wrap(rank_[inv].astype(dtypes.as_dtype(out_idx)._np)))
