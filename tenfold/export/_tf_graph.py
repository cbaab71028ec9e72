"""tenfold graphs (what `tf.function` traces: declared primitives) -> TensorFlow `GraphDef`s.

One lowering per primitive, keyed by the primitive's name in `LOWERINGS` (this table belongs
with the primitive record in tenfold/ops/registry.py once that has a field for it). A lowering
is `fn(lw, node, ins) -> [tensor name]`: `lw` is the `Lowering` (builder, values, shapes),
`node` the traced node (`node.params` its static params), `ins` the TensorFlow tensor names
of its inputs.

Variables are frozen: their current value becomes a `Const` node (named after the variable),
so the graph needs no checkpoint. Graphs are traced at concrete shapes; `batch_dims` (from a
second trace at another batch size, see `saved_model.py`) tells which dimensions of the
traced shapes vary, so placeholders get `-1` there and `Reshape` targets use `-1`.
"""
import numpy as np

from tenfold.export import _tf_protos as P

LOWERINGS = {}


def lowered_ops():
    """Names of the primitives with a TensorFlow lowering (a function here or a `tf_op`)."""
    from tenfold.ops.registry import REGISTRY
    return sorted(set(LOWERINGS) | {n for n, p in REGISTRY.items() if p.tf_op})


class UnsupportedOpError(ValueError):
    """A primitive (or a setting of one) that has no TensorFlow lowering."""


def lowers(*names, batch_free_params=False):
    """Registers a lowering for primitives `names`. `batch_free_params`: the primitive's params
    hold a traced shape that this lowering makes batch-independent itself (reshape's target
    shape, say), so export may see them differ between batch sizes."""
    def register(fn):
        fn.batch_free_params = batch_free_params
        for n in names:
            LOWERINGS[n] = fn
        return fn
    return register


def _attr(v):
    A = P.attr_value_pb2.AttrValue
    if isinstance(v, A):
        return v
    if isinstance(v, bool):
        return A(b=v)
    if isinstance(v, int):
        return A(i=v)
    if isinstance(v, float):
        return A(f=v)
    if isinstance(v, str):
        return A(s=v.encode())
    if isinstance(v, bytes):
        return A(s=v)
    if isinstance(v, (list, tuple)):
        if all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            return A(list=A.ListValue(i=list(v)))
        if all(isinstance(x, float) for x in v):
            return A(list=A.ListValue(f=list(v)))
    raise TypeError(f"internal: no AttrValue for {v!r}")


def type_attr(dtype):
    return P.attr_value_pb2.AttrValue(type=P.dt_enum(dtype))


class Builder:
    """A GraphDef under construction: nodes with unique names, constants."""

    def __init__(self):
        self.graph_def = P.graph_pb2.GraphDef()
        self.graph_def.versions.producer = P.GRAPH_DEF_VERSION
        self._used = set()

    def name(self, base):
        base = "".join(c if c.isalnum() or c in "_./-" else "_" for c in str(base)) or "node"
        if base[0] in "_./-":
            base = "n" + base
        name, i = base, 1
        while name in self._used:
            name = f"{base}_{i}"
            i += 1
        self._used.add(name)
        return name

    def node(self, op, inputs=(), name=None, **attrs):
        """Adds a node and returns the name of its first output ("name:0" is written "name")."""
        n = self.graph_def.node.add()
        n.op = op
        n.name = self.name(name or op)
        n.input.extend(inputs)
        for k, v in attrs.items():
            n.attr[k].CopyFrom(_attr(v))
        return n.name

    def const(self, value, name="Const", dtype=None):
        a = np.asarray(value, dtype=dtype)
        return self.node("Const", name=name, dtype=type_attr(a.dtype),
                         value=P.attr_value_pb2.AttrValue(tensor=P.tensor_proto(a)))

    def placeholder(self, name, dtype, shape):
        return self.node("Placeholder", name=name, dtype=type_attr(dtype),
                         shape=P.attr_value_pb2.AttrValue(shape=P.shape_proto(shape)))


class Lowering:
    """Lowers one traced tenfold `Graph` into `builder`.

    `inputs`: the TensorFlow tensor names of the graph's input values (placeholders the
    caller made). `batch_dims`: {value id: set of axes whose size depends on the batch}.
    """

    def __init__(self, builder, graph, inputs, batch_dims=None, scope="", owners=None):
        self.b = builder
        self.owners = owners or {}   # node index -> the Keras layer whose call recorded it
        self.graph = graph
        self.values = graph.values
        self.batch_dims = batch_dims or {}
        self.scope = scope
        self._layer_scope = ""       # "<layer name>/" while lowering a node a layer recorded
        self.env = dict(zip(graph.inputs, inputs))
        self._var_names = {}

    # ---------------------------------------------------------------- values
    def shape(self, vid):
        return tuple(self.values[vid].shape)

    def dtype(self, vid):
        return np.dtype(self.values[vid].dtype)

    def dynamic_shape(self, vid):
        """The traced shape with -1 on the dimensions that vary with the batch."""
        varying = self.batch_dims.get(vid, ())
        return tuple(-1 if i in varying else d for i, d in enumerate(self.shape(vid)))

    def tensor(self, vid):
        t = self.env.get(vid)
        if t is not None:
            return t
        v = self.values[vid]
        if v.kind == "var":
            var = v.payload
            base = getattr(var, "path", None) or getattr(var, "name", "variable")
            base = str(base).split(":")[0]
            t = self.b.const(np.asarray(var.numpy()), name=self.scope + base)
        elif v.kind == "const":
            t = self.b.const(np.asarray(v.payload), name=self.scope + "Const")
        else:
            raise RuntimeError(f"internal: graph value {vid} ({v}) has no tensor yet")
        self.env[vid] = t
        return t

    def node(self, op, inputs=(), name=None, **attrs):
        return self.b.node(op, inputs, name=self.scope + self._layer_scope + (name or op),
                           **attrs)

    def const(self, value, dtype=None, name="Const"):
        return self.b.const(value, name=self.scope + self._layer_scope + name, dtype=dtype)

    # ---------------------------------------------------------------- run
    def run(self):
        for k, node in enumerate(self.graph.nodes):
            owner = self.owners.get(k)
            # nodes grouped by layer ("dense/MatMul"), as TensorFlow's name scopes group them
            self._layer_scope = f"{owner.name}/" if owner is not None else ""
            try:
                outs = self._lower(node)
            except UnsupportedOpError as e:
                layer = self.owners.get(k)
                if layer is None:
                    raise
                raise UnsupportedOpError(f"{type(layer).__name__} layer \"{layer.name}\": "
                                         f"{e}") from None
            for vid, t in zip(node.outputs, outs):
                self.env[vid] = t
        self._layer_scope = ""
        return [self.tensor(v) for v in self.graph.outputs]

    def _lower(self, node):
        if node.multi:
            raise UnsupportedOpError(
                f"TensorFlow graph export: '{node.op.name}' (control flow / stateful "
                "multi-output op) has no lowering; export a function without tf.cond / "
                "tf.while_loop / optimizer steps (an inference function).")
        fn = LOWERINGS.get(node.op.name)
        if fn is None and node.op.tf_op is not None:  # declared on the primitive: one node
            fn = _one_for_one
        if fn is None:
            raise UnsupportedOpError(
                f"TensorFlow graph export: op '{node.op.name}' has no TensorFlow lowering "
                f"(traced with inputs of shapes "
                f"{[self.shape(i) for i in node.inputs]}). Ops with a lowering: "
                f"{', '.join(lowered_ops())}.")
        return fn(self, node, [self.tensor(i) for i in node.inputs])

    # ---------------------------------------------------------------- helpers
    def cast_to(self, t, vid, dtype):
        """`t` (the tensor of value `vid`) as `dtype`: a constant is converted, a dynamic
        value gets a Cast."""
        dtype = np.dtype(dtype)
        if self.dtype(vid) == dtype:
            return t
        v = self.values[vid]
        if v.kind == "const":
            return self.const(np.asarray(v.payload).astype(dtype))
        return self.node("Cast", [t], SrcT=type_attr(self.dtype(vid)),
                         DstT=type_attr(dtype), Truncate=False)


def _out_dtype(lw, node, k=0):
    return lw.dtype(node.outputs[k])


# ------------------------------------------------------------------------ elementwise





# TensorFlow ops (not tenfold primitive names) whose one-for-one lowering needs more than the
# plain unary/binary form: their input casting and attributes differ
_TF_COMPARISONS = {"Greater", "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual"}
_TF_LOGICAL = {"LogicalAnd", "LogicalOr"}
_TF_REDUCTIONS = {"Sum", "Max", "Min", "Prod", "Mean", "All", "Any"}


def _one_for_one(lw, node, ins):
    """The lowering of a primitive that declares `tf_op` (tenfold/ops/registry.py)."""
    op = node.op.tf_op
    if op in _TF_REDUCTIONS:
        return _reduce(lw, node, ins)
    if op in _TF_COMPARISONS:
        return _compare(lw, node, ins)
    if op in _TF_LOGICAL:
        return _logical(lw, node, ins)
    return _unary(lw, node, ins) if len(ins) == 1 else _binary(lw, node, ins)


def _unary(lw, node, ins):
    op = node.op.tf_op
    if op in ("LogicalNot",):
        return [lw.node(op, ins)]
    dt = lw.dtype(node.inputs[0])
    return [lw.node(op, ins, T=type_attr(dt))]



def _binary(lw, node, ins):
    dt = _out_dtype(lw, node)
    a, b = (lw.cast_to(t, v, dt) for t, v in zip(ins, node.inputs))
    if node.op.name == "add" and _is_bias(lw, node):
        # x + bias (a 1-D variable along the last axis): BiasAdd, as TensorFlow's Dense and
        # Conv graphs have it (and as graph optimizers fuse it into the MatMul / Conv)
        return [lw.node("BiasAdd", [a, b], T=type_attr(dt), data_format="NHWC")]
    return [lw.node(node.op.tf_op, [a, b], T=type_attr(dt))]


def _is_bias(lw, node):
    x, b = node.inputs
    xs, bs = lw.shape(x), lw.shape(b)
    return (lw.values[b].kind == "var" and len(bs) == 1 and len(xs) >= 2 and
            xs[-1] == bs[0] and lw.shape(node.outputs[0]) == xs and
            lw.dtype(x) == lw.dtype(b) == _out_dtype(lw, node))



@lowers("divide")
def _divide(lw, node, ins):
    dt = _out_dtype(lw, node)
    a, b = (lw.cast_to(t, v, dt) for t, v in zip(ins, node.inputs))
    return [lw.node("RealDiv", [a, b], T=type_attr(dt))]


def _compare(lw, node, ins):
    d0, d1 = lw.dtype(node.inputs[0]), lw.dtype(node.inputs[1])
    dt = np.result_type(d0, d1)
    a, b = (lw.cast_to(t, v, dt) for t, v in zip(ins, node.inputs))
    extra = {"incompatible_shape_error": True} if node.op.name in ("equal", "not_equal") \
        else {}
    return [lw.node(node.op.tf_op, [a, b], T=type_attr(dt), **extra)]



def _logical(lw, node, ins):
    return [lw.node(node.op.tf_op, ins)]



@lowers("select")
def _select(lw, node, ins):
    dt = _out_dtype(lw, node)
    c = ins[0]
    a, b = (lw.cast_to(t, v, dt) for t, v in zip(ins[1:], node.inputs[1:]))
    return [lw.node("SelectV2", [c, a, b], T=type_attr(dt))]


@lowers("cast")
def _cast(lw, node, ins):
    src, dst = lw.dtype(node.inputs[0]), _out_dtype(lw, node)
    if src == dst:
        return [lw.node("Identity", ins, T=type_attr(dst))]
    return [lw.node("Cast", ins, SrcT=type_attr(src), DstT=type_attr(dst), Truncate=False)]


@lowers("zeros_like", "ones_like")
def _fill_like(lw, node, ins):
    dt = _out_dtype(lw, node)
    op = "ZerosLike" if node.op.name == "zeros_like" else "OnesLike"
    x = lw.cast_to(ins[0], node.inputs[0], dt)
    return [lw.node(op, [x], T=type_attr(dt))]


# ------------------------------------------------------------------------ nn
@lowers("leaky_relu")
def _leaky_relu(lw, node, ins):
    return [lw.node("LeakyRelu", ins, T=type_attr(_out_dtype(lw, node)),
                    alpha=float(node.params["alpha"]))]


@lowers("softmax", "log_softmax")
def _softmax(lw, node, ins):
    dt = _out_dtype(lw, node)
    nd = len(lw.shape(node.inputs[0]))
    axis = node.params.get("axis", -1)
    axis = axis + nd if axis < 0 else axis
    op = "Softmax" if node.op.name == "softmax" else "LogSoftmax"
    if axis == nd - 1:
        return [lw.node(op, ins, T=type_attr(dt))]
    perm = list(range(nd))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    p = lw.const(np.asarray(perm, np.int32), name="perm")
    x = lw.node("Transpose", [ins[0], p], T=type_attr(dt), Tperm=type_attr(np.int32))
    y = lw.node(op, [x], T=type_attr(dt))
    p2 = lw.const(np.asarray(perm, np.int32), name="perm")
    return [lw.node("Transpose", [y, p2], T=type_attr(dt), Tperm=type_attr(np.int32))]


@lowers("matmul")
def _matmul(lw, node, ins):
    dt = _out_dtype(lw, node)
    ta = bool(node.params.get("transpose_a", False))
    tb = bool(node.params.get("transpose_b", False))
    ra, rb = len(lw.shape(node.inputs[0])), len(lw.shape(node.inputs[1]))
    if ra == 2 and rb == 2:
        return [lw.node("MatMul", ins, T=type_attr(dt), transpose_a=ta, transpose_b=tb)]
    return [lw.node("BatchMatMulV2", ins, T=type_attr(dt), adj_x=ta, adj_y=tb)]


@lowers("heads_matmul")
def _heads_matmul(lw, node, ins):
    """fused_ops.heads_matmul: BatchMatMulV2, then a (0, 2, 1, 3) Transpose when swap_out."""
    dt = _out_dtype(lw, node)
    y = lw.node("BatchMatMulV2", ins, T=type_attr(dt),
                adj_x=bool(node.params.get("transpose_a", False)),
                adj_y=bool(node.params.get("transpose_b", False)))
    if not node.params.get("swap_out", False):
        return [y]
    perm = lw.const(np.asarray((0, 2, 1, 3), np.int32), name="perm")
    return [lw.node("Transpose", [y, perm], T=type_attr(dt), Tperm=type_attr(np.int32))]


@lowers("attention")
def _attention(lw, node, ins):
    """fused_ops.attention: q, k, v to (B, H, T, K) by Transpose, BatchMatMulV2 with k
    adjointed, Softmax, BatchMatMulV2 with v, and the context back to (B, T, H, V)."""
    dt = _out_dtype(lw, node)

    def swap(x):
        perm = lw.const(np.asarray((0, 2, 1, 3), np.int32), name="perm")
        return lw.node("Transpose", [x, perm], T=type_attr(dt), Tperm=type_attr(np.int32))

    q, k, v = (swap(x) for x in ins)
    scores = lw.node("BatchMatMulV2", [q, k], T=type_attr(dt), adj_x=False, adj_y=True)
    probs = lw.node("Softmax", [scores], T=type_attr(dt))
    return [swap(lw.node("BatchMatMulV2", [probs, v], T=type_attr(dt), adj_x=False,
                         adj_y=False))]


def _padding(lw, node, spatial, ksize, strides, dilations, pads, allow_explicit):
    """TensorFlow's padding attribute for explicit `pads` of an input of `spatial` size
    (SAME / VALID when they match, else EXPLICIT with the paddings list)."""
    pads = tuple(tuple(int(x) for x in p) for p in pads)
    if all(p == (0, 0) for p in pads):
        return "VALID", None
    same = []
    for n, k, s, d in zip(spatial, ksize, strides, dilations):
        eff = (k - 1) * d + 1
        out = -(-n // s)
        total = max((out - 1) * s + eff - n, 0)
        same.append((total // 2, total - total // 2))
    if tuple(same) == pads:
        return "SAME", None
    if not allow_explicit:
        raise UnsupportedOpError(
            f"TensorFlow graph export: '{node.op.name}' with paddings {pads} (neither 'same' "
            "nor 'valid') has no TensorFlow lowering; use padding='same' or 'valid'.")
    return "EXPLICIT", [0, 0] + [x for p in pads for x in p] + [0, 0]


def _conv_common(lw, node, ins, depthwise):
    p = node.params
    x_vid = node.inputs[0]
    nd = len(lw.shape(x_vid))
    dt = _out_dtype(lw, node)
    if p.get("groups", 1) != 1:
        raise UnsupportedOpError(
            f"TensorFlow graph export: '{node.op.name}' with groups={p['groups']} has no "
            "TensorFlow CPU lowering (grouped convolution); use groups=1.")
    if nd not in (3, 4):
        raise UnsupportedOpError(
            f"TensorFlow graph export: '{node.op.name}' on a rank-{nd} input has no lowering "
            "here (Conv1D and Conv2D do; Conv3D does not).")
    w_vid = node.inputs[1]
    ksize = lw.shape(w_vid)[:-2]
    strides, dilations, pads = tuple(p["strides"]), tuple(p["dilations"]), p["pads"]
    padding, explicit = _padding(lw, node, lw.shape(x_vid)[1:-1], ksize, strides, dilations,
                                 pads, True)
    x, w = ins[0], ins[1]
    if nd == 3:  # 1-D: a 2-D convolution over a height of 1, as TensorFlow's conv1d
        ax1 = lw.const(np.int32(1), name="axis")
        x = lw.node("ExpandDims", [x, ax1], T=type_attr(dt), Tdim=type_attr(np.int32))
        ax0 = lw.const(np.int32(0), name="axis")
        w = lw.node("ExpandDims", [w, ax0], T=type_attr(dt), Tdim=type_attr(np.int32))
        strides, dilations = (1,) + strides, (1,) + dilations
        if explicit is not None:
            explicit = [0, 0, 0, 0] + explicit[2:]
    attrs = dict(T=type_attr(dt), strides=[1, *strides, 1], padding=padding,
                 dilations=[1, *dilations, 1], data_format="NHWC")
    if explicit is not None:
        attrs["explicit_paddings"] = explicit
    op = "DepthwiseConv2dNative" if depthwise else "Conv2D"
    y = lw.node(op, [x, w], **attrs)
    if len(ins) > 2 and node.inputs[2] is not None:
        y = lw.node("BiasAdd", [y, ins[2]], T=type_attr(dt), data_format="NHWC")
    if p.get("relu"):
        y = lw.node("Relu", [y], T=type_attr(dt))
    if nd == 3:
        y = lw.node("Squeeze", [y], T=type_attr(dt), squeeze_dims=[1])
    return [y]


@lowers("conv", "conv_bias_act")
def _conv(lw, node, ins):
    return _conv_common(lw, node, ins, False)


@lowers("depthwise_conv")
def _depthwise(lw, node, ins):
    return _conv_common(lw, node, ins, True)


@lowers("conv_backprop_input", batch_free_params=True)
def _conv_transpose(lw, node, ins):
    """Conv2DTranspose: the input gradient of a convolution (Conv2DBackpropInput); the output
    size's batch follows the input's when it varies."""
    p = node.params
    dt = _out_dtype(lw, node)
    x_shape = tuple(p["x_shape"])
    if len(x_shape) != 4 or p.get("groups", 1) != 1:
        raise UnsupportedOpError(
            f"TensorFlow graph export: '{node.op.name}' of rank {len(x_shape)} with groups="
            f"{p.get('groups', 1)} has no lowering here (2-D, groups=1 does).")
    ksize = lw.shape(node.inputs[1])[:-2]
    strides, dilations = tuple(p["strides"]), tuple(p["dilations"])
    padding, explicit = _padding(lw, node, x_shape[1:-1], ksize, strides, dilations,
                                 p["pads"], True)
    if 0 in lw.batch_dims.get(node.outputs[0], ()):
        i32 = type_attr(np.int32)
        shp = lw.node("Shape", [ins[0]], T=type_attr(lw.dtype(node.inputs[0])), out_type=i32)
        n = lw.node("StridedSlice", [shp, lw.const(np.int32([0]), name="begin"),
                                     lw.const(np.int32([1]), name="end"),
                                     lw.const(np.int32([1]), name="strides")],
                    T=i32, Index=i32, begin_mask=0, end_mask=0, ellipsis_mask=0,
                    new_axis_mask=0, shrink_axis_mask=0)
        rest = lw.const(np.asarray(x_shape[1:], np.int32), name="size")
        sizes = lw.node("ConcatV2", [n, rest, lw.const(np.int32(0), name="axis")], T=i32,
                        N=2, Tidx=i32)
    else:
        sizes = lw.const(np.asarray(x_shape, np.int32), name="input_sizes")
    attrs = dict(T=type_attr(dt), strides=[1, *strides, 1], padding=padding,
                 dilations=[1, *dilations, 1], data_format="NHWC")
    if explicit is not None:
        attrs["explicit_paddings"] = explicit
    return [lw.node("Conv2DBackpropInput", [sizes, ins[1], ins[0]], **attrs)]


@lowers("strided_slice")
def _strided_slice(lw, node, ins):
    key = node.params["key"]
    key = key if isinstance(key, tuple) else (key,)
    begin, end, strides = [], [], []
    masks = dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                 shrink_axis_mask=0)
    for i, k in enumerate(key):
        bit = 1 << i
        if k is Ellipsis:
            masks["ellipsis_mask"] |= bit
            begin.append(0), end.append(0), strides.append(1)
        elif k is None:
            masks["new_axis_mask"] |= bit
            begin.append(0), end.append(0), strides.append(1)
        elif isinstance(k, slice):
            if k.start is None:
                masks["begin_mask"] |= bit
            if k.stop is None:
                masks["end_mask"] |= bit
            begin.append(0 if k.start is None else int(k.start))
            end.append(0 if k.stop is None else int(k.stop))
            strides.append(1 if k.step is None else int(k.step))
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            masks["shrink_axis_mask"] |= bit
            begin.append(int(k)), end.append(int(k) + 1), strides.append(1)
        else:
            raise UnsupportedOpError(
                f"TensorFlow graph export: indexing with {type(k).__name__} (gather-style "
                "indexing) has no StridedSlice lowering; use tf.gather.")
    i32 = type_attr(np.int32)
    return [lw.node("StridedSlice", [ins[0], lw.const(np.int32(begin), name="begin"),
                                     lw.const(np.int32(end), name="end"),
                                     lw.const(np.int32(strides), name="strides")],
                    T=type_attr(_out_dtype(lw, node)), Index=i32, **masks)]


@lowers("tile")
def _tile(lw, node, ins):
    m = lw.const(np.asarray(node.params["multiples"], np.int32), name="multiples")
    return [lw.node("Tile", [ins[0], m], T=type_attr(_out_dtype(lw, node)),
                    Tmultiples=type_attr(np.int32))]


@lowers("max_pool", "avg_pool")
def _pool(lw, node, ins):
    p = node.params
    x_vid = node.inputs[0]
    nd = len(lw.shape(x_vid))
    dt = _out_dtype(lw, node)
    ksize, strides = tuple(p["ksize"]), tuple(p["strides"])
    dilations = tuple(p.get("dilations", (1,) * len(ksize)))
    if any(d != 1 for d in dilations) or nd not in (3, 4):
        raise UnsupportedOpError(
            f"TensorFlow graph export: '{node.op.name}' on a rank-{nd} input with dilations "
            f"{dilations} has no lowering (1-D and 2-D undilated pooling do).")
    padding, _ = _padding(lw, node, lw.shape(x_vid)[1:-1], ksize, strides, dilations,
                          p["pads"], False)
    x = ins[0]
    if nd == 3:
        ax = lw.const(np.int32(1), name="axis")
        x = lw.node("ExpandDims", [x, ax], T=type_attr(dt), Tdim=type_attr(np.int32))
        ksize, strides = (1,) + ksize, (1,) + strides
    op = "MaxPool" if node.op.name == "max_pool" else "AvgPool"
    y = lw.node(op, [x], T=type_attr(dt), ksize=[1, *ksize, 1], strides=[1, *strides, 1],
                padding=padding, data_format="NHWC")
    if nd == 3:
        y = lw.node("Squeeze", [y], T=type_attr(dt), squeeze_dims=[1])
    return [y]


# ------------------------------------------------------------------------ shapes
@lowers("reshape", batch_free_params=True)
def _reshape(lw, node, ins):
    target = lw.dynamic_shape(node.outputs[0])
    if sum(1 for d in target if d == -1) > 1:
        raise UnsupportedOpError(
            f"TensorFlow graph export: a reshape to {lw.shape(node.outputs[0])} has more than "
            "one dimension that varies with the input size; give the input signature fixed "
            "sizes for all but one dimension.")
    s = lw.const(np.asarray(target, np.int32), name="shape")
    return [lw.node("Reshape", [ins[0], s], T=type_attr(_out_dtype(lw, node)),
                    Tshape=type_attr(np.int32))]


@lowers("transpose")
def _transpose(lw, node, ins):
    perm = lw.const(np.asarray(node.params["perm"], np.int32), name="perm")
    return [lw.node("Transpose", [ins[0], perm], T=type_attr(_out_dtype(lw, node)),
                    Tperm=type_attr(np.int32))]


@lowers("concat")
def _concat(lw, node, ins):
    dt = _out_dtype(lw, node)
    xs = [lw.cast_to(t, v, dt) for t, v in zip(ins, node.inputs)]
    nd = len(lw.shape(node.outputs[0]))
    axis = int(node.params.get("axis", 0))
    axis = axis + nd if axis < 0 else axis
    a = lw.const(np.int32(axis), name="axis")
    return [lw.node("ConcatV2", xs + [a], T=type_attr(dt), N=len(xs),
                    Tidx=type_attr(np.int32))]


@lowers("pad")
def _pad(lw, node, ins):
    dt = _out_dtype(lw, node)
    paddings = lw.const(np.asarray(node.params["paddings"], np.int32), name="paddings")
    value = lw.const(np.asarray(node.params.get("constant_values", 0), dt),
                     name="constant_values")
    return [lw.node("PadV2", [ins[0], paddings, value], T=type_attr(dt),
                    Tpaddings=type_attr(np.int32))]




def _reduce(lw, node, ins):
    x_vid = node.inputs[0]
    nd = len(lw.shape(x_vid))
    axis = node.params.get("axis")
    axes = list(range(nd)) if axis is None else \
        [int(a) + nd if int(a) < 0 else int(a) for a in np.atleast_1d(axis)]
    a = lw.const(np.asarray(axes, np.int32), name="reduction_indices")
    op = node.op.tf_op
    attrs = dict(keep_dims=bool(node.params.get("keepdims", False)), Tidx=type_attr(np.int32))
    if op not in ("All", "Any"):
        attrs["T"] = type_attr(lw.dtype(x_vid))
    y = lw.node(op, [ins[0], a], **attrs)
    if lw.dtype(x_vid) != _out_dtype(lw, node):
        y = lw.node("Cast", [y], SrcT=type_attr(lw.dtype(x_vid)),
                    DstT=type_attr(_out_dtype(lw, node)), Truncate=False)
    return [y]



@lowers("broadcast_to", batch_free_params=True)
def _broadcast_to(lw, node, ins):
    s = lw.const(np.asarray(lw.dynamic_shape(node.outputs[0]), np.int32), name="shape")
    if any(d == -1 for d in lw.dynamic_shape(node.outputs[0])):
        raise UnsupportedOpError(
            "TensorFlow graph export: broadcast_to a shape that varies with the batch size "
            "has no lowering here; export with a fixed batch size in the input signature.")
    return [lw.node("BroadcastTo", [ins[0], s], T=type_attr(_out_dtype(lw, node)),
                    Tidx=type_attr(np.int32))]


@lowers("gather")
def _gather(lw, node, ins):
    p = node.params
    ax = lw.const(np.int32(int(p.get("axis", 0))), name="axis")
    return [lw.node("GatherV2", [ins[0], ins[1], ax], Tparams=type_attr(lw.dtype(node.inputs[0])),
                    Tindices=type_attr(lw.dtype(node.inputs[1])), Taxis=type_attr(np.int32),
                    batch_dims=int(p.get("batch_dims", 0)))]


@lowers("dropout_mask")
def _dropout_mask(lw, node, ins):
    raise UnsupportedOpError(
        "TensorFlow graph export: a dropout draw (training=True) has no lowering; export the "
        "inference function (Keras models are exported with training=False).")


def graph_def(graph, input_names=None, batch_dims=None):
    """A GraphDef for a traced tenfold graph: one Placeholder per input, the lowered nodes,
    and an Identity per output (named `Identity`, `Identity_1`, ... as TensorFlow's function
    graphs name theirs)."""
    b = Builder()
    batch_dims = batch_dims or {}
    names = list(input_names or [f"args_{i}" for i in range(len(graph.inputs))])
    ins = []
    for vid, n in zip(graph.inputs, names):
        v = graph.values[vid]
        shape = [None if i in batch_dims.get(vid, ()) else d for i, d in enumerate(v.shape)]
        ins.append(b.placeholder(n, v.dtype, shape))
    outs = Lowering(b, graph, ins, batch_dims).run()
    out_names = []
    for vid, t in zip(graph.outputs, outs):
        out_names.append(b.node("Identity", [t], name="Identity",
                                T=type_attr(graph.values[vid].dtype)))
    return b.graph_def, ins, out_names
