"""The namespace-generic kernels the CuPy backend runs (tenfold/backend/xp_kernels.py), checked
here without a GPU: against the NumPy kernels (tenfold/backend/kernels.py) on NumPy arrays,
and on the CI stand-in backend (arrays that refuse host conversion, as CuPy's do)."""
import numpy as np
import pytest

from tenfold.backend import kernels as K
from tenfold.backend import xp_kernels as X
from tenfold.testing.standin_backend import STANDIN, StandinArray, register

CONV_CASES = [
    # x shape, w shape, strides, dilations, pads, groups
    ((2, 7, 6, 3), (3, 3, 3, 4), (1, 1), (1, 1), ((1, 1), (1, 1)), 1),
    ((2, 9, 8, 4), (3, 2, 2, 6), (2, 1), (1, 2), ((0, 1), (2, 0)), 2),
    ((3, 10, 2), (5, 2, 3), (3,), (1,), ((2, 2),), 1),
    ((1, 4, 4, 1), (1, 1, 1, 5), (1, 1), (1, 1), ((0, 0), (0, 0)), 1),
]
POOL_CASES = [
    ((2, 6, 6, 3), (2, 2), (2, 2), (1, 1), ((0, 0), (0, 0))),
    ((2, 7, 5, 2), (3, 3), (2, 1), (1, 1), ((1, 1), (1, 1))),
    ((1, 8, 3), (3,), (2,), (1,), ((1, 0),)),
]


def _rng_arrays(*shapes, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _conv_io(xs, ws, strides, dil, pads, groups):
    x, w = _rng_arrays(xs, ws)
    y = K.conv(x, w, strides, dil, pads, groups)
    (dy,) = _rng_arrays(y.shape, seed=1)
    return x, w, y, dy


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_convolution_family_matches_the_numpy_kernels(case):
    xs, ws, strides, dil, pads, groups = case
    x, w, y, dy = _conv_io(*case)
    np.testing.assert_allclose(X.conv(x, w, strides, dil, pads, groups), y, rtol=1e-10)
    b = np.arange(ws[-1], dtype=x.dtype)
    np.testing.assert_allclose(X.conv_bias_act(x, w, b, strides, dil, pads, groups, relu=True),
                               K.conv_bias_act(x, w, b, strides, dil, pads, groups, relu=True),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(X.conv_backprop_input(dy, w, xs, strides, dil, pads, groups),
                               K.conv_backprop_input(dy, w, xs, strides, dil, pads, groups),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(X.conv_backprop_filter(x, dy, ws, strides, dil, pads, groups),
                               K.conv_backprop_filter(x, dy, ws, strides, dil, pads, groups),
                               rtol=1e-10, atol=1e-12)


def test_depthwise_family_matches_the_numpy_kernels():
    strides, dil, pads = (1, 2), (1, 1), ((1, 1), (0, 1))
    x, w = _rng_arrays((2, 6, 7, 3), (3, 2, 3, 2))
    y = K.depthwise_conv(x, w, strides, dil, pads)
    (dy,) = _rng_arrays(y.shape, seed=2)
    np.testing.assert_allclose(X.depthwise_conv(x, w, strides, dil, pads), y, rtol=1e-10)
    np.testing.assert_allclose(X.depthwise_backprop_input(dy, w, x.shape, strides, dil, pads),
                               K.depthwise_backprop_input(dy, w, x.shape, strides, dil, pads),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(X.depthwise_backprop_filter(x, dy, w.shape, strides, dil, pads),
                               K.depthwise_backprop_filter(x, dy, w.shape, strides, dil, pads),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pooling_family_matches_the_numpy_kernels(case):
    xs, ksize, strides, dil, pads = case
    (x,) = _rng_arrays(xs)
    x[0, 0, 0] = x[0, 1, 0] if x.ndim == 3 else x[0, 0, 1]  # a tie: the first max wins
    y = K.max_pool(x, ksize, strides, dil, pads)
    (g, gg) = _rng_arrays(y.shape, xs, seed=3)
    np.testing.assert_array_equal(X.max_pool(x, ksize, strides, dil, pads), y)
    np.testing.assert_allclose(X.max_pool_grad(x, y, g, ksize, strides, dil, pads),
                               K.max_pool_grad(x, y, g, ksize, strides, dil, pads), rtol=1e-12)
    np.testing.assert_allclose(X.max_pool_grad_grad(x, y, gg, ksize, strides, dil, pads),
                               K.max_pool_grad_grad(x, y, gg, ksize, strides, dil, pads),
                               rtol=1e-12)
    a = K.avg_pool(x, ksize, strides, dil, pads)
    np.testing.assert_allclose(X.avg_pool(x, ksize, strides, dil, pads), a, rtol=1e-12)
    np.testing.assert_allclose(X.avg_pool_grad(g, xs, ksize, strides, dil, pads),
                               K.avg_pool_grad(g, xs, ksize, strides, dil, pads), rtol=1e-12)


def test_half_precision_computes_in_float32_and_returns_the_input_dtype():
    x, w = _rng_arrays((1, 5, 5, 2), (3, 3, 2, 3), dtype="float16")
    y = X.conv(x, w, (1, 1), (1, 1), ((1, 1), (1, 1)))
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, K.conv(x, w, (1, 1), (1, 1), ((1, 1), (1, 1))),
                               rtol=2e-3, atol=2e-3)


def test_kernels_stay_on_a_device_that_refuses_host_conversion():
    register()
    case = CONV_CASES[1]
    xs, ws, strides, dil, pads, groups = case
    x, w, y, dy = _conv_io(*case)
    d = STANDIN.from_host
    outs = {
        "conv": (X.conv(d(x), d(w), strides, dil, pads, groups), y),
        "bpi": (X.conv_backprop_input(d(dy), d(w), xs, strides, dil, pads, groups),
                K.conv_backprop_input(dy, w, xs, strides, dil, pads, groups)),
        "bpf": (X.conv_backprop_filter(d(x), d(dy), ws, strides, dil, pads, groups),
                K.conv_backprop_filter(x, dy, ws, strides, dil, pads, groups)),
    }
    xs, ksize, strides, dil, pads = POOL_CASES[1]
    (p,) = _rng_arrays(xs)
    py = K.max_pool(p, ksize, strides, dil, pads)
    outs["max_pool_grad"] = (X.max_pool_grad(d(p), d(py), d(py), ksize, strides, dil, pads),
                             K.max_pool_grad(p, py, py, ksize, strides, dil, pads))
    outs["avg_pool"] = (X.avg_pool(d(p), ksize, strides, dil, pads),
                        K.avg_pool(p, ksize, strides, dil, pads))
    outs["avg_pool_grad"] = (X.avg_pool_grad(d(py), xs, ksize, strides, dil, pads),
                             K.avg_pool_grad(py, xs, ksize, strides, dil, pads))
    for name, (got, want) in outs.items():
        assert type(got) is StandinArray, name
        np.testing.assert_allclose(STANDIN.to_host(got), want, rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_on_a_device_float16_convolutions_multiply_in_float16():
    # cuBLAS half GEMMs (tensor cores, float32 accumulation); the stand-in multiplies in
    # float16 with NumPy, which is close enough to check the routing and the result
    register()
    x, w = _rng_arrays((2, 6, 6, 3), (3, 3, 3, 4), dtype="float16")
    pads = ((1, 1), (1, 1))
    assert X.gemm_dtype(STANDIN.from_host(x)) == np.float16
    assert X.gemm_dtype(x) == np.float32
    got = X.conv(STANDIN.from_host(x), STANDIN.from_host(w), (1, 1), (1, 1), pads)
    assert got.dtype == np.float16
    np.testing.assert_allclose(STANDIN.to_host(got).astype("float32"),
                               K.conv(x, w, (1, 1), (1, 1), pads).astype("float32"),
                               rtol=2e-2, atol=2e-2)
