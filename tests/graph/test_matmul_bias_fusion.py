"""The executor's matmul_bias fusion: add(reshape(matmul(a, w)), b) and add(matmul(a, w), b)
become one matmul_bias node (a Dense layer's product and bias), with the chain's numbers bit
for bit (native GEMM or not), in forward and backward passes and whole Keras train steps."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.ops import fused_ops as F

RNG = np.random.default_rng(3)


def _plan_of(fn):
    prog = list(fn._exact.values())[0][1]
    return prog.plan()


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _dense_grads(shape_in, units, bias_shape, transpose=False):
    w = tf.Variable(_f32(units, shape_in[-1]) if transpose else _f32(shape_in[-1], units))
    b = tf.Variable(_f32(*bias_shape))

    def f(x):
        with tf.GradientTape() as tape:
            x2 = tf.reshape(x, (-1, shape_in[-1]))
            y = tf.matmul(x2, w, transpose_b=transpose)
            if len(shape_in) > 2 or len(bias_shape) > 1:
                y = tf.reshape(y, tuple(shape_in[:-1]) + tuple(bias_shape))
            y = y + b
            loss = tf.reduce_sum(tf.nn.relu(y) * y)
        return [y] + tape.gradient(loss, [w, b])
    return f


@pytest.mark.parametrize("native", ["1", "0"])
@pytest.mark.parametrize("shape_in,units,bias_shape,transpose", [
    ((64, 32), 64, (64,), False), ((8, 64, 32), 64, (2, 32), False),
    ((8, 16, 32), 32, (32,), True), ((5, 7, 3), 20, (20,), False),
    ((4096, 32), 64, (64,), False)])
def test_fused_plan_gives_the_chains_numbers(monkeypatch, native, shape_in, units,
                                             bias_shape, transpose):
    monkeypatch.setenv("TENFOLD_NATIVE", native)
    f = _dense_grads(shape_in, units, bias_shape, transpose)
    x = tf.constant(_f32(*shape_in))
    fused = tf.function(f)
    got = fused(x)
    names = [n.op.name for n in _plan_of(fused).nodes]
    assert "matmul_bias" in names
    with tf.graph.optimizations(fusion=False):
        plain = tf.function(f)
        want = plain(x)
        assert "matmul_bias" not in [n.op.name for n in _plan_of(plain).nodes]
    eager = f(x)
    for g, w, e in zip(got, want, eager):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
        np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_not_fused_when_the_product_is_read_elsewhere():
    w = tf.Variable(_f32(8, 16))
    b = tf.Variable(_f32(16))

    @tf.function
    def f(x):
        y = tf.matmul(x, w)
        return y + b, tf.reduce_sum(y)

    f(tf.constant(_f32(4, 8)))
    assert "matmul_bias" not in [n.op.name for n in _plan_of(f).nodes]


def test_primitive_gradients_match_the_chain():
    a, w, b = tf.constant(_f32(6, 5)), tf.constant(_f32(4, 5)), tf.constant(_f32(2, 2))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, w, b])
        y = F.matmul_bias(a, w, b, transpose_b=True, shape=(3, 2, 2, 2))
        y2 = tf.reshape(tf.matmul(a, w, transpose_b=True), (3, 2, 2, 2)) + b
        l1, l2 = tf.reduce_sum(y * y), tf.reduce_sum(y2 * y2)
    np.testing.assert_array_equal(y.numpy(), y2.numpy())
    for g1, g2 in zip(tape.gradient(l1, [a, w, b]), tape.gradient(l2, [a, w, b])):
        np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-6, atol=1e-6)


def test_out_kernel_writes_the_chains_numbers():
    a, w, b = _f32(300, 32), _f32(32, 48), _f32(3, 16)
    want = (a @ w).reshape(100, 3, 3, 16) + b
    out = np.empty((100, 3, 3, 16), np.float32)
    assert F._matmul_bias_out(a, w, b, out, shape=out.shape) is out
    np.testing.assert_array_equal(out, want)
    strided = np.empty((100, 3, 3, 32), np.float32)[..., ::2]
    F._matmul_bias_out(a, w, b, strided, shape=strided.shape)
    np.testing.assert_array_equal(strided, want)


def _mha_model():
    inputs = keras.layers.Input(shape=(16, 32))
    att = keras.layers.MultiHeadAttention(num_heads=2, key_dim=32)(inputs, inputs)
    x = keras.layers.LayerNormalization(epsilon=1e-6)(inputs + att)
    x = keras.layers.Dense(32, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("native", ["1", "0"])
def test_keras_train_steps_equal_unfused(monkeypatch, native):
    monkeypatch.setenv("TENFOLD_NATIVE", native)
    x, y = _f32(64, 16, 32), RNG.integers(0, 2, 64)
    keras.utils.set_random_seed(1)
    fused = _mha_model()
    keras.utils.set_random_seed(1)
    plain = _mha_model()
    for w0, w1 in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    fused.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    with tf.graph.optimizations(fusion=False):
        plain.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    for w0, w1 in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(w0, w1)


# ---- Dense with ReLU: relu(matmul_bias(...)) -> matmul_bias(..., relu=True)

def _dense_relu(w, b):
    c = tf.constant(_f32(w.shape[1]))   # the loss's gradient is not 0 where y is (the mask)

    def f(x):
        with tf.GradientTape() as tape:
            y = tf.nn.relu(tf.matmul(x, w) + b)
            loss = tf.reduce_sum(y * c)
        return [y] + tape.gradient(loss, [w, b])
    return f


@pytest.mark.parametrize("native", ["1", "0"])
@pytest.mark.parametrize("m,k,n", [(128, 784, 512), (5, 7, 3), (64, 32, 64)])
def test_dense_relu_fuses_with_the_chains_numbers(monkeypatch, native, m, k, n):
    monkeypatch.setenv("TENFOLD_NATIVE", native)
    w, b = tf.Variable(_f32(k, n)), tf.Variable(_f32(n))
    f = _dense_relu(w, b)
    x = _f32(m, k)
    x[0, :] = 0.0                           # a row of bias only: exact zeros and negatives
    x = tf.constant(x)
    fused = tf.function(f)
    got = fused(x)
    nodes = _plan_of(fused).nodes
    assert [n_.params.get("relu") for n_ in nodes if n_.op.name == "matmul_bias"] == [True]
    assert "relu" not in [n_.op.name for n_ in nodes]
    with tf.graph.optimizations(fusion=False):
        want = tf.function(f)(x)
    for g, w_, e in zip(got, want, f(x)):
        np.testing.assert_array_equal(g.numpy(), w_.numpy())
        np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_dense_relu_not_fused_across_a_write_or_a_second_reader():
    w, b = tf.Variable(_f32(8, 16)), tf.Variable(_f32(16))

    @tf.function
    def read_twice(x):
        z = tf.matmul(x, w) + b
        return tf.nn.relu(z), tf.reduce_sum(z)

    x = tf.constant(_f32(4, 8))
    read_twice(x)
    nodes = _plan_of(read_twice).nodes
    assert "relu" in [n.op.name for n in nodes]
    assert not any(n.params.get("relu") for n in nodes if n.op.name == "matmul_bias")

    @tf.function
    def write_between(x):
        z = tf.matmul(x, w) + b
        w.assign_add(tf.ones_like(w))       # the product must read w before this
        return tf.nn.relu(z)

    for _ in range(2):                      # the trace, then the plan
        w0 = w.numpy().copy()
        got = write_between(x).numpy()
        np.testing.assert_allclose(got, np.maximum(x.numpy() @ w0 + b.numpy(), 0), rtol=1e-6)
    assert "relu" in [n.op.name for n in _plan_of(write_between).nodes]


def test_relu_primitive_gradients_match_the_chain():
    a, w, b = tf.constant(_f32(6, 5)), tf.constant(_f32(5, 4)), tf.constant(_f32(4))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, w, b])
        y = F.matmul_bias(a, w, b, shape=(6, 4), relu=True)
        y2 = tf.nn.relu(tf.matmul(a, w) + b)
        c = tf.constant(_f32(6, 4))
        l1, l2 = tf.reduce_sum(y * c), tf.reduce_sum(y2 * c)
    np.testing.assert_array_equal(y.numpy(), y2.numpy())
    for g1, g2 in zip(tape.gradient(l1, [a, w, b]), tape.gradient(l2, [a, w, b])):
        np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-6, atol=1e-6)


def test_seed_mlp_fit_equals_unfused():
    x = _f32(256, 784)
    y = np.eye(10, dtype=np.float32)[RNG.integers(0, 10, 256)]

    def build():
        keras.utils.set_random_seed(4)
        model = keras.Sequential([keras.Input((784,)),
                                  keras.layers.Dense(512, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    fused, plain = build(), build()
    h1 = fused.fit(x, y, batch_size=128, epochs=2, verbose=0, shuffle=False)
    with tf.graph.optimizations(fusion=False):
        h2 = plain.fit(x, y, batch_size=128, epochs=2, verbose=0, shuffle=False)
    for w0, w1 in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    assert h1.history == h2.history
