"""Average pooling whose windows tile the image (stride = window, no pads), native
(conv_direct.py avg_pool_tiling / avg_pool_grad_tiling): bit-exact with the NumPy path
(TENFOLD_NATIVE=0: the same operations in the same order) and close to a float64
reference, on window sizes, remainders, channel counts (the constant-C paths and the
others), float32/float64; the dispatch from kernels.avg_pool(_grad) and the fallbacks."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import conv_direct as CD
from tenfold.backend import kernels as K
from tenfold.backend import native
from tests.core.native_twins import numpy_twin

pytestmark = pytest.mark.skipif(native.load("conv_direct") is None,
                                reason="no native conv_direct here")

NO_PADS = ((0, 0), (0, 0))


def ref_avg_pool(x, kh, kw):
    n, h, w, c = x.shape
    ho, wo = h // kh, w // kw
    x = x[:, :ho * kh, :wo * kw].astype(np.float64)
    return x.reshape(n, ho, kh, wo, kw, c).mean(axis=(2, 4))


def ref_avg_pool_grad(g, x_shape, kh, kw):
    n, h, w, c = x_shape
    ho, wo = g.shape[1:3]
    dx = np.zeros(x_shape)
    dx[:, :ho * kh, :wo * kw] = np.repeat(np.repeat(g.astype(np.float64) / (kh * kw), kh, 1),
                                          kw, 2)
    return dx


CASES = [  # x_shape, (kh, kw)
    ((16, 24, 24, 4), (2, 2)),     # Siamese pool 1
    ((16, 8, 8, 16), (2, 2)),      # Siamese pool 2
    ((3, 25, 23, 3), (2, 2)),      # a remainder row and column
    ((2, 9, 10, 5), (3, 3)),       # C without a constant path
    ((2, 6, 7, 1), (3, 2)),
    ((1, 4, 4, 64), (2, 2)), ((1, 5, 4, 65), (2, 2)), ((1, 4, 6, 8), (1, 3)),
    ((2, 3, 3, 2), (3, 3)),        # one window
    ((1, 7, 5, 32), (2, 1)), ((1, 1, 1, 1), (1, 1)), ((2, 8, 8, 17), (4, 4)),
]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_matches_numpy_path_bitwise_and_reference(case, dt, monkeypatch):
    x_shape, (kh, kw) = case
    rng = np.random.default_rng(abs(hash((case, dt == np.float32))) % 2**32)
    x = rng.standard_normal(x_shape).astype(dt)
    args = ((kh, kw), (kh, kw), (1, 1), NO_PADS)
    got = CD.avg_pool_tiling(x, kh, kw)
    assert got is not None and got.dtype == dt
    np.testing.assert_array_equal(got, numpy_twin(monkeypatch, K.avg_pool, x, *args))
    np.testing.assert_array_equal(K.avg_pool(x, *args), got)
    tol = dict(rtol=1e-6, atol=1e-6) if dt == np.float32 else dict(rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(got, ref_avg_pool(x, kh, kw), **tol)
    g = rng.standard_normal(got.shape).astype(dt)
    dx = CD.avg_pool_grad_tiling(g, x_shape, kh, kw)
    assert dx is not None and dx.dtype == dt and dx.shape == x_shape
    np.testing.assert_array_equal(dx, numpy_twin(monkeypatch, K.avg_pool_grad, g, x_shape, *args))
    np.testing.assert_array_equal(K.avg_pool_grad(g, x_shape, *args), dx)
    np.testing.assert_allclose(dx, ref_avg_pool_grad(g, x_shape, kh, kw), **tol)


def test_remainder_is_zeroed_in_a_dirty_buffer(monkeypatch):
    """dx comes from np.empty: the rows and columns no window covers must be written."""
    x_shape = (2, 7, 9, 3)
    g = np.ones((2, 3, 4, 3), np.float32)
    for _ in range(3):   # (freed NaN-filled buffers of its size for np.empty to reuse)
        np.full(x_shape, np.nan, np.float32)
        dx = CD.avg_pool_grad_tiling(g, x_shape, 2, 2)
        assert not np.isnan(dx).any() and dx[:, 6:].sum() == 0 and dx[:, :, 8:].sum() == 0
        assert dx.sum() == 2 * 3 * 4 * 3


def test_nan_and_inf_propagate_as_numpy():
    x = np.ones((1, 4, 4, 2), np.float32)
    x[0, 0, 0, 0], x[0, 2, 3, 1] = np.nan, np.inf
    got = CD.avg_pool_tiling(x, 2, 2)
    assert np.isnan(got[0, 0, 0, 0]) and np.isinf(got[0, 1, 1, 1]) and got[0, 0, 0, 1] == 1


def test_falls_back_where_it_does_not_apply(monkeypatch):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    assert CD.avg_pool_tiling(x[:, :, ::-1], 2, 2) is None            # not contiguous
    assert CD.avg_pool_tiling(x.astype(np.int32), 2, 2) is None
    assert CD.avg_pool_tiling(x[0], 2, 2) is None                      # 3-D
    assert CD.avg_pool_tiling(x, 9, 2) is None                         # window > image
    assert CD.avg_pool_tiling(np.zeros((0, 8, 8, 3), np.float32), 2, 2) is None
    g = np.ones((2, 4, 4, 3), np.float32)
    assert CD.avg_pool_grad_tiling(g, (2, 8, 8, 4), 2, 2) is None       # g of a wrong shape
    assert CD.avg_pool_grad_tiling(g.astype(np.float64)[:, ::2], (2, 4, 8, 3), 2, 2) is None
    # kernels.avg_pool still right on the general paths: overlapping, padded, half, strided x
    for args in [((3, 3), (2, 2), (1, 1), NO_PADS), ((2, 2), (2, 2), (1, 1), ((0, 1), (1, 0))),
                 ((2, 2), (2, 2), (2, 2), NO_PADS)]:
        np.testing.assert_allclose(K.avg_pool(x, *args),
                                   numpy_twin(monkeypatch, K.avg_pool, x, *args), rtol=1e-6)
    xs = x[:, :, ::-1]
    np.testing.assert_allclose(K.avg_pool(xs, (2, 2), (2, 2), (1, 1), NO_PADS),
                               ref_avg_pool(xs, 2, 2), rtol=1e-6, atol=1e-6)
    h = x.astype(np.float16)
    got = K.avg_pool(h, (2, 2), (2, 2), (1, 1), NO_PADS)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, ref_avg_pool(h, 2, 2), rtol=2e-3, atol=2e-3)
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert CD.avg_pool_tiling(x, 2, 2) is None


def test_results_do_not_depend_on_threads(monkeypatch):
    x = np.random.default_rng(5).standard_normal((256, 32, 32, 16)).astype(np.float32)
    monkeypatch.setattr(K, "_busy", lambda: False)
    runs = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(K, "_threads", threads)
        y = CD.avg_pool_tiling(x, 2, 2)
        runs.append((y, CD.avg_pool_grad_tiling(y, x.shape, 2, 2)))
    for y, dx in runs[1:]:
        np.testing.assert_array_equal(y, runs[0][0])
        np.testing.assert_array_equal(dx, runs[0][1])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 11), w=st.integers(1, 11),
       c=st.sampled_from([1, 2, 3, 4, 5, 8, 16, 31, 64, 70]), kh=st.integers(1, 4),
       kw=st.integers(1, 4), f64=st.booleans(), seed=st.integers(0, 99))
def test_property_bitwise_as_numpy(n, h, w, c, kh, kw, f64, seed):
    dt = np.float64 if f64 else np.float32
    x = np.random.default_rng(seed).standard_normal((n, h, w, c)).astype(dt)
    args = ((kh, kw), (kh, kw), (1, 1), NO_PADS)
    got = CD.avg_pool_tiling(x, kh, kw)
    if kh > h or kw > w:
        assert got is None
        return
    g = (got * 3 + 1).astype(dt)
    dx = CD.avg_pool_grad_tiling(g, x.shape, kh, kw)
    with pytest.MonkeyPatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        np.testing.assert_array_equal(got, K.avg_pool(x, *args))
        np.testing.assert_array_equal(dx, K.avg_pool_grad(g, x.shape, *args))
