"""Elementwise math, comparisons, matmul and reductions: primitives and their public ops."""
import builtins

import numpy as np

from tenfold.backend import xp_of

from tenfold.backend import kernels as _kernels
from tenfold.backend import numpy_out as _out
from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive, FREE, INTEGER_VALUED, NOT_DIFFERENTIABLE
from tenfold.ops import _checks
from tenfold.ops._convert import binary, tensor

_wrap = Tensor._wrap
_is_float_np = dtypes.is_float_np


def _np_dtype_for(dt):
    return dtypes.as_dtype(dt)._np


def _scalar(v, like):
    return _wrap(np.asarray(v, dtype=like._value.dtype))


def _one(g):
    return _wrap(np.ones((), dtype=g._value.dtype))


# ------------------------------------------------------------------------------------------
# Creation helpers used by gradient rules (primitives: under tracing their shape follows x).

_zeros_like = primitive("zeros_like", lambda x, dtype=None: np.zeros_like(x, dtype=dtype), shape_only=True, flops=FREE, no_grad="its value does not depend on the input's values")
_ones_like = primitive("ones_like", lambda x, dtype=None: np.ones_like(x, dtype=dtype), shape_only=True, flops=FREE, no_grad="its value does not depend on the input's values")


def zeros_like(x):
    return _zeros_like(x)


def ones_like(x):
    return _ones_like(x)


# ------------------------------------------------------------------------------------------
# Binary elementwise primitives. Operands already share a dtype; broadcasting is NumPy's and
# the tape un-broadcasts gradients, so rules return full-shape gradients.

_add = primitive("add", np.add, grads=(lambda g, o, x, y: g, lambda g, o, x, y: g), aliasing="fresh", out_kernel=_out.add_out, inplace=True, tf_op="AddV2")
_sub = primitive("subtract", np.subtract,
                 grads=(lambda g, o, x, y: g, lambda g, o, x, y: _neg(g)), aliasing="fresh", out_kernel=_out.binary_out(np.subtract), inplace=True, tf_op="Sub")
_mul = primitive("multiply", np.multiply,
                 grads=(lambda g, o, x, y: _mul(g, y), lambda g, o, x, y: _mul(g, x)), aliasing="fresh", out_kernel=_out.binary_out(np.multiply), inplace=True, tf_op="Mul")
_div = primitive("divide", np.divide,
                 grads=(lambda g, o, x, y: _div(g, y),
                        lambda g, o, x, y: _neg(_div(_mul(g, o), y))), aliasing="fresh", out_kernel=_out.binary_out(np.divide), inplace=True)


def _check_int_zero(op, x, y):
    if x.dtype.kind in "iu" and y.dtype.kind in "iu" and not np.all(y):
        raise InvalidArgumentError(f"{op}: integer division by zero")


def _floordiv_kernel(x, y):
    _check_int_zero("floordiv", x, y)
    return np.floor_divide(x, y)


def _floormod_kernel(x, y):
    _check_int_zero("floormod", x, y)
    return np.mod(x, y)


def _truncatediv_kernel(x, y):
    if x.dtype.kind in "iu":
        _check_int_zero("truncatediv", x, y)
        q = np.floor_divide(x, y)
        # floor and trunc differ when the signs differ and the division is inexact
        fix = (np.mod(x, y) != 0) & ((x < 0) != (y < 0))
        return (q + fix.astype(q.dtype)).astype(x.dtype, copy=False)
    return np.trunc(np.divide(x, y))


def _truncatemod_kernel(x, y):
    if x.dtype == object:
        raise TypeError("x and y must be numeric tensors, got string tensors")
    _check_int_zero("truncatemod", x, y)
    return np.fmod(x, y)


_floordiv = primitive("floordiv", _floordiv_kernel, aliasing="fresh", no_grad=INTEGER_VALUED, tf_op="FloorDiv")
_floormod = primitive("floormod", _floormod_kernel,
                      grads=(lambda g, o, x, y: g,
                             lambda g, o, x, y: _mul(g, _neg(floor(_div(x, y))))), aliasing="fresh", tf_op="FloorMod")
_truncatediv = primitive("truncatediv", _truncatediv_kernel, no_grad=INTEGER_VALUED)
_truncatemod = primitive("truncatemod", _truncatemod_kernel,
                         grads=(lambda g, o, x, y: g,
                                lambda g, o, x, y: _mul(g, _neg(_trunc(_div(x, y))))))


def _pow_kernel(x, y):
    if x.dtype.kind in "iu" and np.any(y < 0):
        raise InvalidArgumentError("pow: integers to negative integer powers are not allowed")
    return np.power(x, y)


def _pow_grad_x(g, out, x, y):
    return _mul(g, _mul(y, _pow(x, _sub(y, _one(y)))))


def _pow_grad_y(g, out, x, y):
    pos = _greater(x, _zeros_like(x))
    safe = _select(pos, x, _ones_like(x))
    return _mul(g, _select(pos, _mul(out, _log(safe)), _zeros_like(x)))


_pow = primitive("pow", _pow_kernel, grads=(_pow_grad_x, _pow_grad_y), aliasing="fresh", tf_op="Pow")


def _select_grad(kind, which):
    def rule(g, out, x, y):
        mask = _greater_equal(x, y) if kind == "max" else _less_equal(x, y)
        return _select(mask, g, _zeros_like(g)) if which == "x" else \
            _select(mask, _zeros_like(g), g)
    return rule


_maximum = primitive("maximum", np.maximum,
                     grads=(_select_grad("max", "x"), _select_grad("max", "y")), aliasing="fresh", out_kernel=_out.binary_out(np.maximum), inplace=True, tf_op="Maximum")
_minimum = primitive("minimum", np.minimum,
                     grads=(_select_grad("min", "x"), _select_grad("min", "y")), aliasing="fresh", out_kernel=_out.binary_out(np.minimum), inplace=True, tf_op="Minimum")
_atan2 = primitive("atan2", np.arctan2,
                   grads=(lambda g, o, y, x: _div(_mul(g, x), _add(_square(x), _square(y))),
                          lambda g, o, y, x: _neg(_div(_mul(g, y),
                                                       _add(_square(x), _square(y))))), aliasing="fresh", tf_op="Atan2")
_squared_difference = primitive(
    "squared_difference", lambda x, y: np.square(x - y),
    grads=(lambda g, o, x, y: _mul(_mul(g, _scalar(2, g)), _sub(x, y)),
           lambda g, o, x, y: _mul(_mul(g, _scalar(-2, g)), _sub(x, y))), aliasing="fresh", out_kernel=_out.squared_difference_out, inplace=True, tf_op="SquaredDifference")


def _binary_op(prim, pub):
    """The public op `pub(x, y, name=None)`: converts both operands (`binary`) and applies
    primitive `prim`."""
    def op(x, y, name=None):
        x, y = binary(x, y, pub)
        return prim(x, y)
    op.__name__ = op.__qualname__ = pub
    op.__doc__ = f"Elementwise {pub} (`tf.math.{pub}`)."
    return op


add = _binary_op(_add, "add")
subtract = _binary_op(_sub, "subtract")
multiply = _binary_op(_mul, "multiply")


def scalar_mul(scalar, x, name=None):
    return multiply(scalar, x)


def _int_div_float(np_dtype):
    return np.float32 if np_dtype.itemsize <= 2 else np.float64


def truediv(x, y, name=None):
    """x / y; integer operands become float first (int8/16 -> float32, int32/64 -> float64)."""
    x, y = binary(x, y, "truediv")
    k = x._value.dtype.kind
    if k in "iub":
        if k == "b":
            raise TypeError("truediv: cannot divide bool tensors; cast them to a number first.")
        ft = np.dtype(_int_div_float(x._value.dtype))
        x, y = _cast(x, dtype=ft), _cast(y, dtype=ft)
    return _div(x, y)


def divide(x, y, name=None):
    return truediv(x, y)


realdiv = _binary_op(_div, "realdiv")


def _div_no_nan_kernel(x, y):
    # one node for the four of its composition (every Mean metric's result runs it each
    # step): the same NumPy operations, so the same values
    if y.ndim == 0 and x.ndim == 0:   # a metric's total / count: no masks needed
        return np.divide(x, y) if y != 0 else np.zeros_like(y)   # (binary(): one dtype)
    zero = y == 0
    q = np.divide(x, np.where(zero, y.dtype.type(1), y))
    return np.where(zero, q.dtype.type(0), q)


def _div_no_nan_grads(g, out, x, y):
    """The composition's gradients: g / safe where y != 0 for x; -(g * (x / safe)) / safe
    there for y; 0 where y == 0 (safe: y with its zeros made ones)."""
    zero = _equal(y, _zeros_like(y))
    safe = _select(zero, _ones_like(y), y)
    gz = _select(zero, _zeros_like(g), g)
    gx = _div(gz, safe)
    gy = _select(zero, _zeros_like(g), _neg(_div(_mul(gz, _div(x, safe)), safe)))
    return [gx, gy]


_div_no_nan = primitive("div_no_nan", _div_no_nan_kernel, grads=_div_no_nan_grads,
                        aliasing="fresh", tf_op="DivNoNan")


def div_no_nan(x, y, name=None):
    """x / y, but 0 wherever y is 0 (even if x is nan or inf)."""
    x, y = binary(x, y, "div_no_nan")
    if x._value.dtype.kind in "fc":
        return _div_no_nan(x, y)
    zero = _equal(y, _zeros_like(y))        # integers: truediv's float result
    safe = _select(zero, _ones_like(y), y)
    q = truediv(x, safe)
    return _select(zero, _zeros_like(q), q)


divide_no_nan = div_no_nan


def multiply_no_nan(x, y, name=None):
    """x * y, but 0 wherever y is 0 (even if x is nan or inf)."""
    x, y = binary(x, y, "multiply_no_nan")
    zero = _equal(y, _zeros_like(y))
    p = _mul(x, y)
    return _select(zero, _zeros_like(p), p)


def reciprocal_no_nan(x, name=None):
    x = tensor(x)
    return div_no_nan(_ones_like(x), x)


def floordiv(x, y, name=None):
    x, y = binary(x, y, "floordiv")
    if x._value.dtype.kind in "fc" or x.dtype == dtypes.bfloat16:
        return floor(_div(x, y))
    return _floordiv(x, y)


floor_div = floordiv


floormod = _binary_op(_floormod, "floormod")
mod = floormod


truncatediv = _binary_op(_truncatediv, "truncatediv")
truncatemod = _binary_op(_truncatemod, "truncatemod")
pow = _binary_op(_pow, "pow")  # noqa: A001 - TensorFlow's name
maximum = _binary_op(_maximum, "maximum")
minimum = _binary_op(_minimum, "minimum")


def atan2(y, x, name=None):
    y, x = binary(y, x, "atan2")
    _checks.numeric(y, "atan2", "y")
    return _atan2(y, x)


squared_difference = _binary_op(_squared_difference, "squared_difference")


# ------------------------------------------------------------------------------------------
# Unary elementwise primitives.

def _sigmoid_kernel(x):
    # 0.5 * (1 + tanh(x / 2)) is exact in form and never overflows.
    return (np.tanh(x * x.dtype.type(0.5)) + x.dtype.type(1)) * x.dtype.type(0.5)


def _softplus_kernel(x):
    return np.logaddexp(x.dtype.type(0), x)


_neg = primitive("negative", np.negative, grads=(lambda g, o, x: _neg(g),), aliasing="fresh", out_kernel=_out.unary_out(np.negative), inplace=True, tf_op="Neg")
_abs = primitive("abs", np.abs, grads=(lambda g, o, x: _mul(g, _sign(x)),), aliasing="fresh", out_kernel=_out.unary_out(np.abs), inplace=True, tf_op="Abs")
_sign = primitive("sign", np.sign, grads=(lambda g, o, x: _zeros_like(g),), aliasing="fresh", tf_op="Sign")
_sqrt = primitive("sqrt", np.sqrt,
                  grads=(lambda g, o, x: _div(g, _mul(o, _scalar(2, o))),), aliasing="fresh", out_kernel=_out.unary_out(np.sqrt), inplace=True, tf_op="Sqrt")
_rsqrt = primitive("rsqrt", lambda x: 1 / np.sqrt(x),
                   grads=(lambda g, o, x: _mul(g, _mul(_scalar(-0.5, o), _mul(o, _mul(o, o)))),), aliasing="fresh", tf_op="Rsqrt")
_square = primitive("square", np.square,
                    grads=(lambda g, o, x: _mul(g, _mul(x, _scalar(2, x))),), aliasing="fresh", out_kernel=_out.unary_out(np.square), inplace=True, tf_op="Square")
_exp = primitive("exp", np.exp, grads=(lambda g, o, x: _mul(g, o),), aliasing="fresh", out_kernel=_out.unary_out(np.exp), inplace=True, onnx="Exp", tf_op="Exp")
_expm1 = primitive("expm1", np.expm1, grads=(lambda g, o, x: _mul(g, _exp(x)),), aliasing="fresh", out_kernel=_out.unary_out(np.expm1), inplace=True, tf_op="Expm1")
_log = primitive("log", np.log, grads=(lambda g, o, x: _div(g, x),), aliasing="fresh", out_kernel=_out.unary_out(np.log), inplace=True, tf_op="Log")
_log1p = primitive("log1p", np.log1p, grads=(lambda g, o, x: _div(g, _add(x, _one(x))),), aliasing="fresh", out_kernel=_out.unary_out(np.log1p), inplace=True, tf_op="Log1p")
_tanh = primitive("tanh", np.tanh,
                  grads=(lambda g, o, x: _mul(g, _sub(_one(o), _mul(o, o))),), aliasing="fresh", out_kernel=_out.unary_out(np.tanh), inplace=True, onnx="Tanh", tf_op="Tanh")
_sigmoid = primitive("sigmoid", _sigmoid_kernel,
                     grads=(lambda g, o, x: _mul(g, _mul(o, _sub(_one(o), o))),), aliasing="fresh", out_kernel=_out.sigmoid_out, inplace=True, onnx="Sigmoid", tf_op="Sigmoid")
_softplus = primitive("softplus", _softplus_kernel,
                      grads=(lambda g, o, x: _mul(g, _sigmoid(x)),), aliasing="fresh", onnx="Softplus", tf_op="Softplus")
_sin = primitive("sin", np.sin, grads=(lambda g, o, x: _mul(g, _cos(x)),), aliasing="fresh", out_kernel=_out.unary_out(np.sin), inplace=True, tf_op="Sin")
_cos = primitive("cos", np.cos, grads=(lambda g, o, x: _neg(_mul(g, _sin(x))),), aliasing="fresh", out_kernel=_out.unary_out(np.cos), inplace=True, tf_op="Cos")
_tan = primitive("tan", np.tan, grads=(lambda g, o, x: _add(g, _mul(g, _mul(o, o))),), aliasing="fresh", tf_op="Tan")
_asin = primitive("asin", np.arcsin,
                  grads=(lambda g, o, x: _mul(g, _rsqrt(_sub(_one(x), _square(x)))),), aliasing="fresh", tf_op="Asin")
_acos = primitive("acos", np.arccos,
                  grads=(lambda g, o, x: _neg(_mul(g, _rsqrt(_sub(_one(x), _square(x))))),), aliasing="fresh", tf_op="Acos")
_atan = primitive("atan", np.arctan,
                  grads=(lambda g, o, x: _div(g, _add(_one(x), _square(x))),), aliasing="fresh", tf_op="Atan")
_sinh = primitive("sinh", np.sinh, grads=(lambda g, o, x: _mul(g, _cosh(x)),), aliasing="fresh", tf_op="Sinh")
_cosh = primitive("cosh", np.cosh, grads=(lambda g, o, x: _mul(g, _sinh(x)),), aliasing="fresh", tf_op="Cosh")
_asinh = primitive("asinh", np.arcsinh,
                   grads=(lambda g, o, x: _mul(g, _rsqrt(_add(_square(x), _one(x)))),), tf_op="Asinh")
_acosh = primitive("acosh", np.arccosh,
                   grads=(lambda g, o, x: _div(g, _sinh(o)),), tf_op="Acosh")
_atanh = primitive("atanh", np.arctanh,
                   grads=(lambda g, o, x: _div(g, _sub(_one(x), _square(x))),), tf_op="Atanh")
# Gradients made by max pooling, by id: id(g) -> fn(g, y) giving relu_backprop(g, y) computed
# at the pooled size when g is max pooling's gradient for input y, else None. A ReLU (or a
# conv + bias + ReLU) followed by max pooling then applies its mask to the 4x smaller pooled
# gradient: the routed gradient only lands where y is the window's maximum, so mask(y) there
# equals mask(pooled output). Filled by conv_ops' max pool gradient rule.
pooled_grads = {}


def relu_mask_after_pool(g, y):
    """relu_backprop(g, y) computed before max pooling's gradient scatter, or None."""
    fn = pooled_grads.get(id(g))
    return None if fn is None else fn(g, y)


def _relu_grad(g, o, x):
    dz = relu_mask_after_pool(g, o) if pooled_grads else None
    if dz is not None:
        return dz
    return _mul(g, _cast(_greater(o, _zeros_like(o)), dtype=g._value.dtype))


_relu = primitive("relu", _kernels.relu, grads=(_relu_grad,), aliasing="fresh", out_kernel=_out.relu_out, inplace=True, onnx="Relu", tf_op="Relu")
_floor = primitive("floor", np.floor, aliasing="fresh", no_grad=NOT_DIFFERENTIABLE, tf_op="Floor")
_ceil = primitive("ceil", np.ceil, aliasing="fresh", no_grad=NOT_DIFFERENTIABLE, tf_op="Ceil")
_round = primitive("round", np.round, aliasing="fresh", no_grad=NOT_DIFFERENTIABLE, tf_op="Round")  # half to even, as TensorFlow
_trunc = primitive("trunc", np.trunc, no_grad=NOT_DIFFERENTIABLE)
_reciprocal = primitive("reciprocal", np.reciprocal,
                        grads=(lambda g, o, x: _neg(_mul(g, _mul(o, o))),), aliasing="fresh", out_kernel=_out.unary_out(np.reciprocal), inplace=True, tf_op="Reciprocal")


def _unary(prim, float_only=True, pub=None):
    pub = pub or prim.name

    def op(x, name=None):
        x = tensor(x)
        if float_only:
            d = x._value.dtype
            if d.kind not in "fc" and d.name != "bfloat16":
                raise TypeError(f"{pub} expects a floating-point tensor, got {x.dtype.name}; "
                                f"cast it first, e.g. tf.cast(x, tf.float32).")
        return prim(x)
    op.__name__ = pub
    op.__qualname__ = pub
    op.__doc__ = f"Elementwise {pub} (`tf.math.{pub}`)."
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
asinh, acosh, atanh = _unary(_asinh), _unary(_acosh), _unary(_atanh)
relu_ = _unary(_relu, float_only=False)
reciprocal = _unary(_reciprocal)


def floor(x, name=None):
    x = tensor(x)
    return x if x._value.dtype.kind in "iub" else _floor(x)


def ceil(x, name=None):
    x = tensor(x)
    return x if x._value.dtype.kind in "iub" else _ceil(x)


def round(x, name=None):  # noqa: A001
    """Rounds half to even (banker's rounding), as TensorFlow."""
    x = tensor(x)
    return x if x._value.dtype.kind in "iub" else _round(x)


rint = round


def log_sigmoid(x, name=None):
    return negative(softplus(negative(x)))


def softsign(features, name=None):
    x = tensor(features)
    return divide(x, add(abs(x), 1.0))


# ------------------------------------------------------------------------------------------
# Complex numbers


_conj = primitive("conj", np.conj, grads=(lambda g, o, x: _conj(g),))


def conj(x, name=None):
    x = tensor(x)
    return _conj(x) if x._value.dtype.kind == "c" else x


# ------------------------------------------------------------------------------------------
# Casts, comparisons and logic (not differentiable, except cast between floats).

def _cast_kernel(x, dtype):
    if x.dtype.kind == "c" and dtype.kind != "c":
        x = x.real
    return x.astype(dtype)


def _cast_grad(g, out, x, dtype):
    d = x._value.dtype
    if d.kind in "fc" or d.name == "bfloat16":
        return _cast(g, dtype=d)
    return None


_cast = primitive("cast", _cast_kernel, grads=(_cast_grad,), aliasing="fresh", flops=FREE)


def cast(x, dtype, name=None):
    """Changes the dtype (floats to ints truncate toward zero, as TensorFlow)."""
    x = tensor(x)
    target = _np_dtype_for(dtype)
    if x._value.dtype == target:
        return x
    return _cast(x, dtype=target)


def saturate_cast(value, dtype, name=None):
    """Casts, clipping values to the target dtype's range first."""
    value = tensor(value)
    d = dtypes.as_dtype(dtype)
    src = value.dtype
    if (d.is_integer or d.is_floating) and (src.is_floating or src.is_integer):
        lo, hi = builtins.max(d.min, src.min), builtins.min(d.max, src.max)
        if lo > src.min or hi < src.max:
            if src.is_floating and d.is_integer:
                # the bounds as source floats, rounded inwards: float32(2**31 - 1) is 2**31,
                # which would wrap to int32's minimum (a sign flip) after the cast
                f = np.dtype(src._np)
                lo_f, hi_f = np.asarray(lo, f), np.asarray(hi, f)
                if float(lo_f) < lo:
                    lo_f = np.nextafter(lo_f, np.asarray(np.inf, f))
                if float(hi_f) > hi:
                    hi_f = np.nextafter(hi_f, np.asarray(-np.inf, f))
                value = clip_by_value(value, lo_f, hi_f)
            else:
                value = clip_by_value(value, lo, hi)
    return cast(value, d)


def _compare(name, fn, tf_op):
    prim = primitive(name, fn, no_grad=INTEGER_VALUED, aliasing="fresh", tf_op=tf_op)

    def op(x, y, name=None):
        x, y = binary(x, y, prim.name)
        return prim(x, y)
    op.__name__ = name
    op.__qualname__ = name
    return op, prim


equal, _equal = _compare("equal", np.equal, "Equal")
not_equal, _not_equal = _compare("not_equal", np.not_equal, "NotEqual")
less, _less = _compare("less", np.less, "Less")
less_equal, _less_equal = _compare("less_equal", np.less_equal, "LessEqual")
greater, _greater = _compare("greater", np.greater, "Greater")
greater_equal, _greater_equal = _compare("greater_equal", np.greater_equal, "GreaterEqual")

_logical_and = primitive("logical_and", np.logical_and, aliasing="fresh", no_grad=INTEGER_VALUED, tf_op="LogicalAnd")
_logical_or = primitive("logical_or", np.logical_or, aliasing="fresh", no_grad=INTEGER_VALUED, tf_op="LogicalOr")
_logical_xor = primitive("logical_xor", np.logical_xor, aliasing="fresh", no_grad=INTEGER_VALUED)
_logical_not = primitive("logical_not", np.logical_not, aliasing="fresh", no_grad=INTEGER_VALUED, tf_op="LogicalNot")
_is_nan = primitive("is_nan", np.isnan, aliasing="fresh", no_grad=INTEGER_VALUED, tf_op="IsNan")
_is_inf = primitive("is_inf", np.isinf, aliasing="fresh", no_grad=INTEGER_VALUED, tf_op="IsInf")
_is_finite = primitive("is_finite", np.isfinite, aliasing="fresh", no_grad=INTEGER_VALUED, tf_op="IsFinite")


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


def _float_check(x, op):
    x = tensor(x)
    d = x._value.dtype
    if d.kind != "f" and d.name != "bfloat16":
        raise TypeError(f"{op} expects a floating-point tensor, got {x.dtype.name}")
    return x


def is_nan(x, name=None):
    return _is_nan(_float_check(x, "is_nan"))


def is_inf(x, name=None):
    return _is_inf(_float_check(x, "is_inf"))


def is_finite(x, name=None):
    return _is_finite(_float_check(x, "is_finite"))


# ------------------------------------------------------------------------------------------
# where / select (differentiable in x and y)

_select = primitive(
    "select", lambda c, x, y: np.where(c, x, y),
    grads=(None,
           lambda g, o, c, x, y: _select(c, g, _zeros_like(g)),
           lambda g, o, c, x, y: _select(c, _zeros_like(g), g)), aliasing="fresh")


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
    """min(max(t, clip_value_min), clip_value_max), in TensorFlow's order of operations."""
    t = _checks.numeric(tensor(t), "clip_by_value", "t")
    return maximum(minimum(t, clip_value_max), clip_value_min)


# ------------------------------------------------------------------------------------------
# matmul

def _mm_kernel(a, b, transpose_a=False, transpose_b=False):
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    if a.dtype.itemsize == 2 and (a.dtype.kind == "f" or a.dtype.name == "bfloat16"):
        # NumPy has no half-precision GEMM: accumulate in float32 (as TensorFlow's CPU kernel)
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
    if type(a) is np.ndarray:
        # stacks of small matrices over the threads, thin float32 GEMMs natively
        return _kernels.matmul_stack(a, b)
    return np.matmul(a, b)


def _mm_grad_a(g, out, a, b, transpose_a=False, transpose_b=False):
    if not transpose_a:
        return _matmul(g, b, transpose_a=False, transpose_b=not transpose_b)
    return _matmul(b, g, transpose_a=transpose_b, transpose_b=True)


def _mm_grad_b(g, out, a, b, transpose_a=False, transpose_b=False):
    if not transpose_b:
        return _matmul(a, g, transpose_a=not transpose_a, transpose_b=False)
    return _matmul(g, a, transpose_a=True, transpose_b=transpose_a)


def matmul_flops(inputs, out, params):
    """2 * multiply-adds: the contracted size K per output element."""
    a = inputs[0]._value
    k = a.shape[-2] if params.get("transpose_a") or params.get("adjoint_a") else \
        (a.shape[-1] if a.ndim else 1)
    return 2 * int(out._value.size) * int(k)


def _mm_kernel_device(a, b, transpose_a=False, transpose_b=False):
    # on a GPU, half types multiply as they are: cuBLAS accumulates in float32 on tensor cores
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


_matmul = primitive("matmul", _mm_kernel, grads=(_mm_grad_a, _mm_grad_b), aliasing="fresh",
                    uses_blas=True, out_kernel=_out.matmul_out, flops=matmul_flops,
                    kernels={"cupy": _mm_kernel_device})


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
    if av.dtype.kind == "b":
        raise TypeError("matmul does not take bool tensors; cast them to a number first.")
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
    try:
        np.broadcast_shapes(av.shape[:-2], bv.shape[:-2])
    except ValueError:
        raise InvalidArgumentError(
            f"matmul: batch dimensions of a {list(av.shape)} and b {list(bv.shape)} cannot "
            f"be broadcast together ({list(av.shape[:-2])} vs. {list(bv.shape[:-2])}).") from None
    if adjoint_a and av.dtype.kind == "c":
        a = conj(a)
    if adjoint_b and bv.dtype.kind == "c":
        b = conj(b)
    return _matmul(a, b, transpose_a=bool(ta), transpose_b=bool(tb))


# ------------------------------------------------------------------------------------------
# Reductions

def normalize_axis(axis, ndim, op):
    """A sorted tuple of non-negative axes, or None for all; range-checked as TensorFlow."""
    if axis is None:
        return None
    if isinstance(axis, Tensor):
        axis = axis.numpy().tolist()
    elif isinstance(axis, np.ndarray):
        axis = axis.tolist()
    try:
        axes = [a.__index__() for a in axis] if isinstance(axis, (list, tuple)) \
            else [axis.__index__()]
    except (AttributeError, TypeError):
        raise TypeError(f"{op}: axis must be an int or a list of ints, got {axis!r}") from None
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise InvalidArgumentError(
                f"{op}: axis {a} is out of range for a tensor of rank {ndim}"
                + (f" (expected -{ndim} <= axis < {ndim})." if ndim else
                   " (a scalar has no axes to reduce)."))
        out.append(a % ndim)
    return tuple(sorted(set(out)))


def _kept_shape(shape, axis):
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else d for i, d in enumerate(shape))


def _reduce_grad_broadcast(g, x, axis, keepdims):
    from tenfold.ops import array_ops
    if not keepdims:
        g = array_ops._reshape(g, shape=_kept_shape(x._value.shape, axis))
    return array_ops._broadcast_to(g, shape=x._value.shape)


_GEMV_SUM_MIN = 1 << 15


def _np_reduce(ufunc, wrapper, x, axis, keepdims, dtype):
    """ufunc.reduce called from here, not from NumPy's Python wrapper (np.sum, np.prod): a
    floating-point warning (overflow) is then attributed to tenfold and filtered (see
    framework/numpy_warnings.py). Other backends' arrays go through the wrapper."""
    if type(x) is np.ndarray:
        return ufunc.reduce(x, axis=axis, keepdims=keepdims, dtype=dtype)
    return wrapper(x, axis=axis, keepdims=keepdims, dtype=dtype)


def _sum_kernel(x, axis=None, keepdims=False):
    if type(axis) is tuple and x.ndim >= 2 and x.size >= _GEMV_SUM_MIN and \
            len(axis) == x.ndim - 1 and axis[-1] == x.ndim - 2 and \
            x.dtype in _kernels.FLOAT_DTYPES and x.flags.c_contiguous:
        # a bias gradient: every axis but the last, as a GEMV (7x faster than np.sum here)
        out = _kernels.bias_backprop(x)
        return out.reshape((1,) * (x.ndim - 1) + out.shape) if keepdims else out
    if type(axis) is tuple and x.ndim >= 3 and x.size >= _GEMV_SUM_MIN and type(x) is np.ndarray:
        # other partial sums (attention's bias gradients over (B, T) of (B, T, H, K)): GEMVs
        out = _kernels.sum_axes(x, tuple(a % x.ndim for a in axis))
        if out is not None:
            return np.expand_dims(out, axis) if keepdims else out
    if x.dtype.itemsize == 2 and (x.dtype.kind == "f" or x.dtype.name == "bfloat16"):
        return _np_reduce(np.add, np.sum, x, axis, keepdims, np.float32).astype(x.dtype)
    return _np_reduce(np.add, np.sum, x, axis, keepdims, x.dtype)


def _reduce_sum_jit(x, axis=None, keepdims=False):
    """Sums over every axis but the last with one sequential pass (Numba), else NumPy."""
    if axis is not None and x.ndim >= 2 and tuple(axis) == tuple(range(x.ndim - 1)) and \
            x.shape[-1] >= 8 and x.flags.c_contiguous and x.dtype in (np.float32, np.float64):
        from tenfold import jit
        c = x.shape[-1]
        out = np.empty(c, x.dtype)
        jit.kernels().column_sum(x.reshape(-1, c), out)
        return out.reshape((1,) * (x.ndim - 1) + (c,)) if keepdims else out
    return _sum_kernel(x, axis=axis, keepdims=keepdims)


_reduce_sum = primitive(
    "reduce_sum", _sum_kernel,
    grads=(lambda g, o, x, axis=None, keepdims=False: _reduce_grad_broadcast(g, x, axis, keepdims),),
    aliasing="fresh", jit_kernel=(_reduce_sum_jit, None), tf_op="Sum")


def _minmax_grad(g, out, x, axis=None, keepdims=False):
    from tenfold.ops import array_ops
    shape = _kept_shape(x._value.shape, axis)
    o = out if keepdims else array_ops._reshape(out, shape=shape)
    gg = g if keepdims else array_ops._reshape(g, shape=shape)
    mask = _cast(_equal(x, o), dtype=g._value.dtype)
    count = _reduce_sum(mask, axis=axis, keepdims=True)
    return _mul(_div(mask, count), gg)


def _lowest(d):
    return -np.inf if d.kind == "f" or d.name == "bfloat16" else np.iinfo(d).min


def _highest(d):
    return np.inf if d.kind == "f" or d.name == "bfloat16" else np.iinfo(d).max


def _max_kernel(x, axis=None, keepdims=False):
    if x.size == 0:  # TensorFlow gives the lowest value of the dtype, NumPy would raise
        return np.max(x, axis=axis, keepdims=keepdims, initial=_lowest(x.dtype))
    return np.max(x, axis=axis, keepdims=keepdims)


def _min_kernel(x, axis=None, keepdims=False):
    if x.size == 0:
        return np.min(x, axis=axis, keepdims=keepdims, initial=_highest(x.dtype))
    return np.min(x, axis=axis, keepdims=keepdims)


_reduce_max = primitive("reduce_max", _max_kernel, grads=(_minmax_grad,), aliasing="fresh", tf_op="Max")
_reduce_min = primitive("reduce_min", _min_kernel, grads=(_minmax_grad,), aliasing="fresh", tf_op="Min")


def _prod_grad(g, out, x, axis=None, keepdims=False):
    # d prod / d x_i = product of the others, via exclusive cumprods (no division by zero).
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
    return array_ops.transpose(d, [int(i) for i in np.argsort(perm)])


_reduce_prod = primitive("reduce_prod", lambda x, axis=None, keepdims=False:
                         _np_reduce(np.multiply, np.prod, x, axis, keepdims, x.dtype),
                         grads=(_prod_grad,), aliasing="fresh", tf_op="Prod")
_reduce_any = primitive("reduce_any", lambda x, axis=None, keepdims=False:
                        np.any(x, axis=axis, keepdims=keepdims), aliasing="fresh", no_grad=INTEGER_VALUED, tf_op="Any")
_reduce_all = primitive("reduce_all", lambda x, axis=None, keepdims=False:
                        np.all(x, axis=axis, keepdims=keepdims), aliasing="fresh", no_grad=INTEGER_VALUED, tf_op="All")


def _logsumexp_kernel(x, axis=None, keepdims=False):
    if x.size == 0:
        return np.log(_np_reduce(np.add, np.sum, np.exp(x), axis, keepdims, None))
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype)
    out = np.log(_np_reduce(np.add, np.sum, np.exp(x - m), axis, True, None)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _logsumexp_grad(g, out, x, axis=None, keepdims=False):
    from tenfold.ops import array_ops
    shape = _kept_shape(x._value.shape, axis)
    o = out if keepdims else array_ops._reshape(out, shape=shape)
    gg = g if keepdims else array_ops._reshape(g, shape=shape)
    return _mul(gg, _exp(_sub(x, o)))


_reduce_logsumexp = primitive("reduce_logsumexp", _logsumexp_kernel, grads=(_logsumexp_grad,), aliasing="fresh")


def _reduction(prim, opname, allow_bool=False, need_bool=False):
    def op(input_tensor, axis=None, keepdims=False, name=None):
        if type(input_tensor) is not Tensor and hasattr(input_tensor, "_ragged_reduce"):
            return input_tensor._ragged_reduce(opname, axis, keepdims)  # tf.RaggedTensor
        x = tensor(input_tensor)
        if need_bool and x._value.dtype != np.bool_:
            raise TypeError(f"{opname} expects a bool tensor, got {x.dtype.name}")
        if not allow_bool and x._value.dtype == np.bool_:
            raise TypeError(f"{opname} does not take bool tensors; cast to a number first.")
        ax = normalize_axis(axis, x._value.ndim, opname)
        return prim(x, axis=ax, keepdims=builtins.bool(keepdims))
    op.__name__ = opname
    op.__qualname__ = opname
    op.__doc__ = f"`tf.{opname}`: reduces `axis` (all axes when None)."
    return op


reduce_sum = _reduction(_reduce_sum, "reduce_sum")
reduce_max = _reduction(_reduce_max, "reduce_max")
reduce_min = _reduction(_reduce_min, "reduce_min")
reduce_prod = _reduction(_reduce_prod, "reduce_prod")
reduce_any = _reduction(_reduce_any, "reduce_any", allow_bool=True, need_bool=True)
reduce_all = _reduction(_reduce_all, "reduce_all", allow_bool=True, need_bool=True)
_reduce_logsumexp_op = _reduction(_reduce_logsumexp, "reduce_logsumexp")


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    x = _float_check(input_tensor, "reduce_logsumexp")
    return _reduce_logsumexp_op(x, axis, keepdims)


def _count(x, axis):
    if axis is None:
        return x._value.size
    return int(np.prod([x._value.shape[a] for a in axis]))


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    if type(input_tensor) is not Tensor and hasattr(input_tensor, "_ragged_reduce"):
        return input_tensor._ragged_reduce("reduce_mean", axis, keepdims)  # tf.RaggedTensor
    x = _checks.numeric(tensor(input_tensor), "reduce_mean", "input_tensor")
    if x._value.dtype == np.bool_:
        raise TypeError("reduce_mean does not take bool tensors; cast to a number first.")
    ax = normalize_axis(axis, x._value.ndim, "reduce_mean")
    n = _count(x, ax)
    if x._value.dtype.kind in "iu":  # integer mean truncates toward zero, as TensorFlow
        # summed in 64 bits (TensorFlow's mean of uint8 [250, 10] is 130, not (260 % 256) / 2)
        wide = np.int64 if x._value.dtype.kind == "i" else np.uint64
        narrow = x._value.dtype.itemsize < 8
        xs = cast(x, dtypes.from_numpy(np.dtype(wide))) if narrow else x
        s = _reduce_sum(xs, axis=ax, keepdims=builtins.bool(keepdims))
        q = _truncatediv(s, _scalar(builtins.max(n, 1), s))
        return cast(q, x.dtype) if narrow else q
    s = _reduce_sum(x, axis=ax, keepdims=builtins.bool(keepdims))
    return _div(s, _scalar(n, s))


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor)
    if x._value.dtype.kind not in "fc" and x.dtype != dtypes.bfloat16:
        raise TypeError(f"reduce_variance: input must be real or complex floating point, got "
                        f"{x.dtype.name}")
    m = stop_gradient_(reduce_mean(x, axis=axis, keepdims=True))
    d = _sub(x, m)
    sq = _square(_abs(d)) if x._value.dtype.kind == "c" else _square(d)
    return reduce_mean(sq, axis=axis, keepdims=keepdims)


def stop_gradient_(x):
    from tenfold.ops import array_ops
    return array_ops.stop_gradient(x)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    return sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor)
    if x._value.dtype.kind in "iu":  # TensorFlow keeps integer dtypes (and truncates)
        r = sqrt(cast(reduce_sum(square(x), axis=axis, keepdims=keepdims), dtypes.float64))
        return cast(r, x.dtype)
    return sqrt(reduce_sum(square(x), axis=axis, keepdims=keepdims))


def count_nonzero(input, axis=None, keepdims=None, dtype=dtypes.int64, name=None):
    x = tensor(input)
    nz = _not_equal(x, _zeros_like(x)) if x._value.dtype != np.bool_ else x
    kd = _checks.boolean(keepdims, "math.count_nonzero", "keepdims")
    return reduce_sum(cast(nz, dtype), axis=axis, keepdims=kd)


# ------------------------------------------------------------------------------------------
# cumsum / cumprod / cumulative_logsumexp

def _cum_kernel(fn):
    def kernel(x, axis=0, exclusive=False, reverse=False):
        if reverse:
            x = np.flip(x, axis)
        if type(x) is np.ndarray:  # called here, so a warning is tenfold's (see _np_reduce)
            out = (np.add if fn is np.cumsum else np.multiply).accumulate(x, axis=axis,
                                                                          dtype=x.dtype)
        else:
            out = fn(x, axis=axis, dtype=x.dtype)
        if exclusive:
            ident = 0 if fn is np.cumsum else 1
            pad = [(0, 0)] * x.ndim
            pad[axis] = (1, 0)
            out = np.pad(out, pad, constant_values=ident)
            out = out[(slice(None),) * axis + (slice(0, x.shape[axis]),)]
        if reverse:
            out = np.flip(out, axis)
        return xp_of(out).ascontiguousarray(out)
    return kernel


_cumsum = primitive("cumsum", _cum_kernel(np.cumsum),
                    grads=(lambda g, o, x, axis=0, exclusive=False, reverse=False:
                           _cumsum(g, axis=axis, exclusive=exclusive, reverse=not reverse),), aliasing="fresh")


def _cumprod_grad(g, out, x, axis=0, exclusive=False, reverse=False):
    # TensorFlow's rule: sum_{j>=i} g_j * out_j / x_i, taken as 0 where x_i == 0.
    s = _cumsum(_mul(g, out), axis=axis, exclusive=exclusive, reverse=not reverse)
    return div_no_nan(s, x)


_cumprod = primitive("cumprod", _cum_kernel(np.cumprod), grads=(_cumprod_grad,), aliasing="fresh")


def _cum_axis(x, axis, op):
    if x._value.ndim == 0:
        raise InvalidArgumentError(f"{op} needs a tensor of rank >= 1, got a scalar.")
    if x._value.dtype == np.bool_:
        raise TypeError(f"{op} does not take bool tensors; cast to a number first.")
    (ax,) = normalize_axis(axis, x._value.ndim, op)
    return ax


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    x = tensor(x)
    ax = _cum_axis(x, axis, "cumsum")
    return _cumsum(x, axis=ax, exclusive=builtins.bool(exclusive), reverse=builtins.bool(reverse))


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    x = tensor(x)
    ax = _cum_axis(x, axis, "cumprod")
    return _cumprod(x, axis=ax, exclusive=builtins.bool(exclusive), reverse=builtins.bool(reverse))


# ------------------------------------------------------------------------------------------
# argmax / argmin

def _arg_kernel(fn, fill):
    def kernel(x, axis, dtype):
        if x.dtype.kind == "f":
            nan = np.isnan(x)
            if nan.any():  # NaN never wins a comparison, as in TensorFlow's kernel
                x = np.where(nan, fill, x)
        return fn(x, axis=axis).astype(dtype)
    return kernel


def _arg(fn, opname):
    prim = primitive(opname, _arg_kernel(fn, -np.inf if fn is np.argmax else np.inf),
                     no_grad=INTEGER_VALUED, aliasing="fresh")

    def op(input, axis=None, output_type=dtypes.int64, name=None):
        x = tensor(input)
        if x._value.ndim == 0:
            raise InvalidArgumentError(f"{opname} needs a tensor of rank >= 1, got a scalar.")
        if axis is None:  # bool tensors are accepted (True > False), as TensorFlow
            axis = 0
        (ax,) = normalize_axis(axis, x._value.ndim, opname)
        if x._value.shape[ax] == 0:
            raise InvalidArgumentError(f"{opname}: reduction axis {ax} of shape "
                                       f"{list(x._value.shape)} is empty.")
        out_t = dtypes.as_dtype(output_type)
        if out_t not in (dtypes.int32, dtypes.int64, dtypes.int16, dtypes.uint16):
            raise TypeError(f"{opname}: output_type must be int32 or int64, got {out_t.name}")
        return prim(x, axis=ax, dtype=out_t._np)
    op.__name__ = opname
    op.__qualname__ = opname
    return op


argmax = _arg(np.argmax, "argmax")
argmin = _arg(np.argmin, "argmin")
_argmax_kernel = _arg_kernel(np.argmax, -np.inf)


def argmax_rows_kernel(x2):
    """argmax's kernel along the last axis (int64): fused_ops.argmax_matches' twin."""
    return _argmax_kernel(x2, axis=-1, dtype=np.int64)


# ------------------------------------------------------------------------------------------

def add_n(inputs, name=None):
    """Sums a list of tensors of the same shape and dtype."""
    inputs = _checks.tensor_list(inputs, "add_n", "inputs")
    if not inputs:
        raise ValueError("add_n needs at least one input")
    ts = [tensor(t) for t in inputs]
    s0 = ts[0]._value.shape
    for i, t in enumerate(ts[1:], 1):
        if t._value.shape != s0:
            raise InvalidArgumentError(f"add_n: all inputs must have the same shape; input 0 "
                                       f"has {list(s0)}, input {i} has {list(t._value.shape)}")
    out = ts[0]
    for t in ts[1:]:
        out = add(out, t)
    return out


# Less common ops live in math_extra (loaded on first use, to keep `import tenfold`
# fast); they remain reachable as attributes of this module.
_IN_EXTRA = frozenset([
    '_angle', '_bessel', '_betainc', '_complex', '_complex_of', '_cumlse', '_cumlse_grad',
    '_cumlse_kernel', '_digamma', '_digamma_fallback', '_erf', '_erfc', '_erfinv',
    '_erfinv_fallback', '_igamma', '_igammac', '_imag', '_lgamma', '_nextafter', '_polygamma',
    '_polygamma1', '_real', '_real_of', '_scipy_kernel', '_special', '_trigamma_fallback',
    '_trigamma_kernel', '_vectorized', '_x_times', '_zeta', 'accumulate_n', 'angle',
    'bessel_i0', 'bessel_i0e', 'bessel_i1', 'bessel_i1e', 'betainc', 'complex',
    'cumulative_logsumexp', 'digamma', 'erf', 'erfc', 'erfcinv', 'erfinv', 'igamma', 'igammac',
    'imag', 'invert_permutation', 'is_non_decreasing', 'is_strictly_increasing', 'lbeta',
    'lgamma', 'ndtri', 'nextafter', 'polygamma', 'polyval', 'real', 'reshape_flat', 'xdivy',
    'xlog1py', 'xlogy', 'zeta'])


def __getattr__(name):
    if name in _IN_EXTRA:
        from tenfold.ops import math_extra
        return getattr(math_extra, name)
    raise AttributeError(f"module 'tenfold.ops.math_ops' has no attribute {name!r}")
