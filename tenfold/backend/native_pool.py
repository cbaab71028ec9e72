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
import threading

import numpy as np

from tenfold.backend import kernels as _k
from tenfold.backend import native

_SPIN_NS = 500_000   # helpers wait this long for the next region before sleeping
_fn = []
_Doubles = ctypes.c_double * 8
_fn_addr = {}   # id(a kernel) -> (the ctypes function, kept so the id stays its, its address)
_started = []   # pool_start, pool_join
# the region started and not joined: (its owner thread, the ids of the arrays it reads or
# writes, everything it points into (kept alive until the join)), or None
_pending = [None]
# set by the graph executor around a node whose C work may be left running (an optimizer
# update, graph/effects.stateful_call) to the running thread's ident: only that node may
# use `start` (another thread's update, e.g. an eager one, has no guards after it)
allow_start = [0]


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
            start = lib.pool_start
            start.argtypes, start.restype = f.argtypes, native.i64
            join = lib.pool_join
            join.argtypes, join.restype = [], None
            _started.extend((start, join))
            # a started region is finished before tasks go to the Python threads, whose
            # kernels may ask for the pool (and would wait for a join their caller never
            # reaches while it waits for them)
            _k.before_python_region.append(join)
        else:
            _fn.append(None)
    if not native.enabled():
        return None
    return _fn[0]


def start(fn, rows, doubles, touched, keep):
    """run(fn, rows, doubles) started on the pool's helpers, returning at once: the caller
    goes on (Python that touches none of the tasks' arrays) until `join()`, where it takes
    the tasks still left and waits for the others. `touched`: the ids of the arrays owning
    the memory the tasks read or write (`pending_touches` and `guard` look there); `keep`:
    what must stay alive until the join besides the rows (arrays the caller may drop).
    False where the pool cannot be had (nothing run); with one thread the tasks run now.

    Joins happen before the next region (run or start), when the same thread asks, or at
    fork. Only the starting thread joins: another thread's region waits for it. Why: on a
    two-core machine a training step's C work leaves the second core idle while the
    caller runs Python (the optimizer step's Python before its region, the metrics and
    the fit loop after it); the seed MLP's RMSprop update (~250 us of one core's square
    roots and divisions) can run through the ~100 us of Python that follows it."""
    if _pool() is None or not _started:
        return False
    got, rows, d = _region(_started[0], "start", fn, rows, doubles)
    if got:
        _pending[0] = (threading.get_ident(), touched, (rows, d, keep))
    return True


def _region(c_fn, what, fn, rows, doubles):
    """c_fn (pool_run or pool_start) on the checked rows: (its result, the rows and the
    doubles it points into)."""
    if _pending[0] is not None:
        join()
    if type(rows) is not np.ndarray or rows.dtype != np.int64 or not rows.flags.c_contiguous:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
    if rows.ndim != 2 or rows.shape[1] > 24 or len(doubles) > 8:
        raise ValueError(f"native_pool.{what}: rows of at most 24 integers and at most 8 "
                         f"doubles, got {rows.shape} and {len(doubles)}")
    d = _Doubles(*doubles)
    # (on a busy machine one thread, started regions too: a helper sharing its core with
    # another program can stall the caller's join; see docs/benchmarks.md, round 12)
    got = c_fn(_fn_address(fn), rows.shape[0], native.addr(rows), rows.shape[1],
               ctypes.addressof(d), len(doubles), threads(), _spin_ns())
    if got < 0:
        raise RuntimeError(f"native_pool.{what}: the pool refused the region")
    return got, rows, d


def join():
    """Finishes the region this thread started (`start`); nothing if there is none."""
    p = _pending[0]
    if p is not None and p[0] == threading.get_ident():
        _started[1]()
        _pending[0] = None


def guard(*arrays):
    """Joins a started region if it reads or writes any of `arrays` (Variables: their
    buffers); what a graph program runs before each node after one that may leave work
    running."""
    p = _pending[0]
    if p is None:
        return
    ids = p[1]
    for a in arrays:
        if type(a) is not np.ndarray:
            a = getattr(a, "_value", a)
        if id(root(a)) in ids:
            join()
            return


def pending_touches(a):
    """Whether a region started and not joined reads or writes array a's memory (a view of
    one of its arrays included)."""
    p = _pending[0]
    return p is not None and id(root(a)) in p[1]


def root(a):
    """The object that owns a's memory (a itself, or the end of its chain of bases)."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a


def _fn_address(fn):
    # (every step's kernels call this: the addresses without ctypes' .ctypes / cast objects)
    got = _fn_addr.get(id(fn))
    if got is None or got[0] is not fn:
        if len(_fn_addr) >= 512:
            _fn_addr.clear()
        got = _fn_addr[id(fn)] = (fn, ctypes.cast(fn, ctypes.c_void_p).value)
    return got[1]


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
    _region(pool, "run", fn, rows, doubles)
    return True
