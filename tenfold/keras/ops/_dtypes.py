"""Keras 3's type promotion for `keras.ops` (NumPy-like, JAX's lattice).

Python scalars are "weak": `int32_tensor + 1.5` is float32, `float16_tensor * 2.0` stays
float16, `int8_tensor + 1` stays int8. Two tensors promote along the lattice
bool < int < {uint8 < uint16 < ..., int8 < int16 < ...} < float < {bfloat16, float16} <
float32 < float64, so `uint8 + int8 -> int16`, `int32 + float32 -> float32`,
`int64 + float16 -> float16`.
"""
import builtins
import functools

import numpy as np

from tenfold.framework import dtypes as _d
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.variable import Variable
from tenfold.util.tensor_meta import npd, shape_of, size_of  # noqa: F401 (re-exported)


WEAK_INT, WEAK_FLOAT = "int", "float"

_EDGES = {
    "bool": ("int",),
    "int": ("uint8", "int8"),
    "uint8": ("int16", "uint16"), "uint16": ("int32", "uint32"),
    "uint32": ("int64", "uint64"), "uint64": ("float",),
    "int8": ("int16",), "int16": ("int32",), "int32": ("int64",), "int64": ("float",),
    "float": ("bfloat16", "float16"),
    "bfloat16": ("float32",), "float16": ("float32",), "float32": ("float64",),
    "float64": ("complex64",), "complex64": ("complex128",), "complex128": (),
}


def _upper(node):
    seen = {node}
    stack = [node]
    while stack:
        for nxt in _EDGES[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return frozenset(seen)


_UPPER = {n: _upper(n) for n in _EDGES}


def _floatx():
    from tenfold.keras import backend
    return backend.floatx()


@functools.lru_cache(maxsize=1024)
def _lub(names):
    common = functools.reduce(lambda s, n: s & _UPPER[n], names, _UPPER[names[0]])
    for c in common:
        if all(o in _UPPER[c] for o in common):
            return c
    raise TypeError(f"no common dtype for {names}")


def dtype_key(x):
    """The lattice node of an operand: a dtype name, or 'int' / 'float' for Python scalars."""
    if isinstance(x, Tensor):
        return x.dtype.name
    if isinstance(x, builtins.bool):
        return "bool"
    if isinstance(x, int):
        return WEAK_INT
    if isinstance(x, float):
        return WEAK_FLOAT
    if isinstance(x, complex):
        return "complex64"
    if x is int:
        return WEAK_INT
    if x is float:
        return WEAK_FLOAT
    if x is builtins.bool:
        return "bool"
    dt = getattr(x, "dtype", None)
    if dt is not None:
        return standardize_dtype(dt)
    if isinstance(x, str):
        return standardize_dtype(x)
    return standardize_dtype(convert_to_tensor(x).dtype)


def result_type(*args):
    """`keras.backend.result_type`: the dtype (a name) that operands/dtypes promote to."""
    if not args:
        return _floatx()
    names = []
    for a in args:
        if a is None:
            continue
        if isinstance(a, str):
            names.append(a if a in (WEAK_INT, WEAK_FLOAT) else standardize_dtype(a))
        else:
            names.append(dtype_key(a))
    if not names:
        return _floatx()
    r = _lub(tuple(names))
    if r == WEAK_INT:
        return "int32"
    if r == WEAK_FLOAT:
        return _floatx()
    # As Keras on TensorFlow: 64-bit ints and floats stay, uint64 / complex128 narrow.
    return _NARROW.get(r, r)


_NARROW = {"uint64": "uint32", "complex128": "complex64"}


def standardize_dtype(dtype):
    if dtype is None:
        return _floatx()
    # (identity, not `==`: NumPy's float64 / int64 dtypes compare equal to `float` / `int`)
    if dtype is int or (isinstance(dtype, str) and dtype == "int"):
        return "int32"
    if dtype is float or (isinstance(dtype, str) and dtype == "float"):
        return _floatx()
    if dtype is builtins.bool:
        return "bool"
    if isinstance(dtype, _d.DType):
        return dtype.name
    if hasattr(dtype, "name") and isinstance(getattr(dtype, "name"), str) and \
            not isinstance(dtype, (np.dtype, type)):
        try:
            return _d.as_dtype(dtype.name).name
        except TypeError:
            pass
    return _d.as_dtype(dtype).name


def np_dtype(name):
    return _d.as_dtype(name)._np


def tensor(x, dtype=None):
    """Keras's `convert_to_tensor`: tensors stay (cast when `dtype` differs), NumPy arrays
    keep their dtype, Python floats become float32, ints int32."""
    if isinstance(x, Tensor):
        if isinstance(x, Variable):
            from tenfold.ops._convert import read_variable
            x = read_variable(x)
        if dtype is not None:
            want = standardize_dtype(dtype)
            if x.dtype.name != want:
                from tenfold.ops.math_ops import cast
                return cast(x, want)
        return x
    if dtype is not None:
        want = np_dtype(standardize_dtype(dtype))
        if isinstance(x, (list, tuple)) and any(isinstance(e, Tensor) for e in _flat(x)):
            from tenfold.ops.array_ops import stack
            return tensor(stack([tensor(e) for e in x]), dtype)
        return convert_to_tensor(np.asarray(x).astype(want, copy=False)
                                 if not isinstance(x, np.ndarray) else x.astype(want, copy=False))
    if isinstance(x, builtins.bool):
        return convert_to_tensor(np.asarray(x))
    if isinstance(x, float):
        return convert_to_tensor(np.asarray(x, dtype=np_dtype(_floatx())))
    if isinstance(x, (list, tuple)) and any(isinstance(e, Tensor) for e in _flat(x)):
        from tenfold.ops.array_ops import stack
        parts = [tensor(e) for e in x]
        dt = result_type(*parts)
        return stack([tensor(p, dt) for p in parts])
    t = convert_to_tensor(x)
    if t.dtype.name == "float32" and _floatx() != "float32" and \
            not isinstance(x, (np.ndarray, np.generic)):
        from tenfold.ops.math_ops import cast
        return cast(t, _floatx())
    return t


def _flat(x):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _flat(e)
        else:
            yield e


def promote(*args, float_only=False):
    """Operands converted to their common Keras dtype (`float_only`: at least floatx)."""
    keys = [dtype_key(a) if not isinstance(a, str) else standardize_dtype(a) for a in args]
    if float_only:
        keys.append(WEAK_FLOAT)
    dt = result_type(*keys) if keys else _floatx()
    return [tensor(a, dt) for a in args]


def to_float(x):
    """x as a floating tensor (integers and bools become floatx, as Keras's unary math)."""
    t = tensor(x)
    if t.dtype.is_floating or t.dtype.is_complex:
        return t
    return tensor(t, _floatx())


from tenfold.framework.host import from_host as const  # noqa: E402,F401
