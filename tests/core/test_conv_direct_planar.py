"""The planar kernels of the native direct convolution for few channels
(tenfold/backend/conv_direct.py, native/conv_direct.c): the input gradient
(conv_backprop_input, conv_direct_bpi) and the filter gradient for many taps
(conv_backprop_filter_planar, conv_direct_bpf_planar), against float64 references and
the NumPy twin (TENFOLD_NATIVE=0): strides (the input gradient by phases), dilations,
explicit asymmetric and oversized pads, C_in 1..4, odd sizes, batch 1; the dispatch from
kernels.py, thread independence and the fallbacks."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import conv_direct as CD
from tenfold.backend import kernels as K
from tests.core.conv_references import ref_conv, ref_filter_grad, ref_input_grad
from tenfold.backend import native

pytestmark = pytest.mark.skipif(native.load("conv_direct") is None,
                                reason="no native conv_direct here")

VALID = ((0, 0), (0, 0))
RULES = ("BPI_ANY_OUT", "BPI_MAX_SCRATCH", "BPFP_MAX_OUT")


@pytest.fixture
def every_shape(monkeypatch):
    """The kernel must be right for every shape, not only where the dispatch sends it."""
    for k in RULES:
        monkeypatch.setattr(CD, k, 10**12)


def _tol(dt):
    return dict(rtol=2e-4, atol=2e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)


def _numpy_twin(monkeypatch, *args):
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        return K.conv_backprop_input(*args)


def _data(rng, x_shape, ksize, strides, dilations, pads, cout, dt):
    oh, ow = K.out_sizes(x_shape[1:3], ksize, strides, dilations, pads)
    dy = rng.standard_normal((x_shape[0], oh, ow, cout)).astype(dt)
    w = rng.standard_normal(tuple(ksize) + (x_shape[3], cout)).astype(dt)
    return dy, w


CASES = [  # x_shape, ksize, strides, dilations, pads, cout
    ((16, 28, 28, 1), (5, 5), (1, 1), (1, 1), VALID, 4),        # Siamese conv1
    ((16, 12, 12, 4), (5, 5), (1, 1), (1, 1), VALID, 16),       # Siamese conv2
    ((3, 28, 28, 1), (3, 3), (2, 2), (1, 1), ((0, 1), (0, 1)), 64),   # DCGAN disc. conv1
    ((2, 32, 32, 3), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 16),
    ((2, 16, 15, 3), (3, 3), (2, 2), (1, 1), ((0, 1), (0, 1)), 32),
    ((1, 13, 13, 2), (3, 3), (3, 3), (1, 1), ((1, 1), (1, 1)), 5),
    ((2, 10, 11, 4), (3, 3), (1, 2), (2, 2), ((2, 2), (2, 2)), 70),
    ((2, 28, 28, 1), (4, 4), (2, 2), (1, 1), ((1, 2), (1, 2)), 64),
    ((1, 7, 9, 3), (1, 1), (1, 1), (1, 1), VALID, 7),
    ((1, 7, 9, 4), (1, 1), (2, 3), (1, 1), ((0, 2), (3, 0)), 1),
    ((2, 5, 6, 1), (5, 5), (1, 1), (1, 1), ((2, 2), (2, 2)), 33),
    ((2, 9, 8, 2), (2, 3), (1, 2), (3, 1), ((0, 3), (2, 1)), 3),
    ((1, 4, 4, 1), (3, 3), (1, 1), (1, 1), ((5, 0), (0, 5)), 9),   # pads beyond the kernel
    ((1, 1, 1, 1), (1, 1), (1, 1), (1, 1), VALID, 1),
    ((1, 3, 40, 2), (3, 7), (1, 1), (1, 3), ((1, 1), (9, 9)), 2),  # several vector blocks
    ((2, 8, 70, 3), (2, 2), (2, 2), (1, 1), VALID, 6),   # a 2x2/2 conv: each dx pixel one tap
    ((1, 6, 5, 1), (2, 2), (3, 3), (1, 1), VALID, 2),    # stride > kernel: dx pixels no tap hits
    ((2, 9, 9, 2), (16, 3), (1, 1), (1, 1), ((8, 7), (1, 1)), 3),  # the longest filter
]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_input_gradient_matches_reference_and_numpy_twin(case, dt, monkeypatch, every_shape):
    x_shape, ksize, strides, dil, pads, cout = case
    rng = np.random.default_rng(abs(hash((case, dt == np.float32))) % 2**32)
    dy, w = _data(rng, x_shape, ksize, strides, dil, pads, cout, dt)
    got = CD.conv_backprop_input(dy, w, x_shape, strides, dil, pads)
    assert got is not None and got.dtype == dt and got.shape == x_shape
    want = ref_input_grad(dy, w, x_shape, strides, dil, pads)
    np.testing.assert_allclose(got, want, **_tol(dt))
    via = K.conv_backprop_input(dy, w, x_shape, strides, dil, pads)   # the dispatch
    np.testing.assert_allclose(via, want, **_tol(dt))
    twin = _numpy_twin(monkeypatch, dy, w, x_shape, strides, dil, pads)
    np.testing.assert_allclose(got, twin, **_tol(dt))


def _spy(monkeypatch, name):
    """[whether each call of conv_direct's `name` was taken (not None)], filled as it runs."""
    taken = []

    def spy(*a, _f=getattr(CD, name)):
        r = _f(*a)
        taken.append(r is not None)
        return r
    monkeypatch.setattr(CD, name, spy)
    return taken


def test_the_siamese_shapes_go_direct(monkeypatch):
    """kernels.conv_backprop_input takes the direct kernel for the benchmark's shapes."""
    taken = _spy(monkeypatch, "conv_backprop_input")
    rng = np.random.default_rng(1)
    for x_shape, w_shape in [((16, 28, 28, 1), (5, 5, 1, 4)), ((16, 12, 12, 4), (5, 5, 4, 16))]:
        dy, w = _data(rng, x_shape, w_shape[:2], (1, 1), (1, 1), VALID, w_shape[3],
                      np.float32)
        got = K.conv_backprop_input(dy, w, x_shape, (1, 1), (1, 1), VALID)
        np.testing.assert_allclose(got, ref_input_grad(dy, w, x_shape, (1, 1), (1, 1), VALID),
                                   **_tol(np.float32))
    assert taken == [True, True]


def test_half_precision_goes_through_float32():
    rng = np.random.default_rng(2)
    dy, w = _data(rng, (2, 9, 9, 1), (3, 3), (1, 1), (1, 1), VALID, 4, np.float16)
    got = K.conv_backprop_input(dy, w, (2, 9, 9, 1), (1, 1), (1, 1), VALID)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, ref_input_grad(dy, w, (2, 9, 9, 1), (1, 1), (1, 1), VALID),
                               rtol=1e-2, atol=1e-2)


def test_results_do_not_depend_on_threads(monkeypatch):
    rng = np.random.default_rng(3)
    dy, w = _data(rng, (64, 28, 28, 1), (5, 5), (1, 1), (1, 1), VALID, 4, np.float32)
    monkeypatch.setattr(K, "_busy", lambda: False)
    runs = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(K, "_threads", threads)
        runs.append(CD.conv_backprop_input(dy, w, (64, 28, 28, 1), (1, 1), (1, 1), VALID))
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])


def test_falls_back_where_it_does_not_apply(monkeypatch, every_shape):
    rng = np.random.default_rng(5)
    s1, pads = (1, 1), ((1, 1), (1, 1))
    xs = (2, 9, 9, 3)
    dy, w = _data(rng, xs, (3, 3), s1, s1, pads, 8, np.float32)
    bpi = CD.conv_backprop_input
    assert bpi(dy[:, :, ::-1], w, xs, s1, s1, pads) is None            # not contiguous
    assert bpi(dy, w.astype(np.float64), xs, s1, s1, pads) is None      # mixed dtypes
    assert bpi(dy.astype(np.int32), w.astype(np.int32), xs, s1, s1, pads) is None
    assert bpi(dy, w, (2, 9, 9, 5), s1, s1, pads) is None               # C_in mismatch
    assert bpi(dy[:, :8], w, xs, s1, s1, pads) is None                  # dy of a wrong shape
    assert bpi(dy, w, xs, s1, s1, ((-1, 1), (1, 1))) is None            # a negative pad
    assert bpi(dy, w, xs, (0, 1), s1, pads) is None                     # stride 0
    five = (2, 9, 9, 5)
    dy5, w5 = _data(rng, five, (3, 3), s1, s1, pads, 8, np.float32)
    assert bpi(dy5, w5, five, s1, s1, pads) is None                     # 5 input channels
    long_ = (1, 20, 4, 1)
    dyl, wl = _data(rng, long_, (17, 1), s1, s1, VALID, 2, np.float32)
    assert bpi(dyl, wl, long_, s1, s1, VALID) is None                   # 17 taps in y
    assert bpi(np.zeros((0, 9, 9, 8), np.float32), w, (0, 9, 9, 3), s1, s1, pads) is None
    assert bpi(dy[0], w[0], xs[1:], (1,), (1,), ((1, 1),)) is None     # 1-D
    # the kernels still answer right through their other paths
    dys = dy[:, :, ::-1]
    np.testing.assert_allclose(K.conv_backprop_input(dys, w, xs, s1, s1, pads),
                               ref_input_grad(dys, w, xs, s1, s1, pads), **_tol(np.float32))
    np.testing.assert_allclose(K.conv_backprop_input(dy5, w5, five, s1, s1, pads),
                               ref_input_grad(dy5, w5, five, s1, s1, pads), **_tol(np.float32))
    assert K.conv_backprop_input(np.zeros((0, 9, 9, 8), np.float32), w, (0, 9, 9, 3), s1, s1,
                                 pads).shape == (0, 9, 9, 3)
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert bpi(dy, w, xs, s1, s1, pads) is None


def test_dispatch_rule(monkeypatch):
    """Up to BPI_ANY_OUT output channels, or from BPI_WIDE_MIN_CHANNELS input channels."""
    rng = np.random.default_rng(6)

    def takes(x_shape, k, s, cout):
        dy, w = _data(rng, x_shape, (k, k), (s, s), (1, 1), VALID, cout, np.float32)
        return CD.conv_backprop_input(dy, w, x_shape, (s, s), (1, 1), VALID) is not None

    assert takes((1, 12, 12, 1), 5, 1, 4) and takes((1, 12, 12, 4), 5, 1, 16)
    assert takes((1, 12, 12, 1), 3, 1, 16) and takes((1, 12, 12, 3), 3, 2, 64)
    assert not takes((1, 12, 12, 1), 3, 2, 64) and not takes((1, 12, 12, 2), 3, 1, 32)
    monkeypatch.setattr(CD, "BPI_MAX_SCRATCH", 1024)
    assert not takes((1, 12, 12, 1), 5, 1, 4)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 13), w_=st.integers(1, 40),
       kh=st.integers(1, 5), kw=st.integers(1, 5), cin=st.integers(1, 4),
       cout=st.integers(1, 40), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2),
       pads=st.tuples(*[st.integers(0, 4)] * 4), f64=st.booleans(), seed=st.integers(0, 99))
def test_property_input_gradient(n, h, w_, kh, kw, cin, cout, sh, sw, dh, dw, pads, f64,
                                 seed):
    dt = np.float64 if f64 else np.float32
    p = ((pads[0], pads[1]), (pads[2], pads[3]))
    s, d = (sh, sw), (dh, dw)
    xs = (n, h, w_, cin)
    oh, ow = K.out_sizes((h, w_), (kh, kw), s, d, p)
    rng = np.random.default_rng(seed)
    dy, w = _data(rng, xs, (kh, kw), s, d, p, cout, dt)
    with pytest.MonkeyPatch.context() as m:
        for k in RULES:
            m.setattr(CD, k, 10**12)
        got = CD.conv_backprop_input(dy, w, xs, s, d, p)
    if oh * ow == 0:
        assert got is None
        return
    np.testing.assert_allclose(got, ref_input_grad(dy, w, xs, s, d, p), **_tol(dt))


# ---- the planar filter gradient

BPF_CASES = [  # x_shape, ksize, strides (x stride 1), dilations, pads, cout
    ((16, 28, 28, 1), (5, 5), (1, 1), (1, 1), VALID, 4),        # Siamese conv1
    ((16, 12, 12, 4), (5, 5), (1, 1), (1, 1), VALID, 16),       # Siamese conv2
    ((2, 32, 32, 3), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 16),
    ((2, 15, 40, 2), (3, 7), (2, 1), (1, 2), ((0, 3), (4, 1)), 5),
    ((1, 9, 9, 4), (4, 4), (3, 1), (2, 1), ((2, 2), (2, 2)), 3),
    ((3, 7, 33, 1), (7, 7), (1, 1), (1, 1), ((3, 3), (3, 3)), 1),
    ((1, 5, 5, 2), (1, 1), (1, 1), (1, 1), VALID, 2),
    ((1, 4, 4, 1), (3, 3), (1, 1), (1, 1), ((5, 0), (0, 5)), 9),   # pads beyond the kernel
    ((1, 1, 1, 1), (1, 1), (1, 1), (1, 1), VALID, 1),
    ((40, 6, 17, 3), (2, 5), (1, 1), (2, 1), ((1, 0), (2, 2)), 6),  # several image chunks
]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", BPF_CASES)
def test_planar_filter_gradient_matches_reference_and_numpy_twin(case, dt, monkeypatch,
                                                                 every_shape):
    x_shape, ksize, strides, dil, pads, cout = case
    rng = np.random.default_rng(abs(hash((case, dt == np.float64))) % 2**32)
    x = rng.standard_normal(x_shape).astype(dt)
    dy, w = _data(rng, x_shape, ksize, strides, dil, pads, cout, dt)
    got = CD.conv_backprop_filter_planar(x, dy, w.shape, strides, dil, pads)
    assert got is not None and got.dtype == dt and got.shape == w.shape
    want = ref_filter_grad(x, dy, w.shape, strides, dil, pads)
    np.testing.assert_allclose(got, want, **_tol(dt))
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        twin = K.conv_backprop_filter(x, dy, w.shape, strides, dil, pads)
    np.testing.assert_allclose(got, twin, **_tol(dt))


def test_the_siamese_filter_gradient_goes_planar(monkeypatch):
    taken = _spy(monkeypatch, "conv_backprop_filter_planar")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((16, 28, 28, 1)).astype(np.float32)
    dy = rng.standard_normal((16, 24, 24, 4)).astype(np.float32)
    got = K.conv_backprop_filter(x, dy, (5, 5, 1, 4), (1, 1), (1, 1), VALID)
    np.testing.assert_allclose(got, ref_filter_grad(x, dy, (5, 5, 1, 4), (1, 1), (1, 1), VALID),
                               **_tol(np.float32))
    assert taken == [True]
    # not where it loses: more output channels, few taps, short rows
    assert not CD._bpf_planar_wins(x, (5, 5, 1, 16), (1, 1))
    assert not CD._bpf_planar_wins(x, (3, 3, 1, 4), (1, 1))
    assert not CD._bpf_planar_wins(x[:, :, :12], (5, 5, 1, 4), (1, 1))
    assert not CD._bpf_planar_wins(x, (5, 5, 1, 4), (1, 2))


def test_planar_filter_gradient_falls_back(every_shape):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 9, 9, 3)).astype(np.float32)
    dy = rng.standard_normal((2, 5, 5, 4)).astype(np.float32)
    bpf = CD.conv_backprop_filter_planar
    ws, s1 = (5, 5, 3, 4), (1, 1)
    assert bpf(x, dy, ws, s1, s1, VALID) is not None
    assert bpf(x[:, :, ::-1], dy, ws, s1, s1, VALID) is None          # not contiguous
    assert bpf(x, dy.astype(np.float64), ws, s1, s1, VALID) is None  # mixed dtypes
    assert bpf(x, dy[:, :4], ws, s1, s1, VALID) is None               # dy of a wrong shape
    assert bpf(x, rng.standard_normal((2, 5, 3, 4)).astype(np.float32), ws, s1, (1, 2),
               VALID) is None                                         # x stride 2
    x5 = rng.standard_normal((2, 9, 9, 5)).astype(np.float32)
    assert bpf(x5, dy, (5, 5, 5, 4), s1, s1, VALID) is None           # 5 input channels
    assert bpf(x, dy, ws, s1, s1, ((-1, 1), (0, 0))) is None          # a negative pad


def test_planar_filter_gradient_does_not_depend_on_threads(monkeypatch):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((64, 28, 28, 1)).astype(np.float32)
    dy = rng.standard_normal((64, 24, 24, 4)).astype(np.float32)
    monkeypatch.setattr(K, "_busy", lambda: False)
    runs = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(K, "_threads", threads)
        runs.append(CD.conv_backprop_filter_planar(x, dy, (5, 5, 1, 4), (1, 1), (1, 1), VALID))
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 12), w_=st.integers(1, 40),
       kh=st.integers(1, 6), kw=st.integers(1, 6), cin=st.integers(1, 4),
       cout=st.integers(1, 20), sh=st.integers(1, 3), dh=st.integers(1, 2),
       dw=st.integers(1, 2), pads=st.tuples(*[st.integers(0, 4)] * 4), f64=st.booleans(),
       seed=st.integers(0, 99))
def test_property_planar_filter_gradient(n, h, w_, kh, kw, cin, cout, sh, dh, dw, pads, f64,
                                         seed):
    dt = np.float64 if f64 else np.float32
    p = ((pads[0], pads[1]), (pads[2], pads[3]))
    s, d = (sh, 1), (dh, dw)
    oh, ow = K.out_sizes((h, w_), (kh, kw), s, d, p)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w_, cin)).astype(dt)
    dy = rng.standard_normal((n, max(oh, 0), max(ow, 0), cout)).astype(dt)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(CD, "BPFP_MAX_OUT", 10**9)
        got = CD.conv_backprop_filter_planar(x, dy, (kh, kw, cin, cout), s, d, p)
    if oh * ow <= 0:
        assert got is None
        return
    np.testing.assert_allclose(got, ref_filter_grad(x, dy, (kh, kw, cin, cout), s, d, p),
                               **_tol(dt))


# ---- the packed forward (one input channel, four output channels, x stride 1:
# conv_direct_fwd's fwd_o4c1 where the machine has AVX-512, else its 4-lane kernel)

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 12), w_=st.integers(1, 45),
       kh=st.integers(1, 5), kw=st.integers(1, 5), sh=st.integers(1, 2), dh=st.integers(1, 2),
       dw=st.integers(1, 2), pads=st.tuples(*[st.integers(0, 3)] * 4), bias=st.booleans(),
       relu=st.booleans(), seed=st.integers(0, 99))
def test_property_packed_forward(n, h, w_, kh, kw, sh, dh, dw, pads, bias, relu, seed):
    """Right against the reference, and bit for bit the 4-lane kernel's sums (the pooled
    forward, which keeps that kernel, pooled after the plain forward)."""
    p = ((pads[0], pads[1]), (pads[2], pads[3]))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w_, 1)).astype(np.float32)
    w = rng.standard_normal((kh, kw, 1, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32) if bias else None
    oh, ow = K.out_sizes((h, w_), (kh, kw), (sh, 1), (dh, dw), p)
    y = CD.conv_bias_act(x, w, b, (sh, 1), (dh, dw), p, relu)
    if oh * ow <= 0:
        assert y is None
        return
    want = ref_conv(x, w, (sh, 1), (dh, dw), p) + (0 if b is None else b)
    np.testing.assert_allclose(y, np.maximum(want, 0) if relu else want, **_tol(np.float32))
    if (sh, dh, dw) == (1, 1, 1) and oh >= 2 and ow >= 2:
        out, idx = CD.conv_bias_act_pool(x, w, b, p, False)
        ref_out, ref_idx = K.max_pool_2x2_argmax(CD.conv_bias_act(x, w, b, (1, 1), (1, 1), p,
                                                                  False))
        np.testing.assert_array_equal(out, ref_out)
        np.testing.assert_array_equal(idx, ref_idx)
