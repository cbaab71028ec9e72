"""The native convolutions for few output channels (tenfold/backend/conv_narrow.py,
native/conv_narrow.c): the forward (bias, ReLU) and the filter gradient, against a float64
reference and the NumPy twin (the scatter forms of kernels.py, TENFOLD_NATIVE=0), on SAME
and VALID pads, asymmetric pads, strides, dilations, odd sizes, C_in not a multiple of the
vector width, 1..4 output channels, every alignment of x; the dispatch from kernels.py; the
fallbacks; results independent of the thread count."""
import ctypes
import mmap
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import conv_narrow as CN
from tenfold.backend import kernels as K
from tests.core.conv_references import ref_conv, ref_filter_grad, ref_input_grad

native_only = pytest.mark.skipif(CN._fn("narrow_fwd", np.float32) is None,
                                 reason="no native conv_narrow (AVX-512) here")
ONE = (1, 1)
FILTER_WINS = CN._filter_wins


@pytest.fixture(autouse=True, scope="module")
def every_filter():
    """The kernels must be right for every filter, not only where the dispatch sends them."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(CN, "_filter_wins", lambda w_shape: True)
        yield


def _close(got, want, dt, scale=1.0):
    tol = 3e-5 if dt == np.float32 else 1e-12
    assert got.shape == want.shape
    assert got.dtype == dt
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


def _same(k, d=1):
    span = (k - 1) * d
    return (span // 2, span - span // 2)


def _data(rng, n, h, w_, cin, kh, kw, cout, dt):
    x = rng.standard_normal((n, h, w_, cin)).astype(dt)
    w = rng.standard_normal((kh, kw, cin, cout)).astype(dt)
    b = rng.standard_normal(cout).astype(dt)
    return x, w, b


CASES = [  # n, (h, w), (kh, kw), strides, dilations, pads or "same"/"valid", cin, cout
    (2, (28, 28), (7, 7), ONE, ONE, "same", 128, 1),     # the DCGAN generator's last conv
    (3, (9, 11), (3, 3), ONE, ONE, "same", 64, 1),
    (2, (12, 10), (5, 5), ONE, ONE, "same", 32, 2),
    (2, (7, 6), (3, 3), ONE, ONE, "valid", 20, 3),
    (1, (5, 5), (5, 5), ONE, ONE, "valid", 17, 4),       # one output pixel
    (2, (13, 17), (3, 3), ONE, (2, 2), "same", 48, 1),   # dilated
    (2, (6, 30), (1, 9), (1, 3), ONE, ((0, 0), (4, 4)), 8, 1),
    (2, (7, 6), (3, 3), (2, 1), (1, 2), ((0, 1), (2, 0)), 33, 3),
    (1, (3, 4), (7, 7), ONE, ONE, "same", 24, 2),        # the filter wider than x
    (1, (1, 1), (3, 3), ONE, ONE, "same", 40, 1),        # one pixel
    (2, (8, 8), (1, 1), ONE, ONE, "valid", 16, 2),       # pointwise
    (1, (9, 9), (2, 4), ONE, ONE, ((3, 0), (0, 5)), 31, 1),  # pads wider than the filter
    (2, (5, 19), (5, 7), ONE, ONE, ((0, 6), (9, 1)), 16, 1),  # blocks of 8 and 4 past x
    (1, (4, 6), (3, 5), ONE, ONE, "same", 3, 1),
    (2, (11, 12), (3, 7), (2, 1), (2, 1), ((2, 1), (3, 3)), 24, 1),  # row stride, dilation
    (2, (10, 13), (4, 5), (3, 1), ONE, "valid", 72, 1),
]


def _pads(spec, ks, dil):
    if spec == "same":
        return tuple(_same(k, d) for k, d in zip(ks, dil))
    if spec == "valid":
        return ((0, 0), (0, 0))
    return spec


@native_only
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_forward_and_filter_grad_match_the_reference(case, dt):
    n, (h, w_), (kh, kw), strides, dil, spec, cin, cout = case
    pads = _pads(spec, (kh, kw), dil)
    rng = np.random.default_rng(hash(case) % 2**32)
    x, w, b = _data(rng, n, h, w_, cin, kh, kw, cout, dt)
    want = ref_conv(x, w, strides, dil, pads)
    scale = np.sqrt(kh * kw * cin)
    _close(CN.conv_bias_act(x, w, None, strides, dil, pads, False), want, dt, scale)
    _close(CN.conv_bias_act(x, w, b, strides, dil, pads, False), want + b, dt, scale)
    _close(CN.conv_bias_act(x, w, b, strides, dil, pads, True), np.maximum(want + b, 0), dt,
           scale)
    dy = rng.standard_normal(want.shape).astype(dt)
    got = CN.backprop_filter(x, dy, w.shape, strides, dil, pads)
    _close(got, ref_filter_grad(x, dy, w.shape, strides, dil, pads), dt,
           np.sqrt(n * want.shape[1] * want.shape[2]))


@native_only
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("offset", range(17))
@pytest.mark.parametrize("cin, cout", [(32, 2), (32, 1), (20, 1)])
def test_every_alignment_of_x(offset, dt, cin, cout):
    """The kernels read x in vectors aligned to cache lines, masking the lanes outside each
    run: x starting anywhere within a line gives the same results (one output channel and
    3/5/7 filter columns: the forward's register-tap path)."""
    rng = np.random.default_rng(offset)
    shape = (2, 9, 10, cin)
    buf = rng.standard_normal(int(np.prod(shape)) + 16).astype(dt)
    x = buf[offset:offset + int(np.prod(shape))].reshape(shape)
    w = rng.standard_normal((3, 5, cin, cout)).astype(dt)
    pads = ((1, 1), (2, 2))
    want = ref_conv(x, w, ONE, ONE, pads)
    _close(CN.conv_bias_act(x, w, None, ONE, ONE, pads, False), want, dt, 12)
    dy = rng.standard_normal(want.shape).astype(dt)
    _close(CN.backprop_filter(x, dy, w.shape, ONE, ONE, pads),
           ref_filter_grad(x, dy, w.shape, ONE, ONE, pads), dt, 14)


@native_only
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 11), w_=st.integers(1, 13),
       kh=st.integers(1, 5), kw=st.integers(1, 7), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2), pads=st.tuples(*[st.integers(0, 4)] * 4),
       cin=st.integers(1, 70), cout=st.integers(1, 4), f64=st.booleans(),
       at_end=st.booleans(), seed=st.integers(0, 2**31))
def test_property_any_geometry(n, h, w_, kh, kw, sh, sw, dh, dw, pads, cin, cout, f64, at_end,
                               seed):
    """Against the reference, x, w and dy each against an unreadable page."""
    dt = np.float64 if f64 else np.float32
    strides, dil = (sh, sw), (dh, dw)
    pads = ((pads[0], pads[1]), (pads[2], pads[3]))
    oh, ow = K.out_sizes((h, w_), (kh, kw), strides, dil, pads)
    rng = np.random.default_rng(seed)
    x, w, b = (_guarded(a, at_end) for a in _data(rng, n, h, w_, cin, kh, kw, cout, dt))
    y = CN.conv_bias_act(x, w, b, strides, dil, pads, False)
    if oh == 0 or ow == 0:
        assert y is None
        return
    want = ref_conv(x, w, strides, dil, pads)
    _close(y, want + b, dt, np.sqrt(kh * kw * cin))
    dy = _guarded(rng.standard_normal(want.shape).astype(dt), at_end)
    _close(CN.backprop_filter(x, dy, w.shape, strides, dil, pads),
           ref_filter_grad(x, dy, w.shape, strides, dil, pads), dt, np.sqrt(n * oh * ow))


# ------------------------------------------------------------------------------------------
# through kernels.py: the dispatch, and the NumPy twin

DISPATCHED = [  # shapes the scatter forms take (stride 1, C_out * 8 <= C_in)
    ((3, 28, 28, 128), (7, 7, 128, 1), "same"),
    ((2, 10, 9, 64), (3, 3, 64, 1), "same"),
    ((2, 11, 12, 32), (5, 5, 32, 2), "valid"),
    ((1, 7, 7, 40), (3, 3, 40, 3), "same"),
    ((2, 6, 5, 19), (2, 3, 19, 2), "same"),
]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("xs, ws, spec", DISPATCHED)
def test_kernels_native_and_numpy_twin_agree(xs, ws, spec, dt, monkeypatch):
    monkeypatch.setattr(CN, "_filter_wins", FILTER_WINS)
    pads = _pads(spec, ws[:2], ONE)
    rng = np.random.default_rng(7)
    x, w, b = _data(rng, *xs, *ws[:2], ws[3], dt)
    want = ref_conv(x, w, ONE, ONE, pads) + b
    got = K.conv_bias_act(x, w, b, ONE, ONE, pads, relu=True)
    dy = rng.standard_normal(got.shape).astype(dt)
    dw = K.conv_backprop_filter(x, dy, ws, ONE, ONE, pads)
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        twin = K.conv_bias_act(x, w, b, ONE, ONE, pads, relu=True)
        twin_dw = K.conv_backprop_filter(x, dy, ws, ONE, ONE, pads)
    scale = np.sqrt(np.prod(ws[:3]))
    for y in (got, twin):
        _close(y, np.maximum(want, 0), dt, scale)
    ref_dw = ref_filter_grad(x, dy, ws, ONE, ONE, pads)
    for g in (dw, twin_dw):
        _close(g, ref_dw, dt, np.sqrt(np.prod(dy.shape[:3])))


@native_only
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_weights_and_bias_of_any_layout(dt):
    """x must be C-ordered; w and b are copied into the kernels' layout whatever theirs."""
    rng = np.random.default_rng(4)
    x, w, b = _data(rng, 2, 7, 9, 24, 3, 5, 2, dt)
    pads = ((1, 1), (2, 2))
    wf = np.asfortranarray(w)
    bs = np.repeat(b, 2)[::2]
    want = ref_conv(x, w, ONE, ONE, pads) + b
    _close(CN.conv_bias_act(x, wf, bs, ONE, ONE, pads, False), want, dt, 11)
    dy = rng.standard_normal((2, 7, 9, 1)).astype(dt)
    w1 = np.asfortranarray(w[..., :1])
    _close(CN.backprop_input(dy, w1, x.shape, ONE, ONE, pads),
           ref_input_grad(dy, w1, x.shape, ONE, ONE, pads), dt, 4)


@native_only
def test_kernels_dispatch_to_native(monkeypatch):
    monkeypatch.setattr(CN, "_filter_wins", FILTER_WINS)
    calls = []
    for name in ("conv_bias_act", "backprop_filter", "backprop_input"):
        orig = getattr(CN, name)
        monkeypatch.setattr(CN, name, lambda *a, _o=orig, _n=name: calls.append(_n) or _o(*a))
    x = np.ones((2, 8, 8, 64), np.float32)
    w = np.ones((3, 3, 64, 1), np.float32)
    y = K.conv_bias_act(x, w, None, ONE, ONE, ((1, 1), (1, 1)))
    K.conv_backprop_filter(x, y, w.shape, ONE, ONE, ((1, 1), (1, 1)))
    dx = K.conv_backprop_input(np.ones_like(y), w, x.shape, ONE, ONE, ((1, 1), (1, 1)))
    assert calls == ["conv_bias_act", "backprop_filter", "backprop_input"]
    assert y[0, 4, 4, 0] == 9 * 64 and y[0, 0, 0, 0] == 4 * 64
    assert dx[0, 4, 4, 0] == 9 and dx[0, 0, 0, 0] == 4


def test_filter_gradient_rule(monkeypatch):
    monkeypatch.setattr(CN, "_filter_wins", FILTER_WINS)
    assert CN._filter_wins((7, 7, 128, 1)) and CN._filter_wins((3, 3, 64, 8))
    assert CN._filter_wins((5, 5, 64, 4))
    assert not CN._filter_wins((7, 7, 128, 5))    # more output blocks re-read x: NumPy
    assert not CN._filter_wins((1, 1, 128, 1))    # a GEMM for the NumPy form: a tie
    x = np.ones((1, 4, 4, 32), np.float32)
    assert CN.backprop_filter(x, np.ones((1, 4, 4, 1), np.float32), (1, 1, 32, 1), ONE, ONE,
                              ((0, 0), (0, 0))) is None


def test_fallbacks_return_none():
    rng = np.random.default_rng(0)
    x, w, b = _data(rng, 2, 6, 6, 32, 3, 3, 1, np.float32)
    pads = ((1, 1), (1, 1))
    assert CN.conv_bias_act(x[:, :, ::2], w, b, ONE, ONE, pads, False) is None   # strided
    assert CN.conv_bias_act(x.astype(np.float16), w.astype(np.float16), None, ONE, ONE,
                            pads, False) is None
    assert CN.conv_bias_act(x, w.astype(np.float64), None, ONE, ONE, pads, False) is None
    assert CN.conv_bias_act(x, np.ones((3, 3, 32, CN.MAX_OUT + 1), np.float32), None, ONE,
                            ONE, pads, False) is None
    assert CN.conv_bias_act(x, w, b, ONE, ONE, ((-1, 0), (0, 0)), False) is None
    assert CN.conv_bias_act(x, w, b, ONE, ONE, ((1 << 40, 0), (0, 0)), False) is None
    assert CN.conv_bias_act(x, w, b, (1 << 40, 1), ONE, pads, False) is None
    assert CN.conv_bias_act(x, w, b, (0, 1), ONE, pads, False) is None
    assert CN.conv_bias_act(x[:0], w, b, ONE, ONE, pads, False) is None       # no images
    assert CN.conv_bias_act(x, w, b, ONE, ONE, ((0, 0), (0, 0)), False) is not None or \
        CN._fn("narrow_fwd", np.float32) is None
    dy = np.ones((2, 6, 6, 1), np.float32)
    assert CN.backprop_filter(x, dy[:, :5], w.shape, ONE, ONE, pads) is None  # wrong dy
    assert CN.backprop_filter(x, dy.astype(np.float64), w.shape, ONE, ONE, pads) is None


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    x = np.ones((1, 5, 5, 16), np.float32)
    w = np.ones((3, 3, 16, 1), np.float32)
    assert CN.conv_bias_act(x, w, None, ONE, ONE, ((1, 1), (1, 1)), False) is None
    assert CN.backprop_filter(x, np.ones((1, 5, 5, 1), np.float32), w.shape, ONE, ONE,
                              ((1, 1), (1, 1))) is None


@native_only
def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    rng = np.random.default_rng(3)
    x, w, b = _data(rng, 9, 20, 20, 96, 5, 5, 2, np.float32)
    pads = ((2, 2), (2, 2))
    monkeypatch.setattr(CN, "_TASK_MACS", 1 << 18)   # several chunks
    dy = rng.standard_normal((9, 20, 20, 2)).astype(np.float32)
    got = {}
    for threads in (1, 2, 3):
        monkeypatch.setattr(K, "_threads", threads)
        monkeypatch.setattr(K, "_busy", lambda: False)
        got[threads] = (CN.conv_bias_act(x, w, b, ONE, ONE, pads, False),
                        CN.backprop_filter(x, dy, w.shape, ONE, ONE, pads))
    for t in (2, 3):
        for a, c in zip(got[1], got[t]):
            np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------------------------------------
# the input gradient (one output channel, stride 1; asked first by kernels.py)

INPUT_CASES = [  # x shape, (kh, kw), pads
    ((2, 28, 28, 128), (7, 7), ((3, 3), (3, 3))),
    ((3, 9, 11, 20), (3, 5), ((1, 1), (2, 2))),
    ((2, 7, 6, 33), (2, 3), ((0, 1), (0, 0))),
    ((1, 5, 9, 17), (5, 1), ((0, 0), (0, 0))),
    ((1, 3, 2, 40), (3, 7), ((2, 0), (6, 6))),     # the filter wider than x
    ((2, 1, 1, 5), (3, 3), ((1, 1), (1, 1))),
    ((1, 6, 19, 64), (1, 7), ((0, 0), (1, 5))),
]


@native_only
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("xs, ks, pads", INPUT_CASES)
def test_input_grad_matches_the_reference_and_the_twin(xs, ks, pads, dt, monkeypatch):
    rng = np.random.default_rng(11)
    oh, ow = K.out_sizes(xs[1:3], ks, ONE, ONE, pads)
    dy = rng.standard_normal((xs[0], oh, ow, 1)).astype(dt)
    w = rng.standard_normal(ks + (xs[3], 1)).astype(dt)
    got = CN.backprop_input(dy, w, xs, ONE, ONE, pads)
    _close(got, ref_input_grad(dy, w, xs, ONE, ONE, pads), dt, np.sqrt(ks[0] * ks[1]))
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        twin = K.conv_backprop_input(dy, w, xs, ONE, ONE, pads)
    _close(got, twin.astype(dt), dt, np.sqrt(ks[0] * ks[1]))


@native_only
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 10), w_=st.integers(1, 12),
       kh=st.integers(1, 6), kw=st.sampled_from([1, 3, 5, 7]),
       pads=st.tuples(*[st.integers(0, 6)] * 4), cin=st.integers(1, 40), f64=st.booleans(),
       at_end=st.booleans(), seed=st.integers(0, 2**31))
def test_input_grad_property(n, h, w_, kh, kw, pads, cin, f64, at_end, seed):
    dt = np.float64 if f64 else np.float32
    pads = ((pads[0], pads[1]), (pads[2], pads[3]))
    xs = (n, h, w_, cin)
    oh, ow = K.out_sizes((h, w_), (kh, kw), ONE, ONE, pads)
    rng = np.random.default_rng(seed)
    if oh < 1 or ow < 1:
        dy = np.zeros((n, max(oh, 0), max(ow, 0), 1), dt)
        assert CN.backprop_input(dy, np.ones((kh, kw, cin, 1), dt), xs, ONE, ONE, pads) is None
        return
    dy = _guarded(rng.standard_normal((n, oh, ow, 1)).astype(dt), at_end)
    w = _guarded(rng.standard_normal((kh, kw, cin, 1)).astype(dt), at_end)
    got = CN.backprop_input(dy, w, xs, ONE, ONE, pads)
    _close(got, ref_input_grad(dy, w, xs, ONE, ONE, pads), dt, np.sqrt(kh * kw))


def test_input_grad_fallbacks():
    dy = np.ones((1, 5, 5, 1), np.float32)
    w = np.ones((3, 3, 8, 1), np.float32)
    xs = (1, 5, 5, 8)
    same = ((1, 1), (1, 1))
    assert CN.backprop_input(dy, w, xs, (2, 2), ONE, same) is None              # strided
    assert CN.backprop_input(dy, w, xs, ONE, (2, 2), same) is None              # dilated
    assert CN.backprop_input(dy, np.ones((3, 4, 8, 1), np.float32), xs, ONE, ONE,
                             ((1, 1), (1, 2))) is None                          # 4 columns
    assert CN.backprop_input(np.ones((1, 5, 5, 2), np.float32),
                             np.ones((3, 3, 8, 2), np.float32), xs, ONE, ONE, same) is None
    assert CN.backprop_input(dy[:, :4], w, xs, ONE, ONE, same) is None          # wrong dy
    assert CN.backprop_input(dy.astype(np.float64), w, xs, ONE, ONE, same) is None


# ------------------------------------------------------------------------------------------
# memory safety: inputs placed against an inaccessible page

_KEEP = []   # the mappings stay alive (and mapped) for the whole test session


def _guarded(a, at_end):
    """A copy of `a` that ends (or starts) right at a page that cannot be read: a read past
    its end (before its start) crashes the process."""
    page = mmap.PAGESIZE
    body = -(-a.nbytes // page) * page
    m = mmap.mmap(-1, body + 2 * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    libc = ctypes.CDLL(None)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(base, page, 0) == 0
    assert libc.mprotect(base + page + body, page, 0) == 0
    _KEEP.append(m)
    start = page + body - a.nbytes if at_end else page
    out = np.frombuffer(m, a.dtype, a.size, start).reshape(a.shape)
    out[...] = a
    return out


GUARDED = [  # x shape, w shape, strides, dilations, pads
    ((2, 9, 10, 128), (7, 7, 128, 1), ONE, ONE, ((3, 3), (3, 3))),
    ((1, 5, 6, 20), (3, 5, 20, 1), ONE, ONE, ((4, 4), (6, 6))),
    ((2, 7, 8, 33), (3, 3, 33, 2), (2, 1), (1, 2), ((2, 0), (0, 3))),
    ((1, 4, 4, 7), (5, 5, 7, 3), ONE, ONE, ((2, 2), (2, 2))),
    ((1, 3, 3, 64), (2, 4, 64, 1), ONE, ONE, ((1, 0), (3, 3))),
]


@native_only
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect via libc")
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("at_end", [True, False])
@pytest.mark.parametrize("xs, ws, strides, dil, pads", GUARDED)
def test_reads_stay_inside_the_arrays(xs, ws, strides, dil, pads, at_end, dt):
    rng = np.random.default_rng(5)
    x = _guarded(rng.standard_normal(xs).astype(dt), at_end)
    w = _guarded(rng.standard_normal(ws).astype(dt), at_end)
    b = _guarded(rng.standard_normal(ws[-1]).astype(dt), at_end)
    want = ref_conv(x, w, strides, dil, pads)
    scale = np.sqrt(np.prod(ws[:3]))
    _close(CN.conv_bias_act(x, w, b, strides, dil, pads, True), np.maximum(want + b, 0), dt,
           scale)
    dy = _guarded(rng.standard_normal(want.shape).astype(dt), at_end)
    _close(CN.backprop_filter(x, dy, ws, strides, dil, pads),
           ref_filter_grad(x, dy, ws, strides, dil, pads), dt, np.sqrt(dy.size))
    if ws[-1] == 1 and strides == ONE and dil == ONE and ws[1] in (1, 3, 5, 7):
        _close(CN.backprop_input(dy, w, xs, strides, dil, pads),
               ref_input_grad(dy, w, xs, ONE, ONE, pads), dt, scale)
