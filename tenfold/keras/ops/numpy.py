"""`keras.ops.numpy`: NumPy-style ops with Keras 3's argument names and dtype rules, each a thin
name over tenfold ops (so they are differentiable and traceable)."""
import builtins

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops import composite as c
from tenfold.keras.ops._dtypes import (
    tensor, promote, to_float, result_type, standardize_dtype, np_dtype, _floatx)

_wrap = Tensor._wrap
_abs, _max, _min = builtins.abs, builtins.max, builtins.min


def _axis(axis):
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return [int(x) for x in axis]
    return int(axis)


def _sumlike_dtype(t):
    k = t._value.dtype
    if k == np.bool_ or k in (np.int8, np.int16):
        return "int32"
    if k in (np.uint8, np.uint16):
        return "uint32"
    return None


def _promoted(fn, name=None, float_only=False):
    """The Keras op `name(x1, x2)`: `fn` on both arguments after Keras's dtype promotion."""
    def op(x1, x2):
        x1, x2 = promote(x1, x2, float_only=float_only)
        return fn(x1, x2)
    op.__name__ = op.__qualname__ = name or fn.__name__
    return op


# ------------------------------------------------------------------ arithmetic

add = _promoted(m.add)
subtract = _promoted(m.subtract)
multiply = _promoted(m.multiply)
divide = _promoted(m.divide, float_only=True)
true_divide = divide
divide_no_nan = _promoted(m.div_no_nan, "divide_no_nan", float_only=True)
floor_divide = _promoted(m.floordiv, "floor_divide")


def mod(x1, x2):
    x1, x2 = promote(x1, x2)
    if x1._value.dtype == np.bool_:
        x1, x2 = tensor(x1, "int32"), tensor(x2, "int32")
    return m.floormod(x1, x2)


power = _promoted(m.pow, "power")


def negative(x):
    return m.negative(tensor(x))


def abs(x):  # noqa: A001
    x = tensor(x)
    return x if x._value.dtype == np.bool_ else m.abs(x)


absolute = abs


def sign(x):
    return m.sign(tensor(x))


def square(x):
    x = tensor(x)
    if x._value.dtype == np.bool_:
        x = tensor(x, "int32")
    return m.square(x)


def _float_unary(fn):
    def op(x):
        return fn(to_float(x))
    op.__name__ = fn.__name__
    return op


sqrt = _float_unary(m.sqrt)
exp = _float_unary(m.exp)
log = _float_unary(m.log)
log1p = _float_unary(m.log1p)
expm1 = _float_unary(m.expm1)
sin = _float_unary(m.sin)
cos = _float_unary(m.cos)
tan = _float_unary(m.tan)
tanh = _float_unary(m.tanh)
sinh = _float_unary(m.sinh)
cosh = _float_unary(m.cosh)
arcsin = _float_unary(m.asin)
arccos = _float_unary(m.acos)
arctan = _float_unary(m.atan)


def rsqrt(x):
    return m.rsqrt(to_float(x))


def log2(x):
    x = to_float(x)
    return m.divide(m.log(x), np.log(2.0))


def log10(x):
    x = to_float(x)
    return m.divide(m.log(x), np.log(10.0))


def exp2(x):
    x = to_float(x)
    return m.pow(tensor(2.0, x.dtype), x)


def arctan2(x1, x2):
    x1, x2 = promote(x1, x2, float_only=True)
    return m.atan2(x1, x2)


def reciprocal(x):
    return m.reciprocal(to_float(x))


def floor(x):
    x = tensor(x)
    if x._value.dtype.kind in "iub":
        return tensor(x, result_type(x, float))
    return m.floor(x)


def ceil(x):
    x = tensor(x)
    if x._value.dtype.kind in "iub":
        return tensor(x, result_type(x, float))
    return m.ceil(x)


def round(x, decimals=0):  # noqa: A001
    x = tensor(x)
    if x._value.dtype.kind in "iub":
        if decimals >= 0:
            return x
        f = 10 ** (-decimals)
        return tensor(m.multiply(m.round(m.divide(tensor(x, "float32"), float(f))), float(f)),
                      x.dtype.name)
    if decimals == 0:
        return m.round(x)
    f = 10.0 ** decimals
    return m.divide(m.round(m.multiply(x, f)), f)


def trunc(x):
    x = tensor(x)
    if x._value.dtype.kind in "iub":
        return x
    return m.multiply(m.sign(x), m.floor(m.abs(x)))


def clip(x, x_min, x_max):
    x = tensor(x)
    if x._value.dtype == np.bool_:
        x = tensor(x, "int32")
    dt = x._value.dtype
    lo = tensor(x_min, x.dtype.name) if isinstance(x_min, Tensor) else _wrap(
        np.asarray(x_min).astype(dt))
    hi = tensor(x_max, x.dtype.name) if isinstance(x_max, Tensor) else _wrap(
        np.asarray(x_max).astype(dt))
    return m.minimum(m.maximum(x, lo), hi)


maximum = _promoted(m.maximum)
minimum = _promoted(m.minimum)


def logaddexp(x1, x2):
    x1, x2 = promote(x1, x2, float_only=True)
    mx = m.maximum(x1, x2)
    return m.add(mx, m.log1p(m.exp(m.negative(m.abs(m.subtract(x1, x2))))))


def hypot(x1, x2):
    x1, x2 = promote(x1, x2, float_only=True)
    return m.sqrt(m.add(m.square(x1), m.square(x2)))


def square_root(x):
    return sqrt(x)


# ------------------------------------------------------------------ comparisons / logic

equal = _promoted(m.equal)
not_equal = _promoted(m.not_equal)
greater = _promoted(m.greater)
greater_equal = _promoted(m.greater_equal)
less = _promoted(m.less)
less_equal = _promoted(m.less_equal)


def _as_bool(x):
    x = tensor(x)
    return x if x._value.dtype == np.bool_ else m.not_equal(x, m.zeros_like(x))


def logical_and(x1, x2):
    return m.logical_and(_as_bool(x1), _as_bool(x2))


def logical_or(x1, x2):
    return m.logical_or(_as_bool(x1), _as_bool(x2))


def logical_xor(x1, x2):
    return m.logical_xor(_as_bool(x1), _as_bool(x2))


def logical_not(x):
    return m.logical_not(_as_bool(x))


def isnan(x):
    x = tensor(x)
    if x._value.dtype.kind not in "fc":
        return _wrap(np.zeros(x._value.shape, bool))
    return m.is_nan(x)


def isinf(x):
    x = tensor(x)
    if x._value.dtype.kind not in "fc":
        return _wrap(np.zeros(x._value.shape, bool))
    return m.is_inf(x)


def isfinite(x):
    x = tensor(x)
    if x._value.dtype.kind not in "fc":
        return _wrap(np.ones(x._value.shape, bool))
    return m.is_finite(x)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    x1, x2 = promote(x1, x2)
    v = np.isclose(x1._value, x2._value, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return _wrap(np.asarray(v))


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return m.reduce_all(isclose(x1, x2, rtol, atol, equal_nan))


def where(condition, x1=None, x2=None):
    cond = _as_bool(condition)
    if x1 is None and x2 is None:
        idx = np.nonzero(cond._value)
        return tuple(_wrap(i.astype(np.int32)) for i in idx)
    if x1 is None or x2 is None:
        raise ValueError("`x1` and `x2` either both should be `None` or both should have "
                         "non-None value.")
    x1, x2 = promote(x1, x2)
    shape = np.broadcast_shapes(cond._value.shape, x1._value.shape, x2._value.shape)
    if cond._value.shape != shape:
        cond = a.broadcast_to(cond, shape)
    return m.where(cond, x1, x2)


# ------------------------------------------------------------------ reductions

def sum(x, axis=None, keepdims=False):  # noqa: A001
    x = tensor(x)
    dt = _sumlike_dtype(x)
    if dt is not None:
        x = tensor(x, dt)
    return m.reduce_sum(x, axis=_axis(axis), keepdims=keepdims)


def prod(x, axis=None, keepdims=False, dtype=None):
    x = tensor(x)
    dt = dtype or _sumlike_dtype(x)
    if dt is not None:
        x = tensor(x, dt)
    return m.reduce_prod(x, axis=_axis(axis), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    x = tensor(x)
    dt = result_type(x, float)
    x = tensor(x, dt)
    return m.reduce_mean(x, axis=_axis(axis), keepdims=keepdims)


def _extreme(x, axis, keepdims, initial, reduce, reduce_bool, combine):
    """max / min: `reduce` (`reduce_bool` on booleans) over `axis`, then `combine` with
    `initial` when it is given."""
    x = tensor(x)
    fn = reduce_bool if x._value.dtype == np.bool_ else reduce
    out = fn(x, axis=_axis(axis), keepdims=keepdims)
    if initial is not None:
        out = combine(out, _wrap(np.asarray(initial, out._value.dtype)))
    return out


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return _extreme(x, axis, keepdims, initial, m.reduce_max, m.reduce_any, m.maximum)


amax = max


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return _extreme(x, axis, keepdims, initial, m.reduce_min, m.reduce_all, m.minimum)


amin = min


def all(x, axis=None, keepdims=False):  # noqa: A001
    return m.reduce_all(_as_bool(x), axis=_axis(axis), keepdims=keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    return m.reduce_any(_as_bool(x), axis=_axis(axis), keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    x = tensor(x)
    x = tensor(x, result_type(x, float))
    if x._value.dtype in (np.float16,) or x.dtype.name == "bfloat16":
        out = m.reduce_variance(tensor(x, "float32"), axis=_axis(axis), keepdims=keepdims)
        return tensor(out, x.dtype.name)
    return m.reduce_variance(x, axis=_axis(axis), keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    v = var(x, axis=axis, keepdims=keepdims)
    return m.sqrt(v)


def average(x, axis=None, weights=None):
    x = tensor(x)
    if weights is None:
        return mean(x, axis=axis)
    x, w = promote(x, weights, float_only=True)
    if axis is not None and w._value.ndim == 1 and x._value.ndim > 1:
        ax = int(axis) % x._value.ndim
        shape = [1] * x._value.ndim
        shape[ax] = -1
        w = a.reshape(w, shape)
    num = m.reduce_sum(m.multiply(x, w), axis=_axis(axis))
    den = m.reduce_sum(m.multiply(m.ones_like(x), w), axis=_axis(axis))
    return m.divide(num, den)


def count_nonzero(x, axis=None):
    x = tensor(x)
    nz = _as_bool(x)
    return m.reduce_sum(m.cast(nz, np.int32), axis=_axis(axis))


def _cumulative(fn, x, axis, dtype):
    """cumsum / cumprod: `fn` along `axis` (over the flattened values when None), in `dtype`
    or the widened dtype small integers and booleans accumulate in."""
    x = tensor(x)
    dt = dtype or _sumlike_dtype(x)
    if dt is not None:
        x = tensor(x, dt)
    if axis is None:
        x = a.reshape(x, (-1,))
        axis = 0
    return fn(x, axis=int(axis))


def cumsum(x, axis=None, dtype=None):
    return _cumulative(m.cumsum, x, axis, dtype)


def cumprod(x, axis=None, dtype=None):
    return _cumulative(m.cumprod, x, axis, dtype)


def logsumexp(x, axis=None, keepdims=False):
    return m.reduce_logsumexp(to_float(x), axis=_axis(axis), keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    x = tensor(x)
    if axis is None:
        out = m.argmax(a.reshape(x, (-1,)), axis=0, output_type="int32")
        return a.reshape(out, (1,) * x._value.ndim) if keepdims else out
    out = m.argmax(x, axis=int(axis), output_type="int32")
    return a.expand_dims(out, int(axis)) if keepdims else out


def argmin(x, axis=None, keepdims=False):
    x = tensor(x)
    if axis is None:
        out = m.argmin(a.reshape(x, (-1,)), axis=0, output_type="int32")
        return a.reshape(out, (1,) * x._value.ndim) if keepdims else out
    out = m.argmin(x, axis=int(axis), output_type="int32")
    return a.expand_dims(out, int(axis)) if keepdims else out


def argsort(x, axis=-1):
    x = tensor(x)
    if axis is None:
        x, axis = a.reshape(x, (-1,)), 0
    return a.argsort(x, axis=int(axis), stable=True)


def sort(x, axis=-1):
    x = tensor(x)
    if axis is None:
        x, axis = a.reshape(x, (-1,)), 0
    return a.sort(x, axis=int(axis))


# ------------------------------------------------------------------ linear algebra-ish

def matmul(x1, x2):
    x1, x2 = promote(x1, x2)
    if x1._value.dtype in (np.int8, np.uint8, np.int16, np.bool_):
        x1, x2 = tensor(x1, "int32"), tensor(x2, "int32")
    if x1._value.ndim == 1 or x2._value.ndim == 1:
        return c.tensordot(x1, x2, axes=[[x1._value.ndim - 1], [_max(x2._value.ndim - 2, 0)]])
    return m.matmul(x1, x2)


def dot(x1, x2):
    x1, x2 = promote(x1, x2)
    if x1._value.ndim == 0 or x2._value.ndim == 0:
        return m.multiply(x1, x2)
    if x1._value.ndim <= 2 and x2._value.ndim <= 2:
        return matmul(x1, x2)
    return c.tensordot(x1, x2, axes=[[x1._value.ndim - 1], [_max(x2._value.ndim - 2, 0)]])


def vdot(x1, x2):
    return dot(a.reshape(tensor(x1), (-1,)), a.reshape(tensor(x2), (-1,)))


def inner(x1, x2):
    x1, x2 = promote(x1, x2)
    if x1._value.ndim == 0 or x2._value.ndim == 0:
        return m.multiply(x1, x2)
    return c.tensordot(x1, x2, axes=[[-1], [-1]])


def outer(x1, x2):
    x1, x2 = promote(x1, x2)
    return m.multiply(a.reshape(x1, (-1, 1)), a.reshape(x2, (1, -1)))


def tensordot(x1, x2, axes=2):
    x1, x2 = promote(x1, x2)
    return c.tensordot(x1, x2, axes)


def einsum(subscripts, *operands, **kwargs):
    ops_ = promote(*operands)
    return c.einsum(subscripts, *ops_)


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    x1, x2 = promote(x1, x2)
    return _wrap(np.cross(x1._value, x2._value, axisa, axisb, axisc, axis))


def trace(x, offset=0, axis1=0, axis2=1):
    x = tensor(x)
    d = diagonal(x, offset=offset, axis1=axis1, axis2=axis2)
    dt = _sumlike_dtype(d)
    return m.reduce_sum(tensor(d, dt) if dt else d, axis=-1)


def diagonal(x, offset=0, axis1=0, axis2=1):
    x = tensor(x)
    nd = x._value.ndim
    a1, a2 = axis1 % nd, axis2 % nd
    rest = [i for i in range(nd) if i not in (a1, a2)]
    xt = a.transpose(x, rest + [a1, a2])
    n1, n2 = x._value.shape[a1], x._value.shape[a2]
    if offset >= 0:
        k = _max(0, _min(n1, n2 - offset))
        rows, cols = np.arange(k), np.arange(k) + offset
    else:
        k = _max(0, _min(n1 + offset, n2))
        rows, cols = np.arange(k) - offset, np.arange(k)
    lead = tuple(x._value.shape[i] for i in rest)
    flat = a.reshape(xt, (-1, n1 * n2))
    out = a.gather(flat, _wrap((rows * n2 + cols).astype(np.int64)), axis=1)
    return a.reshape(out, lead + (k,))


def diag(x, k=0):
    x = tensor(x)
    if x._value.ndim == 1:
        n = x._value.shape[0] + _abs(k)
        idx = np.arange(x._value.shape[0])
        rows, cols = (idx, idx + k) if k >= 0 else (idx - k, idx)
        flat_idx = _wrap((rows * n + cols).astype(np.int64)[:, None])
        return a.reshape(a.scatter_nd(flat_idx, x, (n * n,)), (n, n))
    if x._value.ndim == 2:
        return diagonal(x, offset=k)
    raise ValueError(f"diag: `x` must be 1-D or 2-D, got shape {tuple(x._value.shape)}")


def tril(x, k=0):
    x = tensor(x)
    r, cc = x._value.shape[-2:]
    mask = np.tril(np.ones((r, cc), bool), k)
    return m.where(_wrap(np.broadcast_to(mask, x._value.shape)), x, m.zeros_like(x))


def triu(x, k=0):
    x = tensor(x)
    r, cc = x._value.shape[-2:]
    mask = np.triu(np.ones((r, cc), bool), k)
    return m.where(_wrap(np.broadcast_to(mask, x._value.shape)), x, m.zeros_like(x))


def norm(x, ord=None, axis=None, keepdims=False):
    from tenfold.keras.ops.linalg import norm as _norm
    return _norm(x, ord=ord, axis=axis, keepdims=keepdims)


# ------------------------------------------------------------------ shapes

def reshape(x, newshape):
    return a.reshape(tensor(x), newshape)


def transpose(x, axes=None):
    return a.transpose(tensor(x), axes)


def swapaxes(x, axis1, axis2):
    x = tensor(x)
    perm = list(range(x._value.ndim))
    a1, a2 = axis1 % len(perm), axis2 % len(perm)
    perm[a1], perm[a2] = perm[a2], perm[a1]
    return a.transpose(x, perm)


def moveaxis(x, source, destination):
    x = tensor(x)
    nd = x._value.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [s % nd for s in src]
    dst = [d % nd for d in dst]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return a.transpose(x, order)


def expand_dims(x, axis):
    x = tensor(x)
    if isinstance(axis, (list, tuple)):
        out_nd = x._value.ndim + len(axis)
        axes = sorted(ax % out_nd for ax in axis)
        for ax in axes:
            x = a.expand_dims(x, ax)
        return x
    return a.expand_dims(x, axis)


def squeeze(x, axis=None):
    return a.squeeze(tensor(x), axis)


def ravel(x):
    return a.reshape(tensor(x), (-1,))


def flatten(x):
    return ravel(x)


def broadcast_to(x, shape):
    return a.broadcast_to(tensor(x), shape)


def concatenate(xs, axis=0):
    xs = promote(*xs)
    if axis is None:
        xs = [a.reshape(x, (-1,)) for x in xs]
        axis = 0
    return a.concat(xs, axis=axis)


append_ = None


def append(x1, x2, axis=None):
    return concatenate([x1, x2], axis=axis)


def stack(x, axis=0):
    xs = promote(*x)
    return a.stack(xs, axis=axis)


def hstack(xs):
    xs = promote(*xs)
    return a.concat(xs, axis=0 if xs[0]._value.ndim == 1 else 1)


def vstack(xs):
    xs = [x if x._value.ndim >= 2 else a.reshape(x, (1, -1)) for x in promote(*xs)]
    return a.concat(xs, axis=0)


def split(x, indices_or_sections, axis=0):
    x = tensor(x)
    n = x._value.shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of size {n} cannot be split evenly into "
                             f"{indices_or_sections} parts")
        return a.split(x, indices_or_sections, axis=axis)
    bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    return a.split(x, [bounds[i + 1] - bounds[i] for i in range(len(bounds) - 1)], axis=axis)


def tile(x, repeats):
    x = tensor(x)
    reps = [repeats] if isinstance(repeats, int) else list(repeats)
    nd = _max(x._value.ndim, len(reps))
    reps = [1] * (nd - len(reps)) + reps
    if x._value.ndim < nd:
        x = a.reshape(x, (1,) * (nd - x._value.ndim) + x._value.shape)
    return a.tile(x, reps)


def repeat(x, repeats, axis=None):
    x = tensor(x)
    if axis is None:
        x, axis = a.reshape(x, (-1,)), 0
    axis = int(axis) % x._value.ndim
    n = x._value.shape[axis]
    idx = np.repeat(np.arange(n), np.asarray(repeats.numpy() if isinstance(repeats, Tensor)
                                             else repeats))
    return a.gather(x, _wrap(idx.astype(np.int64)), axis=axis)


def flip(x, axis=None):
    x = tensor(x)
    axes = list(range(x._value.ndim)) if axis is None else axis
    return a.reverse(x, axes if isinstance(axes, (list, tuple)) else [axes])


def roll(x, shift, axis=None):
    x = tensor(x)
    if axis is None:
        return a.reshape(roll(a.reshape(x, (-1,)), shift, 0), x._value.shape)
    shifts = [shift] if isinstance(shift, int) else list(shift)
    axes = [axis] if isinstance(axis, int) else list(axis)
    for s, ax in zip(shifts, axes):
        ax = ax % x._value.ndim
        n = x._value.shape[ax]
        if n:
            idx = (np.arange(n) - s) % n
            x = a.gather(x, _wrap(idx.astype(np.int64)), axis=ax)
    return x


def pad(x, pad_width, mode="constant", constant_values=None):
    x = tensor(x)
    pw = np.asarray(pad_width, dtype=np.int64)
    if pw.ndim == 0:
        pw = np.full((x._value.ndim, 2), int(pw))
    elif pw.ndim == 1:
        pw = np.tile(pw.reshape(1, -1) if pw.size == 2 else pw.reshape(-1, 1),
                     (x._value.ndim, 1) if pw.size == 2 else (1, 2))
    mode = mode.lower()
    if mode not in ("constant", "reflect", "symmetric"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect' or 'symmetric', got {mode!r}")
    if constant_values is not None and mode != "constant":
        raise ValueError("Argument `constant_values` can only be provided when `mode == "
                         f"'constant'`. Received: mode={mode}")
    return a.pad(x, pw, mode=mode.upper(),
                 constant_values=0 if constant_values is None else constant_values)


def take(x, indices, axis=None):
    x = tensor(x)
    idx = tensor(indices)
    if idx._value.dtype.kind not in "iu":
        idx = tensor(idx, "int32")
    if axis is None:
        x, axis = a.reshape(x, (-1,)), 0
    axis = int(axis) % x._value.ndim
    n = x._value.shape[axis]
    iv = idx._value
    if iv.size and iv.min() < 0:
        idx = _wrap(np.where(iv < 0, iv + n, iv))
    return a.gather(x, idx, axis=axis)


def take_along_axis(x, indices, axis=None):
    x = tensor(x)
    idx = tensor(indices)
    if axis is None:
        x, axis = a.reshape(x, (-1,)), 0
        idx = a.reshape(idx, (-1,))
    axis = int(axis) % x._value.ndim
    iv = idx._value
    n = x._value.shape[axis]
    if iv.size and iv.min() < 0:
        iv = np.where(iv < 0, iv + n, iv)
    shape = list(np.broadcast_shapes(tuple(d if i != axis else 1 for i, d in
                                           enumerate(x._value.shape)),
                                     tuple(d if i != axis else 1 for i, d in
                                           enumerate(iv.shape))))
    xs = list(shape)
    xs[axis] = n
    ish = list(shape)
    ish[axis] = iv.shape[axis]
    if tuple(xs) != x._value.shape:
        x = a.broadcast_to(x, xs)
    iv = np.broadcast_to(iv, ish)
    return a.take_along_axis(x, _wrap(np.ascontiguousarray(iv).astype(np.int64)), axis=axis)


def _shape_tuple(shape):
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(d) for d in shape)


# ------------------------------------------------------------------ creation

def zeros(shape, dtype=None):
    return _wrap(np.zeros(_shape_tuple(shape), np_dtype(standardize_dtype(dtype))))


def ones(shape, dtype=None):
    return _wrap(np.ones(_shape_tuple(shape), np_dtype(standardize_dtype(dtype))))


def full(shape, fill_value, dtype=None):
    fv = tensor(fill_value) if isinstance(fill_value, Tensor) else fill_value
    dt = np_dtype(standardize_dtype(dtype))
    v = fv._value if isinstance(fv, Tensor) else np.asarray(fv)
    return _wrap(np.array(np.broadcast_to(v.astype(dt), _shape_tuple(shape))))


def zeros_like(x, dtype=None):
    x = tensor(x)
    return _wrap(np.zeros(x._value.shape, x._value.dtype if dtype is None else
                          np_dtype(standardize_dtype(dtype))))


def ones_like(x, dtype=None):
    x = tensor(x)
    return _wrap(np.ones(x._value.shape, x._value.dtype if dtype is None else
                         np_dtype(standardize_dtype(dtype))))


def full_like(x, fill_value, dtype=None):
    x = tensor(x)
    dt = x._value.dtype if dtype is None else np_dtype(standardize_dtype(dtype))
    v = fill_value._value if isinstance(fill_value, Tensor) else np.asarray(fill_value)
    return _wrap(np.array(np.broadcast_to(v.astype(dt), x._value.shape)))


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def eye(N, M=None, k=0, dtype=None):
    return _wrap(np.eye(int(N), None if M is None else int(M), int(k),
                        dtype=np_dtype(standardize_dtype(dtype))))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    return _wrap(np.tri(int(N), None if M is None else int(M), int(k),
                        dtype=np_dtype(standardize_dtype(dtype))))


def arange(start, stop=None, step=1, dtype=None):
    vals = [v.numpy() if isinstance(v, Tensor) else v for v in (start, stop, step)]
    start, stop, step = vals
    if dtype is None:
        dtypes_ = [type(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else
                   getattr(v, "dtype", type(v)) for v in (start, stop, step) if v is not None]
        dtype = result_type(*dtypes_)
    if stop is None:
        start, stop = 0, start
    return _wrap(np.arange(start, stop, step).astype(np_dtype(standardize_dtype(dtype))))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    s = start.numpy() if isinstance(start, Tensor) else start
    e = stop.numpy() if isinstance(stop, Tensor) else stop
    dt = standardize_dtype(dtype) if dtype is not None else result_type(
        getattr(start, "dtype", type(start)), getattr(stop, "dtype", type(stop)), float)
    out, step = np.linspace(s, e, int(num), endpoint=endpoint, retstep=True, axis=axis)
    out = _wrap(np.asarray(out).astype(np_dtype(dt)))
    return (out, step) if retstep else out


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    dt = standardize_dtype(dtype) if dtype is not None else _floatx()
    return _wrap(np.logspace(start, stop, int(num), endpoint=endpoint, base=base,
                             axis=axis).astype(np_dtype(dt)))


def array(x, dtype=None):
    return tensor(x, dtype)


def asarray(x, dtype=None):
    return tensor(x, dtype)


def copy(x):
    return a.identity(tensor(x))


def meshgrid(*x, indexing="xy"):
    grids = np.meshgrid(*[tensor(t)._value for t in x], indexing=indexing)
    return [_wrap(np.ascontiguousarray(g)) for g in grids]


def nonzero(x):
    return where(x)


def unique(x, sorted=True, return_inverse=False, return_counts=False, axis=None, size=None,
           fill_value=None):
    v = tensor(x)._value
    res = np.unique(v, return_inverse=return_inverse, return_counts=return_counts, axis=axis)
    if isinstance(res, tuple):
        return tuple(_wrap(np.asarray(r)) for r in res)
    return _wrap(res)


def bincount(x, weights=None, minlength=0, sparse=False):
    v = tensor(x)._value
    w = None if weights is None else tensor(weights)._value
    out = np.bincount(v.ravel() if v.ndim == 1 else v, weights=w, minlength=minlength)
    return _wrap(out.astype(np.int32 if w is None else w.dtype))


def digitize(x, bins):
    return _wrap(np.digitize(tensor(x)._value, np.asarray(bins)).astype(np.int32))


def searchsorted(sorted_sequence, values, side="left"):
    return _wrap(np.searchsorted(tensor(sorted_sequence)._value, tensor(values)._value,
                                 side=side).astype(np.int32))


def size(x):
    return tensor(x)._value.size


def ndim(x):
    return tensor(x)._value.ndim


def real(x):
    x = tensor(x)
    return _wrap(np.real(x._value)) if x._value.dtype.kind == "c" else x


def imag(x):
    x = tensor(x)
    return _wrap(np.imag(x._value) if x._value.dtype.kind == "c" else np.zeros_like(x._value))


def conjugate(x):
    return m.conj(tensor(x))


conj = conjugate


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = tensor(x)
    if x._value.dtype.kind != "f":
        return x
    v = x._value
    fixed = np.nan_to_num(v, nan=nan, posinf=posinf, neginf=neginf)
    finite = m.is_finite(x)
    return m.where(finite, x, _wrap(fixed))


def select(condlist, choicelist, default=0):
    choices = promote(*choicelist)
    out = tensor(default, choices[0].dtype.name)
    out = a.broadcast_to(out, choices[0]._value.shape)
    for cond, ch in reversed(list(zip(condlist, choices))):
        out = where(cond, ch, out)
    return out


def quantile(x, q, axis=None, method="linear", keepdims=False):
    x = to_float(x)
    out = np.quantile(x._value, np.asarray(q), axis=axis, method=method, keepdims=keepdims)
    return _wrap(np.asarray(out, x._value.dtype))


def median(x, axis=None, keepdims=False):
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def correlate(x1, x2, mode="valid"):
    x1, x2 = promote(x1, x2, float_only=True)
    return _wrap(np.correlate(x1._value, x2._value, mode=mode))


def histogram(x, bins=10, range=None):  # noqa: A002
    h, e = np.histogram(tensor(x)._value, bins=bins, range=range)
    return _wrap(h.astype(np.int32)), _wrap(e.astype(np.float32))


def signbit(x):
    return _wrap(np.signbit(tensor(x)._value))


def _bitwise(np_fn, name):
    """The Keras op `name(x, y)`: NumPy's `np_fn` on the promoted (integer) values."""
    def op(x, y):
        x, y = promote(x, y)
        return _wrap(np_fn(x._value, y._value))
    op.__name__ = op.__qualname__ = name
    return op


left_shift = _bitwise(np.left_shift, "left_shift")
right_shift = _bitwise(np.right_shift, "right_shift")
bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")


def bitwise_not(x):
    return _wrap(np.invert(tensor(x)._value))


def get_item(x, key):
    return tensor(x)[key]


del append_
