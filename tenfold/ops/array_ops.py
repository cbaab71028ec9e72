"""Shape manipulation, indexing, creation and gather/scatter: primitives and public ops."""
import builtins

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.tensor_shape import TensorShape
from tenfold.framework.errors import InvalidArgumentError
from tenfold.backend import backend_of as _backend_of, NUMPY as _NUMPY, xp_of, kernels_of
from tenfold.framework.state import STATE as _STATE
from tenfold.ops.registry import primitive, FREE, INTEGER_VALUED
from tenfold.ops._convert import tensor
from tenfold.ops import _checks
from tenfold.ops import math_ops
from tenfold.ops.math_ops import normalize_axis, _add

_wrap = Tensor._wrap


def _new_on_device(array):
    """A creation op's result on the current device (a tf.device scope, or GPU:0 by default
    when a GPU is usable); on the CPU this is one attribute read."""
    b = _STATE.backend
    return _wrap(array if b is None else b.from_host(array))


def _ints(v, what):
    """A tuple of Python ints from a shape-like value (list, tuple, tensor, TensorShape)."""
    if isinstance(v, TensorShape):
        v = v.as_list()
    elif isinstance(v, (Tensor, np.ndarray)):
        arr = v._value if isinstance(v, Tensor) else v
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{what} must be integers, got a tensor of dtype {arr.dtype}: "
                            f"{arr.tolist()!r}")
        v = arr.tolist()
    if isinstance(v, (int, np.integer)):
        return (int(v),)
    try:
        out = tuple(-1 if d is None else _int_dim(d) for d in v)
    except TypeError:
        raise TypeError(f"{what} must be a list of ints, got {v!r}") from None
    return out


def _int_dim(d):
    """A dimension as int: ints, integer tensors and Dimension-likes; floats are refused (as
    TensorFlow, which cannot convert [2.5] to int32) instead of being truncated."""
    if isinstance(d, (float, np.floating, str, bytes)) or (
            isinstance(d, Tensor) and d._value.dtype.kind not in "iu"):
        raise TypeError(f"got a non-integer dimension {d!r}")
    return int(d)


# ------------------------------------------------------------------------------------------
# reshape / transpose / broadcast

_reshape = primitive("reshape", lambda x, shape: np.reshape(x, shape),
                     grads=(lambda g, o, x, shape: _reshape(g, shape=x._value.shape),), aliasing="view", writable_view=True, flops=FREE)


def reshape(tensor_, shape, name=None):
    x = tensor(tensor_)
    shape = _ints(shape, "reshape's shape")
    if shape == x._value.shape:
        return x
    n = x._value.size
    known = int(np.prod([d for d in shape if d != -1])) if shape else 1
    if -1 in shape and known == 0 and shape.count(-1) == 1 and n == 0:
        # TensorFlow's rule for empty tensors: the zero dims of both shapes are left out
        # when inferring the -1 (so [0, 3] -> [0, -1] is [0, 3])
        rest = int(np.prod([d for d in x._value.shape if d > 0]))
        nz = int(np.prod([d for d in shape if d > 0]))
        shape = tuple(rest // max(nz, 1) if d == -1 else d for d in shape)
        return _reshape(x, shape=shape)
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
                       grads=(_transpose_grad,), aliasing="view", writable_view=True, flops=FREE)


def transpose(a, perm=None, conjugate=False, name=None):
    x = tensor(a)
    nd = x._value.ndim
    perm = tuple(reversed(builtins.range(nd))) if perm is None else _ints(perm, "transpose's perm")
    if len(perm) != nd or builtins.any(not -nd <= p < nd for p in perm) or \
            sorted(p % nd for p in perm) != list(builtins.range(nd)):
        raise InvalidArgumentError(f"transpose: perm {list(perm)} is not a permutation of "
                                   f"the {nd} axes of a tensor of shape {list(x._value.shape)}; "
                                   f"expected each of 0..{nd - 1} once")
    perm = tuple(p % nd for p in perm)
    out = _transpose(x, perm=perm) if perm != tuple(builtins.range(nd)) else x
    return math_ops.conj(out) if conjugate else out


def matrix_transpose(a, name=None, conjugate=False):
    x = tensor(a)
    nd = x._value.ndim
    perm = list(builtins.range(nd - 2)) + [nd - 1, nd - 2]
    return transpose(x, perm, conjugate=conjugate)


_broadcast_to = primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                          grads=(lambda g, o, x, shape: g,), aliasing="view", flops=FREE)


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


def _broadcast_shapes(a, b, op):
    """TensorFlow's broadcasting of two shapes; None is an unknown dimension."""
    def dims(v, what):
        if isinstance(v, TensorShape):
            return v.as_list()
        return list(_ints(v, f"{op}'s {what}"))
    sa, sb = dims(a, "shape_x"), dims(b, "shape_y")
    if builtins.any(d is not None and d < 0 for d in sa + sb):
        raise InvalidArgumentError(f"{op}: shapes {sa} and {sb} have a negative dimension")
    out = []
    for i in builtins.range(1, builtins.max(len(sa), len(sb)) + 1):
        x = sa[-i] if i <= len(sa) else 1
        y = sb[-i] if i <= len(sb) else 1
        if x == 1 or x == y:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        elif y is None:
            out.append(x)
        else:
            raise InvalidArgumentError(f"{op}: incompatible shapes for broadcasting: {sa} and "
                                       f"{sb}")
    return out[::-1]


def broadcast_static_shape(a, b):
    if (isinstance(a, TensorShape) and a.rank is None) or \
            (isinstance(b, TensorShape) and b.rank is None):
        return TensorShape(None)
    return TensorShape(_broadcast_shapes(a, b, "broadcast_static_shape"))


def broadcast_dynamic_shape(a, b):
    return convert_to_tensor(_broadcast_shapes(a, b, "broadcast_dynamic_shape"), dtype="int32")


def unbroadcast(g, shape):
    """Sums gradient g down to `shape` (undoing NumPy broadcasting). Used by the tape."""
    gs = g._value.shape
    lead = len(gs) - len(shape)
    axes = tuple(builtins.range(lead)) + tuple(i + lead for i, d in enumerate(shape)
                                      if d == 1 and gs[i + lead] != 1)
    if axes:
        # only leading axes (a bias's gradient): summed away, so no reshape node follows
        g = math_ops._reduce_sum(g, axis=axes, keepdims=len(axes) > lead)
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
    out = xp_of(g).zeros(shape, dtype=g.dtype)
    if _is_advanced(key):
        kernels_of(g).scatter_add(out, key, g)
    else:
        out[key] = g
    return out


def _is_advanced(key):
    return builtins.any(isinstance(k, np.ndarray) for k in key)


_strided_slice = primitive("strided_slice", lambda x, key: x[key], grads=(_getitem_grad,), aliasing="view", writable_view=True, flops=FREE)
_scatter_slice = primitive("slice_grad", _scatter_slice_kernel,
                           grads=(lambda g, o, x, shape, key: _strided_slice(g, key=key),), aliasing="fresh", flops=FREE)


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
            i = k.__index__()
        except (AttributeError, TypeError):
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
    begin, size = _ints(begin, "slice's begin"), _ints(size, "slice's size")
    nd = x._value.ndim
    if len(begin) != nd or len(size) != nd:
        raise InvalidArgumentError(f"slice: begin {list(begin)} and size {list(size)} must both "
                                   f"have length {nd}, the rank of the input (shape "
                                   f"{list(x._value.shape)})")
    key = tuple(builtins.slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))
    for a, (b, s) in enumerate(zip(begin, size)):
        if b < 0 or s < -1 or (s != -1 and b + s > x._value.shape[a]) or \
                b > x._value.shape[a]:
            raise InvalidArgumentError(f"slice: begin {list(begin)} / size {list(size)} out of "
                                       f"bounds for shape {list(x._value.shape)}")
    return _strided_slice(x, key=key)


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, name=None):
    begin, end = _ints(begin, "strided_slice's begin"), _ints(end, "strided_slice's end")
    strides = _ints(strides, "strided_slice's strides") if strides is not None else \
        (1,) * len(begin)
    masks = (begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask)
    if builtins.any(type(v) is not int for v in masks):  # tensors, NumPy ints or bad values
        names = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
        begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask = (
            _checks.scalar_int(v, "strided_slice", n) for v, n in zip(masks, names))
    if not len(begin) == len(end) == len(strides):
        raise InvalidArgumentError(f"strided_slice: begin {list(begin)}, end {list(end)} and "
                                   f"strides {list(strides)} must all have the same length")
    if builtins.any(s == 0 for s in strides):
        raise InvalidArgumentError(f"strided_slice: strides {list(strides)} must be non-zero")
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
                    grads=_concat_grads, aliasing="fresh", flops=FREE)


def _tensors_like_first(values, op):
    """Converts a list of values; non-tensors take the dtype of the first tensor among them."""
    values = list(values)
    first = next((v for v in values if isinstance(v, Tensor)), None)
    if first is None:
        return [tensor(v) for v in values]
    dt = first.dtype
    out = []
    for v in values:
        if isinstance(v, Tensor):
            out.append(tensor(v))
        else:
            try:
                out.append(convert_to_tensor(v, dtype=dt))
            except (TypeError, ValueError):
                out.append(tensor(v))
    return out


def concat(values, axis, name=None):
    """Joins tensors along an existing axis."""
    if isinstance(values, Tensor) and values._value.ndim:
        values = unstack(values)
    vals = _tensors_like_first(_checks.tensor_list(values, "concat", "values"), "concat")
    if not vals:
        raise ValueError("concat needs at least one tensor")
    first = vals[0]
    nd = first._value.ndim
    if nd == 0:
        raise InvalidArgumentError("concat: cannot concatenate scalars (rank 0); use tf.stack.")
    (ax,) = normalize_axis(axis, nd, "concat")
    if len(vals) == 1:
        return vals[0]
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
    """Joins same-shaped tensors along a new axis."""
    vals = _tensors_like_first(_checks.tensor_list(values, "stack", "values"), "stack")
    if not vals:
        raise ValueError("stack needs at least one tensor")
    shape0 = vals[0]._value.shape
    for i, v in enumerate(vals):
        if v._value.shape != shape0:
            raise InvalidArgumentError(f"stack: all tensors must have the same shape; tensor 0 "
                                       f"has {list(shape0)}, tensor {i} has "
                                       f"{list(v._value.shape)}")
        if v._value.dtype != vals[0]._value.dtype:
            raise InvalidArgumentError(f"stack: tensor {i} has dtype {v.dtype.name}, tensor 0 "
                                       f"has {vals[0].dtype.name}; all must match.")
    nd = len(shape0) + 1
    if not -nd <= axis < nd:
        raise InvalidArgumentError(f"stack: axis {axis} is out of range for stacking tensors "
                                   f"of shape {list(shape0)} (expected -{nd} <= axis < {nd})")
    expanded = [expand_dims(v, axis) for v in vals]
    if len(expanded) == 1:
        return expanded[0]
    return _concat(*expanded, axis=axis % nd)


parallel_stack = stack


def unstack(value, num=None, axis=0, name=None):
    x = tensor(value)
    if x._value.ndim == 0:
        raise InvalidArgumentError("unstack: cannot unstack a scalar (rank 0).")
    (ax,) = normalize_axis(axis, x._value.ndim, "unstack")
    n = x._value.shape[ax]
    if num is not None and num != n:
        raise InvalidArgumentError(f"unstack: num={num} but axis {ax} has size {n}")
    pre = (builtins.slice(None),) * ax
    return [_strided_slice(x, key=pre + (i,)) for i in builtins.range(n)]


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    x = tensor(value)
    (ax,) = normalize_axis(axis, x._value.ndim, "split")
    n = x._value.shape[ax]
    if isinstance(num_or_size_splits, (int, np.integer)) or (
            isinstance(num_or_size_splits, Tensor) and num_or_size_splits.ndim == 0):
        k = int(num_or_size_splits)
        if k > 0:  # each output is an object: ~256 bytes a piece, however empty
            _checks.check_alloc("split", (k, 256), np.uint8,
                                what=f"the {k} outputs (about 256 bytes each)")
        if k <= 0 or n % k:
            raise InvalidArgumentError(f"split: axis {ax} of size {n} (shape "
                                       f"{list(x._value.shape)}) cannot be split into {k} "
                                       f"equal parts")
        sizes = [n // k] * k
    else:
        sizes = list(_ints(num_or_size_splits, "split's size_splits"))
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = n - (builtins.sum(sizes) + 1)
        if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
            raise InvalidArgumentError(f"split: sizes {sizes} don't add up to the size {n} of "
                                       f"axis {ax} (shape {list(x._value.shape)})")
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
    return math_ops._reduce_sum(r, axis=tuple(builtins.range(0, 2 * len(multiples), 2)),
                                keepdims=False)


_tile = primitive("tile", lambda x, multiples: np.tile(x, multiples), grads=(_tile_grad,), aliasing="fresh", flops=FREE)


def tile(input, multiples, name=None):
    x = tensor(input)
    m = _ints(multiples, "tile's multiples")
    if len(m) != x._value.ndim:
        raise InvalidArgumentError(f"tile: multiples has length {len(m)} but the input has rank "
                                   f"{x._value.ndim} (shape {list(x._value.shape)})")
    if builtins.any(v < 0 for v in m):
        raise InvalidArgumentError(f"tile: multiples must be non-negative, got {list(m)}")
    _checks.check_alloc("tile", tuple(a * b for a, b in zip(m, x._value.shape)),
                        x._value.dtype)
    return _tile(x, multiples=m)


def _pad_kernel(x, paddings, constant_values):
    return np.pad(x, paddings, mode="constant", constant_values=constant_values)


def _pad_grad(g, out, x, paddings, constant_values):
    key = tuple(builtins.slice(a, a + d) for (a, b), d in zip(paddings, x._value.shape))
    return _strided_slice(g, key=key)


_pad = primitive("pad", _pad_kernel, grads=(_pad_grad,), aliasing="fresh", flops=FREE)


def pad(tensor_, paddings, mode="CONSTANT", constant_values=0, name=None):
    """Pads with a constant, or mirrors the edges (REFLECT excludes, SYMMETRIC repeats them)."""
    x = tensor(tensor_)
    p = np.asarray(paddings.numpy() if isinstance(paddings, Tensor) else paddings)
    if p.shape != (x._value.ndim, 2):
        raise InvalidArgumentError(f"pad: paddings must have shape [{x._value.ndim}, 2] for a "
                                   f"tensor of shape {list(x._value.shape)}, got {list(p.shape)}")
    if (p < 0).any():
        raise InvalidArgumentError(f"pad: paddings must be non-negative, got {p.tolist()}")
    mode = mode.upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}")
    pads = tuple(tuple(int(v) for v in row) for row in p.tolist())
    _checks.check_alloc("pad", [n + b + a for n, (b, a) in zip(x._value.shape, pads)],
                        x._value.dtype)
    if mode == "CONSTANT":
        cv = constant_values.numpy() if isinstance(constant_values, Tensor) else constant_values
        cv = np.asarray(cv).astype(x._value.dtype).item() if x._value.dtype != object else cv
        return _pad(x, paddings=pads, constant_values=cv)
    # mirror modes: one gather per padded axis (differentiable through gather)
    out = x
    for ax, (b, a) in enumerate(pads):
        n = x._value.shape[ax]
        limit = n - 1 if mode == "REFLECT" else n
        if b > limit or a > limit:
            raise InvalidArgumentError(
                f"pad: {mode} paddings must be at most {limit} on axis {ax} of size {n} "
                f"(shape {list(x._value.shape)}), got {[b, a]}")
        if b or a:
            idx = np.pad(np.arange(n), (b, a), mode="reflect" if mode == "REFLECT"
                         else "symmetric")
            out = _gather(out, _wrap(idx.astype(np.int64)), axis=ax, batch_dims=0)
    return out


_reverse = primitive("reverse", lambda x, axis: np.flip(x, axis),
                     grads=(lambda g, o, x, axis: _reverse(g, axis=axis),), aliasing="view", writable_view=True, flops=FREE)


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
                                   f"(axis {axis} has size {n}). Negative indices are not "
                                   f"allowed.")


def _gather_kernel(params, indices, axis, batch_dims):
    _check_indices(indices, params.shape[axis], "gather", axis)
    if batch_dims == 0:
        return np.take(params, indices, axis=axis)
    b = params.shape[:batch_dims]
    pf = params.reshape((-1,) + params.shape[batch_dims:])
    inf = indices.reshape((-1,) + indices.shape[batch_dims:])
    a = axis - batch_dims
    out_tail = params.shape[batch_dims:axis] + indices.shape[batch_dims:] + params.shape[axis + 1:]
    if pf.shape[0] == 0:
        return np.zeros(b + out_tail, dtype=params.dtype)
    out = np.stack([np.take(p, i, axis=a) for p, i in zip(pf, inf)])
    return out.reshape(b + out_tail)


def _gather_grad(g, out, params, indices, axis, batch_dims):
    return _gather_scatter(g, indices, shape=params._value.shape, axis=axis,
                           batch_dims=batch_dims)


def _gather_scatter_kernel(g, indices, shape, axis, batch_dims):
    out = xp_of(g).zeros(shape, dtype=g.dtype)
    scatter_add = kernels_of(g).scatter_add
    if batch_dims == 0:
        o = np.moveaxis(out, axis, 0)
        gi = np.moveaxis(g.reshape(shape[:axis] + indices.shape + shape[axis + 1:]),
                         list(builtins.range(axis, axis + indices.ndim)),
                         list(builtins.range(indices.ndim)))
        scatter_add(o, indices, gi)
        return out
    of = out.reshape((-1,) + shape[batch_dims:])
    gf = g.reshape((-1,) + g.shape[batch_dims:])
    inf = indices.reshape((-1,) + indices.shape[batch_dims:])
    a = axis - batch_dims
    for o, gg, ii in zip(of, gf, inf):
        o2 = np.moveaxis(o, a, 0)
        g2 = np.moveaxis(gg, list(builtins.range(a, a + ii.ndim)), list(builtins.range(ii.ndim)))
        scatter_add(o2, ii, g2)
    return out


def _gather_out_spec(params, indices, axis, batch_dims):
    shape = params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis + 1:]
    return shape, params.dtype


_gather = primitive("gather", _gather_kernel, grads=(_gather_grad, None), aliasing="fresh",
                    flops=FREE, out_spec=_gather_out_spec)
_gather_scatter = primitive(
    "gather_grad", _gather_scatter_kernel,
    grads=(lambda g, o, x, indices, shape, axis, batch_dims:
           _gather(g, indices, axis=axis, batch_dims=batch_dims), None), aliasing="fresh", flops=FREE)


def _gather_sparse_grad(g, out, params, indices, axis, batch_dims):
    """TensorFlow's form of the params gradient of a gather along axis 0: `IndexedSlices`
    (one row of `g` per looked-up index, repeats kept), which is what `tape.gradient` returns
    for a variable read by `tf.gather` / `Embedding`. None where the dense rule applies."""
    shape = tuple(params.shape)
    if axis != 0 or batch_dims != 0 or any(d is None for d in shape):
        return None
    from tenfold.framework.indexed_slices import IndexedSlices
    values = reshape(g, (-1,) + shape[1:])
    return IndexedSlices(values, reshape(indices, (-1,)), np.array(shape, np.int32))



def unsorted_rows_sum(values, indices, shape):
    """A dense tensor of `shape` whose row `indices[i]` accumulates `values[i]` (repeated
    indices add up, in order): how `IndexedSlices` become dense."""
    values, indices = tensor(values), _int_indices(tensor(indices), "unsorted_rows_sum")
    return _gather_scatter(values, indices, shape=tuple(int(d) for d in shape), axis=0,
                           batch_dims=0)


def _int_indices(idx, op):
    if idx._value.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be int32 or int64, got {idx.dtype.name}")
    return idx


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """Picks slices of params along axis at the given indices (out of range is an error)."""
    p = tensor(params)
    idx = _int_indices(tensor(indices), "gather")
    batch_dims = int(batch_dims)
    if batch_dims < 0:
        batch_dims += idx._value.ndim
    if axis is None:
        axis = batch_dims
    if p._value.ndim == 0:
        raise InvalidArgumentError("gather: params must be at least rank 1, got a scalar")
    (ax,) = normalize_axis(axis, p._value.ndim, "gather")
    if batch_dims:
        if not 0 <= batch_dims <= builtins.min(ax, idx._value.ndim):
            raise InvalidArgumentError(f"gather: batch_dims={batch_dims} must be <= axis ({ax}) "
                                       f"and <= rank(indices) ({idx._value.ndim})")
        if p._value.shape[:batch_dims] != idx._value.shape[:batch_dims]:
            raise InvalidArgumentError(
                f"gather: params shape {list(p._value.shape)} and indices shape "
                f"{list(idx._value.shape)} must agree on the first {batch_dims} (batch) axes")
    return _gather(p, idx, axis=ax, batch_dims=batch_dims)


def _gather_nd_kernel(params, indices):
    k = indices.shape[-1]
    if k > params.ndim:
        raise InvalidArgumentError(f"gather_nd: index depth {k} exceeds params rank {params.ndim}")
    for j in builtins.range(k):
        _check_indices(indices[..., j], params.shape[j], "gather_nd", j)
    return params[tuple(np.moveaxis(indices, -1, 0))]


_gather_nd = primitive(
    "gather_nd", _gather_nd_kernel,
    grads=(lambda g, o, params, indices: _scatter_nd(indices, g, shape=params._value.shape),
           None), aliasing="fresh", flops=FREE,
    out_spec=lambda params, indices: (indices.shape[:-1] + params.shape[indices.shape[-1]:],
                                      params.dtype))


def gather_nd(params, indices, batch_dims=0, name=None):
    """Gathers slices of params addressed by the last axis of indices."""
    p = tensor(params)
    idx = _int_indices(tensor(indices), "gather_nd")
    if idx._value.ndim == 0:
        raise InvalidArgumentError("gather_nd: indices must be at least rank 1")
    batch_dims = _checks.scalar_int(batch_dims, "gather_nd", "batch_dims")
    if not 0 <= batch_dims < idx._value.ndim or batch_dims > p._value.ndim:
        raise InvalidArgumentError(
            f"gather_nd: batch_dims={batch_dims} must be in [0, rank(indices)) and at most "
            f"rank(params); got indices of shape {list(idx._value.shape)} and params of "
            f"shape {list(p._value.shape)}")
    if batch_dims:
        # fold the batch axes into the index: prepend each element's batch coordinates
        bshape = p._value.shape[:batch_dims]
        if idx._value.shape[:batch_dims] != bshape:
            raise InvalidArgumentError(
                f"gather_nd: params shape {list(p._value.shape)} and indices shape "
                f"{list(idx._value.shape)} must agree on the first {batch_dims} axes")
        nb = int(np.prod(bshape))
        pf = reshape(p, (nb,) + p._value.shape[batch_dims:])
        inner = idx._value.shape[batch_dims:]
        idf = reshape(idx, (nb,) + inner)
        b = np.arange(nb, dtype=idx._value.dtype).reshape((nb,) + (1,) * len(inner))
        b = np.broadcast_to(b, (nb,) + inner[:-1] + (1,))
        full = _concat(_wrap(np.ascontiguousarray(b)), idf, axis=len(inner))
        out = _gather_nd(pf, full)
        return reshape(out, bshape + out._value.shape[1:])
    if idx._value.shape[-1] == 0:
        # an empty index addresses the whole of params: one copy per index (TensorFlow's
        # shape indices.shape[:-1] + params.shape)
        lead = idx._value.shape[:-1]
        _checks.check_alloc("gather_nd", lead + p._value.shape, p._value.dtype)
        return _gather(expand_dims(p, 0), _wrap(np.zeros(lead, np.int64)), axis=0,
                       batch_dims=0)
    return _gather_nd(p, idx)


def _scatter_nd_kernel(indices, updates, shape):
    out = xp_of(updates).zeros(shape, dtype=updates.dtype)
    k = indices.shape[-1]
    for j in builtins.range(k):
        _check_indices(indices[..., j], shape[j], "scatter_nd", j)
    kernels_of(updates).scatter_add(out, tuple(np.moveaxis(indices, -1, 0)), updates)
    return out


_scatter_nd = primitive("scatter_nd", _scatter_nd_kernel,
                        grads=(None, lambda g, o, i, u, shape: _gather_nd(g, i)), aliasing="fresh", flops=FREE)


def _check_scatter(op, idx, upd, shape):
    k = idx._value.shape[-1] if idx._value.ndim else 0
    if idx._value.ndim == 0 or k > len(shape):
        raise InvalidArgumentError(f"{op}: indices of shape {list(idx._value.shape)} must have "
                                   f"a last axis of at most rank(shape) = {len(shape)}")
    for j in builtins.range(k):
        _check_indices(idx._value[..., j], shape[j], op, j)
    want = idx._value.shape[:-1] + tuple(shape[k:])
    if upd._value.shape != want:
        raise InvalidArgumentError(f"{op}: updates must have shape {list(want)} for indices "
                                   f"{list(idx._value.shape)} and shape {list(shape)}, got "
                                   f"{list(upd._value.shape)}")


def scatter_nd(indices, updates, shape, name=None):
    """Zeros of `shape` with `updates` added at `indices` (duplicates add up)."""
    idx = _int_indices(tensor(indices), "scatter_nd")
    upd = tensor(updates)
    shape = _shape_arg(shape, "scatter_nd", upd._value.dtype)
    _check_scatter("scatter_nd", idx, upd, shape)
    return _scatter_nd(idx, upd, shape=shape)


def _tensor_scatter_args(op, tensor_, indices, updates):
    t = tensor(tensor_)
    idx = _int_indices(tensor(indices), op)
    upd = _checks.convert(updates, op, "updates", dtype=t.dtype) \
        if not isinstance(updates, Tensor) else tensor(updates)
    if upd._value.dtype != t._value.dtype:
        raise InvalidArgumentError(f"{op}: updates dtype {upd.dtype.name} must match the "
                                   f"tensor's {t.dtype.name}")
    _check_scatter(op, idx, upd, t._value.shape)
    return t, idx, upd


def _scatter_update_kernel(t, indices, updates):
    out = t.copy()
    out[tuple(np.moveaxis(indices, -1, 0))] = updates  # repeated indices: the last one wins
    return out


_scatter_update = primitive(
    "tensor_scatter_update", _scatter_update_kernel,
    grads=(lambda g, o, t, i, u: _scatter_update(g, i, math_ops._zeros_like(u)), None,
           lambda g, o, t, i, u: _gather_nd(g, i)), flops=FREE)


def tensor_scatter_nd_update(tensor_, indices, updates, name=None):
    """A copy of tensor with the slices at indices replaced by updates (for repeated
    indices the last update wins)."""
    t, idx, upd = _tensor_scatter_args("tensor_scatter_nd_update", tensor_, indices, updates)
    return _scatter_update(t, idx, upd)


def tensor_scatter_nd_add(tensor_, indices, updates, name=None):
    t, idx, upd = _tensor_scatter_args("tensor_scatter_nd_add", tensor_, indices, updates)
    return _add(t, _scatter_nd(idx, upd, shape=t._value.shape))


def tensor_scatter_nd_sub(tensor_, indices, updates, name=None):
    t, idx, upd = _tensor_scatter_args("tensor_scatter_nd_sub", tensor_, indices, updates)
    return math_ops._sub(t, _scatter_nd(idx, upd, shape=t._value.shape))


_where_indices = primitive("where_indices",
                           lambda c: np.argwhere(c).astype(np.int64).reshape(-1, c.ndim), no_grad=INTEGER_VALUED)


def where_indices(condition):
    c = tensor(condition)
    if c._value.dtype != np.bool_:
        c = math_ops._not_equal(c, math_ops._zeros_like(c))
    return _where_indices(c)


def boolean_mask(tensor_, mask, axis=None, name=None):
    """The entries of tensor where mask is true (mask covers axes axis..axis+rank(mask))."""
    x, m = tensor(tensor_), tensor(mask)
    if m._value.dtype != np.bool_:
        raise TypeError(f"boolean_mask: mask must be bool, got {m.dtype.name}")
    k = m._value.ndim
    if k == 0:
        raise InvalidArgumentError("boolean_mask: mask cannot be a scalar")
    axis = 0 if axis is None else int(axis)
    if axis < 0:
        axis += x._value.ndim
    if x._value.shape[axis:axis + k] != m._value.shape:
        raise InvalidArgumentError(f"boolean_mask: mask shape {list(m._value.shape)} must match "
                                   f"the tensor's shape {list(x._value.shape)} at axis {axis}")
    lead = x._value.shape[:axis]
    flat = reshape(x, lead + (-1,) + x._value.shape[axis + k:]) if k != 1 else x
    idx = reshape(_where_indices(reshape(m, [-1])), [-1])
    return _gather(flat, idx, axis=axis, batch_dims=0)


# ------------------------------------------------------------------------------------------
# creation

def _dtype_np(dtype, default=np.float32):
    return np.dtype(default) if dtype is None else dtypes.as_dtype(dtype)._np


def _shape_arg(shape, op, dtype=None):
    s = _ints(shape, f"{op}'s shape")
    if builtins.any(d < 0 for d in s):
        raise InvalidArgumentError(f"{op}: shape {list(s)} has a negative dimension")
    if dtype is not None:
        _checks.check_alloc(op, s, dtype)
    return s


def zeros(shape, dtype=dtypes.float32, name=None):
    dt = _dtype_np(dtype)
    return _named(_new_on_device(np.zeros(_shape_arg(shape, "zeros", dt), dtype=dt)),
                  name or "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    dt = _dtype_np(dtype)
    return _named(_new_on_device(np.ones(_shape_arg(shape, "ones", dt), dtype=dt)),
                  name or "ones")


def _named(t, name):
    """A creation op's result inside tf.function takes TF's op name for printing."""
    if _STATE.tracers:
        from tenfold.framework.tensor import _note_constant
        _note_constant(t, name)
    return t


def zeros_like(input, dtype=None, name=None):
    x = tensor(input)
    return math_ops._zeros_like(x, dtype=None if dtype is None else _dtype_np(dtype))


def ones_like(input, dtype=None, name=None):
    x = tensor(input)
    return math_ops._ones_like(x, dtype=None if dtype is None else _dtype_np(dtype))


_fill = primitive("fill", lambda v, shape: xp_of(v).full(shape, v, dtype=v.dtype),
                  grads=(lambda g, o, v, shape: math_ops.reduce_sum(g),))


def fill(dims, value, name=None):
    """A tensor of shape dims filled with the scalar value (differentiable in value)."""
    # a Python / NumPy value is made on the current device, like the other creation ops
    v = tensor(value) if isinstance(value, Tensor) else _new_on_device(tensor(value)._value)
    if v._value.ndim != 0:
        raise InvalidArgumentError(f"fill: value must be a scalar, got shape "
                                   f"{list(v._value.shape)}")
    shape = _shape_arg(dims, "fill", v._value.dtype)
    # a real array, not a broadcast view: a tensor too big for memory fails here, not later
    return _fill(v, shape=shape) if shape != () else v


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    rows = _checks.non_negative_int(num_rows, "eye", "num_rows")
    cols = rows if num_columns is None else _checks.non_negative_int(num_columns, "eye",
                                                                      "num_columns")
    batch = () if batch_shape is None else _shape_arg(batch_shape, "eye")
    dt = _dtype_np(dtype)
    _checks.check_alloc("eye", batch + (rows, cols), dt)
    e = np.eye(rows, cols, dtype=dt)
    if batch:
        e = np.broadcast_to(e, batch + e.shape).copy()
    return _new_on_device(e)


def _range_value(v, what):
    if isinstance(v, Tensor):
        if v._value.size != 1:
            raise InvalidArgumentError(f"range: {what} must be a scalar, got shape "
                                       f"{list(v._value.shape)}")
        v = v._value.reshape(()).item()
    elif isinstance(v, np.ndarray):
        if v.size != 1:
            raise InvalidArgumentError(f"range: {what} must be a scalar, got shape "
                                       f"{list(v.shape)}")
        v = v.reshape(()).item()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, builtins.bool) or not isinstance(v, (int, float)):
        raise TypeError(f"range: {what} must be a number, got {type(v).__name__} {v!r}")
    if isinstance(v, float) and not np.isfinite(v):
        raise InvalidArgumentError(f"range: {what} must be finite, got {v}")
    return v


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001
    """[start, start + delta, ...) up to limit (`tf.range`); int32 for ints, float32 for floats."""
    args = [start, limit, delta]
    tensor_dtypes = [a._value.dtype for a in args if isinstance(a, Tensor)]
    start = _range_value(start, "start")
    limit = None if limit is None else _range_value(limit, "limit")
    delta = _range_value(delta, "delta")
    if limit is None:
        start, limit = 0, start
    if delta == 0:
        raise InvalidArgumentError("range: delta must not be 0")
    if (delta > 0 and start > limit) or (delta < 0 and start < limit):
        raise InvalidArgumentError(f"range: requires start <= limit when delta > 0 (or "
                                   f"start >= limit when delta < 0), got start={start}, "
                                   f"limit={limit}, delta={delta}")
    if dtype is not None:
        dt = dtypes.as_dtype(dtype)._np
    elif tensor_dtypes:
        order = [np.dtype(t) for t in (np.int32, np.int64, np.float32, np.float64)]
        dt = builtins.max(tensor_dtypes, key=lambda d: order.index(d) if d in order else 0)
        if builtins.any(isinstance(v, float) for v in (start, limit, delta)) \
                and dt.kind != "f":
            dt = np.dtype(np.float32)
    else:
        is_float = builtins.any(isinstance(v, float) for v in (start, limit, delta))
        big = builtins.any(not -2 ** 31 <= v < 2 ** 31 for v in (start, limit, delta))
        # as TensorFlow: Python ints beyond int32 convert to int64, and so does the result
        dt = np.dtype(np.float32 if is_float else np.int64 if big else np.int32)
    if dt.kind not in "iuf":
        raise TypeError(f"range: dtype must be an integer or floating-point type, got {dt.name}")
    if dt.kind == "f":
        n = int(np.ceil((float(limit) - float(start)) / float(delta)))
    else:
        n = int(builtins.max(-(-(limit - start) // delta), 0))
        info = np.iinfo(dt)
        for what, v in (("start", start), ("limit", limit), ("delta", delta)):
            # TensorFlow converts start/limit/delta to the dtype first: a value that does not
            # fit is an error, never a wrapped-around sequence
            if not info.min <= v <= info.max:
                raise InvalidArgumentError(
                    f"range: {what}={v} does not fit in {dt.name} [{info.min}, {info.max}]; "
                    f"pass dtype=tf.int64 for larger values")
    _checks.check_alloc("range", (n,), dt)
    if dt.kind == "f":
        return _new_on_device(np.asarray(start, dt) + np.arange(n, dtype=dt) *
                              np.asarray(delta, dt))
    return _new_on_device(np.arange(start, limit, delta, dtype=dt))


def _one_hot_kernel(v, depth, on, off, axis, dtype):
    out = xp_of(v).full(v.shape + (depth,), off, dtype=dtype)
    if depth == 0:  # every index is out of range: an empty last axis
        return out if axis is None or axis == -1 else np.moveaxis(out, -1, axis)
    valid = (v >= 0) & (v < depth)  # out-of-range indices give all-off rows, as TensorFlow
    np.put_along_axis(out, np.where(valid, v, 0)[..., None].astype(np.intp),
                      np.where(valid, np.dtype(dtype).type(on), np.dtype(dtype).type(off))[..., None],
                      -1)
    if axis is not None and axis != -1:
        out = np.moveaxis(out, -1, axis)
    return out


_one_hot = primitive("one_hot", _one_hot_kernel, aliasing="fresh", flops=FREE, no_grad=INTEGER_VALUED)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot rows of length depth (out-of-range indices give rows of off_value)."""
    idx = tensor(indices)
    if idx._value.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got {idx.dtype.name}")
    depth = _checks.non_negative_int(depth, "one_hot", "depth")
    if dtype is None:
        dtype = (on_value.dtype if isinstance(on_value, Tensor) else
                 off_value.dtype if isinstance(off_value, Tensor) else
                 convert_to_tensor(on_value).dtype if on_value is not None else
                 convert_to_tensor(off_value).dtype if off_value is not None else dtypes.float32)
    dt = dtypes.as_dtype(dtype)._np
    on = 1 if on_value is None else (on_value.numpy() if isinstance(on_value, Tensor) else on_value)
    off = 0 if off_value is None else (off_value.numpy() if isinstance(off_value, Tensor)
                                       else off_value)
    nd = idx._value.ndim + 1
    if axis is not None:
        axis = _checks.scalar_int(axis, "one_hot", "axis")
        if not -1 <= axis < nd:
            raise InvalidArgumentError(f"one_hot: axis {axis} must be -1 or in [0, {nd})")
    _checks.check_alloc("one_hot", idx._value.shape + (depth,), dt)
    try:
        on, off = np.asarray(on, dt).item(), np.asarray(off, dt).item()
    except (TypeError, ValueError, OverflowError):
        raise InvalidArgumentError(f"one_hot: on_value {on!r} / off_value {off!r} must be "
                                   f"scalars of dtype {dt}") from None
    return _one_hot(idx, depth=depth, on=on, off=off, axis=axis, dtype=dt)


# ------------------------------------------------------------------------------------------
# shape queries

_shape = primitive("shape", lambda x, dtype: np.asarray(x.shape, dtype=dtype), shape_only=True, flops=FREE, no_grad=INTEGER_VALUED)
_size = primitive("size", lambda x, dtype: np.asarray(x.size, dtype=dtype), shape_only=True, no_grad=INTEGER_VALUED)
_rank = primitive("rank", lambda x: np.asarray(x.ndim, dtype=np.int32), shape_only=True, no_grad=INTEGER_VALUED)


def _index_dtype(out_type, op):
    d = dtypes.as_dtype(out_type)
    if d not in (dtypes.int32, dtypes.int64):
        raise TypeError(f"{op}: out_type must be int32 or int64, got {d.name}")
    return d._np


def shape(input, out_type=dtypes.int32, name=None):
    """The shape as a 1-D int32 tensor (`tf.shape`); `x.shape` gives the static TensorShape."""
    return _shape(tensor(input), dtype=_index_dtype(out_type, "shape"))


def shape_n(input, out_type=dtypes.int32, name=None):
    return [shape(x, out_type) for x in _checks.tensor_list(input, "shape_n", "input")]


def rank(input, name=None):
    return _rank(tensor(input))


def size(input, out_type=dtypes.int32, name=None):
    return _size(tensor(input), dtype=_index_dtype(out_type, "size"))


def identity(input, name=None):
    """The same value; inside `with tf.device(...)`, a copy on that device (TensorFlow's
    explicit way to move a tensor between devices)."""
    t = tensor(input)
    if _STATE.device_stack:
        target = _STATE.backend
        src = _backend_of(t._value)
        if (target or _NUMPY) is not src:
            return _copy_to_device(t, device=(target or _NUMPY).name)
    return _identity(t)


def _copy_kernel(x, device):
    from tenfold import backend
    b = next(b for b in backend.backends() if b.name == device)
    return b.from_host(backend.to_numpy(x))


def _copy_grad(g, out, x, device):
    from tenfold import backend
    return _copy_to_device(g, device=backend.backend_of(x._value).name)


_copy_to_device = primitive("copy_to_device", _copy_kernel, grads=(_copy_grad,), transfer=True, flops=FREE)


def identity_n(input, name=None):
    return [identity(x) for x in _checks.tensor_list(input, "identity_n", "input")]


_identity = primitive("identity", lambda x: x.copy(), grads=(lambda g, o, x: g,), aliasing="fresh", flops=FREE, tf_op="Identity")
_stop_gradient = primitive("stop_gradient", lambda x: x, aliasing="view", flops=FREE, no_grad="blocks gradients by definition", tf_op="StopGradient")


def stop_gradient(input, name=None):
    """The same value, seen by GradientTape as a constant."""
    return _stop_gradient(tensor(input))


def ensure_shape(x, shape, name=None):
    """Returns x, or raises InvalidArgumentError if its shape doesn't match `shape`."""
    x = tensor(x)
    try:
        want = TensorShape(shape)
    except (TypeError, ValueError):
        raise TypeError(f"ensure_shape: shape must be a list of integers or None, got "
                        f"{_checks._short(shape)}") from None
    if not TensorShape(x._value.shape).is_compatible_with(want):
        raise InvalidArgumentError(f"ensure_shape: shape of tensor {list(x._value.shape)} is "
                                   f"not compatible with expected shape {want}.")
    return x


# Less common ops live in array_extra (loaded on first use, to keep `import tenfold`
# fast); they remain reachable as attributes of this module.
_IN_EXTRA = frozenset([
    '_TopK', '_argsort', '_argsort_kernel', '_bitcast', '_bitcast_kernel', '_broadcast_pair',
    '_empty_key', '_nt', '_same_dtype', '_scatter_minmax', '_scatter_minmax_grad_t',
    '_scatter_minmax_grad_u', '_scatter_minmax_kernel', '_searchsorted',
    '_searchsorted_kernel', '_take_along', '_take_along_grad', '_take_along_kernel',
    '_take_along_scatter', '_take_along_scatter_kernel', '_tensor_scatter_minmax', '_unique',
    '_unique_kernel', 'argsort', 'bitcast', 'depth_to_space', 'dynamic_partition',
    'dynamic_stitch', 'in_top_k', 'linspace', 'meshgrid', 'repeat', 'reverse_sequence', 'roll',
    'searchsorted', 'sequence_mask', 'sort', 'space_to_depth', 'take_along_axis',
    'tensor_scatter_nd_max', 'tensor_scatter_nd_min', 'top_k', 'unique', 'unique_with_counts'])


def __getattr__(name):
    if name in _IN_EXTRA:
        from tenfold.ops import array_extra
        return getattr(array_extra, name)
    raise AttributeError(f"module 'tenfold.ops.array_ops' has no attribute {name!r}")
