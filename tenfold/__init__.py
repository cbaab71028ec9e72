"""tenfold: a deep-learning framework with TensorFlow's low level and Keras's high level.

    import tenfold as tf
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(x ** 2)
    tape.gradient(y, x)   # [2, 4, 6]

Heavier parts (`tf.keras`, `tf.data`, `tf.linalg`, `tf.summary`, ...) load on first use.
"""
import importlib as _importlib

from tenfold._version import __version__, __tenfold_version__  # noqa: E402

from tenfold.backend import memory as _memory
_memory.tune()  # keep freed buffers in the process (see tenfold/backend/memory.py)

from tenfold.framework import numpy_warnings as _numpy_warnings
_numpy_warnings.install()  # NumPy's RuntimeWarnings from tenfold's own code stay silent

from tenfold.framework import dtypes as _dtypes
from tenfold.framework.dtypes import (  # noqa: F401
    DType, as_dtype, float16, half, bfloat16, float32, float64, double, int8, int16, int32, int64,
    uint8, uint16, uint32, uint64, bool, complex64, complex128, string)
from tenfold.framework.tensor_shape import TensorShape  # noqa: F401
from tenfold.framework.tensor import Tensor, constant, convert_to_tensor, is_tensor  # noqa: F401
from tenfold.framework.tensor import convert_to_tensor_v2 as convert_to_tensor  # noqa: F401,E501
from tenfold.framework.variable import (  # noqa: F401
    Variable, VariableAggregation, VariableSynchronization)
from tenfold.framework.device import device  # noqa: F401
from tenfold.framework import errors  # noqa: F401
from tenfold.framework.context import (  # noqa: F401
    executing_eagerly, name_scope, init_scope, control_dependencies, get_static_value)
from tenfold.ops.math_ops import (  # noqa: F401
    add, subtract, multiply, divide, truediv, floordiv, floormod, mod, pow, negative, abs, sign,
    sqrt, square, exp, log, tanh, sigmoid, maximum, minimum, clip_by_value, round, floor, ceil,
    equal, not_equal, less, less_equal, greater, greater_equal, logical_and, logical_or,
    logical_not, logical_xor, matmul, reduce_sum, reduce_mean, reduce_max, reduce_min,
    reduce_prod, reduce_any, reduce_all, reduce_logsumexp, argmax, argmin, cumsum, cumprod, cast,
    where, add_n, sin, cos, tan, asin, acos, atan, atan2, sinh, cosh, asinh, acosh, atanh, rsqrt,
    saturate_cast, squared_difference, realdiv, truncatediv, truncatemod, scalar_mul, conj)
from tenfold.ops.array_ops import (  # noqa: F401
    zeros, ones, zeros_like, ones_like, fill, range, eye, one_hot, shape, shape_n, rank, size,
    reshape, expand_dims, squeeze, transpose, concat, stack, parallel_stack, unstack, split, tile,
    pad, gather, gather_nd, scatter_nd, tensor_scatter_nd_update, tensor_scatter_nd_add,
    tensor_scatter_nd_sub, boolean_mask, reverse, broadcast_to, broadcast_static_shape,
    broadcast_dynamic_shape, identity, identity_n, stop_gradient, slice, strided_slice,
    ensure_shape)
from tenfold.autodiff.tape import GradientTape, UnconnectedGradients  # noqa: F401
from tenfold.autodiff.custom_gradient import custom_gradient, recompute_grad  # noqa: F401
from tenfold.util import nest  # noqa: F401
from tenfold import config  # noqa: F401
from tenfold.framework.device import activate_default_gpu as _activate_default_gpu

# A usable GPU becomes the default device, as in TensorFlow (tenfold/backend/gpu.py). Without
# CuPy installed this only checks that the module is absent: nothing is imported.
_activate_default_gpu()

newaxis = None

# Namespaces loaded on first attribute access: `tf.keras`, `tf.data`, ...
_LAZY = {
    "math": "tenfold.api.math", "nn": "tenfold.api.nn", "linalg": "tenfold.api.linalg",
    "random": "tenfold.api.random", "dtypes": "tenfold.api.dtypes",
    "keras": "tenfold.keras", "graph": "tenfold.graph", "data": "tenfold.data", "summary": "tenfold.summary",
    "train": "tenfold.train", "saved_model": "tenfold.export.saved_model",
    "lite": "tenfold.lite",
    "image": "tenfold.api.image", "signal": "tenfold.api.signal",
    "experimental": "tenfold.experimental", "distribute": "tenfold.distribute",
    "debugging": "tenfold.api.debugging", "bitwise": "tenfold.api.bitwise",
    "strings": "tenfold.api.strings", "autograph": "tenfold.api.autograph",
    "sparse": "tenfold.api.sparse", "mixed_precision": "tenfold.keras.mixed_precision",
    "test": "tenfold.api.test", "io": "tenfold.api.io", "compat": "tenfold.api.compat",
    "types": "tenfold.api.types", "ragged": "tenfold.api.ragged",
}
_F = "tenfold.ops.functional_ops"
_A = "tenfold.ops.array_extra"
_LAZY_ATTRS = {
    # less common ops live in modules loaded on first use
    **{n: (_A, n) for n in (
        "linspace", "sort", "argsort", "unique", "unique_with_counts", "meshgrid", "repeat",
        "roll", "searchsorted", "sequence_mask", "bitcast", "dynamic_partition",
        "dynamic_stitch", "reverse_sequence", "tensor_scatter_nd_max", "tensor_scatter_nd_min")},
    **{n: ("tenfold.ops.math_extra", n) for n in ("complex", "accumulate_n")},
    **{n: ("tenfold.ops.composite", n) for n in ("tensordot", "einsum", "norm")},
    "function": ("tenfold.graph.function", "function"),
    "TensorSpec": ("tenfold.graph.spec", "TensorSpec"),
    "cond": ("tenfold.graph.control_flow", "cond"),
    "while_loop": ("tenfold.graph.control_flow", "while_loop"),
    "case": ("tenfold.graph.control_flow", "case"),
    "switch_case": ("tenfold.graph.control_flow", "switch_case"),
    "map_fn": (_F, "map_fn"), "vectorized_map": (_F, "vectorized_map"), "scan": (_F, "scan"),
    "foldl": (_F, "foldl"), "foldr": (_F, "foldr"), "print": (_F, "print_"),
    "Assert": (_F, "Assert"), "no_op": (_F, "no_op"), "group": (_F, "group"),
    "py_function": (_F, "py_function"), "numpy_function": (_F, "numpy_function"),
    "clip_by_norm": (_F, "clip_by_norm"), "clip_by_global_norm": (_F, "clip_by_global_norm"),
    "clip_by_average_norm": (_F, "clip_by_average_norm"), "timestamp": (_F, "timestamp"),
    "guarantee_const": (_F, "guarantee_const"), "check_numerics": (_F, "check_numerics"),
    "histogram_fixed_width": ("tenfold.ops.segment_ops", "histogram_fixed_width"),
    "histogram_fixed_width_bins": ("tenfold.ops.segment_ops", "histogram_fixed_width_bins"),
    "bincount": ("tenfold.ops.segment_ops", "bincount"),
    "Module": ("tenfold.framework.module", "Module"),
    "IndexedSlices": ("tenfold.framework.indexed_slices", "IndexedSlices"),
    "RaggedTensor": ("tenfold.framework.indexed_slices", "RaggedTensor"),
    "SparseTensor": ("tenfold.api.sparse", "SparseTensor"),
    "RaggedTensor": ("tenfold.ops.ragged", "RaggedTensor"),
    "RaggedTensorSpec": ("tenfold.ops.ragged", "RaggedTensorSpec"),
    "TensorArray": ("tenfold.ops.tensor_array", "TensorArray"),
    "constant_initializer": ("tenfold.keras.initializers", "Constant"),
    "zeros_initializer": ("tenfold.keras.initializers", "Zeros"),
    "ones_initializer": ("tenfold.keras.initializers", "Ones"),
    "random_normal_initializer": ("tenfold.keras.initializers", "RandomNormal"),
    "random_uniform_initializer": ("tenfold.keras.initializers", "RandomUniform"),
}


def gradients(*args, **kwargs):
    raise RuntimeError("tf.gradients is not supported when eager execution is enabled. Use "
                       "tf.GradientTape instead.")


def hessians(*args, **kwargs):
    raise RuntimeError("tf.hessians is not supported when eager execution is enabled. Use "
                       "nested tf.GradientTape instead.")


def get_logger():
    import logging
    return logging.getLogger("tensorflow")


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
    if name == "version":
        import types
        val = types.SimpleNamespace(VERSION=__version__,
                                    GIT_VERSION=f"tenfold-{__tenfold_version__}",
                                    COMPILER_VERSION="", GRAPH_DEF_VERSION=0)
        globals()[name] = val
        return val
    raise AttributeError(f"module 'tenfold' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY) + list(_LAZY_ATTRS) + ["version"])
