"""GradientTape: watching, persistence, nesting, structures, unconnected gradients,
custom_gradient, jacobians, and very long chains. References are NumPy derivatives and finite
differences."""
import numpy as np
import pytest

import tenfold as tf
from tenfold.testing import gradient_check, second_derivative_check


def test_trainable_variables_are_watched_automatically():
    v = tf.Variable([1.0, 2.0])
    frozen = tf.Variable([3.0, 4.0], trainable=False)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(v * v + frozen * v + frozen)
    gv, gf = tape.gradient(y, [v, frozen])
    np.testing.assert_allclose(gv.numpy(), 2 * np.array([1.0, 2.0]) + [3.0, 4.0])
    assert gf is None  # non-trainable variables are not watched unless asked
    assert [id(x) for x in tape.watched_variables()] == [id(v)]


def test_watch_non_trainable_and_constants():
    frozen = tf.Variable(3.0, trainable=False)
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch([frozen, x])
        y = frozen * x * x
    gf, gx = tape.gradient(y, [frozen, x])
    assert float(gf) == pytest.approx(4.0)
    assert float(gx) == pytest.approx(12.0)


def test_unwatched_constant_gives_none():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None


def test_watch_accessed_variables_false():
    v = tf.Variable(2.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        y = v * v
    assert tape.gradient(y, v) is None


def test_non_persistent_tape_used_twice_raises():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(y, x)


def test_persistent_tape():
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert float(tape.gradient(y, x)) == pytest.approx(6.0)
    assert float(tape.gradient(z, x)) == pytest.approx(4 * 27.0)
    assert float(tape.gradient(z, y)) == pytest.approx(18.0)  # w.r.t. an intermediate
    del tape


def test_nested_tapes_second_derivative():
    x = tf.constant(0.7)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x ** 3
        dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)
    assert float(dy) == pytest.approx(3 * 0.7 ** 2)
    assert float(d2y) == pytest.approx(6 * 0.7)


def test_third_derivative_of_exp_sin():
    x = tf.constant(0.3, dtype=tf.float64)
    with tf.GradientTape() as t3:
        t3.watch(x)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                y = tf.sin(x)
            g1 = t1.gradient(y, x)
        g2 = t2.gradient(g1, x)
    g3 = t3.gradient(g2, x)
    assert float(g3) == pytest.approx(-np.cos(0.3))


def test_gradient_of_nested_structures():
    a = tf.Variable(1.0)
    b = tf.Variable([1.0, 2.0])
    c = tf.Variable([[3.0]])
    with tf.GradientTape() as tape:
        y = a * 2.0 + tf.reduce_sum(b * b) + tf.reduce_sum(c) * 3.0
    g = tape.gradient(y, {"a": a, "rest": [b, (c,)]})
    assert set(g) == {"a", "rest"}
    assert float(g["a"]) == 2.0
    np.testing.assert_allclose(g["rest"][0].numpy(), [2.0, 4.0])
    assert isinstance(g["rest"][1], tuple)
    np.testing.assert_allclose(g["rest"][1][0].numpy(), [[3.0]])


def test_multiple_targets_are_summed():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        ys = [x * x, 3.0 * x]
    assert float(tape.gradient(ys, x)) == pytest.approx(4.0 + 3.0)


def test_output_gradients():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=tf.constant([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(g.numpy(), [2.0, 0.0, 12.0])


@pytest.mark.parametrize("mode", ["zero", tf.UnconnectedGradients.ZERO, "ZERO"])
def test_unconnected_zero(mode):
    x = tf.constant([1.0, 2.0])
    z = tf.constant(5.0)
    with tf.GradientTape() as tape:
        tape.watch([x, z])
        y = tf.reduce_sum(x)
    gx, gz = tape.gradient(y, [x, z], unconnected_gradients=mode)
    np.testing.assert_allclose(gx.numpy(), [1.0, 1.0])
    assert gz.numpy() == 0.0 and gz.dtype == tf.float32


@pytest.mark.parametrize("mode", ["none", tf.UnconnectedGradients.NONE])
def test_unconnected_none(mode):
    x, z = tf.constant(1.0), tf.constant(5.0)
    with tf.GradientTape() as tape:
        tape.watch([x, z])
        y = x * 2.0
    assert tape.gradient(y, z, unconnected_gradients=mode) is None


def test_unconnected_bad_value():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, x, unconnected_gradients="sometimes")


def test_integer_sources_give_none():
    i = tf.constant(3)
    with tf.GradientTape() as tape:
        tape.watch(i)
        y = tf.cast(i, tf.float32) * 2.0
    assert tape.gradient(y, i) is None
    assert tape.watched_variables() == ()


def test_stop_gradient_and_stop_recording():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * tf.stop_gradient(x)
        with tape.stop_recording():
            z = x * x
        w = y + z
    assert float(tape.gradient(y, x)) == pytest.approx(2.0)
    assert float(tape.gradient(w, x)) == pytest.approx(2.0)


def test_broadcast_gradients_are_summed_back():
    b = tf.Variable([1.0, 2.0, 3.0])
    x = tf.ones([4, 3])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum((x + b) * 2.0)
    np.testing.assert_allclose(tape.gradient(y, b).numpy(), [8.0, 8.0, 8.0])


def test_long_chain_has_no_recursion_limit():
    x = tf.constant(1.0, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(10_000):
            y = y * 1.0001
    g = tape.gradient(y, x)
    assert float(g) == pytest.approx(1.0001 ** 10_000)


def test_gradient_inside_context_keeps_recording():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        g = tape.gradient(y, x)
        z = y * 3.0
    assert float(g) == 4.0
    assert float(tape.gradient(z, x)) == pytest.approx(12.0)


# --- custom_gradient -------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:overflow")
def test_custom_gradient():
    @tf.custom_gradient
    def log1pexp(x):
        e = tf.exp(x)

        def grad(dy):
            return dy * (1 - 1 / (1 + e))
        return tf.math.log(1 + e), grad

    x = tf.constant(100.0)  # the naive gradient would be nan here
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    assert float(tape.gradient(y, x)) == pytest.approx(1.0)


def test_custom_gradient_clips_and_is_used_in_chain():
    @tf.custom_gradient
    def clip_grad(x):
        return tf.identity(x), lambda dy: tf.clip_by_value(dy, -0.5, 0.5)

    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(clip_grad(x * 3.0) * 10.0)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.5, 1.5])


def test_custom_gradient_with_variables():
    v = tf.Variable(3.0)

    @tf.custom_gradient
    def scaled(x):
        def grad(dy, variables=None):
            return dy * v, [dy * x * 100.0]  # deliberately unusual variable gradient
        return x * v, grad

    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = scaled(x)
    gx, gv = tape.gradient(y, [x, v])
    assert float(gx) == pytest.approx(3.0)
    assert float(gv) == pytest.approx(200.0)


def test_custom_gradient_with_variables_needs_variables_kwarg():
    v = tf.Variable(3.0)

    @tf.custom_gradient
    def f(x):
        return x * v, lambda dy: dy * v

    with tf.GradientTape() as tape:
        x = tf.constant(1.0)
        tape.watch(x)
        with pytest.raises(TypeError, match="variables"):
            f(x)


def test_custom_gradient_second_order():
    @tf.custom_gradient
    def cube(x):
        return x * x * x, lambda dy: dy * 3.0 * x * x

    x = tf.constant(2.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = cube(x)
        g = inner.gradient(y, x)
    assert float(g) == pytest.approx(12.0)
    assert float(outer.gradient(g, x)) == pytest.approx(12.0)


def test_custom_gradient_without_tape_returns_value():
    @tf.custom_gradient
    def f(x):
        return x + 1.0, lambda dy: dy
    assert float(f(tf.constant(1.0))) == 2.0


# --- jacobians -------------------------------------------------------------------------------

def test_jacobian_matches_numpy():
    a = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    x = tf.constant([0.3, -0.2, 0.9], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.linalg.matvec(tf.constant(a), tf.tanh(x))
    j = tape.jacobian(y, x)
    expected = a * (1 - np.tanh(x.numpy()) ** 2)[None, :]
    assert j.shape == (2, 3)
    np.testing.assert_allclose(j.numpy(), expected)


def test_jacobian_unconnected():
    x = tf.constant([1.0, 2.0])
    z = tf.constant([3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = x * 2.0
    assert tape.jacobian(y, z) is None
    np.testing.assert_array_equal(tape.jacobian(y, z, unconnected_gradients="zero").numpy(),
                                  np.zeros((2, 1)))


def test_batch_jacobian():
    x = tf.constant(np.random.default_rng(0).standard_normal((4, 3)))
    w = tf.constant(np.random.default_rng(1).standard_normal((3, 2)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.matmul(x * x, w)
    bj = tape.batch_jacobian(y, x)
    assert bj.shape == (4, 2, 3)
    expected = np.einsum("ij,bi->bji", w.numpy(), 2 * x.numpy())
    np.testing.assert_allclose(bj.numpy(), expected)


# --- second derivatives of the core primitives -------------------------------------------------

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("name,fn,inputs", [
    ("tanh", tf.tanh, [RNG.standard_normal((2, 3))]),
    ("sigmoid", tf.sigmoid, [RNG.standard_normal((2, 3))]),
    ("exp", tf.exp, [RNG.standard_normal((2, 3))]),
    ("log", tf.math.log, [RNG.uniform(0.5, 2, (2, 3))]),
    ("softmax", tf.nn.softmax, [RNG.standard_normal((2, 4))]),
    ("log_softmax", tf.nn.log_softmax, [RNG.standard_normal((2, 4))]),
    ("matmul", tf.matmul, [RNG.standard_normal((2, 3)), RNG.standard_normal((3, 2))]),
    ("sqrt", tf.sqrt, [RNG.uniform(0.5, 2, (3,))]),
    ("pow", tf.pow, [RNG.uniform(0.5, 2, (3,)), RNG.uniform(0.5, 2, (3,))]),
    ("divide", tf.divide, [RNG.standard_normal((3,)), RNG.uniform(0.5, 2, (3,))]),
    ("softplus", tf.math.softplus, [RNG.standard_normal((3,))]),
    ("reduce_logsumexp", lambda x: tf.reduce_logsumexp(x, axis=1), [RNG.standard_normal((2, 3))]),
    ("reduce_prod", lambda x: tf.reduce_prod(x, axis=0), [RNG.uniform(0.5, 2, (3, 2))]),
    ("xent", lambda l, x: tf.nn.softmax_cross_entropy_with_logits(l, x),
     [np.full((2, 3), 1 / 3), RNG.standard_normal((2, 3))]),
    ("sparse_xent", lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.constant([0, 2]), x), [RNG.standard_normal((2, 3))]),
    ("gather", lambda x: tf.gather(x, tf.constant([2, 0, 2])) ** 2, [RNG.standard_normal((3,))]),
    ("inv", tf.linalg.inv, [RNG.standard_normal((3, 3)) + 3 * np.eye(3)]),
    ("det", tf.linalg.det, [RNG.standard_normal((3, 3)) + 3 * np.eye(3)]),
    ("cholesky", lambda x: tf.linalg.cholesky((x + tf.transpose(x)) * 0.5),
     [RNG.standard_normal((3, 3)) * 0.3 + 3 * np.eye(3)]),
    ("solve", tf.linalg.solve, [RNG.standard_normal((3, 3)) + 3 * np.eye(3),
                                RNG.standard_normal((3, 2))]),
    ("erf", tf.math.erf, [RNG.standard_normal((3,))]),
    ("gelu", tf.nn.gelu, [RNG.standard_normal((3,))]),
    ("getitem", lambda x: x[1:, ::-1] ** 3, [RNG.standard_normal((3, 3))]),
    ("concat", lambda a, b: tf.concat([a, b * b], 0) ** 2, [RNG.standard_normal((2,)),
                                                           RNG.standard_normal((3,))]),
])
def test_second_derivatives(name, fn, inputs):
    second_derivative_check(fn, inputs, name=name)


def test_eigh_and_svd_gradients():
    a = RNG.standard_normal((3, 3))

    def eig_fn(x):
        e, v = tf.linalg.eigh((x + tf.transpose(x)) * 0.5)
        return tf.concat([e, tf.reshape(v * tf.sign(v[:1]), [-1])], 0)  # fix eigvector signs
    gradient_check(eig_fn, [a], rtol=1e-4, atol=1e-6)
    gradient_check(lambda x: tf.linalg.svd(x, compute_uv=False), [RNG.standard_normal((3, 2))],
                   rtol=1e-4)
    gradient_check(lambda x: tf.linalg.slogdet(x)[1], [a + 3 * np.eye(3)])


def test_svd_vector_gradients_say_unsupported():
    x = tf.constant(RNG.standard_normal((3, 2)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        s, u, v = tf.linalg.svd(x)
        y = tf.reduce_sum(u)
    with pytest.raises(NotImplementedError, match="singular vectors"):
        tape.gradient(y, x)


def test_mirror_pad_and_scatter_gradients():
    x = RNG.standard_normal((3, 4))
    gradient_check(lambda t: tf.pad(t, [[1, 2], [2, 1]], "REFLECT"), [x])
    gradient_check(lambda t: tf.pad(t, [[2, 2], [3, 1]], "SYMMETRIC"), [x])
    idx = tf.constant([[0], [2], [0]])
    gradient_check(lambda t, u: tf.tensor_scatter_nd_max(t, idx, u),
                   [RNG.standard_normal((4, 2)), RNG.standard_normal((3, 2)) + 5])
    gradient_check(lambda t, u: tf.tensor_scatter_nd_update(t, tf.constant([[1], [3]]), u),
                   [RNG.standard_normal((4, 2)), RNG.standard_normal((2, 2))])


def test_gather_nd_batch_dims_gradient():
    idx = tf.constant([[[1], [0]], [[2], [2]]])
    gradient_check(lambda p: tf.gather_nd(p, idx, batch_dims=1), [RNG.standard_normal((2, 3, 2))])


def test_random_normal_mean_stddev_are_differentiable():
    mean = tf.constant(1.0)
    std = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch([mean, std])
        s = tf.random.normal([1000], mean=mean, stddev=std, seed=1)
        y = tf.reduce_sum(s)
    gm, gs = tape.gradient(y, [mean, std])
    assert float(gm) == pytest.approx(1000.0)
    np.testing.assert_allclose(float(gs), np.sum((s.numpy() - 1.0) / 2.0), rtol=1e-4)


def test_mixed_dtype_gradient_cast_to_source_dtype():
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.cast(v, tf.float16) * tf.constant(2.0, tf.float16))
    g = tape.gradient(y, v)
    assert g.dtype == tf.float32
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0])


def test_lists_of_tensors_are_packed_differentiably():
    x = tf.constant([1.0, 2.0, 3.0])
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.nn.softmax_cross_entropy_with_logits([[0.2, 0.3, 0.5]], [x])
        y = tf.reduce_sum(tf.constant([v, 1.0]) * [3.0, 4.0]) + tf.reduce_sum(loss)
    gx, gv = tape.gradient(y, [x, v])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(gx.numpy(), e / e.sum() - [0.2, 0.3, 0.5], rtol=1e-6)
    assert float(gv) == 3.0


def test_integer_source_with_zero_unconnected_gives_integer_zeros():
    i = tf.constant(3)
    with tf.GradientTape() as tape:
        tape.watch(i)
        y = tf.cast(i, tf.float32) * 2.0
    g = tape.gradient(y, i, unconnected_gradients="zero")
    assert g.dtype == tf.int32 and int(g) == 0


def test_custom_gradient_on_a_variable_argument():
    @tf.custom_gradient
    def clip_gradient(x):
        return tf.identity(x), lambda dy: tf.clip_by_value(dy, -0.5, 0.5)

    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(clip_gradient(v) * tf.constant([3.0, 0.1]))
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [0.5, 0.1], rtol=1e-6)
