"""The native direct convolution for few input channels (tenfold/backend/conv_direct.py,
native/conv_direct.c): forward (bias, ReLU), the fused 2x2 max-pool epilogue, the filter
gradient and its pooled form, against a float64 direct reference and the NumPy twin
(TENFOLD_NATIVE=0), on strides, dilations, explicit asymmetric pads, kernel and channel
sizes, batch 1 and odd sizes; and the fallbacks."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import conv_direct as CD
from tenfold.backend import kernels as K
from tests.core.conv_references import ref_conv, ref_filter_grad
from tenfold.backend import native

pytestmark = pytest.mark.skipif(native.load("conv_direct") is None,
                                reason="no native conv_direct here")

VALID = ((0, 0), (0, 0))
DEFAULTS = {k: getattr(CD, k) for k in ("FWD_MAX_DEPTH", "BPF_MAX_DEPTH", "BPF_MIN_TAPS",
                                        "BPF_MAX_TAPS", "MAX_OUT")}


@pytest.fixture(autouse=True, scope="module")
def every_shape_direct():
    """The kernels must be right for every shape, not only where the dispatch sends them."""
    with pytest.MonkeyPatch.context() as m:
        for k in DEFAULTS:
            m.setattr(CD, k, 1 if k == "BPF_MIN_TAPS" else 10**9)
        yield


def _default_rules(monkeypatch):
    for k, v in DEFAULTS.items():
        monkeypatch.setattr(CD, k, v)


def _tol(dt):
    return dict(rtol=2e-4, atol=2e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)


def _numpy_twin(monkeypatch, fn, *args, **kw):
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        return fn(*args, **kw)


def _data(rng, n, h, w_, cin, ksize, cout, dt):
    x = rng.standard_normal((n, h, w_, cin)).astype(dt)
    w = rng.standard_normal(ksize + (cin, cout)).astype(dt)
    b = rng.standard_normal(cout).astype(dt)
    return x, w, b


CASES = [  # (n, h, w), ksize, strides, dilations, pads, cin, cout
    ((2, 11, 9), (3, 3), (1, 1), (1, 1), VALID, 1, 32),
    ((3, 12, 12), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 3, 16),
    ((2, 16, 15), (3, 3), (2, 2), (1, 1), ((0, 1), (0, 1)), 3, 32),
    ((1, 13, 13), (3, 3), (3, 3), (1, 1), ((1, 1), (1, 1)), 2, 5),
    ((2, 10, 11), (3, 3), (1, 2), (2, 2), ((2, 2), (2, 2)), 4, 70),
    ((2, 28, 28), (4, 4), (2, 2), (1, 1), ((1, 2), (1, 2)), 1, 64),
    ((2, 28, 28), (5, 5), (1, 1), (1, 1), VALID, 1, 4),
    ((1, 7, 9), (1, 1), (1, 1), (1, 1), VALID, 3, 7),
    ((1, 7, 9), (1, 1), (2, 3), (1, 1), ((0, 2), (3, 0)), 4, 1),
    ((2, 5, 6), (5, 5), (1, 1), (1, 1), ((2, 2), (2, 2)), 1, 33),
    ((2, 9, 8), (2, 3), (1, 2), (3, 1), ((0, 3), (2, 1)), 2, 3),
    ((1, 4, 4), (3, 3), (1, 1), (1, 1), ((5, 0), (0, 5)), 1, 9),   # pads beyond the kernel
]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_forward_matches_reference_and_numpy_twin(case, dt, monkeypatch):
    (n, h, w_), ksize, strides, dil, pads, cin, cout = case
    rng = np.random.default_rng(hash((case, dt == np.float32)) % 2**32)
    x, w, b = _data(rng, n, h, w_, cin, ksize, cout, dt)
    for bias, relu in [(b, True), (None, False), (b, False)]:
        got = CD.conv_bias_act(x, w, bias, strides, dil, pads, relu)
        assert got is not None and got.dtype == dt
        want = ref_conv(x, w, strides, dil, pads) + (0 if bias is None else bias)
        if relu:
            want = np.maximum(want, 0)
        np.testing.assert_allclose(got, want, **_tol(dt))
        via = K.conv_bias_act(x, w, bias, strides, dil, pads, relu=relu)  # the dispatch
        np.testing.assert_allclose(via, got, **_tol(dt))   # (or the implicit GEMM's)
        twin = _numpy_twin(monkeypatch, K.conv_bias_act, x, w, bias, strides, dil, pads,
                           relu=relu)
        np.testing.assert_allclose(got, twin, **_tol(dt))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_filter_gradient_matches_reference_and_numpy_twin(case, dt, monkeypatch):
    (n, h, w_), ksize, strides, dil, pads, cin, cout = case
    rng = np.random.default_rng(hash((case, dt == np.float64)) % 2**32)
    x, w, _ = _data(rng, n, h, w_, cin, ksize, cout, dt)
    oh, ow = K.out_sizes((h, w_), ksize, strides, dil, pads)
    dy = rng.standard_normal((n, oh, ow, cout)).astype(dt)
    got = CD.conv_backprop_filter(x, dy, w.shape, strides, dil, pads)
    assert got is not None and got.dtype == dt and got.shape == w.shape
    np.testing.assert_allclose(got, ref_filter_grad(x, dy, w.shape, strides, dil, pads),
                               **_tol(dt))
    via = K.conv_backprop_filter(x, dy, w.shape, strides, dil, pads)
    np.testing.assert_allclose(via, got, **_tol(dt))
    twin = _numpy_twin(monkeypatch, K.conv_backprop_filter, x, dy, w.shape, strides, dil,
                       pads)
    np.testing.assert_allclose(got, twin, **_tol(dt))


POOL_CASES = [  # (n, h, w), ksize, pads, cin, cout
    ((3, 28, 28), (3, 3), VALID, 1, 32),
    ((2, 12, 12), (5, 5), VALID, 1, 4),
    ((2, 9, 11), (3, 3), ((1, 1), (1, 1)), 3, 6),
    ((1, 15, 14), (3, 3), ((0, 2), (1, 0)), 2, 70),
    ((2, 7, 7), (2, 2), VALID, 4, 17),
    ((1, 4, 5), (3, 3), VALID, 1, 3),   # one pooled row
]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pooled_forward_matches_conv_then_pool(case, dt, monkeypatch):
    (n, h, w_), ksize, pads, cin, cout = case
    rng = np.random.default_rng(7)
    x, w, b = _data(rng, n, h, w_, cin, ksize, cout, dt)
    for relu in (False, True):
        out, idx = CD.conv_bias_act_pool(x, w, b, pads, relu)
        y = CD.conv_bias_act(x, w, b, (1, 1), (1, 1), pads, False)
        want, widx = K.max_pool_2x2_argmax(y)   # the same sums: equal bit for bit
        if relu:
            K.mask_argmax_by_relu(want, widx)
            want = np.maximum(want, 0)
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(idx, widx)
        ref = ref_conv(x, w, (1, 1), (1, 1), pads) + b
        ref_out, _ = K.max_pool_2x2_argmax(ref)
        np.testing.assert_allclose(out, np.maximum(ref_out, 0) if relu else ref_out,
                                   **_tol(dt))
        twin = _numpy_twin(monkeypatch, K.conv_bias_act_pool, x, w, b, pads, relu=relu)
        np.testing.assert_allclose(out, twin[0], **_tol(dt))
        assert (idx == twin[1]).mean() > 0.999   # a near tie may round the other way


def test_pooled_forward_nan_and_ties_follow_the_numpy_rules():
    x = np.zeros((1, 6, 6, 1))
    w = np.zeros((1, 1, 1, 3))
    w[0, 0, 0] = [1.0, -1.0, 0.0]
    x[0, 0, 1, 0] = np.nan     # a NaN in the first window's top right
    x[0, 2, 2, 0] = 1.0        # ties in the others
    x[0, 3, 3, 0] = 1.0
    for relu in (False, True):
        got = CD.conv_bias_act_pool(x, w, None, VALID, relu)
        y = CD.conv_bias_act(x, w, None, (1, 1), (1, 1), VALID, False)
        want, widx = K.max_pool_2x2_argmax(y)
        if relu:
            K.mask_argmax_by_relu(want, widx)
            want = np.maximum(want, 0)
        np.testing.assert_array_equal(got[0], want)
        np.testing.assert_array_equal(got[1], widx)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pooled_filter_gradient_matches_reference(case, dt, monkeypatch):
    (n, h, w_), ksize, pads, cin, cout = case
    rng = np.random.default_rng(11)
    x, w, b = _data(rng, n, h, w_, cin, ksize, cout, dt)
    y = CD.conv_bias_act(x, w, b, (1, 1), (1, 1), pads, False)
    out, idx = K.max_pool_2x2_argmax(y)
    K.mask_argmax_by_relu(out, idx)   # some windows dead: they route nothing
    g = rng.standard_normal(out.shape).astype(dt)
    dz = np.zeros(y.shape)
    dz[:, :2 * out.shape[1], :2 * out.shape[2]] = K.max_pool_2x2_grad_from_argmax(
        idx, g.astype(np.float64), (n, 2 * out.shape[1], 2 * out.shape[2], cout))
    want = ref_filter_grad(x, dz, w.shape, (1, 1), (1, 1), pads)
    dw, db = CD.conv_backprop_filter_pooled(x, g, idx, w.shape, pads, True)
    assert dw.dtype == db.dtype == dt
    np.testing.assert_allclose(dw, want, **_tol(dt))
    np.testing.assert_allclose(db, dz.sum(axis=(0, 1, 2)), **_tol(dt))
    only = CD.conv_backprop_filter_pooled(x, g, idx, w.shape, pads, False)
    np.testing.assert_array_equal(only, dw)
    via = K.conv_backprop_filter_pooled(x, g, idx, y.shape, w.shape, pads, with_bias=True)
    np.testing.assert_array_equal(via[0], dw)
    twin = _numpy_twin(monkeypatch, K.conv_backprop_filter_pooled, x, g, idx, y.shape,
                       w.shape, pads, with_bias=True)
    np.testing.assert_allclose(dw, twin[0], **_tol(dt))
    np.testing.assert_allclose(db, twin[1], **_tol(dt))


def test_results_do_not_depend_on_threads(monkeypatch):
    rng = np.random.default_rng(3)
    x, w, b = _data(rng, 64, 28, 28, 1, (3, 3), 32, np.float32)
    dy = rng.standard_normal((64, 26, 26, 32)).astype(np.float32)
    runs = []
    monkeypatch.setattr(K, "_busy", lambda: False)   # really share out, even on a busy machine
    for threads in (1, 2, 3):
        monkeypatch.setattr(K, "_threads", threads)
        out, idx = CD.conv_bias_act_pool(x, w, b, VALID, True)
        runs.append((CD.conv_backprop_filter(x, dy, w.shape, (1, 1), (1, 1), VALID),
                     CD.conv_bias_act(x, w, b, (1, 1), (1, 1), VALID, True), out, idx,
                     *CD.conv_backprop_filter_pooled(x, out, idx, w.shape, VALID, True)))
    for run in runs[1:]:
        for got, want in zip(run, runs[0]):
            np.testing.assert_array_equal(got, want)


def test_falls_back_where_it_does_not_apply(monkeypatch):
    rng = np.random.default_rng(5)
    x, w, b = _data(rng, 2, 9, 9, 3, (3, 3), 8, np.float32)
    s1, pads = (1, 1), ((1, 1), (1, 1))
    # non-contiguous, mixed dtypes, integer input, too deep a GEMM, groups, 3-D
    assert CD.conv_bias_act(x[:, :, ::-1], w, b, s1, s1, pads, False) is None
    assert CD.conv_bias_act(x, w.astype(np.float64), b, s1, s1, pads, False) is None
    assert CD.conv_bias_act(x.astype(np.int32), w.astype(np.int32), None, s1, s1, pads,
                            False) is None
    _default_rules(monkeypatch)
    deep = rng.standard_normal((3, 3, 32, 8)).astype(np.float32)
    assert CD.conv_bias_act(rng.standard_normal((1, 5, 5, 32)).astype(np.float32), deep,
                            None, s1, s1, pads, False) is None
    assert CD.conv_bias_act(x, w[:, :, :1], None, s1, s1, pads, False) is None  # groups 3
    assert CD.conv_bias_act(x[0], w[0], None, (1,), (1,), ((1, 1),), False) is None
    assert CD.conv_backprop_filter(x, np.zeros((2, 9, 9, 7), np.float32), w.shape, s1, s1,
                                   pads) is None   # dy of the wrong shape
    # the kernels still give the right answer through their NumPy paths
    xs = x[:, :, ::-1]
    np.testing.assert_allclose(K.conv_bias_act(xs, w, b, s1, s1, pads, relu=True),
                               np.maximum(ref_conv(xs, w, s1, s1, pads) + b, 0),
                               rtol=2e-4, atol=2e-4)
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert CD.conv_bias_act(x, w, b, s1, s1, pads, False) is None


def test_dispatch_rules(monkeypatch):
    """Where the direct kernels win (measured, see conv_direct.py): the forward up to a GEMM
    depth of 144, the filter gradient for 2..9 taps up to a depth of 36."""
    _default_rules(monkeypatch)
    rng = np.random.default_rng(9)

    def takes(cin, k, cout=16, grad=False):
        x, w, _ = _data(rng, 2, 12, 12, cin, (k, k), cout, np.float32)
        if not grad:
            return CD.conv_bias_act(x, w, None, (1, 1), (1, 1), VALID, False) is not None
        dy = np.ones((2, 13 - k, 13 - k, cout), np.float32)
        return CD.conv_backprop_filter(x, dy, w.shape, (1, 1), (1, 1), VALID) is not None

    assert takes(1, 3) and takes(3, 3) and takes(16, 3) and takes(32, 1) and takes(1, 5)
    assert not takes(32, 3) and not takes(3, 3, cout=129)
    assert takes(1, 3, grad=True) and takes(4, 3, grad=True) and takes(3, 2, grad=True)
    assert not takes(8, 3, grad=True) and not takes(1, 5, grad=True) and \
        not takes(3, 1, grad=True)


def test_empty_outputs_take_the_numpy_path():
    x = np.zeros((0, 8, 8, 1), np.float32)
    w = np.ones((3, 3, 1, 4), np.float32)
    assert K.conv_bias_act(x, w, None, (1, 1), (1, 1), VALID).shape == (0, 6, 6, 4)
    x = np.zeros((2, 2, 2, 1), np.float32)
    assert K.conv_bias_act(x, w, None, (1, 1), (1, 1), VALID).shape == (2, 0, 0, 4)
    assert CD.conv_backprop_filter(x, np.zeros((2, 0, 0, 4), np.float32), w.shape, (1, 1),
                                   (1, 1), VALID) is None


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 12), w_=st.integers(1, 12),
       kh=st.integers(1, 5), kw=st.integers(1, 5), cin=st.integers(1, 4),
       cout=st.integers(1, 40), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2),
       pads=st.tuples(*[st.integers(0, 3)] * 4), f64=st.booleans(), seed=st.integers(0, 99))
def test_property_forward_and_filter_gradient(n, h, w_, kh, kw, cin, cout, sh, sw, dh, dw,
                                              pads, f64, seed):
    dt = np.float64 if f64 else np.float32
    p = ((pads[0], pads[1]), (pads[2], pads[3]))
    s, d = (sh, sw), (dh, dw)
    oh, ow = K.out_sizes((h, w_), (kh, kw), s, d, p)
    rng = np.random.default_rng(seed)
    x, w, b = _data(rng, n, h, w_, cin, (kh, kw), cout, dt)
    y = CD.conv_bias_act(x, w, b, s, d, p, True)
    if oh * ow == 0:
        assert y is None
        return
    np.testing.assert_allclose(y, np.maximum(ref_conv(x, w, s, d, p) + b, 0), **_tol(dt))
    dy = rng.standard_normal((n, oh, ow, cout)).astype(dt)
    np.testing.assert_allclose(CD.conv_backprop_filter(x, dy, w.shape, s, d, p),
                               ref_filter_grad(x, dy, w.shape, s, d, p), **_tol(dt))


def test_kernels_take_the_direct_path(monkeypatch):
    """kernels.py asks the direct kernels: the filter gradient of a 1-channel stride-1 conv
    first, the forward where the implicit GEMM does not apply (here float64), the pooled
    forms always."""
    _default_rules(monkeypatch)
    taken = []
    for name in ("conv_bias_act", "conv_backprop_filter", "conv_bias_act_pool",
                 "conv_backprop_filter_pooled"):
        def spy(*a, _f=getattr(CD, name), _n=name, **kw):
            r = _f(*a, **kw)
            taken.append((_n, r is not None))
            return r
        monkeypatch.setattr(CD, name, spy)
    rng = np.random.default_rng(4)
    x, w, b = _data(rng, 2, 10, 10, 1, (3, 3), 32, np.float32)
    dy = rng.standard_normal((2, 8, 8, 32)).astype(np.float32)
    K.conv_backprop_filter(x, dy, w.shape, (1, 1), (1, 1), VALID)
    assert taken == [("conv_backprop_filter", True)]
    out, idx = K.conv_bias_act_pool(x, w, b, VALID, relu=True)
    K.conv_backprop_filter_pooled(x, out, idx, (2, 8, 8, 32), w.shape, VALID, with_bias=True)
    assert taken[1:] == [("conv_bias_act_pool", True), ("conv_backprop_filter_pooled", True)]
    del taken[:]
    K.conv_bias_act(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                    (1, 1), (1, 1), VALID, relu=True)
    assert taken == [("conv_bias_act", True)]
