"""The CuPy backend: tensors on an NVIDIA GPU.

Imported only when a GPU is used (`tenfold.backend.gpu` decides; `import tenfold` never
imports this module or CuPy on a machine without CuPy). Everything here follows the backend
contract (`tenfold/backend/base.py`):

- `xp` is `cupy`: every primitive written against NumPy's functions runs on CuPy arrays
  through `__array_ufunc__` / `__array_function__`, or through `xp_of(array)`;
- `from_host` / `to_host` are `cupy.asarray` / `ndarray.get()`, the only ways across;
- `kernels`: convolution and pooling from `tenfold/backend/xp_kernels.py` (im2col + one cuBLAS
  GEMM; CuPy 14 has no cuDNN binding), `scatter_add` through `cupyx.scatter_add` (atomic adds:
  repeated indices accumulate), and the optimizers' fused updates as one
  `cupy.ElementwiseKernel` each (one launch per variable instead of ten).

Random numbers: the random ops draw from tenfold's host streams (seeded by
`tf.random.set_seed` / op seeds) and copy the result over, so a seeded program gives the
same numbers on the GPU as on the CPU (docs/gpu.md says what a device-side stream would
change).

Out of memory: CuPy raises `cupy.cuda.memory.OutOfMemoryError` (a MemoryError); the op
dispatch turns it into a ResourceExhaustedError naming the op, the shapes and the bytes
asked for (`tenfold/ops/registry.py`, `_call_general`, the path device arrays take).
"""
import numpy as np

import cupy
import cupyx

from tenfold.backend.base import Backend
from tenfold.backend import xp_kernels as _xk


_ADAM = None
_SGD_MOMENTUM = None


def _adam_kernel():
    global _ADAM
    if _ADAM is None:
        _ADAM = cupy.ElementwiseKernel(
            "T g, T alpha, T c1, T c2, T eps", "T w, T m, T v",
            """
            m += (g - m) * c1;
            v += (g * g - v) * c2;
            w -= alpha * m / (sqrt(v) + eps);
            """,
            "tenfold_adam_update")
    return _ADAM


def _sgd_momentum_kernel():
    global _SGD_MOMENTUM
    if _SGD_MOMENTUM is None:
        _SGD_MOMENTUM = cupy.ElementwiseKernel(
            "T g, T lr, T mom, bool nesterov", "T w, T m",
            """
            T step = g * lr;
            m = m * mom - step;
            w += nesterov ? (m * mom - step) : m;
            """,
            "tenfold_sgd_momentum_update")
    return _SGD_MOMENTUM


class _CupyKernels(_xk.XpKernels):
    """The kernels CuPy lacks (names and arguments of tenfold/backend/kernels.py)."""

    @staticmethod
    def scatter_add(target, indices, updates):
        """target[indices] += updates, accumulating repeated indices (in place)."""
        cupyx.scatter_add(target, _device_index(indices), updates)
        return target

    @staticmethod
    def adam_update(g, w, m, v, alpha, c1, c2, eps):
        """One Adam step in place on w, m, v (one kernel launch)."""
        t = w.dtype.type
        _adam_kernel()(g, t(alpha), t(c1), t(c2), t(eps), w, m, v)

    @staticmethod
    def sgd_momentum_update(g, w, m, lr, momentum, nesterov):
        """One SGD-with-momentum step in place on w and m (one kernel launch)."""
        t = w.dtype.type
        _sgd_momentum_kernel()(g, t(lr), t(momentum), bool(nesterov), w, m)


def _device_index(key):
    """Index arrays for cupyx.scatter_add on the device (host index tables are copied)."""
    if isinstance(key, np.ndarray):
        return cupy.asarray(key)
    if isinstance(key, tuple):
        return tuple(_device_index(k) for k in key)
    return key


class CupyBackend(Backend):
    name = "cupy"
    device_type = "GPU"
    xp = cupy
    array_types = (cupy.ndarray,)
    kernels = _CupyKernels()

    def __init__(self, device_count=1):
        self.device_count = int(device_count)

    def from_host(self, array):
        if type(array) is cupy.ndarray:
            return array
        if array.dtype.name == "bfloat16":
            raise TypeError(
                "bfloat16 tensors cannot be placed on the GPU: CuPy has no bfloat16 dtype. "
                "Use float16 (the 'mixed_float16' policy) on the GPU, or create the tensor "
                "under `with tf.device('/CPU:0'):`.")
        return cupy.asarray(array)

    def to_host(self, array):
        return cupy.asnumpy(array)

    def asarray(self, value, dtype=None):
        return cupy.asarray(np.asarray(value, dtype=dtype))

    def scalar(self, value, dtype):
        return cupy.asarray(np.asarray(value, dtype=dtype))

    # --- memory (tf.config.experimental.*) ---
    @staticmethod
    def memory_pool():
        return cupy.get_default_memory_pool()

    def memory_info(self):
        pool = self.memory_pool()
        return {"current": int(pool.used_bytes()), "peak": int(pool.total_bytes())}

    def reset_memory_stats(self):
        # the pool's reserve (total_bytes) is our peak: freeing the cached blocks restarts it
        # from the bytes in use now
        self.memory_pool().free_all_blocks()

    def set_memory_limit(self, nbytes):
        self.memory_pool().set_limit(size=int(nbytes))

    @staticmethod
    def synchronize():
        cupy.cuda.Device().synchronize()

    @staticmethod
    def is_out_of_memory(err):
        return isinstance(err, cupy.cuda.memory.OutOfMemoryError)
