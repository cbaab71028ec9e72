"""Fused attention (ops/fused_ops.attention, native in backend/native/gemm.c): softmax(q k^T) v
per (batch, head) on (B, T, H, K) layouts, and its one-pass backward. Checked against a
float64 reference (values and the three gradients, odd sizes, T != S, K != V), its unfused
twin (the chain MultiHeadAttention ran before, through the tape), finite differences
(float64, the NumPy kernel), the thread cut, TENFOLD_NATIVE=0, the stand-in device, the
SavedModel lowering, and MultiHeadAttention choosing it only where it applies."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tenfold as tf
from tenfold import keras
from tenfold.backend import gemm_native as G
from tenfold.backend import kernels as K
from tenfold.ops import fused_ops as F
from tenfold.testing.gradcheck import gradient_check

from native_twins import numpy_twin

RNG = np.random.default_rng(23)
needs_native = pytest.mark.skipif(G._attention_fn("attention") is None,
                                  reason="native gemm unavailable (or not AVX-512)")


def _operands(b, t, s, h, k, v, dtype=np.float32, rng=RNG):
    return [rng.standard_normal(shape).astype(dtype)
            for shape in ((b, t, h, k), (b, s, h, k), (b, s, h, v), (b, t, h, v))]


def _reference(q, k, v, g):
    """o and [dq, dk, dv] in float64."""
    sw = (0, 2, 1, 3)
    q, k, v, g = (x.astype(np.float64).transpose(sw) for x in (q, k, v, g))
    s = q @ k.swapaxes(-1, -2)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    dp = g @ v.swapaxes(-1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    return [x.transpose(sw) for x in (p @ v, ds @ k, ds.swapaxes(-1, -2) @ q,
                                      p.swapaxes(-1, -2) @ g)]


def _split(flat, q, k, v):
    a, b = q.size, q.size + k.size
    return [flat[:a].reshape(q.shape), flat[a:b].reshape(k.shape), flat[b:].reshape(v.shape)]


def _assert_near(got, ref, scale_from):
    """Within float32 rounding of sums of len(scale_from) products."""
    tol = 2e-6 * max(1.0, np.abs(ref).max()) * np.sqrt(scale_from)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol)


SHAPES = [(64, 64, 64, 2, 32, 32),   # the Transformer benchmark's
          (3, 5, 7, 3, 4, 9), (2, 300, 270, 1, 17, 33), (1, 1, 1, 1, 1, 1), (2, 17, 3, 4, 48, 16)]


@needs_native
@pytest.mark.parametrize("shape", SHAPES)
def test_native_against_float64(shape):
    q, k, v, g = _operands(*shape)
    ref = _reference(q, k, v, g)
    out, probs = G.attention(q, k, v, keep=True)
    n = max(shape[1], shape[2], shape[4], shape[5])
    for flat in (G.attention_grad(g, q, k, v), G.attention_grad(g, q, k, v, probs)):
        for got, want in zip([out] + _split(flat, q, k, v), ref):
            _assert_near(got, want, n)
    assert np.array_equal(G.attention(q, k, v)[0], out)      # keeping p changes nothing
    np.testing.assert_array_equal(G.attention_grad(g, q, k, v),
                                  G.attention_grad(g, q, k, v, probs))


@needs_native
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 40), st.integers(1, 40), st.integers(1, 3),
       st.integers(1, 40), st.integers(1, 40), st.integers(0, 2 ** 31))
def test_native_any_sizes(b, t, s, h, kd, vd, seed):
    q, k, v, g = _operands(b, t, s, h, kd, vd, rng=np.random.default_rng(seed))
    ref = _reference(q, k, v, g)
    out, probs = G.attention(q, k, v, keep=True)
    got = [out] + _split(G.attention_grad(g, q, k, v, probs), q, k, v)
    for x, want in zip(got, ref):
        _assert_near(x, want, max(t, s, kd, vd))


@needs_native
def test_large_and_tiny_scores():
    """Rows dominated by one score (exp underflow to 0 elsewhere) and all-equal rows."""
    q, k, v, g = _operands(2, 8, 16, 2, 4, 4)
    q[0] *= 200.0
    q[1] = 0.0
    ref = _reference(q, k, v, g)
    got = [G.attention(q, k, v)[0]] + _split(G.attention_grad(g, q, k, v), q, k, v)
    for x, want in zip(got, ref):
        np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-4 * max(1, np.abs(want).max()))
    q[0, 0, 0, 0] = np.nan
    out = G.attention(q, k, v)[0]
    assert np.isnan(out[0, 0, 0]).all() and np.isfinite(out[1]).all()


@needs_native
def test_thread_cut_does_not_change_results(monkeypatch):
    q, k, v, g = _operands(5, 33, 20, 3, 16, 24)
    one = G.attention(q, k, v, keep=True) + (G.attention_grad(g, q, k, v),)
    monkeypatch.setattr(K, "_threads", 2)
    monkeypatch.setattr(K, "_busy", lambda: False)
    monkeypatch.setattr(G, "_ATTN_MIN_FLOPS", 0)
    monkeypatch.setattr(G._pool, "threads", lambda: 2)
    two = G.attention(q, k, v, keep=True) + (G.attention_grad(g, q, k, v),)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_what_the_kernel_does_not_take():
    q, k, v, g = _operands(2, 4, 5, 2, 3, 3)
    assert G.attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64)) \
        is None
    assert G.attention(np.asfortranarray(q), k, v) is None          # not C-contiguous
    assert G.attention(q, k[:, :4], v) is None                      # S differs
    assert G.attention(q[:, :, :, :0], k[:, :, :, :0], v) is None   # empty key axis
    assert G.attention_grad(g[:, :3], q, k, v) is None              # g is not o's shape
    assert G.attention_grad(g, q, k, v, np.zeros((2, 2, 4, 4), np.float32)) is None  # probs
    assert G.attention(q[0], k[0], v[0]) is None                    # rank 3


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_primitive_matches_unfused_twin_with_gradients(dtype):
    q, k, v, w = _operands(3, 6, 5, 2, 4, 7, dtype)
    results = []
    for fn in (F.attention, F.attention_unfused):
        xs = [tf.constant(x) for x in (q, k, v)]
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            y = fn(*xs)
            loss = tf.reduce_sum(y * tf.constant(w))
        results.append([y.numpy()] + [d.numpy() for d in tape.gradient(loss, xs)])
    tol = 2e-5 if dtype == "float32" else 1e-12
    for got, ref in zip(*results):
        assert got.shape == ref.shape and got.dtype == ref.dtype
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


def test_gradients_against_finite_differences():
    q, k, v, _ = _operands(2, 4, 3, 2, 3, 5, np.float64)
    gradient_check(F.attention, [q, k, v])


@needs_native
def test_the_backward_reads_the_forwards_probabilities(monkeypatch):
    """The kernel's memo: the probabilities of the same q, k, v objects only."""
    q, k, v, g = _operands(2, 8, 8, 2, 4, 4)
    seen = []
    real = G.attention_grad
    monkeypatch.setattr(G, "attention_grad", lambda *a: seen.append(a[4]) or real(*a))
    F._attention_kernel(q, k, v)
    F._attention_grad_kernel(g, q, k, v)
    assert seen[-1] is not None and seen[-1].shape == (2, 2, 8, 8)
    F._attention_grad_kernel(g, q, k.copy(), v)        # another k: recomputed
    assert seen[-1] is None
    del q
    assert not F._attention_kept.memo                  # gone with q


def test_numpy_twin_equals_native_within_rounding(monkeypatch):
    q, k, v, g = _operands(4, 16, 12, 2, 8, 8)
    native = F._attention_kernel(q, k, v), F._attention_grad_kernel(g, q, k, v)
    twin = numpy_twin(monkeypatch, lambda: (F._attention_kernel(q, k, v),
                                            F._attention_grad_kernel(g, q, k, v)))
    for a, b in zip(native, twin):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_half_precision_runs_the_twin():
    q, k, v, _ = _operands(2, 3, 4, 2, 3, 3, np.float16)
    got = F.attention(*[tf.constant(x) for x in (q, k, v)])
    ref = F.attention_unfused(*[tf.constant(x) for x in (q, k, v)])
    assert got.dtype == tf.float16
    np.testing.assert_allclose(got.numpy().astype(np.float32),
                               ref.numpy().astype(np.float32), rtol=2e-3, atol=2e-3)


def test_bad_shapes_are_named():
    q, k, v, _ = _operands(2, 3, 4, 2, 3, 3)
    with pytest.raises(ValueError, match=r"attention: expected q \(B, T, H, K\)"):
        F.attention(tf.constant(q), tf.constant(k[:, :, :1]), tf.constant(v))


def test_on_the_standin_backend():
    """The kernel runs in the array namespace of non-NumPy arrays (CuPy's rules)."""
    from tenfold.testing.standin_backend import standin_device
    q, k, v, _ = _operands(2, 3, 4, 2, 3, 3, np.float64)
    host = F.attention(*[tf.constant(x) for x in (q, k, v)]).numpy()
    with standin_device():
        dev = F.attention(*[tf.constant(x) for x in (q, k, v)])
        assert "STANDIN" in dev.device
        dev = dev.numpy()
    np.testing.assert_allclose(host, dev, rtol=1e-12, atol=1e-12)


# ---- MultiHeadAttention takes the fused primitive only where it computes the same thing

def _spy(monkeypatch):
    calls = []
    real = F.attention

    def spy(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    from tenfold.keras.layers import attention as module
    monkeypatch.setattr(module._fused, "attention", spy)
    return calls


def _layer_and_input(dtype="float32", **kw):
    x = RNG.standard_normal((3, 6, 8)).astype(dtype)
    layer = keras.layers.MultiHeadAttention(2, 4, dtype=dtype, **kw)
    layer(x, x)
    return layer, x


def test_layer_uses_it_and_matches_the_unfused_layer(monkeypatch):
    layer, x = _layer_and_input("float64")
    results = []
    for fused in (True, False):
        if not fused:
            from tenfold.keras.layers import attention as module
            monkeypatch.setattr(module, "_one_tape", lambda: False)
        calls = _spy(monkeypatch)
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt, xt)
            loss = tf.reduce_sum(y * y)
        grads = tape.gradient(loss, [xt] + layer.trainable_variables)
        assert bool(calls) == fused
        results.append([y.numpy()] + [g.numpy() for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["mask", "causal", "scores", "dropout", "nested"])
def test_layer_keeps_the_unfused_ops_where_they_differ(monkeypatch, case):
    layer, x = _layer_and_input(dropout=0.5 if case == "dropout" else 0.0)
    calls = _spy(monkeypatch)
    xt = tf.constant(x)
    if case == "mask":
        layer(xt, xt, attention_mask=np.ones((3, 6, 6), bool))
    elif case == "causal":
        layer(xt, xt, use_causal_mask=True)
    elif case == "scores":
        layer(xt, xt, return_attention_scores=True)
    elif case == "dropout":
        layer(xt, xt, training=True)
    else:
        with tf.GradientTape() as t1:
            t1.watch(xt)
            with tf.GradientTape() as t2:
                t2.watch(xt)
                layer(xt, xt)
    assert not calls
    layer(xt, xt)                      # and the plain call does take it
    assert calls


def test_exported_saved_model_gives_the_layers_outputs(tmp_path):
    inputs = keras.Input((6, 8))
    outputs = keras.layers.MultiHeadAttention(2, 4)(inputs, inputs)
    model = keras.Model(inputs, outputs)
    x = RNG.standard_normal((3, 6, 8)).astype(np.float32)
    model.export(tmp_path / "sm", verbose=False)
    sig = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    out = list(sig(keras_tensor=x).values())[0].numpy()
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    from tenfold.export import _tf_protos as P
    sm = P.saved_model_pb2.SavedModel()
    sm.ParseFromString((tmp_path / "sm" / "saved_model.pb").read_bytes())
    ops = [n.op for n in sm.meta_graphs[0].graph_def.node]
    assert ops.count("BatchMatMulV2") == 2 and "Softmax" in ops   # the lowering of attention
