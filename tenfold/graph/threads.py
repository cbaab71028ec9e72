"""BLAS threads: how many cores matrix products use (`tf.config.threading`).

NumPy's OpenBLAS uses every core by default. `set_blas_threads(n)` changes that at run time
(through OpenBLAS's own `*_set_num_threads`, found among the loaded libraries; threadpoolctl
is used instead when it is installed). `tf.config.threading.set_intra_op_parallelism_threads`
calls it.

OpenBLAS's worker threads spin while they wait for work, which goes badly when other
programs keep the cores busy: a product split over two threads then waits for the one that
is not scheduled (ten times slower is common on a loaded two-core machine). With
`adaptive=True` (the default unless TENFOLD_ADAPTIVE_THREADS=0, and only while the user has
not fixed a number), graph functions look at the load average every few seconds and use one
BLAS thread while the machine is oversubscribed, all cores otherwise.
"""
import ctypes
import glob
import os
import time

_state = {"lib": None, "set": None, "get": None, "searched": False, "user": None,
          "checked": 0.0, "current": None}


def _find():
    if _state["searched"]:
        return _state["set"]
    _state["searched"] = True
    try:
        import numpy as np
        base = os.path.dirname(os.path.dirname(np.__file__))
        cands = glob.glob(os.path.join(base, "numpy.libs", "*openblas*")) + \
            glob.glob(os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*"))
        for path in cands:
            lib = ctypes.CDLL(path)
            for prefix in ("scipy_openblas_", "openblas_"):
                for suffix in ("64_", ""):
                    s = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                    g = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                    if s is not None and g is not None:
                        s.argtypes = [ctypes.c_int]
                        _state.update(lib=lib, set=s, get=g)
                        return s
    except Exception:  # noqa: BLE001 - no OpenBLAS we can reach: leave threads alone
        pass
    return None


def blas_threads():
    """The number of threads BLAS uses now (None if it cannot be told)."""
    if _find() is not None:
        return int(_state["get"]())
    return None


def _apply(n):
    n = max(1, int(n))
    if _state["current"] == n:
        return True
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n, user_api="blas")
        _state["current"] = n
        return True
    except ImportError:
        pass
    s = _find()
    if s is None:
        return False
    s(n)
    _state["current"] = n
    return True


def set_blas_threads(n):
    """Fixes the number of BLAS threads (0 or None: back to all cores, adaptively)."""
    if not n:
        _state["user"] = None
        _state["checked"] = 0.0
        return _apply(os.cpu_count() or 1)
    _state["user"] = int(n)
    return _apply(n)


def adapt(now=None):
    """Picks the BLAS thread count from the load average (at most every 3 seconds)."""
    if _state["user"] is not None or os.environ.get("TENFOLD_ADAPTIVE_THREADS") == "0":
        return
    now = time.monotonic() if now is None else now
    if now - _state["checked"] < 3.0:
        return
    _state["checked"] = now
    cores = os.cpu_count() or 1
    if cores < 2:
        return
    try:
        load = os.getloadavg()[0]
    except OSError:
        return
    # our own busy threads count in the load: oversubscribed when clearly above the cores
    _apply(1 if load > cores + 1.0 else cores)
