"""Bitwise ops on integer tensors (`tf.bitwise`)."""
import numpy as np

from tenfold.ops.registry import primitive, INTEGER_VALUED
from tenfold.ops._convert import binary, tensor


def _int_pair(x, y, op):
    x, y = binary(x, y, op)
    if x._value.dtype.kind not in "iub":
        raise TypeError(f"{op} expects integer tensors, got {x.dtype.name}")
    return x, y


def _shift_kernel(fn):
    def kernel(x, y):
        bits = x.dtype.itemsize * 8
        # shifts by negative amounts or by the width or more are 0 (or -1 for right shifts of
        # negative values), instead of C's undefined behaviour
        bad = (y < 0) | (y >= bits)
        safe = np.where(bad, 0, y).astype(x.dtype)
        out = fn(x, safe)
        if bad.any():
            fill = np.where(x < 0, -1, 0).astype(x.dtype) if fn is np.right_shift \
                else np.zeros_like(x)
            out = np.where(bad, fill, out)
        return out
    return kernel


_and = primitive("bitwise_and", np.bitwise_and, no_grad=INTEGER_VALUED)
_or = primitive("bitwise_or", np.bitwise_or, no_grad=INTEGER_VALUED)
_xor = primitive("bitwise_xor", np.bitwise_xor, no_grad=INTEGER_VALUED)
_invert = primitive("invert", np.invert, no_grad=INTEGER_VALUED)
_left = primitive("left_shift", _shift_kernel(np.left_shift), no_grad=INTEGER_VALUED)
_right = primitive("right_shift", _shift_kernel(np.right_shift), no_grad=INTEGER_VALUED)
_popcount = primitive("population_count", lambda x: np.bitwise_count(x).astype(np.uint8)
                      if hasattr(np, "bitwise_count") else
                      np.vectorize(lambda v: bin(int(v) & ((1 << (x.dtype.itemsize * 8)) - 1))
                                   .count("1"), otypes=[np.uint8])(x), no_grad=INTEGER_VALUED)


def bitwise_and(x, y, name=None):
    return _and(*_int_pair(x, y, "bitwise_and"))


def bitwise_or(x, y, name=None):
    return _or(*_int_pair(x, y, "bitwise_or"))


def bitwise_xor(x, y, name=None):
    return _xor(*_int_pair(x, y, "bitwise_xor"))


def left_shift(x, y, name=None):
    return _left(*_int_pair(x, y, "left_shift"))


def right_shift(x, y, name=None):
    return _right(*_int_pair(x, y, "right_shift"))


def invert(x, name=None):
    x = tensor(x)
    if x._value.dtype.kind not in "iu":
        raise TypeError(f"invert expects an integer tensor, got {x.dtype.name}")
    return _invert(x)


def population_count(x, name=None):
    x = tensor(x)
    if x._value.dtype.kind not in "iu":
        raise TypeError(f"population_count expects an integer tensor, got {x.dtype.name}")
    return _popcount(x)
