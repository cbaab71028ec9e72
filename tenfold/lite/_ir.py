"""The converter's working form: a list of TFLite builtin ops over named tensors.

Layers are lowered to this form (`_lower.py`), rewritten by the quantizer (`_quantize.py`)
and written as a flatbuffer (`_flatbuffer.py`). Shapes are NHWC as in Keras and TFLite; a
dynamic batch dimension is -1.
"""
import numpy as np


class Quant:
    """Affine quantization parameters: real = scale * (q - zero_point), per tensor or per
    channel along `axis`."""

    def __init__(self, scale, zero_point, axis=0):
        self.scale = np.atleast_1d(np.asarray(scale, np.float32))
        self.zero_point = np.atleast_1d(np.asarray(zero_point, np.int64))
        self.axis = int(axis)

    def same(self, other):
        return other is not None and self.scale.shape == other.scale.shape and \
            np.array_equal(self.scale, other.scale) and \
            np.array_equal(self.zero_point, other.zero_point)


class Tensor:
    def __init__(self, name, shape, dtype=np.float32, data=None, quant=None):
        self.name = name
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.data = data
        self.quant = quant

    @property
    def is_const(self):
        return self.data is not None

    def __repr__(self):
        return f"Tensor({self.name!r}, {self.shape}, {self.dtype})"


class Op:
    def __init__(self, kind, inputs, outputs, **opts):
        self.kind = kind          # a TFLite BuiltinOperator name, e.g. "CONV_2D"
        self.inputs = list(inputs)  # Tensor, or None for an omitted optional input
        self.outputs = list(outputs)
        self.opts = opts
        self.layer = opts.pop("layer", None)  # the Keras layer it came from (for errors)

    def __repr__(self):
        return f"Op({self.kind}, {[t.name if t else None for t in self.inputs]} -> " \
               f"{[t.name for t in self.outputs]})"


class Graph:
    def __init__(self, name="main"):
        self.name = name
        self.ops = []
        self.inputs = []
        self.outputs = []
        self.input_names = None   # signature names (default: the tensors' names)
        self.output_names = None
        self._names = set()

    def unique(self, name):
        base, i = name, 1
        while name in self._names:
            name, i = f"{base}_{i}", i + 1
        self._names.add(name)
        return name

    def tensor(self, name, shape, dtype=np.float32, quant=None):
        return Tensor(self.unique(name), shape, dtype, quant=quant)

    def const(self, name, array, dtype=None, quant=None):
        a = np.ascontiguousarray(np.asarray(array, dtype=dtype))
        return Tensor(self.unique(name), a.shape, a.dtype, data=a, quant=quant)

    def add(self, kind, inputs, outputs, **opts):
        op = Op(kind, inputs, outputs, **opts)
        self.ops.append(op)
        return op

    def consumers(self, t):
        return [op for op in self.ops if any(i is t for i in op.inputs)]

    def producer(self, t):
        for op in self.ops:
            if any(o is t for o in op.outputs):
                return op
        return None

    def tensors(self):
        """Every tensor, graph inputs first, each once, in a stable order."""
        seen, out = set(), []
        for t in list(self.inputs) + [x for op in self.ops for x in op.inputs + op.outputs] \
                + list(self.outputs):
            if t is not None and id(t) not in seen:
                seen.add(id(t))
                out.append(t)
        return out

    def replace_uses(self, old, new):
        for op in self.ops:
            op.inputs = [new if i is old else i for i in op.inputs]
        self.outputs = [new if o is old else o for o in self.outputs]
