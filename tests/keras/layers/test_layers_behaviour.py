"""Masks, training mode, state, adapt, Lambda, errors and the seed snippet."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from layers_oracle import assert_close, keras_module, random_weights, to_np
import tenfold as tf
from tenfold.keras import layers as L

ROOT = pathlib.Path(__file__).resolve().parents[3]
rng = np.random.default_rng(0)


def _copy(kl, tl, seed=0):
    w = random_weights(kl.get_weights(), np.random.default_rng(seed),
                       [v.name for v in kl.weights])
    kl.set_weights(w)
    tl.set_weights(w)


def _padded_ids():
    ids = rng.integers(1, 9, size=(3, 6)).astype("int32")
    ids[0, 4:] = 0
    ids[1, 2:] = 0
    return ids


# ------------------------------------------------------------------------------ masks
@pytest.mark.parametrize("rnn, kwargs", [
    ("LSTM", dict(units=3, return_sequences=True)),
    ("LSTM", dict(units=3, return_state=True)),
    ("GRU", dict(units=3, return_sequences=True, go_backwards=True)),
    ("SimpleRNN", dict(units=2)),
])
def test_embedding_mask_zero_through_rnn(rnn, kwargs):
    keras = keras_module()
    ids = _padded_ids()
    ke, te = keras.layers.Embedding(9, 4, mask_zero=True), L.Embedding(9, 4, mask_zero=True)
    kr, tr = getattr(keras.layers, rnn)(**kwargs), getattr(L, rnn)(**kwargs)
    kx = ke(ids)
    kr(kx)
    tx = te(ids)
    assert tx._keras_mask is not None
    np.testing.assert_array_equal(to_np(tx._keras_mask), ids != 0)
    tr(tx)
    _copy(ke, te)
    _copy(kr, tr, 1)
    kx = ke(ids)
    ky = kr(kx, mask=ids != 0)
    ty = tr(te(ids))  # the mask travels on the tensor
    assert_close(ty, ky, 1e-5, 1e-5, rnn)


def test_bidirectional_with_mask_and_states():
    keras = keras_module()
    ids = _padded_ids()
    x = rng.standard_normal((3, 6, 4)).astype("float32")
    mask = ids != 0
    kb = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True,
                                                      return_state=True))
    tb = L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True))
    kb(x)
    tb(x)
    _copy(kb, tb)
    ky = kb(x, mask=mask)
    ty = tb(x, mask=tf.constant(mask))
    assert len(ty) == 5
    assert_close(ty, ky, 1e-5, 1e-5, "Bidirectional")


def test_masking_layer_into_gru():
    keras = keras_module()
    x = rng.standard_normal((2, 5, 3)).astype("float32")
    x[0, 3:] = 0.0
    km, tm = keras.layers.Masking(), L.Masking()
    kg, tg = keras.layers.GRU(2, return_sequences=True), L.GRU(2, return_sequences=True)
    kg(x)
    tg(x)
    _copy(kg, tg)
    ky = kg(km(x), mask=np.any(x != 0, axis=-1))
    ty = tg(tm(x))
    assert_close(ty, ky, 1e-5, 1e-5)
    np.testing.assert_array_equal(to_np(ty._keras_mask), np.any(x != 0, axis=-1))


def test_global_average_pooling_1d_ignores_masked_steps():
    keras = keras_module()
    ids = _padded_ids()
    e = L.Embedding(9, 4, mask_zero=True)
    h = e(ids)
    y = L.GlobalAveragePooling1D()(h)
    ky = keras.layers.GlobalAveragePooling1D()(h.numpy(), mask=ids != 0)
    assert_close(y, ky)
    assert getattr(y, "_keras_mask", None) is None


def test_dense_passes_mask_through():
    ids = _padded_ids()
    h = L.Dense(2)(L.Embedding(9, 4, mask_zero=True)(ids))
    np.testing.assert_array_equal(to_np(h._keras_mask), ids != 0)


def test_attention_masks_match_keras():
    keras = keras_module()
    q = rng.standard_normal((2, 4, 3)).astype("float32")
    v = rng.standard_normal((2, 5, 3)).astype("float32")
    qm = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    vm = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], bool)
    ka, ta = keras.layers.Attention(), L.Attention()
    ky, ks = ka([q, v], mask=[qm, vm], return_attention_scores=True)
    ty, ts = ta([q, v], mask=[tf.constant(qm), tf.constant(vm)], return_attention_scores=True)
    assert_close(ty, ky)
    assert_close(ts, ks)


@pytest.mark.parametrize("scores", [False, True])
def test_multi_head_attention_masks_match_keras(scores):
    keras = keras_module()
    q = rng.standard_normal((2, 4, 6)).astype("float32")
    v = rng.standard_normal((2, 5, 6)).astype("float32")
    am = rng.random((2, 4, 5)) > 0.3
    am[:, :, 0] = True
    km, tm = keras.layers.MultiHeadAttention(2, 3), L.MultiHeadAttention(2, 3)
    km(q, v)
    tm(q, v)
    _copy(km, tm)
    ky = km(q, v, attention_mask=am, return_attention_scores=scores)
    ty = tm(q, v, attention_mask=tf.constant(am), return_attention_scores=scores)
    assert_close(ty, ky, 1e-5, 1e-5)


def test_multi_head_attention_keyword_call_and_self_attention():
    x = rng.standard_normal((2, 4, 6)).astype("float32")
    mha = L.MultiHeadAttention(num_heads=3, key_dim=2)
    y = mha(query=x, value=x, key=x)
    assert tuple(y.shape) == (2, 4, 6)
    assert [w.path for w in mha.weights][0].endswith("query/kernel")


def test_softmax_layer_mask():
    keras = keras_module()
    x = rng.standard_normal((2, 5)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0]], bool)
    assert_close(L.Softmax()(x, mask=tf.constant(mask)), keras.layers.Softmax()(x, mask=mask))


# ------------------------------------------------------------------------------ training
def test_dropout_training_statistics():
    x = np.ones((200, 50), "float32")
    y = to_np(L.Dropout(0.3)(x, training=True))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(to_np(L.Dropout(0.3)(x)), x)  # inference: identity


def test_dropout_noise_shape_and_spatial():
    x = np.ones((4, 6, 8), "float32")
    y = to_np(L.Dropout(0.5, noise_shape=(None, 1, 8))(x, training=True))
    assert (y == y[:, :1, :]).all()
    y = to_np(L.SpatialDropout1D(0.5)(x, training=True))
    assert (y == y[:, :1, :]).all()


def test_gaussian_noise_training_only():
    x = np.zeros((100, 100), "float32")
    y = to_np(L.GaussianNoise(0.5)(x, training=True))
    assert abs(y.std() - 0.5) < 0.02
    np.testing.assert_array_equal(to_np(L.GaussianNoise(0.5)(x)), x)


def test_training_propagates_into_nested_layers():
    class Block(L.Layer):
        def __init__(self):
            super().__init__()
            self.drop = L.Dropout(0.99)

        def call(self, x):
            return self.drop(x)
    x = np.ones((10, 10), "float32")
    assert (to_np(Block()(x, training=True)) == 0).mean() > 0.9
    np.testing.assert_array_equal(to_np(Block()(x)), x)


def test_batch_normalization_moving_statistics_and_frozen():
    keras = keras_module()
    x = (rng.standard_normal((8, 3)) * 2 + 1).astype("float32")
    kb = keras.layers.BatchNormalization(momentum=0.9)
    tb = L.BatchNormalization(momentum=0.9)
    for _ in range(3):
        kb(x, training=True)
        tb(x, training=True)
    assert [w.name for w in tb.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in tb.trainable_weights] == ["gamma", "beta"]
    assert_close(tb.get_weights(), kb.get_weights(), 1e-5, 1e-5)
    # trainable=False: training calls use (and keep) the moving statistics
    tb.trainable = False
    before = [w.copy() for w in tb.get_weights()]
    assert_close(tb(x, training=True), tb(x), 1e-6, 1e-6)
    assert_close(tb.get_weights(), before)


def test_batch_normalization_gradient_in_training_mode():
    from layers_oracle import grad_check
    grad_check("BatchNormalization", {}, rng.standard_normal((6, 3)),
               call_kwargs=dict(training=True))


# ------------------------------------------------------------------------------ state
def test_rnn_initial_state_and_return_state_match_keras():
    keras = keras_module()
    x = rng.standard_normal((2, 4, 3)).astype("float32")
    h0 = rng.standard_normal((2, 5)).astype("float32")
    c0 = rng.standard_normal((2, 5)).astype("float32")
    kl = keras.layers.LSTM(5, return_state=True)
    tl = L.LSTM(5, return_state=True)
    kl(x)
    tl(x)
    _copy(kl, tl)
    assert_close(tl(x, initial_state=[h0, c0]), kl(x, initial_state=[h0, c0]), 1e-5, 1e-5)


def test_stateful_rnn_carries_and_resets_state():
    x = rng.standard_normal((2, 3, 4)).astype("float32")
    xx = np.concatenate([x, x], axis=1)
    stateful = L.GRU(3, stateful=True)
    stateful(x)
    whole = L.GRU(3)
    whole(xx)
    whole.set_weights(stateful.get_weights())
    stateful.reset_state()
    stateful(x)
    assert_close(stateful(x), whole(xx), 1e-5, 1e-5)
    assert len(stateful.weights) == 3  # states are not weights
    stateful.reset_states()
    fresh = L.GRU(3)
    fresh(x)
    fresh.set_weights(stateful.get_weights())
    assert_close(stateful(x), fresh(x), 1e-5, 1e-5)


def test_rnn_with_custom_cell():
    class MinimalRNNCell(L.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            h = tf.matmul(inputs, self.kernel)
            out = h + tf.matmul(states[0], self.recurrent_kernel)
            return out, [out]
    x = rng.standard_normal((2, 5, 3)).astype("float32")
    layer = L.RNN(MinimalRNNCell(4), return_sequences=True)
    y = to_np(layer(x))
    k, rk = layer.get_weights()
    h = np.zeros((2, 4), "float32")
    for t in range(5):
        h = x[:, t] @ k + h @ rk
        np.testing.assert_allclose(y[:, t], h, rtol=1e-5, atol=1e-5)


def test_lstm_weight_layout_gates_ifco():
    x = rng.standard_normal((2, 3, 4)).astype("float32")
    layer = L.LSTM(2, return_sequences=True)
    layer(x)
    k, rk, b = layer.get_weights()
    np.testing.assert_array_equal(b, np.r_[0, 0, 1, 1, 0, 0, 0, 0])  # unit_forget_bias
    b = rng.standard_normal(8).astype("float32")
    layer.set_weights([k, rk, b])
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h = c = np.zeros((2, 2), "float32")
    y = to_np(layer(x))
    for t in range(3):
        z = x[:, t] @ k + h @ rk + b
        i, f, g, o = sig(z[:, :2]), sig(z[:, 2:4]), np.tanh(z[:, 4:6]), sig(z[:, 6:])
        c = f * c + i * g
        h = o * np.tanh(c)
        np.testing.assert_allclose(y[:, t], h, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ adapt
def test_normalization_adapt_matches_keras():
    keras = keras_module()
    data = (rng.standard_normal((50, 3)) * [1, 2, 3] + [0, 1, -1]).astype("float32")
    kn, tn = keras.layers.Normalization(), L.Normalization()
    kn.adapt(data)
    tn.adapt(data)
    assert_close(tn(data[:5]), kn(data[:5]), 1e-5, 1e-5)
    batches = [data[:20], data[20:]]
    tn2 = L.Normalization()
    tn2.adapt(batches)
    assert_close(tn2(data[:5]), kn(data[:5]), 1e-4, 1e-4)
    assert [w.name for w in tn.weights] == ["mean", "variance", "count"]
    inv = L.Normalization(mean=[1.0], variance=[4.0], invert=True)
    assert_close(inv(np.array([[1.0]], "float32")), np.array([[3.0]], "float32"))


def test_normalization_without_statistics_says_what_to_do():
    layer = L.Normalization()
    with pytest.raises(ValueError, match="adapt"):
        layer.call(tf.ones((2, 3)))


# ------------------------------------------------------------------------------ Lambda
def test_lambda_layer_and_safe_deserialization():
    lam = L.Lambda(lambda x: x * 2 + 1)
    np.testing.assert_allclose(to_np(lam(np.ones((2, 2), "float32"))), 3.0)
    cfg = lam.get_config()
    assert cfg["function"]["class_name"] == "__lambda__"
    with pytest.raises(ValueError, match="safe_mode=False"):
        L.Lambda.from_config(cfg)
    again = L.Lambda.from_config(cfg, safe_mode=False)
    np.testing.assert_allclose(to_np(again(np.ones((2, 2), "float32"))), 3.0)


def test_layers_serialize_deserialize():
    for layer in (L.Dense(3, activation="relu", kernel_regularizer="l2"),
                  L.Bidirectional(L.GRU(2)), L.TimeDistributed(L.Conv2D(2, 3)),
                  L.RNN([L.LSTMCell(2), L.GRUCell(3)])):
        cfg = L.serialize(layer)
        assert cfg["module"] == "keras.layers"
        again = L.deserialize(cfg)
        assert type(again) is type(layer)
        assert again.get_config() == layer.get_config()


# ------------------------------------------------------------------------------ errors
def test_dense_on_unflattened_images_suggests_flatten():
    d = L.Dense(10)
    d(np.zeros((2, 784), "float32"))
    with pytest.raises(ValueError) as e:
        d(np.zeros((2, 28, 28), "float32"))
    msg = str(e.value)
    assert "dense" in msg and "(2, 28, 28)" in msg and "784" in msg and "Flatten" in msg


def test_conv2d_on_grayscale_without_channel_axis():
    with pytest.raises(ValueError) as e:
        L.Conv2D(8, 3, name="conv")(np.zeros((2, 28, 28), "float32"))
    msg = str(e.value)
    assert "conv" in msg and "(2, 28, 28)" in msg and "channel" in msg


def test_conv2d_input_too_small():
    with pytest.raises(ValueError, match="too small"):
        L.Conv2D(8, 5)(np.zeros((1, 3, 3, 1), "float32"))
    with pytest.raises(ValueError, match="smaller than pool_size"):
        L.MaxPooling2D(4)(np.zeros((1, 3, 3, 1), "float32"))


def test_rnn_on_2d_input_explains_shape():
    with pytest.raises(ValueError, match="timesteps"):
        L.LSTM(4)(np.zeros((2, 5), "float32"))


@pytest.mark.parametrize("make, inputs, pattern", [
    (lambda: L.Concatenate(), [np.zeros((2, 3, 4)), np.zeros((2, 5, 4))], "matching shapes"),
    (lambda: L.Add(), [np.zeros((2, 3)), np.zeros((2, 4))], "same shape"),
    (lambda: L.Add(), np.zeros((2, 3)), "list of tensors"),
    (lambda: L.Reshape((4, 4)), np.zeros((2, 3, 5)), "cannot reshape"),
    (lambda: L.Embedding(5, 2), np.array([[1, 7]]), "input_dim"),
    (lambda: L.BatchNormalization(axis=3), np.zeros((2, 3)), "out of range"),
    (lambda: L.Dense(0), None, "units"),
    (lambda: L.Dropout(1.5), None, "rate"),
    (lambda: L.Conv2D(4, 3, padding="full"), None, "padding"),
])
def test_bad_arguments_and_inputs(make, inputs, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        layer = make()
        layer([x.astype("float32") if x.dtype.kind == "f" else x for x in inputs]
              if isinstance(inputs, list) else
              (inputs.astype("float32") if inputs.dtype.kind == "f" else inputs))


def test_unknown_keyword_argument_is_a_type_error():
    with pytest.raises(TypeError, match="unit"):
        L.Dense(units=3, unit=4)


# ------------------------------------------------------------------------------ functional API
def test_symbolic_calls_give_keras_shapes():
    Input = pytest.importorskip("tenfold.keras.layers.input_layer").Input
    keras = keras_module()
    for t_layer, k_layer, shape in [
        (L.LSTM(4, return_sequences=True), keras.layers.LSTM(4, return_sequences=True),
         (None, 3)),
        (L.Conv2D(4, 3, strides=2), keras.layers.Conv2D(4, 3, strides=2), (28, 28, 1)),
        (L.Embedding(10, 3), keras.layers.Embedding(10, 3), (7,)),
        (L.Dense(5), keras.layers.Dense(5), (None, 8)),
    ]:
        dtype = "int32" if isinstance(t_layer, L.Embedding) else "float32"
        t_out = t_layer(Input(shape=shape, dtype=dtype))
        k_out = k_layer(keras.Input(shape=shape, dtype=dtype))
        assert tuple(t_out.shape) == tuple(k_out.shape)


# ------------------------------------------------------------------------------ seed snippet
def test_seed_snippet_custom_layer_runs():
    snippet = ROOT.parent / "shared" / "seed-snippets" / "05_custom_layer.py"
    if not snippet.exists():
        pytest.skip("../shared/seed-snippets is not beside the checkout")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, str(snippet)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "(2, 4)" in r.stdout
