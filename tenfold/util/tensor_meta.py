"""Static facts about a tensor (dtype, shape, size), never its data: how code above the core
asks about a tensor without reaching into its backend array."""
import numpy as np


def npd(t):
    """The NumPy dtype object of tensor `t` (for `.kind` / comparisons with np dtypes)."""
    return np.dtype(t.dtype.as_numpy_dtype)


def shape_of(t):
    """The static shape of tensor `t` as a tuple of ints."""
    return tuple(t.shape.as_list())


def size_of(t):
    """The number of elements of tensor `t` (from its static shape)."""
    n = 1
    for d in t.shape.as_list():
        n *= d
    return n
