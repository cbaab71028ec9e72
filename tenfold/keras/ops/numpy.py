"""`keras.ops.numpy`: NumPy-style ops with Keras 3's argument names and dtype rules, each a thin
name over tenfold ops (so they are differentiable and traceable)."""
import builtins

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops import composite as c
from tenfold.ops import bitwise_ops as _bw
from tenfold.framework.host import to_host  # repeat counts decide the output shape
from tenfold.keras.ops._dtypes import (
    const, npd, shape_of, size_of, tensor, promote, to_float, result_type, standardize_dtype, np_dtype, _floatx)

_abs, _max, _min = builtins.abs, builtins.max, builtins.min
_builtin_any = builtins.any


def _axis(axis):
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return [int(x) for x in axis]
    return int(axis)


def _sumlike_dtype(t):
    k = npd(t)
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
    if npd(x1) == np.bool_:
        x1, x2 = tensor(x1, "int32"), tensor(x2, "int32")
    return m.floormod(x1, x2)


power = _promoted(m.pow, "power")


def negative(x):
    return m.negative(tensor(x))


def abs(x):  # noqa: A001
    x = tensor(x)
    return x if npd(x) == np.bool_ else m.abs(x)


absolute = abs


def sign(x):
    return m.sign(tensor(x))


def square(x):
    x = tensor(x)
    if npd(x) == np.bool_:
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
    if npd(x).kind in "iub":
        return tensor(x, result_type(x, float))
    return m.floor(x)


def ceil(x):
    x = tensor(x)
    if npd(x).kind in "iub":
        return tensor(x, result_type(x, float))
    return m.ceil(x)


def round(x, decimals=0):  # noqa: A001
    x = tensor(x)
    if npd(x).kind in "iub":
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
    if npd(x).kind in "iub":
        return x
    return m.multiply(m.sign(x), m.floor(m.abs(x)))


def clip(x, x_min, x_max):
    x = tensor(x)
    if npd(x) == np.bool_:
        x = tensor(x, "int32")
    dt = npd(x)
    lo = tensor(x_min, x.dtype.name) if isinstance(x_min, Tensor) else const(
        np.asarray(x_min).astype(dt))
    hi = tensor(x_max, x.dtype.name) if isinstance(x_max, Tensor) else const(
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
    return x if npd(x) == np.bool_ else m.not_equal(x, m.zeros_like(x))


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
    if npd(x).kind not in "fc":
        return a.zeros_like(x, dtype="bool")
    return m.is_nan(x)


def isinf(x):
    x = tensor(x)
    if npd(x).kind not in "fc":
        return a.zeros_like(x, dtype="bool")
    return m.is_inf(x)


def isfinite(x):
    x = tensor(x)
    if npd(x).kind not in "fc":
        return a.ones_like(x, dtype="bool")
    return m.is_finite(x)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    x1, x2 = promote(x1, x2)
    if npd(x1).kind not in "fc":
        return m.equal(x1, x2)
    # NumPy's rule: |x1 - x2| <= atol + rtol * |x2| for finite values; infinities only
    # match themselves; NaNs match NaNs when equal_nan.
    finite = m.logical_and(m.is_finite(x1), m.is_finite(x2))
    near = m.less_equal(m.abs(m.subtract(x1, x2)),
                        m.add(tensor(atol, x1.dtype.name),
                              m.multiply(tensor(rtol, x1.dtype.name), m.abs(x2))))
    out = m.logical_or(m.equal(x1, x2), m.logical_and(finite, near))
    if equal_nan:
        out = m.logical_or(out, m.logical_and(m.is_nan(x1), m.is_nan(x2)))
    return out


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return m.reduce_all(isclose(x1, x2, rtol, atol, equal_nan))


def where(condition, x1=None, x2=None):
    cond = _as_bool(condition)
    if x1 is None and x2 is None:
        idx = m.cast(a.where_indices(cond), "int32")  # [count, ndim], count from the data
        return tuple(a.unstack(idx, num=cond.ndim, axis=1))
    if x1 is None or x2 is None:
        raise ValueError("`x1` and `x2` either both should be `None` or both should have "
                         "non-None value.")
    x1, x2 = promote(x1, x2)
    shape = np.broadcast_shapes(shape_of(cond), shape_of(x1), shape_of(x2))  # static
    if shape_of(cond) != shape:
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
    fn = reduce_bool if npd(x) == np.bool_ else reduce
    out = fn(x, axis=_axis(axis), keepdims=keepdims)
    if initial is not None:
        out = combine(out, const(np.asarray(initial, npd(out))))
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
    if npd(x) in (np.float16,) or x.dtype.name == "bfloat16":
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
    if axis is not None and w.ndim == 1 and x.ndim > 1:
        ax = int(axis) % x.ndim
        shape = [1] * x.ndim
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
        return a.reshape(out, (1,) * x.ndim) if keepdims else out
    out = m.argmax(x, axis=int(axis), output_type="int32")
    return a.expand_dims(out, int(axis)) if keepdims else out


def argmin(x, axis=None, keepdims=False):
    x = tensor(x)
    if axis is None:
        out = m.argmin(a.reshape(x, (-1,)), axis=0, output_type="int32")
        return a.reshape(out, (1,) * x.ndim) if keepdims else out
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
    if npd(x1) in (np.int8, np.uint8, np.int16, np.bool_):
        x1, x2 = tensor(x1, "int32"), tensor(x2, "int32")
    if x1.ndim == 1 or x2.ndim == 1:
        return c.tensordot(x1, x2, axes=[[x1.ndim - 1], [_max(x2.ndim - 2, 0)]])
    return m.matmul(x1, x2)


def dot(x1, x2):
    x1, x2 = promote(x1, x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return m.multiply(x1, x2)
    if x1.ndim <= 2 and x2.ndim <= 2:
        return matmul(x1, x2)
    return c.tensordot(x1, x2, axes=[[x1.ndim - 1], [_max(x2.ndim - 2, 0)]])


def vdot(x1, x2):
    return dot(a.reshape(tensor(x1), (-1,)), a.reshape(tensor(x2), (-1,)))


def inner(x1, x2):
    x1, x2 = promote(x1, x2)
    if x1.ndim == 0 or x2.ndim == 0:
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
    if axis is not None:
        axisa = axisb = axisc = axis
    u, v = moveaxis(x1, axisa, -1), moveaxis(x2, axisb, -1)
    nu, nv = shape_of(u)[-1], shape_of(v)[-1]
    if nu not in (2, 3) or nv not in (2, 3):
        raise ValueError(f"cross: vectors must have 2 or 3 components along the cross axis, "
                         f"got {nu} and {nv}")
    uc, vc = a.unstack(u, axis=-1), a.unstack(v, axis=-1)
    if nu == 2 and nv == 2:  # NumPy returns the z component only
        return m.subtract(m.multiply(uc[0], vc[1]), m.multiply(uc[1], vc[0]))
    zero_u, zero_v = m.zeros_like(uc[0]), m.zeros_like(vc[0])
    ux, uy, uz = (uc + [zero_u])[:3]
    vx, vy, vz = (vc + [zero_v])[:3]
    out = a.stack([m.subtract(m.multiply(uy, vz), m.multiply(uz, vy)),
                   m.subtract(m.multiply(uz, vx), m.multiply(ux, vz)),
                   m.subtract(m.multiply(ux, vy), m.multiply(uy, vx))], axis=-1)
    return moveaxis(out, -1, axisc)


def trace(x, offset=0, axis1=0, axis2=1):
    x = tensor(x)
    d = diagonal(x, offset=offset, axis1=axis1, axis2=axis2)
    dt = _sumlike_dtype(d)
    return m.reduce_sum(tensor(d, dt) if dt else d, axis=-1)


def diagonal(x, offset=0, axis1=0, axis2=1):
    x = tensor(x)
    nd = x.ndim
    a1, a2 = axis1 % nd, axis2 % nd
    rest = [i for i in range(nd) if i not in (a1, a2)]
    xt = a.transpose(x, rest + [a1, a2])
    n1, n2 = shape_of(x)[a1], shape_of(x)[a2]
    if offset >= 0:
        k = _max(0, _min(n1, n2 - offset))
        rows, cols = np.arange(k), np.arange(k) + offset
    else:
        k = _max(0, _min(n1 + offset, n2))
        rows, cols = np.arange(k) - offset, np.arange(k)
    lead = tuple(shape_of(x)[i] for i in rest)
    flat = a.reshape(xt, (-1, n1 * n2))
    out = a.gather(flat, const((rows * n2 + cols).astype(np.int64)), axis=1)
    return a.reshape(out, lead + (k,))


def diag(x, k=0):
    x = tensor(x)
    if x.ndim == 1:
        n = shape_of(x)[0] + _abs(k)
        idx = np.arange(shape_of(x)[0])
        rows, cols = (idx, idx + k) if k >= 0 else (idx - k, idx)
        flat_idx = const((rows * n + cols).astype(np.int64)[:, None])
        return a.reshape(a.scatter_nd(flat_idx, x, (n * n,)), (n, n))
    if x.ndim == 2:
        return diagonal(x, offset=k)
    raise ValueError(f"diag: `x` must be 1-D or 2-D, got shape {tuple(shape_of(x))}")


def tril(x, k=0):
    x = tensor(x)
    r, cc = shape_of(x)[-2:]
    mask = const(np.tril(np.ones((r, cc), bool), k))  # from the static shape
    return m.where(a.broadcast_to(mask, shape_of(x)), x, m.zeros_like(x))


def triu(x, k=0):
    x = tensor(x)
    r, cc = shape_of(x)[-2:]
    mask = const(np.triu(np.ones((r, cc), bool), k))  # from the static shape
    return m.where(a.broadcast_to(mask, shape_of(x)), x, m.zeros_like(x))


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
    perm = list(range(x.ndim))
    a1, a2 = axis1 % len(perm), axis2 % len(perm)
    perm[a1], perm[a2] = perm[a2], perm[a1]
    return a.transpose(x, perm)


def moveaxis(x, source, destination):
    x = tensor(x)
    nd = x.ndim
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
        out_nd = x.ndim + len(axis)
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
    return a.concat(xs, axis=0 if xs[0].ndim == 1 else 1)


def vstack(xs):
    xs = [x if x.ndim >= 2 else a.reshape(x, (1, -1)) for x in promote(*xs)]
    return a.concat(xs, axis=0)


def split(x, indices_or_sections, axis=0):
    x = tensor(x)
    n = shape_of(x)[axis]
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
    nd = _max(x.ndim, len(reps))
    reps = [1] * (nd - len(reps)) + reps
    if x.ndim < nd:
        x = a.reshape(x, (1,) * (nd - x.ndim) + shape_of(x))
    return a.tile(x, reps)


def repeat(x, repeats, axis=None):
    x = tensor(x)
    if axis is None:
        x, axis = a.reshape(x, (-1,)), 0
    axis = int(axis) % x.ndim
    n = shape_of(x)[axis]
    idx = np.repeat(np.arange(n), np.asarray(to_host(repeats) if isinstance(repeats, Tensor)
                                             else repeats))
    return a.gather(x, const(idx.astype(np.int64)), axis=axis)


def flip(x, axis=None):
    x = tensor(x)
    axes = list(range(x.ndim)) if axis is None else axis
    return a.reverse(x, axes if isinstance(axes, (list, tuple)) else [axes])


def roll(x, shift, axis=None):
    x = tensor(x)
    if axis is None:
        return a.reshape(roll(a.reshape(x, (-1,)), shift, 0), shape_of(x))
    shifts = [shift] if isinstance(shift, int) else list(shift)
    axes = [axis] if isinstance(axis, int) else list(axis)
    for s, ax in zip(shifts, axes):
        ax = ax % x.ndim
        n = shape_of(x)[ax]
        if n:
            idx = (np.arange(n) - s) % n
            x = a.gather(x, const(idx.astype(np.int64)), axis=ax)
    return x


def pad(x, pad_width, mode="constant", constant_values=None):
    x = tensor(x)
    pw = np.asarray(pad_width, dtype=np.int64)
    if pw.ndim == 0:
        pw = np.full((x.ndim, 2), int(pw))
    elif pw.ndim == 1:
        pw = np.tile(pw.reshape(1, -1) if pw.size == 2 else pw.reshape(-1, 1),
                     (x.ndim, 1) if pw.size == 2 else (1, 2))
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
    if npd(idx).kind not in "iu":
        idx = tensor(idx, "int32")
    if axis is None:
        x, axis = a.reshape(x, (-1,)), 0
    axis = int(axis) % x.ndim
    return a.gather(x, _wrap_negative(idx, shape_of(x)[axis]), axis=axis)


def _wrap_negative(idx, n):
    """Indices with negative ones counted from the end (as NumPy), computed by ops."""
    if npd(idx).kind == "u":
        return idx
    return m.where(m.less(idx, m.zeros_like(idx)), m.add(idx, tensor(n, idx.dtype.name)), idx)


def take_along_axis(x, indices, axis=None):
    x = tensor(x)
    idx = tensor(indices)
    if npd(idx).kind not in "iu":
        idx = tensor(idx, "int32")
    if axis is None:
        x, axis = a.reshape(x, (-1,)), 0
        idx = a.reshape(idx, (-1,))
    axis = int(axis) % x.ndim
    n = shape_of(x)[axis]
    idx = _wrap_negative(idx, n)
    ishape = shape_of(idx)
    shape = list(np.broadcast_shapes(
        tuple(d if i != axis else 1 for i, d in enumerate(shape_of(x))),
        tuple(d if i != axis else 1 for i, d in enumerate(ishape))))
    xs = list(shape)
    xs[axis] = n
    ish = list(shape)
    ish[axis] = ishape[axis]
    if tuple(xs) != shape_of(x):
        x = a.broadcast_to(x, xs)
    if tuple(ish) != ishape:
        idx = a.broadcast_to(idx, ish)
    return a.take_along_axis(x, m.cast(idx, "int64"), axis=axis)


def _shape_tuple(shape):
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(d) for d in shape)


# ------------------------------------------------------------------ creation

def zeros(shape, dtype=None):
    return a.zeros(_shape_tuple(shape), dtype=standardize_dtype(dtype))


def ones(shape, dtype=None):
    return a.ones(_shape_tuple(shape), dtype=standardize_dtype(dtype))


def full(shape, fill_value, dtype=None):
    dt = standardize_dtype(dtype)
    v = tensor(fill_value, dt)
    return a.broadcast_to(v, _shape_tuple(shape)) if v.ndim else a.fill(_shape_tuple(shape), v)


def zeros_like(x, dtype=None):
    x = tensor(x)
    return a.zeros_like(x, dtype=None if dtype is None else standardize_dtype(dtype))


def ones_like(x, dtype=None):
    x = tensor(x)
    return a.ones_like(x, dtype=None if dtype is None else standardize_dtype(dtype))


def full_like(x, fill_value, dtype=None):
    x = tensor(x)
    dt = x.dtype.name if dtype is None else standardize_dtype(dtype)
    return a.broadcast_to(tensor(fill_value, dt), shape_of(x))


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def eye(N, M=None, k=0, dtype=None):
    return const(np.eye(int(N), None if M is None else int(M), int(k),
                        dtype=np_dtype(standardize_dtype(dtype))))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    return const(np.tri(int(N), None if M is None else int(M), int(k),
                        dtype=np_dtype(standardize_dtype(dtype))))


def arange(start, stop=None, step=1, dtype=None):
    args = (start, stop, step)
    if dtype is None:
        dtypes_ = [type(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else
                   getattr(v, "dtype", type(v)) for v in args if v is not None]
        dtype = result_type(*dtypes_)
    dt = standardize_dtype(dtype)
    if stop is None:
        start, stop = 0, start
    if _builtin_any(isinstance(v, Tensor) for v in (start, stop, step)):
        return tensor(a.range(*promote(start, stop, step)), dt)
    return const(np.arange(start, stop, step).astype(np_dtype(dt)))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    dt = standardize_dtype(dtype) if dtype is not None else result_type(start, stop, float)
    num = int(num)
    s, e = promote(start, stop, float_only=True)
    if npd(s) != np.float64:
        s, e = tensor(s, "float64"), tensor(e, "float64")  # NumPy computes in float64
    div = num - 1 if endpoint else num
    step = m.divide(m.subtract(e, s), tensor(float(_max(div, 1)), "float64"))
    ramp = const(np.arange(num, dtype=np.float64))
    if s.ndim:  # array endpoints: the ramp runs along `axis` of the result
        ramp = a.reshape(ramp, (num,) + (1,) * s.ndim)
        s_, st = a.expand_dims(s, 0), a.expand_dims(step, 0)
    else:
        s_, st = s, step
    out = m.add(s_, m.multiply(ramp, st))
    if endpoint and num > 1:  # the last value is exactly `stop`, as NumPy
        last = a.expand_dims(e, 0) if s.ndim else a.reshape(e, (1,))
        out = a.concat([out[:num - 1], last], axis=0)
    if s.ndim and axis != 0:
        out = moveaxis(out, 0, axis)
    out = tensor(out, dt)
    return (out, tensor(step, dt)) if retstep else out


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    dt = standardize_dtype(dtype) if dtype is not None else _floatx()
    exps = linspace(start, stop, num, endpoint=endpoint, dtype="float64", axis=axis)
    return tensor(m.pow(tensor(base, "float64"), exps), dt)


def array(x, dtype=None):
    return tensor(x, dtype)


def asarray(x, dtype=None):
    return tensor(x, dtype)


def copy(x):
    return a.identity(tensor(x))


def meshgrid(*x, indexing="xy"):
    from tenfold.ops.array_extra import meshgrid as _meshgrid
    return list(_meshgrid(*[tensor(t) for t in x], indexing=indexing))


def nonzero(x):
    return where(x)


def unique(x, sorted=True, return_inverse=False, return_counts=False, axis=None, size=None,
           fill_value=None):
    from tenfold.ops.array_extra import unique as _unique
    if axis is not None:  # unique slices: one recorded host-function node (no gradient)
        from tenfold.ops.functional_ops import numpy_function
        t = tensor(x)
        outs = [t.dtype.name] + ["int64"] * (bool(return_inverse) + bool(return_counts))

        def run(v):
            res = np.unique(v, return_inverse=return_inverse, return_counts=return_counts,
                            axis=int(axis))
            res = res if isinstance(res, tuple) else (res,)
            return [np.asarray(r).astype(d) for r, d in zip(res, outs)]
        got = numpy_function(run, [t], outs)
        return tuple(got) if len(outs) > 1 else got[0]
    t = a.reshape(tensor(x), (-1,))
    values = _unique(a.sort(t)).y  # sorted input: first appearance is sorted order
    if not (return_inverse or return_counts):
        return values
    res = [values]
    inv = a.searchsorted(values, t, out_type="int32")
    if return_inverse:
        res.append(a.reshape(inv, shape_of(tensor(x))))
    if return_counts:
        res.append(m.cast(m.reduce_sum(m.cast(m.equal(a.reshape(inv, (-1, 1)),
                                                       a.expand_dims(a.range(a.size(values)), 0)),
                                              "int32"), axis=0), "int64"))
    return tuple(res)


def bincount(x, weights=None, minlength=0, sparse=False):
    from tenfold.ops.segment_ops import bincount as _bincount
    x = tensor(x)
    w = None if weights is None else tensor(weights)
    dt = "int32" if w is None else w.dtype.name
    if x.ndim != 1:
        raise ValueError(f"keras.ops.bincount: `x` must be 1-D, got shape {shape_of(x)}; "
                         f"flatten it first (ops.reshape(x, (-1,))).")
    return _bincount(x, weights=w, minlength=minlength, dtype=dt)


def digitize(x, bins):
    x = tensor(x)
    b = tensor(bins, x.dtype.name) if isinstance(bins, Tensor) else const(
        np.asarray(bins).astype(npd(x)))
    flat = a.searchsorted(b, a.reshape(x, (-1,)), side="right", out_type="int32")
    return a.reshape(flat, shape_of(x))


def searchsorted(sorted_sequence, values, side="left"):
    seq, v = promote(sorted_sequence, values)
    flat = a.searchsorted(seq, a.reshape(v, (-1,)), side=side, out_type="int32")
    return a.reshape(flat, shape_of(v))


def size(x):
    return size_of(tensor(x))


def ndim(x):
    return tensor(x).ndim


def real(x):
    from tenfold.ops.math_extra import real as _real
    x = tensor(x)
    return _real(x) if npd(x).kind == "c" else x


def imag(x):
    from tenfold.ops.math_extra import imag as _imag
    x = tensor(x)
    return _imag(x) if npd(x).kind == "c" else m.zeros_like(x)


def conjugate(x):
    return m.conj(tensor(x))


conj = conjugate


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = tensor(x)
    if npd(x).kind != "f":
        return x
    info = np.finfo(npd(x))
    big = info.max if posinf is None else posinf
    small = info.min if neginf is None else neginf
    dt = x.dtype.name
    out = m.where(m.is_nan(x), a.fill(shape_of(x), tensor(nan, dt)), x)
    inf = m.is_inf(x)
    out = m.where(m.logical_and(inf, m.greater(x, m.zeros_like(x))),
                  a.fill(shape_of(x), tensor(big, dt)), out)
    return m.where(m.logical_and(inf, m.less(x, m.zeros_like(x))),
                   a.fill(shape_of(x), tensor(small, dt)), out)


def select(condlist, choicelist, default=0):
    choices = promote(*choicelist)
    out = tensor(default, choices[0].dtype.name)
    out = a.broadcast_to(out, shape_of(choices[0]))
    for cond, ch in reversed(list(zip(condlist, choices))):
        out = where(cond, ch, out)
    return out


def quantile(x, q, axis=None, method="linear", keepdims=False):
    x = to_float(x)
    if method not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(f"quantile: method must be one of 'linear', 'lower', 'higher', "
                         f"'midpoint', 'nearest'; got {method!r}")
    nd = x.ndim
    axes = list(range(nd)) if axis is None else [
        int(ax) % nd for ax in (axis if isinstance(axis, (list, tuple)) else [axis])]
    rest = [i for i in range(nd) if i not in axes]
    lead = tuple(shape_of(x)[i] for i in rest)
    xt = a.reshape(a.transpose(x, rest + axes), lead + (-1,))
    n = shape_of(xt)[-1]
    xs = a.sort(xt, axis=-1)
    qt = tensor(q, "float64")
    pos = m.multiply(qt, tensor(float(n - 1), "float64"))
    lo_i, hi_i = m.floor(pos), m.ceil(pos)

    def at(i):  # values at sorted positions i (q's shape), gathered along the last axis
        return a.gather(xs, m.cast(i, "int32"), axis=-1)

    if method == "lower":
        out = at(lo_i)
    elif method == "higher":
        out = at(hi_i)
    elif method == "nearest":
        out = at(m.round(pos))
    elif method == "midpoint":
        out = m.multiply(m.add(at(lo_i), at(hi_i)), tensor(0.5, x.dtype.name))
    else:
        frac = tensor(m.subtract(pos, lo_i), x.dtype.name)
        lo_v = at(lo_i)
        out = m.add(lo_v, m.multiply(m.subtract(at(hi_i), lo_v), frac))
    # out: lead + q.shape; NumPy puts q's axes first, then the kept axes
    qn = qt.ndim
    if keepdims:
        kept = [1 if i in axes else shape_of(x)[i] for i in range(nd)]
        out = a.reshape(out, tuple(kept) + shape_of(qt))
        lead_n = nd
    else:
        lead_n = len(lead)
    perm = list(range(lead_n, lead_n + qn)) + list(range(lead_n))
    return a.transpose(out, perm) if qn else out


def median(x, axis=None, keepdims=False):
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def correlate(x1, x2, mode="valid"):
    x1, x2 = promote(x1, x2, float_only=True)
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"correlate: mode must be 'valid', 'same' or 'full', got {mode!r}")
    n, k = shape_of(x1)[0], shape_of(x2)[0]
    if k > n:  # NumPy: the roles swap and the result is reversed
        return a.reverse(correlate(x2, x1, mode), [0])
    if mode == "full":
        left, right = k - 1, k - 1
    elif mode == "same":
        left, right = k // 2, k - 1 - k // 2
    else:
        left = right = 0
    xp = a.pad(x1, [[left, right]]) if left or right else x1
    length = n + left + right - k + 1
    windows = const(np.arange(length)[:, None] + np.arange(k)[None, :])  # static indices
    return m.matmul(a.gather(xp, windows), a.reshape(x2, (k, 1)))[:, 0]


def histogram(x, bins=10, range=None):  # noqa: A002
    x = a.reshape(tensor(x), (-1,))
    xf = tensor(x, "float64")
    if range is None:
        lo, hi = m.reduce_min(xf), m.reduce_max(xf)
    else:
        lo, hi = tensor(float(range[0]), "float64"), tensor(float(range[1]), "float64")
    width = m.subtract(hi, lo)
    edges = m.add(lo, m.multiply(width, const(np.linspace(0.0, 1.0, int(bins) + 1))))
    idx = m.floor(m.multiply(m.div_no_nan(m.subtract(xf, lo), width), float(bins)))
    idx = m.cast(m.minimum(m.maximum(idx, 0.0), float(bins - 1)), "int32")
    inside = m.logical_and(m.greater_equal(xf, lo), m.less_equal(xf, hi))
    counts = m.reduce_sum(m.multiply(a.one_hot(idx, int(bins), dtype="int32"),
                                     a.expand_dims(m.cast(inside, "int32"), -1)), axis=0)
    return counts, tensor(edges, "float32")


def signbit(x):
    from tenfold.ops.array_extra import bitcast
    x = tensor(x)
    k = npd(x)
    if k == np.bool_:
        return a.zeros_like(x, dtype="bool")
    if k.kind in "iu":
        return m.less(x, m.zeros_like(x))
    as_int = {2: "int16", 4: "int32", 8: "int64"}[k.itemsize]
    bits = bitcast(x, as_int)  # the sign bit exactly, -0.0 and NaN signs included
    return m.less(bits, m.zeros_like(bits))


def _bitwise(fn, name):
    """The Keras op `name(x, y)`: tenfold's bitwise op on the promoted (integer) values."""
    def op(x, y):
        x, y = promote(x, y)
        return fn(x, y)
    op.__name__ = op.__qualname__ = name
    return op


left_shift = _bitwise(_bw.left_shift, "left_shift")
right_shift = _bitwise(_bw.right_shift, "right_shift")
bitwise_and = _bitwise(_bw.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(_bw.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(_bw.bitwise_xor, "bitwise_xor")


def bitwise_not(x):
    return _bw.invert(tensor(x))


def get_item(x, key):
    x = tensor(x)
    if isinstance(key, Tensor) and key.ndim == 0 and npd(key).kind in "iu":
        # a tensor index: a gather, so a graph reads the index when it runs
        return a.gather(x, _wrap_negative(key, shape_of(x)[0]), axis=0)
    if isinstance(key, list):  # as Keras's GetItem: a list key (from a saved config) indexes
        key = tuple(key)       # one axis per entry
    return x[key]


del append_
