"""The executor's conv / max-pool fusions (tenfold/graph/executor.py) and the kernels behind
them: each must give eager execution's numbers (float rounding aside), and each must be found
in the plan where it applies."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import graph
from tenfold.backend import kernels as K
from tenfold.ops import conv_ops

VALID = ((0, 0), (0, 0))


def _plan_ops(fn):
    _, program = list(fn._exact.values())[0]
    return [n.op.name for n in program.plan().nodes]


def _two_block_step(h, dtype, first_layer="fused"):
    """conv -> relu -> pool -> conv -> relu -> pool -> loss; returns (step, variables)."""
    rng = np.random.default_rng(h)
    x = tf.constant(rng.random((5, h, h, 2)).astype(dtype))
    w1 = tf.Variable(rng.standard_normal((3, 3, 2, 8)).astype(dtype))
    b1 = tf.Variable(rng.standard_normal(8).astype(dtype))
    w2 = tf.Variable(rng.standard_normal((3, 3, 8, 6)).astype(dtype))
    b2 = tf.Variable(rng.standard_normal(6).astype(dtype))
    variables = [w1, b1, w2, b2]

    def step():
        with tf.GradientTape() as tape:
            if first_layer == "fused":
                y = conv_ops.fused_conv(x, w1, b1, activation="relu")
            else:
                y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w1, 1, "VALID"), b1))
            p = tf.nn.max_pool2d(y, 2, 2, "VALID")
            y2 = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(p, w2, 1, "VALID"), b2))
            p2 = tf.nn.max_pool2d(y2, 2, 2, "VALID")
            loss = tf.reduce_sum(p2 * p2)
        return tape.gradient(loss, variables)
    return step


def _numba():
    try:
        from tenfold import jit
        return jit.available()
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.parametrize("h", [16, 17, 18])   # conv2 output odd (cropped) or even
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("first_layer", ["fused", "ops"])
@pytest.mark.parametrize("jit", [False, True], ids=["numpy", "numba"])
def test_conv_pool_training_gradients_match_eager(h, dtype, first_layer, jit):
    if jit and not _numba():
        pytest.skip("Numba is not installed (tenfold[jit])")
    step = _two_block_step(h, dtype, first_layer)
    eager = step()
    fn = tf.function(step, jit_compile=jit)
    fn()
    fused = fn()
    tol = 2e-6 if dtype == np.float32 else 1e-12
    for e, f in zip(eager, fused):
        scale = np.abs(e.numpy()).max()
        np.testing.assert_allclose(f.numpy(), e.numpy(), rtol=0, atol=tol * scale)
    ops = _plan_ops(fn)
    if first_layer == "fused":
        assert "conv_bias_act_pool" in ops  # conv1's output is pooled in cache, never made
    assert "conv_backprop_filter_pooled" in ops  # conv1's small filter gradient
    if h != 18:  # conv2's 5x5 / 7x7 output loses its last row and column to the pooling
        assert "conv_backprop_input_pooled" in ops
    with graph.optimizations(fusion=False):
        plain = tf.function(step)
        plain()
        unfused = plain()
        assert not any("pool" in op and op != "max_pool" and op != "max_pool_grad"
                       for op in _plan_ops(plain))
    for e, u in zip(eager, unfused):
        np.testing.assert_allclose(u.numpy(), e.numpy(), rtol=0,
                                   atol=tol * np.abs(e.numpy()).max())


def test_relu_mask_is_applied_to_the_pooled_gradient():
    """relu -> max_pool: the tape masks the pooled gradient (4x smaller) instead of the
    routed one; the numbers are exactly those of the plain rule."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((2, 6, 6, 3)))
    w = tf.constant(rng.standard_normal((6,)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.relu(x)
        loss = tf.reduce_sum(tf.nn.max_pool2d(y, 2, 2, "VALID") * w[:3])
    got = tape.gradient(loss, x).numpy()
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.relu(x) + 0.0   # a second op between: the plain rules run
        loss = tf.reduce_sum(tf.nn.max_pool2d(y, 2, 2, "VALID") * w[:3])
    want = tape.gradient(loss, x).numpy()
    np.testing.assert_array_equal(got, want)


def test_pooled_filter_gradient_kernel_matches_scatter_then_filter_gradient():
    rng = np.random.default_rng(1)
    for n, h, cin, cout, pads in [(4, 9, 3, 5, ((1, 1), (1, 1))), (3, 8, 1, 4, VALID),
                                  (2, 11, 2, 3, VALID)]:
        x = rng.standard_normal((n, h, h, cin))
        w = rng.standard_normal((3, 3, cin, cout))
        y = K.conv_bias_act(x, w, None, (1, 1), (1, 1), pads, relu=True)
        p, idx = K.max_pool_2x2_argmax(y)
        g = rng.standard_normal(p.shape)
        dz = K.max_pool_2x2_grad_from_argmax(idx, g, y.shape)
        want = K.conv_backprop_filter(x, dz, w.shape, (1, 1), (1, 1), pads)
        got = K.conv_backprop_filter_pooled(x, g, idx, y.shape, w.shape, pads)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv_bias_act_pool_kernel_matches_conv_then_pool():
    rng = np.random.default_rng(2)
    for n, h, cin, cout, pads, relu in [(5, 12, 1, 4, VALID, True),
                                        (3, 9, 3, 6, ((1, 1), (1, 1)), False),
                                        (2, 7, 2, 2, VALID, True)]:
        x = rng.standard_normal((n, h, h, cin)).astype(np.float32)
        w = rng.standard_normal((3, 3, cin, cout)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        want = K.max_pool_2x2_argmax(K.conv_bias_act(x, w, b, (1, 1), (1, 1), pads, relu=relu))
        got = K.conv_bias_act_pool(x, w, b, pads, relu=relu)
        np.testing.assert_array_equal(got[0], want[0])
        if relu:  # windows the ReLU zeroes are marked: offset + 4 (never routed to)
            dead = ~(want[0] > 0)
            assert ((got[1] >= 4) == dead).all() and dead.any()
            np.testing.assert_array_equal(got[1][~dead], want[1][~dead])
        else:
            np.testing.assert_array_equal(got[1], want[1])


def test_relu_marked_argmax_routes_like_relu_backprop():
    rng = np.random.default_rng(5)
    y = np.maximum(rng.standard_normal((3, 8, 6, 4)), 0)
    y[0, :2, :2] = 0  # whole windows at zero: ties go to the first element, then masked
    out, idx = K.max_pool_2x2_argmax(y)
    g = rng.standard_normal(out.shape)
    want = K.max_pool_2x2_grad_from_argmax(idx, g * (out > 0), y.shape) * (y > 0)
    K.mask_argmax_by_relu(out, idx)
    np.testing.assert_array_equal(K.max_pool_2x2_grad_from_argmax(idx, g, y.shape), want)


def test_keras_conv_block_needs_no_relu_or_bias_pass_in_the_backward_step():
    from tenfold import keras
    model = keras.Sequential([keras.Input((12, 12, 1)),
                              keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.MaxPooling2D(2),
                              keras.layers.Conv2D(6, 3, activation="relu"),
                              keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(6)
    x, y = rng.random((8, 12, 12, 1)), rng.random((8, 3))
    before = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)   # traces: eager numbers
    model.set_weights(before)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)   # runs the fused plan
    ops = _plan_ops(model.train_function.functions[0])
    assert ops.count("conv_bias_act_pool") == 2
    assert "relu_backprop" not in ops and "bias_backprop" not in ops
    assert "max_pool_grad" not in ops and "conv" not in ops
    eager = keras.models.clone_model(model)
    eager.compile(loss="mse", optimizer="sgd", run_eagerly=True)
    eager.set_weights(before)
    eager.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for a, b, w0 in zip(model.get_weights(), eager.get_weights(), before):
        np.testing.assert_allclose(a - w0, b - w0, rtol=1e-4, atol=1e-7)


def test_relu_kernel_matches_numpy_maximum():
    rng = np.random.default_rng(3)
    for dt in (np.float32, np.float64):
        x = rng.standard_normal(50_000).astype(dt)
        x[:5] = -0.0
        x[5] = np.nan
        got = K.relu(x)
        want = np.maximum(x, dt(0))
        np.testing.assert_array_equal(got, want)
        assert not np.signbit(got[:5]).any()
        out = np.empty_like(x)
        assert K.relu(x, out) is out


def test_reduce_sum_over_all_but_last_axis_uses_a_gemv_with_numpy_accuracy():
    rng = np.random.default_rng(4)
    x = rng.random((64, 13, 13, 32)).astype(np.float32)
    want = x.astype(np.float64).sum(axis=(0, 1, 2))
    got = tf.reduce_sum(x, axis=[0, 1, 2]).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6)
    kept = tf.reduce_sum(x, axis=[0, 1, 2], keepdims=True)
    assert kept.shape == (1, 1, 1, 32)
    np.testing.assert_allclose(tf.reduce_sum(x, axis=[-4, -3, -2]).numpy(), want, rtol=2e-6)


def test_dropout_mask_rate_scale_and_gradient():
    x = tf.ones((400, 500))
    for rate in (0.1, 0.5, 0.9):
        y = tf.nn.dropout(x, rate, seed=7).numpy()
        assert abs((y == 0).mean() - rate) < 0.01
        np.testing.assert_allclose(np.unique(y[y != 0]), [1 / (1 - rate)], rtol=1e-6)
    tf.random.set_seed(11)
    a = tf.nn.dropout(x, 0.5).numpy()
    tf.random.set_seed(11)
    b = tf.nn.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert tf.nn.dropout(tf.ones((2, 3), dtype=tf.float16), 0.5).dtype == tf.float16
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.dropout(x, 0.3, seed=5)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), y.numpy())


@pytest.mark.parametrize("h", [28, 29])   # conv1's output even or odd; conv2's is odd (the
# fusion's case: the pool cuts its last row and column)
def test_pooled_input_gradient_takes_the_native_kernel_on_the_convnet_shapes(h, monkeypatch):
    """The MNIST convnet's conv2 (3x3, 32 -> 64 channels) behind a 2x2 max pool: its input
    gradient comes from a native kernel straight in the input's shape (Winograd reading the
    pooled gradient through the argmax, or the covered part of dz, the rest read as zero
    padding), and matches eager execution."""
    from tenfold.backend import conv_native
    if conv_native._lib() is None:
        pytest.skip("native conv kernels not built here")
    taken = []

    def counted(name):
        real = getattr(K, name)

        def call(*a):
            got = real(*a)
            taken.append(got is not None)
            return got
        monkeypatch.setattr(K, name, call)

    counted("conv_backprop_input_covered")
    counted("conv_backprop_input_routed")
    rng = np.random.default_rng(h)
    x = tf.constant(rng.random((3, h, h, 1)).astype(np.float32))
    w1 = tf.Variable(rng.standard_normal((3, 3, 1, 32)).astype(np.float32))
    w2 = tf.Variable(rng.standard_normal((3, 3, 32, 64)).astype(np.float32) * 0.1)

    def step():
        with tf.GradientTape() as tape:
            p = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(x, w1, 1, "VALID")), 2, 2, "VALID")
            p2 = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(p, w2, 1, "VALID")), 2, 2, "VALID")
            loss = tf.reduce_sum(p2 * p2)
        return tape.gradient(loss, [w1, w2])

    eager = step()
    fn = tf.function(step)
    fn()
    taken.clear()
    fused = fn()
    assert "conv_backprop_input_pooled" in _plan_ops(fn) and any(taken)
    for e, f in zip(eager, fused):
        np.testing.assert_allclose(f.numpy(), e.numpy(), rtol=0,
                                   atol=2e-5 * np.abs(e.numpy()).max())


@pytest.mark.parametrize("native", ["1", "0"])
@pytest.mark.parametrize("shape,strides,cin,cout", [((8, 32, 32, 16), 1, 16, 16),
                                                     ((4, 16, 16, 8), 2, 8, 32),
                                                     ((3, 9, 9, 3), 1, 3, 5)])
def test_filter_and_bias_gradients_fuse(monkeypatch, native, shape, strides, cin, cout):
    """executor._fuse_conv_bias_grads: a conv's filter and bias gradients from one dz become
    one conv_backprop_filter(with_bias=True) node; dw is the unfused one bit for bit, db
    within float rounding of it (chunk sums added in order); eager gives the same."""
    monkeypatch.setenv("TENFOLD_NATIVE", native)
    rng = np.random.default_rng(7)
    x = tf.constant(rng.standard_normal(shape).astype(np.float32))
    w = tf.Variable(rng.standard_normal((3, 3, cin, cout)).astype(np.float32) * 0.2)
    b = tf.Variable(rng.standard_normal(cout).astype(np.float32))
    layer_w = tf.Variable(rng.standard_normal((3, 3, cout, 4)).astype(np.float32) * 0.2)

    def step():
        with tf.GradientTape() as tape:
            y = conv_ops.fused_conv(x, w, b, strides=strides, padding="SAME",
                                    activation="relu")
            z = tf.nn.conv2d(y, layer_w, 1, "SAME")   # dz of the first conv is not trivial
            loss = tf.reduce_sum(z * z)
        return tape.gradient(loss, [w, b])

    fused = tf.function(step)
    got = [t.numpy() for t in fused()]
    nodes = list(fused._exact.values())[0][1].plan().nodes
    assert any(n.op.name == "conv_backprop_filter" and n.params.get("with_bias")
               for n in nodes)
    assert "bias_backprop" not in [n.op.name for n in nodes]
    with graph.optimizations(fusion=False):
        want = [t.numpy() for t in tf.function(step)()]
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-3)
    eager = [t.numpy() for t in step()]
    np.testing.assert_allclose(got[1], eager[1], rtol=1e-5, atol=1e-3)


def test_filter_gradient_kernel_with_bias_matches_the_two_kernels():
    rng = np.random.default_rng(3)
    for xs, ws, st in [((64, 32, 32, 16), (3, 3, 16, 16), (1, 1)),
                       ((8, 16, 16, 32), (3, 3, 32, 64), (2, 2)),
                       ((4, 9, 9, 3), (3, 3, 3, 8), (1, 1)),
                       ((2, 6, 6, 4), (1, 1, 4, 6), (1, 1))]:
        x = rng.standard_normal(xs).astype(np.float32)
        pads = ((ws[0] // 2, ws[0] // 2),) * 2
        ho = (xs[1] + 2 * (ws[0] // 2) - ws[0]) // st[0] + 1
        dy = rng.standard_normal((xs[0], ho, ho, ws[3])).astype(np.float32)
        dw, db = K.conv_backprop_filter(x, dy, ws, st, (1, 1), pads, with_bias=True)
        np.testing.assert_array_equal(dw, K.conv_backprop_filter(x, dy, ws, st, (1, 1), pads))
        np.testing.assert_allclose(db, dy.astype(np.float64).sum((0, 1, 2)), rtol=1e-5,
                                   atol=1e-3)
        assert db.dtype == np.float32 and db.shape == (ws[3],)
