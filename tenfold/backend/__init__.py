"""The array backends: the only place that knows which array library holds a tensor's values.

Each backend is an object (`tenfold.backend.base.Backend`): NumPy on the CPU is the default;
others register themselves (`register`). A tensor's backend follows from its array's type, so
ops dispatch on their inputs with one type check (`type(a) is np.ndarray` on the hot path).
"""
import numpy as np

from tenfold.backend.base import Backend  # noqa: F401
from tenfold.backend.numpy_backend import NUMPY

xp = np  # the default backend's namespace

_by_type = {np.ndarray: NUMPY}
_by_device_type = {"CPU": NUMPY}
_backends = [NUMPY]


def register(backend):
    """Makes a backend known: its array types map to it, `tf.device` finds its device type."""
    if backend.device_type in _by_device_type and \
            _by_device_type[backend.device_type] is not backend:
        raise ValueError(f"a backend for device type {backend.device_type!r} is already "
                         f"registered ({_by_device_type[backend.device_type]!r})")
    for t in backend.array_types:
        _by_type[t] = backend
    _by_device_type[backend.device_type] = backend
    if backend not in _backends:
        _backends.append(backend)
    return backend


def unregister(backend):
    for t in backend.array_types:
        if _by_type.get(t) is backend:
            del _by_type[t]
    if _by_device_type.get(backend.device_type) is backend:
        del _by_device_type[backend.device_type]
    if backend in _backends:
        _backends.remove(backend)


def backends():
    return list(_backends)


def for_device_type(device_type):
    """The backend serving a TensorFlow device type ('CPU', 'GPU', ...), or None."""
    return _by_device_type.get(device_type.upper())


def backend_of(array):
    """The backend that owns `array` (NumPy for NumPy arrays, scalars and Python values)."""
    b = _by_type.get(type(array))
    if b is not None:
        return b
    for b in _backends:
        if b.owns(array):
            _by_type[type(array)] = b
            return b
    if type(array).__module__.startswith("cupy"):  # before the CuPy backend registers itself
        return _cupy_fallback()
    return NUMPY


def get_array_module(*arrays):
    """The namespace (numpy, cupy, ...) that owns these arrays."""
    for a in arrays:
        if type(a) is not np.ndarray and not isinstance(a, (int, float, complex, np.generic)):
            b = backend_of(a)
            if b is not NUMPY:
                return b.xp
    return np


def xp_of(array):
    """The array namespace for one array (NumPy's for NumPy arrays: one type check)."""
    if type(array) is np.ndarray:
        return np
    return backend_of(array).xp


def kernels_of(array):
    """The backend kernels (convolution, pooling, scatter-add, ...) for one array."""
    if type(array) is np.ndarray:
        return NUMPY.kernels
    return backend_of(array).kernels


def dispatching(name):
    """A kernel the array namespace lacks (`kernels.<name>`), run by the backend of its first
    array argument: NumPy's directly (one type check), others' through `backend.kernels`."""
    numpy_fn = getattr(NUMPY.kernels, name)

    def kernel(x, *args, **kwargs):
        if type(x) is np.ndarray:
            return numpy_fn(x, *args, **kwargs)
        return getattr(backend_of(x).kernels, name)(x, *args, **kwargs)
    kernel.__name__ = name
    kernel.__doc__ = numpy_fn.__doc__
    return kernel


def to_numpy(array):
    """A host NumPy array for any backend array (the explicit transfer)."""
    if type(array) is np.ndarray:
        return array
    return backend_of(array).to_host(array)


def _cupy_fallback():
    """A CuPy array met before the CuPy backend registered (user code made it): register it."""
    from tenfold.backend import gpu
    b = gpu.cupy_backend()
    if b is None:
        from tenfold.backend.cupy_backend import CupyBackend
        b = register(CupyBackend())
    return b
