"""3x3 stride-1 convolutions by Winograd's F(2x2, 3x3) (tenfold/backend/conv_winograd.py,
native/winograd.c) against a float64 reference, on shapes chosen by Hypothesis (odd sizes,
every padding up to 4 on each side, so whole tiles of padding too, channel counts that leave
masked vector tails) and on the models' shapes; the forward, the stride-1 input gradient and
the filter gradient, as the kernels choose them."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import conv_winograd as wg
from tenfold.backend import kernels as K

pytestmark = pytest.mark.skipif(wg._fns() is None,
                                reason="Winograd kernels not built here (no compiler or no "
                                       "AVX-512)")


def _reference(x, w, b, pads):
    """relu-less conv(x, w) + b in float64, tap by tap."""
    xp = np.pad(x.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)))
    ho, wo = xp.shape[1] - 2, xp.shape[2] - 2
    y = np.zeros((x.shape[0], ho, wo, w.shape[3]))
    for i in range(3):
        for j in range(3):
            y += np.tensordot(xp[:, i:i + ho, j:j + wo], w[i, j].astype(np.float64), (3, 0))
    return y if b is None else y + b


def _close(got, want, c):
    """Within float32 rounding of a sum of 9 c products of unit-normal values."""
    assert got is not None and got.dtype == np.float32 and got.shape == want.shape
    assert np.abs(got - want).max() <= 4e-6 * np.sqrt(9 * c) * 4


def _data(n, h, w_, c, o, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, h, w_, c)).astype(np.float32),
            rng.standard_normal((3, 3, c, o)).astype(np.float32),
            rng.standard_normal(o).astype(np.float32))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 11), w_=st.integers(1, 11),
       c=st.integers(16, 40), o=st.sampled_from([8, 15, 16, 17, 31, 33, 48, 49, 64, 65, 100,
                                                 130]),
       pads=st.tuples(*[st.integers(0, 4)] * 4), relu=st.booleans(), bias=st.booleans())
def test_matches_the_float64_reference(n, h, w_, c, o, pads, relu, bias):
    x, w, b = _data(n, h, w_, c, o)
    b = b if bias else None
    pads = ((pads[0], pads[1]), (pads[2], pads[3]))
    if h + sum(pads[0]) < 3 or w_ + sum(pads[1]) < 3:
        assert wg.conv(x, w, b, pads, relu) is None
        return
    want = _reference(x, w, b, pads)
    if relu:
        want = np.maximum(want, 0)
    _close(wg.conv(x, w, b, pads, relu), want, c)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 11), w_=st.integers(1, 11),
       c=st.integers(8, 40), o=st.sampled_from([8, 15, 16, 17, 31, 33, 48, 49, 64, 65, 100]),
       pads=st.tuples(*[st.integers(0, 4)] * 4), bias=st.booleans())
def test_filter_gradient_matches_the_float64_reference(n, h, w_, c, o, pads, bias):
    pads = ((pads[0], pads[1]), (pads[2], pads[3]))
    ho, wo = h + sum(pads[0]) - 2, w_ + sum(pads[1]) - 2
    x, _, _ = _data(n, h, w_, c, o)
    if ho <= 0 or wo <= 0:
        return
    dy = np.random.default_rng(1).standard_normal((n, ho, wo, o)).astype(np.float32)
    got = wg.backprop_filter(x, dy, pads, with_bias=bias)
    dw, db = got if bias else (got, None)
    want = K.conv_backprop_filter(x.astype(np.float64), dy.astype(np.float64), (3, 3, c, o),
                                  (1, 1), (1, 1), pads)
    _close(dw, want, n * ho * wo / 9)
    if bias:
        assert db.dtype == np.float32
        np.testing.assert_allclose(db, dy.astype(np.float64).sum((0, 1, 2)), rtol=1e-6,
                                   atol=1e-5)


@pytest.mark.parametrize("n, h, c, o", [(4, 32, 16, 16), (4, 16, 32, 32), (8, 8, 64, 64),
                                        (2, 13, 32, 64), (2, 8, 128, 128)])
def test_the_kernels_take_it_all_three(monkeypatch, n, h, c, o):
    """kernels.conv_bias_act, conv_backprop_input and conv_backprop_filter route ResNet's
    and the convnet's 3x3 stride-1 convolutions through it, with the reference's numbers."""
    calls = []
    real, real_dw = wg.conv, wg.backprop_filter
    monkeypatch.setattr(wg, "conv", lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    monkeypatch.setattr(wg, "backprop_filter",
                        lambda *a, **k: calls.append("dw") or real_dw(*a, **k))
    x, w, b = _data(n, h, h, c, o, seed=1)
    p = ((1, 1), (1, 1))
    y = K.conv_bias_act(x, w, b, (1, 1), (1, 1), p, relu=True)
    _close(y, np.maximum(_reference(x, w, b, p), 0), c)
    dy = np.random.default_rng(2).standard_normal((n, h, h, o)).astype(np.float32)
    dx = K.conv_backprop_input(dy, w, x.shape, (1, 1), (1, 1), p)
    want = K.conv_backprop_input(dy.astype(np.float64), w.astype(np.float64), x.shape,
                                 (1, 1), (1, 1), p)
    _close(dx, want, o)
    dw = K.conv_backprop_filter(x, dy, w.shape, (1, 1), (1, 1), p)
    want = K.conv_backprop_filter(x.astype(np.float64), dy.astype(np.float64), w.shape,
                                  (1, 1), (1, 1), p)
    _close(dw, want, n * h * h / 9)
    assert calls == [(3, 3, c, o), (3, 3, o, c), "dw"]   # the input gradient's filter: flipped


@pytest.mark.parametrize("x_shape, w_shape, strides, dilations", [
    ((2, 8, 8, 3), (3, 3, 3, 16), (1, 1), (1, 1)),       # a first layer: few channels lose
    ((2, 8, 8, 8), (3, 3, 8, 16), (1, 1), (1, 1)),
    ((2, 8, 8, 16), (3, 3, 16, 4), (1, 1), (1, 1)),
    ((2, 8, 8, 16), (3, 3, 16, 16), (2, 2), (1, 1)),     # strided
    ((2, 8, 8, 16), (3, 3, 16, 16), (1, 1), (2, 2)),     # dilated
    ((2, 8, 8, 16), (5, 5, 16, 16), (1, 1), (1, 1)),
    ((1, 3, 3, 2048), (3, 3, 2048, 16), (1, 1), (1, 1))])   # channels past the scratch's bound
def test_what_it_does_not_take(monkeypatch, x_shape, w_shape, strides, dilations):
    monkeypatch.setattr(wg, "conv", lambda *a, **k: pytest.fail("took Winograd"))
    if x_shape[3] < 16 or w_shape[3] < 8 or strides != (1, 1) or dilations != (1, 1) or \
            w_shape[0] != 3 or x_shape[3] > 1024:
        monkeypatch.setattr(wg, "backprop_filter", lambda *a, **k: pytest.fail("took it"))
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    y = K.conv(x, w, strides, dilations, ((1, 1), (1, 1)))
    want = K.conv(x.astype(np.float64), w.astype(np.float64), strides, dilations,
                  ((1, 1), (1, 1)))
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    dw = K.conv_backprop_filter(x, y, w_shape, strides, dilations, ((1, 1), (1, 1)))
    want = K.conv_backprop_filter(x.astype(np.float64), want, w_shape, strides, dilations,
                                  ((1, 1), (1, 1)))
    np.testing.assert_allclose(dw, want, rtol=1e-4, atol=1e-3)


def test_declines_other_dtypes_layouts_and_sizes():
    x, w, b = _data(1, 5, 5, 16, 16)
    p = ((1, 1), (1, 1))
    assert wg.conv(x.astype(np.float64), w, b, p) is None
    assert wg.conv(x, w.astype(np.float64), b, p) is None
    assert wg.conv(x, w[:2], b, p) is None                       # not 3x3
    assert wg.conv(x, w, b[:3], p) is None                       # bias of the wrong size
    assert wg.conv(x, w, b, ((-1, 1), (1, 1))) is None            # a crop
    assert wg.conv(np.zeros((0, 5, 5, 16), np.float32), w, b, p) is None
    assert wg.conv(x[:, :1, :1], w, b, ((0, 0), (0, 0))) is None  # no output pixel
    assert wg.conv(x, w[:, :, :8], None, p) is None              # channels that differ
    strided = np.zeros((1, 5, 5, 32), np.float32)[..., ::2]
    _close(wg.conv(strided, w, b, p), _reference(strided, w, b, p), 16)   # copied


class _NoPool:
    """Stands in for backend/native_pool: no C pool, so the Python kernel threads run."""
    @staticmethod
    def run(fn, rows, doubles=()):
        return False

    @staticmethod
    def threads():
        return 2


def test_c_pool_tasks_match_the_python_threads(monkeypatch):
    """Many tasks of few blocks each (a short last one) give the same bits on the C pool and
    on the Python kernel threads; the forward also the same as one task (each tile is
    computed alone), the filter gradient whatever the threads (its tasks are fixed by the
    shapes, their partials added in order)."""
    monkeypatch.setattr(K, "_busy", lambda: False)
    monkeypatch.setattr(wg, "_TASKS_PER_THREAD", 7)
    monkeypatch.setattr(wg, "_DW_TASK_WORK", 1 << 14)
    x, w, b = _data(5, 15, 13, 24, 40, seed=4)
    dy = np.random.default_rng(5).standard_normal((5, 15, 13, 40)).astype(np.float32)
    p = ((1, 1), (1, 1))
    calls = []
    run = wg._pool.run
    monkeypatch.setattr(wg._pool, "run", lambda fn, rows, d=(): calls.append(len(rows)) or
                        run(fn, rows, d))

    def both():
        return wg.conv(x, w, b, p, relu=True), wg.backprop_filter(x, dy, p, with_bias=True)

    (y, (dw, db)) = both()
    assert len(calls) == 2 and min(calls) > 2
    monkeypatch.setattr(wg, "_pool", _NoPool)
    (y2, (dw2, db2)) = both()
    for a, t in ((y, y2), (dw, dw2), (db, db2)):
        np.testing.assert_array_equal(a, t)
    monkeypatch.setattr(K, "_threads", 1)
    np.testing.assert_array_equal(dw, wg.backprop_filter(x, dy, p))
    monkeypatch.setattr(wg, "_TASKS_PER_THREAD", 1)
    monkeypatch.setattr(wg, "_BLOCK_FLOATS", 1 << 24)
    np.testing.assert_array_equal(y, wg.conv(x, w, b, p, relu=True))


def test_a_scratch_that_cannot_be_had_is_a_memory_error(monkeypatch):
    """A block of tiles whose scratch cannot be allocated: MemoryError naming the kernel,
    nothing written past the output (the next call works)."""
    x, w, b = _data(1, 6, 6, 16, 16)
    p = ((1, 1), (1, 1))
    with monkeypatch.context() as mp:
        mp.setattr(wg, "_BLOCK_FLOATS", 1 << 62)
        with pytest.raises(MemoryError, match="Winograd"):
            wg.conv(x, w, b, p)
        with pytest.raises(MemoryError, match="Winograd"):
            wg.backprop_filter(x, x, p)
    _close(wg.conv(x, w, b, p), _reference(x, w, b, p), 16)


def test_filter_transform_is_g_w_gt_and_its_adjoint():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 3, 17, 21)).astype(np.float32)
    g = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
    want = np.einsum("ai,ijco,bj->abco", g, w.astype(np.float64), g).reshape(16, 17, 21)
    np.testing.assert_allclose(wg.filter_transform(w, wg._fns()[1]), want, rtol=1e-6,
                               atol=1e-6)
    du = rng.standard_normal((16, 17, 21)).astype(np.float32)
    dg = np.empty((3, 3, 17, 21), np.float32)
    wg._fns()[3](du.ctypes.data, 17, 21, dg.ctypes.data)
    want = np.einsum("ai,abco,bj->ijco", g, du.reshape(4, 4, 17, 21).astype(np.float64), g)
    np.testing.assert_allclose(dg, want, rtol=1e-6, atol=1e-6)


def test_conv2d_op_and_its_gradients_as_in_float64(monkeypatch):
    """tf.nn.conv2d 3x3 'SAME' in float32 (Winograd forward and input gradient) gives the
    float64 op's output and gradients within float32 rounding."""
    import tenfold as tf
    calls = []
    real = wg.conv
    monkeypatch.setattr(wg, "conv", lambda *a, **k: calls.append(a[0].dtype) or real(*a, **k))
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 10, 10, 16))
    w = rng.standard_normal((3, 3, 16, 32))
    outs = {}
    for dt in (np.float32, np.float64):
        xv, wv = tf.constant(x.astype(dt)), tf.Variable(w.astype(dt))
        with tf.GradientTape() as tape:
            tape.watch(xv)
            y = tf.nn.relu(tf.nn.conv2d(xv, wv, 1, "SAME"))
            loss = tf.reduce_sum(y * y)
        outs[dt] = [np.asarray(v, np.float64) for v in [y] + tape.gradient(loss, [xv, wv])]
    assert calls == [np.float32] * 2   # the float64 op is not offered (the filter
    # gradient's route is checked in test_the_kernels_take_it_all_three)
    for a, b in zip(outs[np.float32], outs[np.float64]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max())


@pytest.mark.parametrize("at", [(0, 0), (0, 2), (1, 1), (2, 3), (3, 3), (4, 1)])
def test_a_nan_reaches_the_outputs_whose_windows_hold_it(at):
    """The transforms combine a tile's pixels, but a NaN or an infinity still reaches only
    the outputs whose 3x3 windows hold it (as in the direct sum): the other pixels of its
    tiles stay finite."""
    for bad in (np.nan, np.inf):
        x, w, b = _data(1, 6, 6, 16, 16)
        x[0, at[0], at[1], 3] = bad
        y = wg.conv(x, w, b, ((1, 1), (1, 1)))
        reached = np.zeros((6, 6), bool)
        reached[max(0, at[0] - 1):at[0] + 2, max(0, at[1] - 1):at[1] + 2] = True
        assert not np.isfinite(y[0][reached]).any()
        assert np.isfinite(y[0][~reached]).all()
        dy = np.ones((1, 6, 6, 16), np.float32)
        dw = wg.backprop_filter(x, dy, ((1, 1), (1, 1)))
        assert not np.isfinite(dw[:, :, 3]).all() and np.isfinite(np.delete(dw, 3, 2)).all()


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(3, 12), w_=st.integers(3, 12),
       c=st.sampled_from([16, 19, 32]), o=st.sampled_from([8, 16, 21, 64]),
       pads=st.sampled_from([((0, 0), (0, 0)), ((1, 1), (1, 1)), ((0, 1), (2, 0))]),
       relu=st.booleans(), bias=st.booleans(), ties=st.booleans())
def test_pooled_forward_is_the_forward_then_the_pooling(n, h, w_, c, o, pads, relu, bias,
                                                        ties):
    """conv_pool pools each output tile as it is made: the same bits and argmax as the
    Winograd forward followed by kernels' 2x2 pooling (ties, NaN, ReLU's dead windows)."""
    x, w, b = _data(n, h, w_, c, o, seed=7)
    b = b if bias else None
    if ties:   # whole windows of equal values (zero input, the bias alone), and a NaN
        x[:, : h // 2] = 0
        x[0, -1, -1, 0] = np.nan
    got = wg.conv_pool(x, w, b, pads, relu)
    y = wg.conv(x, w, b, pads, relu=False)
    out = np.empty((n, y.shape[1] // 2, y.shape[2] // 2, o), np.float32)
    idx = np.empty(out.shape, np.uint8)
    K._pool_into(y, out, idx, relu, None)
    np.testing.assert_array_equal(got[0], out)
    np.testing.assert_array_equal(got[1], idx)


def test_the_pooled_fusion_takes_it(monkeypatch):
    """kernels.conv_bias_act_pool (the executor's conv + ReLU + 2x2 pool fusion: the MNIST
    convnet's second conv) runs the pooled Winograd forward; few input channels stay with
    conv_direct.c's pooled kernel."""
    calls = []
    real = wg.conv_pool
    monkeypatch.setattr(wg, "conv_pool", lambda *a, **k: calls.append(a[1].shape) or
                        real(*a, **k))
    x, w, b = _data(4, 13, 13, 32, 64, seed=8)
    out, idx = K.conv_bias_act_pool(x, w, b, ((0, 0), (0, 0)), relu=True)
    assert calls == [(3, 3, 32, 64)]
    want = np.maximum(_reference(x, w, b, ((0, 0), (0, 0))), 0)[:, :10, :10]
    want = want.reshape(4, 5, 2, 5, 2, 64).max((2, 4))
    _close(out, want, 32)
    x1, w1, b1 = _data(4, 13, 13, 1, 32, seed=9)
    K.conv_bias_act_pool(x1, w1, b1, ((0, 0), (0, 0)), relu=True)
    assert len(calls) == 1


def _unpooled(g, idx):
    """The 2x2 max pooling's gradient at full size: g at each window's routed offset."""
    n, ha, wa, c = g.shape
    dz = np.zeros((n, 2 * ha, 2 * wa, c), g.dtype)
    for q, (a, b) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        dz[:, a::2, b::2] = np.where(idx == q, g, 0)
    return dz


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), ha=st.integers(1, 6), wa=st.integers(1, 6),
       c=st.sampled_from([16, 17, 24, 40]), o=st.sampled_from([8, 16, 19, 33]),
       pads=st.tuples(*[st.integers(0, 3)] * 4))
def test_routed_reads_equal_the_unpooled_gradient(n, ha, wa, c, o, pads):
    """conv_routed and the routed filter gradient read a pooled gradient through its argmax
    (offsets 0-3, and 4-7 for ReLU's dead windows): the bits of the same kernels on the
    unpooled gradient, made in full."""
    rng = np.random.default_rng(10)
    g = rng.standard_normal((n, ha, wa, c)).astype(np.float32)
    idx = rng.integers(0, 8, g.shape).astype(np.uint8)
    w = rng.standard_normal((3, 3, c, o)).astype(np.float32)
    pads = ((pads[0], pads[1]), (pads[2], pads[3]))
    dz = _unpooled(g, idx)
    want = wg.conv(dz, w, None, pads)
    got = wg.conv_routed(g, idx, w, pads)
    assert (got is None) == (want is None)
    if want is not None:
        np.testing.assert_array_equal(got, want)
    x = rng.standard_normal((n, 2 * ha + 2, 2 * wa + 2, o)).astype(np.float32)
    want = wg.backprop_filter(x, dz, ((0, 0), (0, 0)), with_bias=True)
    got = wg.backprop_filter(x, g, ((0, 0), (0, 0)), with_bias=True, route=idx)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], dz.astype(np.float64).sum((0, 1, 2)), rtol=1e-6,
                               atol=1e-5)


@pytest.mark.parametrize("n, h, c, o, pads", [(4, 13, 32, 64, ((0, 0), (0, 0))),
                                              (3, 12, 16, 24, ((1, 1), (1, 1))),
                                              (2, 11, 20, 17, ((1, 1), (1, 1))),
                                              (2, 9, 16, 16, ((0, 2), (1, 0)))])
def test_pooled_conv_gradients_never_make_the_unpooled_one(monkeypatch, n, h, c, o, pads):
    """The gradients of the conv + ReLU + 2x2 pool fusion (ops/conv_ops' pooled primitives)
    read the pooled gradient through the argmax: the float64 reference's numbers (odd
    sizes, whose last row the pooling drops, and padded convs too), and the unpooled
    gradient is never made."""
    from tenfold.ops import conv_ops as C
    monkeypatch.setattr(C, "_pooled_dz", lambda *a: pytest.fail("made the unpooled dz"))
    monkeypatch.setattr(C, "_plain_dz", lambda *a: pytest.fail("made the unpooled dz"))
    x, w, b = _data(n, h, h, c, o, seed=11)
    y, out = C.conv_bias_act_pool(x, w, b, pads, True)
    g = np.random.default_rng(12).standard_normal(out.shape).astype(np.float32)
    dx = C.conv_backprop_input_pooled(y, out, g, w, x.shape, pads)
    dw, db = C.conv_backprop_filter_pooled(x, y, out, g, w.shape, pads, True)
    dz = K.max_pool_2x2_grad_from_argmax(C.pooled_argmax(out, g), g, y.shape).astype(float)
    _close(dx, K.conv_backprop_input(dz, w.astype(float), x.shape, (1, 1), (1, 1), pads), o)
    _close(dw, K.conv_backprop_filter(x.astype(float), dz, w.shape, (1, 1), (1, 1), pads),
           n * h * h / 9)
    np.testing.assert_allclose(db, dz.sum((0, 1, 2)), rtol=1e-6, atol=1e-5)
