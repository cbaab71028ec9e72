"""The general conv kernels of issue 17 (tenfold/backend/kernels.py): the input gradient by
output phases, the scatter form of few-output-channel convolutions, and the fused batch
normalization, each against a direct NumPy reference (float64), their gradients against finite
differences, Keras layers (KERAS_BACKEND=numpy) as the oracle, and a bounded Hypothesis search
over random configurations."""
import itertools
import os

os.environ.setdefault("KERAS_BACKEND", "numpy")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

import tenfold as tf  # noqa: E402
from tenfold.backend import kernels as K  # noqa: E402
from tenfold.testing.gradcheck import gradient_check  # noqa: E402


def ref_conv(x, w, strides, dilations, pads, groups=1):
    """Direct N-d cross-correlation, one kernel tap at a time (float64)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    xp = np.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])
    ksize = w.shape[:-2]
    cg, cout = w.shape[-2], w.shape[-1]
    og = cout // groups
    out_sp = K.out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    y = np.zeros((x.shape[0],) + tuple(out_sp) + (cout,))
    for k in itertools.product(*[range(n) for n in ksize]):
        sl = tuple(slice(ki * d, ki * d + (o - 1) * s + 1, s)
                   for ki, d, o, s in zip(k, dilations, out_sp, strides))
        v = xp[(slice(None),) + sl + (slice(None),)]
        for g in range(groups):
            wk = w[k][:, g * og:(g + 1) * og]
            y[..., g * og:(g + 1) * og] += v[..., g * cg:(g + 1) * cg] @ wk
    return y


def ref_backprop_input(dy, w, x_shape, strides, dilations, pads, groups=1):
    """The adjoint of ref_conv in x, through its Jacobian-free definition: <dy, conv(e_i)>."""
    x0 = np.zeros(x_shape)
    # conv is linear in x: dx = J^T dy, with J built one input element at a time
    dx = np.zeros(x_shape)
    flat = x0.reshape(-1)
    for i in range(flat.size):
        flat[i] = 1.0
        dx.reshape(-1)[i] = np.sum(ref_conv(x0, w, strides, dilations, pads, groups) * dy)
        flat[i] = 0.0
    return dx


CASES = [  # (x shape, filter shape, strides, dilations, pads, groups)
    ((2, 7, 7, 4), (3, 3, 4, 4), (1, 1), (1, 1), ((1, 1), (1, 1)), 1),
    ((2, 8, 8, 4), (3, 3, 4, 2), (2, 2), (1, 1), ((0, 1), (0, 1)), 1),
    ((2, 7, 7, 6), (4, 4, 6, 3), (2, 2), (1, 1), ((1, 2), (1, 2)), 1),
    ((2, 9, 8, 8), (3, 2, 8, 2), (3, 2), (2, 1), ((2, 0), (1, 3)), 1),
    ((1, 6, 6, 8), (7, 7, 8, 1), (1, 1), (1, 1), ((3, 3), (3, 3)), 1),   # scatter forward
    ((2, 5, 5, 16), (3, 3, 16, 2), (1, 1), (2, 2), ((2, 2), (2, 2)), 1),  # scatter, dilated
    ((2, 6, 6, 4), (3, 3, 2, 6), (2, 1), (1, 1), ((1, 1), (1, 1)), 2),   # grouped
    ((2, 9, 5), (3, 5, 2), (2,), (1,), ((1, 1),), 1),                     # 1-d
    ((1, 4, 5, 4, 3), (2, 3, 2, 3, 2), (2, 1, 1), (1, 1, 2), ((0, 1), (1, 1), (1, 1)), 1),
    ((2, 6, 5, 8), (3, 2, 8, 1), (1, 1), (2, 1), ((0, 3), (2, 0)), 1),   # scatter, uneven pads
    ((3, 7, 16), (4, 16, 2), (1,), (1,), ((0, 0),), 1),                  # scatter 1-d, VALID
    ((2, 4, 4, 16), (3, 3, 16, 1), (1, 1), (1, 1), ((4, 0), (0, 4)), 1),  # taps off x
]


@pytest.mark.parametrize("xs, ws, strides, dil, pads, groups", CASES)
def test_kernels_against_direct_reference(xs, ws, strides, dil, pads, groups):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = K.conv(x, w, strides, dil, pads, groups)
    np.testing.assert_allclose(y, ref_conv(x, w, strides, dil, pads, groups), atol=1e-10)
    dy = rng.standard_normal(y.shape)
    dx = K.conv_backprop_input(dy, w, xs, strides, dil, pads, groups)
    np.testing.assert_allclose(dx, ref_backprop_input(dy, w, xs, strides, dil, pads, groups),
                               atol=1e-10)
    dw = K.conv_backprop_filter(x, dy, ws, strides, dil, pads, groups)
    # <dy, conv(x, w)> is linear in w: its gradient is conv_backprop_filter
    num = np.array([np.sum(ref_conv(x, e.reshape(ws), strides, dil, pads, groups) * dy)
                    for e in np.eye(int(np.prod(ws)))]).reshape(ws)
    np.testing.assert_allclose(dw, num, atol=1e-10)
    # gradients are C-contiguous, as the optimizers' blocked updates take them
    assert y.flags.c_contiguous and dx.flags.c_contiguous and dw.flags.c_contiguous


@pytest.mark.parametrize("xs, ws, strides, dil, pads, groups", CASES[:6])
def test_new_paths_match_the_legacy_kernels_float32(xs, ws, strides, dil, pads, groups,
                                                      monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[-1]).astype(np.float32)
    y = K.conv_bias_act(x, w, b, strides, dil, pads, groups, relu=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = K.conv_backprop_input(dy, w, xs, strides, dil, pads, groups)
    monkeypatch.setattr(K, "LEGACY", True)
    assert y.dtype == dx.dtype == np.float32
    np.testing.assert_allclose(y, K.conv_bias_act(x, w, b, strides, dil, pads, groups, True),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, K.conv_backprop_input(dy, w, xs, strides, dil, pads,
                                                         groups), rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(K, "LEGACY", False)
    dw = K.conv_backprop_filter(x, dy, ws, strides, dil, pads, groups)
    monkeypatch.setattr(K, "LEGACY", True)
    assert dw.dtype == np.float32
    np.testing.assert_allclose(dw, K.conv_backprop_filter(x, dy, ws, strides, dil, pads,
                                                          groups), rtol=1e-4, atol=1e-4)


def test_half_precision_input_gradient_keeps_its_dtype():
    rng = np.random.default_rng(2)
    dy = rng.standard_normal((1, 4, 4, 2)).astype(np.float16)
    w = rng.standard_normal((3, 3, 3, 2)).astype(np.float16)
    dx = K.conv_backprop_input(dy, w, (1, 7, 7, 3), (2, 2), (1, 1), ((1, 1), (1, 1)))
    assert dx.dtype == np.float16
    ref = ref_backprop_input(dy.astype(np.float64), w.astype(np.float64), (1, 7, 7, 3),
                             (2, 2), (1, 1), ((1, 1), (1, 1)))
    np.testing.assert_allclose(dx.astype(np.float64), ref, atol=0.05, rtol=0.02)


@pytest.mark.parametrize("strides, padding, cin, cout", [
    (1, "SAME", 8, 1), (2, "SAME", 4, 4), (2, "VALID", 6, 3), (3, "SAME", 3, 5)])
def test_public_ops_gradients_by_finite_differences(strides, padding, cin, cout):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 6, cin))
    w = rng.standard_normal((3, 4, cin, cout))
    gradient_check(lambda a, b: tf.nn.conv2d(a, b, strides, padding), [x, w])
    y = tf.nn.conv2d(x, w, strides, padding)
    gradient_check(lambda a, b: tf.nn.conv2d_transpose(a, b, (2, 7, 6, cin), strides,
                                                       padding), [y.numpy(), w])


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_property_random_conv_configurations(data):
    nd = data.draw(st.integers(1, 3), label="nd")
    ksize = tuple(data.draw(st.integers(1, 4), label="k") for _ in range(nd))
    strides = tuple(data.draw(st.integers(1, 3), label="s") for _ in range(nd))
    dil = tuple(data.draw(st.integers(1, 2), label="d") for _ in range(nd))
    pads = tuple((data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3)))
                 for _ in range(nd))
    groups = data.draw(st.sampled_from([1, 1, 2]), label="groups")
    cg = data.draw(st.integers(1, 4), label="cin per group")
    og = data.draw(st.integers(1, 4), label="cout per group")
    sp = tuple(data.draw(st.integers(1, 7), label="size") for _ in range(nd))
    out_sp = K.out_sizes(sp, ksize, strides, dil, pads)
    if min(out_sp) == 0:
        return
    xs = (2,) + sp + (cg * groups,)
    ws = ksize + (cg, og * groups)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = K.conv(x, w, strides, dil, pads, groups)
    np.testing.assert_allclose(y, ref_conv(x, w, strides, dil, pads, groups), atol=1e-9)
    dy = rng.standard_normal(y.shape)
    dx = K.conv_backprop_input(dy, w, xs, strides, dil, pads, groups)
    # adjoint identity: <conv(x, w), dy> == <x, conv_backprop_input(dy, w)>
    np.testing.assert_allclose(np.sum(y * dy), np.sum(x * dx), rtol=1e-9, atol=1e-9)
    dw = K.conv_backprop_filter(x, dy, ws, strides, dil, pads, groups)
    np.testing.assert_allclose(np.sum(y * dy), np.sum(w * dw), rtol=1e-9, atol=1e-9)


# --- Keras as the oracle for layers -----------------------------------------------------

from tests.keras.layers.layers_oracle import compare_with_keras  # noqa: E402


@pytest.mark.parametrize("name, kwargs, shape", [
    ("Conv2D", dict(filters=6, kernel_size=3, strides=2, padding="same"), (2, 9, 8, 4)),
    ("Conv2D", dict(filters=4, kernel_size=(3, 2), dilation_rate=2, padding="valid"),
     (2, 9, 8, 4)),
    ("Conv2D", dict(filters=6, kernel_size=3, groups=2, padding="same"), (2, 7, 7, 4)),
    ("Conv2D", dict(filters=1, kernel_size=7, padding="same", activation="sigmoid"),
     (2, 8, 8, 8)),
    ("Conv2DTranspose", dict(filters=5, kernel_size=4, strides=2, padding="same"),
     (2, 7, 7, 6)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="valid"),
     (2, 5, 4, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=1, dilation_rate=2,
                             padding="same"), (2, 5, 4, 6)),
    ("DepthwiseConv2D", dict(kernel_size=3, strides=2, padding="same"), (2, 8, 8, 3)),
    ("SeparableConv2D", dict(filters=5, kernel_size=3, padding="same"), (2, 8, 8, 3)),
    ("Conv1D", dict(filters=3, kernel_size=5, strides=2, padding="causal"), (2, 11, 4)),
    ("Conv3D", dict(filters=2, kernel_size=2, strides=(1, 2, 1), padding="same"),
     (1, 4, 5, 4, 3)),
])
def test_layers_match_keras(name, kwargs, shape):
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    compare_with_keras(name, kwargs, x, atol=1e-4, rtol=1e-4)


# --- fused batch normalization (ops/fused_ops.py) against its unfused twin -----------------

from tenfold.ops import fused_ops  # noqa: E402
from tenfold.keras.layers import normalization as _norm  # noqa: E402


def _unfused_bn(x, gamma, beta, eps):
    mean = tf.reduce_mean(x, axis=list(range(x.ndim - 1)), keepdims=True)
    var = tf.reduce_mean(tf.square(x - mean), axis=list(range(x.ndim - 1)), keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + eps) * gamma + beta


@pytest.mark.parametrize("shape", [(4, 3), (3, 4, 5, 6), (2, 3, 7)])
def test_batch_norm_train_matches_the_unfused_chain_and_finite_differences(shape):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    y = fused_ops.batch_norm_train(tf.constant(x), tf.constant(gamma), tf.constant(beta),
                                   epsilon=1e-3)
    ref = _unfused_bn(tf.constant(x), gamma, beta, 1e-3)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), atol=1e-12)
    stats = fused_ops.batch_norm_stats(tf.constant(x), y).numpy()
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(stats, [x.mean(axes), x.var(axes)], atol=1e-12)
    gradient_check(lambda a, g, b: fused_ops.batch_norm_train(a, g, b, epsilon=1e-3),
                   [x, gamma, beta], rtol=1e-5, atol=1e-7)
    # and the same gradients as the tape through the unfused chain
    w = rng.standard_normal(shape)
    grads = []
    for f in (lambda a, g, b: fused_ops.batch_norm_train(a, g, b, epsilon=1e-3),
              lambda a, g, b: _unfused_bn(a, g, b, 1e-3)):
        xs = [tf.constant(v) for v in (x, gamma, beta)]
        with tf.GradientTape() as tape:
            for v in xs:
                tape.watch(v)
            loss = tf.reduce_sum(f(*xs) * w)
        grads.append([v.numpy() for v in tape.gradient(loss, xs)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_batch_norm_stats_recomputes_without_a_kept_forward():
    x = np.random.default_rng(6).standard_normal((5, 3))
    y = tf.constant(np.zeros((5, 3)))
    np.testing.assert_allclose(fused_ops.batch_norm_stats(tf.constant(x), y).numpy(),
                               [x.mean(0), x.var(0)], atol=1e-12)


@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False)])
def test_batch_norm_layer_fused_training_matches_keras_and_unfused(center, scale, monkeypatch):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((4, 5, 5, 3)) * 3 + 2).astype(np.float32)
    kl = keras.layers.BatchNormalization(center=center, scale=scale, momentum=0.9)
    tl = tf.keras.layers.BatchNormalization(center=center, scale=scale, momentum=0.9)
    kl(x)
    tl(x)
    weights = [rng.standard_normal(np.shape(w)).astype(np.float32) for w in kl.get_weights()]
    weights[-1] = np.abs(weights[-1]) + 0.5
    kl.set_weights(weights)
    tl.set_weights(weights)
    ky = np.asarray(kl(x, training=True))
    ty = tl(x, training=True).numpy()
    np.testing.assert_allclose(ty, ky, atol=1e-4, rtol=1e-4)
    for a, b in zip(tl.get_weights(), kl.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), atol=1e-5, rtol=1e-5)
    # the unfused twin gives the same gradients under a tape
    results = []
    for fused in (True, False):
        monkeypatch.setattr(_norm, "_fused_ok", (lambda *a: True) if fused else
                            (lambda *a: False))
        xt = tf.constant(x.astype(np.float64))
        layer = tf.keras.layers.BatchNormalization(center=center, scale=scale,
                                                   dtype="float64")
        layer(xt)
        layer.set_weights([w.astype(np.float64) for w in weights])
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = tf.reduce_sum(layer(xt, training=True) * np.arange(3.0))
        results.append([g.numpy() for g in tape.gradient(loss, [xt] +
                                                         layer.trainable_weights)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-9)


def test_batch_norm_under_nested_tapes_uses_the_unfused_chain():
    x = tf.constant(np.random.default_rng(8).standard_normal((6, 2)))
    layer = tf.keras.layers.BatchNormalization(dtype="float64")
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(layer(x, training=True) ** 3)
        g = inner.gradient(y, x)
        s = tf.reduce_sum(g * g)
    assert outer.gradient(s, x) is not None


@pytest.mark.parametrize("xs, k, mult, strides, dil, pads", [
    ((3, 7, 7, 4), (3, 3), 1, (1, 1), (1, 1), ((1, 1), (1, 1))),
    ((3, 8, 8, 4), (3, 3), 1, (2, 2), (1, 1), ((0, 1), (0, 1))),
    ((2, 9, 7, 3), (3, 2), 2, (1, 2), (2, 1), ((2, 1), (0, 2))),
    ((40, 5, 5, 2), (2, 2), 3, (1, 1), (1, 1), ((0, 0), (0, 0))),   # several chunks
    ((2, 9, 3), (4,), 1, (2,), (1,), ((1, 2),)),                      # 1-d
    ((2, 10, 7, 3), (3, 2), 1, (3, 2), (1, 2), ((1, 2), (2, 0))),    # phases without taps
    ((2, 5, 6, 4, 3), (3, 2, 2), 1, (1, 2, 1), (1, 1, 1), ((1, 1), (0, 1), (1, 0))),  # 3-d
])
def test_depthwise_kernels_against_a_grouped_reference(xs, k, mult, strides, dil, pads):
    """Depthwise = grouped convolution with one input channel per group."""
    rng = np.random.default_rng(9)
    c = xs[-1]
    x, w = rng.standard_normal(xs), rng.standard_normal(k + (c, mult))
    wg = w.reshape(k + (1, c * mult))
    y = K.depthwise_conv(x, w, strides, dil, pads)
    np.testing.assert_allclose(y, ref_conv(x, wg, strides, dil, pads, groups=c), atol=1e-10)
    dy = rng.standard_normal(y.shape)
    dx = K.depthwise_backprop_input(dy, w, xs, strides, dil, pads)
    np.testing.assert_allclose(dx, K.conv_backprop_input(dy, wg, xs, strides, dil, pads, c),
                               atol=1e-10)
    np.testing.assert_allclose(np.sum(y * dy), np.sum(x * dx), rtol=1e-10)
    dw = K.depthwise_backprop_filter(x, dy, w.shape, strides, dil, pads)
    np.testing.assert_allclose(np.sum(y * dy), np.sum(w * dw), rtol=1e-10)
    gradient_check(lambda a, b: tf.nn.depthwise_conv2d(a, b, [1, 2, 2, 1], "SAME"),
                   [x[:1, :5, :5] if len(xs) == 4 else rng.standard_normal((1, 5, 5, c)),
                    rng.standard_normal((3, 3, c, mult))]) if len(xs) == 4 else None


@pytest.mark.parametrize("xs, strides, pads", [
    ((64, 16, 16, 32), (1, 1), ((1, 1), (1, 1))),     # several chunks, threads
    ((64, 16, 16, 32), (2, 2), ((0, 1), (0, 1))),
    ((8, 40, 40, 48), (1, 1), ((1, 1), (1, 1))),      # weights tiled per row only
])
def test_depthwise_multiplier_one_matches_the_legacy_kernels_float32(xs, strides, pads,
                                                                      monkeypatch):
    rng = np.random.default_rng(10)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((3, 3, xs[-1], 1)).astype(np.float32)
    y = K.depthwise_conv(x, w, strides, (1, 1), pads)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = K.depthwise_backprop_input(dy, w, xs, strides, (1, 1), pads)
    monkeypatch.setattr(K, "LEGACY", True)
    assert y.dtype == dx.dtype == np.float32
    np.testing.assert_allclose(y, K.depthwise_conv(x, w, strides, (1, 1), pads),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, K.depthwise_backprop_input(dy, w, xs, strides, (1, 1), pads),
                               rtol=1e-5, atol=1e-5)
