"""The native small GEMMs (backend/native/gemm.c via backend/gemm_native.py): against
np.matmul (bit for bit where the reduction is one OpenBLAS k block: the benchmark shapes)
and a float64 product (any shape), on strided, transposed and batched operands; results
independent of the thread cut; what the kernel does not take goes to np.matmul."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import gemm_native as G
from tenfold.backend import kernels as K

RNG = np.random.default_rng(5)
needs_native = pytest.mark.skipif(G._fn() is None,
                                  reason="native gemm unavailable (or not AVX-512)")


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _native(a, b, out=None, bias=None):
    """The kernel on a @ b whatever its size, width and reduction (small or wide products
    and k > 256 otherwise go to np.matmul): the C code's k blocks are checked too."""
    saved = G._MIN_FLOPS, G._MAX_K, G._MAX_N
    G._MIN_FLOPS, G._MAX_K, G._MAX_N = 0, 1 << 30, 1 << 30
    try:
        return G.matmul(a, b, out, bias)
    finally:
        G._MIN_FLOPS, G._MAX_K, G._MAX_N = saved


def _check_close(got, a, b):
    """|got - a @ b| within float32 rounding of a k-term sum (float64 reference)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = np.matmul(a64, b64)
    bound = np.matmul(np.abs(a64), np.abs(b64)) * (a.shape[-1] + 2) * 2.0 ** -24 + 1e-30
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.all(np.abs(got - ref) <= bound)


def _model_operands():
    """The Transformer benchmark's products, in the layouts the ops give the kernel."""
    x, g64, w = _f32(4096, 32), _f32(4096, 64), _f32(32, 64)
    q = _f32(64, 64, 2, 32).transpose(0, 2, 1, 3)   # (B, H, T, K) views of (B, T, H, K)
    k = _f32(64, 64, 2, 32).transpose(0, 2, 1, 3)
    return {"x @ w": (x, w), "g @ w^T": (g64, w.T), "x @ w32": (x, _f32(32, 32)),
            "q @ k^T": (q, k.swapaxes(-1, -2))}


@needs_native
@pytest.mark.parametrize("name", ["x @ w", "g @ w^T", "x @ w32", "q @ k^T"])
def test_benchmark_shapes_equal_numpy_bit_for_bit(name):
    a, b = _model_operands()[name]
    got = G.matmul(a, b)
    assert got is not None
    assert np.array_equal(got, np.matmul(a, b))


@needs_native
def test_writes_a_strided_output_view():
    q = _f32(8, 64, 2, 32).transpose(0, 2, 1, 3)
    k = _f32(8, 64, 2, 32).transpose(0, 2, 1, 3)
    buf = np.full((8, 64, 2, 64), np.nan, np.float32)
    out = buf.transpose(0, 2, 1, 3)                 # (B, H, T, S) view of (B, T, H, S)
    assert G.matmul(q, k.swapaxes(-1, -2), out=out) is out
    np.testing.assert_array_equal(out, np.matmul(q, k.swapaxes(-1, -2)))


@needs_native
@pytest.mark.parametrize("m,k,n", [(1, 1, 16), (1, 300, 17), (7, 3, 33), (13, 64, 48),
                                   (97, 257, 64), (5, 513, 65), (64, 32, 100), (3, 5, 200),
                                   (2049, 31, 20), (33, 4096, 31)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True),
                                   (True, True)])
def test_2d_against_float64(m, k, n, ta, tb):
    a = _f32(k, m).T if ta else _f32(m, k)
    b = _f32(n, k).T if tb else _f32(k, n)
    got = _native(a, b)
    _check_close(got, a, b)
    if k <= 256 and m * n * k >= 1 << 17 and not ta:
        np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-5, atol=1e-5)


@needs_native
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_property_strided_operands(data):
    m = data.draw(st.integers(1, 40))
    k = data.draw(st.integers(1, 300))
    n = data.draw(st.integers(16, 140))
    step_a = data.draw(st.sampled_from([1, 2]))
    ta, tb = data.draw(st.booleans()), data.draw(st.booleans())
    a = (_f32(k, m * step_a).T if ta else _f32(m, k * step_a))
    a = a[::step_a] if ta else a[:, ::step_a]
    b = _f32(n, k).T if tb else _f32(k, n + 3)[:, 1:n + 1]
    _check_close(_native(a, b), a, b)


@needs_native
def test_batched_transposed_b_against_float64():
    for bsz, h, t, kd in [(1, 1, 5, 3), (3, 2, 17, 31), (4, 3, 64, 64)]:
        q = _f32(bsz, t, h, kd).transpose(0, 2, 1, 3)
        k = _f32(bsz, t + 1, h, kd).transpose(0, 2, 1, 3).swapaxes(-1, -2)
        got = _native(q, k)
        assert (got is None) == (t + 1 < 16)   # n < 16: not taken
        if got is not None:
            _check_close(got, q, k)


@needs_native
def test_thread_cut_does_not_change_results(monkeypatch):
    x, w = _f32(4096, 32), _f32(32, 64)
    one = G.matmul(x, w)
    monkeypatch.setattr(K, "BANDWIDTH_MIN_BYTES", 0)
    monkeypatch.setattr(K, "_threads", 2)
    monkeypatch.setattr(K, "_busy", lambda: False)
    monkeypatch.setattr(G, "_ROW_CHUNK", 96)
    np.testing.assert_array_equal(G.matmul(x, w), one)
    q = _f32(16, 64, 2, 32).transpose(0, 2, 1, 3)
    k = _f32(16, 64, 2, 32).transpose(0, 2, 1, 3).swapaxes(-1, -2)
    np.testing.assert_array_equal(G.matmul(q, k), np.matmul(q, k))


def test_what_it_does_not_take_goes_to_numpy(monkeypatch):
    x = _f32(4096, 32)
    assert G.matmul(x.astype(np.float64), _f32(32, 64).astype(np.float64)) is None
    assert G.matmul(x, _f32(32, 8)) is None                 # n < 16
    assert G.matmul(_f32(128, 784).T, _f32(128, 512)) is None  # n > 128: OpenBLAS's threads
    assert G.matmul(x[::-1], _f32(32, 64)) is None           # a negative stride
    assert G.matmul(_f32(0, 32), _f32(32, 64)) is None       # empty
    assert G.matmul(_f32(32, 4096), _f32(4096, 64)) is None  # k > 256: OpenBLAS's sums
    assert G.matmul(x, _f32(32, 64)[:, ::1][None]) is None   # ranks differ
    assert G.matmul(_f32(64, 2, 64, 32), _f32(64, 2, 32, 64)) is None  # untransposed stack
    buf = np.zeros((4096, 64), np.float32)
    assert G.matmul(buf[:, :32], _f32(32, 64), out=buf) is None  # out overlaps a
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert G.matmul(x, _f32(32, 64)) is None
    # and the ops' entry point still gives np.matmul's values
    w = _f32(32, 64)
    np.testing.assert_array_equal(K.matmul_stack(x, w), np.matmul(x, w))


def test_matmul_op_matches_numpy_twin(monkeypatch):
    """tf.matmul (a 2-D Dense product and its transposed forms) natively and with
    TENFOLD_NATIVE=0 give the same numbers (k <= 256: bit for bit)."""
    import tenfold as tf
    x, w = _f32(512, 32), _f32(32, 64)
    got = [tf.matmul(x, w).numpy(), tf.matmul(x, w.T, transpose_b=True).numpy()]
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    want = [tf.matmul(x, w).numpy(), tf.matmul(x, w.T, transpose_b=True).numpy()]
    for g, t in zip(got, want):
        np.testing.assert_array_equal(g, t)


@needs_native
@pytest.mark.parametrize("m,k,n", [(4096, 32, 64), (100, 300, 20), (7, 64, 49)])
def test_bias_is_added_as_a_separate_add_would(m, k, n):
    a, w, b = _f32(m, k), _f32(k, n), _f32(n)
    got = _native(a, w, bias=b)
    want = np.matmul(a, w)
    want += b          # the chain: the product rounded, then + bias rounded
    if (m, k, n) == (4096, 32, 64):   # a benchmark shape: OpenBLAS's sums too
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, _native(a, w) + b)
    out = np.empty((m, n + 5), np.float32)[:, 2:n + 2]
    assert _native(a, w, out=out, bias=b) is out
    np.testing.assert_array_equal(out, got)


def test_bias_it_does_not_take():
    a, w = _f32(4096, 32), _f32(32, 64)
    assert G.matmul(a, w, bias=_f32(63)) is None                       # wrong size
    assert G.matmul(a, w, bias=_f32(64).astype(np.float64)) is None    # another dtype
    assert G.matmul(a, w, bias=_f32(128)[::2]) is None                 # not contiguous
    q = _f32(4, 64, 2, 32).transpose(0, 2, 1, 3)
    assert G.matmul(q, q.swapaxes(-1, -2), bias=_f32(64)) is None      # stacks: no bias


@needs_native
@pytest.mark.skipif(not G._pool.available(), reason="native pool unavailable")
@pytest.mark.parametrize("k", [257, 2048, 4096, 5000])
def test_long_reductions_on_the_pool(monkeypatch, k):
    """k > 256 with few rows (weight gradients along a sequence): taken only where the C
    pool has two threads, the reduction in fixed slices (the same results on 2 or 4
    threads), within float32 rounding of a float64 product; the bias added last."""
    x, g, bias = _f32(k, 32), _f32(k, 64), _f32(64)
    monkeypatch.setattr(G._pool, "threads", lambda: 1)
    assert G.matmul(x.T, g) is None
    results = []
    for threads in (2, 4):
        monkeypatch.setattr(G._pool, "threads", lambda threads=threads: threads)
        got = G.matmul(x.T, g)
        assert got is not None
        _check_close(got, x.T, g)
        results.append(got)
        with_bias = G.matmul(x.T, g, bias=bias)
        np.testing.assert_array_equal(with_bias, got + bias)
    np.testing.assert_array_equal(results[0], results[1])
    assert G.matmul(_f32(300, k), _f32(k, 64)) is None      # many rows: OpenBLAS's threads
    assert G.matmul(x.T, _f32(64, k).T) is None              # b's columns strided


@pytest.mark.parametrize("m,k,n,transposed", [(128, 10, 512, True), (128, 10, 512, False),
                                              (128, 512, 10, False), (64, 16, 300, True),
                                              (100, 3, 700, True), (4, 5, 6, True)])
def test_tiny_products_run_blas_on_one_thread_with_numpys_numbers(monkeypatch, m, k, n,
                                                                 transposed):
    """kernels.matmul_stack: 2-D products between OpenBLAS's own serial threshold and
    _SMALL_MNK run with BLAS single-threaded (a short reduction against a transposed b
    copied first); the numbers are np.matmul's."""
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32).T if transposed else \
        rng.standard_normal((k, n)).astype(np.float32)
    singles = []
    if K._blas.available():
        real = K._blas.call_single
        monkeypatch.setattr(K._blas, "call_single",
                            lambda *args, **kw: singles.append(1) or real(*args, **kw))
    monkeypatch.setattr(K, "_threads", 2)
    got = K.matmul_stack(a, b)
    np.testing.assert_array_equal(got, np.matmul(a, b))
    mnk = m * k * n
    if K._blas.available() and not G._taken(a, b):
        assert bool(singles) == (K._OPENBLAS_SERIAL_MNK < mnk < K._SMALL_MNK)
