"""The one-pass LeakyReLU primitive (tenfold/ops/fused_ops.py leaky_relu / leaky_relu_grad,
kernels in tenfold/backend/kernels.py): bit for bit the values of the chain it replaces,
maximum(multiply(x, alpha), x), and of that chain's gradient (maximum's tie rule), also in
place and in blocks shared out to threads; gradients against finite differences; graphs."""
import numpy as np
import pytest

import tenfold as tf
from tenfold.backend import kernels as K
from tenfold.ops import fused_ops
from tenfold.testing.gradcheck import gradient_check, second_derivative_check


def _chain(x, a):
    a = x.dtype.type(a)
    return np.maximum(np.multiply(x, a), x)


def _chain_grad(g, x, a):
    """The unfused chain's backward: maximum's select rule (x * a >= x goes to x * a)."""
    a = x.dtype.type(a)
    m = np.greater_equal(np.multiply(x, a), x)
    z = np.zeros_like(g)
    return np.add(np.multiply(np.where(m, g, z), a), np.where(m, z, g))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("n", [7, 2 * (1 << 16) + 5, 300_001])   # small, blocks, threads
@pytest.mark.parametrize("alpha", [0.2, 1.0, 0.01])
def test_kernels_equal_the_chain_bit_for_bit(dtype, n, alpha):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    x[:7] = [0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30]
    g = rng.standard_normal(n).astype(dtype)
    y = K.leaky_relu(x, alpha)
    np.testing.assert_array_equal(y, _chain(x, alpha))
    d = K.leaky_relu_backprop(g, y, alpha)
    want = _chain_grad(g, x, alpha)
    np.testing.assert_array_equal(d, want)
    # in place: over x, over g, over y (what the executor's planning may hand out)
    xc = x.copy()
    np.testing.assert_array_equal(K.leaky_relu(xc, alpha, out=xc), y)
    gc = g.copy()
    np.testing.assert_array_equal(K.leaky_relu_backprop(gc, y, alpha, out=gc), want)
    yc = y.copy()
    np.testing.assert_array_equal(K.leaky_relu_backprop(g, yc, alpha, out=yc), want)


def test_non_contiguous_and_broadcast_inputs_take_the_plain_path():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 40, 30)).astype(np.float32)[:, ::2]
    np.testing.assert_array_equal(K.leaky_relu(x, 0.3), _chain(x, 0.3))
    g = rng.standard_normal((1, 20, 30)).astype(np.float32)
    y = K.leaky_relu(x, 0.3)
    np.testing.assert_array_equal(K.leaky_relu_backprop(g, y, 0.3),
                                  _chain_grad(np.broadcast_to(g, x.shape), x, 0.3))


@pytest.mark.parametrize("alpha", [0.2, 0.7])
def test_op_matches_the_unfused_chain_and_finite_differences(alpha):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 4))
    x[0, 0, :2] = [0.0, -0.0]
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        y = tf.nn.leaky_relu(xt, alpha)
        yu = fused_ops.leaky_relu_unfused(xt, alpha)
        s, su = tf.reduce_sum(y * y * xt), tf.reduce_sum(yu * yu * xt)
    np.testing.assert_array_equal(y.numpy(), yu.numpy())
    np.testing.assert_allclose(tape.gradient(s, xt).numpy(), tape.gradient(su, xt).numpy(),
                               rtol=1e-15, atol=1e-15)
    x[0, 0, :2] = [0.3, -0.4]   # finite differences away from the kink
    gradient_check(lambda v: tf.nn.leaky_relu(v, alpha) * v, [x])
    second_derivative_check(lambda v: tf.nn.leaky_relu(v, alpha) * v * v, [x])


def test_other_alphas_keep_the_composite():
    x = tf.constant([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(tf.nn.leaky_relu(x, 0.0).numpy(), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(tf.nn.leaky_relu(x, 2.0).numpy(), [-4.0, 0.0, 3.0])
    np.testing.assert_array_equal(tf.nn.leaky_relu(x, -0.5).numpy(), [1.0, 0.0, 3.0])


def test_in_a_graph_with_a_bias_add_before_it():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.standard_normal((8, 16, 16, 32)).astype(np.float32))
    b = tf.Variable(rng.standard_normal(32).astype(np.float32))

    def step(x):
        with tf.GradientTape() as tape:
            y = tf.nn.leaky_relu(x + b, 0.2)
            loss = tf.reduce_sum(y * y)
        return y, tape.gradient(loss, b)

    y0, g0 = step(x)
    y1, g1 = tf.function(step)(x)
    np.testing.assert_array_equal(y0.numpy(), y1.numpy())
    np.testing.assert_allclose(g0.numpy(), g1.numpy(), rtol=1e-5)
    want = _chain(x.numpy() + b.numpy(), 0.2)
    np.testing.assert_array_equal(y1.numpy(), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 70000, 200001])
def test_native_kernels_are_bit_identical_to_numpy(monkeypatch, dtype, n):
    from tenfold.backend import kernels as K
    from tenfold.backend import native
    if native.load("activations") is None:
        pytest.skip("no native kernels here")
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    if n > 3:
        x[:3] = [np.nan, -0.0, np.inf]
    g = rng.standard_normal(n).astype(dtype)
    y = K.leaky_relu(x, 0.3)
    d = K.leaky_relu_backprop(g, y, 0.3)
    y2 = y.copy()
    d_in_place = K.leaky_relu_backprop(g, y2, 0.3, out=y2)  # out may be y
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    np.testing.assert_array_equal(y, K.leaky_relu(x, 0.3))
    np.testing.assert_array_equal(d, K.leaky_relu_backprop(g, y, 0.3))
    np.testing.assert_array_equal(d_in_place, d)
