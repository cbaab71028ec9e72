"""Convolution and pooling ops against direct-loop NumPy references (written here, independently
of the kernels), finite-difference gradients in float64, second derivatives and error cases."""
import itertools
import os

import numpy as np
import pytest

import tenfold as tf
from tenfold.backend import kernels
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops import conv_ops as nn

RNG = np.random.default_rng(1234)


def rand(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.fixture(params=["default", "tiny"])
def chunks(request, monkeypatch):
    """Runs a test with the kernels' normal chunk sizes and with chunks of a few images shared
    out to threads, so the chunk loops, their remainders and the threaded path are exercised
    on small inputs."""
    if request.param == "tiny":
        monkeypatch.setattr(kernels, "_MIN_PARALLEL_BYTES", 0)
        monkeypatch.setattr(kernels, "_threads", 2)
        monkeypatch.setattr(kernels, "_CHUNK_BYTES", 3000)
        monkeypatch.setattr(kernels, "_FILTER_CHUNK_BYTES", 5000)
        monkeypatch.setattr(kernels, "_COL2IM_CHUNK_BYTES", 4000)


# ------------------------------------------------------------------------------------------
# references: TensorFlow's padding rule and direct loops over output positions

def ref_pads(in_sp, ksize, strides, dilations, padding):
    if isinstance(padding, str) and padding == "VALID":
        return [(0, 0)] * len(in_sp)
    if isinstance(padding, str):  # SAME: ceil(n / s) outputs, the odd extra pad at the end
        pads = []
        for n, k, s, d in zip(in_sp, ksize, strides, dilations):
            eff = (k - 1) * d + 1
            out = -(-n // s)
            total = max(0, (out - 1) * s + eff - n)
            pads.append((total // 2, total - total // 2))
        return pads
    return [tuple(p) for p in padding]


def spatial_iter(shape):
    return itertools.product(*[range(n) for n in shape])


def ref_windows(x, ksize, strides, dilations, padding, fill=0.0):
    """(N, *out, prod(ksize), C) stacks of window elements, in row-major window order."""
    nd = x.ndim - 2
    pads = ref_pads(x.shape[1:-1], ksize, strides, dilations, padding)
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)], constant_values=fill)
    out_sp = [(xp.shape[1 + i] - (ksize[i] - 1) * dilations[i] - 1) // strides[i] + 1
              for i in range(nd)]
    res = np.empty([x.shape[0]] + out_sp + [int(np.prod(ksize)), x.shape[-1]], x.dtype)
    for o in spatial_iter(out_sp):
        for j, k in enumerate(spatial_iter(ksize)):
            idx = tuple(o[i] * strides[i] + k[i] * dilations[i] for i in range(nd))
            res[(slice(None),) + o + (j,)] = xp[(slice(None),) + idx]
    return res


def ref_conv(x, w, strides, dilations, padding, groups=1):
    nd = x.ndim - 2
    ksize = w.shape[:nd]
    win = ref_windows(x, ksize, strides, dilations, padding)  # (N, *out, K, C)
    wk = w.reshape((-1,) + w.shape[nd:])  # (K, Cg, O)
    cg, o = w.shape[-2], w.shape[-1]
    og = o // groups
    outs = [np.einsum("...kc,kco->...o", win[..., g * cg:(g + 1) * cg],
                      wk[..., g * og:(g + 1) * og]) for g in range(groups)]
    return np.concatenate(outs, axis=-1)


def ref_conv_transpose(x, w, out_shape, strides, dilations, padding):
    """Scatter form: each input pixel adds its filter-weighted patch to the output."""
    nd = x.ndim - 2
    ksize = w.shape[:nd]
    pads = ref_pads(out_shape[1:-1], ksize, strides, dilations, padding)
    padded = [out_shape[1 + i] + pads[i][0] + pads[i][1] for i in range(nd)]
    outp = np.zeros([out_shape[0]] + padded + [out_shape[-1]], x.dtype)
    for i in spatial_iter(x.shape[1:-1]):
        for k in spatial_iter(ksize):
            pos = tuple(i[a] * strides[a] + k[a] * dilations[a] for a in range(nd))
            if all(p < n for p, n in zip(pos, padded)):
                outp[(slice(None),) + pos] += x[(slice(None),) + i] @ w[k].T
    crop = tuple(slice(a, a + n) for (a, _), n in zip(pads, out_shape[1:-1]))
    return outp[(slice(None),) + crop]


def ref_depthwise(x, w, strides, dilations, padding):
    win = ref_windows(x, w.shape[:2], strides, dilations, padding)  # (N, H, W, K, C)
    out = np.einsum("nhwkc,kcm->nhwcm", win, w.reshape(-1, w.shape[2], w.shape[3]))
    return out.reshape(out.shape[:3] + (-1,))


def ref_max_pool(x, ksize, strides, padding, dilations=None):
    dilations = dilations or (1,) * len(ksize)
    return ref_windows(x, ksize, strides, dilations, padding, fill=-np.inf).max(axis=-2)


def ref_avg_pool(x, ksize, strides, padding, dilations=None):
    dilations = dilations or (1,) * len(ksize)
    return np.nanmean(ref_windows(x, ksize, strides, dilations, padding, fill=np.nan), axis=-2)


def ref_max_pool_grad(x, g, ksize, strides, padding):
    """Each output's gradient goes to its window's first maximum (row-major window order)."""
    nd = x.ndim - 2
    pads = ref_pads(x.shape[1:-1], ksize, strides, (1,) * nd, padding)
    win = ref_windows(x, ksize, strides, (1,) * nd, padding, fill=-np.inf)
    first = win.argmax(axis=-2)  # NumPy's argmax returns the first occurrence
    dx = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for o in spatial_iter(g.shape[1:-1]):
            for c in range(x.shape[-1]):
                k = np.unravel_index(first[(n,) + o + (c,)], ksize)
                pos = tuple(o[a] * strides[a] + k[a] - pads[a][0] for a in range(nd))
                dx[(n,) + pos + (c,)] += g[(n,) + o + (c,)]
    return dx


# ------------------------------------------------------------------------------------------
# gradient checking by central differences (float64)

def numeric_grad(f, args, i, eps=1e-6):
    x = args[i].copy()
    g = np.zeros_like(x)
    flat, gf = x.reshape(-1), g.reshape(-1)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        hi = f(*[x if k == i else a for k, a in enumerate(args)])
        flat[j] = old - eps
        lo = f(*[x if k == i else a for k, a in enumerate(args)])
        flat[j] = old
        gf[j] = (hi - lo) / (2 * eps)
    return g


def check_gradients(fn, *arrays, wrt=None, rtol=1e-5, atol=1e-7):
    """fn maps tenfold tensors to a tensor; checks d sum(fn * r) / d each input."""
    out = fn(*[tf.constant(a) for a in arrays]).numpy()
    r = rand(*out.shape)

    def scalar(*arrs):
        return float(np.sum(fn(*[tf.constant(a) for a in arrs]).numpy() * r))

    ts = [tf.constant(a) for a in arrays]
    with tf.GradientTape(persistent=True) as tape:
        for t in ts:
            tape.watch(t)
        loss = tf.reduce_sum(fn(*ts) * tf.constant(r))
    for i in (range(len(arrays)) if wrt is None else wrt):
        got = tape.gradient(loss, ts[i])
        assert got is not None, f"no gradient for input {i}"
        np.testing.assert_allclose(got.numpy(), numeric_grad(scalar, list(arrays), i),
                                   rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def second_order(fn, *arrays):
    """fn(*tensors) -> tensor; for each input i, checks the gradient of <d L / d input_i, v>
    with respect to every input, for the non-quadratic L = sum(r * fn ** 2). That needs the
    gradient rules' own gradients, in each of their inputs."""
    out = fn(*[tf.constant(a) for a in arrays]).numpy()
    r = rand(*out.shape)
    for i in range(len(arrays)):
        v = rand(*arrays[i].shape)

        def first(*ts, i=i, v=v):
            with tf.GradientTape() as inner:
                inner.watch(ts[i])
                y = tf.reduce_sum(fn(*ts) ** 2 * tf.constant(r))
            return tf.reduce_sum(inner.gradient(y, ts[i]) * tf.constant(v))

        check_gradients(first, *arrays)


# ------------------------------------------------------------------------------------------
# convolution forward

CONV2D_CASES = [
    # x shape, filter shape, strides, dilations, padding
    ((2, 7, 7, 3), (3, 3, 3, 4), 1, 1, "VALID"),
    ((2, 7, 7, 3), (3, 3, 3, 4), 1, 1, "SAME"),
    ((2, 7, 8, 3), (3, 3, 3, 4), 2, 1, "SAME"),
    ((2, 7, 8, 3), (3, 3, 3, 4), 2, 1, "VALID"),
    ((1, 8, 9, 2), (2, 3, 2, 5), (2, 1), 1, "SAME"),
    ((1, 8, 9, 2), (2, 2, 2, 5), 1, 1, "SAME"),          # even kernel: extra pad at the end
    ((1, 8, 9, 2), (4, 4, 2, 3), 3, 1, "SAME"),
    ((2, 9, 9, 2), (3, 3, 2, 3), 1, 2, "SAME"),
    ((2, 9, 10, 2), (3, 2, 2, 3), 1, (2, 3), "VALID"),
    ((2, 9, 10, 2), (3, 3, 2, 3), 2, 2, "SAME"),
    ((3, 5, 5, 4), (1, 1, 4, 6), 1, 1, "VALID"),         # pointwise
    ((3, 5, 5, 4), (1, 1, 4, 6), 2, 1, "SAME"),
    ((5, 9, 8, 1), (3, 3, 1, 4), 1, 1, "VALID"),         # single input channel
    ((5, 9, 8, 1), (3, 3, 1, 4), 2, 1, "SAME"),
    ((1, 4, 4, 3), (4, 4, 3, 2), 1, 1, "VALID"),         # 1x1 output
    ((2, 6, 7, 2), (3, 3, 2, 3), 1, 1, [[0, 0], [1, 2], [0, 1], [0, 0]]),
    ((2, 6, 7, 2), (3, 3, 2, 3), 2, 1, [[0, 0], [3, 0], [2, 2], [0, 0]]),
    ((2, 6, 6, 4), (3, 3, 2, 6), 1, 1, "SAME"),          # 2 groups
    ((2, 6, 6, 3), (3, 3, 1, 3), 2, 1, "VALID"),         # 3 groups of one channel
    ((9, 6, 6, 3), (3, 3, 3, 2), 1, 1, "SAME"),          # several chunks
    ((9, 6, 6, 1), (2, 2, 1, 2), 1, 1, "VALID"),
]


def _sp(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("xs,ws,strides,dil,padding", CONV2D_CASES)
def test_conv2d_forward(xs, ws, strides, dil, padding, chunks):
    x, w = rand(*xs, dtype=np.float32), rand(*ws, dtype=np.float32)
    got = nn.conv2d(x, w, strides=strides, padding=padding, dilations=dil).numpy()
    pad = padding if isinstance(padding, str) else padding[1:3]
    want = ref_conv(x.astype(np.float64), w.astype(np.float64), _sp(strides, 2), _sp(dil, 2),
                    pad, groups=xs[-1] // ws[-2])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv2d_same_output_sizes():
    for n, k, s in itertools.product(range(1, 9), range(1, 5), range(1, 4)):
        y = nn.conv2d(np.ones((1, n, n + 1, 1), np.float32), np.ones((k, k, 1, 1), np.float32),
                      strides=s, padding="SAME")
        assert y.shape[1:3] == (-(-n // s), -(-(n + 1) // s))


def test_conv2d_nchw_matches_nhwc():
    x, w = rand(2, 3, 7, 6), rand(3, 3, 3, 4)
    got = nn.conv2d(x, w, strides=[1, 1, 2, 2], padding="SAME", data_format="NCHW").numpy()
    want = ref_conv(x.transpose(0, 2, 3, 1), w, (2, 2), (1, 1), "SAME").transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_conv2d_full_strides_list_and_explicit_nchw():
    x, w = rand(1, 2, 6, 6), rand(3, 3, 2, 2)
    got = nn.conv2d(x, w, [1, 1, 1, 1], [[0, 0], [0, 0], [1, 0], [2, 1]], "NCHW").numpy()
    want = ref_conv(x.transpose(0, 2, 3, 1), w, (1, 1), (1, 1), [(1, 0), (2, 1)])
    np.testing.assert_allclose(got, want.transpose(0, 3, 1, 2), rtol=1e-10)


@pytest.mark.parametrize("xs,ws,stride,dil,padding,fmt", [
    ((2, 9, 3), (3, 3, 4), 1, 1, "VALID", "NWC"),
    ((2, 9, 3), (3, 3, 4), 2, 1, "SAME", "NWC"),
    ((1, 10, 2), (2, 2, 3), 1, 3, "SAME", "NWC"),
    ((2, 3, 9), (3, 3, 4), 2, 1, "SAME", "NCW"),
])
def test_conv1d(xs, ws, stride, dil, padding, fmt):
    x, w = rand(*xs), rand(*ws)
    got = nn.conv1d(x, w, stride, padding, data_format=fmt, dilations=dil).numpy()
    xl = x.transpose(0, 2, 1) if fmt == "NCW" else x
    want = ref_conv(xl, w, (stride,), (dil,), padding)
    if fmt == "NCW":
        want = want.transpose(0, 2, 1)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("strides,padding", [(1, "VALID"), (2, "SAME"), ((1, 2, 1), "SAME")])
def test_conv3d_and_convolution(strides, padding):
    x, w = rand(2, 5, 6, 4, 2), rand(2, 3, 2, 2, 3)
    want = ref_conv(x, w, _sp(strides, 3), (1, 1, 1), padding)
    got = nn.conv3d(x, w, strides if isinstance(strides, int) else [1, *strides, 1], padding)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    got = nn.convolution(x, w, strides=strides, padding=padding)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_convolution_dilated_and_atrous():
    x, w = rand(2, 9, 9, 2), rand(3, 3, 2, 3)
    want = ref_conv(x, w, (1, 1), (2, 2), "SAME")
    np.testing.assert_allclose(nn.convolution(x, w, padding="SAME", dilations=2).numpy(), want,
                               rtol=1e-10)
    np.testing.assert_allclose(nn.atrous_conv2d(x, w, 2, "SAME").numpy(), want, rtol=1e-10)


@pytest.mark.parametrize("dtype,tol", [(np.float16, 2e-2), (tf.bfloat16, 5e-2),
                                       (np.float64, 1e-12)])
def test_conv2d_dtypes(dtype, tol):
    x, w = rand(2, 6, 6, 3), rand(3, 3, 3, 2)
    xt, wt = tf.cast(tf.constant(x), dtype), tf.cast(tf.constant(w), dtype)
    y = nn.conv2d(xt, wt, 1, "SAME")
    assert y.dtype == xt.dtype
    want = ref_conv(tf.cast(xt, tf.float64).numpy(), tf.cast(wt, tf.float64).numpy(), (1, 1),
                    (1, 1), "SAME")
    np.testing.assert_allclose(tf.cast(y, tf.float64).numpy(), want, rtol=tol, atol=tol * 4)


def test_conv2d_int32():
    x = RNG.integers(-5, 5, (1, 5, 5, 2)).astype(np.int32)
    w = RNG.integers(-3, 3, (3, 3, 2, 2)).astype(np.int32)
    y = nn.conv2d(x, w, 1, "VALID")
    assert y.dtype == tf.int32
    np.testing.assert_array_equal(y.numpy(), ref_conv(x, w, (1, 1), (1, 1), "VALID"))


# ------------------------------------------------------------------------------------------
# transposed convolution

TRANSPOSE_CASES = [
    # x shape, filter [h, w, out, in], output_shape, strides, dilations, padding
    ((2, 4, 4, 3), (3, 3, 2, 3), (2, 8, 8, 2), 2, 1, "SAME"),
    ((2, 4, 4, 3), (3, 3, 2, 3), (2, 7, 7, 2), 2, 1, "SAME"),
    ((2, 4, 4, 3), (3, 3, 2, 3), (2, 9, 9, 2), 2, 1, "VALID"),
    ((2, 4, 4, 3), (3, 3, 2, 3), (2, 10, 10, 2), 2, 1, "VALID"),
    ((1, 5, 6, 2), (2, 3, 3, 2), (1, 5, 6, 3), 1, 1, "SAME"),
    ((1, 5, 6, 2), (3, 3, 3, 2), (1, 9, 10, 3), 1, 2, "VALID"),
    ((1, 3, 4, 2), (4, 4, 1, 2), (1, 9, 12, 1), 3, 1, "SAME"),
    ((3, 4, 4, 5), (1, 1, 3, 5), (3, 4, 4, 3), 1, 1, "VALID"),
    ((2, 3, 3, 2), (3, 3, 2, 2), (2, 6, 4, 2), (2, 1), 1, [[0, 0], [1, 1], [0, 1], [0, 0]]),
]


@pytest.mark.parametrize("xs,ws,out,strides,dil,padding", TRANSPOSE_CASES)
def test_conv2d_transpose(xs, ws, out, strides, dil, padding, chunks):
    x, w = rand(*xs), rand(*ws)
    got = nn.conv2d_transpose(x, w, out, strides, padding, dilations=dil).numpy()
    pad = padding if isinstance(padding, str) else padding[1:3]
    want = ref_conv_transpose(x, w, out, _sp(strides, 2), _sp(dil, 2), pad)
    assert got.shape == out
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_conv_transpose_is_the_input_gradient_of_conv():
    x, w = rand(2, 7, 6, 3), rand(3, 3, 3, 4)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = nn.conv2d(xt, w, 2, "SAME")
    g = rand(*y.shape)
    dx = tape.gradient(y, xt, output_gradients=tf.constant(g))
    np.testing.assert_allclose(dx.numpy(), nn.conv2d_transpose(g, w, x.shape, 2, "SAME").numpy(),
                               rtol=1e-12)


def test_conv1d_and_3d_transpose():
    x, w = rand(2, 4, 3), rand(3, 2, 3)
    np.testing.assert_allclose(nn.conv1d_transpose(x, w, (2, 8, 2), 2).numpy(),
                               ref_conv_transpose(x, w, (2, 8, 2), (2,), (1,), "SAME"),
                               rtol=1e-10)
    x, w = rand(1, 2, 3, 2, 2), rand(2, 2, 2, 3, 2)
    np.testing.assert_allclose(
        nn.conv3d_transpose(x, w, (1, 4, 6, 4, 3), 2).numpy(),
        ref_conv_transpose(x, w, (1, 4, 6, 4, 3), (2, 2, 2), (1, 1, 1), "SAME"), rtol=1e-10)


def test_conv2d_transpose_nchw():
    x, w = rand(2, 3, 4, 4), rand(3, 3, 2, 3)
    got = nn.conv2d_transpose(x, w, (2, 2, 8, 8), 2, "SAME", data_format="NCHW").numpy()
    want = ref_conv_transpose(x.transpose(0, 2, 3, 1), w, (2, 8, 8, 2), (2, 2), (1, 1), "SAME")
    np.testing.assert_allclose(got, want.transpose(0, 3, 1, 2), rtol=1e-10)


# ------------------------------------------------------------------------------------------
# depthwise / separable

DEPTHWISE_CASES = [
    ((2, 7, 6, 3), (3, 3, 3, 2), 1, 1, "SAME"),
    ((2, 7, 6, 3), (3, 3, 3, 1), 2, 1, "VALID"),
    ((1, 9, 9, 2), (3, 3, 2, 3), 1, 2, "SAME"),
    ((1, 6, 7, 4), (2, 2, 4, 1), 2, 1, "SAME"),
    ((1, 6, 7, 2), (3, 3, 2, 2), 1, 1, [[0, 0], [2, 0], [1, 1], [0, 0]]),
]


@pytest.mark.parametrize("xs,ws,strides,dil,padding", DEPTHWISE_CASES)
def test_depthwise_conv2d(xs, ws, strides, dil, padding):
    x, w = rand(*xs), rand(*ws)
    st = [1, strides, strides, 1]
    got = nn.depthwise_conv2d(x, w, st, padding, dilations=[dil, dil]).numpy()
    pad = padding if isinstance(padding, str) else padding[1:3]
    np.testing.assert_allclose(got, ref_depthwise(x, w, (strides,) * 2, (dil,) * 2, pad),
                               rtol=1e-10, atol=1e-12)


def test_depthwise_backprop_ops_match_gradients():
    x, w = rand(2, 6, 7, 3), rand(3, 3, 3, 2)
    xt, wt = tf.constant(x), tf.constant(w)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([xt, wt])
        y = nn.depthwise_conv2d(xt, wt, [1, 2, 2, 1], "SAME")
    g = rand(*y.shape)
    gx, gw = tape.gradient(y, [xt, wt], output_gradients=tf.constant(g))
    bi = nn.depthwise_conv2d_backprop_input(x.shape, w, g, [1, 2, 2, 1], "SAME")
    bf = nn.depthwise_conv2d_backprop_filter(x, w.shape, g, [1, 2, 2, 1], "SAME")
    np.testing.assert_allclose(bi.numpy(), gx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bf.numpy(), gw.numpy(), rtol=1e-12)


def test_separable_conv2d():
    x, dw, pw = rand(2, 7, 7, 3), rand(3, 3, 3, 2), rand(1, 1, 6, 4)
    got = nn.separable_conv2d(x, dw, pw, [1, 2, 2, 1], "SAME").numpy()
    want = ref_conv(ref_depthwise(x, dw, (2, 2), (1, 1), "SAME"), pw, (1, 1), (1, 1), "VALID")
    np.testing.assert_allclose(got, want, rtol=1e-10)


# ------------------------------------------------------------------------------------------
# pooling

POOL2D_CASES = [
    # x shape, ksize, strides, padding
    ((2, 8, 8, 3), 2, 2, "VALID"),
    ((2, 9, 7, 3), 2, 2, "VALID"),
    ((2, 9, 7, 3), 2, 2, "SAME"),
    ((2, 7, 7, 2), 3, 2, "SAME"),
    ((2, 7, 7, 2), 3, 2, "VALID"),
    ((1, 6, 5, 2), 3, 1, "SAME"),
    ((1, 6, 8, 2), (2, 3), (1, 2), "SAME"),
    ((1, 6, 8, 2), (1, 1), (2, 3), "VALID"),
    ((3, 5, 5, 1), 5, 1, "VALID"),
    ((1, 4, 4, 2), 4, 3, "SAME"),
]


@pytest.mark.parametrize("xs,ksize,strides,padding", POOL2D_CASES)
def test_pool2d_forward(xs, ksize, strides, padding, chunks):
    x = rand(*xs, dtype=np.float32)
    ks, st = _sp(ksize, 2), _sp(strides, 2)
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(nn.max_pool2d(x, ksize, strides, padding).numpy(),
                                  ref_max_pool(x64, ks, st, padding).astype(np.float32))
    np.testing.assert_allclose(nn.avg_pool2d(x, ksize, strides, padding).numpy(),
                               ref_avg_pool(x64, ks, st, padding), rtol=1e-6, atol=1e-6)
    full = [1, *ks, 1]
    np.testing.assert_array_equal(nn.max_pool(x, full, [1, *st, 1], padding).numpy(),
                                  nn.max_pool2d(x, ksize, strides, padding).numpy())


def test_avg_pool_same_counts_only_real_elements():
    x = np.ones((1, 3, 3, 1), np.float32)
    np.testing.assert_array_equal(nn.avg_pool2d(x, 2, 2, "SAME").numpy(), np.ones((1, 2, 2, 1)))
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    # bottom-right window holds only x[2, 2] = 8; top-right holds x[0:2, 2] = (2 + 5) / 2
    y = nn.avg_pool2d(x, 2, 2, "SAME").numpy()[0, :, :, 0]
    np.testing.assert_array_equal(y, [[2.0, 3.5], [6.5, 8.0]])


def test_max_pool_explicit_padding_never_picks_the_pad():
    x = -np.ones((1, 3, 3, 1), np.float32) - rand(1, 3, 3, 1, dtype=np.float32) ** 2
    y = nn.max_pool2d(x, 2, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]).numpy()
    np.testing.assert_array_equal(
        y, ref_windows(x.astype(np.float64), (2, 2), (1, 1), (1, 1), [(1, 1), (1, 1)],
                       fill=-np.inf).max(axis=-2).astype(np.float32))


@pytest.mark.parametrize("fn,ref", [(nn.max_pool1d, ref_max_pool), (nn.avg_pool1d, ref_avg_pool)])
def test_pool1d(fn, ref):
    x = rand(2, 9, 3)
    for k, s, p in [(2, 2, "VALID"), (3, 2, "SAME"), (3, 1, "SAME")]:
        np.testing.assert_allclose(fn(x, k, s, p).numpy(), ref(x, (k,), (s,), p), rtol=1e-12)
    xc = x.transpose(0, 2, 1)
    np.testing.assert_allclose(fn(xc, 3, 2, "SAME", data_format="NCW").numpy(),
                               ref(x, (3,), (2,), "SAME").transpose(0, 2, 1), rtol=1e-12)


def test_pool3d():
    x = rand(2, 5, 4, 6, 2)
    for k, s, p in [(2, 2, "VALID"), (3, 2, "SAME")]:
        np.testing.assert_allclose(nn.max_pool3d(x, k, s, p).numpy(),
                                   ref_max_pool(x, (k,) * 3, (s,) * 3, p), rtol=1e-12)
        np.testing.assert_allclose(nn.avg_pool3d(x, k, s, p).numpy(),
                                   ref_avg_pool(x, (k,) * 3, (s,) * 3, p), rtol=1e-12)


def test_pool_generic_with_dilations():
    x = rand(2, 9, 8, 2)
    for kind, ref in [("MAX", ref_max_pool), ("AVG", ref_avg_pool)]:
        got = nn.pool(x, [3, 2], kind, padding="VALID", dilations=[2, 3]).numpy()
        np.testing.assert_allclose(got, ref(x, (3, 2), (1, 1), "VALID", (2, 3)), rtol=1e-12)
        got = nn.pool(x, [2, 2], kind, strides=[2, 2], padding="SAME").numpy()
        np.testing.assert_allclose(got, ref(x, (2, 2), (2, 2), "SAME"), rtol=1e-12)
    nchw = nn.pool(x.transpose(0, 3, 1, 2), [3, 3], "MAX", [2, 2], "SAME", data_format="NCHW")
    np.testing.assert_allclose(nchw.numpy().transpose(0, 2, 3, 1),
                               ref_max_pool(x, (3, 3), (2, 2), "SAME"), rtol=1e-12)


def test_max_pool_int_and_half():
    x = RNG.integers(-100, 100, (2, 6, 6, 3)).astype(np.int32)
    np.testing.assert_array_equal(nn.max_pool2d(x, 2, 2, "SAME").numpy(),
                                  ref_max_pool(x.astype(np.float64), (2, 2), (2, 2),
                                               "SAME").astype(np.int32))
    for dt in (tf.float16, tf.bfloat16):
        xh = tf.cast(tf.constant(rand(2, 6, 6, 3)), dt)
        y = nn.max_pool2d(xh, 3, 2, "SAME")
        assert y.dtype == dt
        np.testing.assert_array_equal(
            tf.cast(y, tf.float64).numpy(),
            ref_max_pool(tf.cast(xh, tf.float64).numpy(), (3, 3), (2, 2), "SAME"))


def test_max_pool_with_argmax():
    x = rand(2, 5, 6, 3)
    y, idx = nn.max_pool_with_argmax(x, 2, 2, "SAME")
    assert idx.dtype == tf.int64
    np.testing.assert_array_equal(y.numpy(), ref_max_pool(x, (2, 2), (2, 2), "SAME"))
    flat = x.reshape(2, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(2, -1), 1),
                                  y.numpy().reshape(2, -1))
    _, idx_b = nn.max_pool_with_argmax(x, 2, 2, "SAME", include_batch_in_index=True)
    np.testing.assert_array_equal(x.reshape(-1)[idx_b.numpy()], y.numpy())


# ------------------------------------------------------------------------------------------
# gradients (central differences, float64)

@pytest.mark.parametrize("xs,ws,strides,dil,padding", [
    ((2, 5, 5, 2), (3, 3, 2, 3), 1, 1, "VALID"),
    ((2, 5, 6, 2), (3, 3, 2, 2), 2, 1, "SAME"),
    ((1, 6, 6, 1), (2, 2, 1, 3), 1, 2, "SAME"),
    ((1, 5, 5, 2), (3, 3, 2, 2), 2, 1, [[0, 0], [1, 2], [2, 0], [0, 0]]),
    ((1, 4, 4, 4), (3, 3, 2, 4), 1, 1, "SAME"),           # grouped
    ((2, 3, 3, 3), (1, 1, 3, 2), 1, 1, "VALID"),          # pointwise
])
def test_conv2d_gradients(xs, ws, strides, dil, padding, chunks):
    check_gradients(lambda x, w: nn.conv2d(x, w, strides, padding, dilations=dil),
                    rand(*xs), rand(*ws))


def test_conv_gradients_nchw_1d_3d():
    check_gradients(lambda x, w: nn.conv2d(x, w, 2, "SAME", data_format="NCHW"),
                    rand(1, 2, 5, 5), rand(3, 3, 2, 2))
    check_gradients(lambda x, w: nn.conv1d(x, w, 2, "SAME", dilations=1), rand(2, 7, 2),
                    rand(3, 2, 3))
    check_gradients(lambda x, w: nn.conv3d(x, w, [1, 2, 1, 1, 1], "SAME"), rand(1, 3, 3, 3, 1),
                    rand(2, 2, 2, 1, 2))


@pytest.mark.parametrize("xs,ws,out,strides,padding", [
    ((1, 3, 3, 2), (3, 3, 2, 2), (1, 6, 6, 2), 2, "SAME"),
    ((1, 3, 3, 2), (3, 3, 1, 2), (1, 8, 7, 1), 2, "VALID"),
])
def test_conv2d_transpose_gradients(xs, ws, out, strides, padding):
    check_gradients(lambda x, w: nn.conv2d_transpose(x, w, out, strides, padding),
                    rand(*xs), rand(*ws))


def test_depthwise_and_separable_gradients():
    check_gradients(lambda x, w: nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "SAME"),
                    rand(1, 5, 5, 2), rand(3, 3, 2, 2))
    check_gradients(lambda x, w: nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID",
                                                     dilations=[2, 2]),
                    rand(1, 6, 6, 2), rand(2, 2, 2, 1))
    check_gradients(lambda x, d, p: nn.separable_conv2d(x, d, p, [1, 1, 1, 1], "SAME"),
                    rand(1, 4, 4, 2), rand(3, 3, 2, 2), rand(1, 1, 4, 3))


@pytest.mark.parametrize("ksize,strides,padding", [
    (2, 2, "VALID"), (3, 2, "SAME"), (3, 1, "SAME"), ((2, 3), (2, 1), "VALID")])
def test_pool_gradients(ksize, strides, padding, chunks):
    x = rand(2, 7, 6, 2)  # distinct values: the max is unique, so central differences work
    check_gradients(lambda t: nn.max_pool2d(t, ksize, strides, padding), x)
    check_gradients(lambda t: nn.avg_pool2d(t, ksize, strides, padding), x)


def test_pool_gradients_1d_3d_dilated():
    check_gradients(lambda t: nn.max_pool1d(t, 3, 2, "SAME"), rand(2, 7, 2))
    check_gradients(lambda t: nn.avg_pool3d(t, 2, 1, "SAME"), rand(1, 3, 3, 3, 1))
    check_gradients(lambda t: nn.pool(t, [2, 2], "AVG", padding="VALID", dilations=[2, 2]),
                    rand(1, 5, 5, 1))
    check_gradients(lambda t: nn.pool(t, [2, 2], "MAX", padding="VALID", dilations=[2, 1]),
                    rand(1, 5, 5, 1))
    # the kernels also pool dilated windows with SAME padding (tf.nn.pool refuses it)
    check_gradients(lambda t: nn._avg_pool(t, ksize=(2, 2), strides=(1, 1), dilations=(2, 2),
                                           pads=((1, 1), (1, 1))), rand(1, 5, 5, 1))


@pytest.mark.parametrize("xs,ksize,strides,padding", [
    ((2, 8, 8, 3), 2, 2, "VALID"), ((2, 7, 9, 2), 2, 2, "VALID"), ((2, 7, 7, 2), 3, 2, "SAME"),
    ((1, 6, 6, 2), 3, 1, "SAME"), ((1, 5, 5, 1), 2, 3, "SAME")])
def test_max_pool_gradient_ties_go_to_the_first_max(xs, ksize, strides, padding, chunks):
    x = RNG.integers(0, 3, xs).astype(np.float32)  # many ties (as after a ReLU)
    x[0, :2, :2] = 0.0
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = nn.max_pool2d(xt, ksize, strides, padding)
    g = rand(*y.shape, dtype=np.float32)
    got = tape.gradient(y, xt, output_gradients=tf.constant(g)).numpy()
    want = ref_max_pool_grad(x.astype(np.float64), g.astype(np.float64), _sp(ksize, 2),
                             _sp(strides, 2), padding)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("xs", [(3, 8, 8, 3), (2, 7, 9, 2), (2, 6, 6, 1)])
def test_max_pool_2x2_paths_agree(xs, chunks):
    """The 2x2 kernels: with the argmax kept from the forward pass (under a tape) and with the
    maxima found again (no argmax kept), on tie-heavy inputs, against the reference."""
    x = RNG.integers(0, 3, xs).astype(np.float32)
    p = dict(ksize=(2, 2), strides=(2, 2), dilations=(1, 1), pads=((0, 0), (0, 0)))
    out, idx = kernels.max_pool_2x2_argmax(x)
    np.testing.assert_array_equal(out, kernels.max_pool(x, **p))
    np.testing.assert_array_equal(out, ref_max_pool(x.astype(np.float64), (2, 2), (2, 2),
                                                    "VALID"))
    g = rand(*out.shape, dtype=np.float32)
    want = ref_max_pool_grad(x.astype(np.float64), g.astype(np.float64), (2, 2), (2, 2),
                             "VALID")
    np.testing.assert_allclose(kernels.max_pool_2x2_grad_from_argmax(idx, g, x.shape), want,
                               rtol=1e-6)
    np.testing.assert_allclose(kernels.max_pool_grad(x, out, g, **p), want, rtol=1e-6)


def test_max_pool_argmax_entry_lives_as_long_as_the_output():
    import gc
    x = tf.constant(rand(2, 6, 6, 2))
    gc.collect()  # entries of earlier tests' outputs that only a collection frees
    before = len(nn._argmax)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = nn.max_pool2d(x, 2, 2, "VALID")
    assert len(nn._argmax) == before + 1
    tape.gradient(y, x)
    del y, tape
    gc.collect()
    assert len(nn._argmax) == before
    nn.max_pool2d(x, 2, 2, "VALID")  # nothing recording: nothing kept
    assert len(nn._argmax) == before


# --- second derivatives: the gradient rules are primitives with their own rules ---

def test_conv_second_order():
    second_order(lambda x, w: nn.conv2d(x, w, 2, "SAME"), rand(1, 4, 5, 2), rand(3, 3, 2, 2))
    second_order(lambda x, w: nn.conv2d(x, w, 1, "SAME"), rand(1, 4, 4, 4), rand(2, 2, 2, 2))
    second_order(lambda x, w: nn.conv2d_transpose(x, w, (1, 6, 6, 2), 2, "SAME"),
                 rand(1, 3, 3, 2), rand(3, 3, 2, 2))
    second_order(lambda x, w: nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "SAME"),
                 rand(1, 5, 5, 2), rand(2, 2, 2, 2))


def test_conv_hessian_vector_in_x():
    # conv is linear in x: the second derivative in x alone is zero, not missing
    x, w = tf.constant(rand(1, 4, 4, 1)), tf.constant(rand(2, 2, 1, 1))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(nn.conv2d(x, w, 1, "SAME") ** 2)
        gx = inner.gradient(y, x)
        s = tf.reduce_sum(gx)
    h = outer.gradient(s, x).numpy()
    # d/dx sum(2 conv^T conv x) = 2 conv^T conv 1: check against finite differences of gx
    eps = 1e-6
    base = x.numpy()
    num = np.zeros_like(base).reshape(-1)

    def gsum(v):
        t = tf.constant(v)
        with tf.GradientTape() as tp:
            tp.watch(t)
            yy = tf.reduce_sum(nn.conv2d(t, w, 1, "SAME") ** 2)
        return float(tf.reduce_sum(tp.gradient(yy, t)).numpy())
    for i in range(num.size):
        d = np.zeros(base.size)
        d[i] = eps
        num[i] = (gsum(base + d.reshape(base.shape)) - gsum(base - d.reshape(base.shape))) / (
            2 * eps)
    np.testing.assert_allclose(h.reshape(-1), num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["MAX", "AVG"])
def test_pool_gradient_of_gradient(kind, chunks):
    x = rand(1, 5, 6, 2)
    fn = nn.max_pool2d if kind == "MAX" else nn.avg_pool2d
    y = fn(x, 3, 2, "SAME")
    u0, v = rand(*y.shape), rand(*x.shape)

    def h(u):  # <d pool / dx applied to u, v>: linear in u
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            yy = fn(xt, 3, 2, "SAME")
        return tf.reduce_sum(tape.gradient(yy, xt, output_gradients=u) * tf.constant(v))

    check_gradients(lambda u: h(u), u0)
    if kind == "MAX":  # the gradient does not depend on x (almost everywhere)
        xt, ut = tf.constant(x), tf.constant(u0)
        with tf.GradientTape() as outer:
            outer.watch(xt)
            with tf.GradientTape() as inner:
                inner.watch(xt)
                yy = fn(xt, 3, 2, "SAME")
            s = tf.reduce_sum(inner.gradient(yy, xt, output_gradients=ut) * tf.constant(v))
        np.testing.assert_array_equal(outer.gradient(s, xt).numpy(), np.zeros_like(x))


# --- fused conv + bias + relu (for layers) ---

@pytest.mark.parametrize("xs,ws,strides,padding,act", [
    ((2, 7, 7, 3), (3, 3, 3, 4), 1, "VALID", "relu"),
    ((2, 7, 8, 1), (3, 3, 1, 4), 2, "SAME", "relu"),
    ((2, 5, 5, 4), (1, 1, 4, 3), 1, "VALID", None),
    ((2, 6, 6, 4), (3, 3, 2, 6), 1, "SAME", "relu"),   # grouped
])
def test_fused_conv_forward(xs, ws, strides, padding, act, chunks):
    x, w, b = rand(*xs), rand(*ws), rand(ws[-1])
    got = nn.fused_conv(x, w, b, strides, padding, activation=act).numpy()
    want = ref_conv(x, w, (strides,) * 2, (1, 1), padding, groups=xs[-1] // ws[-2]) + b
    if act == "relu":
        want = np.maximum(want, 0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_fused_conv_gradients_and_layouts():
    check_gradients(lambda x, w, b: nn.fused_conv(x, w, b, 1, "SAME", activation="relu"),
                    rand(2, 5, 5, 2), rand(3, 3, 2, 3), rand(3))
    check_gradients(lambda x, w, b: nn.fused_conv(x, w, b, 2, "VALID", "NCHW", activation="relu"),
                    rand(1, 2, 6, 5), rand(3, 3, 2, 3), rand(3))
    check_gradients(lambda x, w, b: nn.fused_conv(x, w, b, 1, "SAME", activation="relu"),
                    rand(2, 6, 2), rand(2, 2, 3), rand(3))
    second_order(lambda x, w, b: nn.fused_conv(x, w, b, 1, "SAME", activation="relu"),
                 rand(1, 4, 4, 2), rand(3, 3, 2, 2), rand(2))
    x, w = rand(1, 5, 5, 2), rand(3, 3, 2, 3)
    np.testing.assert_allclose(nn.fused_conv(x, w, None, 1, "SAME", "NHWC").numpy(),
                               ref_conv(x, w, (1, 1), (1, 1), "SAME"), rtol=1e-10)


def test_fused_conv_shared_relu_mask_is_not_stale():
    """The ReLU mask is shared by the three gradient rules of one backward step; a second
    gradient call (and a nested tape) must still get correct, recorded gradients."""
    x, w, b = (tf.constant(a) for a in (rand(2, 5, 5, 2), rand(3, 3, 2, 3), rand(3)))
    with tf.GradientTape(persistent=True) as outer:
        outer.watch([x, w, b])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, w, b])
            y = nn.fused_conv(x, w, b, 1, "SAME", activation="relu")
            ref = tf.maximum(nn.conv2d(x, w, 1, "SAME") + b, 0.0)
            loss, loss_ref = tf.reduce_sum(y ** 2), tf.reduce_sum(ref ** 2)
        g1 = tape.gradient(loss, [x, w, b])
        g2 = tape.gradient(loss, [x, w, b])
        gr = tape.gradient(loss_ref, [x, w, b])
        s, s_ref = tf.reduce_sum(g2[1] * g2[1]), tf.reduce_sum(gr[1] * gr[1])
    for a, c, r in zip(g1, g2, gr):
        np.testing.assert_allclose(a.numpy(), r.numpy(), rtol=1e-10)
        np.testing.assert_allclose(c.numpy(), r.numpy(), rtol=1e-10)
    for a, r in zip(outer.gradient(s, [x, w, b]), outer.gradient(s_ref, [x, w, b])):
        np.testing.assert_allclose(a.numpy(), r.numpy(), rtol=1e-9, atol=1e-12)


def test_fused_conv_errors():
    x, w = np.zeros((1, 5, 5, 2), np.float32), np.zeros((3, 3, 2, 3), np.float32)
    with pytest.raises(ValueError, match="activation"):
        nn.fused_conv(x, w, np.zeros(3, np.float32), 1, "SAME", activation="tanh")
    with pytest.raises(InvalidArgumentError, match=r"bias must have shape \[3\]"):
        nn.fused_conv(x, w, np.zeros(4, np.float32), 1, "SAME")


# ------------------------------------------------------------------------------------------
# errors

def test_conv_errors():
    x, w = np.zeros((2, 5, 5, 3), np.float32), np.zeros((3, 3, 2, 4), np.float32)
    with pytest.raises(InvalidArgumentError, match="input has 3 channels but filter expects 2"):
        nn.conv2d(x, w, 1, "SAME")
    with pytest.raises(InvalidArgumentError, match="input has 3 channels but filter expects 1"):
        nn.conv2d(x, np.zeros((3, 3, 1, 4), np.float32), 1, "SAME")  # 4 outputs, not 3 groups
    with pytest.raises(InvalidArgumentError, match=r"rank-4.*rank 3.*expand_dims"):
        nn.conv2d(x[0], np.zeros((3, 3, 3, 4), np.float32), 1, "SAME")
    with pytest.raises(InvalidArgumentError, match="filters must be a rank-4"):
        nn.conv2d(x, np.zeros((3, 3, 4), np.float32), 1, "SAME")
    with pytest.raises(ValueError, match="padding must be 'SAME' or 'VALID'"):
        nn.conv2d(x, np.zeros((3, 3, 3, 4), np.float32), 1, "FULL")
    with pytest.raises(InvalidArgumentError, match="output size would be negative"):
        nn.conv2d(np.zeros((1, 2, 2, 1), np.float32), np.zeros((4, 4, 1, 1), np.float32), 1,
                  "VALID")
    with pytest.raises(ValueError, match="strides must be positive"):
        nn.conv2d(x, np.zeros((3, 3, 3, 4), np.float32), 0, "SAME")
    with pytest.raises(InvalidArgumentError, match="batch and channel"):
        nn.conv2d(x, np.zeros((3, 3, 3, 4), np.float32), [2, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="data_format"):
        nn.conv2d(x, np.zeros((3, 3, 3, 4), np.float32), 1, "SAME", data_format="HWNC")
    with pytest.raises(InvalidArgumentError, match="batch and channel"):
        nn.conv2d(x, np.zeros((3, 3, 3, 4), np.float32), 1, [[1, 0], [0, 0], [0, 0], [0, 0]])
    with pytest.raises(InvalidArgumentError, match="same dtype"):
        nn.conv2d(tf.constant(x), tf.zeros((3, 3, 3, 4), tf.float64), 1, "SAME")
    with pytest.raises(TypeError, match="does not support"):
        nn.conv2d(tf.zeros((1, 3, 3, 1), tf.uint8), tf.zeros((1, 1, 1, 1), tf.uint8), 1, "SAME")


def test_conv_transpose_errors():
    x, w = np.zeros((1, 4, 4, 3), np.float32), np.zeros((3, 3, 2, 3), np.float32)
    with pytest.raises(InvalidArgumentError, match="does not match the input"):
        nn.conv2d_transpose(x, w, (1, 12, 12, 2), 2, "SAME")
    with pytest.raises(InvalidArgumentError, match="input has 3 channels but filter expects 2"):
        nn.conv2d_transpose(x, np.zeros((3, 3, 3, 2), np.float32), (1, 8, 8, 3), 2)
    with pytest.raises(InvalidArgumentError, match="channels"):
        nn.conv2d_transpose(x, w, (1, 8, 8, 5), 2)
    with pytest.raises(ValueError, match="output_shape must have 4 entries"):
        nn.conv2d_transpose(x, w, (1, 8, 8), 2)


def test_depthwise_and_pool_errors():
    x = np.zeros((1, 5, 5, 3), np.float32)
    with pytest.raises(InvalidArgumentError, match="input has 3 channels but filter expects 2"):
        nn.depthwise_conv2d(x, np.zeros((3, 3, 2, 1), np.float32), [1, 1, 1, 1], "SAME")
    with pytest.raises(InvalidArgumentError, match="pointwise_filter"):
        nn.separable_conv2d(x, np.zeros((3, 3, 3, 2), np.float32),
                            np.zeros((1, 1, 3, 4), np.float32), [1, 1, 1, 1], "SAME")
    with pytest.raises(InvalidArgumentError, match="output size would be negative"):
        nn.max_pool2d(x, 7, 1, "VALID")
    with pytest.raises(InvalidArgumentError, match="batch and channel"):
        nn.max_pool2d(x, [1, 2, 2, 2], 1, "VALID")
    with pytest.raises(ValueError, match="padding must be 'SAME' or 'VALID', got"):
        nn.avg_pool2d(x, 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match="padding"):
        nn.max_pool2d(x, 2, 2, "same_ish")
    with pytest.raises(InvalidArgumentError, match="rank-4"):
        nn.max_pool2d(x[0], 2, 2, "VALID")
    with pytest.raises(TypeError, match="does not support int32"):
        nn.avg_pool2d(x.astype(np.int32), 2, 2, "VALID")
    with pytest.raises(ValueError, match="pooling_type"):
        nn.pool(x, [2, 2], "MIN")
    with pytest.raises(ValueError, match="dilations"):
        nn.pool(x, [2, 2], "MAX", strides=[2, 2], dilations=[2, 2])
    with pytest.raises(ValueError, match="'SAME' padding is not implemented for dilations"):
        nn.pool(x, [2, 2], "AVG", padding="SAME", dilations=[2, 2])


def test_zero_size_output_is_allowed_like_tensorflow():
    # TF allows a zero-sized window count ((in - k + s) / s == 0), only negative is an error
    y = nn.conv2d(np.zeros((1, 2, 2, 1), np.float32), np.zeros((3, 3, 1, 2), np.float32), 1,
                  "VALID")
    assert y.shape == (1, 0, 0, 2)
    assert nn.max_pool2d(np.zeros((1, 2, 2, 1), np.float32), 3, 1, "VALID").shape == (1, 0, 0, 1)


def test_all_names_exported():
    for name in nn.__all__:
        assert callable(getattr(nn, name)), name


# ------------------------------------------------------------------------------------------
# the keras package (numpy backend) as a second oracle for padding semantics; its numpy
# backend runs convolutions through jax.lax, so this needs jax

def test_against_keras_ops():
    pytest.importorskip("jax")
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "numpy":
        pytest.skip("keras is not on the numpy backend")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    for s, p in [(1, "same"), (2, "same"), (2, "valid")]:
        np.testing.assert_allclose(nn.conv2d(x, w, s, p.upper()).numpy(),
                                   np.asarray(keras.ops.conv(x, w, s, p)), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(nn.max_pool2d(x, 3, s, p.upper()).numpy(),
                                   np.asarray(keras.ops.max_pool(x, 3, s, p)), rtol=0)
        np.testing.assert_allclose(nn.avg_pool2d(x, 3, s, p.upper()).numpy(),
                                   np.asarray(keras.ops.average_pool(x, 3, s, p)), rtol=1e-5,
                                   atol=1e-6)
