"""The native row kernels (backend/native/rows.c via backend/row_kernels.py): softmax, its
gradient, layer normalization and its gradient over the last axis, each against its NumPy
twin in fused_ops (TENFOLD_NATIVE=0) and a float64 reference, on edge shapes and values;
the same results on any thread count; arrays the kernels do not take go to the twin."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import kernels as K
from tenfold.backend import native
from tenfold.backend import row_kernels as R
from tenfold.ops import fused_ops as F
from tenfold.ops import nn_ops as N
from tenfold.ops import random_ops
from tests.core.native_twins import numpy_twin

RNG = np.random.default_rng(11)
DTYPES = [np.float32, np.float64]
SHAPES = [(0, 5), (1, 1), (3, 1), (1, 7), (7, 13), (300, 64), (5, 1000), (2049, 33), (64, 10)]

needs_native = pytest.mark.skipif(R._lib() is None,
                                  reason="native row kernels unavailable")
needs_softmax = pytest.mark.skipif(R._lib(64) is None,
                                   reason="native softmax unavailable (or not AVX-512)")
needs_library = pytest.mark.skipif(native.load("rows") is None,
                                   reason="native rows library unavailable")


def _softmax_native(x, y):
    """The C softmax on x into y, whatever softmax_taken says of the shape."""
    R._fn("softmax_rows", x.dtype, need=64)(native.addr(x), native.addr(y), *x.shape)


def _tol(dtype):
    return (2e-6, 1e-7) if dtype == np.float32 else (1e-12, 1e-14)


def _softmax_ref(x):
    """float64 softmax of x with the argument x - max rounded to x's dtype first, as both
    kernels compute it (then only the exp, the sum and the scaling differ)."""
    d = (x - x.max(-1, keepdims=True)).astype(np.float64)
    e = np.exp(d)
    return e / e.sum(-1, keepdims=True)


def _ln_ref(x, gamma, beta, eps):
    x = x.astype(np.float64)
    xc = x - x.mean(-1, keepdims=True)
    r = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + float(np.dtype(gamma.dtype).type(eps)))
    return xc * r * gamma + beta, xc, r


def _ln_grad_ref(g, x, gamma, eps):
    _, xc, r = _ln_ref(x, gamma, gamma, eps)
    g = g.astype(np.float64)
    c = x.shape[-1]
    xhat = xc * r
    dxh = g * gamma
    dx = r * (dxh - dxh.mean(-1, keepdims=True) - xhat * (dxh * xhat).mean(-1, keepdims=True))
    return dx, (g * xhat).reshape(-1, c).sum(0), g.reshape(-1, c).sum(0)


@needs_softmax
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES + [(300, 128), (7, 300), (40, 64)])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_softmax_matches_twin_and_reference(monkeypatch, dtype, shape, scale):
    x = (RNG.standard_normal(shape) * scale).astype(dtype)
    out = np.empty_like(x)
    taken = R.softmax(x, out)
    assert taken == R.softmax_taken(shape, dtype)
    if not taken:
        _softmax_native(x, out)  # the kernel itself, on the shapes the twin keeps too
        np.testing.assert_allclose(out, _softmax_ref(x), rtol=_tol(dtype)[0],
                                   atol=_tol(dtype)[1])
    got = N._softmax_kernel(x, -1)
    twin = numpy_twin(monkeypatch, N._softmax_kernel, x, -1)
    rtol, atol = _tol(dtype)
    if taken:
        np.testing.assert_array_equal(out, got)
    np.testing.assert_allclose(got, _softmax_ref(x), rtol=rtol, atol=atol)
    # the twin skips the shift where it can: its argument rounds differently
    np.testing.assert_allclose(got, twin, rtol=rtol * (1 + scale * 4), atol=atol)
    inplace = x.copy()
    if R.softmax(inplace, inplace):
        np.testing.assert_array_equal(inplace, got)


@needs_softmax
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extreme_values_as_thenumpy_twin(monkeypatch, dtype):
    big = 80.0 if dtype == np.float32 else 700.0
    rows = [[0.0, -big, -2 * big, -np.inf],            # underflow and masked entries
            [-np.inf, -np.inf, -np.inf, -np.inf],     # all masked: NaN, as NumPy
            [1.0, np.nan, 2.0, 3.0],                  # NaN poisons its row
            [np.inf, 1.0, 2.0, 3.0],                  # inf - inf: NaN
            [big, big, -big, 0.0],                    # would overflow unshifted
            [-1e30, -1e30 + 1, 5.0, 5.0]]
    x = np.array(rows, dtype)
    out = np.empty_like(x)
    with np.errstate(invalid="ignore", over="ignore"):
        assert R.softmax(x, out)
        twin = numpy_twin(monkeypatch, N._softmax_kernel, x, -1)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(twin))
    np.testing.assert_allclose(out, twin, rtol=_tol(dtype)[0], atol=0)
    # subnormal results round once (float64: the two half scales)
    tiny = np.array([[0.0, -740.0 if dtype == np.float64 else -100.0]], dtype)
    assert R.softmax(tiny, out[:1, :2])
    np.testing.assert_allclose(out[0, 1], np.exp(tiny.astype(np.float64)[0, 1]), rtol=0.02)


@needs_softmax
def test_float32_exp_within_two_ulps():
    x = np.concatenate([-np.linspace(0, 87, 400001), [0.0]]).astype(np.float32)
    x2 = np.stack([np.zeros_like(x), x], 1)         # row (0, v): softmax = 1/(1+e^v), ...
    out = np.empty_like(x2)
    _softmax_native(x2, out)
    e = out[:, 1].astype(np.float64) / out[:, 0]     # ... so their ratio is e^v
    ref = np.exp(x.astype(np.float64))
    assert np.max(np.abs(e - ref) / ref) < 4 * 2.0 ** -24 * 2


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_grad_matches_twin_and_reference(monkeypatch, dtype, shape):
    g = RNG.standard_normal(shape).astype(dtype)
    y = N._softmax_kernel(RNG.standard_normal(shape).astype(dtype), -1)
    out = np.empty_like(g)
    assert R.softmax_grad(g, y, out)
    got = F._softmax_grad_kernel(g, y, -1)
    np.testing.assert_array_equal(out, got)
    twin = numpy_twin(monkeypatch, F._softmax_grad_kernel, g, y, -1)
    g64, y64 = g.astype(np.float64), y.astype(np.float64)
    ref = y64 * (g64 - (g64 * y64).sum(-1, keepdims=True))
    rtol, atol = _tol(dtype)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol * 100)
    np.testing.assert_allclose(got, twin, rtol=rtol, atol=atol * 100)


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [s for s in SHAPES if s[1] > 0] + [(64, 64, 32)])
def test_layer_norm_and_grad_match_twin_and_reference(monkeypatch, dtype, shape):
    x = (RNG.standard_normal(shape) * 3 + 1).astype(dtype)
    g = RNG.standard_normal(shape).astype(dtype)
    c = shape[-1]
    gamma, beta = RNG.standard_normal(c).astype(dtype), RNG.standard_normal(c).astype(dtype)
    eps = 1e-3
    out = np.empty(x.shape, dtype).reshape(-1, c)
    assert R.layer_norm(x.reshape(-1, c), gamma, beta, eps, out)
    y = F._layer_norm_kernel(x, gamma, beta, eps)
    np.testing.assert_array_equal(y, out.reshape(shape))
    flat = F._layer_norm_grad_kernel(g, x, gamma, eps)
    y_twin = numpy_twin(monkeypatch, F._layer_norm_kernel, x, gamma, beta, eps)
    flat_twin = numpy_twin(monkeypatch, F._layer_norm_grad_kernel, g, x, gamma, eps)
    rtol, atol = _tol(dtype)
    y_ref = _ln_ref(x, gamma, beta, eps)[0]
    np.testing.assert_allclose(y, y_ref, rtol=rtol * 2, atol=atol * 20)
    np.testing.assert_allclose(y, y_twin, rtol=rtol * 2, atol=atol * 20)
    ref = np.concatenate([a.reshape(-1) for a in _ln_grad_ref(g, x, gamma, eps)])
    scale = 1 + np.sqrt(x.size // c)  # the column sums grow with the rows
    np.testing.assert_allclose(flat, ref, rtol=rtol * 5, atol=atol * 50 * scale)
    np.testing.assert_allclose(flat, flat_twin, rtol=rtol * 5, atol=atol * 50 * scale)


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_threads(monkeypatch, dtype):
    x = (RNG.standard_normal((5000, 64)) * 4).astype(dtype)
    g = RNG.standard_normal(x.shape).astype(dtype)
    gamma, beta = RNG.standard_normal(64).astype(dtype), RNG.standard_normal(64).astype(dtype)

    def run():
        y = N._softmax_kernel(x, -1)  # (float64: the twin, beyond one block)
        return [y, F._softmax_grad_kernel(g, y, -1), F._layer_norm_kernel(x, gamma, beta, 1e-5),
                F._layer_norm_grad_kernel(g, x, gamma, 1e-5)]

    from tenfold.backend import native_pool
    monkeypatch.setattr(K, "_threads", 1)
    serial = run()
    monkeypatch.setattr(K, "BANDWIDTH_MIN_BYTES", 1)  # blocks on the threads
    monkeypatch.setattr(K, "_busy", lambda: False)
    monkeypatch.setattr(K, "_threads", 2)
    monkeypatch.setattr(native_pool, "threads", lambda: 2)
    pooled = []
    real_run = native_pool.run
    monkeypatch.setattr(native_pool, "run", lambda *a: pooled.append(1) or real_run(*a))
    for a, b in zip(run(), serial):      # the C pool's blocks
        np.testing.assert_array_equal(a, b)
    assert pooled or not native_pool.available()
    monkeypatch.setattr(native_pool, "available", lambda: False)
    monkeypatch.setattr(native_pool, "run", lambda *a: False)
    calls = []
    real = K.run_tasks
    monkeypatch.setattr(K, "run_tasks", lambda *a, **k: calls.append(1) or real(*a, **k))
    for a, b in zip(run(), serial):      # the kernel threads' blocks
        np.testing.assert_array_equal(a, b)
    assert calls  # the blocked path ran


@needs_native
def test_arrays_the_kernels_do_not_take_go_to_thenumpy_twin(monkeypatch):
    x = RNG.standard_normal((6, 8)).astype(np.float32)
    out = np.empty_like(x)
    assert not R.softmax(x[:, ::2], out[:, :4])                 # not contiguous
    assert not R.softmax(x, out.astype(np.float64))             # mixed dtypes
    assert not R.softmax(x.astype(np.float16), out.astype(np.float16))
    assert not R.softmax(x[:, 1:], x[:, :-1])                   # overlapping
    assert not R.softmax(x.reshape(2, 3, 8), out.reshape(2, 3, 8))
    assert not R.softmax_grad(x, x[:3], out)                    # shapes differ
    assert not R.layer_norm(x, np.ones((1, 8), np.float32), np.zeros(8, np.float32), 1e-3,
                            out)                                # gamma not (cols,)
    assert not R.layer_norm(x, np.ones(8), np.zeros(8), 1e-3, out)  # gamma float64
    assert not R.layer_norm(x[:, :0], np.ones(0, np.float32), np.ones(0, np.float32), 1e-3,
                            out[:, :0])                         # no columns
    dg, db = np.empty(8, np.float32), np.empty(7, np.float32)
    assert not R.layer_norm_grad(x, x, np.ones(8, np.float32), 1e-3, out, dg, db)
    # still right through the ops: a softmax gradient over axis 0 (a transposed view)
    g, y = RNG.standard_normal((5, 7)), N._softmax_kernel(RNG.standard_normal((5, 7)), 0)
    ref = y * (g - (g * y).sum(0, keepdims=True))
    np.testing.assert_allclose(F._softmax_grad_kernel(g, y, 0), ref, rtol=1e-12, atol=1e-14)
    gamma = RNG.standard_normal((1, 8)).astype(np.float32)       # broadcast gamma: the twin
    np.testing.assert_allclose(F._layer_norm_kernel(x, gamma, gamma[0], 1e-3),
                               _ln_ref(x, gamma[0], gamma[0], 1e-3)[0], rtol=1e-5, atol=1e-5)
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert not R.softmax(x, out)
    assert not R.layer_norm(x, x[0], x[0], 1e-3, out)


@needs_native
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_property_native_matches_reference(data):
    dtype = data.draw(st.sampled_from(DTYPES))
    rows = data.draw(st.integers(0, 40))
    cols = data.draw(st.integers(1, 70))
    scale = data.draw(st.sampled_from([0.1, 1.0, 10.0]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    x = (rng.standard_normal((rows, cols)) * scale).astype(dtype)
    g = rng.standard_normal((rows, cols)).astype(dtype)
    gamma, beta = rng.standard_normal(cols).astype(dtype), rng.standard_normal(cols).astype(dtype)
    rtol, atol = _tol(dtype)
    y = np.empty_like(x)
    if R._lib(64) is not None:
        _softmax_native(x, y)
        np.testing.assert_allclose(y, _softmax_ref(x), rtol=rtol, atol=atol)
    else:
        y = N._softmax_kernel(x, -1)
    dx = np.empty_like(x)
    assert R.softmax_grad(g, y, dx)
    y64 = y.astype(np.float64)
    np.testing.assert_allclose(dx, y64 * (g - (g * y64).sum(-1, keepdims=True)), rtol=rtol,
                               atol=atol * 100)
    ln = np.empty_like(x)
    assert R.layer_norm(x, gamma, beta, 1e-3, ln)
    np.testing.assert_allclose(ln, _ln_ref(x, gamma, beta, 1e-3)[0], rtol=rtol * 2,
                               atol=atol * 20 * (1 + 1 / scale))
    dg, db = np.empty(cols, dtype), np.empty(cols, dtype)
    assert R.layer_norm_grad(g, x, gamma, 1e-3, dx, dg, db)
    rdx, rdg, rdb = _ln_grad_ref(g, x, gamma, 1e-3)
    big = atol * 50 * (1 + np.sqrt(rows)) * (1 + 1 / scale)
    np.testing.assert_allclose(dx, rdx, rtol=rtol * 5, atol=big)
    np.testing.assert_allclose(dg, rdg, rtol=rtol * 5, atol=big)
    np.testing.assert_allclose(db, rdb, rtol=rtol * 5, atol=big)


@needs_library
@pytest.mark.parametrize("per", [4, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0,), (1,), (7, 3), (33,), (64, 64, 32)])
def test_dropout_mask_equals_thenumpy_twin(per, dtype, shape):
    top = (1 << (64 // per)) - 1
    scale = dtype(1 / (1 - 0.1))
    n = int(np.prod(shape))
    for key in (0, 1, 0xDEADBEEFCAFEBABE, (1 << 64) - 1):
        draws = random_ops._splitmix_draws(key, n, per).reshape(shape)
        # a threshold equal to the first and to the last draw: kept (>=), in the vector
        # blocks and in the tail
        ties = [int(draws.flat[0]), int(draws.flat[-1])] if n else []
        for thr in [0, 1, int(top * 0.1), top] + ties:
            out = np.empty(shape, dtype)
            assert R.dropout_mask(out, key, per, thr, scale)
            np.testing.assert_array_equal(out, np.multiply(draws >= thr, scale, dtype=dtype))
    out = np.empty(shape, dtype)
    assert not R.dropout_mask(out, 1, 3, 3, scale)               # 3 draws per output
    assert not R.dropout_mask(out, 1, per, top + 1, scale)       # threshold out of range
    if n > 1:
        assert not R.dropout_mask(out[..., ::2], 1, per, 3, scale)   # not contiguous
        assert not R.dropout_mask(np.zeros(shape, np.float16), 1, per, 3, scale)


def test_the_draws_are_splitmix64s_stream():
    # SplitMix64 seeded with 1234567: its published first outputs
    words = np.frombuffer(random_ops._splitmix_draws(1234567, 8, 4).tobytes(), "<u8")
    assert words.tolist() == [6457827717110365317, 3203168211198807973]


@needs_library
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_dropout_mask_values_and_rate(dtype):
    from tenfold.ops import random_ops
    for rate in (0.1, 0.5, 1 / 3):
        m = random_ops._dropout_mask_kernel((64, 64, 32), np.dtype(dtype), rate, seed=4)
        assert m.dtype == np.dtype(dtype) and m.shape == (64, 64, 32)
        scale = np.dtype(dtype).type(np.float32(1 / (1 - rate)) if dtype != "float64"
                                     else 1 / (1 - rate))
        assert set(np.unique(m).tolist()) <= {0.0, float(scale)}
        assert abs((m == 0).mean() - rate) < 0.01


@needs_library
@pytest.mark.parametrize("arch", [[], ["-march=native", "-mno-avx512f"]])
def test_other_vector_widths_give_the_same_bits(tmp_path, monkeypatch, arch):
    """Built without -march=native (the loader's fallback: 16-byte vectors) or without
    AVX-512 (32-byte; where the compiler takes the flags, else the fallback again), the
    vector code runs the same IEEE operations in the same order: the same results."""
    import ctypes
    built = native.load("rows")  # (loaded before the flags change)
    monkeypatch.setenv("TENFOLD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "_ARCH_FLAGS", arch)
    generic = native._build_and_load(*native._sources("rows"))
    P, I, D = ctypes.c_void_p, native.i64, native.f64
    for dtype in DTYPES:
        suf = native.suffix(dtype)
        for shape in [(37, 13), (64, 64), (5, 100), (3, 1)]:
            x = (RNG.standard_normal(shape) * 5).astype(dtype)
            g = RNG.standard_normal(shape).astype(dtype)
            gam = RNG.standard_normal(shape[1]).astype(dtype)
            outs = []
            for lib in (generic, built):
                y, dx, ln, lg = (np.empty_like(x) for _ in range(4))
                parts = np.zeros((2, 1, shape[1]))
                f = getattr(lib, "softmax_rows_" + suf)
                f.argtypes = [P, P, I, I]
                f(native.ptr(x), native.ptr(y), *shape)
                f = getattr(lib, "softmax_grad_rows_" + suf)
                f.argtypes = [P, P, P, I, I]
                f(native.ptr(g), native.ptr(y), native.ptr(dx), *shape)
                f = getattr(lib, "layer_norm_rows_" + suf)
                f.argtypes = [P, P, P, P, I, I, D]
                f(native.ptr(x), native.ptr(gam), native.ptr(gam), native.ptr(ln), *shape, 1e-3)
                f = getattr(lib, "layer_norm_grad_rows_" + suf)
                f.argtypes = [P, P, P, P, P, P, I, I, I, D]
                f(native.ptr(g), native.ptr(x), native.ptr(gam), native.ptr(lg),
                  native.ptr(parts[0]), native.ptr(parts[1]), shape[0], shape[1], shape[0], 1e-3)
                mask = np.empty(x.size + 5, dtype)
                f = getattr(lib, "dropout_mask_" + suf)
                f.argtypes = [P, I, I, I, I, D]
                f(native.ptr(mask), mask.size, 99, 4, 6554, 1.5)
                outs.append([y, dx, ln, lg, parts, mask])
            for a, b in zip(*outs):
                np.testing.assert_array_equal(a, b)


@needs_native
def test_byte_swapped_arrays_go_to_thenumpy_twin():
    x = RNG.standard_normal((4, 6)).astype(">f4")
    out = np.empty_like(x)
    assert not R.softmax(x, out)
    y = N._softmax_kernel(x, -1)
    e = np.exp(x.astype(np.float64) - x.max(-1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(-1, keepdims=True), rtol=1e-6)


@needs_softmax
def test_read_only_inputs_are_taken():
    x = RNG.standard_normal((9, 20)).astype(np.float32)
    g = RNG.standard_normal(x.shape).astype(np.float32)
    gamma, beta = np.ones(20, np.float32), np.zeros(20, np.float32)
    ref = [N._softmax_kernel(x, -1), F._layer_norm_kernel(x, gamma, beta, 1e-3),
           F._layer_norm_grad_kernel(g, x, gamma, 1e-3)]
    for a in (x, g, gamma, beta):
        a.setflags(write=False)
    out = np.empty_like(x)
    assert R.softmax(x, out)
    np.testing.assert_array_equal(out, ref[0])
    y = N._softmax_kernel(x, -1)
    y.setflags(write=False)
    assert R.softmax_grad(g, y, out)
    np.testing.assert_array_equal(F._layer_norm_kernel(x, gamma, beta, 1e-3), ref[1])
    np.testing.assert_array_equal(F._layer_norm_grad_kernel(g, x, gamma, 1e-3), ref[2])


@needs_library
def test_kernels_stay_with_the_twins_where_vectors_are_narrow(monkeypatch):
    """The softmax only on an AVX-512 build (64-byte vectors; narrower ones run its
    polynomial slower than NumPy's exp), the other row kernels on any; the keep mask
    (plain loops) always."""
    lib = native.load("rows")
    x = RNG.standard_normal((5, 7)).astype(np.float32)
    out = np.empty_like(x)
    bits = np.arange(35, dtype=np.uint16).reshape(5, 7)
    for width, row_kernels in [(32, True), (16, True), (8, False)]:
        monkeypatch.setitem(R._width, id(lib), width)
        assert not R.softmax(x, out)
        assert R.softmax_grad(x, x, out) == row_kernels
        assert R.layer_norm(x, x[0], x[0], 1e-3, out) == row_kernels
        e = np.exp(x.astype(np.float64) - x.max(-1, keepdims=True))
        np.testing.assert_allclose(N._softmax_kernel(x, -1), e / e.sum(-1, keepdims=True),
                                   rtol=1e-6)
        assert R.dropout_mask(out, 7, 4, 10, np.float32(2))
        draws = random_ops._splitmix_draws(7, out.size, 4).reshape(out.shape)
        np.testing.assert_array_equal(out, np.where(draws >= 10, 2, 0))
