"""The whole-sequence recurrent primitives (lstm/gru/simple_rnn_sequence in
tenfold/ops/fused_ops.py) that Keras's LSTM, GRU and SimpleRNN run when their configuration
allows: values and gradients against the per-step path, the Keras oracle and finite
differences."""
import importlib

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.ops import fused_ops
from tenfold.testing import gradient_check

from layers_oracle import compare_with_keras, grad_check

rnn = importlib.import_module("tenfold.keras.layers.rnn")

MASK = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 0, 0]], bool)

LAYERS = {
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {}),
    "gru_reset_before": ("GRU", {"reset_after": False}),
    "simple": ("SimpleRNN", {}),
}


def _make(kind, dtype, **kw):
    name, extra = LAYERS[kind]
    init = dict(kernel_initializer=keras.initializers.GlorotUniform(seed=1),
                recurrent_initializer=keras.initializers.Orthogonal(seed=2),
                bias_initializer=keras.initializers.RandomNormal(seed=3))
    return getattr(keras.layers, name)(6, dtype=dtype, **init, **extra, **kw)


class _Recorder:
    """Records the names of the primitives run (to see which path a layer took)."""

    def __init__(self):
        self.names = []

    def record(self, prim, inputs, out, params):
        self.names.append(prim.name)


def _run(layer, x, mask, fused, dtype, initial_state=None):
    orig = rnn._fused_ok
    if not fused:
        rnn._fused_ok = lambda *a: False
    try:
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = layer(xt, mask=None if mask is None else tf.constant(mask),
                        initial_state=initial_state)
            outs = out if isinstance(out, list) else [out]
            loss = 0.0
            for i, o in enumerate(outs):
                r = np.random.default_rng(i).standard_normal(tuple(o.shape)).astype(dtype)
                loss = loss + tf.reduce_sum(o * tf.constant(r))
        grads = tape.gradient(loss, [xt] + layer.trainable_weights)
    finally:
        rnn._fused_ok = orig
    return [o.numpy() for o in outs], [g.numpy() for g in grads]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_fused_matches_per_step_path(kind, masked, return_sequences, go_backwards, dtype):
    x = np.random.default_rng(0).standard_normal((3, 5, 4)).astype(dtype)
    mask = MASK if masked else None
    kw = dict(return_sequences=return_sequences, return_state=True, go_backwards=go_backwards)
    fused = _make(kind, dtype, **kw)
    step = _make(kind, dtype, **kw)
    fused.build((3, 5, 4))
    step.build((3, 5, 4))
    step.set_weights(fused.get_weights())
    rec = _Recorder()
    from tenfold.framework.state import STATE
    STATE.observers.append(rec)
    try:
        out_f, g_f = _run(fused, x, mask, True, dtype)
    finally:
        STATE.observers.remove(rec)
    assert any(n.endswith("_sequence") for n in rec.names), "the fused primitive was not used"
    out_s, g_s = _run(step, x, mask, False, dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for a, b in zip(out_f, out_s):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for a, b in zip(g_f, g_s):
        np.testing.assert_allclose(a, b, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_initial_state_and_no_bias(kind):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3))
    n_states = 2 if kind == "lstm" else 1
    init = [tf.constant(rng.standard_normal((2, 6))) for _ in range(n_states)]
    layers = [_make(kind, "float64", use_bias=False, return_state=True) for _ in range(2)]
    for layer in layers:
        layer.build((2, 4, 3))
    layers[1].set_weights(layers[0].get_weights())
    out_f, g_f = _run(layers[0], x, MASK[:2, :4], True, "float64", initial_state=init)
    out_s, g_s = _run(layers[1], x, MASK[:2, :4], False, "float64", initial_state=init)
    for a, b in zip(out_f + g_f, out_s + g_s):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


def test_initial_state_gradient_flows():
    h0 = tf.Variable(np.random.default_rng(2).standard_normal((2, 6)))
    c0 = tf.Variable(np.zeros((2, 6)))
    layer = _make("lstm", "float64")
    x = tf.constant(np.random.default_rng(3).standard_normal((2, 4, 3)))
    with tf.GradientTape() as tape:
        y = layer(x, initial_state=[h0, c0])
        loss = tf.reduce_sum(y * y)
    gh, gc = tape.gradient(loss, [h0, c0])
    assert gh is not None and gc is not None
    assert np.abs(gh.numpy()).sum() > 0 and np.abs(gc.numpy()).sum() > 0


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_stateful_matches_per_step_path(kind):
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    outs = []
    for fused in (True, False):
        layer = _make(kind, "float64", stateful=True, return_sequences=True)
        model = keras.Sequential([keras.Input(batch_shape=(2, 3, 4), dtype="float64"), layer])
        orig = rnn._fused_ok
        if not fused:
            rnn._fused_ok = lambda *a: False
        try:
            outs.append([model(x).numpy(), model(x).numpy()])
        finally:
            rnn._fused_ok = orig
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12, atol=1e-12)
    assert not np.allclose(outs[0][0], outs[0][1])  # the state carried over


ORACLE_CASES = [
    ("LSTM", {"units": 5, "return_sequences": True}),
    ("LSTM", {"units": 5, "go_backwards": True, "return_state": True}),
    ("GRU", {"units": 5, "return_sequences": True, "go_backwards": True}),
    ("GRU", {"units": 5, "reset_after": False, "return_sequences": True}),
    ("GRU", {"units": 5, "return_state": True}),
    ("SimpleRNN", {"units": 5, "return_sequences": True}),
    ("SimpleRNN", {"units": 5, "go_backwards": True}),
]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("name,kwargs", ORACLE_CASES)
def test_against_keras_oracle(name, kwargs, masked):
    x = np.random.default_rng(5).standard_normal((3, 5, 4)).astype("float32")
    if masked:
        x[0, 2] = 0.0
        x[2, 3:] = 0.0

        def call(layer, inp):
            mod = keras.layers if isinstance(layer, keras.layers.Layer) else \
                importlib.import_module("keras").layers
            return layer(mod.Masking(0.0)(inp))
        compare_with_keras(name, kwargs, x, call=call, atol=1e-5, rtol=1e-5)
    else:
        compare_with_keras(name, kwargs, x, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,kwargs", [
    ("LSTM", {"units": 3, "return_sequences": True}),
    ("GRU", {"units": 3, "go_backwards": True}),
    ("GRU", {"units": 3, "reset_after": False, "return_sequences": True}),
    ("SimpleRNN", {"units": 3, "return_sequences": True}),
])
def test_layer_finite_differences(name, kwargs):
    x = np.random.default_rng(6).standard_normal((2, 4, 3))
    grad_check(name, kwargs, x, n_coords=6)


def _weights(rng, d, h, gates):
    return (rng.standard_normal((d, gates * h)) * 0.5, rng.standard_normal((h, gates * h)) * 0.5,
            rng.standard_normal((gates * h,)) * 0.5)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_primitive_finite_differences(masked, go_backwards):
    rng = np.random.default_rng(7)
    n, t, d, h = 2, 4, 3, 2
    w, u, b = _weights(rng, d, h, 4)
    arrays = [rng.standard_normal((n, t, d)), w, u, b, rng.standard_normal((n, h)),
              rng.standard_normal((n, h))]
    extra = [tf.constant(MASK[:n, :t])] if masked else []

    def fn(*xs):  # every column of the workspace: states and gates
        return fused_ops.lstm_sequence(*xs, *extra, go_backwards=go_backwards)
    gradient_check(fn, arrays, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_gru_primitive_finite_differences(masked, reset_after):
    rng = np.random.default_rng(8)
    n, t, d, h = 2, 4, 3, 2
    w, u, b = _weights(rng, d, h, 3)
    arrays = [rng.standard_normal((n, t, d)), w, u, b, rng.standard_normal((3 * h,)) * 0.5,
              rng.standard_normal((n, h))]
    extra = [tf.constant(MASK[:n, :t])] if masked else []

    def fn(*xs):
        return fused_ops.gru_sequence(*xs, *extra, go_backwards=masked,
                                      reset_after=reset_after)
    gradient_check(fn, arrays, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("masked", [False, True])
def test_simple_rnn_primitive_finite_differences(masked):
    rng = np.random.default_rng(9)
    n, t, d, h = 2, 4, 3, 2
    w, u, b = _weights(rng, d, h, 1)
    arrays = [rng.standard_normal((n, t, d)), w, u, b, rng.standard_normal((n, h))]
    extra = [tf.constant(MASK[:n, :t])] if masked else []

    def fn(*xs):
        return fused_ops.simple_rnn_sequence(*xs, *extra, go_backwards=True)
    gradient_check(fn, arrays, rtol=1e-6, atol=1e-8)


def test_no_second_derivative_says_why():
    rng = np.random.default_rng(10)
    w, u, b = _weights(rng, 3, 2, 1)
    x = tf.constant(rng.standard_normal((2, 3, 3)))
    args = [tf.constant(v) for v in (w, u, b)] + [tf.constant(np.zeros((2, 2)))]
    assert "second derivative" in fused_ops.simple_rnn_sequence_grad.no_grad
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(fused_ops.simple_rnn_sequence(x, *args))
        g = inner.gradient(y, x)
    assert outer.gradient(tf.reduce_sum(g), x) is None


def test_other_activations_use_the_per_step_path():
    layer = keras.layers.LSTM(3, activation="relu", dtype="float64")
    assert not rnn._fused_ok(layer.cell, tf.constant(np.zeros((1, 2, 2))), False) or \
        not layer.built
    layer.build((1, 2, 2))
    assert not rnn._fused_ok(layer.cell, tf.constant(np.zeros((1, 2, 2))), False)
    drop = keras.layers.GRU(3, recurrent_dropout=0.5, dtype="float64")
    drop.build((1, 2, 2))
    x = tf.constant(np.zeros((1, 2, 2)))
    assert not rnn._fused_ok(drop.cell, x, True)
    assert rnn._fused_ok(drop.cell, x, False)


def test_fit_under_tf_function_matches_eager():
    rng = np.random.default_rng(11)
    x = rng.integers(1, 50, size=(16, 7))
    x[:4, 5:] = 0
    y = rng.integers(0, 2, size=(16,))
    losses = []
    for eager in (True, False):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.layers.Embedding(50, 8, mask_zero=True),
                                  keras.layers.LSTM(6), keras.layers.Dense(2)])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      run_eagerly=eager)
        h = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        losses.append(h.history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_batch_split_over_kernel_threads(kind):
    # batches of 16+ rows run as two halves on the kernel threads (recurrent_kernels._over_rows)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((21, 5, 4))
    mask = rng.random((21, 5)) > 0.3
    kw = dict(return_sequences=True, return_state=True)
    layers = [_make(kind, "float64", **kw) for _ in range(2)]
    for layer in layers:
        layer.build((21, 5, 4))
    layers[1].set_weights(layers[0].get_weights())
    out_f, g_f = _run(layers[0], x, mask, True, "float64")
    out_s, g_s = _run(layers[1], x, mask, False, "float64")
    for a, b in zip(out_f + g_f, out_s + g_s):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


# several chunks of steps (recurrent_kernels._CHUNK): the forward's per-chunk input
# projection, the backward's per-chunk factors and GEMMs, the state carried across chunks

def _split_rows(monkeypatch):
    """Runs the batch as two halves, one after the other (what the kernel threads do)."""
    rk = importlib.import_module("tenfold.ops.recurrent_kernels")

    def split(n, loop, xp, fixed=False):
        loop(slice(0, n // 2))
        loop(slice(n // 2, n))
    monkeypatch.setattr(rk, "_over_rows", split)


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_several_chunks_match_per_step_path(kind, go_backwards, split, monkeypatch):
    from tenfold.ops import recurrent_kernels as rk
    if split:
        _split_rows(monkeypatch)
    rng = np.random.default_rng(13)
    n, t = 6, 2 * rk._CHUNK + 3
    x = rng.standard_normal((n, t, 4))
    mask = rng.random((n, t)) > 0.25
    kw = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    layers = [_make(kind, "float64", **kw) for _ in range(2)]
    for layer in layers:
        layer.build((n, t, 4))
    layers[1].set_weights(layers[0].get_weights())
    for m in (None, mask):
        out_f, g_f = _run(layers[0], x, m, True, "float64")
        out_s, g_s = _run(layers[1], x, m, False, "float64")
        for a, b in zip(out_f + g_f, out_s + g_s):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


def _sequence_args(rng, kind, n, t, d, h):
    """(x, w, u, b[, recurrent bias], h0[, c0]) for lstm_sequence / gru_sequence."""
    gates = 4 if kind == "lstm" else 3
    w, u, b = _weights(rng, d, h, gates)
    arrays = [rng.standard_normal((n, t, d)), w, u, b]
    if kind == "gru":
        arrays.append(rng.standard_normal((gates * h,)) * 0.5)
    return arrays + [rng.standard_normal((n, h)) for _ in range(2 if kind == "lstm" else 1)]


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_several_chunks_primitive_finite_differences(kind, go_backwards):
    from tenfold.ops import recurrent_kernels as rk
    rng = np.random.default_rng(14)
    n, t, d, h = 2, rk._CHUNK + 2, 2, 2
    arrays = _sequence_args(rng, kind, n, t, d, h)
    mask = [tf.constant(rng.random((n, t)) > 0.3)]
    prim = fused_ops.lstm_sequence if kind == "lstm" else fused_ops.gru_sequence

    def fn(*xs):  # every block of the workspace: states and gates
        return prim(*xs, *mask, go_backwards=go_backwards)
    gradient_check(fn, arrays, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_float32_gate_gradients_match_float64(kind):
    # a gradient reaching the gate blocks of the workspace (the general path of the backward
    # loops, found by recurrent_kernels._nonzero on float32)
    rng = np.random.default_rng(15)
    n, t, d, h = 4, 11, 3, 5
    arrays = _sequence_args(rng, kind, n, t, d, h)
    prim = fused_ops.lstm_sequence if kind == "lstm" else fused_ops.gru_sequence
    grads = []
    for dtype in ("float64", "float32"):
        xs = [tf.constant(a.astype(dtype)) for a in arrays]
        with tf.GradientTape() as tape:
            for v in xs:
                tape.watch(v)
            ws = prim(*xs)
            r = np.random.default_rng(16).standard_normal(tuple(ws.shape)).astype(dtype)
            loss = tf.reduce_sum(ws * tf.constant(r))
        grads.append([g.numpy() for g in tape.gradient(loss, xs)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=2e-4, atol=2e-4)


def test_nonzero_check():
    from tenfold.ops.recurrent_kernels import _nonzero
    a = np.zeros((3, 2, 4, 6), np.float32)
    assert not _nonzero(a, np) and not _nonzero(a[:, 1:], np)
    a[2, 1, 3, 5] = 1e-30
    assert _nonzero(a, np) and _nonzero(a[:, 1:], np) and not _nonzero(a[:, :1], np)
    a[2, 1, 3, 5] = -0.0  # counts as nonzero: only takes the general path
    assert _nonzero(a, np)
    odd = np.zeros((2, 3), np.float32)
    assert not _nonzero(odd, np)
    odd[1, 2] = 2
    assert _nonzero(odd, np) and _nonzero(odd.astype(np.float64), np)
