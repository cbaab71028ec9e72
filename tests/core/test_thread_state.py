"""Execution state is per thread (as JAX's trace stack is): a tape or a tf.function trace in one
thread never records the ops another thread runs, and new threads start with nothing active."""
import threading

import numpy as np

import tenfold as tf
from tenfold.framework.state import STATE


def _in_thread(fn):
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_worker_thread_ops_are_not_on_the_callers_tape():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * 3.0
        # a worker computes with the same variable while this thread's tape records
        n_observers_in_worker, w = _in_thread(lambda: (len(STATE.observers), x * 5.0))
        z = y + 1.0
    assert n_observers_in_worker == 0
    recorded = [e.out for e in tape._entries]
    assert any(o is y for o in recorded) and any(o is z for o in recorded)
    assert not any(o is w for o in recorded)
    assert float(tape.gradient(z, x)) == 3.0


def test_each_thread_has_its_own_tape():
    results = {}
    barrier = threading.Barrier(2)

    def worker(k):
        v = tf.Variable(float(k))
        with tf.GradientTape() as tape:
            barrier.wait()  # both tapes record at the same time
            y = v * v * float(k)
            barrier.wait()
        results[k] = float(tape.gradient(y, v))

    threads = [threading.Thread(target=worker, args=(k,)) for k in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {2: 8.0, 3: 18.0}  # d/dv k*v^2 = 2*k*v with v = k


def test_tracing_is_not_seen_by_other_threads():
    seen = {}

    @tf.function
    def f(x):
        seen["eager_inside"] = tf.executing_eagerly()
        seen["eager_in_worker"] = _in_thread(tf.executing_eagerly)
        seen["worker_value"] = _in_thread(lambda: float(tf.constant(2.0) * 2.0))
        return x * 2.0

    np.testing.assert_allclose(f(tf.constant([1.0])).numpy(), [2.0])
    assert seen == {"eager_inside": False, "eager_in_worker": True, "worker_value": 4.0}


def test_dataset_map_workers_do_not_see_the_callers_trace_or_tape():
    seen = []

    def fn(x):
        seen.append((tf.executing_eagerly(), len(STATE.observers)))
        return x + 1

    ds = tf.data.Dataset.range(6).map(fn, num_parallel_calls=3)
    x = tf.Variable(1.0)
    with tf.GradientTape():
        out = sorted(int(v) for v in ds.as_numpy_iterator())
        assert x is not None
    assert out == [1, 2, 3, 4, 5, 6]
    # spec inference runs in this thread with recording paused; the element calls in workers
    assert all(eager and n == 0 for eager, n in seen)


def test_name_scopes_are_per_thread():
    with tf.name_scope("outer"):
        inner = _in_thread(lambda: tf.Variable(1.0, name="v").name)
        here = tf.Variable(1.0, name="v").name
    assert inner == "v:0"
    assert here.startswith("outer/")
