"""Training-mode BatchNormalization kernels (tenfold/backend/norm_kernels.py), the fused
BN + ReLU primitives (ops/fused_ops.py) and the executor's rewrite that picks them: each
against NumPy / its unfused twin, gradients against finite differences (float64), and a
compiled train step against eager execution."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import graph, keras
from tenfold.backend import norm_kernels as N
from tenfold.ops import fused_ops as F
from tenfold.testing.gradcheck import gradient_check

RNG = np.random.default_rng(17)
SHAPES = [(64, 32, 32, 16),   # several tasks, a 1024-wide view
          (6, 5, 5, 24),      # rows (150) with few divisors
          (13, 17),           # prime row count
          (3, 1, 1, 2048),    # wider than the wide view
          (1, 4)]


def _reference(x, gamma, beta, eps):
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axes), x.var(axes)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta, mean, var


def _reference_grad(g, x, gamma, eps):
    """d/dx, d/dgamma, d/dbeta of sum(g * bn(x)) in closed form."""
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axes), x.var(axes)
    inv = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv
    dbeta = g.sum(axes)
    dgamma = (g * xhat).sum(axes)
    dx = gamma * inv * (g - g.mean(axes) - xhat * (g * xhat).mean(axes))
    return dx, dgamma, dbeta


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
def test_kernels_match_numpy(shape, dtype, relu):
    x64 = RNG.standard_normal(shape) * 2 + 3
    g64 = RNG.standard_normal(shape)
    c = shape[-1]
    gamma64, beta64 = RNG.standard_normal(c), RNG.standard_normal(c)
    x, g, gamma, beta = (a.astype(dtype) for a in (x64, g64, gamma64, beta64))
    y, mean, var = N.bn_forward(x, gamma, beta, 1e-3, relu=relu)
    ref, rmean, rvar = _reference(x64, gamma64, beta64, 1e-3)
    tol = 2e-5 if dtype == np.float32 else 1e-11
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(mean, rmean, atol=tol * 4)
    np.testing.assert_allclose(var, rvar, rtol=tol, atol=tol)
    np.testing.assert_allclose(y, np.maximum(ref, 0) if relu else ref, atol=tol * 10)
    r = y
    flat = N.bn_backward(g, x, r, gamma, mean, var, 1e-3, relu=relu)
    gm = g64 * (np.maximum(ref, 0) > 0) if relu else g64
    if relu:  # where the float32 forward rounds across 0 the mask may differ: use its mask
        gm = g64 * (y > 0)
    dx, dgamma, dbeta = _reference_grad(gm, x64, gamma64, 1e-3)
    n = x.size
    assert flat.dtype == dtype and flat.shape == (n + 2 * c,)
    scale = np.abs(dx).max() + 1
    np.testing.assert_allclose(flat[:n].reshape(shape), dx, atol=tol * 10 * scale)
    np.testing.assert_allclose(flat[n:n + c], dgamma, rtol=tol * 10, atol=tol * 10 * scale)
    np.testing.assert_allclose(flat[n + c:], dbeta, rtol=tol * 10, atol=tol * 10 * scale)


@pytest.mark.parametrize("shape", [(64, 32, 32, 16), (6, 5, 5, 24), (13, 17)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_with_a_residual_matches_numpy(shape, dtype):
    x64, s64 = RNG.standard_normal(shape) * 2 + 3, RNG.standard_normal(shape)
    c = shape[-1]
    gamma64, beta64 = RNG.standard_normal(c), RNG.standard_normal(c)
    x, s, gamma, beta = (a.astype(dtype) for a in (x64, s64, gamma64, beta64))
    y, _, _ = N.bn_forward(x, gamma, beta, 1e-3, relu=True, residual=s)
    ref = np.maximum(_reference(x64, gamma64, beta64, 1e-3)[0] + s64, 0)
    np.testing.assert_allclose(y, ref, atol=2e-4 if dtype == np.float32 else 1e-11)


def test_moments_are_stable_far_from_zero():
    """Large mean, small spread: the per-task moments combined (Chan) keep the variance."""
    x64 = RNG.standard_normal((64, 16, 16, 8)) * 0.01 + 1000.0
    y, mean, var = N.bn_forward(x64.astype(np.float32), np.ones(8, np.float32),
                                np.zeros(8, np.float32), 1e-8)
    np.testing.assert_allclose(var, x64.var((0, 1, 2)), rtol=1e-3)
    np.testing.assert_allclose(mean, x64.mean((0, 1, 2)), rtol=1e-6)


def test_kernels_do_not_depend_on_the_thread_count(monkeypatch):
    from tenfold.backend import kernels as K
    x = RNG.standard_normal((32, 16, 16, 32)).astype(np.float32)
    g = RNG.standard_normal(x.shape).astype(np.float32)
    gamma, beta = np.ones(32, np.float32), np.zeros(32, np.float32)
    outs = []
    for threads in (1, 2):
        monkeypatch.setattr(K, "_threads", threads)
        monkeypatch.setattr(K, "_busy", lambda: False)
        y, mean, var = N.bn_forward(x, gamma, beta, 1e-3, relu=True)
        outs.append((y, N.bn_backward(g, x, y, gamma, mean, var, 1e-3, relu=True)))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("shape", [(4, 3), (3, 4, 5, 6), (2, 3, 7)])
def test_fused_bn_relu_matches_the_twin_and_finite_differences(shape):
    x = RNG.standard_normal(shape) * 2 + 1
    gamma, beta = RNG.standard_normal(shape[-1]), RNG.standard_normal(shape[-1]) + 0.3
    xs = [tf.constant(v) for v in (x, gamma, beta)]
    r = F.batch_norm_relu_train(*xs, epsilon=1e-3)
    twin = F.batch_norm_relu_unfused(*xs, epsilon=1e-3)
    np.testing.assert_allclose(r.numpy(), twin.numpy(), atol=1e-12)
    # the moments are found under r, as under the unfused forward's y
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(F.batch_norm_stats(xs[0], r).numpy(),
                               [x.mean(axes), x.var(axes)], atol=1e-12)
    gradient_check(lambda a, g, b: F.batch_norm_relu_unfused(a, g, b, epsilon=1e-3),
                   [x, gamma, beta], rtol=1e-5, atol=1e-7)
    w = RNG.standard_normal(shape)
    with tf.GradientTape() as tape:
        for v in xs:
            tape.watch(v)
        loss = tf.reduce_sum(F.batch_norm_relu_unfused(*xs, epsilon=1e-3) * w)
    want = [v.numpy() for v in tape.gradient(loss, xs)]
    flat = F.batch_norm_relu_train_grad(tf.constant(w), xs[0], r, xs[1], epsilon=1e-3).numpy()
    n, c = x.size, shape[-1]
    np.testing.assert_allclose(flat[:n].reshape(shape), want[0], atol=1e-10)
    np.testing.assert_allclose(flat[n:n + c], want[1], atol=1e-10)
    np.testing.assert_allclose(flat[n + c:], want[2], atol=1e-10)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4, 5, 6)])
def test_fused_bn_add_relu_matches_the_twin(shape):
    x = RNG.standard_normal(shape) * 2 + 1
    s = RNG.standard_normal(shape)
    gamma, beta = RNG.standard_normal(shape[-1]), RNG.standard_normal(shape[-1])
    xs = [tf.constant(v) for v in (x, gamma, beta, s)]
    r = F.batch_norm_add_relu_train(*xs, epsilon=1e-3)
    np.testing.assert_allclose(r.numpy(), F.batch_norm_add_relu_unfused(*xs, epsilon=1e-3)
                               .numpy(), atol=1e-12)
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(F.batch_norm_stats(xs[0], r).numpy(),
                               [x.mean(axes), x.var(axes)], atol=1e-12)
    # the BN backward keyed by r finds the moments (the same numbers as keyed by y)
    g = tf.constant(RNG.standard_normal(shape))
    y = F.batch_norm_train(*xs[:3], epsilon=1e-3)
    np.testing.assert_allclose(F.batch_norm_train_grad(g, xs[0], r, xs[1], epsilon=1e-3).numpy(),
                               F.batch_norm_train_grad(g, xs[0], y, xs[1], epsilon=1e-3).numpy(),
                               atol=1e-12)


def test_fused_bn_relu_on_the_standin_backend():
    """The fused BN + ReLU runs in the array namespace of non-NumPy arrays (the slow path)."""
    from tenfold.testing.standin_backend import standin_device
    x, g = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    gamma, beta = RNG.standard_normal(5), RNG.standard_normal(5)
    c = tf.constant
    r = F.batch_norm_relu_train(c(x), c(gamma), c(beta), epsilon=1e-3)
    host = [r, F.batch_norm_relu_train_grad(c(g), c(x), r, c(gamma), epsilon=1e-3),
            F.batch_norm_add_relu_train(c(x), c(gamma), c(beta), c(g), epsilon=1e-3)]
    with standin_device():
        r = F.batch_norm_relu_train(c(x), c(gamma), c(beta), epsilon=1e-3)
        dev = [r, F.batch_norm_relu_train_grad(c(g), c(x), r, c(gamma), epsilon=1e-3),
               F.batch_norm_add_relu_train(c(x), c(gamma), c(beta), c(g), epsilon=1e-3)]
        assert all("STANDIN" in t.device for t in dev)
        dev = [t.numpy() for t in dev]
    for a, b in zip(host, dev):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-10, atol=1e-10)


def _plan_ops(fn):
    _, program = list(fn._exact.values())[0]
    return [n.op.name for n in program.plan().nodes]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_step_fuses_bn_relu_and_matches_eager(dtype):
    """conv -> BN -> ReLU -> conv -> BN -> (+ shortcut) -> ReLU, as in resnet20: the first BN
    and its ReLU become one node forward and one backward; the second BN, the add and the
    ReLU one node forward (the masked gradient also feeds the shortcut: relu_grad stays)."""
    rng = np.random.default_rng(3)
    x = tf.constant(rng.standard_normal((4, 6, 6, 3)).astype(dtype))
    w1 = tf.Variable(rng.standard_normal((3, 3, 3, 8)).astype(dtype))
    w2 = tf.Variable(rng.standard_normal((3, 3, 8, 8)).astype(dtype))
    g1, b1 = tf.Variable(np.ones(8, dtype)), tf.Variable(np.full(8, 0.1, dtype))
    g2, b2 = tf.Variable(np.ones(8, dtype)), tf.Variable(np.zeros(8, dtype))
    variables = [w1, w2, g1, b1, g2, b2]

    def step():
        with tf.GradientTape() as tape:
            h = tf.nn.conv2d(x, w1, 1, "SAME")
            y = F.batch_norm_train(h, g1, b1, epsilon=1e-3)
            s1 = F.batch_norm_stats(h, y)
            h = tf.nn.relu(y)
            h2 = F.batch_norm_train(tf.nn.conv2d(h, w2, 1, "SAME"), g2, b2, epsilon=1e-3)
            out = tf.nn.relu(h2 + h)
            loss = tf.reduce_sum(out * out) + tf.reduce_sum(tf.stop_gradient(s1))
        return [loss] + tape.gradient(loss, variables)

    eager = step()
    fn = tf.function(step)
    fn()
    fused = fn()
    tol = 2e-5 if dtype == np.float32 else 1e-11
    for e, f in zip(eager, fused):
        scale = np.abs(e.numpy()).max() + 1
        np.testing.assert_allclose(f.numpy(), e.numpy(), rtol=0, atol=tol * scale)
    ops = _plan_ops(fn)
    assert ops.count("batch_norm_relu_train") == 1
    assert ops.count("batch_norm_relu_train_grad") == 1
    # the second BN, the shortcut add and the ReLU: one node; its gradient is read by the
    # shortcut too, so the BN backward takes it masked
    assert ops.count("batch_norm_add_relu_train") == 1 and ops.count("relu_grad") == 1
    assert ops.count("batch_norm_train") == 0 and ops.count("batch_norm_train_grad") == 1
    assert "relu" not in ops
    with graph.optimizations(fusion=False):
        plain = tf.function(step)
        plain()
        assert "batch_norm_relu_train" not in _plan_ops(plain)


def test_keras_conv_bn_relu_model_trains_as_eager():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 8, 8, 3)).astype(np.float32)
    y = rng.integers(0, 3, (8,)).astype(np.int32)

    def build():
        keras.utils.set_random_seed(5)
        inp = keras.Input(shape=(8, 8, 3))
        h = keras.layers.Conv2D(6, 3, padding="same")(inp)
        h = keras.layers.Activation("relu")(keras.layers.BatchNormalization()(h))
        h = keras.layers.GlobalAveragePooling2D()(h)
        return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(h))

    results = []
    for eager in (False, True):
        model = build()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      run_eagerly=eager)
        losses = [float(np.asarray(model.train_on_batch(x, y))) for _ in range(3)]
        results.append((losses, [np.asarray(w) for w in model.get_weights()]))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
