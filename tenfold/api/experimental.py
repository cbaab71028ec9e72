"""`tf.experimental`: a few NumPy-style helpers and switches TensorFlow code calls."""
import types as _types

from tenfold.ops import math_ops as _m, array_ops as _a
from tenfold.ops.composite import einsum as _einsum


def enable_op_determinism():
    """Kernels here are deterministic already."""


def register_filesystem_plugin(plugin_location):
    raise NotImplementedError("tenfold has no filesystem plugins")


def _enable_numpy_behavior(prefer_float32=False, dtype_conversion_mode="legacy"):
    return None


numpy = _types.SimpleNamespace(
    experimental_enable_numpy_behavior=_enable_numpy_behavior,
    array=lambda v, dtype=None: _a.convert_to_tensor(v, dtype=dtype),
    asarray=lambda v, dtype=None: _a.convert_to_tensor(v, dtype=dtype),
    zeros=_a.zeros, ones=_a.ones, arange=_a.range, reshape=_a.reshape,
    transpose=_a.transpose, concatenate=lambda arrays, axis=0: _a.concat(arrays, axis),
    stack=_a.stack, sum=lambda x, axis=None, keepdims=False: _m.reduce_sum(x, axis, keepdims),
    mean=lambda x, axis=None, keepdims=False: _m.reduce_mean(x, axis, keepdims),
    max=lambda x, axis=None, keepdims=False: _m.reduce_max(x, axis, keepdims),
    min=lambda x, axis=None, keepdims=False: _m.reduce_min(x, axis, keepdims),
    exp=_m.exp, log=_m.log, sqrt=_m.sqrt, abs=_m.abs, dot=_m.matmul, matmul=_m.matmul,
    einsum=_einsum, where=_m.where, take_along_axis=_a.take_along_axis,
    float32="float32", float64="float64", int32="int32", int64="int64",
)
