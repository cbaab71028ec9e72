"""The built-in optimizers' dense updates (and the sparse Adam's row update) as one C pass
over the gradient, the weights and the slots (tenfold/backend/native/optimizers.c), where
the NumPy bodies in optimizers.py run 4-12 passes. Same operations in the same order in the
variables' dtype: the numbers are the NumPy bodies', bit for bit.

Each function returns False, running nothing, when the arrays do not suit the C kernels (no
compiler or TENFOLD_NATIVE=0, device arrays, another dtype, not C-contiguous, unaligned,
read-only, sizes that differ, overlapping arrays); the caller then runs its NumPy body.
Big updates are cut into fixed chunks shared out to the kernel threads from
kernels.BANDWIDTH_MIN_BYTES on (elementwise: the result does not depend on the cut).

A/B, process time, medians of 11 alternating runs, one thread (TENFOLD_KERNEL_THREADS=1),
NumPy bodies (blocked as before) -> C, float32, ms:
  (filled in below, see `_AB`)
"""
import ctypes

import numpy as np

from tenfold.backend import kernels as _kernels
from tenfold.backend import native as _native

_FAMILY = "optimizers"
_P = ctypes.c_void_p
_I = _native.i64
_D = _native.f64
_ARGS = {
    "adam": [_P, _P, _P, _P, _P, _I, _D, _D, _D, _D],
    "adam_rows": [_P, _P, _P, _I, _I, _I, _P, _I, _I, _P, _P, _D, _D, _D, _D],
    "rmsprop": [_P, _P, _P, _P, _P, _I, _D, _D, _D, _D, _D],
    "sgd": [_P, _P, _P, _I, _D, _D, _I],
}
_CHUNK_BYTES = 1 << 18   # per array, for the threads (elementwise: any cut gives the same)
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_fns = {}
_lib = [None]


def _fn(name, dtype):
    """The ctypes function `name_f32/f64` with its argtypes set (cached), or None."""
    if dtype != _F32 and dtype != _F64:
        return None
    lib = _native.load(_FAMILY)
    if lib is None:
        return None
    if lib is not _lib[0]:
        _fns.clear()
        _lib[0] = lib
    key = (name, dtype)
    fn = _fns.get(key)
    if fn is None:
        fn = getattr(lib, f"{name}_{_native.suffix(dtype)}")
        fn.argtypes = _ARGS[name]
        fn.restype = None
        _fns[key] = fn
    return fn


def _addr(a):
    return a.__array_interface__["data"][0]


def _suitable(arrays, n_inputs=1):
    """Whether the C loops may take `arrays` (the first n_inputs read, the rest written):
    NumPy, one float dtype, C-contiguous, aligned, one size, outputs writeable, no two
    overlapping (the loops read and write element by element)."""
    if not _native.usable(*arrays):
        return False
    n = arrays[0].size
    for k, a in enumerate(arrays):
        if a.size != n or (k >= n_inputs and not a.flags.writeable):
            return False
    if n == 0:
        return True
    nbytes = arrays[0].nbytes
    starts = sorted(_addr(a) for a in arrays)
    return all(b - a >= nbytes for a, b in zip(starts, starts[1:]))


def _elementwise(fn, arrays, size, tail_args):
    """fn(*pointers, n, *tail_args) over the whole arrays, or over fixed chunks shared out to
    the kernel threads when they are big."""
    itemsize = arrays[0].itemsize
    nbytes = size * itemsize * sum(a is not None for a in arrays)
    addrs = [None if a is None else _addr(a) for a in arrays]
    if nbytes < _kernels.BANDWIDTH_MIN_BYTES or _kernels._threads <= 1:
        fn(*addrs, size, *tail_args)
        return
    chunk = _CHUNK_BYTES // itemsize

    def work(lo, _):
        off = lo * itemsize
        fn(*[None if p is None else p + off for p in addrs], min(chunk, size - lo), *tail_args)

    _kernels.run_tasks(list(range(0, size, chunk)), work, nbytes,
                       min_bytes=_kernels.BANDWIDTH_MIN_BYTES)


def adam(arrays, s):
    """Adam._body on [g, w, m, v] or [g, w, m, v, v_hat] (amsgrad); s = (alpha, c1, c2,
    eps). False when the C kernel does not apply."""
    fn = _fn("adam", arrays[0].dtype) if type(arrays[0]) is np.ndarray else None
    if fn is None or not _suitable(arrays):
        return False
    vh = arrays[4] if len(arrays) > 4 else None
    _elementwise(fn, arrays[:4] + [vh], arrays[0].size, [float(x) for x in s])
    return True


def rmsprop(arrays, s, centered, momentum):
    """RMSprop._body on [g, w, v, (average_gradient if centered), (momentum if momentum)];
    s = (lr, rho, 1 - rho, eps, momentum)."""
    fn = _fn("rmsprop", arrays[0].dtype) if type(arrays[0]) is np.ndarray else None
    if fn is None or len(arrays) != 3 + bool(centered) + bool(momentum) or \
            not _suitable(arrays):
        return False
    g, w, v = arrays[:3]
    a = arrays[3] if centered else None
    m = arrays[-1] if momentum else None
    _elementwise(fn, [g, w, v, a, m], g.size, [float(x) for x in s])
    return True


def sgd(arrays, s, nesterov):
    """SGD's plain body on [g, w] or its momentum body on [g, w, m]; s = (lr, momentum)."""
    fn = _fn("sgd", arrays[0].dtype) if type(arrays[0]) is np.ndarray else None
    if fn is None or len(arrays) not in (2, 3) or not _suitable(arrays):
        return False
    m = arrays[2] if len(arrays) == 3 else None
    _elementwise(fn, [arrays[0], arrays[1], m], arrays[0].size,
                 [float(s[0]), float(s[1]), int(bool(nesterov))])
    return True


def adam_rows(w, m, v, uniq, gsum, sqsum, s):
    """Adam's sparse update (Adam._sparse_kernel): rows `uniq` (ascending, distinct, from
    summed_rows) with summed rows `gsum` and summed squares `sqsum` take the full formula,
    every other row of m and v decays; then every row's step."""
    if type(w) is not np.ndarray or w.ndim < 1:
        return False
    fn = _fn("adam_rows", w.dtype)
    if fn is None or not _suitable([w, m, v], 0) or not _native.usable(gsum, sqsum) or \
            gsum.dtype != w.dtype or w.shape != m.shape or w.shape != v.shape:
        return False
    nrows = w.shape[0]
    if type(uniq) is not np.ndarray or uniq.dtype != np.int64 or uniq.ndim != 1 or \
            not uniq.flags.c_contiguous or not uniq.flags.aligned or \
            gsum.shape != (uniq.size,) + w.shape[1:] or sqsum.shape != gsum.shape:
        return False
    if uniq.size and (uniq[0] < 0 or uniq[-1] >= nrows):
        return False   # the NumPy path's handling of such ids stays theirs
    row = w.size // nrows if nrows else 0
    args = [_addr(w), _addr(m), _addr(v)]
    rest = [_addr(uniq)]
    tail = [_addr(gsum), _addr(sqsum)] + [float(x) for x in s]
    nbytes = 3 * w.nbytes
    if nbytes < _kernels.BANDWIDTH_MIN_BYTES or _kernels._threads <= 1 or row == 0:
        fn(*args, 0, nrows, row, *rest, 0, uniq.size, *tail)
        return True
    step = max(1, (_CHUNK_BYTES // w.itemsize) // row)
    bounds = list(range(0, nrows, step)) + [nrows]
    cuts = np.searchsorted(uniq, bounds).tolist()

    def work(k, _):
        fn(*args, bounds[k], bounds[k + 1], row, *rest, cuts[k], cuts[k + 1], *tail)

    _kernels.run_tasks(list(range(len(bounds) - 1)), work, nbytes,
                       min_bytes=_kernels.BANDWIDTH_MIN_BYTES)
    return True
