"""The tracer holds the tensors it sees only weakly: a traced call frees what the program
drops, as eager execution does (tenfold/graph/tracer.py), and the graph it records is the same."""
import gc
import tracemalloc

import numpy as np

import tenfold as tf

N = 1 << 20   # float64 elements: 8 MiB per intermediate


def _chain(x, steps=16):
    for _ in range(steps):
        x = x * 1.0001 + 0.5
    return x


def _peak_of(fn, *args):
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = fn(*args)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_tracing_call_frees_dropped_intermediates():
    x = tf.constant(np.ones(N))
    f = tf.function(_chain)
    out, peak = _peak_of(f, x)   # the first call traces
    # 32 intermediates of 8 MiB were made; a few live at a time (before: all 32)
    assert peak < 8 * N * 8, f"tracing peak {peak / 2**20:.0f} MiB"
    np.testing.assert_allclose(out.numpy(), _chain(np.ones(N)))
    out2, _ = _peak_of(f, tf.constant(np.full(N, 2.0)))   # the graph replays the same ops
    np.testing.assert_allclose(out2.numpy(), _chain(np.full(N, 2.0)))


def test_array_of_a_dropped_tensor_still_links_to_its_graph_value():
    from tenfold.graph.tracer import current_tracer

    @tf.function
    def f(x):
        t = x + 1.0
        a = t._value   # only the array outlives its tensor
        del t
        gc.collect()
        again = current_tracer().tensor_for_array(a)   # as a variable assign looks it up
        assert again is not None and again._value is a
        return again * 2.0

    np.testing.assert_array_equal(f(tf.constant([1.0, 2.0])).numpy(), [4.0, 6.0])
    # the graph: the value is x + 1 of this call's x, not a constant kept from the trace
    np.testing.assert_array_equal(f(tf.constant([10.0, 20.0])).numpy(), [22.0, 42.0])


def test_dropped_failed_op_is_still_pruned_and_ids_are_not_confused():
    @tf.function
    def f(x):
        for _ in range(50):   # many short-lived tensors: ids get reused after each dies
            y = x * 2.0
        tf.linalg.cholesky(tf.constant([[1.0, 2.0], [2.0, 1.0]]) * x[0])  # fails; dropped
        return x + 1.0

    np.testing.assert_array_equal(f(tf.constant([1.0, 2.0])).numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(f(tf.constant([3.0, 4.0])).numpy(), [4.0, 5.0])
    names = [n.op.name for n in f.get_concrete_function(tf.constant([1.0, 2.0])).graph.nodes]
    assert "cholesky" not in names
