"""Numba kernels (optional): bit-identical to the NumPy optimizer updates they replace."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras

pytest.importorskip("numba")
if not __import__("tenfold.jit", fromlist=["available"]).available():
    pytest.skip("TENFOLD_JIT=0", allow_module_level=True)


def _fit(opt_factory, jit, seed=0):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((96, 20)).astype(np.float32)
    y = rng.integers(0, 5, 96)
    model = keras.Sequential([keras.layers.Dense(300, activation="relu"),
                              keras.layers.Dense(5, activation="softmax")])
    model.compile(optimizer=opt_factory(), loss="sparse_categorical_crossentropy",
                  jit_compile=jit)
    h = model.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=False)
    return h.history["loss"], model.get_weights(), model


@pytest.mark.parametrize("make", [
    lambda: keras.optimizers.RMSprop(),
    lambda: keras.optimizers.Adam(learning_rate=0.01),
    lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
], ids=["rmsprop", "adam", "sgd_momentum", "nesterov"])
def test_fused_updates_bit_identical(make):
    l1, w1, _ = _fit(make, False)
    l2, w2, m2 = _fit(make, True)
    assert m2.jit_compile
    assert l1 == l2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_not_covered_options_fall_back():
    from tenfold.keras.optimizers.fused_update import fused_optimizer_update
    v = [tf.Variable(np.ones(3, np.float32))]
    assert fused_optimizer_update(keras.optimizers.RMSprop(centered=True), v) is None
    assert fused_optimizer_update(keras.optimizers.Adam(clipnorm=1.0), v) is None
    assert fused_optimizer_update(keras.optimizers.Adam(), v) is not None


def test_jit_graph_fusions_bit_identical_and_used():
    rng = np.random.default_rng(2)
    w = tf.Variable(rng.standard_normal((6, 32)).astype(np.float32))
    b = tf.Variable(rng.standard_normal(32).astype(np.float32))

    def f(x):
        with tf.GradientTape() as tape:
            y = tf.nn.relu(tf.matmul(x, w) + b)
            s = tf.reduce_sum(y * y)
        return y, tape.gradient(s, [w, b])

    x = tf.constant(rng.standard_normal((5, 6)).astype(np.float32))
    plain = tf.function(f)
    jitted = tf.function(f, jit_compile=True)
    (y1, g1), (y2, g2) = plain(x), jitted(x)
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    for a, c in zip(g1, g2):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
    plan = list(jitted._exact.values())[0][1].plan()
    assert "bias_relu" in [n.op.name for n in plan.nodes]


@pytest.mark.parametrize("shape", [(64, 26, 26, 32), (128, 11, 11, 64), (128, 512), (33, 8),
                                   (5, 3, 300)])
def test_column_sum_matches_numpy_bitwise(shape):
    from tenfold.graph.executor import _reduce_sum_jit
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    axis = tuple(range(len(shape) - 1))
    for keepdims in (False, True):
        np.testing.assert_array_equal(
            _reduce_sum_jit(x, axis=axis, keepdims=keepdims),
            np.sum(x, axis=axis, keepdims=keepdims, dtype=np.float32))


def _eager_loop(make, monkeypatch, jit):
    monkeypatch.setenv("TENFOLD_JIT", "1" if jit else "0")
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal((32, 20)).astype(np.float32))
    y = tf.constant(rng.integers(0, 5, 32))
    model = keras.Sequential([keras.layers.Dense(300, activation="relu"),
                              keras.layers.Dense(5, activation="softmax")])
    opt = make()
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    return model.get_weights(), opt


@pytest.mark.parametrize("make", [
    lambda: keras.optimizers.RMSprop(),
    lambda: keras.optimizers.Adam(learning_rate=0.01),
    lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
], ids=["rmsprop", "adam", "nesterov"])
def test_eager_apply_uses_the_fused_update_with_the_same_numbers(make, monkeypatch):
    w_numpy, opt_numpy = _eager_loop(make, monkeypatch, jit=False)
    w_fused, opt_fused = _eager_loop(make, monkeypatch, jit=True)
    assert opt_numpy._fused_eager[1] is None and opt_fused._fused_eager[1] is not None
    assert int(opt_fused.iterations.numpy()) == int(opt_numpy.iterations.numpy()) == 3
    for a, b in zip(w_numpy, w_fused):
        np.testing.assert_array_equal(a, b)
    # an option the fused update does not cover, set later, is honoured
    opt_fused.clipnorm = 1e-3
    before = [v.numpy() for v in opt_fused._trainable_variables]
    grads = [tf.ones_like(v) * 100.0 for v in opt_fused._trainable_variables]
    opt_fused.apply_gradients(zip(grads, opt_fused._trainable_variables))
    assert opt_fused._fused_eager[1] is None
    for v, b in zip(opt_fused._trainable_variables, before):
        assert np.abs(v.numpy() - b).max() < 0.1


def test_numba_pool_argmax_matches_the_numpy_kernels():
    from tenfold.backend import kernels as K
    from tenfold.jit import kernels as jk
    rng = np.random.default_rng(7)
    for dt in (np.float32, np.float64):
        x = rng.standard_normal((3, 9, 8, 5)).astype(dt)
        x[0, :2, :2] = 0.0         # ties: the first maximum
        x[1, 2, 2, 1] = np.nan     # NaN propagates as in np.maximum
        x[2, :2, 2:4] = -1.0       # a window the ReLU kills
        for relu in (False, True):
            want_out, want_idx = K.max_pool_2x2_argmax(x)
            if relu:
                K.mask_argmax_by_relu(want_out, want_idx)
                K.relu(want_out, want_out)
            out = np.empty_like(want_out)
            idx = np.empty_like(want_idx)
            jk().pool_2x2_argmax(x, out, idx, relu, dt(0))
            np.testing.assert_array_equal(out, want_out)
            np.testing.assert_array_equal(idx, want_idx)


def test_numba_col2im_input_gradient_matches_numpy():
    from tenfold.backend import kernels as K
    from tenfold.jit import kernels as jk
    rng = np.random.default_rng(8)
    for dt in (np.float32, np.float64):
        dy = rng.standard_normal((5, 6, 7, 4)).astype(dt)
        w = rng.standard_normal((3, 2, 3, 4)).astype(dt)
        want = K.conv_backprop_input(dy, w, (5, 8, 8, 3), (1, 1), (1, 1), ((0, 0), (0, 0)))
        full = np.zeros((5, 9, 8, 3), dt)        # into a view, as the pooled gradient does
        got = K.conv_backprop_input(dy, w, (5, 8, 8, 3), (1, 1), (1, 1), ((0, 0), (0, 0)),
                                    into=full[:, :8], col2im=jk().col2im_add)
        np.testing.assert_allclose(got, want, rtol=1e-5 if dt == np.float32 else 1e-12,
                                   atol=1e-5 if dt == np.float32 else 1e-12)
        assert not full[:, 8].any()


def test_numba_split_by_argmax_matches_masked_copies():
    from tenfold.jit import kernels as jk
    rng = np.random.default_rng(9)
    t = rng.standard_normal((50, 6)).astype(np.float32)
    idx = rng.integers(0, 8, (50, 6)).astype(np.uint8)   # 4..7: ReLU-dead windows
    g = np.empty((4, 50, 6), np.float32)
    jk().split_by_argmax(t, idx, g, np.float32(0))
    for q in range(4):
        np.testing.assert_array_equal(g[q], t * (idx == q))


def test_jit_conv_input_gradient_and_pooling_in_a_general_convnet():
    """SAME padding and BatchNorm between conv and pooling: no conv-block fusion applies, the
    compiled conv_backprop_input and max_pool kernels do; the step matches eager."""
    rng = np.random.default_rng(11)
    x = tf.constant(rng.random((6, 10, 10, 3)).astype(np.float32))
    w1 = tf.Variable(rng.standard_normal((3, 3, 3, 8)).astype(np.float32))
    w2 = tf.Variable(rng.standard_normal((3, 3, 8, 4)).astype(np.float32))
    w3 = tf.Variable(rng.standard_normal((5, 5, 4, 4)).astype(np.float32))
    variables = [w1, w2, w3]

    def step():
        with tf.GradientTape() as tape:
            y = tf.nn.conv2d(x, w1, 1, "SAME")
            y = tf.nn.relu(y - tf.reduce_mean(y, axis=[0, 1, 2]))
            p = tf.nn.max_pool2d(y, 2, 2, "VALID")
            y2 = tf.nn.relu(tf.nn.conv2d(p, w2, 1, "SAME"))
            y3 = tf.nn.conv2d(y2, w3, 1, [[0, 0], [2, 1], [1, 2], [0, 0]])
            loss = tf.reduce_sum(y3 * y3)
        return tape.gradient(loss, variables)

    eager = step()
    fn = tf.function(step, jit_compile=True)
    fn()
    got = fn()
    _, program = list(fn._exact.values())[0]
    plan = program.plan()
    assert plan.jit and "conv_backprop_input" in [n.op.name for n in plan.nodes]
    for e, g in zip(eager, got):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5,
                                   atol=1e-5 * np.abs(e.numpy()).max())
