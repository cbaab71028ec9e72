"""Keras layers -> TFLite builtin ops (float32), then the rewrites TensorFlow's converter
also does: BatchNormalization folded into the convolution or Dense before it, and ReLU /
ReLU6 fused into the op that produces their input.

A lowering is `fn(lw, layer, ins, out_shapes) -> [Tensor]`; `lw` is the `Lowering` (its
graph is `lw.g`). Inference behaviour only: Dropout and the noise layers are the identity.
"""
import numpy as np

from tenfold.export._layer_lookup import lowering_for
from tenfold.lite._ir import Graph

LOWERINGS = {}


class UnsupportedLayerError(ValueError):
    """A layer (or a setting of a layer) that has no TFLite lowering."""


def lowers(*class_names):
    def register(fn):
        for n in class_names:
            LOWERINGS[n] = fn
        return fn
    return register


def unsupported(layer, what):
    return UnsupportedLayerError(
        f"TFLite conversion: {type(layer).__name__} layer \"{layer.name}\": {what}. Layers "
        f"with a TFLite lowering: {', '.join(sorted(LOWERINGS))}.")


def _np(v):
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float32)


def _channels_last(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise unsupported(layer, "data_format='channels_first' (TFLite runs NHWC images); "
                          "build the model with data_format='channels_last'")


def _padding(layer):
    p = str(layer.padding).upper()
    if p not in ("SAME", "VALID"):
        raise unsupported(layer, f"padding={layer.padding!r} (TFLite has 'same' and 'valid')")
    return p


# ---------------------------------------------------------------------------- activations
_UNARY = {"relu": "RELU", "relu6": "RELU6", "sigmoid": "LOGISTIC", "tanh": "TANH",
          "elu": "ELU", "hard_silu": "HARD_SWISH", "hard_swish": "HARD_SWISH"}


def activation(lw, fn, x, layer):
    """`x` after the activation `fn` (a built-in activation function or a layer)."""
    from tenfold.keras import activations
    from tenfold.keras.layers.layer import Layer
    if fn is None or fn is activations.linear:
        return x
    if isinstance(fn, Layer):
        return lw.lower_layer(fn, [x], [x.shape])[0]
    name = activations.serialize(fn)
    if not isinstance(name, str):
        raise unsupported(layer, f"its activation {getattr(fn, '__name__', fn)!r} is a "
                          "custom function, which has no TFLite lowering; use a built-in "
                          "activation or a separate activation layer")
    return lw.unary(name, x, layer)


@lowers("Activation")
def _activation(lw, layer, ins, shapes):
    return [activation(lw, layer.activation, ins[0], layer)]


@lowers("ReLU")
def _relu(lw, layer, ins, shapes):
    th, slope, cap = float(layer.threshold), float(layer.negative_slope), layer.max_value
    if th != 0.0:
        raise unsupported(layer, f"threshold={th} (TFLite's RELU thresholds at 0)")
    if slope and cap is None:
        return [lw.op("LEAKY_RELU", [ins[0]], ins[0].shape, layer, alpha=slope)]
    if slope:
        raise unsupported(layer, "negative_slope together with max_value")
    if cap is None:
        return [lw.op("RELU", [ins[0]], ins[0].shape, layer)]
    if float(cap) == 6.0:
        return [lw.op("RELU6", [ins[0]], ins[0].shape, layer)]
    y = lw.op("RELU", [ins[0]], ins[0].shape, layer)
    return [lw.op("MINIMUM", [y, lw.g.const(f"{layer.name}/max_value", np.float32(cap))],
                  y.shape, layer)]


@lowers("LeakyReLU")
def _leaky(lw, layer, ins, shapes):
    return [lw.op("LEAKY_RELU", [ins[0]], ins[0].shape, layer,
                  alpha=float(layer.negative_slope))]


@lowers("ELU")
def _elu(lw, layer, ins, shapes):
    if float(layer.alpha) != 1.0:
        raise unsupported(layer, f"alpha={layer.alpha} (TFLite's ELU has alpha 1)")
    return [lw.op("ELU", [ins[0]], ins[0].shape, layer)]


@lowers("Softmax")
def _softmax(lw, layer, ins, shapes):
    axis = layer.axis
    if isinstance(axis, (list, tuple)):
        axis = axis[0] if len(axis) == 1 else None
    if axis is None or axis % len(ins[0].shape) != len(ins[0].shape) - 1:
        raise unsupported(layer, f"axis={layer.axis} (TFLite's SOFTMAX is over the last axis)")
    return [lw.op("SOFTMAX", [ins[0]], ins[0].shape, layer, beta=1.0)]


# ---------------------------------------------------------------------------- core
@lowers("Dense")
def _dense(lw, layer, ins, shapes):
    x = ins[0]
    w = _np(layer.kernel).T  # TFLite: (units, input features)
    g = lw.g
    bias = _np(layer.bias) if layer.bias is not None else np.zeros(w.shape[0], np.float32)
    keep = len(x.shape) > 2
    y = lw.op("FULLY_CONNECTED", [x, g.const(f"{layer.name}/kernel", w),
                                  g.const(f"{layer.name}/bias", bias)],
              shapes[0], layer, fused_activation="NONE", keep_num_dims=keep)
    return [activation(lw, layer.activation, y, layer)]


@lowers("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
        "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
        "Identity")
def _identity(lw, layer, ins, shapes):
    return [ins[0]]


def _reshape(lw, layer, x, shape):
    target = np.asarray([-1] + [int(d) for d in shape[1:]], np.int32)
    return lw.op("RESHAPE", [x, lw.g.const(f"{layer.name}/shape", target)], shape, layer,
                 new_shape=[int(d) for d in target])


@lowers("Flatten")
def _flatten(lw, layer, ins, shapes):
    _channels_last(layer)
    return [_reshape(lw, layer, ins[0], shapes[0])]


@lowers("Reshape")
def _reshape_layer(lw, layer, ins, shapes):
    return [_reshape(lw, layer, ins[0], shapes[0])]


@lowers("Rescaling")
def _rescaling(lw, layer, ins, shapes):
    scale = np.asarray(layer.scale, np.float32)
    offset = np.asarray(layer.offset, np.float32)
    y = lw.op("MUL", [ins[0], lw.g.const(f"{layer.name}/scale", scale)], shapes[0], layer,
              fused_activation="NONE")
    if np.any(offset != 0):
        y = lw.op("ADD", [y, lw.g.const(f"{layer.name}/offset", offset)], shapes[0], layer,
                  fused_activation="NONE")
    return [y]


@lowers("BatchNormalization")
def _batch_norm(lw, layer, ins, shapes):
    """x * inv + shift with the moving statistics folded into two constants; the fold pass
    then merges them into a preceding convolution or Dense."""
    x = ins[0]
    if int(layer.axis) % len(x.shape) != len(x.shape) - 1:
        raise unsupported(layer, f"axis={layer.axis}: only the last (channels) axis can be "
                          "lowered")
    inv = 1.0 / np.sqrt(_np(layer.moving_variance) + np.float32(layer.epsilon))
    if layer.gamma is not None:
        inv = inv * _np(layer.gamma)
    shift = -_np(layer.moving_mean) * inv
    if layer.beta is not None:
        shift = shift + _np(layer.beta)
    g = lw.g
    y = lw.op("MUL", [x, g.const(f"{layer.name}/scale", inv.astype(np.float32))], x.shape,
              layer, fused_activation="NONE")
    return [lw.op("ADD", [y, g.const(f"{layer.name}/shift", shift.astype(np.float32))],
                  x.shape, layer, fused_activation="NONE")]


# ---------------------------------------------------------------------------- conv / pool
def _conv_opts(layer):
    sh, sw = (int(s) for s in layer.strides)
    dh, dw = (int(d) for d in layer.dilation_rate)
    return dict(padding=_padding(layer), stride_h=sh, stride_w=sw, dilation_h=dh,
                dilation_w=dw, fused_activation="NONE")


@lowers("Conv2D")
def _conv2d(lw, layer, ins, shapes):
    _channels_last(layer)
    if int(layer.groups) != 1:
        raise unsupported(layer, f"groups={layer.groups}")
    w = np.transpose(_np(layer.kernel), (3, 0, 1, 2))  # (out, kh, kw, in)
    bias = _np(layer.bias) if layer.bias is not None else np.zeros(w.shape[0], np.float32)
    g = lw.g
    y = lw.op("CONV_2D", [ins[0], g.const(f"{layer.name}/kernel", w),
                          g.const(f"{layer.name}/bias", bias)], shapes[0], layer,
              **_conv_opts(layer))
    return [activation(lw, layer.activation, y, layer)]


def _depthwise(lw, layer, x, kernel, bias, shape, name):
    k = _np(kernel)  # (kh, kw, in, multiplier)
    kh, kw, cin, mult = k.shape
    w = k.reshape(1, kh, kw, cin * mult)
    if bias is None:
        bias = np.zeros(cin * mult, np.float32)
    g = lw.g
    return lw.op("DEPTHWISE_CONV_2D", [x, g.const(f"{name}/depthwise_kernel", w),
                                       g.const(f"{name}/depthwise_bias", bias)],
                 shape, layer, depth_multiplier=int(mult), **_conv_opts(layer))


@lowers("DepthwiseConv2D")
def _depthwise_conv(lw, layer, ins, shapes):
    _channels_last(layer)
    bias = _np(layer.bias) if layer.bias is not None else None
    y = _depthwise(lw, layer, ins[0], layer.kernel, bias, shapes[0], layer.name)
    return [activation(lw, layer.activation, y, layer)]


@lowers("SeparableConv2D")
def _separable(lw, layer, ins, shapes):
    _channels_last(layer)
    x = ins[0]
    cin = x.shape[-1]
    mult = int(layer.depth_multiplier)
    mid = shapes[0][:-1] + (cin * mult,)
    y = _depthwise(lw, layer, x, layer.depthwise_kernel, None, mid, layer.name)
    w = np.transpose(_np(layer.pointwise_kernel), (3, 0, 1, 2))
    bias = _np(layer.bias) if layer.bias is not None else np.zeros(w.shape[0], np.float32)
    g = lw.g
    y = lw.op("CONV_2D", [y, g.const(f"{layer.name}/pointwise_kernel", w),
                          g.const(f"{layer.name}/bias", bias)], shapes[0], layer,
              padding="VALID", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
              fused_activation="NONE")
    return [activation(lw, layer.activation, y, layer)]


@lowers("MaxPooling2D", "AveragePooling2D")
def _pool(lw, layer, ins, shapes):
    _channels_last(layer)
    ph, pw = (int(p) for p in layer.pool_size)
    sh, sw = (int(s) for s in layer.strides)
    kind = "MAX_POOL_2D" if layer._kind == "max" else "AVERAGE_POOL_2D"
    return [lw.op(kind, [ins[0]], shapes[0], layer, padding=_padding(layer), stride_h=sh,
                  stride_w=sw, filter_h=ph, filter_w=pw, fused_activation="NONE")]


@lowers("GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
        "GlobalMaxPooling1D")
def _global_pool(lw, layer, ins, shapes):
    _channels_last(layer)
    x = ins[0]
    axes = np.arange(1, len(x.shape) - 1, dtype=np.int32)
    kind = "MEAN" if layer._kind == "avg" else "REDUCE_MAX"
    return [lw.op(kind, [x, lw.g.const(f"{layer.name}/axes", axes)], shapes[0], layer,
                  keep_dims=bool(layer.keepdims))]


@lowers("ZeroPadding2D")
def _zero_padding(lw, layer, ins, shapes):
    _channels_last(layer)
    (t, b), (l, r) = layer.padding
    pads = np.asarray([[0, 0], [t, b], [l, r], [0, 0]], np.int32)
    return [lw.op("PAD", [ins[0], lw.g.const(f"{layer.name}/paddings", pads)], shapes[0],
                  layer)]


# ---------------------------------------------------------------------------- merging
def _merge_kind(layer):
    for cls in type(layer).__mro__:
        if cls.__name__ in ("Add", "Subtract", "Multiply", "Maximum", "Minimum"):
            return cls.__name__
    return type(layer).__name__


@lowers("Add", "Subtract", "Multiply", "Maximum", "Minimum")
def _merge(lw, layer, ins, shapes):
    kind = {"Add": "ADD", "Subtract": "SUB", "Multiply": "MUL", "Maximum": "MAXIMUM",
            "Minimum": "MINIMUM"}[_merge_kind(layer)]
    if kind == "SUB" and len(ins) != 2:
        raise unsupported(layer, f"it needs exactly 2 inputs, got {len(ins)}")
    opts = {"fused_activation": "NONE"} if kind in ("ADD", "SUB", "MUL") else {}
    y = ins[0]
    for x in ins[1:]:
        y = lw.op(kind, [y, x], shapes[0], layer, **opts)
    return [y]


@lowers("Concatenate")
def _concat(lw, layer, ins, shapes):
    axis = int(layer.axis) % len(ins[0].shape)
    return [lw.op("CONCATENATION", list(ins), shapes[0], layer, axis=axis,
                  fused_activation="NONE")]


# ---------------------------------------------------------------------------- the walk
class Lowering:
    def __init__(self):
        self.g = Graph()

    def op(self, kind, inputs, shape, layer, **opts):
        out = self.g.tensor(layer.name if layer is not None else kind.lower(), shape)
        self.g.add(kind, inputs, [out], layer=layer, **opts)
        return out

    def unary(self, name, x, layer):
        if name in _UNARY:
            return self.op(_UNARY[name], [x], x.shape, layer)
        if name == "softmax":
            return self.op("SOFTMAX", [x], x.shape, layer, beta=1.0)
        if name == "leaky_relu":
            return self.op("LEAKY_RELU", [x], x.shape, layer, alpha=0.2)
        if name in ("silu", "swish"):
            s = self.op("LOGISTIC", [x], x.shape, layer)
            return self.op("MUL", [x, s], x.shape, layer, fused_activation="NONE")
        raise unsupported(layer, f"the activation {name!r} has no TFLite lowering yet")

    def _lowering_for(self, layer):
        return lowering_for(LOWERINGS, layer, unsupported, "converter")

    def lower_layer(self, layer, ins, shapes):
        from tenfold.keras.models.model import Model
        if isinstance(layer, Model):
            return self.lower_model(layer, ins)
        fn = self._lowering_for(layer)
        if fn is None:
            name = type(layer).__name__
            hint = ""
            if name == "Lambda":
                hint = " (its Python function cannot be translated)"
            elif name in ("_OpLayer", "OperationLayer"):
                hint = (" (a keras.ops call or tensor arithmetic on symbolic tensors; use the "
                        "equivalent layer, e.g. Add, Multiply, Rescaling, Activation)")
            raise unsupported(layer, f"no TFLite lowering for layers of class {name}{hint}")
        cdt = getattr(layer, "compute_dtype", "float32")
        if cdt != "float32":
            raise unsupported(layer, f"it computes in {cdt}; the converter reads float32 "
                              "models (use TFLiteConverter's float16 option instead of a "
                              "mixed-precision policy)")
        return fn(self, layer, ins, shapes)

    def lower_model(self, model, ins):
        from tenfold.keras.engine.keras_tensor import KerasTensor
        from tenfold.util import nest
        graph = keras_graph(model)
        if len(ins) != len(graph.inputs):
            raise UnsupportedLayerError(
                f"TFLite conversion: model \"{model.name}\" takes {len(graph.inputs)} inputs "
                f"but is called on {len(ins)} here.")
        vals = {id(kt): v for kt, v in zip(graph.inputs, ins)}
        for depth in sorted(graph._nodes_by_depth, reverse=True):
            for node in graph._nodes_by_depth[depth]:
                if node.is_input:
                    continue
                if any(isinstance(x, KerasTensor) for x in nest.flatten(node.call_kwargs)):
                    raise unsupported(node.layer, "it is called with symbolic tensors as "
                                      "keyword arguments")
                args = [x for x in nest.flatten(node.call_args) if isinstance(x, KerasTensor)]
                shapes = [static_shape(kt.shape, node.layer) for kt in node.output_tensors]
                outs = self.lower_layer(node.layer, [vals[id(t)] for t in args], shapes)
                for kt, v in zip(node.output_tensors, outs):
                    vals[id(kt)] = v
        return [vals[id(kt)] for kt in graph.outputs]


def static_shape(shape, where):
    dims = []
    for i, d in enumerate(tuple(shape)):
        if d is None and i > 0:
            name = getattr(where, "name", where)
            raise UnsupportedLayerError(
                f"TFLite conversion: \"{name}\" has shape {tuple(shape)}: only the batch "
                "dimension may be unknown. Give the model fixed input sizes "
                "(keras.Input(shape=(28, 28, 1)) rather than (None, None, 1)).")
        dims.append(-1 if d is None else int(d))
    return tuple(dims)


def keras_graph(model):
    """The functional graph of a Sequential or functional model, or an error that says what
    the converter needs."""
    from tenfold.export.onnx import graph_of
    from tenfold.keras.models.functional import Functional
    from tenfold.keras.models.sequential import Sequential
    if isinstance(model, Sequential) and model._functional is None:
        raise ValueError(
            f"TFLite conversion: Sequential model \"{model.name}\" has no input shape yet. "
            "Start it with keras.Input(shape=...), or call the model on data once, before "
            "converting.")
    if not isinstance(model, (Sequential, Functional)):
        raise UnsupportedLayerError(
            f"TFLite conversion: model \"{model.name}\" is a subclassed Model (class "
            f"{type(model).__name__}) whose call() is Python code; the converter reads "
            "Sequential and functional models. Rebuild it with keras.Input(...) and layer "
            "calls (the functional API), or as a Sequential.")
    return graph_of(model)


def lower_keras_model(model):
    """The float32 TFLite graph of a Sequential or functional model."""
    graph = keras_graph(model)
    lw = Lowering()
    ins = []
    for kt, name in zip(graph.inputs, graph.input_names):
        if np.dtype(kt.dtype) != np.float32:
            raise UnsupportedLayerError(
                f"TFLite conversion: input \"{name}\" has dtype {kt.dtype}; the converter "
                "takes float32 model inputs (quantized input types are chosen with "
                "converter.inference_input_type).")
        t = lw.g.tensor(name, static_shape(kt.shape, name))
        ins.append(t)
    lw.g.inputs = ins
    outs = lw.lower_model(model, ins)
    g = lw.g
    final = []
    for t, name in zip(outs, graph.output_names):
        if any(t is i for i in g.inputs) or any(t is f for f in final):
            t = _reshape(lw, _Named(name), t, t.shape)  # an output must be its own tensor
        final.append(t)
    g.outputs = final
    g.input_names = list(graph.input_names)
    g.output_names = list(graph.output_names)
    optimize(g)
    return g


class _Named:
    def __init__(self, name):
        self.name = name


# ---------------------------------------------------------------------------- rewrites
_FUSES_ACTIVATION = {"FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "SUB", "MUL",
                     "MAX_POOL_2D", "AVERAGE_POOL_2D", "CONCATENATION"}
_LINEAR_W_AXIS = {"FULLY_CONNECTED": 0, "CONV_2D": 0, "DEPTHWISE_CONV_2D": 3}


def _only_consumer(g, t):
    cons = g.consumers(t)
    if len(cons) != 1 or any(t is o for o in g.outputs):
        return None
    return cons[0]


def _channel_const(op, x):
    """The per-channel (or scalar) constant operand of a MUL/ADD whose other operand is x."""
    a, b = op.inputs
    c = b if a is x else a if b is x else None
    if c is None or not c.is_const or c.data.ndim > 1:
        return None
    return c.data


def fold_batch_norm(g):
    """conv/dense -> MUL(c) -> ADD(c) (a lowered BatchNormalization or Rescaling) becomes one
    conv/dense with scaled weights and shifted bias."""
    changed = True
    while changed:
        changed = False
        for op in list(g.ops):
            if op.kind not in _LINEAR_W_AXIS or op.opts.get("fused_activation") != "NONE":
                continue
            y = op.outputs[0]
            nxt = _only_consumer(g, y)
            if nxt is None or nxt.kind not in ("MUL", "ADD") or \
                    nxt.opts.get("fused_activation") != "NONE":
                continue
            c = _channel_const(nxt, y)
            n = y.shape[-1]
            if c is None or c.size not in (1, n):
                continue
            c = np.broadcast_to(c, (n,)).astype(np.float32)
            w, b = op.inputs[1], op.inputs[2]
            if nxt.kind == "MUL":
                shape = [1] * w.data.ndim
                shape[_LINEAR_W_AXIS[op.kind]] = n
                op.inputs[1] = g.const(w.name, w.data * c.reshape(shape))
                op.inputs[2] = g.const(b.name, b.data * c)
            else:
                op.inputs[2] = g.const(b.name, b.data + c)
            out = nxt.outputs[0]
            op.outputs[0] = out
            g.ops.remove(nxt)
            changed = True


def fuse_activations(g):
    fusable = {"RELU": "RELU", "RELU6": "RELU6"}
    for op in list(g.ops):
        if op.kind not in _FUSES_ACTIVATION or op.opts.get("fused_activation") != "NONE":
            continue
        nxt = _only_consumer(g, op.outputs[0])
        if nxt is None or nxt.kind not in fusable:
            continue
        op.opts["fused_activation"] = fusable[nxt.kind]
        op.outputs[0] = nxt.outputs[0]
        g.ops.remove(nxt)


def optimize(g):
    fold_batch_norm(g)
    fuse_activations(g)
