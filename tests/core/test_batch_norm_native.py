"""The native BatchNormalization kernels (tenfold/backend/native/batch_norm.c, wired into
backend/norm_kernels.py): against their NumPy twin (TENFOLD_NATIVE=0) and a float64
reference, on shapes around the C code's edges (the wide rows of k * c <= 256 elements, the
blocks, channels wider than 256), with a ReLU and a residual; the fallbacks; the thread
count; and a property test over shapes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold.backend import kernels as K
from tenfold.backend import native
from tenfold.backend import norm_kernels as N
from tenfold.ops import fused_ops as F

needs_native = pytest.mark.skipif(native.load("batch_norm") is None,
                                  reason="the native batch_norm kernels do not build here")
RNG = np.random.default_rng(23)
EPS = 1e-3
BLK16 = N._native_layout(10 ** 6, 16, 4)[0]  # rows per block at 16 channels
SHAPES = [(1, 1), (1, 4), (2, 3), (13, 17), (6, 5, 5, 24), (1000, 3), (4097, 1),
          (BLK16 - 1, 16), (BLK16, 16), (BLK16 + 1, 16), (2 * BLK16 + 1, 16), (5, 256),
          (5, 257), (7, 300), (3, 1, 1, 2048), (64, 8, 8, 64), (16, 16, 16, 32)]
TOL = {np.float32: 2e-5, np.float64: 1e-11}


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    x = rng.standard_normal(shape) * 2 + 3
    g, s = rng.standard_normal(shape), rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    return [a.astype(dtype) for a in (x, g, s, gamma, beta)]


def _reference(x, gamma, beta, relu, s):
    """Forward in float64: (y, mean, var)."""
    x, gamma, beta = (np.asarray(a, np.float64) for a in (x, gamma, beta))
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axes), x.var(axes)
    y = (x - mean) / np.sqrt(var + EPS) * gamma + beta
    if s is not None:
        y = y + s
    return (np.maximum(y, 0) if relu else y), mean, var


def _reference_grad(g, x, gamma):
    g, x, gamma = (np.asarray(a, np.float64) for a in (g, x, gamma))
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axes), x.var(axes)
    inv = 1 / np.sqrt(var + EPS)
    xhat = (x - mean) * inv
    dx = gamma * inv * (g - g.mean(axes) - xhat * (g * xhat).mean(axes))
    return dx, (g * xhat).sum(axes), g.sum(axes)


def _both(fn, monkeypatch):
    """fn() natively, then by the NumPy twin."""
    got = fn()
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        twin = fn()
    return got, twin


def _check_forward(y, mean, var, x, gamma, beta, relu, s, dtype):
    ref, rmean, rvar = _reference(x, gamma, beta, relu, s)
    tol = TOL[dtype]
    assert y.dtype == dtype and y.shape == x.shape
    assert mean.dtype == var.dtype == dtype and mean.shape == var.shape == (x.shape[-1],)
    np.testing.assert_allclose(mean, rmean, rtol=tol, atol=tol)
    np.testing.assert_allclose(var, rvar, rtol=tol, atol=tol)
    scale = np.abs(ref).max() + 1
    np.testing.assert_allclose(y, ref, atol=tol * 10 * scale)


def _check_backward(flat, g, x, y, gamma, relu, dtype):
    n, c = x.size, x.shape[-1]
    gm = g.astype(np.float64) * (y > 0) if relu else g
    dx, dgamma, dbeta = _reference_grad(gm, x, gamma)
    assert flat.dtype == dtype and flat.shape == (n + 2 * c,)
    tol = TOL[dtype] * 10 * (np.abs(dx).max() + np.abs(dgamma).max() + 1)
    np.testing.assert_allclose(flat[:n].reshape(x.shape), dx, atol=tol)
    np.testing.assert_allclose(flat[n:n + c], dgamma, atol=tol * np.sqrt(n))
    np.testing.assert_allclose(flat[n + c:], dbeta, atol=tol * np.sqrt(n))


@needs_native
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu,residual", [(False, False), (True, False), (True, True),
                                           (False, True)])
def test_native_matches_the_twin_and_float64(shape, dtype, relu, residual, monkeypatch):
    x, g, s, gamma, beta = _data(shape, dtype)
    s = s if residual else None
    (y, mean, var), (ty, tmean, tvar) = _both(
        lambda: N.bn_forward(x, gamma, beta, EPS, relu=relu, residual=s), monkeypatch)
    _check_forward(y, mean, var, x, gamma, beta, relu, s, dtype)
    _check_forward(ty, tmean, tvar, x, gamma, beta, relu, s, dtype)
    tol = TOL[dtype] * 10 * (np.abs(ty).max() + 1)
    np.testing.assert_allclose(y, ty, atol=tol)
    flat, twin = _both(lambda: N.bn_backward(g, x, y, gamma, mean, var, EPS, relu=relu),
                       monkeypatch)
    _check_backward(flat, g, x, y, gamma, relu, dtype)
    _check_backward(twin, g, x, y, gamma, relu, dtype)


@needs_native
def test_native_path_is_taken_and_native_0_is_not(monkeypatch):
    calls = []
    real = N._native_forward
    monkeypatch.setattr(N, "_native_forward", lambda *a: calls.append(1) or real(*a))
    x, _, _, gamma, beta = _data((4, 8), np.float32)
    N.bn_forward(x, gamma, beta, EPS)
    assert calls == [1]
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    N.bn_forward(x, gamma, beta, EPS)
    assert calls == [1]
    assert not N.native_ok(x) and F._norm_ok(x, gamma, beta) is False


@needs_native
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fallbacks_and_copies(dtype):
    """Non-contiguous x, g, r, residual: contiguous copies go native; a strided gamma, or
    one of another dtype, goes to the twin; all give the reference."""
    x, g, s, gamma, beta = _data((9, 6, 10), dtype)
    xt, gt, st_ = (np.swapaxes(a, 0, 1) for a in (x, g, s))
    assert not xt.flags.c_contiguous
    y, mean, var = N.bn_forward(xt, gamma, beta, EPS, relu=True, residual=st_)
    _check_forward(y, mean, var, xt, gamma, beta, True, st_, dtype)
    _check_backward(N.bn_backward(gt, xt, np.swapaxes(y, 0, 1).copy().swapaxes(0, 1), gamma,
                                  mean, var, EPS, relu=True), gt, xt, y, gamma, True, dtype)
    wide = np.repeat(gamma, 2)[::2]
    assert not wide.flags.c_contiguous
    y, mean, var = N.bn_forward(x, wide, beta, EPS)
    _check_forward(y, mean, var, x, gamma, beta, False, None, dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    y, mean, var = N.bn_forward(x, gamma.astype(other), beta, EPS)
    ref, _, _ = _reference(x, gamma, beta, False, None)
    np.testing.assert_allclose(y, ref, atol=1e-4)


@pytest.mark.parametrize("off", ["1", "0"])
def test_empty_batch(off, monkeypatch):
    monkeypatch.setenv("TENFOLD_NATIVE", off)
    x = np.zeros((0, 5, 3), np.float32)
    gamma, beta = np.ones(3, np.float32), np.zeros(3, np.float32)
    y, mean, var = N.bn_forward(x, gamma, beta, EPS, relu=True)
    assert y.shape == x.shape and np.isnan(mean).all() and np.isnan(var).all()
    flat = N.bn_backward(x, x, y, gamma, mean, var, EPS, relu=True)
    np.testing.assert_array_equal(flat, np.zeros(6, np.float32))
    # the fused primitives keep their own empty-batch path (the array-namespace code)
    assert F._batch_norm_relu_train_kernel(x, gamma, beta, EPS).shape == x.shape
    none = np.zeros(0, np.float32)
    y, mean, var = N.bn_forward(np.zeros((4, 0), np.float32), none, none, EPS)
    assert y.shape == (4, 0) and mean.shape == var.shape == (0,)


@needs_native
def test_native_does_not_depend_on_the_thread_count(monkeypatch):
    x, g, s, gamma, beta = _data((32, 16, 16, 64), np.float32)  # 2 MB: several tasks
    assert len(N._native_layout(x.size // 64, 64, 4)[2]) > 1
    outs = []
    for threads in (1, 2):
        monkeypatch.setattr(K, "_threads", threads)
        monkeypatch.setattr(K, "_busy", lambda: False)
        y, mean, var = N.bn_forward(x, gamma, beta, EPS, relu=True, residual=s)
        outs.append((y, mean, var, N.bn_backward(g, x, y, gamma, mean, var, EPS, relu=True)))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


@needs_native
def test_native_moments_are_accurate_far_from_zero():
    """Double accumulators: a large mean and a small spread keep the variance to float32's
    precision (the float32 twin keeps ~1e-3)."""
    x64 = RNG.standard_normal((64, 16, 16, 8)) * 0.01 + 1000.0
    x = x64.astype(np.float32)
    _, mean, var = N.bn_forward(x, np.ones(8, np.float32), np.zeros(8, np.float32), 1e-8)
    xr = x.astype(np.float64)
    np.testing.assert_allclose(var, xr.var((0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(mean, xr.mean((0, 1, 2)), rtol=1e-7)


@needs_native
def test_native_relu_masks_by_r_and_keeps_nan():
    """g' = g * (r > 0), as the twin's float mask times g."""
    x, g, _, gamma, beta = _data((40, 4), np.float32)
    y, mean, var = N.bn_forward(x, gamma, beta, EPS, relu=True)
    y[0, 0] = np.nan  # r NaN: masked out
    flat = N.bn_backward(g, x, y, gamma, mean, var, EPS, relu=True)
    assert np.isfinite(flat).all()
    x[3, 1] = np.nan  # a NaN input gives NaN statistics for its channel, as NumPy
    y, mean, var = N.bn_forward(x, gamma, beta, EPS)
    assert np.isnan(mean[1]) and np.isnan(var[1]) and np.isfinite(mean[[0, 2, 3]]).all()


@needs_native
@settings(max_examples=40, deadline=None, derandomize=True)
@given(rows=st.integers(1, 700), c=st.integers(1, 300), relu=st.booleans(),
       residual=st.booleans(), f64=st.booleans())
def test_native_property(rows, c, relu, residual, f64):
    dtype = np.float64 if f64 else np.float32
    x, g, s, gamma, beta = _data((rows, c), dtype, seed=rows * 1000 + c)
    s = s if residual else None
    y, mean, var = N.bn_forward(x, gamma, beta, EPS, relu=relu, residual=s)
    _check_forward(y, mean, var, x, gamma, beta, relu, s, dtype)
    _check_backward(N.bn_backward(g, x, y, gamma, mean, var, EPS, relu=relu), g, x, y, gamma,
                    relu, dtype)


@needs_native
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 5, 6)])
def test_fused_primitives_take_native_at_small_sizes(shape, monkeypatch):
    """Below the twin's threshold the fused BN primitives now run native; they agree with
    the array-namespace code (TENFOLD_NATIVE=0) they ran before."""
    import tenfold as tf
    x, g, s, gamma, beta = (tf.constant(a) for a in _data(shape, np.float64))
    assert F._norm_ok(x.numpy(), gamma.numpy(), beta.numpy())

    def run():
        r = F.batch_norm_add_relu_train(x, gamma, beta, s, epsilon=EPS)
        y = F.batch_norm_relu_train(x, gamma, beta, epsilon=EPS)
        return [t.numpy() for t in (
            r, y, F.batch_norm_stats(x, y),
            F.batch_norm_relu_train_grad(g, x, y, gamma, epsilon=EPS),
            F.batch_norm_train_grad(g, x, F.batch_norm_train(x, gamma, beta, epsilon=EPS),
                                    gamma, epsilon=EPS))]

    for a, b in zip(*_both(run, monkeypatch)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@needs_native
def test_c_pool_passes_match_the_python_threads(monkeypatch):
    """The passes run as C pool tasks give the bits of the same blocks run on the Python
    kernel threads (the blocks' sums are combined in block order either way)."""
    from tenfold.backend import native_pool
    x, g, s, gamma, beta = _data((32, 16, 16, 64), np.float32)
    monkeypatch.setattr(K, "_busy", lambda: False)
    calls = []
    run = native_pool.run
    monkeypatch.setattr(native_pool, "run",
                        lambda fn, rows, d=(): calls.append(fn) or run(fn, rows, d))
    outs = []
    for pool in (True, False):
        if not pool:
            monkeypatch.setattr(native_pool, "run", lambda fn, rows, d=(): False)
        y, mean, var = N.bn_forward(x, gamma, beta, EPS, relu=True, residual=s)
        outs.append((y, mean, var, N.bn_backward(g, x, y, gamma, mean, var, EPS, relu=True)))
    assert len(calls) == 4 or not native_pool.available()   # two passes each way
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
