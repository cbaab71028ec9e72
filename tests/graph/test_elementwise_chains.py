"""The executor's elementwise-chain pass (tenfold/graph/elementwise.py): chains of elementwise
primitives run as one node into one buffer, in cache-sized blocks, with the numbers of the
unfused nodes bit for bit."""
import numpy as np
import pytest

import tenfold as tf
from tenfold.graph import executor, threads


def _plan_of(fn):
    prog = list(fn._exact.values())[0][1]
    return prog.plan()


def _run_both(make, args):
    """(result with chains, result without), each from a fresh tf.function, plus the plan's
    node names with chains on. BLAS runs on one thread in both: each function's tuner would
    pick its own count by the machine's load, and a product's last bits depend on it."""
    outs = []
    names = None
    threads.set_blas_threads(1)
    try:
        for chains in (True, False):
            with executor.optimizations(chains=chains):
                fn = tf.function(make())
                fn(*args)                      # trace
                out = fn(*args)                # the compiled plan
                if chains:
                    plan = _plan_of(fn)
                    names = [n.op.name for n in plan.nodes]
            outs.append([o.numpy() for o in tf.nest.flatten(out)])
    finally:
        threads.set_blas_threads(0)
    return outs[0], outs[1], names


@pytest.mark.parametrize("shape", [(4, 5), (300, 1000), (3, 70, 400)])
def test_chain_matches_unfused_bit_for_bit(shape):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal(shape).astype(np.float32))
    row = tf.constant(rng.standard_normal(shape[:-1] + (1,)).astype(np.float32))
    col = tf.constant(rng.standard_normal(shape[-1:]).astype(np.float32))

    def make():
        def f(x, row, col):
            h = tf.matmul(x, tf.ones((shape[-1], shape[-1]))) if len(shape) == 2 else x * 1.5
            y = tf.nn.relu(h + col) * row - 0.5       # add > relu > multiply > subtract
            z = tf.exp(y) * y                           # y read twice: a side input
            return tf.tanh(z) / (1.0 + tf.square(x)), y
        return f
    a, b, names = _run_both(make, (x, row, col))
    assert any(n.startswith("chain[") for n in names), names
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_chain_never_moves_a_read_past_an_assignment():
    v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))

    def make():
        def f(x):
            a = x * v                  # reads v before the assignment
            v.assign_add(tf.ones((2, 3)))
            return a + 1.0
        return f
    x = tf.constant(np.full((2, 3), 2.0, np.float32))
    v.assign(np.arange(6, dtype=np.float32).reshape(2, 3))
    with executor.optimizations(chains=True):
        fn = tf.function(make())
        fn(x)
        v.assign(np.arange(6, dtype=np.float32).reshape(2, 3))
        out = fn(x).numpy()
    np.testing.assert_array_equal(out, np.arange(6, dtype=np.float32).reshape(2, 3) * 2 + 1)


def test_chain_in_place_only_over_a_first_step_input():
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal((64, 600)).astype(np.float32))

    def make():
        def f(x):
            e = tf.exp(x)              # owned by the graph, dies in the chain
            return (e * 2.0 + e) * 0.5  # e is read by the first and the second step
        return f
    a, b, names = _run_both(make, (x,))
    np.testing.assert_array_equal(a[0], b[0])
    e = np.exp(x.numpy())
    np.testing.assert_allclose(a[0], (e * 2 + e) * 0.5, rtol=1e-6)


def test_bias_add_then_leaky_relu_runs_as_one_step(monkeypatch):
    from tenfold.backend import kernels as K
    rng = np.random.default_rng(2)
    x = tf.constant(rng.standard_normal((9, 7, 5, 33)).astype(np.float32) * 3)
    b = tf.constant(rng.standard_normal(33).astype(np.float32))
    row = tf.constant(rng.standard_normal((9, 7, 1, 33)).astype(np.float32))
    seen = []
    real = K.bias_leaky_relu
    monkeypatch.setattr(K, "bias_leaky_relu", lambda *a: seen.append(1) or real(*a))

    def make():
        def f(x, b, row):
            h = x * 1.5                                  # owned: may be the chain's buffer
            y1 = tf.nn.leaky_relu(h + b, 0.2) * 2.0      # bias second, a step after
            y2 = tf.nn.leaky_relu(b + x * 0.5, 0.3)      # bias first
            y3 = tf.nn.leaky_relu(x + row, 0.2) - 1.0    # not a vector: stays two steps
            return y1, y2, y3
        return f
    a, u, names = _run_both(make, (x, b, row))
    assert sum(n.startswith("chain[") for n in names) >= 3, names
    assert len(seen) == 2
    for p, q in zip(a, u):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chain_blocks_on_threads_equal_one_thread(monkeypatch, dtype):
    from tenfold.backend import kernels as K
    from tenfold.graph import elementwise as E
    rng = np.random.default_rng(3)
    x = tf.constant(rng.standard_normal((67, 33, 129)).astype(dtype))
    lead = tf.constant(rng.standard_normal((67, 1, 129)).astype(dtype))
    col = tf.constant(rng.standard_normal(129).astype(dtype))
    mid = tf.constant(rng.standard_normal((33, 1)).astype(dtype))

    def make():
        def f(x, lead, col, mid):
            y = tf.nn.leaky_relu(x * 1.5 + col, 0.2) * lead - mid
            return tf.tanh(y) + y * y
        return f

    def run():
        with executor.optimizations(chains=True):
            fn = tf.function(make())
            fn(x, lead, col, mid)
            return fn(x, lead, col, mid).numpy()

    monkeypatch.setattr(K, "_threads", 1)
    serial = run()
    monkeypatch.setattr(K, "_threads", 2)
    monkeypatch.setattr(K, "_busy", lambda: False)
    monkeypatch.setattr(E, "PARALLEL_MIN_BYTES", 1)
    tasks = []
    real = K.run_tasks
    monkeypatch.setattr(K, "run_tasks", lambda ts, *a, **k: tasks.append(len(ts)) or
                        real(ts, *a, **k))
    np.testing.assert_array_equal(run(), serial)
    assert tasks and max(tasks) >= 9   # the chain's blocks went to run_tasks
