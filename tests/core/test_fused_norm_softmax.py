"""The one-kernel softmax / cross-entropy gradients and LayerNormalization (fused_ops.py):
each against its unfused twin, gradients against finite differences (float64), and the
layers against Keras (KERAS_BACKEND=numpy)."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.ops import fused_ops as F
from tenfold.testing.gradcheck import gradient_check, second_derivative_check

RNG = np.random.default_rng(7)


def _c(a):
    return tf.constant(a)


@pytest.mark.parametrize("shape,axis", [((3, 4, 5), -1), ((3, 4, 5), 1), ((3, 4, 5), 0),
                                        ((700, 96), -1), ((2, 3), 0)])
def test_softmax_grad_matches_twin_and_finite_differences(shape, axis):
    g = RNG.standard_normal(shape)
    y = tf.nn.softmax(_c(RNG.standard_normal(shape)), axis=axis).numpy()
    fused = F.softmax_grad(_c(g), _c(y), axis=axis).numpy()
    twin = F.softmax_grad_unfused(_c(g), _c(y), axis=axis).numpy()
    np.testing.assert_allclose(fused, twin, rtol=1e-12, atol=1e-12)
    if np.prod(shape) < 100:
        gradient_check(lambda t: tf.nn.softmax(t, axis=axis), [RNG.standard_normal(shape)])
        second_derivative_check(lambda t: tf.nn.softmax(t, axis=axis),
                                [RNG.standard_normal(shape)])
        gradient_check(lambda a, b: F.softmax_grad(a, b, axis=axis), [g, y])


def test_softmax_forward_blocked_matches_numpy():
    x = RNG.standard_normal((3000, 64)).astype(np.float32) * 10
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(tf.nn.softmax(_c(x)).numpy(), e / e.sum(-1, keepdims=True),
                               rtol=1e-6, atol=1e-7)
    h = x[:10].astype(np.float16)
    assert tf.nn.softmax(_c(h)).dtype == tf.float16
    # half precision keeps the float32 reference path
    np.testing.assert_allclose(tf.nn.softmax(_c(h)).numpy().astype(np.float32),
                               tf.nn.softmax(_c(h.astype(np.float32))).numpy(), atol=1e-3)


@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_xent_grad(axis):
    lab = RNG.random((3, 4, 5))
    x = RNG.standard_normal((3, 4, 5))
    g = RNG.standard_normal((3, 5) if axis == 1 else (3, 4))
    fused = F.softmax_xent_grad(_c(g), _c(lab), _c(x), axis=axis).numpy()
    twin = F.softmax_xent_grad_unfused(_c(g), _c(lab), _c(x), axis=axis).numpy()
    np.testing.assert_allclose(fused, twin, rtol=1e-12, atol=1e-12)
    fn = lambda a, b: tf.nn.softmax_cross_entropy_with_logits(a, b, axis=axis)  # noqa: E731
    gradient_check(fn, [lab, x])
    second_derivative_check(fn, [lab, x])


def test_sparse_softmax_xent_grad():
    x = RNG.standard_normal((3, 4, 6))
    lab = RNG.integers(0, 6, (3, 4))
    g = RNG.standard_normal((3, 4))
    fused = F.sparse_softmax_xent_grad(_c(g), _c(lab), _c(x)).numpy()
    twin = F.sparse_softmax_xent_grad_unfused(_c(g), _c(lab), _c(x)).numpy()
    np.testing.assert_allclose(fused, twin, rtol=1e-12, atol=1e-12)
    fn = lambda t: tf.nn.sparse_softmax_cross_entropy_with_logits(_c(lab), t)  # noqa: E731
    gradient_check(fn, [x])
    second_derivative_check(fn, [x])


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 7), (40, 1000)])
def test_layer_norm_matches_twin_and_finite_differences(shape):
    x = RNG.standard_normal(shape) * 3 + 1
    gamma, beta = RNG.standard_normal(shape[-1]), RNG.standard_normal(shape[-1])
    fused = F.layer_norm(_c(x), _c(gamma), _c(beta), epsilon=1e-3).numpy()
    twin = F.layer_norm_unfused(_c(x), _c(gamma), _c(beta), epsilon=1e-3).numpy()
    np.testing.assert_allclose(fused, twin, rtol=1e-10, atol=1e-10)
    if np.prod(shape) < 100:
        gradient_check(lambda a, b, c: F.layer_norm(a, b, c, epsilon=1e-3), [x, gamma, beta])
    # the one-pass backward against the tape's backward of the twin
    w = RNG.standard_normal(shape)
    grads = []
    for fn in (F.layer_norm, F.layer_norm_unfused):
        xs = [_c(x), _c(gamma), _c(beta)]
        with tf.GradientTape() as tape:
            for t in xs:
                tape.watch(t)
            loss = tf.reduce_sum(fn(*xs, epsilon=1e-3) * _c(w))
        grads.append([g.numpy() for g in tape.gradient(loss, xs)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def _keras_oracle():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_normalization_layer_against_keras(dtype):
    k3 = _keras_oracle()
    x = (RNG.standard_normal((4, 6, 8)) * 2 + 0.5).astype(dtype)
    gamma = RNG.standard_normal(8).astype(dtype)
    beta = RNG.standard_normal(8).astype(dtype)
    mine = keras.layers.LayerNormalization(epsilon=1e-6, dtype=dtype)
    theirs = k3.layers.LayerNormalization(epsilon=1e-6, dtype=dtype)
    mine.build(x.shape)
    theirs.build(x.shape)
    mine.set_weights([gamma, beta])
    theirs.set_weights([gamma, beta])
    tol = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(mine(x).numpy(), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)
    # the layer's gradient (fused) equals the composed one (nested tapes force the twin)
    xt = _c(x)
    with tf.GradientTape() as t1:
        t1.watch(xt)
        y1 = tf.reduce_sum(mine(xt) * _c(x))
    g1 = t1.gradient(y1, [xt] + mine.trainable_variables)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as t2:
            t2.watch(xt)
            y2 = tf.reduce_sum(mine(xt) * _c(x))
        g2 = t2.gradient(y2, [xt] + mine.trainable_variables)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol * 10, atol=tol * 10)


def test_layer_normalization_second_derivative_uses_the_twin():
    layer = keras.layers.LayerNormalization(dtype="float64")
    layer.build((3, 5))
    layer.set_weights([RNG.standard_normal(5), RNG.standard_normal(5)])
    second_derivative_check(lambda t: layer(t), [RNG.standard_normal((3, 5))])


def test_fused_primitives_in_a_compiled_train_step_match_eager():
    x = RNG.integers(1, 100, (8, 12)).astype("int32")
    y = RNG.integers(0, 3, (8,)).astype("int32")

    def build():
        keras.utils.set_random_seed(3)
        inp = keras.Input(shape=(12,), dtype="int32")
        h = keras.layers.Embedding(100, 16)(inp)
        h = keras.layers.LayerNormalization()(
            h + keras.layers.MultiHeadAttention(2, 8)(h, h))
        h = keras.layers.GlobalAveragePooling1D()(h)
        out = keras.layers.Dense(3, activation="softmax")(h)
        model = keras.Model(inp, out)
        return model

    losses = []
    for eager in (False, True):
        model = build()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      run_eagerly=eager)
        losses.append([float(np.asarray(model.train_on_batch(x, y))) for _ in range(3)])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_fused_kernels_on_the_standin_backend():
    """The fused kernels run in the array namespace of non-NumPy arrays (CuPy's rules)."""
    from tenfold.testing.standin_backend import standin_device
    x = RNG.standard_normal((4, 5))
    gamma, beta, g = RNG.standard_normal(5), RNG.standard_normal(5), RNG.standard_normal((4, 5))
    lab = RNG.random((4, 5))
    il = RNG.integers(0, 5, (4,))
    gv = RNG.standard_normal(4)
    host = [F.layer_norm(_c(x), _c(gamma), _c(beta)), F.layer_norm_grad(_c(g), _c(x), _c(gamma)),
            F.softmax_grad(_c(g), _c(x)), F.softmax_xent_grad(_c(gv), _c(lab), _c(x)),
            F.sparse_softmax_xent_grad(_c(gv), _c(il), _c(x)),
            F.batch_norm_train(_c(x), _c(gamma), _c(beta), epsilon=1e-3)]
    host += [F.batch_norm_train_grad(_c(g), _c(x), host[-1], _c(gamma), epsilon=1e-3)]
    with standin_device():
        dev = [F.layer_norm(_c(x), _c(gamma), _c(beta)),
               F.layer_norm_grad(_c(g), _c(x), _c(gamma)), F.softmax_grad(_c(g), _c(x)),
               F.softmax_xent_grad(_c(gv), _c(lab), _c(x)),
               F.sparse_softmax_xent_grad(_c(gv), _c(il), _c(x)),
               F.batch_norm_train(_c(x), _c(gamma), _c(beta), epsilon=1e-3)]
        dev += [F.batch_norm_train_grad(_c(g), _c(x), dev[-1], _c(gamma), epsilon=1e-3)]
        assert all("STANDIN" in t.device for t in dev)
        dev = [t.numpy() for t in dev]
    for a, b in zip(host, dev):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("native_on", ["1", "0"])
def test_softmax_rows_in_place_with_big_values(monkeypatch, native_on):
    """In place, a row above the no-shift limit must still be shifted from x, not from an
    exp(x) the fast path already wrote over it."""
    from tenfold.ops import fused_ops as F
    monkeypatch.setenv("TENFOLD_NATIVE", native_on)
    x = np.array([[70.0, 0.0, 1.0], [1.0, 2.0, 3.0]], np.float32)
    want = np.exp(x - x.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    y = x.copy()
    F.softmax_rows(y, y)
    np.testing.assert_allclose(y, want, rtol=1e-6)
