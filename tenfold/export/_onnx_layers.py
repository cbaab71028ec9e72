"""Keras layers -> ONNX nodes, one converter per layer class.

A converter is `fn(cx, layer, node, ins) -> Val or [Val]`: `cx` is the `Converter` (its
builder is `cx.b`), `node` the functional-graph node being converted (None when a layer is
used as another layer's activation), `ins` the input values. Converters reproduce the
inference-time computation of the layer's `call` (training-only behaviour such as dropout is
the identity).
"""
import math

import numpy as np

from tenfold.export._onnx_graph import Val
from tenfold.framework.host import to_host

CONVERTERS = {}


class UnsupportedLayerError(ValueError):
    """A layer (or a setting of a layer) that the ONNX exporter cannot convert."""


def converts(*class_names):
    def register(fn):
        for n in class_names:
            CONVERTERS[n] = fn
        return fn
    return register


def _where(layer):
    return f"{type(layer).__name__} layer \"{layer.name}\""


def unsupported(layer, what):
    return UnsupportedLayerError(
        f"ONNX export: {_where(layer)}: {what}. Supported layers: "
        f"{', '.join(sorted(CONVERTERS))}.")


def _np(v):
    """A variable's (or tensor's) value as a NumPy array."""
    return to_host(v)  # weights are written into the ONNX file


def _out(node, ins, name, layout, i=0, mask=None, shape=None, dtype=None):
    """The Val for output i of `node` (shape/dtype from the node's KerasTensor)."""
    if node is not None and shape is None:
        kt = node.output_tensors[i]
        shape, dt = kt.shape, kt.dtype
    else:
        shape = ins[0].shape if shape is None else shape
        dt = ins[0].dtype
    return Val(name, layout, shape, dt if dtype is None else dtype, mask)


def _weight(cx, var, base, transform=None, tag=None):
    """An initializer for a layer weight (shared layers reuse it)."""
    arr = _np(var)
    if transform is not None:
        arr = transform(arr)
    return cx.b.const(arr.astype(np.float32) if arr.dtype.kind == "f" else arr, base,
                      key=(id(var), tag))


# ---------------------------------------------------------------------------- activations
def _clip(cx, x, lo, hi, dtype):
    b = cx.b
    return b.op("Clip", [x, b.scalar(lo, dtype) if lo is not None else "",
                         b.scalar(hi, dtype) if hi is not None else ""])


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _primitive_lowering(activation_name):
    """The ONNX operator declared by the primitive a built-in activation computes (its
    `onnx` fact in tenfold/ops), or None. Keras calls exp 'exponential'."""
    from tenfold.ops import registry
    prim = registry.REGISTRY.get("exp" if activation_name == "exponential" else activation_name)
    onnx_op = getattr(prim, "onnx", None)
    return onnx_op if isinstance(onnx_op, str) else None


def _unary(cx, name, x, dtype):
    """The built-in activation `name` applied to ONNX tensor x (layout-independent), or
    None if `name` is not elementwise / not known."""
    b = cx.b
    onnx_op = _primitive_lowering(name)
    if onnx_op is not None:  # the primitive the activation is declares its ONNX operator
        return b.op(onnx_op, [x], name)
    if name == "softsign":
        return b.op("Softsign", [x], name)
    if name == "elu":
        return b.op("Elu", [x], name, alpha=1.0)
    if name == "selu":
        return b.op("Selu", [x], name, alpha=_SELU_ALPHA, gamma=_SELU_SCALE)
    if name == "celu":
        return b.op("Celu", [x], name, alpha=1.0)
    if name == "relu6":
        return _clip(cx, x, 0.0, 6.0, dtype)
    if name == "hard_tanh":
        return _clip(cx, x, -1.0, 1.0, dtype)
    if name == "leaky_relu":
        return b.op("LeakyRelu", [x], name, alpha=0.2)
    if name in ("silu", "swish"):
        return b.op("Mul", [x, b.op("Sigmoid", [x])], name)
    if name == "hard_sigmoid":
        return b.op("HardSigmoid", [x], name, alpha=1.0 / 6.0, beta=0.5)
    if name in ("hard_silu", "hard_swish"):
        if b.opset >= 14:
            return b.op("HardSwish", [x], name)
        return b.op("Mul", [x, b.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)], name)
    if name == "gelu":
        if b.opset >= 20:
            return b.op("Gelu", [x], name, approximate="none")
        inner = b.op("Erf", [b.op("Mul", [x, b.scalar(1.0 / math.sqrt(2.0), dtype)])])
        return b.op("Mul", [b.op("Mul", [x, b.scalar(0.5, dtype)]),
                            b.op("Add", [inner, b.scalar(1.0, dtype)])], name)
    if name == "mish":
        if b.opset >= 18:
            return b.op("Mish", [x], name)
        return b.op("Mul", [x, b.op("Tanh", [b.op("Softplus", [x])])], name)
    if name == "log_sigmoid":
        return b.op("Neg", [b.op("Softplus", [b.op("Neg", [x])])], name)
    if name == "tanh_shrink":
        return b.op("Sub", [x, b.op("Tanh", [x])], name)
    return None


def apply_activation(cx, fn, v, layer):
    """`v` after the activation `fn` of `layer` (a built-in function or a layer)."""
    from tenfold.keras import activations
    from tenfold.keras.layers.layer import Layer
    if fn is None or fn is activations.linear:
        return v
    if isinstance(fn, Layer):
        return cx.convert_layer(fn, None, [v])[0]
    name = activations.serialize(fn)
    if not isinstance(name, str):
        raise unsupported(layer, f"its activation {getattr(fn, '__name__', fn)!r} is a custom "
                          "function, which the exporter cannot translate; use a built-in "
                          "activation or a separate activation layer")
    if name in ("softmax", "log_softmax"):
        x = cx.b.as_layout(v, "keras")
        op = "Softmax" if name == "softmax" else "LogSoftmax"
        return v.like(cx.b.op(op, [x], name, axis=-1), layout="keras")
    y = _unary(cx, name, v.name, v.dtype)
    if y is None:
        raise unsupported(layer, f"the activation {name!r} has no ONNX translation yet")
    return v.like(y)


@converts("Activation")
def _activation(cx, layer, node, ins):
    return apply_activation(cx, layer.activation, ins[0], layer)


@converts("ReLU")
def _relu(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    x, dt = v.name, v.dtype
    th, slope, cap = float(layer.threshold), float(layer.negative_slope), layer.max_value
    if th == 0.0 and slope == 0.0:
        y = b.op("Relu", [x], layer.name)
    elif th == 0.0:
        y = b.op("LeakyRelu", [x], layer.name, alpha=slope)
    else:
        zero = b.scalar(0.0, dt)
        y = b.op("Where", [b.op("Greater", [x, b.scalar(th, dt)]), x, zero])
        if slope:
            below = b.op("Mul", [b.op("Sub", [x, b.scalar(th, dt)]), b.scalar(slope, dt)])
            y = b.op("Add", [y, b.op("Where", [b.op("Less", [x, b.scalar(th, dt)]),
                                               below, zero])])
    if cap is not None:
        y = b.op("Min", [y, b.scalar(float(cap), dt)], layer.name)
    return v.like(y)


@converts("LeakyReLU")
def _leaky(cx, layer, node, ins):
    v = ins[0]
    return v.like(cx.b.op("LeakyRelu", [v.name], layer.name,
                          alpha=float(layer.negative_slope)))


@converts("ELU")
def _elu(cx, layer, node, ins):
    v = ins[0]
    return v.like(cx.b.op("Elu", [v.name], layer.name, alpha=float(layer.alpha)))


@converts("PReLU")
def _prelu(cx, layer, node, ins):
    v = ins[0]
    x = cx.b.as_layout(v, "keras")
    slope = _weight(cx, layer.alpha, f"{layer.name}/alpha")
    return v.like(cx.b.op("PRelu", [x, slope], layer.name), layout="keras")


@converts("Softmax")
def _softmax(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    if v.mask is not None:
        raise unsupported(layer, "a masked input (from Embedding(mask_zero=True) or Masking) "
                          "is not supported by the exporter for this layer")
    x = b.as_layout(v, "keras")
    axis = layer.axis
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, (list, tuple)):
        lse = b.reduce("ReduceLogSumExp", x, [a % v.ndim for a in axis], keepdims=True)
        y = b.op("Exp", [b.op("Sub", [x, lse])], layer.name)
    else:
        y = b.op("Softmax", [x], layer.name, axis=int(axis))
    return v.like(y, layout="keras")


# ---------------------------------------------------------------------------- core
@converts("Dense")
def _dense(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    x = b.as_layout(v, "keras")
    y = b.op("MatMul", [x, _weight(cx, layer.kernel, f"{layer.name}/kernel")],
             f"{layer.name}/MatMul")
    if layer.bias is not None:
        y = b.op("Add", [y, _weight(cx, layer.bias, f"{layer.name}/bias")], layer.name)
    out = _out(node, ins, y, "keras", mask=v.mask)
    return apply_activation(cx, layer.activation, out, layer)


@converts("Dropout", "SpatialDropout1D", "SpatialDropout2D",
          "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
          "Identity")
def _identity(cx, layer, node, ins):
    return ins[0]


@converts("Flatten")
def _flatten(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    x = b.as_layout(v, "keras")
    if layer.data_format == "channels_first" and v.ndim > 2:
        x = b.transpose(x, (0,) + tuple(range(2, v.ndim)) + (1,))
    return _out(node, ins, b.op("Flatten", [x], layer.name, axis=1), "keras")


@converts("Reshape")
def _reshape(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    x = b.as_layout(v, "keras")
    target = [0] + [int(d) for d in layer.target_shape]  # 0: keep the (dynamic) batch size
    return _out(node, ins, b.op("Reshape", [x, b.ints(target)], layer.name), "keras")


@converts("Permute")
def _permute(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    x = b.as_layout(v, "keras")
    return _out(node, ins, b.transpose(x, (0,) + tuple(layer.dims), layer.name), "keras")


@converts("RepeatVector")
def _repeat_vector(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    x = b.unsqueeze(b.as_layout(v, "keras"), [1])
    return _out(node, ins, b.op("Tile", [x, b.ints([1, layer.n, 1])], layer.name), "keras")


@converts("Embedding")
def _embedding(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    x = b.as_layout(v, "keras")
    if v.dtype.kind not in "iu":
        x = b.op("Cast", [x], f"{layer.name}/indices", to=cx.onnx_dtype(np.int64))
        idx_dtype = np.int64
    else:
        idx_dtype = v.dtype
    table = _weight(cx, layer.embeddings, f"{layer.name}/embeddings")
    y = b.op("Gather", [table, x], layer.name, axis=0)
    mask = None
    if layer.mask_zero:
        mask = b.op("Not", [b.op("Equal", [x, b.scalar(0, idx_dtype)])], f"{layer.name}/mask")
    return _out(node, ins, y, "keras", mask=mask)


@converts("Rescaling")
def _rescaling(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    scale = np.asarray(layer.scale, dtype=np.float32)
    offset = np.asarray(layer.offset, dtype=np.float32)
    if scale.ndim:
        from tenfold.keras import backend
        if backend.image_data_format() == "channels_first":
            raise unsupported(layer, "a per-channel scale with channels_first images")
    x = v.name if (scale.ndim == 0 and offset.ndim == 0) else b.as_layout(v, "keras")
    layout = v.layout if x == v.name else "keras"
    if v.dtype != np.float32:
        x = b.op("Cast", [x], f"{layer.name}/cast", to=cx.onnx_dtype(np.float32))
    y = b.op("Mul", [x, b.const(scale, f"{layer.name}/scale")])
    y = b.op("Add", [y, b.const(offset, f"{layer.name}/offset")], layer.name)
    return _out(node, ins, y, layout, mask=v.mask, dtype=np.float32)


@converts("Normalization")
def _normalization(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    if layer.mean is None:
        raise unsupported(layer, "it has no statistics yet (call adapt() or pass mean= and "
                          "variance=)")
    from tenfold.keras import backend
    x = b.as_layout(v, "keras")
    if v.dtype != np.float32:
        x = b.op("Cast", [x], to=cx.onnx_dtype(np.float32))
    mean = _np(layer.mean).astype(np.float32)
    std = np.maximum(np.sqrt(_np(layer.variance).astype(np.float32)),
                     np.float32(backend.epsilon())).astype(np.float32)
    mean_c = b.const(mean, f"{layer.name}/mean")
    std_c = b.const(std, f"{layer.name}/std")
    if layer.invert:
        y = b.op("Add", [mean_c, b.op("Mul", [x, std_c])], layer.name)
    else:
        y = b.op("Div", [b.op("Sub", [x, mean_c]), std_c], layer.name)
    return _out(node, ins, y, "keras", mask=v.mask, dtype=np.float32)


# ---------------------------------------------------------------------------- normalization
@converts("BatchNormalization")
def _batch_norm(cx, layer, node, ins):
    """Inference: x * inv + shift with the moving statistics folded into two constants,
    applied in whatever layout x is held (channels-first after a convolution)."""
    b, v = cx.b, ins[0]
    f32 = np.float32
    mv = _np(layer.moving_variance).astype(f32)
    mm = _np(layer.moving_mean).astype(f32)
    inv = (f32(1.0) / np.sqrt(mv + f32(layer.epsilon))).astype(f32)
    if layer.gamma is not None:
        inv = inv * _np(layer.gamma).astype(f32)
    shift = -(mm * inv)
    if layer.beta is not None:
        shift = shift + _np(layer.beta).astype(f32)
    pos = b.held_axis(v, layer.axis)
    shape = [1] * v.ndim
    shape[pos] = inv.shape[0]
    shape = shape[pos:] if pos else shape  # drop leading ones: broadcasting adds them back
    y = b.op("Mul", [v.name, b.const(inv.reshape(shape), f"{layer.name}/scale",
                                     key=(id(layer), "bn_scale", v.layout))])
    y = b.op("Add", [y, b.const(shift.reshape(shape), f"{layer.name}/shift",
                                key=(id(layer), "bn_shift", v.layout))], layer.name)
    return v.like(y)


@converts("LayerNormalization")
def _layer_norm(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    x = b.as_layout(v, "keras")
    nd = v.ndim
    axes = list(layer._axes)
    trailing = axes == list(range(axes[0], nd))
    gamma = _weight(cx, layer.gamma, f"{layer.name}/gamma") if layer.gamma is not None \
        else None
    beta = _weight(cx, layer.beta, f"{layer.name}/beta") if layer.beta is not None else None
    bshape = [v.shape[a] if a in axes else 1 for a in range(nd)]
    if not trailing:  # gamma/beta must broadcast: give them the full rank
        if gamma is not None:
            gamma = b.op("Reshape", [gamma, b.ints(bshape)])
        if beta is not None:
            beta = b.op("Reshape", [beta, b.ints(bshape)])
    eps = float(layer.epsilon)
    if trailing and not layer.rms_scaling and b.opset >= 17:
        if gamma is None:
            shape = [v.shape[a] for a in axes]
            gamma = b.const(np.ones(shape, np.float32), f"{layer.name}/gamma")
        y = b.op("LayerNormalization", [x, gamma] + ([beta] if beta is not None else []),
                 layer.name, axis=int(axes[0]), epsilon=eps)
        return v.like(y, layout="keras")
    mean = b.reduce("ReduceMean", x, axes, keepdims=True)
    d = b.op("Sub", [x, mean])
    var = b.reduce("ReduceMean", b.op("Mul", [d, d]), axes, keepdims=True)
    inv = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [var, b.scalar(eps, np.float32)])])])
    if layer.rms_scaling:
        y = b.op("Mul", [x, inv])
        if gamma is not None:
            y = b.op("Mul", [y, gamma])
        return v.like(y, layout="keras")
    y = b.op("Mul", [d, inv])
    if gamma is not None:
        y = b.op("Mul", [y, gamma])
    if beta is not None:
        y = b.op("Add", [y, beta])
    return v.like(y, layout="keras")


# ---------------------------------------------------------------------------- conv / pool
def _spatial_layout(layer):
    """The layout in which a channels-{last,first} layer's spatial axes come last."""
    return "keras" if layer.data_format == "channels_first" else "cf"


def _spatial_sizes(layer, v):
    return v.shape[2:] if layer.data_format == "channels_first" else v.shape[1:-1]


def _window_pads(padding, sizes, kernel, strides, dilations):
    """ONNX padding attributes for a window op with TensorFlow's padding mode."""
    r = len(kernel)
    if padding == "valid":
        return {"pads": [0] * (2 * r)}
    if padding == "causal":
        return {"pads": [dilations[0] * (kernel[0] - 1), 0]}
    if any(n is None for n in sizes):
        return {"auto_pad": "SAME_UPPER"}  # the same split as TensorFlow: extra at the end
    begin, end = [], []
    for n, k, s, d in zip(sizes, kernel, strides, dilations):
        k = (k - 1) * d + 1
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return {"pads": begin + end}


def _kernel_to_onnx(k):
    """Keras conv kernel (*spatial, in, out) -> ONNX (out, in, *spatial)."""
    r = k.ndim - 2
    return np.transpose(k, (r + 1, r) + tuple(range(r)))


@converts("Conv1D", "Conv2D")
def _conv(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    layout = _spatial_layout(layer)
    x = b.as_layout(v, layout)
    w = _weight(cx, layer.kernel, f"{layer.name}/kernel", _kernel_to_onnx, "onnx")
    inputs = [x, w]
    if layer.bias is not None:
        inputs.append(_weight(cx, layer.bias, f"{layer.name}/bias"))
    attrs = _window_pads(layer.padding, _spatial_sizes(layer, v), layer.kernel_size,
                         layer.strides, layer.dilation_rate)
    y = b.op("Conv", inputs, layer.name, kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate),
             group=int(layer.groups), **attrs)
    return apply_activation(cx, layer.activation, _out(node, ins, y, layout), layer)


@converts("Conv1DTranspose", "Conv2DTranspose")
def _conv_transpose(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    layout = _spatial_layout(layer)
    x = b.as_layout(v, layout)
    w = _weight(cx, layer.kernel, f"{layer.name}/kernel", _kernel_to_onnx, "onnx")
    inputs = [x, w]
    if layer.bias is not None:
        inputs.append(_weight(cx, layer.bias, f"{layer.name}/bias"))
    # Output size O = (n - 1) * s + r with r independent of n; TensorFlow crops the
    # difference k - r as SAME convolution pads it (extra at the end).
    begin, end, out_pad = [], [], []
    ops_ = layer.output_padding or (None,) * layer.rank
    for k, s, d, op in zip(layer.kernel_size, layer.strides, layer.dilation_rate, ops_):
        k = (k - 1) * d + 1
        if layer.padding == "valid":
            rem = k + (max(k, s) - k if op is None else op)
        else:
            rem = s if op is None else k % 2 + op
        total = max(k - rem, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
        out_pad.append(rem - k + total)
    y = b.op("ConvTranspose", inputs, layer.name, kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate),
             pads=begin + end, output_padding=out_pad)
    return apply_activation(cx, layer.activation, _out(node, ins, y, layout), layer)


def _depthwise_to_onnx(k):
    """Keras depthwise kernel (*spatial, in, mult) -> ONNX grouped (in*mult, 1, *spatial)."""
    r = k.ndim - 2
    flat = k.reshape(k.shape[:r] + (k.shape[r] * k.shape[r + 1],))
    return np.transpose(flat, (r,) + tuple(range(r)))[:, None]


def _depthwise(cx, layer, v, kernel, with_bias):
    b = cx.b
    layout = _spatial_layout(layer)
    x = b.as_layout(v, layout)
    in_ch = v.shape[-1 if layer.data_format != "channels_first" else 1]
    inputs = [x, _weight(cx, kernel, f"{layer.name}/depthwise_kernel", _depthwise_to_onnx,
                         "onnx")]
    if with_bias and layer.bias is not None:
        inputs.append(_weight(cx, layer.bias, f"{layer.name}/bias"))
    attrs = _window_pads(layer.padding, _spatial_sizes(layer, v), layer.kernel_size,
                         layer.strides, layer.dilation_rate)
    y = b.op("Conv", inputs, f"{layer.name}/depthwise", kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate),
             group=int(in_ch), **attrs)
    return y, layout


@converts("DepthwiseConv1D", "DepthwiseConv2D")
def _depthwise_conv(cx, layer, node, ins):
    if layer.padding == "causal":
        raise unsupported(layer, "padding='causal'")
    y, layout = _depthwise(cx, layer, ins[0], layer.kernel, True)
    return apply_activation(cx, layer.activation, _out(node, ins, y, layout), layer)


@converts("SeparableConv1D", "SeparableConv2D")
def _separable_conv(cx, layer, node, ins):
    b = cx.b
    if layer.padding == "causal":
        raise unsupported(layer, "padding='causal'")
    y, layout = _depthwise(cx, layer, ins[0], layer.depthwise_kernel, False)
    inputs = [y, _weight(cx, layer.pointwise_kernel, f"{layer.name}/pointwise_kernel",
                         _kernel_to_onnx, "onnx")]
    if layer.bias is not None:
        inputs.append(_weight(cx, layer.bias, f"{layer.name}/bias"))
    y = b.op("Conv", inputs, layer.name, kernel_shape=[1] * layer.rank)
    return apply_activation(cx, layer.activation, _out(node, ins, y, layout), layer)


@converts("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D")
def _pool(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    layout = _spatial_layout(layer)
    x = b.as_layout(v, layout)
    attrs = _window_pads(layer.padding, _spatial_sizes(layer, v), layer.pool_size,
                         layer.strides, (1,) * len(layer.pool_size))
    if layer._kind == "max":
        y = b.op("MaxPool", [x], layer.name, kernel_shape=list(layer.pool_size),
                 strides=list(layer.strides), **attrs)
    else:  # 'same' padding averages the real values only, as TensorFlow
        y = b.op("AveragePool", [x], layer.name, kernel_shape=list(layer.pool_size),
                 strides=list(layer.strides), count_include_pad=0, **attrs)
    return _out(node, ins, y, layout)


@converts("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
          "GlobalMaxPooling2D")
def _global_pool(cx, layer, node, ins):
    b, v = cx.b, ins[0]
    keep = bool(layer.keepdims)
    if v.mask is not None and layer._kind == "avg" and layer._rank == 1:
        if layer.data_format != "channels_last":
            raise unsupported(layer, "a masked input with data_format='channels_first'")
        x = b.as_layout(v, "keras")
        w = b.unsqueeze(b.op("Cast", [v.mask], to=cx.onnx_dtype(v.dtype)), [2])
        num = b.reduce("ReduceSum", b.op("Mul", [x, w]), [1], keep)
        den = b.reduce("ReduceSum", w, [1], keep)
        return _out(node, ins, b.op("Div", [num, den], layer.name), "keras")
    axes = [b.held_axis(v, a) for a in layer._axes()]
    op = "ReduceMean" if layer._kind == "avg" else "ReduceMax"
    y = b.reduce(op, v.name, axes, keep, layer.name)
    return _out(node, ins, y, v.layout if keep else "keras")


# ---------------------------------------------------------------------------- reshaping
def _keras_spatial_axes(layer, n):
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return tuple(range(2, 2 + n))
    return tuple(range(1, 1 + n))


def _pad(cx, layer, node, ins, pairs):
    b, v = cx.b, ins[0]
    begin, end = [0] * v.ndim, [0] * v.ndim
    for ax, (p0, p1) in zip(_keras_spatial_axes(layer, len(pairs)), pairs):
        pos = b.held_axis(v, ax)
        begin[pos], end[pos] = int(p0), int(p1)
    y = b.op("Pad", [v.name, b.ints(begin + end, "pads")], layer.name, mode="constant")
    return _out(node, ins, y, v.layout)


@converts("ZeroPadding1D")
def _zero_pad1(cx, layer, node, ins):
    return _pad(cx, layer, node, ins, [layer.padding])


@converts("ZeroPadding2D")
def _zero_pad2(cx, layer, node, ins):
    return _pad(cx, layer, node, ins, list(layer.padding))


def _crop(cx, layer, node, ins, pairs):
    b, v = cx.b, ins[0]
    starts, ends, axes = [], [], []
    big = np.iinfo(np.int64).max
    for ax, (c0, c1) in zip(_keras_spatial_axes(layer, len(pairs)), pairs):
        axes.append(b.held_axis(v, ax))
        starts.append(int(c0))
        ends.append(-int(c1) if c1 else big)
    y = b.op("Slice", [v.name, b.ints(starts, "starts"), b.ints(ends, "ends"),
                       b.ints(axes, "axes")], layer.name)
    return _out(node, ins, y, v.layout)


@converts("Cropping1D")
def _crop1(cx, layer, node, ins):
    return _crop(cx, layer, node, ins, [layer.cropping])


@converts("Cropping2D")
def _crop2(cx, layer, node, ins):
    return _crop(cx, layer, node, ins, list(layer.cropping))


def _resize(cx, layer, node, ins, sizes, mode):
    b, v = cx.b, ins[0]
    layout = _spatial_layout(layer) if hasattr(layer, "data_format") else "cf"
    x = b.as_layout(v, layout)
    scales = [1.0, 1.0] + [float(s) for s in sizes]
    attrs = ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
              "nearest_mode": "floor"} if mode == "nearest" else
             {"mode": "linear", "coordinate_transformation_mode": "half_pixel"})
    y = b.op("Resize", [x, "", b.const(np.array(scales, np.float32), f"{layer.name}/scales")],
             layer.name, **attrs)
    return _out(node, ins, y, layout)


@converts("UpSampling1D")
def _upsample1(cx, layer, node, ins):
    return _resize(cx, layer, node, ins, [layer.size], "nearest")


@converts("UpSampling2D")
def _upsample2(cx, layer, node, ins):
    return _resize(cx, layer, node, ins, list(layer.size), layer.interpolation)


# ---------------------------------------------------------------------------- merging
def _and_masks(cx, ins):
    ms = [v.mask for v in ins if v.mask is not None]
    if not ms:
        return None
    out = ms[0]
    for mk in ms[1:]:
        out = cx.b.op("And", [out, mk])
    return out


def _merge_inputs(cx, ins):
    """Input names in one common layout (rank-expanded at axis 1 as the layer does)."""
    b = cx.b
    nd = max(v.ndim for v in ins)
    layouts = {v.layout for v in ins if v.ndim >= 3}
    if len(layouts) <= 1 and all(v.ndim == nd for v in ins):
        layout = layouts.pop() if layouts else "keras"
        return [v.name for v in ins], layout
    names = []
    for v in ins:
        x = b.as_layout(v, "keras")
        if v.ndim < nd:
            x = b.unsqueeze(x, list(range(1, 1 + nd - v.ndim)))
        names.append(x)
    return names, "keras"


def _chain(cx, op, names, base):
    out = names[0]
    for i, x in enumerate(names[1:]):
        out = cx.b.op(op, [out, x], base if i == len(names) - 2 else None)
    return out


@converts("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def _merge(cx, layer, node, ins):
    names, layout = _merge_inputs(cx, ins)
    kind = type(layer).__name__
    for cls in type(layer).__mro__:
        if cls.__name__ in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
            kind = cls.__name__
            break
    if kind == "Subtract":
        if len(names) != 2:
            raise unsupported(layer, f"it needs exactly 2 inputs, got {len(names)}")
        y = cx.b.op("Sub", names, layer.name)
    elif kind == "Average":
        s = _chain(cx, "Add", names, None)
        y = cx.b.op("Div", [s, cx.b.scalar(float(len(names)), ins[0].dtype)], layer.name)
    else:
        op = {"Add": "Add", "Multiply": "Mul", "Maximum": "Max", "Minimum": "Min"}[kind]
        y = _chain(cx, op, names, layer.name) if len(names) > 1 else \
            cx.b.op("Identity", names, layer.name)
    return _out(node, ins, y, layout, mask=_and_masks(cx, ins))


@converts("Concatenate")
def _concat(cx, layer, node, ins):
    b = cx.b
    nd = ins[0].ndim
    if any(v.mask is not None for v in ins):
        raise unsupported(layer, "masked inputs")
    layouts = {v.layout for v in ins if v.ndim >= 3}
    layout = layouts.pop() if len(layouts) == 1 else "keras"
    names = [b.as_layout(v, layout) for v in ins]
    axis = b.held_axis(ins[0], layer.axis % nd, layout)
    return _out(node, ins, b.op("Concat", names, layer.name, axis=int(axis)), layout)


@converts("Dot")
def _dot(cx, layer, node, ins):
    b = cx.b
    if len(ins) != 2 or any(v.ndim != 2 for v in ins):
        raise unsupported(layer, "only the dot product of two (batch, features) inputs is "
                          "exported")
    x, y = (b.as_layout(v, "keras") for v in ins)
    if layer.normalize:
        eps = b.scalar(1e-12, np.float32)

        def l2n(t):
            ss = b.reduce("ReduceSum", b.op("Mul", [t, t]), [1], True)
            return b.op("Mul", [t, b.op("Reciprocal", [b.op("Sqrt", [b.op("Max", [ss, eps])])])])
        x, y = l2n(x), l2n(y)
    out = b.reduce("ReduceSum", b.op("Mul", [x, y]), [1], True, layer.name)
    return _out(node, ins, out, "keras")
