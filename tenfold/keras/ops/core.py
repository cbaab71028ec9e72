"""`keras.ops.core`: conversion, shapes, control flow, scatter / slice helpers."""
import builtins

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.util import nest
from tenfold.keras.ops._dtypes import (const, npd, shape_of, tensor, standardize_dtype,
                                     np_dtype, promote)



def cast(x, dtype):
    """x converted to `dtype` (floats to ints truncate toward zero)."""
    return tensor(tensor(x), standardize_dtype(dtype))


def saturate_cast(x, dtype):
    return m.saturate_cast(tensor(x), standardize_dtype(dtype))


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    return tensor(x, dtype)


def convert_to_numpy(x):
    from tenfold.framework.host import to_host
    return np.array(to_host(x))


def is_tensor(x):
    return isinstance(x, Tensor)


def stop_gradient(variable):
    return a.stop_gradient(tensor(variable))


def shape(x):
    """The static shape as a tuple of ints."""
    if hasattr(x, "shape") and not isinstance(x, Tensor):
        return tuple(x.shape)
    return shape_of(tensor(x))


def dtype(x):
    from tenfold.keras.ops._dtypes import dtype_key
    k = dtype_key(x)
    return standardize_dtype(k if k not in ("int", "float") else k)


def _control(name):
    try:
        import tenfold
        return getattr(tenfold, name)
    except (AttributeError, ImportError):
        return None


def cond(pred, true_fn, false_fn):
    """`true_fn()` if pred else `false_fn()` (traced as tf.cond inside graph functions)."""
    fn = _control("cond")
    if fn is not None:
        return fn(pred, true_fn, false_fn)
    return true_fn() if builtins.bool(pred) else false_fn()


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Runs `loop_vars = body(*loop_vars)` while `cond(*loop_vars)`; returns the final values
    in loop_vars' structure."""
    is_tuple = isinstance(loop_vars, (tuple, list))
    vars_ = tuple(loop_vars) if is_tuple else (loop_vars,)
    # Python numbers become tensors (int32 / float32), as Keras converts loop variables, so
    # the result is the same eagerly and in a graph
    vars_ = tuple(tensor(v) if isinstance(v, (builtins.int, builtins.float, builtins.bool))
                  else v for v in vars_)
    fn = _control("while_loop")
    if fn is not None:
        out = fn(lambda *v: cond(*v), lambda *v: _as_tuple(body(*v)), vars_,
                 maximum_iterations=maximum_iterations)
    else:
        out = vars_
        i = 0
        while builtins.bool(cond(*out)) and (maximum_iterations is None or
                                             i < maximum_iterations):
            out = _as_tuple(body(*out))
            i += 1
    out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    if is_tuple:
        return type(loop_vars)(out) if isinstance(loop_vars, list) else tuple(out)
    return out[0]


def _as_tuple(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def fori_loop(lower, upper, body_fun, init_val):
    """`val = body_fun(i, val)` for i in [lower, upper)."""
    lo, hi = int(lower), int(upper)
    fn = _control("while_loop")
    if fn is not None and not isinstance(lower, int):
        res = while_loop(lambda i, v: m.less(i, hi), lambda i, v: (m.add(i, 1), body_fun(i, v)),
                         (tensor(lo), init_val))
        return res[1]
    val = init_val
    for i in range(lo, hi):
        val = body_fun(i, val)
    return val


def switch(index, branches, *operands):
    """`branches[index](*operands)`, the index clamped to the branches (tf.switch_case)."""
    fn = _control("switch_case")
    last = len(branches) - 1
    if isinstance(index, Tensor) and fn is not None:
        idx = m.minimum(m.maximum(tensor(index, "int32"), 0), last)
        return fn(idx, [(lambda b=b: b(*operands)) for b in branches])
    i = builtins.min(builtins.max(int(index), 0), last)
    return branches[i](*operands)


def map(f, xs):  # noqa: A001 - Keras's name
    flat = nest.flatten(xs)
    n = shape_of(flat[0])[0] if isinstance(flat[0], Tensor) else len(flat[0])
    outs = []
    for i in range(n):
        outs.append(f(nest.map_structure(lambda t: tensor(t)[i], xs)))
    return nest.map_structure(lambda *ys: a.stack(list(ys)), *outs)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`carry, y = f(carry, x)` over the leading axis of xs; returns (carry, stacked ys)."""
    if xs is None:
        n = int(length)
        items = [None] * n
    else:
        flat = nest.flatten(xs)
        n = shape_of(tensor(flat[0]))[0]
        items = [nest.map_structure(lambda t: tensor(t)[i], xs) for i in range(n)]
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry = init
    ys = [None] * n
    for i in order:
        carry, y = f(carry, items[i])
        ys[i] = y
    if n == 0 or ys[0] is None:
        return carry, None
    return carry, nest.map_structure(lambda *v: a.stack(list(v)), *ys)


def associative_scan(f, elems, reverse=False, axis=0):
    x = tensor(elems)
    n = shape_of(x)[axis]
    parts = a.unstack(x, axis=axis)
    if reverse:
        parts = parts[::-1]
    acc = [parts[0]]
    for p in parts[1:]:
        acc.append(f(acc[-1], p))
    if reverse:
        acc = acc[::-1]
    return a.stack(acc, axis=axis) if n else x


def vectorized_map(function, elements):
    return map(function, elements)


def unstack(x, num=None, axis=0):
    return a.unstack(tensor(x), num=num, axis=axis)


def scatter(indices, values, shape):
    """Zeros of `shape` with `values` added at `indices` (duplicates add up)."""
    idx = tensor(indices)
    if npd(idx).kind not in "iu":
        idx = tensor(idx, "int32")
    return a.scatter_nd(idx, tensor(values), shape)


def scatter_update(inputs, indices, updates):
    x = tensor(inputs)
    idx = tensor(indices)
    if npd(idx).kind not in "iu":
        idx = tensor(idx, "int32")
    return a.tensor_scatter_nd_update(x, idx, tensor(updates, x.dtype.name))


def slice(inputs, start_indices, shape):  # noqa: A001
    """`inputs[start:start + shape]` per axis; `shape` is static, `start_indices` may be a
    tensor (each start is clamped so the slice fits, as lax.dynamic_slice)."""
    x = tensor(inputs)
    size = [int(s) for s in _static_ints(shape, "slice", "shape")]
    if not isinstance(start_indices, Tensor):
        return a.slice(x, [int(s) for s in start_indices], size)
    starts = tensor(start_indices, "int32")
    dims = shape_of(x)
    for ax, n in enumerate(size):
        st = m.minimum(m.maximum(starts[ax], 0), dims[ax] - n)
        idx = m.add(st, a.range(n, dtype="int32"))
        x = a.gather(x, idx, axis=ax)
    return x


def _static_ints(v, op, what):
    if isinstance(v, Tensor):
        from tenfold.framework.host import to_host  # a shape must be known when tracing
        return to_host(v).tolist()
    return list(v)


def slice_update(inputs, start_indices, updates):
    """`inputs` with the block at `start_indices` replaced by `updates` (starts may be a
    tensor: the positions are the static offsets of `updates` plus the starts)."""
    x = tensor(inputs)
    u = tensor(updates, x.dtype.name)
    grids = np.meshgrid(*[np.arange(d) for d in shape_of(u)], indexing="ij")
    offsets = const(np.stack(grids, axis=-1).astype(np.int32))  # from static shapes
    starts = tensor(start_indices, "int32") if isinstance(start_indices, Tensor) else \
        const(np.asarray([int(s) for s in start_indices], np.int32))
    return a.tensor_scatter_nd_update(x, m.add(offsets, starts), u)


def custom_gradient(f):
    from tenfold.autodiff.custom_gradient import custom_gradient as cg
    return cg(f)


def fill(shape, fill_value, dtype=None):
    from tenfold.keras.ops.numpy import full
    return full(shape, fill_value, dtype)


def random_seed_dtype():
    return "uint32"


_ = (promote, np_dtype)
