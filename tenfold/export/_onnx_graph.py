"""The ONNX graph under construction: nodes, initializers, unique names, and the layout of
every value.

Keras (and tenfold) keep images channels-last (NHWC); ONNX's Conv, pooling and Resize work
channels-first (NCHW). A value of the exported graph is held in one of two layouts:

- ``"keras"``: exactly the Keras tensor;
- ``"cf"``: the Keras tensor with its last (channel) axis moved to position 1. Only used for
  tensors of rank >= 3 coming out of channels-last convolution-like layers.

Converters ask for the layout they need (`Converter.as_layout`); a Transpose is inserted only
when the layout changes, and cached, so a stack of Conv / BatchNorm / ReLU / MaxPool stays
channels-first with a single Transpose at each end.
"""
import re

import numpy as np


def to_cf_perm(nd):
    """Permutation taking a channels-last tensor of rank nd to channels-first."""
    return (0, nd - 1) + tuple(range(1, nd - 1))


def to_keras_perm(nd):
    """Permutation taking a channels-first tensor of rank nd back to channels-last."""
    return (0,) + tuple(range(2, nd)) + (1,)


class Val:
    """A value of the graph being built: its ONNX name, the layout it is held in, and the
    Keras tensor's shape (None for unknown sizes), dtype and mask (an ONNX bool tensor name
    or None)."""

    __slots__ = ("name", "layout", "shape", "dtype", "mask")

    def __init__(self, name, layout, shape, dtype, mask=None):
        self.name = name
        self.layout = layout
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.mask = mask

    @property
    def ndim(self):
        return len(self.shape)

    def like(self, name, layout=None, shape=None, dtype=None, mask="same"):
        """A new value computed elementwise from this one (same shape unless given)."""
        return Val(name, self.layout if layout is None else layout,
                   self.shape if shape is None else shape,
                   self.dtype if dtype is None else dtype,
                   self.mask if mask == "same" else mask)


class Builder:
    """Collects ONNX nodes and initializers with unique, readable names."""

    def __init__(self, onnx, opset):
        self.onnx = onnx
        self.helper = onnx.helper
        self.numpy_helper = onnx.numpy_helper
        self.opset = int(opset)
        self.nodes = []
        self.initializers = []
        self._used = set()
        self._consts = {}
        self._layouts = {}

    # ------------------------------------------------------------------ names
    def name(self, base):
        base = re.sub(r"[^A-Za-z0-9_./:-]", "_", str(base or "v")) or "v"
        if base not in self._used:
            self._used.add(base)
            return base
        i = 1
        while f"{base}_{i}" in self._used:
            i += 1
        out = f"{base}_{i}"
        self._used.add(out)
        return out

    def reserve(self, name):
        """Claims an exact name (graph inputs and outputs); fails if it is taken."""
        if name in self._used:
            raise ValueError(f"ONNX export: the name {name!r} is used twice in the exported "
                             "graph; give the model's inputs and outputs unique names.")
        self._used.add(name)
        return name

    # ------------------------------------------------------------------ constants
    def const(self, value, base="const", key=None, dtype=None):
        """An initializer holding `value` (deduplicated by `key`, e.g. a variable's id)."""
        if key is not None and key in self._consts:
            return self._consts[key]
        arr = np.asarray(value if dtype is None else np.asarray(value).astype(dtype))
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(np.float32)
        name = self.name(base)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values, base="shape"):
        values = tuple(int(v) for v in values)
        return self.const(np.array(values, dtype=np.int64), base, key=("ints", values))

    def scalar(self, value, dtype, base="c"):
        dtype = np.dtype(dtype)
        return self.const(np.array(value, dtype=dtype), base, key=("scalar", float(value),
                                                                   dtype.str))

    # ------------------------------------------------------------------ nodes
    def op(self, op_type, inputs, base=None, outputs=1, out_names=None, **attrs):
        """Appends a node; returns its output name (or a list of names). `out_names` gives
        exact (already reserved) output names."""
        outs = list(out_names) if out_names is not None else [
            self.name(f"{base or op_type}" + ("" if outputs == 1 else f"_out{i}"))
            for i in range(outputs)]
        outputs = len(outs)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs,
                                                name=self.name(f"{base or op_type}_node"),
                                                **attrs))
        return outs[0] if outputs == 1 else outs

    def reduce(self, op_type, x, axes, keepdims, base=None):
        """Reduce* with `axes`, as an input (ReduceSum from opset 13, the others from 18) or
        an attribute (before)."""
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes, "axes")], base,
                           keepdims=int(bool(keepdims)))
        return self.op(op_type, [x], base, axes=axes, keepdims=int(bool(keepdims)))

    def unsqueeze(self, x, axes, base=None):
        return self.op("Unsqueeze", [x, self.ints(axes, "axes")], base)

    def transpose(self, x, perm, base=None):
        return self.op("Transpose", [x], base, perm=[int(p) for p in perm])

    # ------------------------------------------------------------------ layouts
    def as_layout(self, v, layout):
        """The name of `v` held in `layout` ("keras" or "cf"), transposing once if needed."""
        if v.ndim < 3 or v.layout == layout:
            return v.name
        key = (v.name, layout)
        if key not in self._layouts:
            perm = to_cf_perm(v.ndim) if layout == "cf" else to_keras_perm(v.ndim)
            self._layouts[key] = self.transpose(v.name, perm, base=f"{v.name}_to_{layout}")
        return self._layouts[key]

    @staticmethod
    def held_axis(v, keras_axis, layout=None):
        """Where the Keras axis `keras_axis` of `v` sits in the ONNX tensor held in
        `layout` (default: the layout `v` is held in)."""
        nd = v.ndim
        ax = keras_axis % nd if nd else 0
        layout = v.layout if layout is None else layout
        if nd < 3 or layout == "keras":
            return ax
        return to_cf_perm(nd).index(ax)

    @staticmethod
    def held_shape(v, layout=None):
        layout = v.layout if layout is None else layout
        if v.ndim < 3 or layout == "keras":
            return v.shape
        return tuple(v.shape[p] for p in to_cf_perm(v.ndim))
