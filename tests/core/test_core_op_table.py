"""The op table: one entry per op, checked against NumPy (values, shapes, dtypes) over several
shapes (broadcasting, size-0 dims, 0-d), dtypes and keyword variants; float64 runs also check
gradients against central finite differences. A new op is one new entry."""
import math

import numpy as np
import pytest
import scipy.special as sp

import tenfold as tf
from tenfold.testing import OpCase, run_op_case

# --- shapes ------------------------------------------------------------------------------
U = [((2, 3),), ((0, 3),), ((),), ((4, 1, 2),)]                       # unary
B = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2,)),   # binary, broadcasting
     ((0, 3), (3,)), ((), ())]
F = ("float32", "float64")
FH = ("float16", "float32", "float64")
I = ("int32", "int64")


def unary(name, fn, ref, domain="real", dtypes=F, grad=True, **kw):
    return OpCase(name, fn, ref, U, dtypes=dtypes, domain=domain, grad=grad, **kw)


def binary(name, fn, ref, domain="real", dtypes=F, grad=True, **kw):
    return OpCase(name, fn, ref, B, dtypes=dtypes, domain=domain, grad=grad, **kw)


def acosh_domain(rng, shape, dtype, i):
    return rng.uniform(1.2, 3.0, size=shape).astype(dtype)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
BOOL = ("bool",)

CASES = [
    # --- unary math ---
    unary("negative", tf.negative, np.negative, dtypes=FH + I),
    unary("abs", tf.abs, np.abs, dtypes=FH + I, domain="nonzero"),
    unary("sign", tf.sign, np.sign, dtypes=F + I, domain="nonzero"),
    unary("sqrt", tf.sqrt, np.sqrt, domain="positive", dtypes=FH),
    unary("rsqrt", tf.math.rsqrt, lambda x: 1 / np.sqrt(x), domain="positive"),
    unary("square", tf.square, np.square, dtypes=FH + I),
    unary("exp", tf.exp, np.exp, dtypes=FH),
    unary("expm1", tf.math.expm1, np.expm1),
    unary("log", tf.math.log, np.log, domain="positive", dtypes=FH),
    unary("log1p", tf.math.log1p, np.log1p, domain="positive"),
    unary("tanh", tf.tanh, np.tanh, dtypes=FH),
    unary("sigmoid", tf.sigmoid, sigmoid, dtypes=FH),
    unary("softplus", tf.math.softplus, lambda x: np.logaddexp(0, x)),
    unary("log_sigmoid", tf.math.log_sigmoid, lambda x: -np.logaddexp(0, -x)),
    unary("softsign", tf.math.softsign, lambda x: x / (1 + np.abs(x)), domain="nonzero"),
    unary("sin", tf.sin, np.sin), unary("cos", tf.cos, np.cos),
    unary("tan", tf.tan, np.tan, domain="unit"),
    unary("asin", tf.asin, np.arcsin, domain="unit"),
    unary("acos", tf.acos, np.arccos, domain="unit"),
    unary("atan", tf.atan, np.arctan), unary("sinh", tf.sinh, np.sinh),
    unary("cosh", tf.cosh, np.cosh), unary("asinh", tf.asinh, np.arcsinh),
    unary("acosh", tf.acosh, np.arccosh, domain=acosh_domain),
    unary("atanh", tf.atanh, np.arctanh, domain="unit"),
    unary("reciprocal", tf.math.reciprocal, np.reciprocal, domain="nonzero"),
    unary("erf", tf.math.erf, sp.erf), unary("erfc", tf.math.erfc, sp.erfc),
    unary("erfinv", tf.math.erfinv, sp.erfinv, domain="unit", rtol=1e-4),
    unary("lgamma", tf.math.lgamma, sp.gammaln, domain="positive", rtol=1e-4),
    unary("digamma", tf.math.digamma, sp.digamma, domain="positive", rtol=1e-4,
          grad_rtol=1e-4),
    unary("ndtri", tf.math.ndtri, sp.ndtri, domain=lambda r, s, d, i: r.uniform(
        0.05, 0.95, size=s).astype(d), rtol=1e-4, grad_rtol=1e-4),
    unary("floor", tf.floor, np.floor, grad=False), unary("ceil", tf.math.ceil, np.ceil,
                                                          grad=False),
    unary("round", tf.round, np.round, grad=False, domain=lambda r, s, d, i: (
        np.round(r.standard_normal(s) * 4) / 2).astype(d)),
    unary("is_nan", tf.math.is_nan, np.isnan, grad=False, out_dtype="bool",
          domain=lambda r, s, d, i: np.where(r.random(s) < 0.3, np.nan, 1.0).astype(d)),
    unary("is_inf", tf.math.is_inf, np.isinf, grad=False, out_dtype="bool",
          domain=lambda r, s, d, i: np.where(r.random(s) < 0.3, -np.inf, 1.0).astype(d)),
    unary("is_finite", tf.math.is_finite, np.isfinite, grad=False, out_dtype="bool",
          domain=lambda r, s, d, i: np.where(r.random(s) < 0.3, np.nan, 1.0).astype(d)),
    unary("logical_not", tf.logical_not, np.logical_not, dtypes=BOOL, domain="bool",
          grad=False),
    unary("cast_to_int", lambda x: tf.cast(x, tf.int32), lambda x: np.trunc(x).astype(np.int32),
          grad=False, out_dtype="int32"),
    unary("cast_to_f64", lambda x: tf.cast(x, tf.float64), lambda x: x, out_dtype="float64"),
    unary("saturate_cast", lambda x: tf.saturate_cast(x * 100, tf.int8),
          lambda x: np.trunc(np.clip(x * 100, -128, 127)).astype(np.int8), grad=False,
          out_dtype="int8"),
    unary("identity", tf.identity, lambda x: x, dtypes=F + I + BOOL,
          domain=lambda r, s, d, i: (r.random(s) < 0.5) if d == np.bool_ else
          r.standard_normal(s).astype(d)),
    unary("stop_gradient", tf.stop_gradient, lambda x: x, grad=False),
    unary("zeros_like", tf.zeros_like, np.zeros_like, dtypes=F + I, grad=False),
    unary("ones_like", tf.ones_like, np.ones_like, dtypes=F + I, grad=False),
    unary("clip_by_value", lambda x: tf.clip_by_value(x, -0.5, 0.7),
          lambda x: np.minimum(np.maximum(x, -0.5), 0.7)),
    # --- activations ---
    unary("relu", tf.nn.relu, lambda x: np.maximum(x, 0), dtypes=FH + I, domain="nonzero"),
    unary("relu6", tf.nn.relu6, lambda x: np.clip(x, 0, 6), domain=lambda r, s, d, i: (
        r.standard_normal(s) * 5).astype(d)),
    unary("elu", tf.nn.elu, lambda x: np.where(x > 0, x, np.expm1(x)), domain="nonzero"),
    unary("selu", tf.nn.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x)),
          domain="nonzero"),
    unary("gelu", tf.nn.gelu, lambda x: 0.5 * x * (1 + sp.erf(x / np.sqrt(2)))),
    OpCase("gelu_approx", tf.nn.gelu, lambda x, approximate: 0.5 * x * (1 + np.tanh(
        np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), U, kwargs=[dict(approximate=True)]),
    unary("silu", tf.nn.silu, lambda x: x * sigmoid(x)),
    OpCase("leaky_relu", tf.nn.leaky_relu, lambda x, alpha=0.2: np.where(x > 0, x, alpha * x),
           U, domain="nonzero", kwargs=[{}, dict(alpha=0.01), dict(alpha=2.0)]),
    OpCase("softmax", tf.nn.softmax, lambda x, axis=-1: softmax(x, axis),
           [((2, 3),), ((4, 1, 2),), ((3,),)], kwargs=[{}, dict(axis=0)]),
    OpCase("log_softmax", tf.nn.log_softmax, lambda x, axis=-1: log_softmax(x, axis),
           [((2, 3),), ((4, 1, 2),)], kwargs=[{}, dict(axis=0)]),
    OpCase("l2_normalize", tf.math.l2_normalize,
           lambda x, axis=None: x / np.sqrt(np.maximum(np.sum(x * x, axis=axis,
                                                              keepdims=True), 1e-12)),
           [((2, 3),), ((4,),)], kwargs=[{}, dict(axis=-1)]),
    OpCase("bias_add", tf.nn.bias_add, lambda x, b: x + b,
           [((2, 3), (3,)), ((2, 4, 3), (3,)), ((0, 3), (3,))]),
    OpCase("bias_add_nchw", lambda x, b: tf.nn.bias_add(x, b, data_format="NCHW"),
           lambda x, b: x + b[:, None, None], [((2, 3, 4, 2), (3,))]),
    # --- binary math ---
    binary("add", tf.add, np.add, dtypes=FH + I),
    binary("subtract", tf.subtract, np.subtract, dtypes=FH + I),
    binary("multiply", tf.multiply, np.multiply, dtypes=FH + I),
    binary("divide", tf.divide, np.divide, domain="nonzero", dtypes=FH),
    binary("divide_int", tf.divide, np.divide, domain="posint", dtypes=I, grad=False,
           out_dtype="float64"),
    binary("divide_int8", tf.divide, np.divide, domain="posint", dtypes=("int8", "int16"),
           grad=False, out_dtype="float32"),
    binary("floordiv", tf.math.floordiv, np.floor_divide, domain="nonzero", grad=False,
           dtypes=F),
    binary("floordiv_int", tf.math.floordiv, np.floor_divide,
           domain=lambda r, s, d, i: (r.integers(-9, 10, s) if i == 0 else
                                      r.choice([-3, -2, 2, 3], s)).astype(d), grad=False,
           dtypes=I),
    binary("floormod", tf.math.floormod, np.mod, domain="nonzero"),
    binary("truncatediv", tf.truncatediv, lambda x, y: np.trunc(x / y).astype(x.dtype),
           domain=lambda r, s, d, i: (r.integers(-9, 10, s) if i == 0 else
                                      r.choice([-3, -2, 2, 3], s)).astype(d), grad=False,
           dtypes=I),
    binary("truncatemod", tf.truncatemod, np.fmod, domain="nonzero"),
    binary("pow", tf.pow, np.power, domain=lambda r, s, d, i: (
        r.uniform(0.5, 2, s) if i == 0 else r.standard_normal(s)).astype(d)),
    binary("pow_int", tf.pow, np.power, domain=lambda r, s, d, i: r.integers(0, 4, s).astype(d),
           dtypes=I, grad=False),
    binary("maximum", tf.maximum, np.maximum, domain="distinct", dtypes=F + I),
    binary("minimum", tf.minimum, np.minimum, domain="distinct", dtypes=F + I),
    binary("atan2", tf.atan2, np.arctan2, domain="nonzero"),
    binary("squared_difference", tf.math.squared_difference, lambda x, y: (x - y) ** 2),
    # the *_no_nan / x*f(y) ops: values with zeros (TensorFlow's gradient there is 0, which
    # finite differences across the kink can't confirm), gradients on nonzero inputs
    *[c for nm, fn, ref, zero_arg in [
        ("div_no_nan", tf.math.divide_no_nan,
         lambda x, y: np.where(y == 0, 0, x / np.where(y == 0, 1, y)), 1),
        ("multiply_no_nan", tf.math.multiply_no_nan, lambda x, y: np.where(y == 0, 0, x * y), 1),
        ("xlogy", tf.math.xlogy, lambda x, y: np.where(x == 0, 0, x * np.log(y)), 0),
        ("xdivy", tf.math.xdivy, lambda x, y: np.where(x == 0, 0, x / y), 0),
        ("xlog1py", tf.math.xlog1py, lambda x, y: np.where(x == 0, 0, x * np.log1p(y)), 0)]
      for c in (
        binary(nm, fn, ref, grad=False, domain=lambda r, s, d, i, z=zero_arg: (
            np.where(r.random(s) < 0.3, 0, r.uniform(0.5, 2, s)) if i == z else
            r.uniform(0.5, 2, s) * r.choice([-1, 1], s) if z == 1 else
            r.uniform(0.5, 2, s)).astype(d)),
        binary(nm + "_grad", fn, ref, domain=lambda r, s, d, i: r.uniform(
            0.5, 2, s).astype(d)))],
    binary("equal", tf.equal, np.equal, domain="int", dtypes=F + I, grad=False,
           out_dtype="bool"),
    binary("not_equal", tf.not_equal, np.not_equal, domain="int", dtypes=F + I, grad=False,
           out_dtype="bool"),
    binary("less", tf.less, np.less, domain="int", dtypes=F + I, grad=False, out_dtype="bool"),
    binary("less_equal", tf.less_equal, np.less_equal, domain="int", dtypes=F + I,
           grad=False, out_dtype="bool"),
    binary("greater", tf.greater, np.greater, domain="int", dtypes=F + I, grad=False,
           out_dtype="bool"),
    binary("greater_equal", tf.greater_equal, np.greater_equal, domain="int", dtypes=F + I,
           grad=False, out_dtype="bool"),
    binary("logical_and", tf.logical_and, np.logical_and, domain="bool", dtypes=BOOL,
           grad=False),
    binary("logical_or", tf.logical_or, np.logical_or, domain="bool", dtypes=BOOL, grad=False),
    binary("logical_xor", tf.math.logical_xor, np.logical_xor, domain="bool", dtypes=BOOL,
           grad=False),
    binary("bitwise_and", tf.bitwise.bitwise_and, np.bitwise_and, domain="int", dtypes=I,
           grad=False),
    binary("bitwise_or", tf.bitwise.bitwise_or, np.bitwise_or, domain="int", dtypes=I,
           grad=False),
    binary("bitwise_xor", tf.bitwise.bitwise_xor, np.bitwise_xor, domain="int", dtypes=I,
           grad=False),
    binary("left_shift", tf.bitwise.left_shift, np.left_shift,
           domain=lambda r, s, d, i: r.integers(0, 5, s).astype(d), dtypes=I, grad=False),
    OpCase("where", lambda c, x, y: tf.where(c, x, y), np.where,
           [((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), ()), ((0, 3), (3,), (3,))],
           domain=lambda r, s, d, i: (r.random(s) < 0.5) if i == 0 else
           r.standard_normal(s).astype(d)),
    OpCase("add_n", lambda a, b, c: tf.add_n([a, b, c]), lambda a, b, c: a + b + c,
           [((2, 3),) * 3, ((),) * 3]),
    # --- matmul and friends ---
    OpCase("matmul", tf.matmul, np.matmul,
           [((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (1, 3, 2)), ((0, 3), (3, 2)),
            ((2, 0), (0, 3)), ((2, 1, 2, 3), (3, 3, 2))], dtypes=FH + I),
    OpCase("matmul_ta", lambda a, b: tf.matmul(a, b, transpose_a=True),
           lambda a, b: np.swapaxes(a, -1, -2) @ b, [((3, 2), (3, 4)), ((2, 3, 2), (3, 4))]),
    OpCase("matmul_tb", lambda a, b: tf.matmul(a, b, transpose_b=True),
           lambda a, b: a @ np.swapaxes(b, -1, -2), [((2, 3), (4, 3)), ((2, 2, 3), (4, 3))]),
    OpCase("matmul_tab", lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
           lambda a, b: np.swapaxes(a, -1, -2) @ np.swapaxes(b, -1, -2), [((3, 2), (4, 3))]),
    OpCase("tensordot", lambda a, b, axes: tf.tensordot(a, b, axes),
           lambda a, b, axes: np.tensordot(a, b, axes), [((2, 3, 4), (3, 4, 2))],
           kwargs=[dict(axes=2), dict(axes=[[1], [0]]), dict(axes=[[1, 2], [0, 1]]),
                   dict(axes=0)]),
    OpCase("tensordot_1", lambda a, b: tf.tensordot(a, b, 1),
           lambda a, b: np.tensordot(a, b, 1), [((2, 3), (3, 4)), ((3,), (3, 2))]),
    OpCase("einsum_bmm", lambda a, b: tf.einsum("bij,bjk->bik", a, b),
           lambda a, b: np.einsum("bij,bjk->bik", a, b), [((2, 3, 4), (2, 4, 2))]),
    OpCase("einsum_ellipsis", lambda a, b: tf.einsum("...ij,jk->...ik", a, b),
           lambda a, b: np.einsum("...ij,jk->...ik", a, b), [((2, 3, 4), (4, 2)), ((3, 4),
                                                                                   (4, 2))]),
    OpCase("einsum_trace_outer", lambda a, b: tf.einsum("ii,j->j", a, b),
           lambda a, b: np.einsum("ii,j->j", a, b), [((3, 3), (2,))]),
    OpCase("einsum_implicit", lambda a, b: tf.einsum("ij,jk", a, b),
           lambda a, b: np.einsum("ij,jk", a, b), [((2, 3), (3, 4))]),
    # --- reductions ---
    *[OpCase(f"{n}", getattr(tf, n) if hasattr(tf, n) else getattr(tf.math, n),
             lambda x, axis=None, keepdims=False, _f=f: _f(x, axis=_tup(axis), keepdims=keepdims),
             [((2, 3, 4),)], kwargs=[{}, dict(axis=0), dict(axis=-1), dict(axis=[0, 2]),
                                     dict(axis=1, keepdims=True), dict(keepdims=True)],
             domain="distinct" if n in ("reduce_max", "reduce_min") else "real",
             dtypes=F + (I if n in ("reduce_sum", "reduce_max", "reduce_min") else ()))
      for n, f in [("reduce_sum", np.sum), ("reduce_mean", np.mean), ("reduce_max", np.max),
                   ("reduce_min", np.min), ("reduce_prod", np.prod),
                   ("reduce_logsumexp", lambda x, axis, keepdims: sp.logsumexp(
                       x, axis=axis, keepdims=keepdims)),
                   ("reduce_variance", np.var), ("reduce_std", np.std),
                   ("reduce_euclidean_norm", lambda x, axis, keepdims: np.sqrt(
                       np.sum(x * x, axis=axis, keepdims=keepdims)))]],
    OpCase("reduce_sum_edge", tf.reduce_sum, lambda x, axis=None: np.sum(x, axis=axis),
           [((0, 3),), ((),), ((3,),)], kwargs=[{}]),
    OpCase("reduce_sum_empty_axis", tf.reduce_sum, lambda x, axis: np.sum(x, axis=axis),
           [((0, 3),)], kwargs=[dict(axis=0), dict(axis=1)]),
    OpCase("reduce_max_empty", tf.reduce_max, lambda x, axis: np.max(x, axis=axis,
                                                                      initial=-np.inf),
           [((0, 3),)], kwargs=[dict(axis=0)], grad=False),
    OpCase("reduce_mean_int", tf.reduce_mean, lambda x, axis=None: np.trunc(
        np.sum(x, axis=axis) / (x.size if axis is None else x.shape[axis])).astype(x.dtype),
        [((2, 3),)], kwargs=[{}, dict(axis=1)], dtypes=I, domain="int", grad=False),
    OpCase("reduce_any", tf.reduce_any, lambda x, axis=None: np.any(x, axis=axis),
           [((2, 3),), ((0, 2),)], kwargs=[{}, dict(axis=1)], dtypes=BOOL, domain="bool",
           grad=False),
    OpCase("reduce_all", tf.reduce_all, lambda x, axis=None: np.all(x, axis=axis),
           [((2, 3),), ((0, 2),)], kwargs=[{}, dict(axis=1)], dtypes=BOOL, domain="bool",
           grad=False),
    OpCase("count_nonzero", tf.math.count_nonzero, lambda x, axis=None: np.count_nonzero(
        x, axis=axis).astype(np.int64), [((3, 4),)], kwargs=[{}, dict(axis=0)], domain="int",
        dtypes=F + I, grad=False, out_dtype="int64"),
    OpCase("argmax", tf.argmax, lambda x, axis=0: np.argmax(x, axis=axis),
           [((3, 4),), ((5,),)], kwargs=[{}, dict(axis=-1)], domain="distinct",
           dtypes=F + I, grad=False, out_dtype="int64"),
    OpCase("argmin", tf.argmin, lambda x, axis=0: np.argmin(x, axis=axis),
           [((3, 4),), ((5,),)], kwargs=[{}, dict(axis=-1)], domain="distinct",
           dtypes=F + I, grad=False, out_dtype="int64"),
    OpCase("cumsum", tf.cumsum, lambda x, axis=0, exclusive=False, reverse=False: _cum(
        np.cumsum, 0, x, axis, exclusive, reverse), [((3, 4),), ((0, 2),)],
        kwargs=[{}, dict(axis=1), dict(exclusive=True), dict(reverse=True),
                dict(axis=1, exclusive=True, reverse=True)], dtypes=F + I),
    OpCase("cumprod", tf.math.cumprod, lambda x, axis=0, exclusive=False, reverse=False: _cum(
        np.cumprod, 1, x, axis, exclusive, reverse), [((3, 4),)],
        kwargs=[{}, dict(axis=1), dict(exclusive=True), dict(reverse=True)],
        domain="nonzero"),
    OpCase("cumulative_logsumexp", tf.math.cumulative_logsumexp,
           lambda x, axis=0, reverse=False, exclusive=False: _cum(
               np.logaddexp.accumulate, -np.inf, x, axis, exclusive, reverse),
           [((3, 4),)], kwargs=[{}, dict(axis=1), dict(reverse=True), dict(exclusive=True)],
           grad_rtol=1e-4),
    # --- shape manipulation ---
    OpCase("reshape", tf.reshape, lambda x, shape: np.reshape(x, shape), [((2, 3, 4),)],
           kwargs=[dict(shape=[6, 4]), dict(shape=[-1]), dict(shape=[4, -1, 2])]),
    OpCase("reshape_0", tf.reshape, lambda x, shape: np.reshape(x, shape), [((0, 3),)],
           kwargs=[dict(shape=[3, 0]), dict(shape=[-1, 3])]),
    OpCase("transpose", tf.transpose, lambda x, perm=None: np.transpose(x, perm),
           [((2, 3, 4),)], kwargs=[{}, dict(perm=[1, 0, 2]), dict(perm=[2, 0, 1])],
           dtypes=F + I),
    OpCase("expand_dims", tf.expand_dims, lambda x, axis: np.expand_dims(x, axis),
           [((2, 3),), ((),)], kwargs=[dict(axis=0), dict(axis=-1)]),
    OpCase("squeeze", tf.squeeze, lambda x, axis=None: np.squeeze(x, _tup(axis)),
           [((1, 3, 1),)], kwargs=[{}, dict(axis=0), dict(axis=[0, 2])]),
    OpCase("broadcast_to", tf.broadcast_to, lambda x, shape: np.broadcast_to(x, shape),
           [((3,),), ((2, 1),)], kwargs=[dict(shape=[4, 2, 3])],
           domain=lambda r, s, d, i: r.standard_normal(s if s != (2, 1) else (1, 3)).astype(d)),
    OpCase("concat", lambda a, b, axis: tf.concat([a, b], axis),
           lambda a, b, axis: np.concatenate([a, b], axis), [((2, 3), (2, 3)), ((0, 3), (0, 3))],
           kwargs=[dict(axis=0), dict(axis=1), dict(axis=-1)], dtypes=F + I),
    OpCase("stack", lambda a, b, axis: tf.stack([a, b], axis),
           lambda a, b, axis: np.stack([a, b], axis), [((2, 3), (2, 3)), ((), ())],
           kwargs=[dict(axis=0), dict(axis=-1)]),
    OpCase("unstack", lambda x: tf.unstack(x, axis=1), lambda x: list(np.moveaxis(x, 1, 0)),
           [((2, 3),)], multi_output=True),
    OpCase("split", lambda x: tf.split(x, [1, -1, 1], axis=1),
           lambda x: np.split(x, [1, 3], axis=1), [((2, 4),)], multi_output=True),
    OpCase("tile", tf.tile, lambda x, multiples: np.tile(x, multiples), [((2, 3),)],
           kwargs=[dict(multiples=[2, 1]), dict(multiples=[1, 3]), dict(multiples=[0, 2])],
           dtypes=F + I),
    OpCase("pad", tf.pad, lambda x, paddings, mode="CONSTANT", constant_values=0: np.pad(
        x, paddings, mode=mode.lower(), **({"constant_values": constant_values}
                                            if mode == "CONSTANT" else {})),
        [((3, 4),)], kwargs=[dict(paddings=[[1, 2], [0, 1]]),
                             dict(paddings=[[1, 1], [2, 0]], constant_values=1.5),
                             dict(paddings=[[2, 1], [1, 3]], mode="REFLECT"),
                             dict(paddings=[[3, 1], [1, 4]], mode="SYMMETRIC")]),
    OpCase("reverse", tf.reverse, lambda x, axis: np.flip(x, axis), [((2, 3, 4),)],
           kwargs=[dict(axis=[0]), dict(axis=[1, -1])]),
    OpCase("roll", tf.roll, lambda x, shift, axis: np.roll(x, shift, axis), [((3, 4),)],
           kwargs=[dict(shift=1, axis=0), dict(shift=[-1, 2], axis=[0, 1])]),
    OpCase("repeat", tf.repeat, lambda x, repeats, axis=None: np.repeat(x, repeats, axis),
           [((2, 3),)], kwargs=[dict(repeats=2), dict(repeats=[1, 0, 2], axis=1)]),
    OpCase("getitem", lambda x: x[1:, ::-2, tf.newaxis, ..., 0],
           lambda x: x[1:, ::-2, None, ..., 0], [((3, 4, 2),)]),
    OpCase("getitem_neg", lambda x: x[-1, -3:-1], lambda x: x[-1, -3:-1], [((3, 4),)]),
    OpCase("slice", tf.slice, lambda x, begin, size: x[tuple(
        slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))], [((3, 4),)],
        kwargs=[dict(begin=[1, 0], size=[2, -1]), dict(begin=[0, 1], size=[1, 2])]),
    OpCase("strided_slice", lambda x: tf.strided_slice(x, [0, 3], [3, 0], [2, -1]),
           lambda x: x[0:3:2, 3:0:-1], [((3, 4),)]),
    OpCase("gather", tf.gather, lambda p, i, axis=0, batch_dims=0: np.take(p, i, axis=axis),
           [((5, 3), (4,)), ((5, 3), (2, 2)), ((5, 3), ())], kwargs=[{}],
           domain=lambda r, s, d, i: r.standard_normal(s).astype(d) if i == 0 else
           r.integers(0, 5, s).astype(np.int32)),
    OpCase("gather_axis1", lambda p, i: tf.gather(p, i, axis=1),
           lambda p, i: np.take(p, i, axis=1), [((2, 4, 3), (5,))],
           domain=lambda r, s, d, i: r.standard_normal(s).astype(d) if i == 0 else
           r.integers(0, 4, s).astype(np.int64)),
    OpCase("gather_batch_dims", lambda p, i: tf.gather(p, i, axis=1, batch_dims=1),
           lambda p, i: np.stack([np.take(pp, ii, axis=0) for pp, ii in zip(p, i)]),
           [((2, 4, 3), (2, 5))], domain=lambda r, s, d, i: r.standard_normal(s).astype(d)
           if i == 0 else r.integers(0, 4, s).astype(np.int32)),
    OpCase("gather_nd", tf.gather_nd, lambda p, i: p[tuple(np.moveaxis(i, -1, 0))],
           [((4, 3), (2, 2)), ((4, 3, 2), (5, 1))],
           domain=lambda r, s, d, i: r.standard_normal(s).astype(d) if i == 0 else
           r.integers(0, 3, s).astype(np.int32)),
    OpCase("scatter_nd", lambda i, u: tf.scatter_nd(i, u, [5, 2]),
           lambda i, u: _scatter_add(i, u, (5, 2)), [((4, 1), (4, 2))],
           domain=lambda r, s, d, i: r.integers(0, 5, s).astype(np.int32) if i == 0 else
           r.standard_normal(s).astype(d)),
    OpCase("tensor_scatter_nd_update", lambda t, i, u: tf.tensor_scatter_nd_update(t, i, u),
           lambda t, i, u: _scatter_set(t, i, u), [((5, 2), (3, 1), (3, 2))],
           domain=lambda r, s, d, i: r.permutation(5)[:s[0]].reshape(s).astype(np.int32)
           if i == 1 else r.standard_normal(s).astype(d)),
    OpCase("tensor_scatter_nd_add", lambda t, i, u: tf.tensor_scatter_nd_add(t, i, u),
           lambda t, i, u: t + _scatter_add(i, u, t.shape), [((5, 2), (4, 1), (4, 2))],
           domain=lambda r, s, d, i: r.integers(0, 5, s).astype(np.int32) if i == 1 else
           r.standard_normal(s).astype(d)),
    OpCase("boolean_mask", lambda x, m: tf.boolean_mask(x, m), lambda x, m: x[m],
           [((4, 3), (4,)), ((2, 3), (2, 3))],
           domain=lambda r, s, d, i: r.standard_normal(s).astype(d) if i == 0 else
           r.random(s) < 0.5),
    OpCase("one_hot", lambda i: tf.one_hot(i, 4), lambda i: np.eye(5)[:, :4][np.where(
        (i >= 0) & (i < 4), i, 4)], [((3,),), ((2, 2),)], dtypes=I,
        domain=lambda r, s, d, i: r.integers(-1, 5, s).astype(d), grad=False,
        out_dtype="float32"),
    OpCase("sort", tf.sort, lambda x, axis=-1, direction="ASCENDING": (
        np.sort(x, axis) if direction == "ASCENDING" else -np.sort(-x, axis)),
        [((3, 4),)], kwargs=[{}, dict(axis=0), dict(direction="DESCENDING")],
        domain="distinct"),
    OpCase("argsort", tf.argsort, lambda x, direction="ASCENDING": (
        np.argsort(x, -1, kind="stable") if direction == "ASCENDING" else
        np.argsort(-x, -1, kind="stable")).astype(np.int32), [((3, 4),)],
        kwargs=[{}, dict(direction="DESCENDING")], domain="int", grad=False,
        out_dtype="int32"),
    OpCase("top_k", lambda x: tf.math.top_k(x, 2), lambda x: (
        -np.sort(-x, -1)[..., :2], np.argsort(-x, -1, kind="stable")[..., :2]),
        [((3, 4),)], domain="distinct", multi_output=True, out_dtype=[None, "int32"]),
    OpCase("top_k_values", lambda x: tf.math.top_k(x, 2).values,
           lambda x: -np.sort(-x, -1)[..., :2], [((3, 4),), ((5,),)], domain="distinct"),
    OpCase("meshgrid", lambda a, b: tf.stack(tf.meshgrid(a, b)),
           lambda a, b: np.stack(np.meshgrid(a, b)), [((3,), (2,))]),
    OpCase("meshgrid_ij", lambda a, b: tf.stack(tf.meshgrid(a, b, indexing="ij")),
           lambda a, b: np.stack(np.meshgrid(a, b, indexing="ij")), [((3,), (2,))]),
    OpCase("searchsorted", tf.searchsorted, lambda s, v, side="left": np.stack(
        [np.searchsorted(a, b, side) for a, b in zip(s, v)]).astype(np.int32),
        [((2, 5), (2, 3))], kwargs=[{}, dict(side="right")], dtypes=F,
        domain=lambda r, s, d, i: np.sort(np.round(r.standard_normal(s) * 2), -1).astype(d),
        grad=False, out_dtype="int32"),
    OpCase("sequence_mask", lambda n: tf.sequence_mask(n, 5), lambda n: np.arange(5) < n[
        ..., None], [((3,),)], dtypes=I, domain=lambda r, s, d, i: r.integers(0, 6, s).astype(
            d), grad=False, out_dtype="bool"),
    OpCase("linspace", lambda a, b: tf.linspace(a, b, 5), lambda a, b: np.linspace(a, b, 5),
           [((), ()), ((2,), (2,))]),
    OpCase("unique", lambda x: tf.unique(x), lambda x: _unique(x), [((8,),)], dtypes=I,
           domain="int", grad=False, multi_output=True, out_dtype=[None, "int32"]),
    # --- nn losses and normalization ---
    OpCase("softmax_cross_entropy_with_logits",
           lambda l, x: tf.nn.softmax_cross_entropy_with_logits(l, x),
           lambda l, x: -np.sum(l * log_softmax(x), -1), [((3, 4), (3, 4)), ((4,), (4,))],
           domain=lambda r, s, d, i: (softmax(r.standard_normal(s)) if i == 0 else
                                      r.standard_normal(s)).astype(d)),
    OpCase("sparse_softmax_cross_entropy_with_logits",
           lambda l, x: tf.nn.sparse_softmax_cross_entropy_with_logits(l, x),
           lambda l, x: -np.take_along_axis(log_softmax(x), l[..., None], -1)[..., 0],
           [((3,), (3, 4)), ((2, 2), (2, 2, 5))],
           domain=lambda r, s, d, i: r.integers(0, 4, s).astype(np.int32) if i == 0 else
           r.standard_normal(s).astype(d)),
    OpCase("sigmoid_cross_entropy_with_logits",
           lambda l, x: tf.nn.sigmoid_cross_entropy_with_logits(labels=l, logits=x),
           lambda z, x: np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))),
           [((3, 4), (3, 4))], domain=lambda r, s, d, i: (r.random(s) if i == 0 else
                                                          r.standard_normal(s) * 3).astype(d)),
    OpCase("weighted_cross_entropy_with_logits",
           lambda l, x: tf.nn.weighted_cross_entropy_with_logits(l, x, 2.0),
           lambda z, x: (1 - z) * x + (1 + z) * (np.log1p(np.exp(-np.abs(x))) +
                                                 np.maximum(-x, 0)),
           [((3, 4), (3, 4))], domain=lambda r, s, d, i: (r.random(s) if i == 0 else
                                                          r.standard_normal(s) * 3).astype(d)),
    OpCase("l2_loss", tf.nn.l2_loss, lambda x: np.sum(x * x) / 2, [((3, 4),), ((),)]),
    OpCase("moments", lambda x: tf.stack(tf.nn.moments(x, [0, 1])),
           lambda x: np.stack([x.mean((0, 1)), x.var((0, 1))]), [((4, 3, 2),)]),
    OpCase("batch_normalization", lambda x, mu, var, b, g: tf.nn.batch_normalization(
        x, mu, var, b, g, 1e-3), lambda x, mu, var, b, g: (x - mu) / np.sqrt(var + 1e-3) * g + b,
        [((4, 3), (3,), (3,), (3,), (3,))], domain=lambda r, s, d, i: (
            r.uniform(0.5, 2, s) if i == 2 else r.standard_normal(s)).astype(d)),
    # --- segment ops ---
    OpCase("segment_sum", tf.math.segment_sum, lambda x, i: _seg(np.add, 0, x, i),
           [((6, 2), (6,))], domain=lambda r, s, d, i: r.standard_normal(s).astype(d)
           if i == 0 else np.sort(r.integers(0, 3, s)).astype(np.int32)),
    OpCase("segment_mean", tf.math.segment_mean, lambda x, i: _seg(
        np.add, 0, x, i) / np.maximum(_seg(np.add, 0, np.ones_like(x), i), 1),
        [((6, 2), (6,))], domain=lambda r, s, d, i: r.standard_normal(s).astype(d)
        if i == 0 else np.sort(r.integers(0, 3, s)).astype(np.int32)),
    OpCase("unsorted_segment_sum", lambda x, i: tf.math.unsorted_segment_sum(x, i, 4),
           lambda x, i: _seg(np.add, 0, x, i, 4), [((6, 2), (6,)), ((3, 2), (3, 2))],
           domain=lambda r, s, d, i: r.standard_normal(s).astype(d) if i == 0 else
           r.integers(-1, 4, s).astype(np.int32)),
    OpCase("unsorted_segment_max", lambda x, i: tf.math.unsorted_segment_max(x, i, 3),
           lambda x, i: _seg(np.maximum, -np.inf, x, i, 3), [((6,), (6,))], domain=lambda r, s,
           d, i: r.permutation(6).astype(d) if i == 0 else np.array([0, 1, 1, 2, 2, 2],
                                                                    np.int32)),
    OpCase("unsorted_segment_prod", lambda x, i: tf.math.unsorted_segment_prod(x, i, 3),
           lambda x, i: _seg(np.multiply, 1, x, i, 3), [((6,), (6,))], domain=lambda r, s, d,
           i: r.uniform(0.5, 2, s).astype(d) if i == 0 else np.array([0, 1, 1, 2, 2, 2],
                                                                     np.int32)),
    OpCase("bincount", lambda x: tf.math.bincount(x, minlength=6), lambda x: np.bincount(
        x, minlength=6).astype(np.int32), [((10,),)], dtypes=I, grad=False, out_dtype="int32",
        domain=lambda r, s, d, i: r.integers(0, 5, s).astype(d)),
    # --- linear algebra ---
    OpCase("inv", tf.linalg.inv, np.linalg.inv, [((3, 3),), ((2, 2, 2),)], domain=lambda r, s,
           d, i: (r.standard_normal(s) + 3 * np.eye(s[-1])).astype(d), rtol=1e-4),
    OpCase("det", tf.linalg.det, np.linalg.det, [((3, 3),), ((2, 2, 2),)], rtol=1e-4),
    OpCase("slogdet", lambda x: tf.linalg.slogdet(x)[1], lambda x: np.linalg.slogdet(x)[1],
           [((3, 3),)], domain=lambda r, s, d, i: (r.standard_normal(s) + 3 * np.eye(s[-1])
                                                    ).astype(d), rtol=1e-4),
    OpCase("cholesky", lambda x: tf.linalg.cholesky(_sym(x)), np.linalg.cholesky,
           [((3, 3),), ((2, 2, 2),)],
           domain=lambda r, s, d, i: _spd(r, s, d), rtol=1e-4, grad_rtol=1e-4),
    OpCase("logdet", lambda x: tf.linalg.logdet(_sym(x)), lambda x: np.linalg.slogdet(x)[1],
           [((3, 3),)],
           domain=lambda r, s, d, i: _spd(r, s, d), rtol=1e-4),
    OpCase("solve", tf.linalg.solve, np.linalg.solve, [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1))],
           domain=lambda r, s, d, i: (r.standard_normal(s) + (3 * np.eye(s[-1]) if i == 0
                                                              else 0)).astype(d), rtol=1e-4),
    OpCase("triangular_solve", tf.linalg.triangular_solve,
           lambda a, b, lower=True, adjoint=False: np.linalg.solve(
               (np.tril(a) if lower else np.triu(a)).swapaxes(-1, -2) if adjoint else
               (np.tril(a) if lower else np.triu(a)), b), [((3, 3), (3, 2))],
           kwargs=[{}, dict(lower=False), dict(adjoint=True)],
           domain=lambda r, s, d, i: (r.standard_normal(s) + (3 * np.eye(s[-1]) if i == 0
                                                              else 0)).astype(d), rtol=1e-4),
    OpCase("eigh_values", lambda x: tf.linalg.eigh(_sym(x))[0], lambda x: np.linalg.eigh(x)[0],
           [((3, 3),)], domain=lambda r, s, d, i: _spd(r, s, d), rtol=1e-4),
    OpCase("svd_values", lambda x: tf.linalg.svd(x, compute_uv=False),
           lambda x: np.linalg.svd(x, compute_uv=False), [((3, 2),), ((2, 4),)], rtol=1e-4),
    OpCase("diag_part", tf.linalg.diag_part, lambda x: np.diagonal(x, 0, -2, -1),
           [((3, 3),), ((2, 3, 4),)]),
    OpCase("diag", tf.linalg.diag, lambda d: d[..., None] * np.eye(d.shape[-1]),
           [((3,),), ((2, 3),)]),
    OpCase("set_diag", tf.linalg.set_diag, lambda x, d: np.where(np.eye(x.shape[-2], x.shape[
        -1], dtype=bool), d[..., None, :] * np.ones_like(x) if x.shape[-1] <= x.shape[-2] else
        np.pad(d, [(0, 0)] * (d.ndim - 1) + [(0, x.shape[-1] - d.shape[-1])])[..., None, :],
        x), [((3, 3), (3,))]),
    OpCase("band_part", lambda x: tf.linalg.band_part(x, 1, 0), lambda x: np.tril(np.triu(
        x, -1)), [((4, 4),), ((2, 3, 5),)]),
    OpCase("trace", tf.linalg.trace, lambda x: np.trace(x, axis1=-2, axis2=-1),
           [((3, 3),), ((2, 3, 3),)]),
    OpCase("matvec", tf.linalg.matvec, lambda a, b: np.einsum("...ij,...j->...i", a, b),
           [((3, 4), (4,)), ((2, 3, 4), (2, 4))]),
    OpCase("cross", tf.linalg.cross, np.cross, [((3,), (3,)), ((2, 3), (2, 3))]),
    OpCase("expm", tf.linalg.expm, lambda x: __import__("scipy.linalg").linalg.expm(x),
           [((3, 3),)], rtol=1e-4),
    OpCase("lstsq", tf.linalg.lstsq, lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
           [((5, 3), (5, 2))], rtol=1e-3, atol=1e-4),
    OpCase("norm", tf.norm, lambda x, ord="euclidean", axis=None: np.linalg.norm(
        x if axis is not None or x.ndim < 2 or ord != "euclidean" else x.ravel(),
        ord=None if ord == "euclidean" else ord, axis=_tup(axis)), [((3, 4),)],
        kwargs=[{}, dict(axis=1), dict(ord=1, axis=0), dict(ord=np.inf, axis=1),
                dict(ord="fro", axis=(0, 1)), dict(ord=1, axis=(0, 1)), dict(ord=2, axis=[0, 1]),
                dict(ord=3, axis=0)], rtol=1e-4, domain="distinct"),
    OpCase("global_norm", lambda a, b: tf.linalg.global_norm([a, b]),
           lambda a, b: np.sqrt(np.sum(a * a) + np.sum(b * b)), [((3, 4), (2,))]),
    OpCase("clip_by_norm", lambda x: tf.clip_by_norm(x, 1.0),
           lambda x: x * 1.0 / max(np.sqrt(np.sum(x * x)), 1.0), [((3, 4),)]),
    # --- more composed ops (values and gradients through their compositions) ---
    OpCase("reverse_sequence", lambda x, n: tf.reverse_sequence(x, n, seq_axis=1, batch_axis=0),
           lambda x, n: np.stack([np.concatenate([r[:k][::-1], r[k:]]) for r, k in zip(x, n)]),
           [((3, 4), (3,))], domain=lambda r, s, d, i: r.standard_normal(s).astype(d) if i == 0
           else np.array([1, 4, 2], np.int32)),
    OpCase("space_to_depth", lambda x: tf.nn.space_to_depth(x, 2),
           lambda x: x.reshape(1, 2, 2, 2, 2, 3).transpose(0, 1, 3, 2, 4, 5).reshape(1, 2, 2, 12),
           [((1, 4, 4, 3),)]),
    OpCase("depth_to_space", lambda x: tf.nn.depth_to_space(x, 2),
           lambda x: x.reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5).reshape(1, 4, 4, 2),
           [((1, 2, 2, 8),)]),
    OpCase("dynamic_stitch", lambda a, b: tf.dynamic_stitch([[0, 2], [1, 3]], [a, b]),
           lambda a, b: np.stack([a[0], b[0], a[1], b[1]]), [((2, 3), (2, 3))]),
    OpCase("dynamic_partition", lambda x: tf.concat(tf.dynamic_partition(
        x, [1, 0, 1, 2], 3), 0), lambda x: x[[1, 0, 2, 3]], [((4, 2),)]),
    OpCase("crelu", tf.nn.crelu, lambda x: np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)],
                                                          -1), [((2, 3),)], domain="nonzero"),
    OpCase("embedding_lookup", lambda p: tf.nn.embedding_lookup(p, tf.constant([[2, 0], [2, 2]])),
           lambda p: p[[[2, 0], [2, 2]]], [((3, 4),)]),
    OpCase("embedding_max_norm", lambda p: tf.nn.embedding_lookup(p, tf.constant([0, 2]),
                                                                  max_norm=1.0),
           lambda p: p[[0, 2]] / np.maximum(np.linalg.norm(p[[0, 2]], axis=1, keepdims=True),
                                            1.0), [((3, 4),)]),
    OpCase("log_poisson_loss", tf.nn.log_poisson_loss, lambda t, x: np.exp(x) - x * t,
           [((3, 2), (3, 2))], domain=lambda r, s, d, i: r.uniform(0.5, 3, s).astype(d)),
    OpCase("weighted_moments", lambda x, w: tf.stack(tf.nn.weighted_moments(x, [0], w)),
           lambda x, w: np.stack([np.sum(x * w, 0) / np.sum(w * np.ones_like(x), 0),
                                  np.sum(w * (x - np.sum(x * w, 0) / np.sum(
                                      w * np.ones_like(x), 0)) ** 2, 0) / np.sum(
                                      w * np.ones_like(x), 0)]),
           [((4, 3), (4, 1))], domain=lambda r, s, d, i: (r.standard_normal(s) if i == 0 else
                                                          r.uniform(0.5, 2, s)).astype(d)),
    OpCase("segment_min", tf.math.segment_min, lambda x, i: _seg(np.minimum, np.inf, x, i),
           [((6,), (6,))], domain=lambda r, s, d, i: r.permutation(6).astype(d) if i == 0 else
           np.array([0, 0, 1, 1, 1, 2], np.int32)),
    OpCase("unsorted_segment_sqrt_n", lambda x, i: tf.math.unsorted_segment_sqrt_n(x, i, 3),
           lambda x, i: _seg(np.add, 0, x, i, 3) / np.sqrt(np.maximum(
               _seg(np.add, 0, np.ones_like(x), i, 3), 1)), [((5, 2), (5,))],
           domain=lambda r, s, d, i: r.standard_normal(s).astype(d) if i == 0 else
           np.array([0, 2, 2, 0, 0], np.int32)),
    OpCase("polyval", lambda x: tf.math.polyval([1.5, -2.0, 0.5], x),
           lambda x: np.polyval([1.5, -2.0, 0.5], x), U),
    OpCase("lbeta", tf.math.lbeta, lambda x: np.sum(sp.gammaln(x), -1) - sp.gammaln(
        np.sum(x, -1)), [((2, 3),)], domain="positive", rtol=1e-4),
    OpCase("scan_cumprod", lambda x: tf.scan(lambda a, v: a * v, x),
           lambda x: np.cumprod(x, 0), [((4, 2),)], domain="nonzero"),
    # --- images ---
    OpCase("resize_area", lambda x: tf.image.resize(x, [2, 3], method="area"),
           lambda x: x.reshape(1, 2, 2, 3, 2, 1).mean(axis=(2, 4)), [((1, 4, 6, 1),)]),
    OpCase("adjust_contrast", lambda x: tf.image.adjust_contrast(x, 1.7),
           lambda x: (x - x.mean((-3, -2), keepdims=True)) * 1.7 + x.mean((-3, -2),
                                                                        keepdims=True),
           [((3, 4, 2),)]),
    OpCase("total_variation", tf.image.total_variation, lambda x: np.abs(np.diff(
        x, axis=0)).sum() + np.abs(np.diff(x, axis=1)).sum(), [((3, 4, 2),)], domain="distinct"),
    OpCase("resize_bilinear", lambda x: tf.image.resize(x, [5, 3]),
           lambda x: _resize_bilinear(x, 5, 3), [((2, 4, 6, 2),), ((3, 3, 1),)],
           rtol=1e-5, atol=1e-5),
    OpCase("resize_nearest", lambda x: tf.image.resize(x, [7, 2], "nearest"),
           lambda x: _resize_nearest(x, 7, 2), [((2, 4, 6, 2),)]),
    OpCase("flip_left_right", tf.image.flip_left_right, lambda x: x[..., ::-1, :],
           [((4, 3, 2),), ((2, 4, 3, 1),)]),
    OpCase("per_image_standardization", tf.image.per_image_standardization,
           lambda x: (x - x.mean((-3, -2, -1), keepdims=True)) / np.maximum(
               x.std((-3, -2, -1), keepdims=True), 1 / np.sqrt(np.prod(x.shape[-3:]))),
           [((4, 3, 2),), ((2, 3, 3, 1),)], dtypes=("float32",), rtol=1e-4),
]


# --- reference helpers ---------------------------------------------------------------------

def _sym(x):
    """Symmetric input for decompositions that read one triangle (so finite differences,
    which perturb one entry, see the symmetric function the gradient is defined for)."""
    return (x + tf.linalg.matrix_transpose(x)) * 0.5


def _tup(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _cum(fn, ident, x, axis, exclusive, reverse):
    if reverse:
        x = np.flip(x, axis)
    out = fn(x, axis=axis)
    if exclusive:
        pad = [(0, 0)] * x.ndim
        pad[axis] = (1, 0)
        out = np.pad(out, pad, constant_values=ident)
        out = np.take(out, np.arange(x.shape[axis]), axis=axis)
    return np.flip(out, axis) if reverse else out


def _scatter_add(i, u, shape):
    out = np.zeros(shape, u.dtype)
    np.add.at(out, tuple(np.moveaxis(i, -1, 0)), u)
    return out


def _scatter_set(t, i, u):
    out = t.copy()
    out[tuple(np.moveaxis(i, -1, 0))] = u
    return out


def _seg(ufunc, ident, x, ids, n=None):
    n = int(ids.max()) + 1 if n is None else n
    out = np.full((n,) + x.shape[ids.ndim:], ident, dtype=x.dtype)
    flat_ids = ids.reshape(-1)
    flat = x.reshape((-1,) + x.shape[ids.ndim:])
    keep = flat_ids >= 0
    ufunc.at(out, flat_ids[keep], flat[keep])
    return out


def _unique(x):
    seen, y, idx = {}, [], []
    for v in x.tolist():
        if v not in seen:
            seen[v] = len(y)
            y.append(v)
        idx.append(seen[v])
    return np.array(y, x.dtype), np.array(idx, np.int32)


def _spd(r, s, d):
    a = r.standard_normal(s)
    return (a @ np.swapaxes(a, -1, -2) + s[-1] * np.eye(s[-1])).astype(d)


def _resize_bilinear(x, oh, ow):
    """TensorFlow 2's half-pixel bilinear resize, written as the textbook loop."""
    batched = x.ndim == 4
    x = x if batched else x[None]
    n, h, w, c = x.shape
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        fy = (i + 0.5) * h / oh - 0.5
        y0 = int(math.floor(fy))
        ly = fy - y0
        ya, yb = min(max(y0, 0), h - 1), min(max(y0 + 1, 0), h - 1)
        for j in range(ow):
            fx = (j + 0.5) * w / ow - 0.5
            x0 = int(math.floor(fx))
            lx = fx - x0
            xa, xb = min(max(x0, 0), w - 1), min(max(x0 + 1, 0), w - 1)
            top = x[:, ya, xa] * (1 - lx) + x[:, ya, xb] * lx
            bot = x[:, yb, xa] * (1 - lx) + x[:, yb, xb] * lx
            out[:, i, j] = top * (1 - ly) + bot * ly
    return out if batched else out[0]


def _resize_nearest(x, oh, ow):
    n, h, w, c = x.shape
    ys = [min(int(math.floor((i + 0.5) * h / oh)), h - 1) for i in range(oh)]
    xs = [min(int(math.floor((j + 0.5) * w / ow)), w - 1) for j in range(ow)]
    return x[:, ys][:, :, xs]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case):
    assert run_op_case(case) > 0


def test_table_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
