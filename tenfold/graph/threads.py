"""BLAS threads: how many cores matrix products use (`tf.config.threading`).

NumPy's OpenBLAS uses every core by default. `set_blas_threads(n)` changes that at run time
(through OpenBLAS's own `*_set_num_threads`, found among the loaded libraries; threadpoolctl
is used instead when it is installed). `tf.config.threading.set_intra_op_parallelism_threads`
calls it.

OpenBLAS's worker threads spin while they wait for work, which goes badly when other
programs keep the cores busy: a product split over two threads then waits for the one that
is not scheduled (ten times slower is common on a loaded two-core machine). So, unless
TENFOLD_ADAPTIVE_THREADS=0 or the user fixed a number:
- each graph program times its runs and, now and then, tries the other setting (all cores /
  one thread), keeping whichever runs faster (`Tuner`); a setting that was much slower is
  tried again less and less often;
- eager training loops are tuned the same way, timing the interval between two
  `Optimizer.apply` calls.
"""
import ctypes
import glob
import os
import time

_state = {"lib": None, "set": None, "get": None, "searched": False, "user": None,
          "checked": 0.0, "current": None}


_CORES = os.cpu_count() or 1


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
        return _apply(_CORES)
    _state["user"] = int(n)
    return _apply(n)


def adaptive():
    return _state["user"] is None and os.environ.get("TENFOLD_ADAPTIVE_THREADS") != "0" and \
        _CORES >= 2 and _find() is not None



class Tuner:
    """Chooses the BLAS thread count for one graph program (or the eager loop) from measured
    run times: every so often a few runs try the other setting; the median wins."""

    MIN_RUN = 2e-4      # seconds: cheaper programs are not worth tuning
    PROBE = 5           # runs with the other setting per trial (their median counts)

    def __init__(self):
        self.settings = (_CORES, 1)
        self.choice = _CORES
        self.recent = []
        self.probe = []
        self.probing = None
        self.runs = 0
        self.next_probe = 8
        self.backoff = 1

    def pick(self):
        """The thread count for the next run (and sets it)."""
        self.runs += 1
        if self.probing is None and self.runs >= self.next_probe and len(self.recent) >= 3:
            self.probing = self.settings[1] if self.choice == self.settings[0] \
                else self.settings[0]
            self.probe = []
        n = self.probing if self.probing is not None else self.choice
        if _state["current"] != n:
            _apply(n)
        return n

    def record(self, n, seconds):
        if self.probing is not None and n == self.probing:
            self.probe.append(seconds)
            if len(self.probe) < self.PROBE:
                return
            p = sorted(self.probe)[self.PROBE // 2]
            c = sorted(self.recent)[len(self.recent) // 2]
            if p < 0.97 * c:
                self.choice, self.backoff = self.probing, 1
                self.recent = list(self.probe)
            elif p > 1.5 * c:
                self.backoff = min(self.backoff * 2, 8)
            self.probing = None
            self.next_probe = self.runs + 25 * self.backoff
        elif n == self.choice:
            self.recent.append(seconds)
            if len(self.recent) > 7:
                del self.recent[0]
            if len(self.recent) >= 5 and max(self.recent) < self.MIN_RUN:
                self.next_probe = self.runs + 10 ** 9  # too cheap to matter


_eager = {"tuner": None, "last": None, "n": None}


def adapt():
    """Eager training steps (called by `Optimizer.apply`): the same tuning as graph programs,
    timing the interval between two consecutive updates (gaps over a second are ignored)."""
    if not adaptive():
        return
    now = time.perf_counter()
    tuner = _eager["tuner"]
    if tuner is None:
        tuner = _eager["tuner"] = Tuner()
    last = _eager["last"]
    if last is not None and now - last < 1.0:
        tuner.record(_eager["n"], now - last)
    elif tuner.probing is not None:
        tuner.probing = None  # an interrupted probe: try again later
        tuner.next_probe = tuner.runs + 30
    _eager["n"] = tuner.pick()
    _eager["last"] = now
