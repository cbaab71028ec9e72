"""`tf.experimental.numpy` (`import tenfold.experimental.numpy as tnp`): the NumPy API on
tensors, delegating to tenfold ops (so tapes and tf.function see every call).

As in TensorFlow, Python and NumPy values are read with NumPy's dtypes (`tnp.array(1.5)` is
float64, `tnp.arange(3)` int64) unless `experimental_enable_numpy_behavior(prefer_float32=True)`,
and binary functions promote their operands' dtypes as NumPy does (`tnp.add(int32, 1.5)` is
float64). `experimental_enable_numpy_behavior()` also gives tensors TensorFlow's ndarray
methods (`.T`, `.reshape`, `.astype`, `.ravel`, `.tolist`, ...); they are installed on the
Tensor class only then, so the eager hot path is unchanged otherwise.
"""
import builtins
import math as _math

import numpy as _np

from tenfold.framework import dtypes as _dt
from tenfold.framework.tensor import Tensor as ndarray, convert_to_tensor as _convert
from tenfold.ops import array_ops as _a, array_extra as _ax, math_ops as _m
from tenfold.ops import linalg_ops as _la
from tenfold.ops import composite as _c
from tenfold.util.tensor_meta import npd as _npd, size_of as _size_of

_state = {"prefer_float32": False, "methods": False}

# dtypes, constants
bool_ = _dt.bool
int8, int16, int32, int64 = _dt.int8, _dt.int16, _dt.int32, _dt.int64
uint8, uint16, uint32, uint64 = _dt.uint8, _dt.uint16, _dt.uint32, _dt.uint64
float16, float32, float64 = _dt.float16, _dt.float32, _dt.float64
complex64, complex128 = _dt.complex64, _dt.complex128
bfloat16 = getattr(_dt, "bfloat16", None)
object_ = _np.object_
newaxis = None
pi, e, inf, nan = _math.pi, _math.e, float("inf"), float("nan")


def _np_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, _dt.DType):
        return dtype._np
    if dtype is float:
        return _np.float64
    if dtype is int:
        return _np.int64
    if dtype is bool:
        return _np.bool_
    return _np.dtype(dtype)


def _default_float(np_dtype):
    if _state["prefer_float32"] and np_dtype == _np.float64:
        return _np.dtype(_np.float32)
    return np_dtype


def asarray(a, dtype=None):
    """A tensor of `a`; Python and NumPy values keep NumPy's dtype inference."""
    want = _np_dtype(dtype)
    if isinstance(a, ndarray):
        if want is not None and _npd(a) != want:
            return _m.cast(a, _dt.from_numpy(_np.dtype(want)))
        return _convert(a)
    if isinstance(a, (list, tuple)) and builtins.any(isinstance(x, ndarray) for x in _leaves(a)):
        t = _convert(a)
        return asarray(t, dtype)
    arr = _np.asarray(a, dtype=want)
    if want is None:
        arr = arr.astype(_default_float(arr.dtype), copy=False)
    if arr.dtype.kind in "US":
        return _convert(arr)
    return _convert(arr if want is not None or not isinstance(a, _np.ndarray) else arr)


def _leaves(x):
    for i in x:
        if isinstance(i, (list, tuple)):
            yield from _leaves(i)
        else:
            yield i


def array(val, dtype=None, copy=True, ndmin=0):
    t = asarray(val, dtype)
    while t.shape.rank < ndmin:
        t = _a.expand_dims(t, 0)
    return _a.identity(t) if copy and isinstance(val, ndarray) else t


asanyarray = asarray


def copy(a):
    return _a.identity(asarray(a))


def _result_type(*xs):
    """NumPy's promotion: tensors by dtype, Python scalars weakly."""
    parts = []
    for x in xs:
        if isinstance(x, ndarray):
            parts.append(_npd(x))
        elif isinstance(x, (bool, int, float, complex)):
            parts.append(x)
        else:
            parts.append(_np.asarray(x).dtype)
    return _np.result_type(*parts)


def result_type(*arrays_and_dtypes):
    return _dt.from_numpy(_np.result_type(*[
        _npd(a) if isinstance(a, ndarray) else _np_dtype(a) if not isinstance(
            a, (bool, int, float, complex)) else a for a in arrays_and_dtypes]))


def _promoted(*xs):
    dt = _result_type(*xs)
    if _state["prefer_float32"] and dt == _np.float64 and not builtins.any(
            isinstance(x, ndarray) and _npd(x) == _np.float64 for x in xs):
        dt = _np.dtype(_np.float32)
    return [asarray(x, dt) for x in xs]


def _unary(op):
    def f(x):
        return op(asarray(x))
    f.__name__ = getattr(op, "__name__", "op")
    return f


def _float_unary(op):
    def f(x):
        x = asarray(x)
        if not x.dtype.is_floating and not x.dtype.is_complex:
            x = _m.cast(x, _dt.from_numpy(_default_float(_np.dtype(_np.float64))))
        return op(x)
    f.__name__ = getattr(op, "__name__", "op")
    return f


def _binary(op):
    def f(x1, x2):
        a, b = _promoted(x1, x2)
        return op(a, b)
    f.__name__ = getattr(op, "__name__", "op")
    return f


# creation
def zeros(shape, dtype=float):
    return _a.zeros(_shape(shape), _dt.from_numpy(_default_float(_np.dtype(_np_dtype(dtype)))))


def ones(shape, dtype=float):
    return _a.ones(_shape(shape), _dt.from_numpy(_default_float(_np.dtype(_np_dtype(dtype)))))


def empty(shape, dtype=float):
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None):
    v = asarray(fill_value, dtype)
    return _a.broadcast_to(v, _shape(shape))


def zeros_like(a, dtype=None):
    return _a.zeros_like(asarray(a, dtype))


def ones_like(a, dtype=None):
    return _a.ones_like(asarray(a, dtype))


def full_like(a, fill_value, dtype=None):
    a = asarray(a, dtype)
    return _a.broadcast_to(asarray(fill_value, a.dtype), _a.shape(a))


def empty_like(a, dtype=None):
    return zeros_like(a, dtype)


def _shape(shape):
    if isinstance(shape, (int, _np.integer)):
        return [int(shape)]
    return [int(d) for d in shape]


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    want = _np_dtype(dtype)
    if want is None:
        want = _default_float(_np.result_type(start, stop, step))
        if want.kind in "iu":
            want = _np.dtype(_np.int64)
    return _convert(_np.arange(start, stop, step, dtype=want))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=float, axis=0):
    want = _default_float(_np.dtype(_np_dtype(dtype)))
    vals = _np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, axis=axis)
    if retstep:
        return _convert(vals[0].astype(want)), vals[1]
    return _convert(vals.astype(want))


def eye(N, M=None, k=0, dtype=float):  # noqa: N803 - NumPy's names
    want = _default_float(_np.dtype(_np_dtype(dtype)))
    return _convert(_np.eye(N, M, k, dtype=want))


def identity(n, dtype=float):
    return eye(n, dtype=dtype)


# shapes
def reshape(a, newshape, order="C"):
    if order != "C":
        raise ValueError(f"tnp.reshape: only order='C' is supported, got {order!r}.")
    return _a.reshape(asarray(a), _shape(newshape))


def transpose(a, axes=None):
    return _a.transpose(asarray(a), axes)


def ravel(a):
    return _a.reshape(asarray(a), [-1])


def squeeze(a, axis=None):
    return _a.squeeze(asarray(a), axis)


def expand_dims(a, axis):
    return _a.expand_dims(asarray(a), axis)


def swapaxes(a, axis1, axis2):
    a = asarray(a)
    perm = list(builtins.range(a.shape.rank))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return _a.transpose(a, perm)


def moveaxis(a, source, destination):
    a = asarray(a)
    perm = [i for i in builtins.range(a.shape.rank) if i != source % a.shape.rank]
    perm.insert(destination % a.shape.rank, source % a.shape.rank)
    return _a.transpose(a, perm)


def concatenate(arys, axis=0):
    return _a.concat(_promoted(*arys), axis)


def stack(arrays, axis=0):
    return _a.stack(_promoted(*arrays), axis)


def vstack(tup):
    return concatenate([atleast_2d(t) for t in tup], 0)


def hstack(tup):
    ts = [asarray(t) for t in tup]
    return concatenate(ts, 0 if ts[0].shape.rank == 1 else 1)


def atleast_1d(a):
    a = asarray(a)
    return _a.reshape(a, [1]) if a.shape.rank == 0 else a


def atleast_2d(a):
    a = atleast_1d(a)
    return _a.expand_dims(a, 0) if a.shape.rank == 1 else a


def tile(a, reps):
    a = asarray(a)
    reps = _shape(reps)
    while a.shape.rank < len(reps):
        a = _a.expand_dims(a, 0)
    reps = [1] * (a.shape.rank - len(reps)) + reps
    return _a.tile(a, reps)


def repeat(a, repeats, axis=None):
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    return _ax.repeat(a, repeats, axis=axis)


def flip(m, axis=None):
    m = asarray(m)
    axes = list(builtins.range(m.shape.rank)) if axis is None else (
        [axis] if isinstance(axis, int) else list(axis))
    return _a.reverse(m, axes)


def split(ary, indices_or_sections, axis=0):
    return _a.split(asarray(ary), indices_or_sections, axis)


def take(a, indices, axis=None):
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    return _a.gather(a, asarray(indices), axis=axis)


def where(condition, x=None, y=None):
    if x is None and y is None:
        idx = _m.where(asarray(condition, bool))
        return tuple(idx[:, i] for i in builtins.range(idx.shape[1]))
    a, b = _promoted(x, y)
    return _m.where(asarray(condition, bool), a, b)


def clip(a, a_min, a_max):
    a = asarray(a)
    if a_min is not None:
        a = maximum(a, a_min)
    if a_max is not None:
        a = minimum(a, a_max)
    return a


# reductions
def _reduce(op, promote_int=False):
    def f(a, axis=None, dtype=None, keepdims=False):
        a = asarray(a, dtype)
        if promote_int and dtype is None and (a.dtype.is_integer or a.dtype == _dt.bool):
            a = _m.cast(a, _dt.int64)
        return op(a, axis=_axis(axis), keepdims=keepdims)
    return f


def _axis(axis):
    return list(axis) if isinstance(axis, tuple) else axis


sum = _reduce(_m.reduce_sum, promote_int=True)  # noqa: A001 - NumPy's names
prod = _reduce(_m.reduce_prod, promote_int=True)


def mean(a, axis=None, dtype=None, keepdims=False):
    a = asarray(a, dtype)
    if not a.dtype.is_floating and not a.dtype.is_complex:
        a = _m.cast(a, _dt.from_numpy(_default_float(_np.dtype(_np.float64))))
    return _m.reduce_mean(a, axis=_axis(axis), keepdims=keepdims)


def amax(a, axis=None, keepdims=False):
    return _m.reduce_max(asarray(a), axis=_axis(axis), keepdims=keepdims)


def amin(a, axis=None, keepdims=False):
    return _m.reduce_min(asarray(a), axis=_axis(axis), keepdims=keepdims)


max = amax  # noqa: A001
min = amin  # noqa: A001


def var(a, axis=None, dtype=None, ddof=0, keepdims=False):
    a = asarray(a, dtype)
    if not a.dtype.is_floating:
        a = _m.cast(a, _dt.from_numpy(_default_float(_np.dtype(_np.float64))))
    m = _m.reduce_mean(a, axis=_axis(axis), keepdims=True)
    sq = _m.square(_m.subtract(a, m))
    n = _m.divide(_m.cast(_a.size(a), a.dtype), _m.cast(_a.size(m), a.dtype))
    total = _m.reduce_sum(sq, axis=_axis(axis), keepdims=keepdims)
    return _m.divide(total, _m.subtract(n, _m.cast(ddof, a.dtype)))


def std(a, axis=None, dtype=None, ddof=0, keepdims=False):
    return _m.sqrt(var(a, axis, dtype, ddof, keepdims))


def argmax(a, axis=None):
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    return _m.argmax(a, axis=axis, output_type=_dt.int64)


def argmin(a, axis=None):
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    return _m.argmin(a, axis=axis, output_type=_dt.int64)


def all(a, axis=None, keepdims=False):  # noqa: A001
    return _m.reduce_all(asarray(a, bool), axis=_axis(axis), keepdims=keepdims)


def any(a, axis=None, keepdims=False):  # noqa: A001
    return _m.reduce_any(asarray(a, bool), axis=_axis(axis), keepdims=keepdims)


def _int64_accumulator(a, dtype):
    """NumPy accumulates integers and booleans in int64 unless a dtype is given."""
    if dtype is None and (a.dtype.is_integer or a.dtype == _dt.bool):
        return _m.cast(a, _dt.int64)
    return a


def cumsum(a, axis=None, dtype=None):
    a = _int64_accumulator(asarray(a, dtype), dtype)
    if axis is None:
        a, axis = ravel(a), 0
    return _m.cumsum(a, axis=axis)


def cumprod(a, axis=None, dtype=None):
    a = _int64_accumulator(asarray(a, dtype), dtype)
    if axis is None:
        a, axis = ravel(a), 0
    return _m.cumprod(a, axis=axis)


def sort(a, axis=-1):
    return _ax.sort(asarray(a), axis=axis)


def argsort(a, axis=-1):
    return _m.cast(_ax.argsort(asarray(a), axis=axis, stable=True), _dt.int64)


# linear algebra
def matmul(x1, x2):
    a, b = _promoted(x1, x2)
    return _m.matmul(a, b) if hasattr(_m, "matmul") else _la.matmul(a, b)


def dot(a, b):
    a, b = _promoted(a, b)
    if a.shape.rank == 0 or b.shape.rank == 0:
        return _m.multiply(a, b)
    if b.shape.rank == 1:
        return _c.tensordot(a, b, [[a.shape.rank - 1], [0]])
    return _c.tensordot(a, b, [[a.shape.rank - 1], [b.shape.rank - 2]])


def tensordot(a, b, axes=2):
    a, b = _promoted(a, b)
    return _c.tensordot(a, b, axes)


def einsum(subscripts, *operands):
    return _c.einsum(subscripts, *_promoted(*operands))


def outer(a, b):
    a, b = _promoted(a, b)
    return _m.multiply(_a.reshape(a, [-1, 1]), _a.reshape(b, [1, -1]))


def inner(a, b):
    a, b = _promoted(a, b)
    return _c.tensordot(a, b, [[a.shape.rank - 1], [b.shape.rank - 1]])


def trace(a):
    return _la.trace(asarray(a))


def diag(v, k=0):
    return _convert(_np.diag(_np.asarray(asarray(v)), k))


# elementwise
add = _binary(_m.add)
subtract = _binary(_m.subtract)
multiply = _binary(_m.multiply)
maximum = _binary(_m.maximum)
minimum = _binary(_m.minimum)
power = _binary(_m.pow)
equal = _binary(_m.equal)
not_equal = _binary(_m.not_equal)
less = _binary(_m.less)
less_equal = _binary(_m.less_equal)
greater = _binary(_m.greater)
greater_equal = _binary(_m.greater_equal)
floor_divide = _binary(_m.floordiv)
mod = remainder = _binary(_m.floormod)
arctan2 = _binary(_m.atan2)


def true_divide(x1, x2):
    a, b = _promoted(x1, x2)
    if not a.dtype.is_floating and not a.dtype.is_complex:
        f = _dt.from_numpy(_default_float(_np.dtype(_np.float64)))
        a, b = _m.cast(a, f), _m.cast(b, f)
    return _m.divide(a, b)


divide = true_divide


def logical_and(x1, x2):
    return _m.logical_and(asarray(x1, bool), asarray(x2, bool))


def logical_or(x1, x2):
    return _m.logical_or(asarray(x1, bool), asarray(x2, bool))


def logical_not(x):
    return _m.logical_not(asarray(x, bool))


negative = _unary(_m.negative)
absolute = abs = _unary(_m.abs)  # noqa: A001
sign = _unary(_m.sign)
square = _unary(_m.square)
floor = _float_unary(_m.floor)
ceil = _float_unary(_m.ceil)
exp = _float_unary(_m.exp)
expm1 = _float_unary(_m.expm1)
log = _float_unary(_m.log)
log1p = _float_unary(_m.log1p)
sqrt = _float_unary(_m.sqrt)
sin, cos, tan = _float_unary(_m.sin), _float_unary(_m.cos), _float_unary(_m.tan)
arcsin, arccos, arctan = _float_unary(_m.asin), _float_unary(_m.acos), _float_unary(_m.atan)
sinh, cosh, tanh = _float_unary(_m.sinh), _float_unary(_m.cosh), _float_unary(_m.tanh)
isnan = _float_unary(_m.is_nan)
isinf = _float_unary(_m.is_inf)
isfinite = _float_unary(_m.is_finite)


def log2(x):
    x = _float_unary(_m.log)(x)
    return _m.divide(x, _m.cast(_math.log(2.0), x.dtype))


def log10(x):
    x = _float_unary(_m.log)(x)
    return _m.divide(x, _m.cast(_math.log(10.0), x.dtype))


def around(a, decimals=0):
    a = asarray(a)
    if decimals == 0:
        return _m.round(a)
    f = _m.cast(10.0 ** decimals, a.dtype)
    return _m.divide(_m.round(_m.multiply(a, f)), f)


round = around  # noqa: A001


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = _promoted(a, b)
    if not a.dtype.is_floating:
        return _m.equal(a, b)
    close = _m.less_equal(_m.abs(_m.subtract(a, b)),
                          _m.add(_m.cast(atol, a.dtype),
                                 _m.multiply(_m.cast(rtol, a.dtype), _m.abs(b))))
    if equal_nan:
        close = _m.logical_or(close, _m.logical_and(_m.is_nan(a), _m.is_nan(b)))
    return close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _m.reduce_all(isclose(a, b, rtol, atol, equal_nan))


def shape(a):
    return tuple(asarray(a).shape.as_list())


def ndim(a):
    return asarray(a).shape.rank


def size(a, axis=None):
    s = asarray(a).shape.as_list()
    return int(_np.prod(s)) if axis is None else s[axis]


# ------------------------------------------------------------------------------------------
# experimental_enable_numpy_behavior: ndarray methods on tensors

def _t_property(self):
    return transpose(self)


def _size_property(self):
    return _size_of(self)


def _reshape_method(self, *args, order="C"):
    shape_ = args[0] if len(args) == 1 and not isinstance(args[0], (int, _np.integer)) \
        else args
    return reshape(self, shape_, order)


def _tolist(self):
    return self.numpy().tolist()


def _astype(self, dtype):
    return _m.cast(self, _dt.from_numpy(_np.dtype(_np_dtype(dtype))))


_METHODS = {
    "T": property(_t_property), "size": property(_size_property),
    "data": property(lambda self: self),
    "__pos__": lambda self: self, "tolist": _tolist,
    "transpose": lambda self, *axes: transpose(self, axes[0] if len(axes) == 1 and
                                               not isinstance(axes[0], int) else
                                               (list(axes) or None)),
    "flatten": lambda self: ravel(self), "reshape": _reshape_method, "ravel": ravel,
    "clip": lambda self, a_min=None, a_max=None: clip(self, a_min, a_max),
    "astype": _astype, "__round__": lambda self, ndigits=None: around(self, ndigits or 0),
    "max": lambda self, axis=None, keepdims=False: amax(self, axis, keepdims),
    "min": lambda self, axis=None, keepdims=False: amin(self, axis, keepdims),
    "mean": lambda self, axis=None, dtype=None, keepdims=False: mean(self, axis, dtype,
                                                                     keepdims),
}


def experimental_enable_numpy_behavior(prefer_float32=False, dtype_conversion_mode="legacy"):
    """Gives tensors NumPy's ndarray methods (TensorFlow's list: `.T`, `.size`, `.data`,
    `.tolist()`, `.transpose`, `.flatten`, `.reshape`, `.ravel`, `.clip`, `.astype`,
    `round()`, `.max`, `.min`, `.mean`) and, with `prefer_float32`, makes tnp read Python floats
    as float32. Installed once on the Tensor class: nothing changes until called."""
    _state["prefer_float32"] = bool(prefer_float32)
    if not _state["methods"]:
        for name, value in _METHODS.items():
            setattr(ndarray, name, value)
        _state["methods"] = True


# tnp.random: the NumPy-style random functions TensorFlow's tnp has
class _Random:
    @staticmethod
    def seed(s):
        from tenfold.ops import random_ops
        random_ops.set_seed(int(s))

    @staticmethod
    def uniform(low=0.0, high=1.0, size=None):
        from tenfold.ops import random_ops
        return random_ops.uniform(_shape(size) if size is not None else [], low, high,
                                  dtype=_dt.from_numpy(_default_float(_np.dtype(_np.float64))))

    @staticmethod
    def randn(*shape_):
        from tenfold.ops import random_ops
        return random_ops.normal(list(shape_), dtype=_dt.from_numpy(
            _default_float(_np.dtype(_np.float64))))

    @staticmethod
    def rand(*shape_):
        return _Random.uniform(size=list(shape_))

    @staticmethod
    def randint(low, high=None, size=None, dtype=_np.int64):
        from tenfold.ops import random_ops
        if high is None:
            low, high = 0, low
        return random_ops.uniform(_shape(size) if size is not None else [], low, high,
                                  dtype=_dt.from_numpy(_np.dtype(dtype)))


random = _Random()
