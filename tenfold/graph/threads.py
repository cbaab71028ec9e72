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


def adaptive():
    return _state["user"] is None and os.environ.get("TENFOLD_ADAPTIVE_THREADS") != "0" and \
        (os.cpu_count() or 1) >= 2 and _find() is not None


class Tuner:
    """Chooses the BLAS thread count for one graph program from its measured run times."""

    __slots__ = ("ema", "choice", "runs", "probe_left", "next_probe", "backoff")
    MIN_RUN = 2e-4      # seconds: cheaper programs are not worth tuning

    def __init__(self):
        cores = os.cpu_count() or 1
        self.ema = {cores: None, 1: None}
        self.choice = cores
        self.runs = 0
        self.probe_left = 0
        self.next_probe = 20
        self.backoff = 1

    def pick(self):
        """The thread count for the next run (and sets it)."""
        self.runs += 1
        if self.probe_left == 0 and self.runs >= self.next_probe:
            self.probe_left = 3
        n = self.choice
        if self.probe_left:
            n = next(k for k in self.ema if k != self.choice)
        if _state["current"] != n:
            _apply(n)
        return n

    def record(self, n, seconds):
        old = self.ema[n]
        self.ema[n] = seconds if old is None else 0.7 * old + 0.3 * seconds
        if self.probe_left:
            self.probe_left -= 1
            if self.probe_left == 0:
                other, mine = self.ema[n], self.ema[self.choice]
                if mine is not None and other < mine:
                    self.choice, self.backoff = n, 1
                elif mine is not None and other > 2 * mine:
                    self.backoff = min(self.backoff * 2, 64)
                self.next_probe = self.runs + 50 * self.backoff
        elif seconds < self.MIN_RUN and self.runs > 5:
            self.next_probe = self.runs + 10 ** 9  # too cheap to matter


_eager = {"tuner": None, "last": None, "n": None}


def adapt():
    """Eager training steps (called by `Optimizer.apply`): the same tuning as graph programs,
    timing the interval between two consecutive updates (gaps over a second are ignored)."""
    if not adaptive():
        return
    import time
    now = time.perf_counter()
    tuner = _eager["tuner"]
    if tuner is None:
        tuner = _eager["tuner"] = Tuner()
    last = _eager["last"]
    if last is not None and now - last < 1.0:
        tuner.record(_eager["n"], now - last)
    elif tuner.probe_left:
        tuner.probe_left = 0  # an interrupted probe: start over later
        tuner.next_probe = tuner.runs + 50
    _eager["n"] = tuner.pick()
    _eager["last"] = now
