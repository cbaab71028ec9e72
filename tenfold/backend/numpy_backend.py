"""The NumPy backend (CPU, the default). CPU-only tricks stay here and in
`tenfold.backend.kernels`: strided views, BLAS thread control, Numba, in-place planning."""
import numpy as np

from tenfold.backend.base import Backend


class _NumpyKernels:
    """The kernels NumPy lacks, resolved lazily from tenfold.backend.kernels (importing it
    costs a few ms that `import tenfold` does not need to pay)."""

    def __getattr__(self, name):
        from tenfold.backend import kernels as k
        fn = getattr(k, name)
        setattr(self, name, fn)
        return fn

    @staticmethod
    def scatter_add(target, indices, updates):
        """target[indices] += updates, accumulating repeated indices (in place)."""
        np.add.at(target, indices, updates)
        return target


class NumpyBackend(Backend):
    name = "numpy"
    device_type = "CPU"
    xp = np
    array_types = (np.ndarray,)
    kernels = _NumpyKernels()

    def from_host(self, array):
        return np.asarray(array)

    def to_host(self, array):
        return np.asarray(array)

    def asarray(self, value, dtype=None):
        return np.asarray(value, dtype=dtype)

    def scalar(self, value, dtype):
        return np.asarray(value, dtype=dtype)


NUMPY = NumpyBackend()
