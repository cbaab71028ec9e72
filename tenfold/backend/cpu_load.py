"""How many of our cores other processes are using right now (for thread counts).

The thread choices (BLAS threads in `tenfold/graph/threads.py`, the kernel threads in
`tenfold/backend/kernels.py`) must know when another process holds a core: threads that
wait on each other (OpenBLAS's lock-step workers, the end of a parallel region) then wait a
whole scheduler slice for the thread that lost its core, and a 1.5 ms step takes 3-10 ms.

The 1-minute load average is the wrong measure for that: it lags by a minute, and it counts
our own threads, spinning BLAS workers included, so a busy tenfold reads as a busy machine.
Here the busy time of the cores we may run on (`/proc/stat`, restricted to our affinity set)
minus our own process's CPU time (`time.process_time`, all threads) over the last interval
gives the cores other processes use. Sampled at most every `INTERVAL` seconds, so calling it
per step costs one clock read. Where /proc/stat cannot be read (not Linux), the load average
minus our own threads' share stands in.
"""
import os
import time

INTERVAL = 0.5     # seconds between two samples (the /proc/stat tick is 10 ms)
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _affinity():
    try:
        return {f"cpu{i}" for i in os.sched_getaffinity(0)}
    except AttributeError:  # pragma: no cover
        return None


def _busy_seconds():
    """Total busy CPU seconds of our usable cores since boot, or None."""
    try:
        with open("/proc/stat") as f:
            lines = [ln.split() for ln in f if ln.startswith("cpu") and not
                     ln.startswith("cpu ")]
    except OSError:
        return None
    cores = _affinity()
    busy = 0
    for fields in lines:
        if cores is not None and fields[0] not in cores:
            continue
        vals = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
        busy += sum(vals) - vals[3] - vals[4]
    return busy / _TICK


class _Monitor:
    def __init__(self):
        self.last = None          # (wall, busy, own) of the previous sample
        self.others = 0.0         # cores other processes used over the last interval
        self.sampled = 0.0
        self.free = (None, 1)     # (the sample it was worked out from, free_cores' answer)

    def sample(self):
        now = time.monotonic()
        if self.last is not None and now - self.sampled < INTERVAL:
            return self.others
        busy = _busy_seconds()
        if busy is None:
            return self._from_loadavg(now)
        own = time.process_time()
        if self.last is not None:
            wall = now - self.last[0]
            if wall > 0:
                others = (busy - self.last[1] - (own - self.last[2])) / wall
                self.others = min(max(others, 0.0), float(usable_cores()))
        self.last = (now, busy, own)
        self.sampled = now
        return self.others

    def _from_loadavg(self, now):
        try:
            load = os.getloadavg()[0]
        except OSError:  # pragma: no cover
            load = 0.0
        self.others = max(0.0, load - 1.0)  # our own main thread is one of the runnable
        self.sampled = now
        return self.others


_monitor = _Monitor()


def other_busy_cores():
    """Cores' worth of CPU that other processes used over about the last half second."""
    return _monitor.sample()


def free_cores():
    """Usable cores not held by other processes (at least 1): a core counts as held from
    0.6 of it busy, since a thread sharing a core with a busy process gets about half of it
    and makes its partners wait."""
    monitor = _monitor
    others = monitor.sample()
    seen, free = monitor.free
    if seen is not None and seen == monitor.sampled:
        return free   # kernels ask per call: the affinity's system call once per sample
    n = usable_cores()
    free = max(1, min(n, int(n - others + 0.4)))
    monitor.free = (monitor.sampled, free)
    return free


def snapshot():
    """What the monitor saw last (for benchmarks and `tenfold info`)."""
    return {"usable_cores": usable_cores(), "other_busy_cores": round(_monitor.others, 2),
            "free_cores": free_cores()}
