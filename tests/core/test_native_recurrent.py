"""The native LSTM/GRU step kernels (tenfold/backend/native/recurrent.c, wired in
tenfold/ops/recurrent_kernels.py): whole forward and backward calls against their NumPy twins
(TENFOLD_NATIVE=0) and a float64 reference, over shapes, masks, go_backwards and the gradient
variants; the fallbacks; the float tanh's accuracy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import native
from tenfold.ops import recurrent_kernels as rk
from tests.core.native_twins import numpy_twin

needs_native = pytest.mark.skipif(native.load("recurrent") is None,
                                  reason="the recurrent native kernels are not built here")

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _close(a, b, dtype, scale=1.0):
    """Close relative to the largest magnitude (the errors are ulps of the big entries)."""
    ref = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    np.testing.assert_allclose(a, b, rtol=0, atol=scale * TOL[dtype] * ref)


def _lstm_args(rng, n, t, d, hs, dtype, masked):
    s = 1 / np.sqrt(max(d, hs))
    x = rng.standard_normal((n, t, d)).astype(dtype)
    w = (rng.standard_normal((d, 4 * hs)) * s).astype(dtype)
    u = (rng.standard_normal((hs, 4 * hs)) * s).astype(dtype)
    b = rng.standard_normal(4 * hs).astype(dtype)
    h0 = rng.standard_normal((n, hs)).astype(dtype)
    c0 = rng.standard_normal((n, hs)).astype(dtype)
    mask = rng.random((n, t)) > 0.3 if masked else None
    return x, w, u, b, h0, c0, mask


def _gru_args(rng, n, t, d, hs, dtype, masked):
    s = 1 / np.sqrt(max(d, hs))
    x = rng.standard_normal((n, t, d)).astype(dtype)
    w = (rng.standard_normal((d, 3 * hs)) * s).astype(dtype)
    u = (rng.standard_normal((hs, 3 * hs)) * s).astype(dtype)
    b = rng.standard_normal(3 * hs).astype(dtype)
    rb = rng.standard_normal(3 * hs).astype(dtype)
    h0 = rng.standard_normal((n, hs)).astype(dtype)
    mask = rng.random((n, t)) > 0.3 if masked else None
    return x, w, u, b, rb, h0, mask


def _grads(rng, ws, variant):
    """Gradients reaching the workspace: states only (the usual), h and c, or every block."""
    g = rng.standard_normal(ws.shape).astype(ws.dtype)
    if variant == "h":
        g[:, 1:] = 0
    elif variant == "hc":
        g[:, 2:] = 0
    return g


def check_lstm(monkeypatch, n, t, d, hs, dtype, masked, back, variant, seed=0):
    rng = np.random.default_rng(seed)
    x, w, u, b, h0, c0, mask = _lstm_args(rng, n, t, d, hs, dtype, masked)
    kw = dict(mask=mask, go_backwards=back)
    ws = rk.lstm_forward(x, w, u, b, h0, c0, **kw)
    _close(ws, numpy_twin(monkeypatch, rk.lstm_forward, x, w, u, b, h0, c0, **kw), dtype)
    g = _grads(rng, ws, variant)
    got = rk.lstm_backward(g, ws, x, w, u, h0, c0, **kw)
    want = numpy_twin(monkeypatch, rk.lstm_backward, g, ws, x, w, u, h0, c0, **kw)
    _close(got, want, dtype, scale=4)
    return ws, got


def check_gru(monkeypatch, n, t, d, hs, dtype, masked, back, variant, seed=0):
    rng = np.random.default_rng(seed)
    x, w, u, b, rb, h0, mask = _gru_args(rng, n, t, d, hs, dtype, masked)
    kw = dict(mask=mask, go_backwards=back)
    ws = rk.gru_forward(x, w, u, b, rb, h0, **kw)
    _close(ws, numpy_twin(monkeypatch, rk.gru_forward, x, w, u, b, rb, h0, **kw), dtype)
    g = _grads(rng, ws, variant)
    got = rk.gru_backward(g, ws, x, w, u, h0, **kw)
    want = numpy_twin(monkeypatch, rk.gru_backward, g, ws, x, w, u, h0, **kw)
    _close(got, want, dtype, scale=4)
    return ws, got


SHAPES = [(1, 1, 1, 1), (3, 5, 4, 6), (2, 8, 3, 2), (17, 9, 3, 5), (20, 17, 2, 3),
          (0, 4, 3, 2), (4, 0, 3, 2), (5, 3, 0, 4), (16, 11, 7, 16)]


@needs_native
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masked,back", [(False, False), (True, False), (False, True),
                                         (True, True)])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_native_matchesnumpy_twin(monkeypatch, kind, shape, masked, back, dtype):
    check = check_lstm if kind == "lstm" else check_gru
    for variant in ("h", "hc", "all"):
        check(monkeypatch, *shape, dtype, masked, back, variant)


@needs_native
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_native_on_batch_halves(monkeypatch, kind):
    """The loops run on row ranges of the workspace (_over_rows with two threads): views
    whose blocks start mid-array."""
    monkeypatch.setattr(rk._kernels, "_threads", 2)
    monkeypatch.setattr(rk._kernels, "_busy", lambda: False)
    check = check_lstm if kind == "lstm" else check_gru
    for masked in (False, True):
        check(monkeypatch, 33, 10, 5, 8, np.float32, masked, False, "all")


@needs_native
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_native_against_float64(monkeypatch, kind):
    """float32 native against the float64 twin: within float32's accuracy."""
    args_of = _lstm_args if kind == "lstm" else _gru_args
    fwd = rk.lstm_forward if kind == "lstm" else rk.gru_forward
    bwd = rk.lstm_backward if kind == "lstm" else rk.gru_backward
    rng = np.random.default_rng(3)
    a64 = args_of(rng, 12, 20, 6, 10, np.float64, True)
    a32 = [a if a is None or a.dtype == bool else a.astype(np.float32) for a in a64]
    *arrays64, mask = a64
    *arrays32, _ = a32
    ws32 = fwd(*arrays32, mask=mask)
    ws64 = numpy_twin(monkeypatch, fwd, *arrays64, mask=mask)
    np.testing.assert_allclose(ws32, ws64, rtol=1e-4, atol=1e-5)
    g = np.random.default_rng(4).standard_normal(ws64.shape)
    x, w, u = arrays64[:3]
    states = [arrays64[-2], arrays64[-1]] if kind == "lstm" else [arrays64[-1]]
    got = bwd(g.astype(np.float32), ws32, *[a.astype(np.float32) for a in (x, w, u)],
              *[s.astype(np.float32) for s in states], mask=mask)
    want = numpy_twin(monkeypatch, bwd, g, ws64, x, w, u, *states, mask=mask)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 * np.abs(want).max())


def _spy(monkeypatch, name):
    calls = []
    orig = getattr(rk, name)
    monkeypatch.setattr(rk, name, lambda *a, **k: calls.append(1) or orig(*a, **k))
    return calls


@needs_native
def test_native_taken_and_fallbacks(monkeypatch):
    rng = np.random.default_rng(5)
    x, w, u, b, h0, c0, mask = _lstm_args(rng, 4, 6, 3, 5, np.float32, True)
    fwd = _spy(monkeypatch, "_lstm_loop_native")
    bwd = _spy(monkeypatch, "_lstm_back_loop_native")
    ws = rk.lstm_forward(x, w, u, b, h0, c0, mask=mask)
    g = np.ones_like(ws)
    rk.lstm_backward(g, ws, x, w, u, h0, c0, mask=mask)
    assert (len(fwd), len(bwd)) == (1, 1)
    # another dtype for a state, a strided gradient, TENFOLD_NATIVE=0: the NumPy loops
    rk.lstm_forward(x, w, u, b, h0.astype(np.float64), c0, mask=mask)
    g2 = np.ones(ws.shape[:-1] + (2 * ws.shape[-1],), np.float32)[..., ::2]
    want = numpy_twin(monkeypatch, rk.lstm_backward, g2, ws, x, w, u, h0, c0, mask=mask)
    np.testing.assert_array_equal(rk.lstm_backward(g2, ws, x, w, u, h0, c0, mask=mask), want)
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    rk.lstm_forward(x, w, u, b, h0, c0, mask=mask)
    assert (len(fwd), len(bwd)) == (1, 1)


@needs_native
def test_gru_native_taken_and_fallbacks(monkeypatch):
    rng = np.random.default_rng(6)
    x, w, u, b, rb, h0, mask = _gru_args(rng, 4, 6, 3, 5, np.float32, True)
    fwd = _spy(monkeypatch, "_gru_loop_ra_native")
    bwd = _spy(monkeypatch, "_gru_back_loop_ra_native")
    ws = rk.gru_forward(x, w, u, b, rb, h0, mask=mask)
    rk.gru_backward(np.ones_like(ws), ws, x, w, u, h0, mask=mask)
    assert (len(fwd), len(bwd)) == (1, 1)
    rk.gru_forward(x, w, u, b, rb[::-1].copy()[::-1], h0, mask=mask)  # a strided bias
    rk.gru_forward(x, w, u, b, rb, h0, reset_after=False)  # not covered: NumPy
    assert (len(fwd), len(bwd)) == (1, 1)


def _c_tanh(x, dtype=np.float32):
    """The C tanh, read back from an LSTM step whose g gate gets x (z = 0, c_prev = 0)."""
    fn = rk._step_fn("lstm_fwd_step", dtype)
    x = np.ascontiguousarray(x, dtype).ravel()
    m = x.size
    rec = np.zeros((1, 4 * m), dtype)
    rec[0, 3 * m:] = x
    z = np.full_like(rec, -0.0)  # x + -0.0 keeps -0.0
    wk = np.empty((6, 1, m), dtype)
    prev = np.zeros((1, m), dtype)
    a = native.addr
    bias = np.full(4 * m, -0.0, dtype)
    fn(a(rec), a(z), a(bias), a(wk), m, a(prev), a(prev), None, 1, m)
    return wk[5, 0]


@needs_native
def test_float_tanh_accuracy():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-12, 12, 200000), rng.uniform(-1, 1, 200000),
                        np.logspace(-45, 1.3, 20000), -np.logspace(-45, 1.3, 20000)])
    x = x.astype(np.float32)
    ref = np.tanh(x.astype(np.float64))
    got = _c_tanh(x)
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    assert (np.abs(got - ref) / ulp).max() <= 3
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 20.0, 3e38,
                        -3e38], np.float32)
    got = _c_tanh(special)
    np.testing.assert_array_equal(got, np.tanh(special))
    assert np.signbit(got[1]) and not np.signbit(got[0])


@needs_native
def test_double_tanh_accuracy():
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.uniform(-25, 25, 200000), rng.uniform(-1, 1, 200000),
                        np.logspace(-300, 1.4, 20000), -np.logspace(-300, 1.4, 20000)])
    want = np.tanh(x)  # within about an ulp itself
    got = _c_tanh(x, np.float64)
    assert (np.abs(got - want) / np.spacing(np.abs(want))).max() <= 4
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 30.0, 1e308])
    got = _c_tanh(special, np.float64)
    np.testing.assert_array_equal(got, np.tanh(special))
    assert np.signbit(got[1]) and not np.signbit(got[0])


@needs_native
@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(["lstm", "gru"]), n=st.integers(1, 20), t=st.integers(1, 19),
       d=st.integers(1, 6), hs=st.integers(1, 9), masked=st.booleans(), back=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]),
       variant=st.sampled_from(["h", "hc", "all"]), seed=st.integers(0, 2 ** 16))
def test_native_matches_twin_property(kind, n, t, d, hs, masked, back, dtype, variant, seed):
    mp = pytest.MonkeyPatch()
    try:
        check = check_lstm if kind == "lstm" else check_gru
        check(mp, n, t, d, hs, dtype, masked, back, variant, seed)
    finally:
        mp.undo()


@needs_native
def test_wrong_sizes_never_reach_c(monkeypatch):
    """A recurrent bias too short for the candidate's columns: the wrapper's checks send it
    to the NumPy loop (which raises), the C kernel never reads past it."""
    rng = np.random.default_rng(8)
    x, w, u, b, rb, h0, mask = _gru_args(rng, 3, 4, 2, 5, np.float32, False)
    fwd = _spy(monkeypatch, "_gru_loop_ra_native")
    with pytest.raises(ValueError):
        rk.gru_forward(x, w, u, b, rb[:-2], h0)
    assert not fwd


@needs_native
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gru_backward_bits(monkeypatch, dtype):
    """The GRU backward's step has no tanh: the same operations in the same order as the
    twin, so the same bits."""
    rng = np.random.default_rng(10)
    x, w, u, b, rb, h0, mask = _gru_args(rng, 6, 11, 4, 7, dtype, True)
    ws = rk.gru_forward(x, w, u, b, rb, h0, mask=mask)
    g = rng.standard_normal(ws.shape).astype(dtype)
    for gg in (g, np.where(np.arange(5)[None, :, None, None] == 0, g, 0).astype(dtype)):
        got = rk.gru_backward(gg, ws, x, w, u, h0, mask=mask)
        want = numpy_twin(monkeypatch, rk.gru_backward, gg, ws, x, w, u, h0, mask=mask)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("native_on", ["1", "0"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_do_not_depend_on_the_threads(monkeypatch, native_on, kind, dtype):
    """The weight gradients are summed over the same batch halves whether the halves run on
    two threads or one after the other (one thread, or a busy machine): the same bits."""
    from tenfold.backend import kernels as K
    monkeypatch.setenv("TENFOLD_NATIVE", native_on)
    rng = np.random.default_rng(5)
    if kind == "lstm":
        x, w, u, b, h0, c0, mask = _lstm_args(rng, 32, 6, 5, 8, dtype, True)
        ws = rk.lstm_forward(x, w, u, b, h0, c0, mask)
        back = lambda g: rk.lstm_backward(g, ws, x, w, u, h0, c0, mask)  # noqa: E731
    else:
        x, w, u, b, rb, h0, mask = _gru_args(rng, 32, 6, 5, 8, dtype, True)
        ws = rk.gru_forward(x, w, u, b, rb, h0, mask)
        back = lambda g: rk.gru_backward(g, ws, x, w, u, h0, mask)  # noqa: E731
    g = _grads(rng, ws, "all")
    monkeypatch.setattr(K, "_busy", lambda: False)
    monkeypatch.setattr(K, "_threads", 2)
    two = back(g)
    monkeypatch.setattr(K, "_threads", 1)
    np.testing.assert_array_equal(back(g), two)
