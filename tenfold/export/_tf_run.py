"""Runs a TensorFlow `GraphDef` with tenfold's ops: how `tf.saved_model.load` executes the
SavedModels tenfold writes (the TensorFlow ops `_tf_graph.py` lowers to, and the few more
that TensorFlow's own inference graphs of the same layers use).

Each op is `fn(node, *inputs) -> tensor | [tensors]` over tenfold tensors; an op outside the
table is reported by name when the graph is loaded, not in the middle of a call.
"""
import numpy as np

from tenfold.export import _tf_protos as P

OPS = {}


def op(*names):
    def register(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return register


def _a(node, key, default=None):
    if key not in node.attr:
        return default
    v = node.attr[key]
    which = v.WhichOneof("value")
    if which == "list":
        return list(v.list.i) or list(v.list.f) or [x.decode() for x in v.list.s]
    if which == "s":
        return v.s.decode()
    if which == "type":
        return P.np_dtype(v.type)
    if which == "tensor":
        return P.tensor_value(v.tensor)
    return getattr(v, which)


def _tf():
    import tenfold
    return tenfold


def _simple(name, fn_name, module="math"):
    def run(node, *xs):
        tf = _tf()
        fn = getattr(getattr(tf, module) if module else tf, fn_name)
        return fn(*xs)
    OPS[name] = run


for _tfop, _fn in {"Neg": "negative", "Abs": "abs", "Sign": "sign", "Sqrt": "sqrt",
                   "Rsqrt": "rsqrt", "Square": "square", "Exp": "exp", "Expm1": "expm1",
                   "Log": "log", "Log1p": "log1p", "Tanh": "tanh", "Sigmoid": "sigmoid",
                   "Softplus": "softplus", "Sin": "sin", "Cos": "cos", "Tan": "tan",
                   "Asin": "asin", "Acos": "acos", "Atan": "atan", "Sinh": "sinh",
                   "Cosh": "cosh", "Asinh": "asinh", "Acosh": "acosh", "Atanh": "atanh",
                   "Floor": "floor", "Ceil": "ceil", "Round": "round",
                   "Reciprocal": "reciprocal", "Erf": "erf", "Erfc": "erfc",
                   "LogicalNot": "logical_not", "IsNan": "is_nan", "IsInf": "is_inf",
                   "IsFinite": "is_finite", "AddV2": "add", "Add": "add", "Sub": "subtract",
                   "Mul": "multiply", "RealDiv": "truediv", "DivNoNan": "divide_no_nan",
                   "Maximum": "maximum",
                   "Minimum": "minimum", "Pow": "pow", "FloorDiv": "floordiv",
                   "FloorMod": "floormod", "Atan2": "atan2",
                   "SquaredDifference": "squared_difference", "Greater": "greater",
                   "GreaterEqual": "greater_equal", "Less": "less",
                   "LessEqual": "less_equal", "Equal": "equal", "NotEqual": "not_equal",
                   "LogicalAnd": "logical_and", "LogicalOr": "logical_or"}.items():
    _simple(_tfop, _fn)

for _tfop, _fn in {"Relu": "relu", "Relu6": "relu6", "Elu": "elu", "Selu": "selu",
                   "Softmax": "softmax", "LogSoftmax": "log_softmax"}.items():
    _simple(_tfop, _fn, "nn")


@op("LeakyRelu")
def _leaky_relu(node, x):
    return _tf().nn.leaky_relu(x, alpha=_a(node, "alpha", 0.2))


@op("Identity", "StopGradient", "Snapshot")
def _identity(node, x, *control):
    return _tf().identity(x)


@op("Cast")
def _cast(node, x):
    return _tf().cast(x, _a(node, "DstT"))


@op("SelectV2", "Select")
def _select(node, c, x, y):
    return _tf().where(c, x, y)


@op("ZerosLike")
def _zeros_like(node, x):
    return _tf().zeros_like(x)


@op("OnesLike")
def _ones_like(node, x):
    return _tf().ones_like(x)


@op("MatMul")
def _matmul(node, a, b):
    return _tf().linalg.matmul(a, b, transpose_a=_a(node, "transpose_a", False),
                               transpose_b=_a(node, "transpose_b", False))


@op("BatchMatMulV2", "BatchMatMulV3", "BatchMatMul")
def _bmm(node, a, b):
    return _tf().linalg.matmul(a, b, adjoint_a=_a(node, "adj_x", False),
                               adjoint_b=_a(node, "adj_y", False))


@op("BiasAdd")
def _bias_add(node, x, b):
    return _tf().nn.bias_add(x, b, data_format=_a(node, "data_format", "NHWC"))


def _nhwc(node):
    fmt = _a(node, "data_format", "NHWC")
    if fmt not in ("NHWC", "NWC"):
        raise ValueError(f"TensorFlow op {node.op} '{node.name}': data_format={fmt} is not "
                         "supported by tenfold's SavedModel reader (NHWC only)")


def _conv_padding(node):
    pad = _a(node, "padding")
    if pad == "EXPLICIT":
        e = _a(node, "explicit_paddings")
        return [[e[i], e[i + 1]] for i in range(0, len(e), 2)]
    return pad


@op("Conv2D")
def _conv2d(node, x, w):
    _nhwc(node)
    return _tf().nn.conv2d(x, w, strides=_a(node, "strides"), padding=_conv_padding(node),
                           dilations=_a(node, "dilations", [1, 1, 1, 1]))


@op("DepthwiseConv2dNative")
def _depthwise(node, x, w):
    _nhwc(node)
    d = _a(node, "dilations", [1, 1, 1, 1])
    return _tf().nn.depthwise_conv2d(x, w, strides=_a(node, "strides"),
                                     padding=_conv_padding(node), dilations=d[1:3])


@op("MaxPool", "AvgPool")
def _pool(node, x):
    _nhwc(node)
    tf = _tf()
    fn = tf.nn.max_pool2d if node.op == "MaxPool" else tf.nn.avg_pool2d
    return fn(x, ksize=_a(node, "ksize"), strides=_a(node, "strides"),
              padding=_a(node, "padding"))


@op("Conv2DBackpropInput")
def _conv_transpose(node, sizes, w, dy):
    _nhwc(node)
    return _tf().nn.conv2d_transpose(dy, w, output_shape=sizes, strides=_a(node, "strides"),
                                     padding=_conv_padding(node),
                                     dilations=_a(node, "dilations", [1, 1, 1, 1]))


@op("Shape")
def _shape(node, x):
    return _tf().shape(x, out_type=_a(node, "out_type", np.int32))


@op("StridedSlice")
def _strided_slice(node, x, begin, end, strides):
    masks = {k: int(_a(node, k, 0)) for k in ("begin_mask", "end_mask", "ellipsis_mask",
                                              "new_axis_mask", "shrink_axis_mask")}
    return _tf().strided_slice(x, begin, end, strides, **masks)


@op("Pack")
def _pack(node, *xs):
    return _tf().stack(list(xs), axis=int(_a(node, "axis", 0)))


@op("Fill")
def _fill(node, dims, value):
    return _tf().fill(dims, value)


@op("Tile")
def _tile(node, x, multiples):
    return _tf().tile(x, multiples)


@op("Reshape")
def _reshape(node, x, shape):
    return _tf().reshape(x, shape)


@op("Transpose")
def _transpose(node, x, perm):
    return _tf().transpose(x, perm)


@op("ExpandDims")
def _expand(node, x, axis):
    return _tf().expand_dims(x, int(np.asarray(axis.numpy()).reshape(())))


@op("Squeeze")
def _squeeze(node, x):
    return _tf().squeeze(x, axis=_a(node, "squeeze_dims") or None)


@op("ConcatV2")
def _concat(node, *xs):
    return _tf().concat(list(xs[:-1]), axis=int(np.asarray(xs[-1].numpy()).reshape(())))


@op("Pad", "PadV2")
def _pad(node, x, paddings, value=None):
    return _tf().pad(x, paddings, constant_values=0 if value is None else value.numpy())


@op("BroadcastTo")
def _broadcast(node, x, shape):
    return _tf().broadcast_to(x, shape)


@op("GatherV2")
def _gather(node, params, indices, axis):
    return _tf().gather(params, indices, axis=int(np.asarray(axis.numpy()).reshape(())),
                        batch_dims=_a(node, "batch_dims", 0))


def _reducer(fn_name):
    def run(node, x, axes):
        tf = _tf()
        keep = bool(_a(node, "keep_dims", False))
        return getattr(tf.math, fn_name)(x, axis=[int(a) for a in np.atleast_1d(axes.numpy())],
                                         keepdims=keep)
    return run


for _tfop, _fn in {"Sum": "reduce_sum", "Mean": "reduce_mean", "Max": "reduce_max",
                   "Min": "reduce_min", "Prod": "reduce_prod", "All": "reduce_all",
                   "Any": "reduce_any"}.items():
    OPS[_tfop] = _reducer(_fn)


class GraphRunner:
    """Runs the part of `graph_def` that computes `fetches` (tensor names) from `feeds`."""

    def __init__(self, graph_def, where="SavedModel"):
        self.nodes = {n.name: n for n in graph_def.node}
        self.where = where
        self._consts = {}

    @staticmethod
    def split(name):
        name = name.lstrip("^")
        node, _, idx = name.partition(":")
        return node, int(idx or 0)

    def needed(self, fetches, feeds):
        """The nodes to run, in dependency order; checks every op has an implementation."""
        order, seen = [], set()
        stack = [(self.split(f)[0], False) for f in reversed(fetches)]
        while stack:
            name, done = stack.pop()
            if done:
                order.append(name)
                continue
            if name in seen or name in feeds:
                continue
            seen.add(name)
            node = self.nodes.get(name)
            if node is None:
                raise ValueError(f"{self.where}: the graph has no node '{name}'")
            if node.op not in OPS and node.op not in ("Const", "Placeholder", "NoOp"):
                raise ValueError(
                    f"{self.where}: TensorFlow op '{node.op}' (node '{node.name}') is not "
                    f"supported by tenfold's SavedModel reader. Supported ops: Const, "
                    f"Placeholder, {', '.join(sorted(OPS))}.")
            stack.append((name, True))
            for i in reversed(node.input):
                if not i.startswith("^"):
                    stack.append((self.split(i)[0], False))
        return order

    def run(self, feeds, fetches):
        """`feeds`: {node name: tensor}; returns the tensors of `fetches`."""
        tf = _tf()
        env = {(k, 0): v for k, v in feeds.items()}
        for name in self.needed(fetches, feeds):
            node = self.nodes[name]
            if node.op == "Const":
                t = self._consts.get(name)
                if t is None:
                    t = self._consts[name] = tf.constant(_a(node, "value"))
                env[(name, 0)] = t
                continue
            if node.op == "Placeholder":
                raise ValueError(f"{self.where}: no value fed for input '{name}'")
            if node.op == "NoOp":
                continue
            ins = [env[self.split(i)] for i in node.input if not i.startswith("^")]
            out = OPS[node.op](node, *ins)
            if isinstance(out, (list, tuple)):
                for k, o in enumerate(out):
                    env[(name, k)] = o
            else:
                env[(name, 0)] = out
        return [env[self.split(f)] for f in fetches]
