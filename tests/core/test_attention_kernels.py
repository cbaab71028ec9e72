"""Multi-head attention's kernels (issue 17): heads_matmul against its unfused twin (values
and gradients, float32 and float64, finite differences), the threaded stacked matmul and the
GEMV partial sums against NumPy, the threaded row-block kernels against their serial runs,
and MultiHeadAttention's gradients against the layer built on plain matmul."""
import itertools

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.backend import kernels as K
from tenfold.keras.layers import attention as attention_module
from tenfold.ops import fused_ops as F
from tenfold.ops import math_ops as M
from tenfold.testing.gradcheck import gradient_check

RNG = np.random.default_rng(17)


def _c(a):
    return tf.constant(a)


def _operands(ta, tb, dtype, b=3, h=2, t=5, s=4, k=3):
    a = RNG.standard_normal((b, h, k, t) if ta else (b, h, t, k)).astype(dtype)
    bb = RNG.standard_normal((b, h, s, k) if tb else (b, h, k, s)).astype(dtype)
    return a, bb


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ta,tb,swap_out", list(itertools.product([False, True], repeat=3)))
def test_heads_matmul_matches_twin(dtype, ta, tb, swap_out):
    a, b = _operands(ta, tb, dtype)
    w = RNG.standard_normal((3, 5, 2, 4) if swap_out else (3, 2, 5, 4)).astype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    results = []
    for fn, kw in ((F.heads_matmul, {"swap_grads": (True, False)}),
                   (F.heads_matmul, {"swap_grads": (False, True)}),
                   (F.heads_matmul_unfused, {})):
        xs = [_c(a), _c(b)]
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            y = fn(xs[0], xs[1], transpose_a=ta, transpose_b=tb, swap_out=swap_out, **kw)
            loss = tf.reduce_sum(y * _c(w))
        results.append([y.numpy()] + [g.numpy() for g in tape.gradient(loss, xs)])
    for got in results[:2]:
        for x, ref in zip(got, results[2]):
            assert x.shape == ref.shape and x.dtype == ref.dtype
            np.testing.assert_allclose(x, ref, rtol=tol, atol=tol)
    if dtype == "float64":
        gradient_check(lambda p, q: F.heads_matmul(p, q, transpose_a=ta, transpose_b=tb,
                                                   swap_out=swap_out, swap_grads=(True, True)),
                       [a, b])


def test_heads_matmul_half_precision_and_layout():
    a, b = _operands(False, True, "float16")
    got = F.heads_matmul(_c(a), _c(b), transpose_b=True, swap_out=True)
    ref = F.heads_matmul_unfused(_c(a), _c(b), transpose_b=True, swap_out=True)
    assert got.dtype == tf.float16
    np.testing.assert_array_equal(got.numpy(), ref.numpy())
    a, b = _operands(False, False, "float32")
    out = F._heads_matmul_kernel(a, b, swap_out=True)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.matmul(a, b).transpose(0, 2, 1, 3))


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_stack_equals_numpy(monkeypatch, dtype, n_threads):
    monkeypatch.setattr(K, "_busy", lambda: False)
    monkeypatch.setattr(K, "_threads", n_threads)
    q = RNG.standard_normal((64, 64, 2, 32)).astype(dtype).transpose(0, 2, 1, 3)
    k = RNG.standard_normal((64, 64, 2, 32)).astype(dtype).transpose(0, 2, 1, 3)
    ref = np.matmul(q, k.swapaxes(-1, -2))
    np.testing.assert_array_equal(K.matmul_stack(q, k.swapaxes(-1, -2)), ref)
    out = np.empty((64, 64, 2, 64), dtype)
    K.matmul_stack(q, k.swapaxes(-1, -2), out=out.transpose(0, 2, 1, 3))
    np.testing.assert_array_equal(out.transpose(0, 2, 1, 3), ref)
    # broadcast batch dims and mismatched stacks fall back to np.matmul
    np.testing.assert_array_equal(K.matmul_stack(q, k[:1].swapaxes(-1, -2)),
                                  np.matmul(q, k[:1].swapaxes(-1, -2)))
    # row-major b, an odd stack length (a short last chunk)
    np.testing.assert_array_equal(K.matmul_stack(q[:61], k[:61].swapaxes(-1, -2).copy()),
                                  np.matmul(q[:61], k[:61].swapaxes(-1, -2)))
    np.testing.assert_array_equal(K.matmul_stack(q[:61], k[:61].swapaxes(-1, -2)),
                                  np.matmul(q[:61], k[:61].swapaxes(-1, -2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_partial_sums_by_gemv(monkeypatch, dtype):
    monkeypatch.setattr(M, "_GEMV_SUM_MIN", 0)
    base = RNG.standard_normal((6, 3, 8, 4, 5)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for perm in [(0, 1, 2, 3, 4), (0, 2, 1, 3, 4), (4, 3, 2, 1, 0), (2, 0, 4, 1, 3)]:
        x = base.transpose(perm)
        for n in range(1, 5):
            for axes in itertools.combinations(range(5), n):
                for keep in (False, True):
                    got = M._sum_kernel(x, axes, keep)
                    ref = np.sum(x.astype(np.float64), axis=axes, keepdims=keep)
                    assert got.shape == ref.shape and got.dtype == dtype
                    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * 10)
    x = base.copy()
    x[0, 0, 0, 0, 0] = np.nan
    assert np.isnan(M._sum_kernel(x, (0, 1), False)[0, 0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_block_kernels_threads_equal_serial(monkeypatch, dtype):
    x = (RNG.standard_normal((4096, 64)) * 4).astype(dtype)
    x[7, 3] = 75.0  # one block takes the shifted softmax
    g = RNG.standard_normal(x.shape).astype(dtype)
    gamma, beta = RNG.standard_normal(64).astype(dtype), RNG.standard_normal(64).astype(dtype)

    def run():
        y = F.softmax_rows(x, np.empty_like(x))
        return [y, F._softmax_grad_kernel(g, y, -1), F._layer_norm_kernel(x, gamma, beta, 1e-5),
                F._layer_norm_grad_kernel(g, x, gamma, 1e-5)]

    monkeypatch.setattr(K, "_threads", 1)
    serial = run()
    monkeypatch.setattr(K, "_busy", lambda: False)
    monkeypatch.setattr(K, "_threads", 2)
    for a, b in zip(run(), serial):
        np.testing.assert_array_equal(a, b)
    e = np.exp(x.astype(np.float64) - x.max(-1, keepdims=True))
    tol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(serial[0], e / e.sum(-1, keepdims=True), rtol=tol, atol=1e-9)


def test_multi_head_attention_gradients_match_plain_matmul(monkeypatch):
    x = RNG.standard_normal((3, 6, 8))
    layer = keras.layers.MultiHeadAttention(2, 4, dtype="float64")
    layer(x, x)
    results = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(attention_module._fused, "heads_matmul",
                                lambda a, b, swap_grads=None, **kw:
                                F.heads_matmul_unfused(a, b, **kw))
        xt = _c(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt, xt)
            loss = tf.reduce_sum(y * y)
        grads = tape.gradient(loss, [xt] + layer.trainable_variables)
        results.append([y.numpy()] + [g.numpy() for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_heads_matmul_on_the_standin_backend():
    """heads_matmul runs in the array namespace of non-NumPy arrays (CuPy's rules)."""
    from tenfold.testing.standin_backend import standin_device
    a, b = _operands(False, True, "float64")
    host = [F.heads_matmul(_c(a), _c(b), transpose_b=True, swap_out=s).numpy()
            for s in (False, True)]
    with standin_device():
        dev = [F.heads_matmul(_c(a), _c(b), transpose_b=True, swap_out=s) for s in (False, True)]
        assert all("STANDIN" in t.device for t in dev)
        dev = [t.numpy() for t in dev]
    for x, y in zip(host, dev):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)
