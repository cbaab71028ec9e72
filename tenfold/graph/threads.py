"""BLAS threads: how many cores matrix products use (`tf.config.threading`).

NumPy's OpenBLAS uses every core by default. `set_blas_threads(n)` changes that at run time
(through OpenBLAS's own `*_set_num_threads`, found among the loaded libraries; threadpoolctl
is used instead when it is installed). `tf.config.threading.set_intra_op_parallelism_threads`
calls it.

OpenBLAS's worker threads spin while they wait for work, which goes badly when other
programs keep the cores busy: a product split over two threads then waits for the one that
is not scheduled (ten times slower is common on a loaded two-core machine). So, unless
TENFOLD_ADAPTIVE_THREADS=0 or the user fixed a number:
- each graph program times its runs and, now and then, tries the other setting (the cores
  other processes leave free / one thread), keeping whichever runs faster (`Tuner`); a
  setting that was much slower is tried again less and less often, the free cores are
  re-read twice a second and a run-time drift triggers a new trial;
- eager training loops are tuned the same way, timing the interval between two
  `Optimizer.apply` calls.
"""
import os
import time

from tenfold.backend import cpu_load as _cpu_load
from tenfold.backend import kernels as _kernels

_state = {"user": None, "checked": 0.0, "current": None}


_CORES = os.cpu_count() or 1


def _find():
    """OpenBLAS's set_num_threads, or None (found once, by backend/kernels.py, whose search
    also puts OpenBLAS's idle workers to sleep at once)."""
    fns = _kernels.blas_thread_count_fns()
    return None if fns is None else fns[1]


def blas_threads():
    """The number of threads BLAS uses now (None if it cannot be told)."""
    fns = _kernels.blas_thread_count_fns()
    return None if fns is None else int(fns[0]())


def _apply(n):
    n = max(1, int(n))
    # the library is asked too: the kernels' single-threaded regions set and restore the
    # count behind this module's back (a restore can land after a change made here)
    if _state["current"] == n and blas_threads() in (None, n):
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
    run times and the machine's load.

    - The wide setting is the number of cores other processes leave free
      (`tenfold.backend.cpu_load`, sampled twice a second), not all cores: with one of two
      cores busy it is 1, and two-thread runs, which then wait a scheduler slice for the
      thread without a core, are not even probed. When that number changes the tuner starts
      over from it.
    - Every so often a few runs try the other setting; the median wins. A probe whose first
      run takes over twice the current median stops there (under load the losing setting
      can be 10x slower, and five such runs cost more than the tuning gains). Each lost
      probe doubles the wait for the next (up to 16 x 25 runs).
    - When the median run time drifts above 1.3x what it was when the choice was made (a
      neighbour started, or left), the next run probes again instead of waiting its turn.
    """

    MIN_RUN = 2e-4      # seconds: cheaper programs are not worth tuning
    PROBE = 5           # runs with the other setting per trial (their median counts)
    DRIFT = 1.3         # median rise over the chosen setting's baseline that re-tunes

    def __init__(self):
        self.free = _free_cores()
        self.settings = (self.free, 1)
        self.choice = self.free
        self.recent = []
        self.baseline = None
        self.probe = []
        self.probing = None
        self.runs = 0
        self.next_probe = 8
        self.backoff = 1

    def _restart(self, free):
        """The free cores changed: start over with all of them as the choice."""
        self.free = free
        self.settings = (free, 1)
        self.choice = free
        self.recent, self.probe, self.baseline = [], [], None
        self.probing = None
        self.backoff = 1
        self.next_probe = self.runs + 8

    def pick(self):
        """The thread count for the next run (and sets it)."""
        self.runs += 1
        free = _free_cores()
        if free != self.free:
            self._restart(free)
        if self.probing is None and self.runs >= self.next_probe and len(self.recent) >= 3 \
                and self.settings[0] != self.settings[1]:
            self.probing = self.settings[1] if self.choice == self.settings[0] \
                else self.settings[0]
            self.probe = []
        n = self.probing if self.probing is not None else self.choice
        if _state["current"] != n:
            _apply(n)
        return n

    def _median(self):
        return sorted(self.recent)[len(self.recent) // 2]

    def record(self, n, seconds):
        if self.probing is not None and n == self.probing:
            self.probe.append(seconds)
            c = self._median()
            if len(self.probe) == 1 and seconds > 2.0 * c:  # clearly worse: stop early
                self._probe_done(lost_badly=True)
                return
            if len(self.probe) < self.PROBE:
                return
            p = sorted(self.probe)[self.PROBE // 2]
            if p < 0.97 * c:
                self.choice, self.backoff = self.probing, 1
                self.recent = list(self.probe)
                self.baseline = p
                self._probe_done(lost_badly=False, won=True)
            else:
                self._probe_done(lost_badly=p > 1.5 * c)
        elif n == self.choice:
            self.recent.append(seconds)
            if len(self.recent) > 7:
                del self.recent[0]
            if len(self.recent) >= 5:
                if max(self.recent) < self.MIN_RUN:
                    self.next_probe = self.runs + 10 ** 9  # too cheap to matter
                    return
                med = self._median()
                if self.baseline is None:
                    self.baseline = med
                elif med > self.DRIFT * self.baseline and self.probing is None:
                    self.next_probe = self.runs  # slower than when chosen: re-tune now
                    self.baseline = med
                    self.backoff = 1
                elif med < self.baseline:
                    self.baseline = med

    def _probe_done(self, lost_badly, won=False):
        # every lost probe makes the next one twice as far off (a badly lost one four times):
        # a probe runs five steps at the losing setting, and probing every 25 runs cost the
        # MLP, whose one-thread steps are 1.4x slower, ~8% of its time (1.58 ms/step with
        # the tuner, 1.46 with the choice fixed). Drift and a change in the free cores still
        # bring the next probe at once (backoff 1).
        if not won:
            self.backoff = min(self.backoff * (4 if lost_badly else 2), 16)
        self.probing = None
        self.probe = []
        self.next_probe = self.runs + 25 * self.backoff


def _free_cores():
    """Cores not held by other processes, at most the machine's (tenfold.backend.cpu_load)."""
    return max(1, min(_CORES, _cpu_load.free_cores()))


def load_snapshot():
    """What the load monitor saw last and the BLAS threads in use (for benchmarks)."""
    return dict(_cpu_load.snapshot(), blas_threads=_state["current"])


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
