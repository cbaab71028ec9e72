"""`keras.ops`: the NumPy-style namespace Keras 3 code is written in.

Each op is a thin name over tenfold ops, with Keras's argument names and dtype promotion
(`int32 + float -> float32`, `mean(int) -> float32`, ...), differentiable under GradientTape.
Called on symbolic `keras.Input` tensors, an op becomes a node of the functional model.

    from tenfold.keras import ops
    ops.mean(ops.square(x - y), axis=-1)
"""
import functools as _functools

from tenfold.keras.ops import numpy, nn, core, math, linalg, image  # noqa: F401
from tenfold.keras.ops._dtypes import result_type  # noqa: F401


def _symbolic_call(fn, args, kwargs):
    """Runs `fn` as a layer on the KerasTensors among its arguments (functional API)."""
    from tenfold.keras.engine.keras_tensor import KerasTensor
    from tenfold.keras.layers.layer import Layer, unique_name
    from tenfold.util import nest
    flat = nest.flatten((list(args), kwargs))
    kts = [x for x in flat if isinstance(x, KerasTensor)]
    if not kts:
        return None
    from tenfold.keras.ops.operation_node import keras_operation_call
    as_keras = keras_operation_call(fn, args, kwargs)
    if as_keras is not None:  # Keras's operation node (saved as Keras saves it)
        layer, call_args = as_keras
        return layer(*call_args)

    class _OpLayer(Layer):
        def call(self, inputs):
            it = iter(inputs)
            a, k = nest.map_structure(
                lambda x: next(it) if isinstance(x, KerasTensor) else x, (list(args), kwargs))
            return fn(*a, **k)

    layer = _OpLayer(name=unique_name(fn.__name__))
    return layer(kts)


def _wrap_op(fn):
    @_functools.wraps(fn)
    def op(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError, AttributeError):
            out = _symbolic_call(fn, args, kwargs)
            if out is None:
                raise
            return out
    op.__wrapped_op__ = fn
    return op


_NO_WRAP = {"result_type", "shape", "dtype", "is_tensor", "convert_to_numpy", "cond",
            "while_loop", "fori_loop", "custom_gradient", "switch", "map", "scan",
            "vectorized_map", "associative_scan", "size", "ndim"}


def _export(mod):
    names = [n for n in dir(mod) if not n.startswith("_")]
    for n in names:
        obj = getattr(mod, n)
        if callable(obj) and getattr(obj, "__module__", "") == mod.__name__ and \
                not isinstance(obj, type):
            if n not in _NO_WRAP:
                obj = _wrap_op(obj)
                setattr(mod, n, obj)
            globals()[n] = obj


for _m in (numpy, math, linalg, core, nn):
    _export(_m)
del _m

# Names Keras exposes at top level that differ from the module function names.
from tenfold.keras.ops.core import shape, dtype, is_tensor, convert_to_numpy  # noqa: E402,F401
from tenfold.keras.ops.core import cond, while_loop, fori_loop, switch  # noqa: E402,F401
from tenfold.keras.ops.core import scan, associative_scan, vectorized_map  # noqa: E402,F401
from tenfold.keras.ops.core import custom_gradient  # noqa: E402,F401
from tenfold.keras.ops.core import map  # noqa: E402,F401,A004
from tenfold.keras.ops.numpy import size, ndim  # noqa: E402,F401
