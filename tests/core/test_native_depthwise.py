"""The native depthwise kernels (tenfold/backend/native/depthwise.c, 2-D, any channel multiplier):
forward, input gradient and filter gradient against a direct float64 reference and against their
NumPy twins (TENFOLD_NATIVE=0), over strides, dilations, asymmetric pads, kernel shapes,
multipliers, odd sizes, empty arrays, float32/float64, a Hypothesis search over configurations,
and the fallbacks (non-contiguous inputs, 1-D/3-D, negative pads) that keep the NumPy path."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import kernels as K
from tenfold.backend import native

needs_native = pytest.mark.skipif(native.load("depthwise") is None,
                                  reason="native depthwise kernels not built here")


def _views(xp, k, out_sp, strides, dilations):
    """The (N, OH, OW, C) window of padded xp that tap k sees."""
    sl = tuple(slice(ki * d, ki * d + (o - 1) * s + 1, s)
               for ki, o, s, d in zip(k, out_sp, strides, dilations))
    return xp[(slice(None),) + sl + (slice(None),)]


def ref_forward(x, w, strides, dilations, pads):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    xp = np.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])
    out_sp = K.out_sizes(x.shape[1:3], w.shape[:2], strides, dilations, pads)
    y = np.zeros((x.shape[0],) + out_sp + w.shape[2:])
    if y.size:
        for k in np.ndindex(*w.shape[:2]):
            y += _views(xp, k, out_sp, strides, dilations)[..., None] * w[k]
    return y.reshape(y.shape[:3] + (w.shape[2] * w.shape[3],))


def ref_backprop_input(dy, w, x_shape, strides, dilations, pads):
    dy, w = np.asarray(dy, np.float64), np.asarray(w, np.float64)
    n, h, wd, c = x_shape
    (a, b), (e, f) = pads
    dxp = np.zeros((n, h + a + b, wd + e + f, c))
    dy = dy.reshape(dy.shape[:3] + w.shape[2:])
    if dy.size:
        for k in np.ndindex(*w.shape[:2]):
            _views(dxp, k, dy.shape[1:3], strides, dilations)[...] += \
                np.einsum("nhwcm,cm->nhwc", dy, w[k])
    return dxp[:, a:a + h, e:e + wd]


def ref_backprop_filter(x, dy, w_shape, strides, dilations, pads):
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    xp = np.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])
    dw = np.zeros(w_shape)
    dy = dy.reshape(dy.shape[:3] + tuple(w_shape[2:]))
    if dy.size:
        for k in np.ndindex(*w_shape[:2]):
            v = _views(xp, k, dy.shape[1:3], strides, dilations)
            dw[k] = np.einsum("nhwc,nhwcm->cm", v, dy)
    return dw


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def _case(xs, k, strides, dilations, pads, dtype, seed=0, mult=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(tuple(k) + (xs[-1], mult)).astype(dtype)
    out_sp = K.out_sizes(xs[1:3], k, strides, dilations, pads)
    dy = rng.standard_normal((xs[0],) + out_sp + (xs[-1] * mult,)).astype(dtype)
    return x, w, dy


def _all_three(x, w, dy, strides, dilations, pads):
    return (K.depthwise_conv(x, w, strides, dilations, pads),
            K.depthwise_backprop_input(dy, w, x.shape, strides, dilations, pads),
            K.depthwise_backprop_filter(x, dy, w.shape, strides, dilations, pads))


def _check(xs, k, strides, dilations, pads, dtype, monkeypatch, seed=0, mult=1):
    x, w, dy = _case(xs, k, strides, dilations, pads, dtype, seed, mult)
    got = _all_three(x, w, dy, strides, dilations, pads)
    want = (ref_forward(x, w, strides, dilations, pads),
            ref_backprop_input(dy, w, xs, strides, dilations, pads),
            ref_backprop_filter(x, dy, w.shape, strides, dilations, pads))
    # the filter gradient sums N*OH*OW products: scale its tolerance with that count
    scale = [1, mult, max(1, dy.size // max(1, xs[-1] * mult))]
    for g, r, s in zip(got, want, scale):
        assert g.dtype == dtype and g.shape == r.shape
        tol = _tol(dtype)
        np.testing.assert_allclose(g, r, rtol=tol["rtol"], atol=tol["atol"] * np.sqrt(s))
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    twin = _all_three(x, w, dy, strides, dilations, pads)
    monkeypatch.delenv("TENFOLD_NATIVE")
    # the forward (and the multiplier-1 input gradient): the same products summed in the
    # same order as the twin (the twin's einsum over the multiplier sums in its own order)
    np.testing.assert_array_equal(got[0], twin[0])
    if mult == 1:
        np.testing.assert_array_equal(got[1], twin[1])
    else:
        np.testing.assert_allclose(got[1], twin[1], **_tol(dtype))
    np.testing.assert_allclose(got[2], twin[2], rtol=_tol(dtype)["rtol"] * 10,
                               atol=_tol(dtype)["atol"] * np.sqrt(scale[2]))


CASES = [
    # x shape, kernel, strides, dilations, pads
    ((2, 7, 9, 5), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),
    ((3, 8, 8, 40), (3, 3), (2, 2), (1, 1), ((0, 1), (0, 1))),          # SAME, stride 2
    ((2, 10, 7, 33), (3, 2), (3, 2), (1, 2), ((1, 2), (2, 0))),         # asymmetric
    ((1, 9, 8, 1), (5, 5), (1, 1), (2, 2), ((3, 0), (0, 4))),           # C=1, dilation 2
    ((2, 9, 9, 64), (1, 3), (3, 1), (1, 1), ((0, 0), (1, 1))),          # 1x3, stride 3
    ((4, 6, 5, 70), (1, 1), (1, 1), (1, 1), ((0, 0), (0, 0))),          # 1x1
    ((3, 6, 5, 17), (1, 1), (2, 3), (1, 1), ((2, 1), (0, 3))),          # 1x1 in the padding
    ((1, 11, 13, 3), (5, 5), (3, 3), (1, 1), ((2, 2), (2, 2))),
    ((2, 5, 5, 8), (3, 3), (1, 1), (3, 3), ((4, 4), (4, 4))),           # taps skipping x
    ((1, 3, 4, 2), (5, 5), (1, 1), (1, 1), ((4, 4), (4, 4))),           # outputs in padding
    ((2, 12, 12, 48), (3, 3), (2, 2), (2, 2), ((1, 2), (2, 1))),
    ((40, 6, 6, 32), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),         # several chunks
    ((1, 1, 1, 1), (1, 1), (1, 1), (1, 1), ((0, 0), (0, 0))),
]


@needs_native
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs, k, strides, dilations, pads", CASES)
def test_native_matches_reference_and_twin(xs, k, strides, dilations, pads, dtype,
                                           monkeypatch):
    _check(xs, k, strides, dilations, pads, dtype, monkeypatch)


MULT_CASES = [
    ((2, 7, 9, 5), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 2),
    ((3, 8, 8, 4), (3, 3), (2, 2), (1, 1), ((0, 1), (0, 1)), 3),
    ((2, 10, 7, 3), (3, 2), (3, 2), (1, 2), ((1, 2), (2, 0)), 4),
    ((1, 9, 8, 1), (5, 5), (1, 1), (2, 2), ((3, 0), (0, 4)), 2),
    ((40, 5, 5, 2), (2, 2), (1, 1), (1, 1), ((0, 0), (0, 0)), 3),   # several chunks
    ((2, 5, 5, 8), (3, 3), (1, 1), (3, 3), ((4, 4), (4, 4)), 2),
]


@needs_native
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs, k, strides, dilations, pads, mult", MULT_CASES)
def test_native_multiplier_matches_reference_and_twin(xs, k, strides, dilations, pads, mult,
                                                      dtype, monkeypatch):
    _check(xs, k, strides, dilations, pads, dtype, monkeypatch, mult=mult)


@needs_native
@pytest.mark.parametrize("xs, k, pads", [
    ((0, 5, 5, 3), (3, 3), ((1, 1), (1, 1))),      # no images
    ((2, 5, 5, 0), (3, 3), ((1, 1), (1, 1))),      # no channels
    ((2, 2, 2, 3), (3, 3), ((0, 0), (0, 0))),      # no outputs: dx is all zeros
    ((2, 0, 4, 3), (1, 1), ((1, 1), (0, 0))),      # no input rows: outputs in the padding
])
def test_native_empty_shapes(xs, k, pads, monkeypatch):
    strides, dilations = (1, 1), (1, 1)
    x, w, dy = _case(xs, k, strides, dilations, pads, np.float32)
    got = _all_three(x, w, dy, strides, dilations, pads)
    np.testing.assert_array_equal(got[0], ref_forward(x, w, strides, dilations, pads))
    np.testing.assert_array_equal(got[1], ref_backprop_input(dy, w, xs, strides, dilations,
                                                              pads))
    np.testing.assert_array_equal(got[2], ref_backprop_filter(x, dy, w.shape, strides,
                                                               dilations, pads))
    assert [g.dtype for g in got] == [np.float32] * 3


@needs_native
def test_native_path_is_taken_and_float16_runs_in_float32():
    x, w, dy = _case((2, 6, 6, 8), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), np.float32)
    pads = ((1, 1), (1, 1))
    assert K._dw_forward_native(x, w, (1, 1), (1, 1), pads) is not None
    assert K._dw_backprop_input_native(dy, w, x.shape, (1, 1), (1, 1), pads) is not None
    assert K._dw_backprop_filter_native(x, dy, w.shape, (1, 1), (1, 1), pads) is not None
    h = x.astype(np.float16)
    y = K.depthwise_conv(h, w.astype(np.float16), (1, 1), (1, 1), pads)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, ref_forward(h, w.astype(np.float16), (1, 1), (1, 1), pads),
                               rtol=1e-2, atol=1e-2)


@needs_native
def test_fallbacks_keep_the_numpy_path():
    rng = np.random.default_rng(3)
    pads = ((1, 1), (1, 1))
    x = rng.standard_normal((2, 6, 6, 8)).astype(np.float32)
    w = rng.standard_normal((3, 3, 8, 1)).astype(np.float32)
    xt = np.asfortranarray(x)                             # not C-contiguous
    # views are copied to C order and still take the native kernels (the NumPy path would
    # copy them too, and is 5-8x slower)
    got = K._dw_forward_native(xt, w, (1, 1), (1, 1), pads)
    assert got is not None
    np.testing.assert_allclose(got, ref_forward(x, w, (1, 1), (1, 1), pads), rtol=1e-5,
                               atol=1e-5)
    dy = rng.standard_normal((2, 6, 6, 8)).astype(np.float32)
    got = K._dw_backprop_input_native(dy[:, ::-1], w, x.shape, (1, 1), (1, 1), pads)
    np.testing.assert_array_equal(got, K._dw_backprop_input_native(
        np.ascontiguousarray(dy[:, ::-1]), w, x.shape, (1, 1), (1, 1), pads))
    got = K._dw_backprop_filter_native(x, dy[..., ::-1], w.shape, (1, 1), (1, 1), pads)
    np.testing.assert_array_equal(got, K._dw_backprop_filter_native(
        x, np.ascontiguousarray(dy[..., ::-1]), w.shape, (1, 1), (1, 1), pads))
    assert K._dw_forward_native(x[:, 0], w[0], (1,), (1,), pads[:1]) is None   # 1-D
    assert K._dw_forward_native(x, w, (1, 1), (1, 1), ((-1, 1), (1, 1))) is None
    assert K._dw_forward_native(x, w, (0, 1), (1, 1), pads) is None
    assert K._dw_forward_native(x.astype(np.int32), w.astype(np.int32), (1, 1), (1, 1),
                                pads) is None
    # dy of the wrong shape is not the native kernels' to judge
    assert K._dw_backprop_input_native(dy[:, :5], w, x.shape, (1, 1), (1, 1), pads) is None
    assert K._dw_backprop_filter_native(x, dy[:, :5], w.shape, (1, 1), (1, 1), pads) is None


@needs_native
def test_filter_gradient_does_not_depend_on_the_thread_count(monkeypatch):
    x, w, dy = _case((64, 10, 10, 24), (3, 3), (2, 2), (1, 1), ((0, 1), (0, 1)), np.float32)
    args = (w.shape, (2, 2), (1, 1), ((0, 1), (0, 1)))
    monkeypatch.setattr(K, "_threads", 1)
    one = K.depthwise_backprop_filter(x, dy, *args)
    monkeypatch.setattr(K, "_threads", 2)
    monkeypatch.setattr(K, "_MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(K, "_busy", lambda: False)
    np.testing.assert_array_equal(one, K.depthwise_backprop_filter(x, dy, *args))


def test_twin_without_native_matches_reference(monkeypatch):
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert K._dw_forward_native(*_case((2, 5, 5, 3), (3, 3), (1, 1), (1, 1),
                                       ((1, 1), (1, 1)), np.float32)[:2],
                                (1, 1), (1, 1), ((1, 1), (1, 1))) is None
    xs, k, strides, dilations, pads = CASES[2]
    x, w, dy = _case(xs, k, strides, dilations, pads, np.float64)
    got = _all_three(x, w, dy, strides, dilations, pads)
    np.testing.assert_allclose(got[0], ref_forward(x, w, strides, dilations, pads), atol=1e-12)
    np.testing.assert_allclose(got[1], ref_backprop_input(dy, w, xs, strides, dilations, pads),
                               atol=1e-12)
    np.testing.assert_allclose(got[2], ref_backprop_filter(x, dy, w.shape, strides, dilations,
                                                           pads), atol=1e-12)


@needs_native
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 40),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 3), dw=st.integers(1, 3), pads=st.lists(st.integers(0, 4), min_size=4,
                                                                max_size=4),
       mult=st.sampled_from([1, 1, 2, 3]), f64=st.booleans(), seed=st.integers(0, 1000))
def test_native_property(n, h, w, c, kh, kw, sh, sw, dh, dw, pads, mult, f64, seed):
    pads = ((pads[0], pads[1]), (pads[2], pads[3]))
    dtype = np.float64 if f64 else np.float32
    with pytest.MonkeyPatch.context() as mp:
        _check((n, h, w, c), (kh, kw), (sh, sw), (dh, dw), pads, dtype, mp, seed, mult)
