"""The converter's graph -> the bytes of a `.tflite` flatbuffer.

Written with the `flatbuffers` runtime through the classes generated from TensorFlow Lite's
published schema (`schema.fbs`), which the `tflite` package on PyPI carries; the schema
fixes every table and field, so the runtime (LiteRT) reads the result as it reads
TensorFlow's own.
"""
import importlib

import numpy as np

_FILE_ID = b"TFL3"
_SCHEMA_VERSION = 3


class _Schema:
    """The generated modules of the schema's tables, by name (`tflite.X` itself is the class,
    the builder functions live in the module `tflite.X`)."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        mod = importlib.import_module(f"tflite.{name}")
        setattr(self, name, mod)
        return mod


S = _Schema()


def require_tflite_schema():
    try:
        import flatbuffers  # noqa: F401
        import tflite  # noqa: F401
        from tflite import Model  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "tf.lite needs the `flatbuffers` and `tflite` packages (the classes generated "
            f"from TensorFlow Lite's schema), which are not installed ({e}). Install them with "
            "`pip install \"tenfold[lite]\"` (or `pip install flatbuffers tflite`).") from e


_TENSOR_TYPES = {"float32": "FLOAT32", "float16": "FLOAT16", "int32": "INT32",
                 "uint8": "UINT8", "int64": "INT64", "int8": "INT8", "int16": "INT16",
                 "bool": "BOOL"}


def tensor_type(dtype):
    from tflite.TensorType import TensorType
    return getattr(TensorType, _TENSOR_TYPES[np.dtype(dtype).name])


_ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4}
_PADDING = {"SAME": 0, "VALID": 1}


def _options(b, op):
    """(BuiltinOptions type, offset) for `op`, or (0, None) when its op has none."""
    from tflite.BuiltinOptions import BuiltinOptions as BO
    o, k = op.opts, op.kind
    act = _ACTIVATIONS[o.get("fused_activation", "NONE")]
    if k == "FULLY_CONNECTED":
        m = S.FullyConnectedOptions
        m.Start(b)
        m.AddFusedActivationFunction(b, act)
        m.AddKeepNumDims(b, bool(o.get("keep_num_dims", False)))
        m.AddAsymmetricQuantizeInputs(b, bool(o.get("asymmetric_quantize_inputs", False)))
        return BO.FullyConnectedOptions, m.End(b)
    if k in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        m = S.Conv2DOptions if k == "CONV_2D" else S.DepthwiseConv2DOptions
        m.Start(b)
        m.AddPadding(b, _PADDING[o["padding"]])
        m.AddStrideW(b, o["stride_w"])
        m.AddStrideH(b, o["stride_h"])
        m.AddFusedActivationFunction(b, act)
        m.AddDilationWFactor(b, o["dilation_w"])
        m.AddDilationHFactor(b, o["dilation_h"])
        if k == "DEPTHWISE_CONV_2D":
            m.AddDepthMultiplier(b, o["depth_multiplier"])
            return BO.DepthwiseConv2DOptions, m.End(b)
        return BO.Conv2DOptions, m.End(b)
    if k in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        m = S.Pool2DOptions
        m.Start(b)
        m.AddPadding(b, _PADDING[o["padding"]])
        m.AddStrideW(b, o["stride_w"])
        m.AddStrideH(b, o["stride_h"])
        m.AddFilterWidth(b, o["filter_w"])
        m.AddFilterHeight(b, o["filter_h"])
        m.AddFusedActivationFunction(b, act)
        return BO.Pool2DOptions, m.End(b)
    if k == "RESHAPE":
        m = S.ReshapeOptions
        vec = b.CreateNumpyVector(np.asarray(o["new_shape"], np.int32))
        m.Start(b)
        m.AddNewShape(b, vec)
        return BO.ReshapeOptions, m.End(b)
    if k == "SOFTMAX":
        m = S.SoftmaxOptions
        m.Start(b)
        m.AddBeta(b, float(o.get("beta", 1.0)))
        return BO.SoftmaxOptions, m.End(b)
    if k in ("ADD", "SUB", "MUL"):
        m = {"ADD": S.AddOptions, "SUB": S.SubOptions, "MUL": S.MulOptions}[k]
        m.Start(b)
        m.AddFusedActivationFunction(b, act)
        return getattr(BO, {"ADD": "AddOptions", "SUB": "SubOptions",
                            "MUL": "MulOptions"}[k]), m.End(b)
    if k == "CONCATENATION":
        m = S.ConcatenationOptions
        m.Start(b)
        m.AddAxis(b, o["axis"])
        m.AddFusedActivationFunction(b, act)
        return BO.ConcatenationOptions, m.End(b)
    if k in ("MEAN", "REDUCE_MAX"):
        m = S.ReducerOptions
        m.Start(b)
        m.AddKeepDims(b, bool(o.get("keep_dims", False)))
        return BO.ReducerOptions, m.End(b)
    if k == "LEAKY_RELU":
        m = S.LeakyReluOptions
        m.Start(b)
        m.AddAlpha(b, float(o["alpha"]))
        return BO.LeakyReluOptions, m.End(b)
    return 0, None


def _bytes(b, data):
    """A [ubyte] vector aligned to 16 bytes (constant data is read in place by the runtime)."""
    n = len(data)
    b.StartVector(1, n, 16)
    b.head = b.head - n
    b.Bytes[b.head:b.head + n] = data
    return b.EndVector()


def _quantization(b, q):
    m = S.QuantizationParameters
    scale = b.CreateNumpyVector(q.scale.astype(np.float32))
    zp = b.CreateNumpyVector(q.zero_point.astype(np.int64))
    m.Start(b)
    m.AddScale(b, scale)
    m.AddZeroPoint(b, zp)
    m.AddQuantizedDimension(b, q.axis)
    return m.End(b)


def _op_version(op):
    """The op version TensorFlow's converter records for this kind and input type."""
    x = op.inputs[0]
    t = x.dtype if x is not None else np.dtype(np.float32)
    w = op.inputs[1] if len(op.inputs) > 1 else None
    if op.kind == "DEQUANTIZE":
        return 3 if t == np.float16 else (2 if t == np.int8 else 1)
    if op.kind == "QUANTIZE":
        return 2 if op.outputs[0].dtype == np.int8 else 1
    if t == np.int8:
        return _INT8_VERSIONS.get(op.kind, 1)
    if w is not None and w.dtype == np.int8 and op.kind in ("FULLY_CONNECTED", "CONV_2D",
                                                              "DEPTHWISE_CONV_2D"):
        return {"FULLY_CONNECTED": 9, "CONV_2D": 5, "DEPTHWISE_CONV_2D": 6}[op.kind]  # hybrid
    if op.kind == "FULLY_CONNECTED" and op.opts.get("keep_num_dims"):
        return 5
    return 1


# the first version of each op that takes int8 tensors (TensorFlow's op_version rules)
_INT8_VERSIONS = {"PAD": 3, "FULLY_CONNECTED": 4, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3,
                  "MAX_POOL_2D": 2, "AVERAGE_POOL_2D": 2, "SOFTMAX": 2, "ADD": 2, "SUB": 2,
                  "MUL": 2, "CONCATENATION": 2, "MEAN": 2, "REDUCE_MAX": 2, "LOGISTIC": 2,
                  "TANH": 2, "RELU": 2, "RELU6": 2, "LEAKY_RELU": 2, "MAXIMUM": 2,
                  "MINIMUM": 2}


def write(graph, description="tenfold"):
    """The flatbuffer bytes of `graph` (one subgraph, a `serving_default` signature)."""
    require_tflite_schema()
    import flatbuffers
    from tflite.BuiltinOperator import BuiltinOperator

    b = flatbuffers.Builder(1024)
    tensors = graph.tensors()
    index = {id(t): i for i, t in enumerate(tensors)}

    # buffers: 0 is the empty sentinel; each constant gets its own
    buffer_data = [None]
    buffer_of = {}
    for t in tensors:
        if t.is_const:
            buffer_of[id(t)] = len(buffer_data)
            buffer_data.append(np.ascontiguousarray(t.data, t.dtype).tobytes())
    buffers = []
    for data in buffer_data:
        vec = _bytes(b, data) if data else None
        S.Buffer.Start(b)
        if vec is not None:
            S.Buffer.AddData(b, vec)
        buffers.append(S.Buffer.End(b))

    tensor_offs = []
    for t in tensors:
        name = b.CreateString(t.name)
        shape = b.CreateNumpyVector(np.asarray([1 if d < 0 else d for d in t.shape], np.int32))
        sig = b.CreateNumpyVector(np.asarray(t.shape, np.int32)) if -1 in t.shape else None
        quant = _quantization(b, t.quant) if t.quant is not None else None
        S.Tensor.Start(b)
        S.Tensor.AddShape(b, shape)
        if sig is not None:
            S.Tensor.AddShapeSignature(b, sig)
        S.Tensor.AddType(b, tensor_type(t.dtype))
        S.Tensor.AddBuffer(b, buffer_of.get(id(t), 0))
        S.Tensor.AddName(b, name)
        if quant is not None:
            S.Tensor.AddQuantization(b, quant)
        tensor_offs.append(S.Tensor.End(b))

    codes, code_index = [], {}
    op_offs = []
    for op in graph.ops:
        key = (op.kind, _op_version(op))
        if key not in code_index:
            code_index[key] = len(codes)
            codes.append(key)
        ins = b.CreateNumpyVector(np.asarray(
            [-1 if t is None else index[id(t)] for t in op.inputs], np.int32))
        outs = b.CreateNumpyVector(np.asarray([index[id(t)] for t in op.outputs], np.int32))
        opt_type, opt = _options(b, op)
        S.Operator.Start(b)
        S.Operator.AddOpcodeIndex(b, code_index[key])
        S.Operator.AddInputs(b, ins)
        S.Operator.AddOutputs(b, outs)
        if opt is not None:
            S.Operator.AddBuiltinOptionsType(b, opt_type)
            S.Operator.AddBuiltinOptions(b, opt)
        op_offs.append(S.Operator.End(b))

    def vector(start, offsets):
        start(b, len(offsets))
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    sg_name = b.CreateString(graph.name)
    t_vec = vector(S.SubGraph.StartTensorsVector, tensor_offs)
    in_vec = b.CreateNumpyVector(np.asarray([index[id(t)] for t in graph.inputs], np.int32))
    out_vec = b.CreateNumpyVector(np.asarray([index[id(t)] for t in graph.outputs], np.int32))
    o_vec = vector(S.SubGraph.StartOperatorsVector, op_offs)
    S.SubGraph.Start(b)
    S.SubGraph.AddTensors(b, t_vec)
    S.SubGraph.AddInputs(b, in_vec)
    S.SubGraph.AddOutputs(b, out_vec)
    S.SubGraph.AddOperators(b, o_vec)
    S.SubGraph.AddName(b, sg_name)
    subgraph = S.SubGraph.End(b)

    code_offs = []
    for kind, version in codes:
        code = getattr(BuiltinOperator, kind)
        S.OperatorCode.Start(b)
        S.OperatorCode.AddDeprecatedBuiltinCode(b, min(code, 127))
        S.OperatorCode.AddBuiltinCode(b, code)
        S.OperatorCode.AddVersion(b, version)
        code_offs.append(S.OperatorCode.End(b))

    def tensor_maps(ts, names):
        offs = []
        for t, name in zip(ts, names):
            s = b.CreateString(name)
            S.TensorMap.Start(b)
            S.TensorMap.AddName(b, s)
            S.TensorMap.AddTensorIndex(b, index[id(t)])
            offs.append(S.TensorMap.End(b))
        return offs

    in_names = graph.input_names or [t.name for t in graph.inputs]
    out_names = graph.output_names or [t.name for t in graph.outputs]
    sig_in = vector(S.SignatureDef.StartInputsVector, tensor_maps(graph.inputs, in_names))
    sig_out = vector(S.SignatureDef.StartOutputsVector, tensor_maps(graph.outputs, out_names))
    key = b.CreateString("serving_default")
    S.SignatureDef.Start(b)
    S.SignatureDef.AddInputs(b, sig_in)
    S.SignatureDef.AddOutputs(b, sig_out)
    S.SignatureDef.AddSignatureKey(b, key)
    S.SignatureDef.AddSubgraphIndex(b, 0)
    signature = S.SignatureDef.End(b)

    desc = b.CreateString(description)
    codes_vec = vector(S.Model.StartOperatorCodesVector, code_offs)
    sg_vec = vector(S.Model.StartSubgraphsVector, [subgraph])
    buf_vec = vector(S.Model.StartBuffersVector, buffers)
    sig_vec = vector(S.Model.StartSignatureDefsVector, [signature])
    S.Model.Start(b)
    S.Model.AddVersion(b, _SCHEMA_VERSION)
    S.Model.AddOperatorCodes(b, codes_vec)
    S.Model.AddSubgraphs(b, sg_vec)
    S.Model.AddDescription(b, desc)
    S.Model.AddBuffers(b, buf_vec)
    S.Model.AddSignatureDefs(b, sig_vec)
    b.Finish(S.Model.End(b), file_identifier=_FILE_ID)
    return bytes(b.Output())
