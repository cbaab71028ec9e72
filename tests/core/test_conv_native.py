"""The native implicit-GEMM convolutions (tenfold/backend/conv_native.py, native/conv_gemm.c)
against a float64 reference (the NumPy kernels in float64), on shapes chosen at random by
Hypothesis and on the models' shapes; the size rules that pick them are widened here so that
every kernel variant (channel blocks of 16/32/64 and masked tails, pixel blocks and short
rows, strides, dilations, phases) runs."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tenfold.backend import conv_native as cn
from tenfold.backend import kernels as K

pytestmark = pytest.mark.skipif(cn._lib() is None,
                                reason="native conv kernels not built here (no compiler or "
                                       "no AVX-512)")


@pytest.fixture(autouse=True)
def direct_only(monkeypatch):
    """These tests are of the direct kernels: the 3x3 stride-1 convolutions that Winograd's
    F(2x2, 3x3) would take (tests/core/test_conv_winograd.py) stay with them here."""
    monkeypatch.setattr(cn._wg, "wins", lambda x_shape, w_shape, filter_grad=False: False)


@pytest.fixture
def every_shape(monkeypatch):
    monkeypatch.setattr(cn, "_MAX_FWD_OUT", 1 << 30)
    monkeypatch.setattr(cn, "_MAX_FWD_FILTER_BYTES", 1 << 40)
    monkeypatch.setattr(cn, "_MIN_CHANNELS", 1)
    monkeypatch.setattr(cn, "_MAX_DW_POINTWISE_OUT", 1 << 30)
    monkeypatch.setattr(cn, "_MAX_DW_BYTES", 1 << 40)


def _reference(x, w, b, strides, dilations, pads, relu, dy):
    f = np.float64
    y = K.conv_bias_act(x.astype(f), w.astype(f), None if b is None else b.astype(f),
                        strides, dilations, pads, relu=relu)
    dw = K.conv_backprop_filter(x.astype(f), dy.astype(f), w.shape, strides, dilations, pads)
    dx = K.conv_backprop_input(dy.astype(f), w.astype(f), x.shape, strides, dilations, pads)
    return y, dw, dx


def _close(got, want):
    assert got is not None
    assert got.dtype == np.float32 and got.shape == want.shape
    scale = np.abs(want).max() + 1
    assert np.abs(got - want).max() <= 2e-6 * scale * max(1, np.sqrt(want.size / 64))


def _check(n, h, w_, c, o, kh, kw, strides, dilations, pads, relu, bias, seed=0):
    rng = np.random.default_rng(seed)
    ho, wo = K.out_sizes((h, w_), (kh, kw), strides, dilations, pads)
    if ho <= 0 or wo <= 0:
        return
    x = rng.standard_normal((n, h, w_, c)).astype(np.float32)
    w = rng.standard_normal((kh, kw, c, o)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    dy = rng.standard_normal((n, ho, wo, o)).astype(np.float32)
    y, dw, dx = _reference(x, w, b, strides, dilations, pads, relu, dy)
    _close(cn.conv(x, w, b, strides, dilations, pads, relu), y)
    with pytest.MonkeyPatch.context() as mp:  # 1x1 filters wider than 64 outputs too
        mp.setattr(cn, "_MAX_DW_POINTWISE_OUT", 1 << 30)
        _close(cn.backprop_filter(x, dy, w.shape, strides, dilations, pads), dw)
    got = cn.backprop_input(dy, w, x.shape, strides, dilations, pads)
    if got is not None or strides == (1, 1):
        _close(got, dx)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # it only widens limits
@given(n=st.integers(1, 3), h=st.integers(1, 11), w_=st.integers(1, 11),
       c=st.integers(1, 20), o=st.sampled_from([1, 5, 8, 15, 16, 17, 31, 32, 40, 64, 65, 80,
                                                 128, 130]),
       kh=st.integers(1, 5), kw=st.integers(1, 5), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2),
       pads=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
                      st.integers(0, 3)),
       relu=st.booleans(), bias=st.booleans())
def test_matches_the_float64_reference(every_shape, n, h, w_, c, o, kh, kw, sh, sw, dh, dw,
                                       pads, relu, bias):
    _check(n, h, w_, c, o, kh, kw, (sh, sw), (dh, dw), ((pads[0], pads[1]), (pads[2], pads[3])),
           relu, bias)


@pytest.mark.parametrize("shape", [
    (4, 32, 32, 16, 16, 3, 1), (4, 32, 32, 16, 32, 3, 2), (4, 16, 16, 32, 32, 3, 1),
    (4, 8, 8, 64, 64, 3, 1), (4, 32, 32, 3, 16, 3, 1), (4, 28, 28, 1, 32, 3, 1),
    (4, 14, 14, 128, 128, 4, 2), (2, 64, 64, 3, 32, 3, 2), (2, 28, 28, 128, 1, 7, 1)])
def test_model_shapes(every_shape, shape):
    n, h, w_, c, o, k, s = shape
    _check(n, h, w_, c, o, k, k, (s, s), (1, 1), ((k // 2, (k - 1) // 2),) * 2, True, True)


def test_kernels_take_the_native_path_where_it_wins(monkeypatch):
    calls = []
    real = cn.conv
    monkeypatch.setattr(cn, "conv", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 8, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    y = K.conv(x, w, (1, 1), (1, 1), ((1, 1), (1, 1)))
    assert calls
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    np.testing.assert_allclose(y, K.conv(x, w, (1, 1), (1, 1), ((1, 1), (1, 1))),
                               rtol=1e-5, atol=1e-5)


def test_one_output_channel_input_gradient_is_native():
    """The generator's last 7x7 128->1 conv: its input gradient takes the native kernel."""
    assert cn._input_grad_wins((7, 7, 128, 1))
    rng = np.random.default_rng(3)
    dy = rng.standard_normal((2, 9, 9, 1)).astype(np.float32)
    w = rng.standard_normal((7, 7, 128, 1)).astype(np.float32)
    got = cn.backprop_input(dy, w, (2, 9, 9, 128), (1, 1), (1, 1), ((3, 3), (3, 3)))
    want = K.conv_backprop_input(dy.astype(np.float64), w.astype(np.float64), (2, 9, 9, 128),
                                 (1, 1), (1, 1), ((3, 3), (3, 3)))
    _close(got, want)


def test_declines_what_it_does_not_cover():
    x32 = np.zeros((1, 5, 5, 16), np.float32)
    w = np.zeros((3, 3, 16, 16), np.float32)
    p = ((1, 1), (1, 1))
    assert cn.conv(x32.astype(np.float64), w, None, (1, 1), (1, 1), p) is None
    assert cn.conv(x32[..., ::2], w[:, :, :8], None, (1, 1), (1, 1), p) is not None  # copies
    assert cn.conv(x32, w, None, (1, 1), (1, 1), ((-1, 1), (1, 1))) is None
    assert cn.conv(np.zeros((0, 5, 5, 16), np.float32), w, None, (1, 1), (1, 1), p) is None
    assert cn.conv(x32, np.zeros((3, 3, 16, 4), np.float32), None, (1, 1), (1, 1), p) is None


@pytest.mark.parametrize("x_shape, dy_shape, w_shape, strides, chunk_bytes", [
    ((9, 12, 12, 16), (9, 12, 12, 32), (3, 3, 16, 32), (1, 1), None),
    # several chunks' partials of a big 4x4 128->128 dw, summed in chunk order
    ((7, 10, 10, 128), (7, 5, 5, 128), (4, 4, 128, 128), (2, 2), 1 << 12)])
def test_filter_gradient_does_not_depend_on_the_threads(monkeypatch, x_shape, dy_shape,
                                                         w_shape, strides, chunk_bytes):
    if chunk_bytes:
        monkeypatch.setattr(cn, "_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(x_shape).astype(np.float32)
    dy = rng.standard_normal(dy_shape).astype(np.float32)
    args = (w_shape, strides, (1, 1), ((1, 1), (1, 1)))
    a = cn.backprop_filter(x, dy, *args)
    monkeypatch.setattr(K, "_threads", 1)
    b = cn.backprop_filter(x, dy, *args)
    np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 3), h=st.integers(1, 10), w_=st.integers(1, 10), c=st.integers(1, 40),
       o=st.sampled_from([8, 15, 16, 17, 33, 64, 128, 130, 200]), kh=st.integers(1, 4),
       kw=st.integers(1, 4),
       s=st.integers(1, 2), d=st.integers(1, 2), relu=st.booleans(), bias=st.booleans())
def test_one_tap_at_a_time_matches_too(monkeypatch, n, h, w_, c, o, kh, kw, s, d, relu, bias):
    """The big-filter order (each tap and channel block over the whole chunk, partial sums in
    the output; the full 64-blocks of a wider filter from its packed copy)."""
    monkeypatch.setattr(cn, "_TAP_OUTER_FILTER_BYTES", 0)
    monkeypatch.setattr(cn, "_MIN_CHANNELS", 1)
    monkeypatch.setattr(cn, "_MAX_FWD_OUT", 1 << 30)
    monkeypatch.setattr(cn, "_MAX_FWD_FILTER_BYTES", 1 << 40)
    _check(n, h, w_, c, o, kh, kw, (s, s), (d, d), ((1, 0), (0, 2)), relu, bias)


def _filter_case(n, h, w_, c, o, kh, kw, strides, dilations, pads, seed=0):
    rng = np.random.default_rng(seed)
    ho, wo = K.out_sizes((h, w_), (kh, kw), strides, dilations, pads)
    x = rng.standard_normal((n, h, w_, c)).astype(np.float32)
    dy = rng.standard_normal((n, ho, wo, o)).astype(np.float32)
    want = K.conv_backprop_filter(x.astype(np.float64), dy.astype(np.float64), (kh, kw, c, o),
                                  strides, dilations, pads)
    return x, dy, want


@pytest.mark.parametrize("tile", [1, 5, 128, 512])
@pytest.mark.parametrize("case", [
    # (n, h, w, c, o, kh, kw, strides, dilations, pads): the DCGAN's 4x4/2 128->128 (both
    # sizes), 3x3/2 64->128 and 1->64, odd sizes, 1x1, channel tails, dilations, strides
    (3, 14, 14, 128, 128, 4, 4, (2, 2), (1, 1), ((1, 1), (1, 1))),
    (2, 7, 7, 128, 128, 4, 4, (2, 2), (1, 1), ((1, 1), (1, 1))),
    (2, 14, 14, 64, 128, 3, 3, (2, 2), (1, 1), ((0, 1), (0, 1))),
    (2, 28, 28, 1, 64, 3, 3, (2, 2), (1, 1), ((0, 1), (0, 1))),
    (2, 9, 11, 13, 130, 3, 2, (1, 2), (1, 1), ((1, 1), (0, 1))),
    (3, 10, 7, 37, 80, 5, 3, (2, 1), (2, 1), ((2, 2), (1, 1))),
    (1, 8, 9, 20, 17, 3, 3, (1, 1), (2, 2), ((2, 2), (2, 2))),
    (2, 6, 6, 128, 64, 1, 1, (1, 1), (1, 1), ((0, 0), (0, 0))),
    (2, 6, 5, 7, 33, 2, 4, (3, 2), (1, 1), ((0, 3), (1, 0))),
    (2, 9, 10, 11, 40, 2, 3, (1, 2), (2, 2), ((1, 0), (2, 1))),
])
def test_filter_gradient_tiles_match(monkeypatch, every_shape, tile, case):
    """Pixel tiles of any size (crossing rows and images, a short last one), packed and
    unpacked dy blocks, channel tails: native vs the float64 reference and vs the NumPy
    path (TENFOLD_NATIVE=0)."""
    monkeypatch.setattr(cn, "_DW_TILE", tile)
    n, h, w_, c, o, kh, kw, strides, dilations, pads = case
    x, dy, want = _filter_case(n, h, w_, c, o, kh, kw, strides, dilations, pads)
    got = cn.backprop_filter(x, dy, (kh, kw, c, o), strides, dilations, pads)
    _close(got, want)
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    twin = K.conv_backprop_filter(x, dy, (kh, kw, c, o), strides, dilations, pads)
    _close(twin, want)
    np.testing.assert_allclose(got, twin, rtol=1e-4, atol=1e-4 * (np.abs(want).max() + 1))


def test_wide_filter_gradients_are_native():
    """The DCGAN's 4x4 128->128 and the discriminator's shapes take the native kernel; 1x1
    filters wider than 64 outputs (a plain GEMM, no im2col) and narrow ones do not."""
    for shape in [(4, 4, 128, 128), (3, 3, 64, 128), (3, 3, 1, 64), (3, 3, 16, 16),
                  (3, 3, 512, 512), (1, 1, 32, 64)]:
        assert cn._filter_grad_wins(shape), shape
    for shape in [(1, 1, 128, 128), (3, 3, 64, 4), (3, 3, 1024, 1024)]:
        assert not cn._filter_grad_wins(shape), shape
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 14, 14, 128)).astype(np.float32)
    dy = rng.standard_normal((2, 7, 7, 128)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    got = K.conv_backprop_filter(x, dy, (4, 4, 128, 128), (2, 2), (1, 1), pads)
    np.testing.assert_array_equal(
        got, cn.backprop_filter(x, dy, (4, 4, 128, 128), (2, 2), (1, 1), pads))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 3), h=st.integers(1, 12), w_=st.integers(1, 12),
       c=st.integers(1, 40), o=st.sampled_from([1, 8, 16, 17, 32, 47, 64, 65, 96, 128, 144]),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2), tile=st.sampled_from([1, 2, 7, 64, 128, 512]),
       pads=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2),
                      st.integers(0, 2)))
def test_filter_gradient_any_tile(monkeypatch, every_shape, n, h, w_, c, o, kh, kw, sh, sw,
                                  dh, dw, tile, pads):
    monkeypatch.setattr(cn, "_DW_TILE", tile)
    pads = ((pads[0], pads[1]), (pads[2], pads[3]))
    ho, wo = K.out_sizes((h, w_), (kh, kw), (sh, sw), (dh, dw), pads)
    if ho <= 0 or wo <= 0:
        return
    x, dy, want = _filter_case(n, h, w_, c, o, kh, kw, (sh, sw), (dh, dw), pads)
    _close(cn.backprop_filter(x, dy, (kh, kw, c, o), (sh, sw), (dh, dw), pads), want)



class _NoPool:
    """Stands in for backend/native_pool: no C pool, so the Python kernel threads run."""
    @staticmethod
    def available():
        return False

    @staticmethod
    def run(fn, rows, doubles=()):
        return False


@pytest.mark.parametrize("x_shape, w_shape, strides, pads", [
    ((9, 12, 12, 16), (3, 3, 16, 32), (1, 1), ((1, 1), (1, 1))),   # each chunk padded in C
    ((6, 8, 8, 64), (3, 3, 64, 64), (1, 1), ((1, 1), (1, 1))),
    ((5, 9, 9, 16), (1, 1, 16, 32), (1, 1), ((0, 0), (0, 0))),     # read in place
    ((7, 16, 16, 16), (3, 3, 16, 32), (2, 2), ((0, 1), (0, 1))),   # input gradient by phases
    ((4, 10, 10, 32), (3, 3, 32, 16), (1, 1), ((2, 0), (1, 3)))])  # uneven pads
def test_c_pool_tasks_match_the_python_threads(monkeypatch, x_shape, w_shape, strides, pads):
    """The chunks run as C pool tasks (conv_gemm.c's *_chunk, padding in C) give the bits
    of the same chunks run on the Python kernel threads (padding in NumPy)."""
    monkeypatch.setattr(cn, "_CHUNK_BYTES", 1 << 12)   # many chunks
    monkeypatch.setattr(K, "_busy", lambda: False)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[-1]).astype(np.float32)
    ho, wo = K.out_sizes(x_shape[1:3], w_shape[:2], strides, (1, 1), pads)
    dy = rng.standard_normal((x_shape[0], ho, wo, w_shape[-1])).astype(np.float32)
    calls = []
    run = cn._pool.run
    monkeypatch.setattr(cn._pool, "run",
                        lambda fn, rows, d=(): calls.append(fn) or run(fn, rows, d))

    def all_three():
        y = cn.conv(x, w, b, strides, (1, 1), pads, relu=True)
        dw, db = cn.backprop_filter(x, dy, w_shape, strides, (1, 1), pads, with_bias=True)
        return y, dw, db, cn.backprop_input(dy, w, x_shape, strides, (1, 1), pads)

    on_pool = all_three()
    assert len(calls) >= 2   # the forward and the filter gradient at least went to the pool
    monkeypatch.setattr(cn, "_pool", _NoPool)
    threads = all_three()
    for a, t in zip(on_pool, threads):
        if t is None:
            assert a is None
            continue
        assert a is not None and a.dtype == np.float32
        if a.shape == b.shape:   # the bias gradient: a row-order sum here, a GEMV there
            np.testing.assert_allclose(a, t, rtol=1e-5, atol=1e-4)
            np.testing.assert_allclose(a, dy.astype(np.float64).sum((0, 1, 2)), rtol=1e-5,
                                       atol=1e-4)
        else:
            np.testing.assert_array_equal(a, t)


@pytest.mark.parametrize("h, c, o, k", [(8, 64, 64, 3), (9, 48, 80, 3), (6, 64, 100, 3),
                                        (7, 96, 64, 2), (5, 40, 70, 1)])
def test_forward_channel_blocks_follow_l1_with_equal_bits(h, c, o, k):
    """Where a 64-channel weight panel would not fit L1 the forward runs 32-channel blocks
    (conv_gemm.c's narrow_blocks): the same sums in the same order, so the same bits."""
    from tenfold.backend import native
    cn._lib()
    lib = native.load("conv_gemm")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, h, h, c)).astype(np.float32)
    w = rng.standard_normal((k, k, c, o)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    outs = []
    try:
        for l1 in (8 << 10, 1 << 30):   # every panel spills / none does
            lib.conv_set_l1d(l1)
            outs.append(cn.conv(x, w, b, (1, 1), (1, 1), ((1, 1), (1, 1)), relu=True,
                                chosen=True))
    finally:
        lib.conv_set_l1d(cn._l1d_bytes() or 48 << 10)
    np.testing.assert_array_equal(outs[0], outs[1])
    _close(outs[0], _reference(x, w, b, (1, 1), (1, 1), ((1, 1), (1, 1)), True,
                               np.zeros((3, h + 3 - k, h + 3 - k, o), np.float32))[0])


def test_a_chunk_bigger_than_the_kept_scratch(monkeypatch):
    """One image whose padded copy (24 MB) is over the scratch a thread keeps (16 MB): its
    task allocates, uses and frees it, twice in a row, with the Python threads' bits."""
    monkeypatch.setattr(K, "_busy", lambda: False)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 610, 610, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    first = cn.conv(x, w, None, (1, 1), (1, 1), pads)
    second = cn.conv(x, w, None, (1, 1), (1, 1), pads)
    monkeypatch.setattr(cn, "_pool", _NoPool)
    np.testing.assert_array_equal(first, cn.conv(x, w, None, (1, 1), (1, 1), pads))
    np.testing.assert_array_equal(first, second)
