"""NumPy kernels for the TFLite builtin ops the converter writes, float32 and int8.

Float ops compute as TensorFlow does. Convolutions, Dense and pooling on int8 accumulate
exactly in integers and requantize with the float multiplier s_in * s_w / s_out, as LiteRT's
default (XNNPACK) kernels do, so results agree with LiteRT to within one step of the output
scale. The other int8 ops are computed on dequantized values and quantized again.
"""
import numpy as np

_ACT_RANGE = {"NONE": (-np.inf, np.inf), "RELU": (0.0, np.inf), "RELU6": (0.0, 6.0),
              "RELU_N1_TO_1": (-1.0, 1.0)}


def _same_pads(size, k, stride, dilation):
    eff = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def windows(x, kh, kw, o, pad_value=0):
    """(N, OH, OW, C, kh, kw) views of x under the conv/pool options `o`."""
    sh, sw = o["stride_h"], o["stride_w"]
    dh, dw = o.get("dilation_h", 1), o.get("dilation_w", 1)
    if o["padding"] == "SAME":
        ph = _same_pads(x.shape[1], kh, sh, dh)
        pw = _same_pads(x.shape[2], kw, sw, dw)
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=pad_value)
    win = np.lib.stride_tricks.sliding_window_view(
        x, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(1, 2))
    return win[:, ::sh, ::sw, :, ::dh, ::dw]


def conv2d(x, w, o):
    """x (N,H,W,C), w (O,kh,kw,C) -> (N,OH,OW,O) accumulated in x's dtype."""
    win = windows(x, w.shape[1], w.shape[2], o)
    return np.einsum("nhwcij,oijc->nhwo", win, w, optimize=True)


def depthwise_conv2d(x, w, o):
    """x (N,H,W,C), w (1,kh,kw,C*M)."""
    mult = o["depth_multiplier"]
    win = windows(x, w.shape[1], w.shape[2], o)
    if mult != 1:
        win = np.repeat(win, mult, axis=3)
    return np.einsum("nhwcij,ijc->nhwc", win, w[0], optimize=True)


def pool(x, o, kind, lowest=-np.inf):
    kh, kw = o["filter_h"], o["filter_w"]
    if kind == "max":
        return windows(x, kh, kw, o, pad_value=lowest).max(axis=(4, 5))
    total = windows(x, kh, kw, o).sum(axis=(4, 5))
    ones = np.ones((1,) + x.shape[1:3] + (1,), x.dtype)
    count = windows(ones, kh, kw, o).sum(axis=(4, 5))  # real (unpadded) values only
    return total, count


def activation(y, name):
    lo, hi = _ACT_RANGE[name]
    return y if name == "NONE" else np.clip(y, lo, hi)


# ---------------------------------------------------------------------------- quantization
def quantize(x, q, dtype):
    info = np.iinfo(dtype)
    scale, zp = q["scale"], q["zero_point"]
    if scale.size > 1:
        shape = [1] * x.ndim
        shape[q["axis"]] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return np.clip(np.rint(x / scale) + zp, info.min, info.max).astype(dtype)


def dequantize(x, q):
    scale, zp = q["scale"], q["zero_point"]
    if scale.size > 1:
        shape = [1] * x.ndim
        shape[q["axis"]] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((x.astype(np.float64) - zp) * scale).astype(np.float32)


def requantize(acc, multiplier, q_out, act, dtype=np.int8):
    """int32 accumulators -> int8 with the output's zero point and the fused activation's
    range clamped in the quantized domain."""
    info = np.iinfo(dtype)
    y = np.rint(acc.astype(np.float64) * multiplier) + q_out["zero_point"][0]
    lo, hi = info.min, info.max
    s, z = float(q_out["scale"][0]), int(q_out["zero_point"][0])
    if act in ("RELU", "RELU6", "RELU_N1_TO_1"):
        a_lo, a_hi = _ACT_RANGE[act]
        lo = max(lo, z + int(np.rint(a_lo / s)))
        if np.isfinite(a_hi):
            hi = min(hi, z + int(np.rint(a_hi / s)))
    return np.clip(y, lo, hi).astype(dtype)


# ---------------------------------------------------------------------------- float ops
def softmax(x, beta=1.0):
    z = (x - x.max(axis=-1, keepdims=True)) * beta
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(np.float32)


def hard_swish(x):
    return (x * np.clip(x + 3.0, 0.0, 6.0) / 6.0).astype(np.float32)
