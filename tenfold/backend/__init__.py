"""The array backend: the only place that picks NumPy or CuPy.

Ops are written against `xp`, the NumPy-compatible namespace of the active backend.
"""
import numpy as np

xp = np


def get_array_module(*arrays):
    """The namespace (numpy or cupy) that owns these arrays."""
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy
            return cupy
    return np


def to_numpy(array):
    """A host NumPy array for any backend array."""
    if type(array) is np.ndarray:
        return array
    get = getattr(array, "get", None)
    if get is not None and type(array).__module__.startswith("cupy"):
        return get()
    return np.asarray(array)
