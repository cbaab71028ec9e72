"""tenfold: a deep-learning framework with TensorFlow's low level and Keras's high level.

    import tenfold as tf
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(x ** 2)
    tape.gradient(y, x)   # [2, 4, 6]

Heavier parts (`tf.keras`, `tf.data`, `tf.summary`, `tf.train`, ...) load on first use.
"""
import importlib as _importlib

__version__ = "0.1.0"

from tenfold.framework import dtypes as _dtypes
from tenfold.framework.dtypes import (  # noqa: F401
    DType, as_dtype, float16, half, bfloat16, float32, float64, double, int8, int16, int32, int64,
    uint8, uint16, uint32, uint64, bool, complex64, complex128, string)
from tenfold.framework.tensor_shape import TensorShape  # noqa: F401
from tenfold.framework.tensor import Tensor, constant, convert_to_tensor, is_tensor  # noqa: F401
from tenfold.framework.variable import (  # noqa: F401
    Variable, VariableAggregation, VariableSynchronization)
from tenfold.framework.device import device  # noqa: F401
from tenfold.framework import errors  # noqa: F401
from tenfold.ops.math_ops import (  # noqa: F401
    add, subtract, multiply, divide, truediv, floordiv, floormod, mod, pow, negative, abs, sign,
    sqrt, square, exp, log, tanh, sigmoid, maximum, minimum, clip_by_value, round, floor, ceil,
    equal, not_equal, less, less_equal, greater, greater_equal, logical_and, logical_or,
    logical_not, logical_xor, matmul, reduce_sum, reduce_mean, reduce_max, reduce_min,
    reduce_prod, reduce_any, reduce_all, reduce_logsumexp, argmax, argmin, cumsum, cumprod, cast,
    where, add_n, sin, cos, rsqrt, saturate_cast, squared_difference)
from tenfold.ops.array_ops import (  # noqa: F401
    zeros, ones, zeros_like, ones_like, fill, range, linspace, eye, one_hot, shape, shape_n, rank,
    size, reshape, expand_dims, squeeze, transpose, concat, stack, unstack, split, tile, pad,
    gather, gather_nd, scatter_nd, tensor_scatter_nd_update, tensor_scatter_nd_add, boolean_mask,
    reverse, broadcast_to, broadcast_static_shape, broadcast_dynamic_shape, sort, argsort,
    identity, stop_gradient, slice, strided_slice, unique)
from tenfold.ops.composite import tensordot, einsum, norm  # noqa: F401
from tenfold.autodiff.tape import GradientTape, UnconnectedGradients  # noqa: F401
from tenfold.autodiff.custom_gradient import custom_gradient, recompute_grad  # noqa: F401
from tenfold.util import nest  # noqa: F401
from tenfold import config  # noqa: F401

newaxis = None

# Namespaces loaded on first attribute access: `tf.keras`, `tf.data`, ...
_LAZY = {
    "math": "tenfold.api.math", "nn": "tenfold.api.nn", "linalg": "tenfold.api.linalg",
    "random": "tenfold.api.random", "dtypes": "tenfold.framework.dtypes",
    "keras": "tenfold.keras", "data": "tenfold.data", "summary": "tenfold.summary",
    "train": "tenfold.train", "saved_model": "tenfold.export.saved_model",
    "image": "tenfold.api.image", "signal": "tenfold.api.signal",
    "experimental": "tenfold.api.experimental", "distribute": "tenfold.distribute",
    "debugging": "tenfold.api.debugging", "bitwise": "tenfold.api.bitwise",
    "strings": "tenfold.api.strings", "autograph": "tenfold.api.autograph",
    "sparse": "tenfold.api.sparse", "mixed_precision": "tenfold.keras.mixed_precision",
    "test": "tenfold.api.test", "io": "tenfold.api.io", "compat": "tenfold.api.compat",
}
_LAZY_ATTRS = {
    "function": ("tenfold.graph.function", "function"),
    "TensorSpec": ("tenfold.graph.spec", "TensorSpec"),
    "cond": ("tenfold.graph.control_flow", "cond"),
    "while_loop": ("tenfold.graph.control_flow", "while_loop"),
    "case": ("tenfold.graph.control_flow", "case"),
    "switch_case": ("tenfold.graph.control_flow", "switch_case"),
}


def __getattr__(name):
    if name in _LAZY:
        mod = _importlib.import_module(_LAZY[name])
        globals()[name] = mod
        return mod
    if name in _LAZY_ATTRS:
        mod, attr = _LAZY_ATTRS[name]
        val = getattr(_importlib.import_module(mod), attr)
        globals()[name] = val
        return val
    raise AttributeError(f"module 'tenfold' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY) + list(_LAZY_ATTRS))
