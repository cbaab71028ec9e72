"""tf.function against TensorFlow 2.21 (goldens: tests/fixtures/tfgraph/tf_prune_print.json,
made by make_prune_print_goldens.py there): constants made while tracing print as TF's
Const ops, and any op without side effects whose result nothing uses is pruned even if it
would fail, while stateful ops always run."""
import json
import os
import sys

import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import InvalidArgumentError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tfgraph")
sys.path.insert(0, FIXTURES)
import prune_print_cases as cases  # noqa: E402

with open(os.path.join(FIXTURES, "tf_prune_print.json")) as fh:
    GOLD = json.load(fh)


def _outcome(fn, *args):
    return cases.outcome(np, fn, *args)


def test_constants_print_as_const_ops_in_program_order():
    lines = []
    consts = cases.print_consts(tf, np, lines)
    assert consts(tf.constant(1)).numpy() == 2
    assert lines == GOLD["print_consts"]


def test_constant_in_function_without_arguments():
    lines = []
    noarg = cases.print_noarg(tf, lines)
    assert noarg().numpy() == 3
    assert lines == GOLD["print_noarg"]
    assert noarg().numpy() == 3   # the graph run: no trace, nothing printed
    assert len(lines) == 2


def test_constant_outside_trace_prints_its_value():
    c = tf.constant(4)
    seen = []

    @tf.function
    def f(x):
        seen.append(str(c))   # an eager tensor captured from outside: TF prints its value
        return x + c

    f(tf.constant(1))
    assert seen == ["tf.Tensor(4, shape=(), dtype=int32)"]


@pytest.mark.parametrize("case", ["unused_cholesky", "unused_to_number",
                                  "unused_int_div_zero", "unused_gather_chain"])
def test_unused_failing_ops_are_pruned(case):
    fn, (arg,) = cases.pruning(tf)[case]
    with np.errstate(all="ignore"):
        for _ in range(2):   # the trace, then the graph run
            assert _outcome(fn, arg) == GOLD[case]
    # the failing op is not in the graph: a tape replaying the graph does not meet it
    concrete = fn.get_concrete_function(arg)
    names = [n.op.name for n in concrete.graph.nodes]
    assert not {"cholesky", "string_to_number", "floordiv", "gather"} & set(names)


def test_used_failing_ops_raise():
    assert GOLD["used_to_number"] == GOLD["used_int_div_zero"] == ["error",
                                                                   "InvalidArgumentError"]

    fns = cases.pruning(tf)
    used_to_number, used_int_div_zero = fns["used_to_number"][0], fns["used_int_div_zero"][0]

    with pytest.raises(InvalidArgumentError, match="abc"):
        used_to_number(tf.constant(["abc", "1"]))
    with np.errstate(all="ignore"), pytest.raises(InvalidArgumentError):
        used_int_div_zero(tf.constant([1, 2]))


def test_used_by_a_cond_raises():
    @tf.function
    def f(x):
        y = tf.gather(x, 9)
        return tf.cond(x[0] > 0, lambda: y, lambda: x[1])

    with pytest.raises(InvalidArgumentError):
        f(tf.constant([1.0, 2.0]))


def test_shape_errors_raise_while_tracing_even_if_unused():
    # TensorFlow's shape inference rejects these when the graph is built
    assert GOLD["unused_matmul_mismatch"] == GOLD["unused_broadcast_mismatch"] == \
        ["error", "ValueError"]

    fns = cases.pruning(tf)
    unused_matmul_mismatch = fns["unused_matmul_mismatch"][0]
    unused_broadcast_mismatch = fns["unused_broadcast_mismatch"][0]

    assert _outcome(unused_matmul_mismatch, tf.ones((2, 3)), tf.ones((4, 5))) == \
        ["error", "InvalidArgumentError"]  # a ValueError subclass, as TF's is
    with pytest.raises(ValueError):
        unused_matmul_mismatch(tf.ones((2, 3)), tf.ones((4, 5)))
    with pytest.raises(ValueError):
        unused_broadcast_mismatch(tf.ones((2, 3)), tf.ones((4,)))


def test_stateful_ops_are_never_pruned():
    v = tf.Variable(0)

    @tf.function
    def unused_assign(x):
        v.assign_add(x)
        return x

    unused_assign(tf.constant(2))
    unused_assign(tf.constant(3))
    assert v.numpy() == GOLD["unused_assign"]

    calls = []

    @tf.function
    def unused_py_function(x):
        tf.py_function(lambda a: calls.append(float(a)) or a, [x], tf.float32)
        return x

    unused_py_function(tf.constant(1.0))
    unused_py_function(tf.constant(2.0))
    assert calls == GOLD["unused_py_function"]

    g = tf.random.Generator.from_seed(1)

    @tf.function
    def unused_generator(x):
        g.normal([3])
        return x

    before = g.state.numpy().tolist()
    unused_generator(tf.constant(1.0))
    after_trace = g.state.numpy().tolist()
    unused_generator(tf.constant(1.0))
    assert (after_trace != before) == GOLD["generator_state_advanced"]
    assert g.state.numpy().tolist() != after_trace   # the graph run advances it too


def test_print_op_unused_result_runs_each_call(capsys):
    @tf.function
    def f(x):
        tf.print("value", x)
        return x

    f(tf.constant(1))
    f(tf.constant(2))
    out = capsys.readouterr()
    assert (out.out + out.err).split() == ["value", "1", "value", "2"]


def test_pruned_failing_op_under_a_tape():
    @tf.function
    def f(x):
        tf.gather(x, 5)
        tf.linalg.cholesky(tf.reshape(x, (1, 2)) * tf.ones((2, 1)))
        return tf.reduce_sum(x * x)

    x = tf.Variable([1.0, 2.0])
    f(x)   # traced
    with tf.GradientTape() as tape:
        y = f(x)
    assert np.allclose(tape.gradient(y, x).numpy(), [2.0, 4.0])


def test_failing_op_in_a_cond_branch_fails_only_when_taken():
    guarded_gather = cases.guarded_gather(tf)
    x = tf.constant([1.0, 2.0])
    # the first call traces with an out-of-range index (the branch taken is the guard's)
    assert [_outcome(guarded_gather, x, tf.constant(i)) for i in (5, 1, 7, 0)] == \
        GOLD["guarded_gather"]
    assert guarded_gather.experimental_get_tracing_count() == 1


def test_failing_op_in_a_loop_body_fails_only_when_run():
    loop_gather = cases.loop_gather(tf)
    x = tf.constant([1.0, 2.0])
    assert [_outcome(loop_gather, x, tf.constant(n)) for n in (0, 2, 3)] == GOLD["loop_gather"]
