"""The C thread pool for native kernels' parallel regions (backend/native/pool.c through
backend/native_pool.py): every task runs once with its own arguments and the shared
doubles, on one thread or several, region after region (no lost or repeated task, no
argument of one region read in another), from several Python threads at once, and across
fork(); bad rows are refused; callers that cannot have it keep their own path."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from tenfold.backend import kernels as K
from tenfold.backend import native_pool as NP
from tenfold.keras.optimizers import native_updates as NU

needs_pool = pytest.mark.skipif(not NP.available(), reason="native pool unavailable")
RNG = np.random.default_rng(31)


def _rmsprop_rows(n, chunk):
    """RMSprop's C kernel over float32 arrays cut into `chunk`-element tasks: (fn, rows,
    doubles, (w, v, g), reference (w, v) after one whole-array call). g is returned so that
    it lives as long as the rows that point into it."""
    g = RNG.standard_normal(n).astype(np.float32)
    w = RNG.standard_normal(n).astype(np.float32)
    v = np.abs(RNG.standard_normal(n)).astype(np.float32)
    s = [0.001, 0.9, 0.1, 1e-7, 0.0]
    fn = NU._fn("rmsprop", np.float32)
    ref_w, ref_v = w.copy(), v.copy()
    fn(*NU._pointers([g, ref_w, ref_v]), None, None, n, *s)
    ptrs = NU._pointers([g, w, v])
    rows = [[p + 4 * lo for p in ptrs] + [0, 0, min(chunk, n - lo)]
            for lo in range(0, n, chunk)]
    return fn, rows, s, (w, v, g), (ref_w, ref_v)


@needs_pool
@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("n,chunk", [(1, 1), (1000, 7), (100_000, 4096), (50_000, 50_000)])
def test_every_task_runs_once(monkeypatch, threads, n, chunk):
    monkeypatch.setattr(NP, "threads", lambda: threads)
    fn, rows, s, (w, v, _), (rw, rv) = _rmsprop_rows(n, chunk)
    assert NP.run(fn, rows, s)
    np.testing.assert_array_equal(w, rw)   # a task run twice would update twice
    np.testing.assert_array_equal(v, rv)


@needs_pool
def test_regions_back_to_back(monkeypatch):
    """Many short regions in a row: each sees its own arguments (the helpers spin between
    them), with and without sleeping helpers in between."""
    monkeypatch.setattr(NP, "threads", lambda: 2)
    for k in range(300):
        fn, rows, s, (w, v, _), (rw, rv) = _rmsprop_rows(2048 + k, 256 + k)
        assert NP.run(fn, rows, s)
        np.testing.assert_array_equal(w, rw)
        if k % 100 == 99:
            monkeypatch.setattr(NP, "_SPIN_NS", 0)   # helpers go to sleep between regions


@needs_pool
def test_from_several_python_threads(monkeypatch):
    monkeypatch.setattr(NP, "threads", lambda: 2)
    errors = []

    def worker():
        try:
            for _ in range(50):
                fn, rows, s, (w, v, _), (rw, rv) = _rmsprop_rows(20_000, 1000)
                assert NP.run(fn, rows, s)
                np.testing.assert_array_equal(w, rw)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


@needs_pool
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_child_starts_a_new_pool(tmp_path):
    script = f"""
import os, sys
sys.path.insert(0, {os.getcwd()!r})
import numpy as np
from tenfold.backend import native_pool as NP
NP.threads = lambda: 2
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_native_pool import _rmsprop_rows
def check():
    fn, rows, s, (w, v, _), (rw, rv) = _rmsprop_rows(50_000, 1000)
    assert NP.run(fn, rows, s) and np.array_equal(w, rw)
check()
pid = os.fork()
if pid == 0:
    check(); check()
    os._exit(0)
_, status = os.waitpid(pid, 0)
check()
print("status", status)
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "status 0" in r.stdout


def test_bad_rows_are_refused():
    if not NP.available():
        pytest.skip("native pool unavailable")
    fn = NU._fn("rmsprop", np.float32)
    with pytest.raises(ValueError, match="at most 24 integers"):
        NP.run(fn, np.zeros((2, 25), np.int64))
    with pytest.raises(ValueError, match="at most 8"):
        NP.run(fn, np.zeros((2, 3), np.int64), [0.0] * 9)


def test_unavailable_means_nothing_runs(monkeypatch):
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert not NP.available()
    assert NP.run(None, np.zeros((1, 1), np.int64)) is False


def test_one_thread_inside_a_parallel_region():
    """A region asked for from a kernel thread's task runs on that thread alone."""
    seen = []
    K.run_tasks([0, 1], lambda t, _: seen.append(NP.threads()), 1 << 40, min_bytes=0)
    assert seen == [1, 1]


@needs_pool
def test_helpers_sent_to_sleep_still_serve(monkeypatch):
    """kernels.run_tasks quiets the spinning helpers before its own threads start; the next
    region wakes them."""
    monkeypatch.setattr(NP, "threads", lambda: 2)
    fn, rows, s, (w, v, _), (rw, rv) = _rmsprop_rows(30_000, 1000)
    assert NP.run(fn, rows, s)
    assert K.before_python_region           # the pool's hook is registered
    K.run_tasks([0, 1], lambda t, _: None, 1 << 40, min_bytes=0)
    fn, rows, s, (w, v, _), (rw, rv) = _rmsprop_rows(30_000, 1000)
    assert NP.run(fn, rows, s)
    np.testing.assert_array_equal(w, rw)


# ------------------------------------------------------------------------------------------
# regions left running (start / join): an optimizer update overlapping the Python after it

def _start(fn, rows, s, arrays):
    return NP.start(fn, np.asarray(rows, np.int64), s,
                    {id(NP.root(a)) for a in arrays}, list(arrays))


@needs_pool
@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("n,chunk", [(1, 1), (100_000, 4096), (401_408, 32_768)])
def test_started_region_runs_every_task_once(monkeypatch, threads, n, chunk):
    monkeypatch.setattr(NP, "threads", lambda: threads)
    fn, rows, s, (w, v, g), (rw, rv) = _rmsprop_rows(n, chunk)
    assert _start(fn, rows, s, (w, v, g))
    assert (NP._pending[0] is not None) == (threads > 1)   # one thread: run at once
    assert NP.pending_touches(w) == (threads > 1) and not NP.pending_touches(rw)
    NP.join()
    assert NP._pending[0] is None and not NP.pending_touches(w)
    np.testing.assert_array_equal(w, rw)
    np.testing.assert_array_equal(v, rv)


@needs_pool
def test_started_region_is_joined_by_the_next_region(monkeypatch):
    """run / start finish this thread's started region first: both updates land, in order
    (the second reads what the first wrote)."""
    monkeypatch.setattr(NP, "threads", lambda: 2)
    fn, rows, s, (w, v, g), _ = _rmsprop_rows(200_000, 8192)
    ref_w, ref_v = w.copy(), v.copy()
    for _ in range(3):
        fn(*NU._pointers([g, ref_w, ref_v]), None, None, w.size, *s)
    assert _start(fn, rows, s, (w, v, g))
    assert _start(fn, rows, s, (w, v, g))     # joins the first, starts the second
    assert NP.run(fn, np.asarray(rows, np.int64), s)   # joins the second, runs a third
    assert NP._pending[0] is None
    np.testing.assert_array_equal(w, ref_w)
    np.testing.assert_array_equal(v, ref_v)


@needs_pool
def test_guard_joins_only_for_the_arrays_touched(monkeypatch):
    monkeypatch.setattr(NP, "threads", lambda: 2)
    fn, rows, s, (w, v, g), (rw, rv) = _rmsprop_rows(300_000, 8192)
    assert _start(fn, rows, s, (w, v, g))
    NP.guard(np.ones(3), rw)                  # unrelated arrays: still running
    assert NP._pending[0] is not None
    NP.guard(np.ones(3), w[10:20].reshape(2, 5))   # a view of a weight: joined
    assert NP._pending[0] is None
    np.testing.assert_array_equal(w, rw)


@needs_pool
def test_started_region_waits_for_its_owner(monkeypatch):
    """Another Python thread's region waits until the starting thread joins (only the owner
    joins); then both have run, each once."""
    import time
    monkeypatch.setattr(NP, "threads", lambda: 2)
    fn, rows, s, (w, v, g), (rw, rv) = _rmsprop_rows(300_000, 8192)
    fn2, rows2, s2, (w2, v2, g2), (rw2, rv2) = _rmsprop_rows(100_000, 4096)
    assert _start(fn, rows, s, (w, v, g))
    done = []
    t = threading.Thread(target=lambda: done.append(
        (NP.join(), NP.run(fn2, rows2, s2), time.perf_counter())))
    t.start()
    time.sleep(0.05)
    assert not done and NP._pending[0] is not None   # waiting for this thread's join
    joined_at = time.perf_counter()
    NP.join()
    t.join(10)
    assert done and done[0][1] and done[0][2] >= joined_at
    np.testing.assert_array_equal(w, rw)
    np.testing.assert_array_equal(w2, rw2)


@needs_pool
def test_python_threads_region_joins_first(monkeypatch):
    """kernels.run_tasks finishes a started region before its threads run (their kernels may
    want the pool, which would wait for a join their caller never reaches)."""
    monkeypatch.setattr(NP, "threads", lambda: 2)
    fn, rows, s, (w, v, g), (rw, rv) = _rmsprop_rows(300_000, 8192)
    assert _start(fn, rows, s, (w, v, g))
    fn2, rows2, s2, (w2, v2, g2), (rw2, rv2) = _rmsprop_rows(10_000, 1000)
    K.run_tasks([0, 1], lambda t, _: t == 0 and NP.run(fn2, rows2, s2), 1 << 40, min_bytes=0)
    assert NP._pending[0] is None
    np.testing.assert_array_equal(w, rw)
    np.testing.assert_array_equal(w2, rw2)


@needs_pool
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_with_a_started_region():
    """fork() finishes the forking thread's started region first (it holds the pool's
    lock): the child starts with the update done and a pool of its own."""
    script = f"""
import os, sys
sys.path.insert(0, {os.getcwd()!r})
import numpy as np
from tenfold.backend import native_pool as NP
NP.threads = lambda: 2
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_native_pool import _rmsprop_rows, _start
fn, rows, s, (w, v, g), (rw, rv) = _rmsprop_rows(400_000, 8192)
assert _start(fn, rows, s, (w, v, g))
pid = os.fork()
if pid == 0:
    ok = np.array_equal(w, rw)
    fn2, rows2, s2, (w2, v2, _), (rw2, rv2) = _rmsprop_rows(50_000, 1000)
    ok = ok and NP.run(fn2, rows2, s2) and np.array_equal(w2, rw2)
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
NP.join()
print("status", status, np.array_equal(w, rw))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "status 0 True" in r.stdout


@needs_pool
def test_started_region_runs_at_once_on_a_busy_machine(monkeypatch):
    """With another program holding a core, a started region runs on the calling thread at
    once, as a region run at once does (a helper sharing that core could stall the join)."""
    monkeypatch.setattr(K, "_busy", lambda: True)
    monkeypatch.setattr(K, "_workers", lambda *a: 2)
    assert NP.threads() == 1
    fn, rows, s, (w, v, g), (rw, rv) = _rmsprop_rows(200_000, 8192)
    assert _start(fn, rows, s, (w, v, g))
    assert NP._pending[0] is None
    np.testing.assert_array_equal(w, rw)
