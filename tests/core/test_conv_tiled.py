"""The output-tiled 2-D convolution kernels (tenfold/backend/kernels.py: _conv2d_tiled,
_backprop_filter_tiled, strided or not, and the stride-1 input gradient as a flipped forward
convolution):
against a direct NumPy reference in float64 and the legacy kernels in float32, on odd shapes
(odd widths, asymmetric and large pads, non-square kernels, several chunks, threads), and
the fallbacks around them (strides, dilations, groups, pads beyond the kernel)."""
import numpy as np
import pytest

from tenfold.backend import kernels as K
from tests.core.test_conv_general import ref_conv  # the direct reference, one tap at a time


def ref_grads(x, w, dy, strides, dilations, pads, groups=1):
    """(dx, dw) of <dy, conv(x, w)> by linearity: one basis vector at a time (small shapes)."""
    dx = np.array([np.sum(ref_conv(e.reshape(x.shape), w, strides, dilations, pads, groups)
                          * dy) for e in np.eye(x.size)]).reshape(x.shape)
    dw = np.array([np.sum(ref_conv(x, e.reshape(w.shape), strides, dilations, pads, groups)
                          * dy) for e in np.eye(w.size)]).reshape(w.shape)
    return dx, dw


TILED = [  # (x shape, filter shape, pads): stride 1, undilated, one group -> tiled path
    ((2, 6, 6, 3), (3, 3, 3, 5), ((1, 1), (1, 1))),      # 1x2 tiles, SAME
    ((2, 5, 8, 3), (3, 3, 3, 4), ((1, 1), (1, 1))),      # 1x4 tiles (few channels)
    ((3, 5, 7, 4), (3, 3, 4, 4), ((1, 1), (1, 1))),      # odd width: 1x1 tiles
    ((2, 7, 8, 2), (2, 3, 2, 6), ((0, 1), (2, 1))),      # non-square, asymmetric pads
    ((2, 8, 6, 5), (5, 5, 5, 3), ((2, 2), (2, 2))),      # 5x5
    ((2, 6, 10, 3), (3, 3, 3, 2), ((0, 0), (0, 0))),     # VALID (no padded buffer)
    ((1, 4, 4, 40), (3, 3, 40, 36), ((1, 1), (1, 1))),   # > 32 channels: 1x1 tiles
]


@pytest.mark.parametrize("xs, ws, pads", TILED)
def test_tiled_path_is_taken_and_matches_a_direct_reference_float64(xs, ws, pads):
    assert K._tiled_ok(xs, ws, (1, 1), (1, 1), pads, 1)
    assert K._tile_for(ws[-2], ws[-1], ws[:2], K.out_sizes(xs[1:3], ws[:2], (1, 1), (1, 1),
                                                           pads)) is not None
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[-1])
    y = K.conv_bias_act(x, w, b, (1, 1), (1, 1), pads, relu=True)
    np.testing.assert_allclose(y, np.maximum(ref_conv(x, w, (1, 1), (1, 1), pads) + b, 0),
                               atol=1e-10)
    dy = rng.standard_normal(y.shape)
    dx = K.conv_backprop_input(dy, w, xs, (1, 1), (1, 1), pads)
    dw = K.conv_backprop_filter(x, dy, ws, (1, 1), (1, 1), pads)
    if x.size * y[0].size < 40000:
        rdx, rdw = ref_grads(x, w, dy, (1, 1), (1, 1), pads)
        np.testing.assert_allclose(dx, rdx, atol=1e-9)
        np.testing.assert_allclose(dw, rdw, atol=1e-9)
    # adjoint identities hold for any size
    y0 = K.conv(x, w, (1, 1), (1, 1), pads)
    np.testing.assert_allclose(np.sum(y0 * dy), np.sum(x * dx), rtol=1e-10)
    np.testing.assert_allclose(np.sum(y0 * dy), np.sum(w * dw), rtol=1e-10)
    assert y.dtype == dx.dtype == dw.dtype == np.float64


@pytest.mark.parametrize("xs, ws, pads", TILED + [
    ((2, 5, 6, 4), (3, 3, 4, 4), ((3, 0), (4, 1))),   # pads beyond k-1: input gradient falls back
    ((2, 8, 8, 4), (3, 3, 4, 4), ((1, 1), (1, 1)))])
@pytest.mark.parametrize("with_bias, relu", [(True, True), (True, False), (False, False)])
def test_tiled_path_matches_the_legacy_kernels_float32(xs, ws, pads, with_bias, relu,
                                                      monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[-1]).astype(np.float32) if with_bias else None
    y = K.conv_bias_act(x, w, b, (1, 1), (1, 1), pads, relu=relu)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = K.conv_backprop_input(dy, w, xs, (1, 1), (1, 1), pads)
    dw = K.conv_backprop_filter(x, dy, ws, (1, 1), (1, 1), pads)
    assert y.dtype == dx.dtype == dw.dtype == np.float32
    monkeypatch.setattr(K, "LEGACY", True)
    tol = dict(rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(y, K.conv_bias_act(x, w, b, (1, 1), (1, 1), pads, relu=relu),
                               **tol)
    np.testing.assert_allclose(dx, K.conv_backprop_input(dy, w, xs, (1, 1), (1, 1), pads),
                               **tol)
    np.testing.assert_allclose(dw, K.conv_backprop_filter(x, dy, ws, (1, 1), (1, 1), pads),
                               **tol)


@pytest.mark.parametrize("threads", [1, 2])
def test_tiled_path_over_many_chunks_and_threads(threads, monkeypatch):
    """Small chunk budgets (one image per chunk, a last partial chunk) and two threads give
    the same numbers as the whole-batch reference."""
    monkeypatch.setattr(K, "_TILED_BYTES", 1)
    monkeypatch.setattr(K, "_FILTER_TILED_BYTES", 1)
    monkeypatch.setattr(K, "_threads", threads)
    monkeypatch.setattr(K, "_MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(K, "_busy", lambda: False)
    rng = np.random.default_rng(2)
    xs, ws, pads = (5, 8, 6, 16), (3, 3, 16, 16), ((1, 1), (1, 1))
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(16)
    y = K.conv_bias_act(x, w, b, (1, 1), (1, 1), pads)
    np.testing.assert_allclose(y, ref_conv(x, w, (1, 1), (1, 1), pads) + b, atol=1e-10)
    dy = rng.standard_normal(y.shape)
    dx = K.conv_backprop_input(dy, w, xs, (1, 1), (1, 1), pads)
    dw = K.conv_backprop_filter(x, dy, ws, (1, 1), (1, 1), pads)
    y0 = ref_conv(x, w, (1, 1), (1, 1), pads)
    np.testing.assert_allclose(np.sum(y0 * dy), np.sum(x * dx), rtol=1e-10)
    np.testing.assert_allclose(np.sum(y0 * dy), np.sum(w * dw), rtol=1e-10)
    # the filter gradient sums its chunks in order: the same bits on any thread count
    monkeypatch.setattr(K, "_threads", 1)
    np.testing.assert_array_equal(dw, K.conv_backprop_filter(x, dy, ws, (1, 1), (1, 1), pads))


@pytest.mark.parametrize("xs, ws, strides, dil, pads, groups", [
    ((2, 7, 7, 4), (3, 3, 4, 4), (2, 2), (1, 1), ((1, 1), (1, 1)), 1),   # strided input grad
    ((2, 7, 7, 4), (3, 3, 4, 4), (1, 1), (2, 2), ((2, 2), (2, 2)), 1),   # dilated
    ((2, 6, 6, 4), (3, 3, 2, 6), (1, 1), (1, 1), ((1, 1), (1, 1)), 2),   # grouped
    ((2, 6, 6, 1), (3, 3, 1, 8), (1, 1), (1, 1), ((1, 1), (1, 1)), 1),   # one input channel
    ((2, 9, 5), (3, 5, 2), (1,), (1,), ((1, 1),), 1),                    # 1-d
    ((2, 4, 6, 3), (1, 1, 3, 4), (1, 1), (1, 1), ((1, 0), (0, 1)), 1),  # 1x1, stride 1
])
def test_fallbacks_around_the_tiled_path(xs, ws, strides, dil, pads, groups):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = K.conv(x, w, strides, dil, pads, groups)
    np.testing.assert_allclose(y, ref_conv(x, w, strides, dil, pads, groups), atol=1e-10)
    dy = rng.standard_normal(y.shape)
    dx = K.conv_backprop_input(dy, w, xs, strides, dil, pads, groups)
    dw = K.conv_backprop_filter(x, dy, ws, strides, dil, pads, groups)
    rdx, rdw = ref_grads(x, w, dy, strides, dil, pads, groups)
    np.testing.assert_allclose(dx, rdx, atol=1e-9)
    np.testing.assert_allclose(dw, rdw, atol=1e-9)


def test_half_precision_keeps_its_dtype_on_the_tiled_path():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 6, 4)).astype(np.float16)
    w = rng.standard_normal((3, 3, 4, 4)).astype(np.float16)
    pads = ((1, 1), (1, 1))
    y = K.conv(x, w, (1, 1), (1, 1), pads)
    dx = K.conv_backprop_input(y, w, x.shape, (1, 1), (1, 1), pads)
    dw = K.conv_backprop_filter(x, y, w.shape, (1, 1), (1, 1), pads)
    assert y.dtype == dx.dtype == dw.dtype == np.float16
    ref = ref_conv(x.astype(np.float64), w.astype(np.float64), (1, 1), (1, 1), pads)
    np.testing.assert_allclose(y.astype(np.float64), ref, atol=0.05, rtol=0.02)


def test_tiled_path_reads_a_strided_input_view():
    """The pooled-gradient fusions pass a cropped, non-contiguous x."""
    rng = np.random.default_rng(5)
    full = rng.standard_normal((3, 9, 9, 4))
    x = full[:, :8, :8]
    w = rng.standard_normal((3, 3, 4, 4))
    for pads in (((1, 1), (1, 1)), ((0, 0), (0, 0))):
        y = K.conv(x, w, (1, 1), (1, 1), pads)
        np.testing.assert_allclose(y, ref_conv(x, w, (1, 1), (1, 1), pads), atol=1e-10)
        dw = K.conv_backprop_filter(x, y, w.shape, (1, 1), (1, 1), pads)
        np.testing.assert_allclose(np.sum(y * y), np.sum(w * dw), rtol=1e-10)


STRIDED = [  # (x shape, filter shape, strides, pads): forward and filter gradient tiled
    ((2, 8, 8, 5), (3, 3, 5, 6), (2, 2), ((0, 1), (0, 1))),    # ResNet's 3x3/2 SAME
    ((2, 9, 10, 3), (3, 3, 3, 4), (2, 2), ((1, 1), (0, 1))),   # few channels: 1x2 tiles
    ((2, 9, 7, 6), (3, 2, 6, 5), (2, 1), ((1, 0), (2, 1))),    # mixed strides, asymmetric
    ((2, 10, 11, 4), (3, 3, 4, 4), (3, 3), ((1, 1), (1, 1))),  # stride 3, rows left unread
    ((2, 7, 8, 6), (1, 1, 6, 3), (2, 2), ((0, 1), (1, 0))),    # padded 1x1/2
]


@pytest.mark.parametrize("xs, ws, strides, pads", STRIDED)
def test_strided_tiled_path_matches_a_direct_reference_float64(xs, ws, strides, pads):
    assert K._tiled_ok(xs, ws, strides, (1, 1), pads, 1, strided=True)
    out_sp = K.out_sizes(xs[1:3], ws[:2], strides, (1, 1), pads)
    assert K._tile_for(ws[-2], ws[-1], ws[:2], out_sp, strides) is not None
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[-1])
    y = K.conv_bias_act(x, w, b, strides, (1, 1), pads, relu=True)
    np.testing.assert_allclose(y, np.maximum(ref_conv(x, w, strides, (1, 1), pads) + b, 0),
                               atol=1e-10)
    dy = rng.standard_normal(y.shape)
    dx = K.conv_backprop_input(dy, w, xs, strides, (1, 1), pads)
    dw = K.conv_backprop_filter(x, dy, ws, strides, (1, 1), pads)
    rdx, rdw = ref_grads(x, w, dy, strides, (1, 1), pads)
    np.testing.assert_allclose(dx, rdx, atol=1e-9)
    np.testing.assert_allclose(dw, rdw, atol=1e-9)


@pytest.mark.parametrize("xs, ws, strides, pads", STRIDED)
def test_strided_tiled_path_matches_the_legacy_kernels_float32(xs, ws, strides, pads,
                                                              monkeypatch):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[-1]).astype(np.float32)
    y = K.conv_bias_act(x, w, b, strides, (1, 1), pads)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dw = K.conv_backprop_filter(x, dy, ws, strides, (1, 1), pads)
    assert y.dtype == dw.dtype == np.float32
    monkeypatch.setattr(K, "LEGACY", True)
    np.testing.assert_allclose(y, K.conv_bias_act(x, w, b, strides, (1, 1), pads),
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dw, K.conv_backprop_filter(x, dy, ws, strides, (1, 1), pads),
                               rtol=1e-5, atol=1e-4)


def test_pointwise_convs_stay_one_plain_gemm():
    assert K._tile_for(16, 32, (1, 1), (8, 8)) is None
    assert K._tile_for(16, 32, (1, 1), (8, 8), (2, 2)) is not None   # strided: columns


SUBPIXEL = [  # (x shape, filter shape, strides, pads): strided input gradient, C_out > C_in
    ((2, 8, 8, 3), (3, 3, 3, 6), (2, 2), ((0, 1), (0, 1))),     # ResNet's 3x3/2 SAME
    ((2, 9, 7, 2), (3, 3, 2, 5), (2, 2), ((1, 1), (1, 0))),     # odd sizes: phase by phase
    ((2, 10, 11, 2), (4, 4, 2, 3), (3, 2), ((1, 2), (2, 0))),   # mixed strides, 4x4
    ((2, 7, 9, 3), (2, 3, 3, 4), (2, 3), ((0, 0), (1, 1))),     # non-square, rows unread
    ((1, 6, 6, 2), (3, 3, 2, 4), (2, 2), ((3, 0), (0, 3))),     # pads past the kernel
]


@pytest.mark.parametrize("xs, ws, strides, pads", SUBPIXEL)
def test_subpixel_input_gradient_matches_a_direct_reference_float64(xs, ws, strides, pads):
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = K.conv(x, w, strides, (1, 1), pads)
    assert K._subpixel_wins(y.shape, ws, xs, strides, (1, 1), pads, 1)
    dy = rng.standard_normal(y.shape)
    dx = K.conv_backprop_input(dy, w, xs, strides, (1, 1), pads)
    rdx, _ = ref_grads(x, w, dy, strides, (1, 1), pads)
    np.testing.assert_allclose(dx, rdx, atol=1e-9)
    assert dx.dtype == np.float64


@pytest.mark.parametrize("xs, ws, strides, pads", SUBPIXEL)
def test_subpixel_input_gradient_matches_the_legacy_kernel_float32(xs, ws, strides, pads,
                                                                   monkeypatch):
    rng = np.random.default_rng(9)
    w = rng.standard_normal(ws).astype(np.float32)
    y_sp = K.out_sizes(xs[1:3], ws[:2], strides, (1, 1), pads)
    dy = rng.standard_normal((xs[0],) + y_sp + (ws[-1],)).astype(np.float32)
    dx = K.conv_backprop_input(dy, w, xs, strides, (1, 1), pads)
    assert dx.dtype == np.float32
    monkeypatch.setattr(K, "LEGACY", True)
    np.testing.assert_allclose(dx, K.conv_backprop_input(dy, w, xs, strides, (1, 1), pads),
                               rtol=1e-5, atol=1e-4)


def test_subpixel_rule_leaves_wide_and_pointwise_cases_alone():
    # 1x1/2 would be 4x the FLOPs; 64 channels measured slower; C_out <= C_in: phases
    assert not K._subpixel_wins((2, 4, 4, 8), (1, 1, 4, 8), (2, 8, 8, 4), (2, 2), (1, 1),
                                ((0, 0), (0, 0)), 1)
    assert not K._subpixel_wins((2, 4, 4, 64), (3, 3, 32, 64), (2, 8, 8, 32), (2, 2), (1, 1),
                                ((0, 1), (0, 1)), 1)
    assert not K._subpixel_wins((2, 4, 4, 4), (3, 3, 8, 4), (2, 8, 8, 8), (2, 2), (1, 1),
                                ((0, 1), (0, 1)), 1)
