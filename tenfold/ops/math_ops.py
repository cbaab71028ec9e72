"""Elementwise math, comparisons, matmul and reductions: primitives and their public ops."""
import builtins

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive
from tenfold.ops._convert import binary, tensor

_wrap = Tensor._wrap


def _np_dtype_for(dt):
    return dtypes.as_dtype(dt)._np


# ------------------------------------------------------------------------------------------
# Binary elementwise primitives. Operands already share a dtype; broadcasting is NumPy's and
# the tape un-broadcasts gradients, so rules return full-shape gradients.

_add = primitive("add", np.add, grads=(lambda g, o, x, y: g, lambda g, o, x, y: g))
_sub = primitive("subtract", np.subtract,
                 grads=(lambda g, o, x, y: g, lambda g, o, x, y: negative(g)))
_mul = primitive("multiply", np.multiply,
                 grads=(lambda g, o, x, y: _mul(g, y), lambda g, o, x, y: _mul(g, x)))
_div = primitive("divide", np.divide,
                 grads=(lambda g, o, x, y: _div(g, y),
                        lambda g, o, x, y: negative(_div(_mul(g, o), y))))


def _floordiv_kernel(x, y):
    if x.dtype.kind in "iu" and np.any(y == 0):
        raise InvalidArgumentError("floordiv: integer division by zero")
    return np.floor_divide(x, y)


def _floormod_kernel(x, y):
    if x.dtype.kind in "iu" and np.any(y == 0):
        raise InvalidArgumentError("floormod: integer division by zero")
    return np.mod(x, y)


_floordiv = primitive("floordiv", _floordiv_kernel)
_floormod = primitive("floormod", _floormod_kernel,
                      grads=(lambda g, o, x, y: g,
                             lambda g, o, x, y: _mul(g, negative(floor(_div(x, y))))))


def _pow_kernel(x, y):
    if x.dtype.kind in "iu" and np.any(y < 0):
        raise InvalidArgumentError("pow: integers to negative integer powers are not allowed")
    return np.power(x, y)


def _pow_grad_y(g, out, x, y):
    safe = where(greater(x, 0), x, ones_like(x))
    return _mul(g, where(greater(x, 0), _mul(out, log(safe)), zeros_like(x)))


_pow = primitive("pow", _pow_kernel,
                 grads=(lambda g, o, x, y: _mul(g, _mul(y, _pow(x, _sub(y, ones_like(y))))),
                        _pow_grad_y))


def _select_grad(pick_x):
    def rule(g, out, x, y):
        mask = greater_equal(x, y) if pick_x[0] == "max" else less_equal(x, y)
        if pick_x[1] == "y":
            mask = logical_not(mask)
        return _mul(g, cast(mask, g.dtype))
    return rule


_maximum = primitive("maximum", np.maximum,
                     grads=(_select_grad(("max", "x")), _select_grad(("max", "y"))))
_minimum = primitive("minimum", np.minimum,
                     grads=(_select_grad(("min", "x")), _select_grad(("min", "y"))))
_atan2 = primitive("atan2", np.arctan2,
                   grads=(lambda g, o, y, x: _div(_mul(g, x), _add(square(x), square(y))),
                          lambda g, o, y, x: negative(_div(_mul(g, y),
                                                           _add(square(x), square(y))))))
_squared_difference = primitive(
    "squared_difference", lambda x, y: np.square(x - y),
    grads=(lambda g, o, x, y: _mul(_mul(g, _scalar(2, g)), _sub(x, y)),
           lambda g, o, x, y: _mul(_mul(g, _scalar(-2, g)), _sub(x, y))))


def _scalar(v, like):
    return _wrap(np.asarray(v, dtype=like._value.dtype))


def add(x, y, name=None):
    x, y = binary(x, y, "add")
    return _add(x, y)


def subtract(x, y, name=None):
    x, y = binary(x, y, "subtract")
    return _sub(x, y)


def multiply(x, y, name=None):
    x, y = binary(x, y, "multiply")
    return _mul(x, y)


def _int_div_float(np_dtype):
    return np.float32 if np_dtype.itemsize <= 2 else np.float64


def truediv(x, y, name=None):
    """x / y; integer operands are converted to float (int8/16 -> float32, int32/64 -> float64)."""
    x, y = binary(x, y, "truediv")
    if x._value.dtype.kind in "iub":
        ft = _int_div_float(x._value.dtype)
        x, y = _wrap(x._value.astype(ft)), _wrap(y._value.astype(ft))
    return _div(x, y)


def divide(x, y, name=None):
    return truediv(x, y)


def div_no_nan(x, y, name=None):
    x, y = binary(x, y, "div_no_nan")
    zero = equal(y, 0)
    safe = where(zero, ones_like(y), y)
    return where(zero, zeros_like(x) if x.shape == _bshape(x, y) else
                 zeros_like(_div(x, safe)), _div(x, safe))


def _bshape(x, y):
    return np.broadcast_shapes(x._value.shape, y._value.shape)


def floordiv(x, y, name=None):
    x, y = binary(x, y, "floordiv")
    if x._value.dtype.kind in "fc":
        return floor(_div(x, y))
    return _floordiv(x, y)


floor_div = floordiv


def floormod(x, y, name=None):
    x, y = binary(x, y, "floormod")
    return _floormod(x, y)


mod = floormod


def pow(x, y, name=None):  # noqa: A001 - TensorFlow's name
    x, y = binary(x, y, "pow")
    return _pow(x, y)


def maximum(x, y, name=None):
    x, y = binary(x, y, "maximum")
    return _maximum(x, y)


def minimum(x, y, name=None):
    x, y = binary(x, y, "minimum")
    return _minimum(x, y)


def atan2(y, x, name=None):
    y, x = binary(y, x, "atan2")
    return _atan2(y, x)


def squared_difference(x, y, name=None):
    x, y = binary(x, y, "squared_difference")
    return _squared_difference(x, y)


# ------------------------------------------------------------------------------------------
# Unary elementwise primitives.

def _sigmoid_kernel(x):
    # 0.5 * (1 + tanh(x / 2)) is exact in form and never overflows.
    return (np.tanh(x * x.dtype.type(0.5)) + x.dtype.type(1)) * x.dtype.type(0.5)


def _softplus_kernel(x):
    return np.logaddexp(x.dtype.type(0), x)


def _one(g):
    return _wrap(np.ones((), dtype=g._value.dtype))


_neg = primitive("negative", np.negative, grads=(lambda g, o, x: _neg(g),))
_abs = primitive("abs", np.abs, grads=(lambda g, o, x: _mul(g, sign(x)),))
_sign = primitive("sign", np.sign, grads=(lambda g, o, x: zeros_like(g),))
_sqrt = primitive("sqrt", np.sqrt,
                  grads=(lambda g, o, x: _div(g, _mul(o, _scalar(2, o))),))
_rsqrt = primitive("rsqrt", lambda x: 1 / np.sqrt(x),
                   grads=(lambda g, o, x: _mul(g, _mul(_scalar(-0.5, o), _mul(o, _mul(o, o)))),))
_square = primitive("square", np.square,
                    grads=(lambda g, o, x: _mul(g, _mul(x, _scalar(2, x))),))
_exp = primitive("exp", np.exp, grads=(lambda g, o, x: _mul(g, o),))
_expm1 = primitive("expm1", np.expm1, grads=(lambda g, o, x: _mul(g, exp(x)),))
_log = primitive("log", np.log, grads=(lambda g, o, x: _div(g, x),))
_log1p = primitive("log1p", np.log1p, grads=(lambda g, o, x: _div(g, _add(x, _one(x))),))
_tanh = primitive("tanh", np.tanh,
                  grads=(lambda g, o, x: _mul(g, _sub(_one(o), _mul(o, o))),))
_sigmoid = primitive("sigmoid", _sigmoid_kernel,
                     grads=(lambda g, o, x: _mul(g, _mul(o, _sub(_one(o), o))),))
_softplus = primitive("softplus", _softplus_kernel,
                      grads=(lambda g, o, x: _mul(g, sigmoid(x)),))
_sin = primitive("sin", np.sin, grads=(lambda g, o, x: _mul(g, cos(x)),))
_cos = primitive("cos", np.cos, grads=(lambda g, o, x: _neg(_mul(g, sin(x))),))
_tan = primitive("tan", np.tan, grads=(lambda g, o, x: _add(g, _mul(g, _mul(o, o))),))
_asin = primitive("asin", np.arcsin, grads=(lambda g, o, x: _mul(g, rsqrt(_sub(_one(x), square(x)))),))
_acos = primitive("acos", np.arccos,
                  grads=(lambda g, o, x: _neg(_mul(g, rsqrt(_sub(_one(x), square(x))))),))
_atan = primitive("atan", np.arctan, grads=(lambda g, o, x: _div(g, _add(_one(x), square(x))),))
_sinh = primitive("sinh", np.sinh, grads=(lambda g, o, x: _mul(g, cosh(x)),))
_cosh = primitive("cosh", np.cosh, grads=(lambda g, o, x: _mul(g, sinh(x)),))
_relu = primitive("relu", lambda x: np.maximum(x, x.dtype.type(0)),
                  grads=(lambda g, o, x: _mul(g, cast(greater(o, 0), g.dtype)),))
_floor = primitive("floor", np.floor)
_ceil = primitive("ceil", np.ceil)
_round = primitive("round", np.round)  # half to even, as TensorFlow
_reciprocal = primitive("reciprocal", np.reciprocal,
                        grads=(lambda g, o, x: _neg(_mul(g, _mul(o, o))),))


def _unary(prim, float_only=True):
    def op(x, name=None):
        x = tensor(x)
        if float_only and x._value.dtype.kind not in "fc" and x.dtype != dtypes.bfloat16:
            raise TypeError(f"{prim.name} expects a floating-point tensor, got {x.dtype.name}; "
                            f"cast it first, e.g. tf.cast(x, tf.float32).")
        return prim(x)
    op.__name__ = prim.name
    op.__doc__ = f"Elementwise {prim.name} (`tf.math.{prim.name}`)."
    return op


negative = _unary(_neg, float_only=False)
abs = _unary(_abs, float_only=False)  # noqa: A001
sign = _unary(_sign, float_only=False)
sqrt = _unary(_sqrt)
rsqrt = _unary(_rsqrt)
square = _unary(_square, float_only=False)
exp = _unary(_exp)
expm1 = _unary(_expm1)
log = _unary(_log)
log1p = _unary(_log1p)
tanh = _unary(_tanh)
sigmoid = _unary(_sigmoid)
softplus = _unary(_softplus)
sin, cos, tan = _unary(_sin), _unary(_cos), _unary(_tan)
asin, acos, atan = _unary(_asin), _unary(_acos), _unary(_atan)
sinh, cosh = _unary(_sinh), _unary(_cosh)
relu_ = _unary(_relu, float_only=False)
reciprocal = _unary(_reciprocal)


def floor(x, name=None):
    x = tensor(x)
    return x if x._value.dtype.kind in "iub" else _floor(x)


def ceil(x, name=None):
    x = tensor(x)
    return x if x._value.dtype.kind in "iub" else _ceil(x)


def round(x, name=None):  # noqa: A001
    x = tensor(x)
    return x if x._value.dtype.kind in "iub" else _round(x)


def log_sigmoid(x, name=None):
    return negative(softplus(negative(x)))


def square_(x):
    return square(x)


# ------------------------------------------------------------------------------------------
# Casts, comparisons and logic (not differentiable, except cast between floats).

def _cast_grad(g, out, x, dtype):
    if x._value.dtype.kind in "fc" or x.dtype == dtypes.bfloat16:
        return _cast(g, dtype=x._value.dtype)
    return None


_cast = primitive("cast", lambda x, dtype: x.astype(dtype), grads=(_cast_grad,))


def cast(x, dtype, name=None):
    """Changes the dtype (floats to ints truncate toward zero, as TensorFlow)."""
    x = tensor(x)
    target = _np_dtype_for(dtype)
    if x._value.dtype == target:
        return x
    return _cast(x, dtype=target)


def saturate_cast(value, dtype, name=None):
    value = tensor(value)
    d = dtypes.as_dtype(dtype)
    if d.is_integer or d.is_floating:
        value = clip_by_value(value, max(d.min, value.dtype.min), min(d.max, value.dtype.max)) \
            if value.dtype.is_floating or value.dtype.is_integer else value
    return cast(value, d)


def _compare(name, fn):
    prim = primitive(name, fn)

    def op(x, y, name=None):
        x, y = binary(x, y, name or prim.name)
        return prim(x, y)
    op.__name__ = name
    return op


equal = _compare("equal", np.equal)
not_equal = _compare("not_equal", np.not_equal)
less = _compare("less", np.less)
less_equal = _compare("less_equal", np.less_equal)
greater = _compare("greater", np.greater)
greater_equal = _compare("greater_equal", np.greater_equal)

_logical_and = primitive("logical_and", np.logical_and)
_logical_or = primitive("logical_or", np.logical_or)
_logical_xor = primitive("logical_xor", np.logical_xor)
_logical_not = primitive("logical_not", np.logical_not)
_is_nan = primitive("is_nan", np.isnan)
_is_inf = primitive("is_inf", np.isinf)
_is_finite = primitive("is_finite", np.isfinite)


def _bool_operand(x, op):
    x = tensor(x)
    if x._value.dtype != np.bool_:
        raise TypeError(f"{op} expects bool tensors, got {x.dtype.name}")
    return x


def logical_and(x, y, name=None):
    return _logical_and(_bool_operand(x, "logical_and"), _bool_operand(y, "logical_and"))


def logical_or(x, y, name=None):
    return _logical_or(_bool_operand(x, "logical_or"), _bool_operand(y, "logical_or"))


def logical_xor(x, y, name=None):
    return _logical_xor(_bool_operand(x, "logical_xor"), _bool_operand(y, "logical_xor"))


def logical_not(x, name=None):
    return _logical_not(_bool_operand(x, "logical_not"))


def is_nan(x, name=None):
    return _is_nan(tensor(x))


def is_inf(x, name=None):
    return _is_inf(tensor(x))


def is_finite(x, name=None):
    return _is_finite(tensor(x))


# ------------------------------------------------------------------------------------------
# where / select (differentiable in x and y)

_select = primitive(
    "select", lambda c, x, y: np.where(c, x, y),
    grads=(None,
           lambda g, o, c, x, y: _select(c, g, zeros_like(g)),
           lambda g, o, c, x, y: _select(c, zeros_like(g), g)))


def where(condition, x=None, y=None, name=None):
    """Picks from x where condition is true, else from y (broadcasting); or, with only
    condition, the int64 coordinates of its true elements."""
    condition = tensor(condition)
    if x is None and y is None:
        from tenfold.ops import array_ops
        return array_ops.where_indices(condition)
    if x is None or y is None:
        raise ValueError("tf.where needs both x and y, or neither.")
    if condition._value.dtype != np.bool_:
        raise TypeError(f"tf.where condition must be bool, got {condition.dtype.name}")
    x, y = binary(x, y, "where")
    return _select(condition, x, y)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    t = tensor(t)
    return minimum(maximum(t, clip_value_min), clip_value_max)


# ------------------------------------------------------------------------------------------
# matmul

def _mm_kernel(a, b, transpose_a=False, transpose_b=False):
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


def _mm_grad_a(g, out, a, b, transpose_a=False, transpose_b=False):
    if not transpose_a:
        return _matmul(g, b, transpose_a=False, transpose_b=not transpose_b)
    return _matmul(b, g, transpose_a=transpose_b, transpose_b=True)


def _mm_grad_b(g, out, a, b, transpose_a=False, transpose_b=False):
    if not transpose_b:
        return _matmul(a, g, transpose_a=not transpose_a, transpose_b=False)
    return _matmul(g, a, transpose_a=True, transpose_b=transpose_a)


_matmul = primitive("matmul", _mm_kernel, grads=(_mm_grad_a, _mm_grad_b))


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, grad_a=False, grad_b=False,
           name=None):
    """Matrix product of the last two axes, broadcasting the batch axes (`tf.linalg.matmul`)."""
    a, b = binary(a, b, "matmul")
    av, bv = a._value, b._value
    if av.ndim < 2 or bv.ndim < 2:
        raise InvalidArgumentError(
            f"matmul needs inputs of rank >= 2, got shapes {list(av.shape)} and "
            f"{list(bv.shape)}. For vectors use tf.tensordot or add an axis with tf.expand_dims.")
    ta = transpose_a or adjoint_a
    tb = transpose_b or adjoint_b
    k_a = av.shape[-2] if ta else av.shape[-1]
    k_b = bv.shape[-1] if tb else bv.shape[-2]
    if k_a != k_b:
        raise InvalidArgumentError(
            f"matmul: inner dimensions differ: a has shape {list(av.shape)}"
            f"{' (transposed)' if ta else ''} and b has shape {list(bv.shape)}"
            f"{' (transposed)' if tb else ''}; a's last axis ({k_a}) must equal b's "
            f"second-to-last ({k_b}).")
    if adjoint_a and av.dtype.kind == "c":
        a = conj(a)
    if adjoint_b and bv.dtype.kind == "c":
        b = conj(b)
    return _matmul(a, b, transpose_a=ta, transpose_b=tb)


_conj = primitive("conj", np.conj, grads=(lambda g, o, x: _conj(g),))


def conj(x, name=None):
    x = tensor(x)
    return _conj(x) if x._value.dtype.kind == "c" else x


# ------------------------------------------------------------------------------------------
# Reductions

def normalize_axis(axis, ndim, op):
    """A sorted tuple of non-negative axes, or None for all; range-checked."""
    if axis is None:
        return None
    if isinstance(axis, Tensor):
        axis = axis.numpy().tolist()
    elif isinstance(axis, np.ndarray):
        axis = axis.tolist()
    if isinstance(axis, (list, tuple)):
        axes = [int(a) for a in axis]
    else:
        axes = [int(axis)]
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise InvalidArgumentError(
                f"{op}: axis {a} is out of range for a tensor of rank {ndim} "
                f"(expected -{max(ndim, 1)} <= axis < {max(ndim, 1)}).")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out))) if ndim else ()


def _kept_shape(shape, axis):
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else d for i, d in enumerate(shape))


def _reduce_grad_broadcast(g, x, axis, keepdims):
    from tenfold.ops import array_ops
    if not keepdims:
        g = array_ops.reshape(g, _kept_shape(x._value.shape, axis))
    return array_ops.broadcast_to(g, x._value.shape)


def _sum_kernel(x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


_reduce_sum = primitive(
    "reduce_sum", _sum_kernel,
    grads=(lambda g, o, x, axis=None, keepdims=False: _reduce_grad_broadcast(g, x, axis, keepdims),))


def _minmax_grad(g, out, x, axis=None, keepdims=False):
    from tenfold.ops import array_ops
    shape = _kept_shape(x._value.shape, axis)
    o = out if keepdims else array_ops.reshape(out, shape)
    gg = g if keepdims else array_ops.reshape(g, shape)
    mask = cast(equal(x, o), g.dtype)
    count = _reduce_sum(mask, axis=axis, keepdims=True)
    return _mul(_div(mask, count), gg)


_reduce_max = primitive("reduce_max", lambda x, axis=None, keepdims=False:
                        np.max(x, axis=axis, keepdims=keepdims), grads=(_minmax_grad,))
_reduce_min = primitive("reduce_min", lambda x, axis=None, keepdims=False:
                        np.min(x, axis=axis, keepdims=keepdims), grads=(_minmax_grad,))


def _prod_grad(g, out, x, axis=None, keepdims=False):
    # d prod / d x_i = prod / x_i, computed without dividing by zero via exclusive cumprods.
    from tenfold.ops import array_ops
    axes = tuple(range(x.ndim)) if axis is None else axis
    other = [i for i in range(x.ndim) if i not in axes]
    perm = other + list(axes)
    xt = array_ops.transpose(x, perm)
    lead = [x._value.shape[i] for i in other]
    n = int(np.prod([x._value.shape[i] for i in axes])) if axes else 1
    flat = array_ops.reshape(xt, lead + [n])
    left = cumprod(flat, axis=-1, exclusive=True)
    right = cumprod(flat, axis=-1, exclusive=True, reverse=True)
    gk = _reduce_grad_broadcast(g, x, axis, keepdims)
    gk = array_ops.reshape(array_ops.transpose(gk, perm), lead + [n])
    d = _mul(gk, _mul(left, right))
    d = array_ops.reshape(d, [x._value.shape[i] for i in perm])
    return array_ops.transpose(d, list(np.argsort(perm)))


_reduce_prod = primitive("reduce_prod", lambda x, axis=None, keepdims=False:
                         np.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype),
                         grads=(_prod_grad,))
_reduce_any = primitive("reduce_any", lambda x, axis=None, keepdims=False:
                        np.any(x, axis=axis, keepdims=keepdims))
_reduce_all = primitive("reduce_all", lambda x, axis=None, keepdims=False:
                        np.all(x, axis=axis, keepdims=keepdims))


def _logsumexp_kernel(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _logsumexp_grad(g, out, x, axis=None, keepdims=False):
    from tenfold.ops import array_ops
    shape = _kept_shape(x._value.shape, axis)
    o = out if keepdims else array_ops.reshape(out, shape)
    gg = g if keepdims else array_ops.reshape(g, shape)
    return _mul(gg, exp(_sub(x, o)))


_reduce_logsumexp = primitive("reduce_logsumexp", _logsumexp_kernel, grads=(_logsumexp_grad,))


def _reduction(prim, opname, allow_bool=False, need_bool=False):
    def op(input_tensor, axis=None, keepdims=False, name=None):
        x = tensor(input_tensor)
        if need_bool and x._value.dtype != np.bool_:
            raise TypeError(f"{opname} expects a bool tensor, got {x.dtype.name}")
        if not allow_bool and x._value.dtype == np.bool_:
            raise TypeError(f"{opname} does not take bool tensors; cast to a number first.")
        ax = normalize_axis(axis, x._value.ndim, opname)
        return prim(x, axis=ax, keepdims=bool(keepdims))
    op.__name__ = opname
    return op


reduce_sum = _reduction(_reduce_sum, "reduce_sum")
reduce_max = _reduction(_reduce_max, "reduce_max")
reduce_min = _reduction(_reduce_min, "reduce_min")
reduce_prod = _reduction(_reduce_prod, "reduce_prod")
reduce_any = _reduction(_reduce_any, "reduce_any", allow_bool=True, need_bool=True)
reduce_all = _reduction(_reduce_all, "reduce_all", allow_bool=True, need_bool=True)
_reduce_logsumexp_op = _reduction(_reduce_logsumexp, "reduce_logsumexp")


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor)
    if x._value.dtype.kind not in "f" and x.dtype != dtypes.bfloat16:
        raise TypeError(f"reduce_logsumexp expects a float tensor, got {x.dtype.name}")
    return _reduce_logsumexp_op(x, axis, keepdims)


def _count(x, axis):
    if axis is None:
        return x._value.size
    return int(np.prod([x._value.shape[a] for a in axis]))


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor)
    if x._value.dtype == np.bool_:
        raise TypeError("reduce_mean does not take bool tensors; cast to a number first.")
    ax = normalize_axis(axis, x._value.ndim, "reduce_mean")
    s = _reduce_sum(x, axis=ax, keepdims=bool(keepdims))
    n = _count(x, ax)
    if x._value.dtype.kind in "iu":
        return _wrap(np.trunc(s._value / max(n, 1)).astype(x._value.dtype))
    return _div(s, _wrap(np.asarray(n, dtype=x._value.dtype)))


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor)
    m = reduce_mean(x, axis=axis, keepdims=True)
    return reduce_mean(square(_sub(x, m)), axis=axis, keepdims=keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    return sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    return sqrt(reduce_sum(square(input_tensor), axis=axis, keepdims=keepdims))


def count_nonzero(input, axis=None, keepdims=None, dtype=dtypes.int64, name=None):
    x = tensor(input)
    nz = not_equal(x, zeros_like(x)) if x._value.dtype != np.bool_ else x
    return reduce_sum(cast(nz, dtype), axis=axis, keepdims=builtins.bool(keepdims))


# ------------------------------------------------------------------------------------------
# cumsum / cumprod

def _cum_kernel(fn):
    def kernel(x, axis=0, exclusive=False, reverse=False):
        if reverse:
            x = np.flip(x, axis)
        out = fn(x, axis=axis, dtype=x.dtype)
        if exclusive:
            ident = 0 if fn is np.cumsum else 1
            pad = [(0, 0)] * x.ndim
            pad[axis] = (1, 0)
            out = np.pad(out, pad, constant_values=ident)
            out = np.take(out, np.arange(x.shape[axis]), axis=axis)
        if reverse:
            out = np.flip(out, axis)
        return np.ascontiguousarray(out)
    return kernel


_cumsum = primitive("cumsum", _cum_kernel(np.cumsum),
                    grads=(lambda g, o, x, axis=0, exclusive=False, reverse=False:
                           _cumsum(g, axis=axis, exclusive=exclusive, reverse=not reverse),))


def _cumprod_grad(g, out, x, axis=0, exclusive=False, reverse=False):
    # Valid for nonzero x: sum_{j>=i} g_j * out_j / x_i.
    s = _cumsum(_mul(g, out), axis=axis, exclusive=exclusive, reverse=not reverse)
    return _div(s, x)


_cumprod = primitive("cumprod", _cum_kernel(np.cumprod), grads=(_cumprod_grad,))


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    x = tensor(x)
    (ax,) = normalize_axis(axis, x._value.ndim, "cumsum") or (0,)
    return _cumsum(x, axis=ax, exclusive=bool(exclusive), reverse=bool(reverse))


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    x = tensor(x)
    (ax,) = normalize_axis(axis, x._value.ndim, "cumprod") or (0,)
    return _cumprod(x, axis=ax, exclusive=bool(exclusive), reverse=bool(reverse))


# ------------------------------------------------------------------------------------------
# argmax / argmin

def _arg(fn, opname):
    prim = primitive(opname, lambda x, axis, dtype: fn(x, axis=axis).astype(dtype))

    def op(input, axis=None, output_type=dtypes.int64, name=None):
        x = tensor(input)
        if x._value.ndim == 0:
            raise InvalidArgumentError(f"{opname} needs a tensor of rank >= 1, got a scalar.")
        if axis is None:
            axis = 0
        (ax,) = normalize_axis(axis, x._value.ndim, opname)
        if x._value.shape[ax] == 0:
            raise InvalidArgumentError(f"{opname}: reduction axis {ax} of shape "
                                       f"{list(x._value.shape)} is empty.")
        return prim(x, axis=ax, dtype=dtypes.as_dtype(output_type)._np)
    op.__name__ = opname
    return op


argmax = _arg(np.argmax, "argmax")
argmin = _arg(np.argmin, "argmin")


# ------------------------------------------------------------------------------------------
# helpers used across families

def zeros_like(x):
    return _wrap(np.zeros_like(x._value))


def ones_like(x):
    return _wrap(np.ones_like(x._value))


def add_n(inputs, name=None):
    inputs = list(inputs)
    if not inputs:
        raise ValueError("add_n needs at least one input")
    out = tensor(inputs[0])
    for t in inputs[1:]:
        out = add(out, t)
    return out
