"""tf.cond / tf.while_loop / tf.case / tf.switch_case: values and gradients, eager and inside
tf.function, checked against plain Python and finite differences (float64)."""
import numpy as np
import pytest

import tenfold as tf

RNG = np.random.default_rng(11)


def both(fn):
    """The eager function and its tf.function."""
    return [fn, tf.function(fn)]


def fd_grad(f, x, eps=1e-6):
    """Central finite differences of a scalar NumPy function."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_cond_values(mode):
    def f(x, y):
        return tf.cond(tf.reduce_sum(x) > tf.reduce_sum(y),
                       lambda: (x * 2.0, y),
                       lambda: (x - y, y * y))
    fn = both(f)[mode == "graph"]
    for _ in range(4):
        x, y = RNG.standard_normal(3), RNG.standard_normal(3)
        a, b = fn(tf.constant(x), tf.constant(y))
        wa, wb = (x * 2.0, y) if x.sum() > y.sum() else (x - y, y * y)
        np.testing.assert_allclose(a.numpy(), wa)
        np.testing.assert_allclose(b.numpy(), wb)


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_cond_gradient_is_the_taken_branch(mode):
    w = tf.Variable(np.array([0.5, -1.5, 2.0]))

    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.cond(tf.reduce_sum(x) > 0,
                        lambda: tf.reduce_sum(tf.sin(x) * w),
                        lambda: tf.reduce_sum(x * x * x))
        return tape.gradient(y, [x, w])
    fn = both(f)[mode == "graph"]
    for x in (np.array([1.0, 2.0, -0.5]), np.array([-1.0, -2.0, 0.5])):
        gx, gw = fn(tf.constant(x))

        def ref(xx):
            return np.sum(np.sin(xx) * w.numpy()) if xx.sum() > 0 else np.sum(xx ** 3)
        np.testing.assert_allclose(gx.numpy(), fd_grad(ref, x), rtol=1e-6, atol=1e-8)
        if x.sum() > 0:
            np.testing.assert_allclose(gw.numpy(), np.sin(x), rtol=1e-10)
        else:
            assert gw is None or np.all(gw.numpy() == 0)


def test_cond_branches_with_assignments_only_run_the_taken_one():
    v = tf.Variable(0.0)

    @tf.function
    def f(p):
        return tf.cond(p, lambda: v.assign_add(1.0).read_value(),
                       lambda: v.assign_sub(10.0).read_value())

    assert float(f(tf.constant(True))) == 1.0
    assert float(v.numpy()) == 1.0
    assert float(f(tf.constant(False))) == -9.0
    assert float(f(tf.constant(True))) == -8.0
    assert float(v.numpy()) == -8.0


def test_cond_with_python_predicate_and_shape_mismatch():
    assert float(tf.cond(True, lambda: tf.constant(1.0), lambda: tf.constant(2.0))) == 1.0

    @tf.function
    def bad(x):
        return tf.cond(x[0] > 0, lambda: x, lambda: x[:1])

    with pytest.raises(ValueError, match="same shapes"):
        bad(tf.constant([1.0, 2.0]))


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_while_loop_values(mode):
    def f(x, n):
        i0 = tf.constant(0)
        _, acc, total = tf.while_loop(lambda i, a, t: i < n,
                                      lambda i, a, t: (i + 1, a * x, t + tf.reduce_sum(a)),
                                      (i0, tf.ones_like(x), tf.constant(0.0, tf.float64)))
        return acc, total
    fn = both(f)[mode == "graph"]
    x = RNG.standard_normal(4)
    for n in (0, 1, 3, 5):
        acc, total = fn(tf.constant(x), tf.constant(n))
        np.testing.assert_allclose(acc.numpy(), x ** n)
        np.testing.assert_allclose(float(total), sum(np.sum(x ** k) for k in range(n)))
    if mode == "graph":
        assert fn.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_while_loop_gradient(mode):
    c = tf.Variable(np.array([0.3, -0.2]))

    def f(x, n):
        with tf.GradientTape() as tape:
            tape.watch(x)
            _, y = tf.while_loop(lambda i, y: i < n,
                                 lambda i, y: (i + 1, tf.tanh(y * x + c)),
                                 [tf.constant(0), x])
            s = tf.reduce_sum(y * y)
        return tape.gradient(s, [x, c])
    fn = both(f)[mode == "graph"]
    x = np.array([0.7, -0.4])
    for n in (1, 2, 4):
        gx, gc = fn(tf.constant(x), tf.constant(n))

        def ref_x(xx):
            y = xx
            for _ in range(n):
                y = np.tanh(y * xx + c.numpy())
            return np.sum(y * y)

        def ref_c(cc):
            y = x
            for _ in range(n):
                y = np.tanh(y * x + cc)
            return np.sum(y * y)
        np.testing.assert_allclose(gx.numpy(), fd_grad(ref_x, x), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(gc.numpy(), fd_grad(ref_c, c.numpy()), rtol=1e-6, atol=1e-9)


def test_while_loop_single_var_max_iterations_and_errors():
    def f(x):
        return tf.while_loop(lambda v: v < 100.0, lambda v: v * 2.0, x, maximum_iterations=3)
    for fn in both(f):
        assert float(fn(tf.constant(1.0))) == 8.0
        assert float(fn(tf.constant(60.0))) == 120.0

    @tf.function
    def grows(x):
        return tf.while_loop(lambda v: tf.reduce_sum(v) < 10.0,
                             lambda v: tf.concat([v, v], 0), [x])
    with pytest.raises(ValueError, match="keep their shapes"):
        grows(tf.ones(1))


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_switch_case_and_case(mode):
    def f(i, x):
        a = tf.switch_case(i, [lambda: x + 1.0, lambda: x * 10.0, lambda: -x])
        b = tf.case([(tf.equal(i, 0), lambda: x * 0.0), (tf.equal(i, 1), lambda: x * 2.0)],
                    default=lambda: x - 5.0)
        return a, b
    fn = both(f)[mode == "graph"]
    x = 3.0
    for i, (wa, wb) in enumerate([(4.0, 0.0), (30.0, 6.0), (-3.0, -2.0), (-3.0, -2.0)]):
        a, b = fn(tf.constant(i), tf.constant(x))
        assert float(a) == wa and float(b) == wb


def test_nested_cond_inside_while_inside_function():
    @tf.function
    def collatz_steps(n):
        def body(k, steps):
            k = tf.cond(tf.equal(k % 2, 0), lambda: k // 2, lambda: 3 * k + 1)
            return k, steps + 1
        _, steps = tf.while_loop(lambda k, s: k > 1, body, (n, tf.constant(0)))
        return steps

    def ref(n):
        s = 0
        while n > 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            s += 1
        return s
    for n in (1, 6, 7, 27):
        assert int(collatz_steps(tf.constant(n))) == ref(n)
    assert collatz_steps.experimental_get_tracing_count() == 1
