"""Parallel regions of native kernels on C threads (native/pool.c): each task one call of a
ctypes kernel with its own integer/pointer arguments, run by the calling thread and C helper
threads that need no GIL and spin a short while between regions, so a region starts in
microseconds instead of the 40-70 us of a hand-off to kernels.run_tasks' Python threads
(see pool.c). Used for sub-millisecond kernels, which are not worth those hand-offs.

`run(fn, rows, doubles)` returns False, having run nothing, where the pool cannot be had
(no library, TENFOLD_NATIVE=0, an ABI pool.c does not serve); the caller then runs its
tasks as before. One thread (kernels' thread count 1, a busy machine, inside another
parallel region) runs the tasks in order on the calling thread, through the same call.
"""
import ctypes

import numpy as np

from tenfold.backend import kernels as _k
from tenfold.backend import native

_SPIN_NS = 500_000   # helpers wait this long for the next region before sleeping
_fn = []
_Doubles = ctypes.c_double * 8
_fn_addr = {}   # id(a kernel) -> (the ctypes function, kept so the id stays its, its address)


def _pool():
    if not _fn:
        lib = native.load("pool")
        ok = False
        if lib is not None:
            abi = lib.pool_abi
            abi.argtypes, abi.restype = [], native.i64
            ok = bool(abi())
        if ok:
            f = lib.pool_run
            f.argtypes = [ctypes.c_void_p, native.i64, ctypes.c_void_p, native.i64,
                          ctypes.c_void_p, native.i64, native.i64, native.i64]
            f.restype = native.i64
            _fn.append(f)
            quiet = lib.pool_quiet
            quiet.argtypes, quiet.restype = [], None
            _k.before_python_region.append(quiet)   # run_tasks: the helpers stop spinning
        else:
            _fn.append(None)
    if not native.enabled():
        return None
    return _fn[0]


def _spin_ns():
    """How long the helpers wait for the next region before sleeping: _SPIN_NS while BLAS is
    single-threaded, else 0: a spinning helper holds the core OpenBLAS's worker needs for
    the next threaded product (the MLP's step with the helpers spinning at two BLAS threads:
    1.77-1.80 ms against 1.42-1.49 asleep, alternating processes; the Transformer, whose
    tuner keeps one BLAS thread, the same either way)."""
    return _SPIN_NS if _blas_threads() <= 1 else 0


def available():
    """Whether regions run on the C pool here."""
    return _pool() is not None


def threads():
    """The threads a region would use now (1 inside another region or on a busy machine)."""
    return _k._workers(2, 1 << 62, 0) if not _k._busy() else 1


def _blas_threads():
    fns = _k.blas_thread_count_fns()
    return fns[0]() if fns else 1


def run(fn, rows, doubles=()):
    """fn(*rows[t], *doubles) for every task t (rows: a (tasks, <= 24) int64 array, pointers
    as integers; doubles: <= 8 floats), shared out over the C pool; False where the pool is
    not available (nothing run)."""
    pool = _pool()
    if pool is None:
        return False
    if type(rows) is not np.ndarray or rows.dtype != np.int64 or not rows.flags.c_contiguous:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
    if rows.ndim != 2 or rows.shape[1] > 24 or len(doubles) > 8:
        raise ValueError(f"native_pool.run: rows of at most 24 integers and at most 8 "
                         f"doubles, got {rows.shape} and {len(doubles)}")
    d = _Doubles(*doubles)
    # (every step's kernels call this: the addresses without ctypes' .ctypes / cast objects)
    got = _fn_addr.get(id(fn))
    if got is None or got[0] is not fn:
        if len(_fn_addr) >= 512:
            _fn_addr.clear()
        got = _fn_addr[id(fn)] = (fn, ctypes.cast(fn, ctypes.c_void_p).value)
    fa = got[1]
    got = pool(fa, rows.shape[0], native.addr(rows), rows.shape[1], ctypes.addressof(d),
               len(doubles), threads(), _spin_ns())
    if got < 0:
        raise RuntimeError("native_pool.run: the pool refused the region")
    return True
