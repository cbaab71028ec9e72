"""Operand conversion shared by the op families: TensorFlow's rules plus one beginner rule.

Two tensors must share a dtype (TensorFlow refuses int32 + float32). A Python number, NumPy
scalar, list or array meeting a tensor takes the tensor's dtype; if it is a float meeting an
integer tensor, both become float32 (so `uint8_images / 255.` works, unlike in TensorFlow).
"""
import sys

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import (
    Tensor, convert_to_tensor, _convert_with_dtype, _contains_tensor, name_error)
from tenfold.ops.registry import check_same_dtype, REGISTRY
from tenfold.framework.variable import Variable, autocast_dtype
from tenfold.framework.errors import OpError

_wrap = Tensor._wrap


def tensor(x, dtype=None):
    if type(x) is Tensor and dtype is None:
        return x
    try:
        if isinstance(x, Variable):
            x = read_variable(x)
            if dtype is None:
                return x
        return convert_to_tensor(x, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise _naming_caller(e, x) from None


def _naming_caller(e, value):
    """A conversion error, led by the name of the public op that converted `value` and of its
    argument (found in the op's frame; only on the failure path, so the success path stays
    free). Ops that already name themselves (OpError, or a message led by the name) keep
    theirs."""
    if isinstance(e, OpError):
        return e
    frame = sys._getframe(2)  # the caller of tensor()
    # private helpers (`_str_tensor`) stand for the public op above them
    for _ in range(4):
        if frame is None or not frame.f_code.co_name.startswith("_"):
            break
        frame = frame.f_back
    if frame is None or not frame.f_globals.get("__name__", "").startswith("tenfold"):
        return e
    op = frame.f_code.co_name
    if op.startswith("<"):
        return e
    arg = next((k for k, v in frame.f_locals.items() if v is value), None)
    return name_error(e, op, arg)


def read_variable(v):
    """A variable as an op input: itself (so tapes see it), or cast under autocast (mixed
    precision: float32 variables are read in the layer's compute dtype)."""
    target = autocast_dtype[0]
    if target is not None and v._autocast and v._value.dtype != target and \
            v._value.dtype.kind == "f":
        from tenfold.ops.math_ops import _cast
        return _cast(v, dtype=target)
    return v


# 0-d arrays for Python numbers met in binary ops (`x * 2.0`), by (value, type, dtype).
# Arrays are never written to, so one can be shared; zeros are not cached (0.0 == -0.0).
_scalar_cache = {}


def _scalar_array(value, td):
    key = (value, type(value), td)
    a = _scalar_cache.get(key)
    if a is None:
        a = np.asarray(value, dtype=td)
        if value and value == value:  # not 0, -0.0 or nan
            if len(_scalar_cache) > 512:
                _scalar_cache.clear()
            _scalar_cache[key] = a
    return a


def _adopt(value, like, op):
    """Converts a non-tensor `value` to meet tensor `like`; may promote `like` to float32."""
    td = like._value.dtype
    tv = type(value)
    if (tv is float or tv is int) and td.kind == "f":  # the common `x * 2.0` case
        return like, _wrap(_scalar_array(value, td))
    if (tv is list or tv is tuple) and _contains_tensor(value) or \
            hasattr(value, "__tf_tensor__"):
        # packed with tf.stack (or an IndexedSlices made dense) by ops: gradients reach them
        t = convert_to_tensor(value)
        if t._value.dtype != td:
            check_same_dtype(op, like, t)
        return like, t
    arr = np.asarray(value)
    k = arr.dtype.kind
    if td.kind in "iu" and k in "fc":
        promoted = np.dtype(np.float32 if k == "f" else np.complex64)
        cast = REGISTRY["cast"]  # recorded, so tracing sees the conversion
        return cast(like, dtype=promoted), _wrap(arr.astype(promoted))
    if td.kind == "b" and k != "b":
        raise TypeError(f"{op}: cannot combine a bool tensor with {value!r}; cast the tensor "
                        "with tf.cast first.")
    if isinstance(value, np.ndarray) and k == "f" and td.kind == "f":
        return like, _wrap(arr.astype(td, copy=False))
    return like, _wrap(_convert_with_dtype(value, dtypes.from_numpy(td)))


def binary(x, y, op):
    """Two tensors of one dtype from a binary op's operands."""
    tx = type(x)
    if tx is Tensor:
        ty = type(y)
        if ty is Tensor:
            if x._value.dtype != y._value.dtype:
                check_same_dtype(op, x, y)
            return x, y
        if ty is float or ty is int:
            td = x._value.dtype
            if td.kind == "f":
                return x, _wrap(_scalar_array(y, td))
    try:
        return _binary_general(x, y, op)
    except (TypeError, ValueError) as e:
        raise _naming(e, op) from None


def _naming(e, op):
    """The conversion error, its message led by the op's name (the op's own errors already
    are)."""
    return name_error(e, str(op), None)


def _binary_general(x, y, op):
    if isinstance(x, Variable):
        x = read_variable(x)
    if isinstance(y, Variable):
        y = read_variable(y)
    if isinstance(x, Tensor):
        if isinstance(y, Tensor):
            check_same_dtype(op, x, y)
            return x, y
        return _adopt(y, x, op)
    if isinstance(y, Tensor):
        y2, x2 = _adopt(x, y, op)
        return x2, y2
    return _adopt(y, convert_to_tensor(x), op)
