"""AutoGraph: Python `if` / `while` / `for` on tensors inside tf.function
(tenfold/graph/autograph.py).

Expected values come from running the same logic in plain Python / NumPy."""
import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import OperatorNotAllowedInGraphError


def _collatz_py(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def test_if_else_on_tensor_both_branches_several_variables():
    @tf.function
    def f(x):
        a = x * 0.0
        if tf.reduce_sum(x) > 0:
            a = x * 2.0
            b = tf.reduce_max(x)
        else:
            a = -x
            b = tf.reduce_min(x)
        return a, b

    for xs in ([1.0, 2.0, 3.0], [-3.0, 1.0, -4.0]):
        x = np.array(xs, np.float32)
        a, b = f(tf.constant(x))
        if x.sum() > 0:
            want_a, want_b = x * 2, x.max()
        else:
            want_a, want_b = -x, x.min()
        np.testing.assert_allclose(a.numpy(), want_a)
        np.testing.assert_allclose(b.numpy(), want_b)
    assert f.experimental_get_tracing_count() == 1   # one graph serves both branches


def test_if_with_tail_return():
    @tf.function
    def f(x):
        if tf.reduce_sum(x) > 0:
            return x * 2
        return -x

    np.testing.assert_allclose(f(tf.constant([1.0, 2.0])).numpy(), [2.0, 4.0])
    np.testing.assert_allclose(f(tf.constant([-3.0, 1.0])).numpy(), [3.0, -1.0])


def test_while_on_tensor_collatz():
    @tf.function
    def collatz(n):
        steps = tf.constant(0)
        while n != 1:
            n = tf.cond(n % 2 == 0, lambda: n // 2, lambda: 3 * n + 1)
            steps += 1
        return steps

    assert int(collatz(tf.constant(27))) == _collatz_py(27) == 111
    for n in (1, 6, 7, 97):
        assert int(collatz(tf.constant(n))) == _collatz_py(n)
    assert collatz.experimental_get_tracing_count() == 1


def test_while_with_python_int_counter_and_nested_if():
    @tf.function
    def f(n):
        i = 0
        evens = 0
        odds = tf.constant(0)
        while i < n:
            if i % 2 == 0:
                evens += i
            else:
                odds += i * i
            i += 1
        return evens, odds

    for n in (0, 1, 5, 8):
        e, o = f(tf.constant(n))
        assert int(e) == sum(k for k in range(n) if k % 2 == 0)
        assert int(o) == sum(k * k for k in range(n) if k % 2 == 1)


def test_for_over_tf_range_accumulates():
    @tf.function
    def f(n):
        s = tf.constant(0)
        for i in tf.range(n):
            s += i * i
        return s

    for n in (0, 1, 4, 10):
        assert int(f(tf.constant(n))) == sum(k * k for k in range(n))
    assert f.experimental_get_tracing_count() == 1

    @tf.function
    def g(a, b):
        s = tf.constant(0)
        for i in tf.range(a, b, 3):
            s += i
        return s

    assert int(g(tf.constant(2), tf.constant(14))) == sum(range(2, 14, 3))

    @tf.function
    def h(n):
        s = 0
        for i in range(n):    # Python's range of a tensor: converted like tf.range
            s += i
        return s

    assert [int(h(tf.constant(n))) for n in (0, 3, 7)] == [sum(range(n)) for n in (0, 3, 7)]


def test_for_over_tensor_rows():
    @tf.function
    def f(x):
        acc = tf.zeros_like(x[0])
        for row in x:
            acc = acc + row * row
        return acc

    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_allclose(f(tf.constant(x)).numpy(), (x * x).sum(0))


def test_python_conditions_stay_python():
    trace_log = []

    @tf.function
    def f(x, training):
        if training:
            trace_log.append("train")
            y = x * 2.0
        else:
            trace_log.append("infer")
            y = x
        for k in [1.0, 2.0]:   # a Python list: unrolled, as in Python
            y = y + k
        return y

    x = tf.constant([1.0, 2.0])
    for _ in range(3):
        np.testing.assert_allclose(f(x, True).numpy(), [5.0, 7.0])
        np.testing.assert_allclose(f(x, False).numpy(), [4.0, 5.0])
    # side effects run only while tracing, once per Python value, and only the taken branch
    assert trace_log == ["train", "infer"]


def test_gradient_through_converted_if():
    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            if tf.reduce_sum(x) > 0:
                y = tf.reduce_sum(x * x)
            else:
                y = tf.reduce_sum(3.0 * x)
        return y, tape.gradient(y, x)

    x = np.array([1.0, 2.0], np.float32)
    y, g = f(tf.constant(x))
    np.testing.assert_allclose(y.numpy(), (x * x).sum())
    np.testing.assert_allclose(g.numpy(), 2 * x)
    x = np.array([-1.0, -2.0], np.float32)
    y, g = f(tf.constant(x))
    np.testing.assert_allclose(y.numpy(), (3 * x).sum())
    np.testing.assert_allclose(g.numpy(), [3.0, 3.0])


def test_variable_defined_in_one_branch_only_is_an_error():
    @tf.function
    def f(x):
        if tf.reduce_sum(x) > 0:
            y = x + 1.0  # noqa: F841 (assigned in one branch only)
        return x

    with pytest.raises(ValueError, match="'y' must also be initialized in the else branch"):
        f(tf.constant([1.0]))


def test_unsupported_constructs_fall_back_with_the_same_error():
    @tf.function
    def f(n):
        i = tf.constant(0)
        while True:       # `break` inside the loop: not converted
            if i >= n:
                break
            i += 1
        return i

    with pytest.raises(OperatorNotAllowedInGraphError, match=r"tf\.cond.*run_functions_eagerly"):
        f(tf.constant(3))

    @tf.function(autograph=False)
    def g(x):
        if tf.reduce_sum(x) > 0:
            return x
        return -x

    with pytest.raises(OperatorNotAllowedInGraphError, match=r"tf\.cond.*run_functions_eagerly"):
        g(tf.ones(3))

    h = tf.function(lambda x: x * 2.0)  # lambdas are traced as written
    np.testing.assert_allclose(h(tf.constant([1.0])).numpy(), [2.0])


def test_do_not_convert_and_to_graph():
    def f(x):
        if tf.reduce_sum(x) > 0:
            y = x
        else:
            y = -x
        return y

    conv = tf.autograph.to_graph(f)
    # eagerly the converted function is plain Python
    np.testing.assert_allclose(conv(tf.constant([-2.0])).numpy(), [2.0])
    np.testing.assert_allclose(tf.function(conv)(tf.constant([-2.0])).numpy(), [2.0])
    np.testing.assert_allclose(tf.function(f)(tf.constant([3.0])).numpy(), [3.0])

    g = tf.autograph.experimental.do_not_convert(f)
    with pytest.raises(OperatorNotAllowedInGraphError):
        tf.function(g)(tf.constant([-2.0]))


def test_method_and_nested_function_are_converted():
    class M:
        def __init__(self):
            self.scale = 3.0

        @tf.function
        def __call__(self, x):
            if tf.reduce_mean(x) > 0:
                out = x * self.scale
            else:
                out = x / self.scale
            return out

    m = M()
    np.testing.assert_allclose(m(tf.constant([3.0])).numpy(), [9.0])
    np.testing.assert_allclose(m(tf.constant([-3.0])).numpy(), [-1.0])

    @tf.function
    def outer(x):
        return m(x) + 1.0

    np.testing.assert_allclose(outer(tf.constant([-3.0])).numpy(), [0.0])


def test_zero_argument_super_in_a_converted_branch():
    class Base:
        def f(self, x):
            return x + 1.0

    class Child(Base):
        @tf.function
        def f(self, x):
            if tf.reduce_sum(x) > 0:
                y = super().f(x)
            else:
                y = x * 0.0
            return y

    c = Child()
    np.testing.assert_allclose(c.f(tf.constant([1.0])).numpy(), [2.0])
    np.testing.assert_allclose(c.f(tf.constant([-1.0])).numpy(), [0.0])


def test_statement_with_break_stays_python_rest_is_converted():
    @tf.function
    def f(x, items):
        total = 0.0
        for v in items:           # `break` inside: left as a Python loop
            if v < 0:
                break
            total += v
        if tf.reduce_sum(x) > 0:  # still converted to tf.cond
            y = x + total
        else:
            y = x - total
        return y

    items = (1.0, 2.0, -1.0, 5.0)
    total = 0.0
    for v in items:
        if v < 0:
            break
        total += v
    np.testing.assert_allclose(f(tf.constant([1.0]), items).numpy(), [1.0 + total])
    np.testing.assert_allclose(f(tf.constant([-1.0]), items).numpy(), [-1.0 - total])
