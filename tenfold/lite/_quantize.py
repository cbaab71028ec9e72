"""Post-training quantization of the converter's graph, following TensorFlow Lite's 8-bit
quantization specification:

- full integer: activations int8 asymmetric from the calibrated min/max (the range always
  holds 0); weights int8 symmetric in [-127, 127], per output channel for CONV_2D (axis 0),
  DEPTHWISE_CONV_2D (axis 3) and FULLY_CONNECTED (axis 0); biases int32 with scale
  s_input * s_weight and zero point 0; SOFTMAX and LOGISTIC outputs at scale 1/256, zero
  point -128, TANH at 1/128, 0; pooling and RESHAPE keep their input's parameters.
- dynamic range: the weights of FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D with at least
  1024 elements become int8; the runtime quantizes activations on the fly (hybrid kernels).
- float16: float constants stored as float16 and DEQUANTIZE'd to float32 at load.
"""
import numpy as np

from tenfold.lite._ir import Quant

_W_AXIS = {"FULLY_CONNECTED": 0, "CONV_2D": 0, "DEPTHWISE_CONV_2D": 3}
_FIXED_OUT = {"SOFTMAX": (1.0 / 256.0, -128), "LOGISTIC": (1.0 / 256.0, -128),
              "TANH": (1.0 / 128.0, 0)}
_SAME_AS_INPUT = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "REDUCE_MAX", "PAD"}
_SAME_SCALE_INPUTS = {"CONCATENATION", "MAXIMUM", "MINIMUM"}
DYNAMIC_RANGE_MIN_ELEMENTS = 1024


def symmetric_weights(w, axis):
    """int8 weights and their per-channel Quant along `axis` (None: one scale)."""
    if axis is None:
        amax = np.array([np.abs(w).max()], np.float64)
    else:
        amax = np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    shape = [1] * w.ndim
    if axis is not None:
        shape[axis] = -1
    q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, Quant(scale, np.zeros(scale.shape, np.int64), 0 if axis is None else axis)


def asymmetric_quant(lo, hi):
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / 255.0
    if scale == 0.0:
        scale = 1.0
    zp = int(np.clip(np.rint(-128 - lo / scale), -128, 127))
    return Quant(scale, zp)


def float16(g):
    """Float constants become float16 tensors read through DEQUANTIZE ops."""
    new_ops = []
    done = {}
    for op in g.ops:
        for j, t in enumerate(op.inputs):
            if t is None or not t.is_const or t.dtype != np.float32:
                continue
            if id(t) not in done:
                half = g.const(t.name + "/fp16", t.data.astype(np.float16))
                full = g.tensor(t.name + "/dequantize", t.shape)
                from tenfold.lite._ir import Op
                new_ops.append(Op("DEQUANTIZE", [half], [full]))
                done[id(t)] = full
            op.inputs[j] = done[id(t)]
    g.ops = new_ops + g.ops


def dynamic_range(g):
    for op in g.ops:
        if op.kind not in _W_AXIS:
            continue
        w = op.inputs[1]
        if not w.is_const or w.data.size < DYNAMIC_RANGE_MIN_ELEMENTS:
            continue
        axis = None if op.kind == "FULLY_CONNECTED" else _W_AXIS[op.kind]
        q, quant = symmetric_weights(w.data, axis)
        op.inputs[1] = g.const(w.name, q, quant=quant)
        if op.kind == "FULLY_CONNECTED":
            op.opts["asymmetric_quantize_inputs"] = True


def full_integer(g, ranges, input_type=np.float32, output_type=np.float32):
    """Rewrites g to int8. `ranges`: {id(tensor): (min, max)} from calibration."""
    from tenfold.lite._ir import Op
    float_inputs = list(g.inputs)
    float_outputs = list(g.outputs)

    def act_quant(t):
        if t.quant is None:
            lo, hi = ranges[id(t)]
            t.quant = asymmetric_quant(lo, hi)
        t.dtype = np.dtype(np.int8)

    for t in g.inputs:
        act_quant(t)
    extra = []
    for op in list(g.ops):
        x = op.inputs[0]
        y = op.outputs[0]
        if op.kind in _FIXED_OUT:
            y.quant = Quant(*_FIXED_OUT[op.kind])
        elif op.kind in _SAME_AS_INPUT and x.quant is not None:
            y.quant = x.quant
        act_quant(y)
        if op.kind in _W_AXIS:
            w, b = op.inputs[1], op.inputs[2]
            q, wq = symmetric_weights(w.data, _W_AXIS[op.kind])
            op.inputs[1] = g.const(w.name, q, quant=wq)
            bscale = x.quant.scale[0] * wq.scale.astype(np.float64)
            bq = np.rint(b.data.astype(np.float64) / bscale)
            bq = np.clip(bq, -2**31 + 1, 2**31 - 1).astype(np.int32)
            op.inputs[2] = g.const(b.name, bq, quant=Quant(bscale, np.zeros_like(bq, np.int64),
                                                         0))
            continue
        same_scale = op.kind in _SAME_SCALE_INPUTS
        for j, t in enumerate(op.inputs):
            if t is None or not t.is_const or t.dtype != np.float32:
                continue
            tq = y.quant if same_scale else asymmetric_quant(t.data.min(), t.data.max())
            data = np.clip(np.rint(t.data / tq.scale[0]) + tq.zero_point[0], -128, 127)
            op.inputs[j] = g.const(t.name, data.astype(np.int8), quant=tq)
        if same_scale:  # the int8 kernel compares / copies raw values: one scale for all
            for j, t in enumerate(op.inputs):
                if not t.quant.same(y.quant):
                    r = g.tensor(t.name + "/requantize", t.shape, np.int8, y.quant)
                    extra.append((op, Op("QUANTIZE", [t], [r])))
                    op.inputs[j] = r
    for op, req in extra:
        g.ops.insert(g.ops.index(op), req)

    # the interface types
    new_inputs = []
    for t in float_inputs:
        if input_type == np.int8:
            new_inputs.append(t)
            continue
        if input_type == np.uint8:
            outer = g.tensor(t.name + "_uint8", t.shape, np.uint8,
                             Quant(t.quant.scale, t.quant.zero_point + 128))
        else:
            outer = g.tensor(t.name + "_float", t.shape, np.float32)
        inner = g.tensor(t.name + "/quantize", t.shape, np.int8, t.quant)
        g.replace_uses(t, inner)
        g.ops.insert(0, Op("QUANTIZE", [outer], [inner]))
        outer.name, t.name = t.name, outer.name  # the interface keeps the input's name
        new_inputs.append(outer)
    g.inputs = new_inputs
    new_outputs = []
    for t in float_outputs:
        if output_type == np.int8:
            new_outputs.append(t)
            continue
        if output_type == np.uint8:
            outer = g.tensor(t.name + "_uint8", t.shape, np.uint8,
                             Quant(t.quant.scale, t.quant.zero_point + 128))
            g.ops.append(Op("QUANTIZE", [t], [outer]))
        else:
            outer = g.tensor(t.name + "_float", t.shape, np.float32)
            g.ops.append(Op("DEQUANTIZE", [t], [outer]))
        outer.name, t.name = t.name, outer.name
        new_outputs.append(outer)
    g.outputs = new_outputs
