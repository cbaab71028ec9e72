"""`tf.lite.Interpreter`: runs `.tflite` files in NumPy, for the builtin ops tenfold's
converter writes (float32, float16 weights, dynamic-range and full-integer int8 models).

    it = tf.lite.Interpreter(model_path="model.tflite")
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(inp["index"], x)
    it.invoke()
    y = it.get_tensor(out["index"])

The API is LiteRT's (`ai_edge_litert.interpreter.Interpreter`); the numbers agree with it to
float rounding, and for int8 models to within one step of the output's scale. It is a
checker, not a fast runtime: deploy with LiteRT.
"""
import importlib
import os

import numpy as np

from tenfold.lite import _kernels as K
from tenfold.lite._flatbuffer import require_tflite_schema

_NP_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_,
             7: np.int16, 9: np.int8, 10: np.float64}
_ACT_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}
_PAD_NAMES = {0: "SAME", 1: "VALID"}


def _m(name):
    return importlib.import_module(f"tflite.{name}")


def _options(op, kind):
    """The builtin options of `op` as a plain dict."""
    table = op.BuiltinOptions()
    if table is None:
        return {}
    cls_name = {"FULLY_CONNECTED": "FullyConnectedOptions", "CONV_2D": "Conv2DOptions",
                "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions", "MAX_POOL_2D": "Pool2DOptions",
                "AVERAGE_POOL_2D": "Pool2DOptions", "RESHAPE": "ReshapeOptions",
                "SOFTMAX": "SoftmaxOptions", "ADD": "AddOptions", "SUB": "SubOptions",
                "MUL": "MulOptions", "CONCATENATION": "ConcatenationOptions",
                "MEAN": "ReducerOptions", "REDUCE_MAX": "ReducerOptions",
                "LEAKY_RELU": "LeakyReluOptions", "STRIDED_SLICE": "StridedSliceOptions",
                "PACK": "PackOptions"}.get(kind)
    if cls_name is None:
        return {}
    o = getattr(_m(cls_name), cls_name)()
    o.Init(table.Bytes, table.Pos)
    d = {}
    if hasattr(o, "FusedActivationFunction"):
        d["fused_activation"] = _ACT_NAMES.get(o.FusedActivationFunction(), "UNKNOWN")
    if hasattr(o, "Padding"):
        d["padding"] = _PAD_NAMES[o.Padding()]
        d["stride_h"], d["stride_w"] = o.StrideH(), o.StrideW()
    if hasattr(o, "DilationHFactor"):
        d["dilation_h"], d["dilation_w"] = o.DilationHFactor(), o.DilationWFactor()
    if kind == "DEPTHWISE_CONV_2D":
        d["depth_multiplier"] = o.DepthMultiplier()
    if cls_name == "Pool2DOptions":
        d["filter_h"], d["filter_w"] = o.FilterHeight(), o.FilterWidth()
    if kind == "FULLY_CONNECTED":
        d["keep_num_dims"] = o.KeepNumDims()
    if kind == "SOFTMAX":
        d["beta"] = o.Beta()
    if kind == "CONCATENATION":
        d["axis"] = o.Axis()
    if cls_name == "ReducerOptions":
        d["keep_dims"] = o.KeepDims()
    if kind == "LEAKY_RELU":
        d["alpha"] = o.Alpha()
    if kind == "STRIDED_SLICE":
        d.update(begin_mask=o.BeginMask(), end_mask=o.EndMask(),
                 ellipsis_mask=o.EllipsisMask(), new_axis_mask=o.NewAxisMask(),
                 shrink_axis_mask=o.ShrinkAxisMask())
    if kind == "PACK":
        d.update(axis=o.Axis(), values_count=o.ValuesCount())
    return d


class _T:
    """One tensor of the model: its static facts and (for constants) its data."""

    def __init__(self, i, t, model):
        self.index = i
        self.name = t.Name().decode()
        self.shape = t.ShapeAsNumpy().astype(np.int32) if t.ShapeLength() else \
            np.zeros(0, np.int32)
        self.signature = t.ShapeSignatureAsNumpy().astype(np.int32) \
            if t.ShapeSignatureLength() else self.shape.copy()
        self.dtype = _NP_TYPES.get(t.Type())
        if self.dtype is None:
            raise ValueError(f"tf.lite.Interpreter: tensor \"{self.name}\" has TFLite type "
                             f"{t.Type()}, which this interpreter does not run.")
        self.data = None
        buf = model.Buffers(t.Buffer())
        if buf is not None and buf.DataLength():
            raw = buf.DataAsNumpy().tobytes()
            self.data = np.frombuffer(raw, self.dtype).reshape(self.shape)
        q = t.Quantization()
        self.quant = None
        if q is not None and q.ScaleLength():
            self.quant = {"scale": q.ScaleAsNumpy().astype(np.float64),
                          "zero_point": q.ZeroPointAsNumpy().astype(np.int64),
                          "axis": q.QuantizedDimension()}

    def details(self):
        q = self.quant
        return {
            "name": self.name, "index": self.index, "shape": self.shape.copy(),
            "shape_signature": self.signature.copy(), "dtype": self.dtype,
            "quantization": (float(q["scale"][0]), int(q["zero_point"][0]))
            if q is not None and q["scale"].size == 1 else (0.0, 0),
            "quantization_parameters": {
                "scales": (q["scale"] if q else np.zeros(0)).astype(np.float32),
                "zero_points": (q["zero_point"] if q else np.zeros(0)).astype(np.int32),
                "quantized_dimension": q["axis"] if q else 0},
            "sparsity_parameters": {},
        }


class Interpreter:
    """Runs a `.tflite` model (see the module docstring)."""

    def __init__(self, model_path=None, model_content=None, num_threads=None,
                 experimental_preserve_all_tensors=False, **unused):
        require_tflite_schema()
        if (model_path is None) == (model_content is None):
            raise ValueError("tf.lite.Interpreter: pass exactly one of model_path= (a .tflite "
                             "file) or model_content= (its bytes).")
        if model_path is not None:
            path = os.fspath(model_path)
            if not os.path.isfile(path):
                raise ValueError(f"tf.lite.Interpreter: could not open '{path}': no such file.")
            with open(path, "rb") as f:
                model_content = f.read()
        self._where = model_path or "model_content"
        self._buf = bytes(model_content)
        Model = _m("Model").Model
        if len(self._buf) < 8 or not Model.ModelBufferHasIdentifier(self._buf, 0):
            raise ValueError(f"tf.lite.Interpreter: {self._where} is not a TFLite model (no "
                             "'TFL3' file identifier).")
        self._model = model = Model.GetRootAs(self._buf, 0)
        if model.SubgraphsLength() != 1:
            raise ValueError(f"tf.lite.Interpreter: {self._where} has "
                             f"{model.SubgraphsLength()} subgraphs; this interpreter runs "
                             "single-subgraph models.")
        sg = model.Subgraphs(0)
        self._tensors = [_T(i, sg.Tensors(i), model) for i in range(sg.TensorsLength())]
        self._inputs = [int(i) for i in sg.InputsAsNumpy()]
        self._outputs = [int(i) for i in sg.OutputsAsNumpy()]
        Op = _m("BuiltinOperator").BuiltinOperator
        code_names = {v: k for k, v in vars(Op).items() if not k.startswith("_")}
        self._ops = []
        for j in range(sg.OperatorsLength()):
            op = sg.Operators(j)
            oc = model.OperatorCodes(op.OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            kind = code_names.get(code, str(code))
            if not hasattr(self, "_op_" + kind.lower()):
                raise ValueError(f"tf.lite.Interpreter: {self._where} uses the op {kind}, "
                                 "which this interpreter does not run (it runs the ops "
                                 "tenfold's converter writes); use LiteRT "
                                 "(ai_edge_litert.interpreter.Interpreter) for this model.")
            ins = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
            outs = [int(i) for i in op.OutputsAsNumpy()]
            self._ops.append((kind, ins, outs, _options(op, kind)))
        self._signatures = {}
        for s in range(model.SignatureDefsLength()):
            sd = model.SignatureDefs(s)
            self._signatures[sd.SignatureKey().decode()] = {
                "inputs": {sd.Inputs(i).Name().decode(): sd.Inputs(i).TensorIndex()
                           for i in range(sd.InputsLength())},
                "outputs": {sd.Outputs(i).Name().decode(): sd.Outputs(i).TensorIndex()
                            for i in range(sd.OutputsLength())}}
        self._preserve = experimental_preserve_all_tensors
        self._values = {}
        self._shapes = {i: t.shape.copy() for i, t in enumerate(self._tensors)}
        self._allocated = False

    # ------------------------------------------------------------------ LiteRT's API
    def allocate_tensors(self):
        self._allocated = True

    def get_input_details(self):
        return [self._details(i) for i in self._inputs]

    def get_output_details(self):
        return [self._details(i) for i in self._outputs]

    def get_tensor_details(self):
        return [self._details(i) for i in range(len(self._tensors))]

    def _details(self, i):
        d = self._tensors[i].details()
        d["shape"] = self._shapes[i].copy()
        return d

    def resize_tensor_input(self, input_index, tensor_size, strict=False):
        t = self._tensor(input_index)
        size = np.asarray(tensor_size, np.int32)
        sig = t.signature
        if size.shape != sig.shape or any(s != -1 and s != n for s, n in zip(sig, size)):
            raise ValueError(f"tf.lite.Interpreter: cannot resize input \"{t.name}\" "
                             f"(shape signature {sig.tolist()}) to {size.tolist()}.")
        self._shapes[input_index] = size
        self._allocated = False

    def _tensor(self, index):
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(self._tensors):
            raise ValueError(f"tf.lite.Interpreter: tensor index {index!r} is out of range "
                             f"(the model has {len(self._tensors)} tensors).")
        return self._tensors[index]

    def set_tensor(self, tensor_index, value):
        t = self._tensor(tensor_index)
        v = np.asarray(value)
        if v.dtype != t.dtype:
            raise ValueError(f"tf.lite.Interpreter: cannot set tensor \"{t.name}\": got value "
                             f"of type {v.dtype.name.upper()} but expected "
                             f"{np.dtype(t.dtype).name.upper()}.")
        if tuple(v.shape) != tuple(self._shapes[tensor_index]):
            raise ValueError(f"tf.lite.Interpreter: cannot set tensor \"{t.name}\": dimension "
                             f"mismatch, got shape {tuple(v.shape)} but expected "
                             f"{tuple(int(d) for d in self._shapes[tensor_index])} (call "
                             "resize_tensor_input and allocate_tensors for another batch "
                             "size).")
        self._values[tensor_index] = v.copy()

    def get_tensor(self, tensor_index, subgraph_index=0):
        t = self._tensor(tensor_index)
        if t.data is not None:
            return t.data.copy()
        if tensor_index not in self._values:
            raise ValueError(f"tf.lite.Interpreter: tensor \"{t.name}\" has no value yet "
                             "(set the inputs and call invoke() first; intermediate tensors "
                             "are kept only with experimental_preserve_all_tensors=True).")
        return np.array(self._values[tensor_index])

    def get_signature_list(self):
        return {k: {"inputs": list(v["inputs"]), "outputs": list(v["outputs"])}
                for k, v in self._signatures.items()}

    def get_signature_runner(self, signature_key=None):
        if not self._signatures:
            raise ValueError("tf.lite.Interpreter: the model has no signatures.")
        key = signature_key or next(iter(self._signatures))
        if key not in self._signatures:
            raise ValueError(f"tf.lite.Interpreter: no signature {key!r}; the model has "
                             f"{sorted(self._signatures)}.")
        return _SignatureRunner(self, self._signatures[key])

    def invoke(self):
        if not self._allocated:
            raise RuntimeError("tf.lite.Interpreter: call allocate_tensors() before invoke().")
        for i in self._inputs:
            if i not in self._values:
                raise ValueError(f"tf.lite.Interpreter: input \"{self._tensors[i].name}\" "
                                 "was not set (set_tensor).")
        vals = {i: self._values[i] for i in self._inputs}
        for kind, ins, outs, opts in self._ops:
            args = [None if i < 0 else (self._tensors[i].data if self._tensors[i].data
                                        is not None else vals[i]) for i in ins]
            qs = [None if i < 0 else self._tensors[i].quant for i in ins]
            out_t = self._tensors[outs[0]]
            y = getattr(self, "_op_" + kind.lower())(args, qs, out_t, opts)
            vals[outs[0]] = np.asarray(y, dtype=out_t.dtype)
        if self._preserve:
            self._values = vals
        else:
            self._values = {i: vals[i] for i in self._inputs + self._outputs}

    # ------------------------------------------------------------------ ops
    @staticmethod
    def _float(x, q):
        """x as float32 (dequantizing int8 data and float16 weights)."""
        if x.dtype == np.float32:
            return x
        if q is not None and x.dtype != np.float16:
            return K.dequantize(x, q)
        return x.astype(np.float32)

    def _generic(self, fn, args, qs, out_t, opts, n_float=None):
        """Run `fn` on dequantized inputs and quantize the result for int8 outputs."""
        n = len(args) if n_float is None else n_float
        xs = [self._float(a, q) if (i < n and a is not None) else a
              for i, (a, q) in enumerate(zip(args, qs))]
        y = fn(*xs)
        y = K.activation(y, opts.get("fused_activation", "NONE"))
        if out_t.dtype in (np.int8, np.uint8, np.int16):
            return K.quantize(y, out_t.quant, out_t.dtype)
        return y

    def _linear(self, args, qs, out_t, opts, fn):
        x, w, b = (args + [None])[:3]
        act = opts.get("fused_activation", "NONE")
        if x.dtype == np.int8 and out_t.dtype == np.int8:
            qx, qw = qs[0], qs[1]
            acc = fn(x.astype(np.int64) - qx["zero_point"][0], w.astype(np.int64))
            if b is not None:
                acc = acc + b.astype(np.int64)
            mult = qx["scale"][0] * qw["scale"] / out_t.quant["scale"][0]
            return K.requantize(acc, mult, out_t.quant, act)
        y = fn(self._float(x, qs[0]), self._float(w, qs[1]))
        if b is not None:
            y = y + self._float(b, qs[2])
        return K.activation(y.astype(np.float32), act)

    def _op_fully_connected(self, args, qs, out_t, opts):
        x = args[0]
        w = args[1]
        lead = x.shape[:-1]
        x2 = x.reshape(-1, w.shape[1])

        def fc(a, b):
            return a @ b.T

        y = self._linear([x2] + list(args[1:]), qs, out_t, opts, fc)
        if opts.get("keep_num_dims"):
            return y.reshape(lead + (w.shape[0],))
        return y

    def _op_conv_2d(self, args, qs, out_t, opts):
        return self._linear(args, qs, out_t, opts, lambda x, w: K.conv2d(x, w, opts))

    def _op_depthwise_conv_2d(self, args, qs, out_t, opts):
        return self._linear(args, qs, out_t, opts,
                            lambda x, w: K.depthwise_conv2d(x, w, opts))

    def _op_max_pool_2d(self, args, qs, out_t, opts):
        x = args[0]
        act = opts.get("fused_activation", "NONE")
        if x.dtype == np.int8:
            y = K.pool(x, opts, "max", lowest=-128)
            if act == "NONE":
                return y
            return K.requantize(y.astype(np.int64) - qs[0]["zero_point"][0],
                                qs[0]["scale"][0] / out_t.quant["scale"][0], out_t.quant, act)
        return K.activation(K.pool(x, opts, "max"), act)

    def _op_average_pool_2d(self, args, qs, out_t, opts):
        x = args[0]
        act = opts.get("fused_activation", "NONE")
        if x.dtype == np.int8:
            total, count = K.pool(x.astype(np.int64), opts, "avg")
            zp = qs[0]["zero_point"][0]
            mean = np.rint((total - zp * count) / count)
            return K.requantize(mean, qs[0]["scale"][0] / out_t.quant["scale"][0],
                                out_t.quant, act)
        total, count = K.pool(x, opts, "avg")
        return K.activation((total / count).astype(np.float32), act)

    def _op_reshape(self, args, qs, out_t, opts):
        x = args[0]
        shape = args[1] if len(args) > 1 and args[1] is not None else opts.get("new_shape")
        return x.reshape([int(d) for d in np.asarray(shape).reshape(-1)])

    def _op_softmax(self, args, qs, out_t, opts):
        return self._generic(lambda x: K.softmax(x, opts.get("beta", 1.0)), args, qs, out_t,
                             {})

    def _op_logistic(self, args, qs, out_t, opts):
        return self._generic(K.sigmoid, args, qs, out_t, {})

    def _op_tanh(self, args, qs, out_t, opts):
        return self._generic(np.tanh, args, qs, out_t, {})

    def _op_relu(self, args, qs, out_t, opts):
        return self._generic(lambda x: np.maximum(x, 0), args, qs, out_t, {})

    def _op_relu6(self, args, qs, out_t, opts):
        return self._generic(lambda x: np.clip(x, 0, 6), args, qs, out_t, {})

    def _op_elu(self, args, qs, out_t, opts):
        return self._generic(K.elu, args, qs, out_t, {})

    def _op_hard_swish(self, args, qs, out_t, opts):
        return self._generic(K.hard_swish, args, qs, out_t, {})

    def _op_leaky_relu(self, args, qs, out_t, opts):
        a = opts.get("alpha", 0.2)
        return self._generic(lambda x: np.where(x >= 0, x, x * a), args, qs, out_t, {})

    def _op_add(self, args, qs, out_t, opts):
        return self._generic(np.add, args, qs, out_t, opts)

    def _op_sub(self, args, qs, out_t, opts):
        return self._generic(np.subtract, args, qs, out_t, opts)

    def _op_mul(self, args, qs, out_t, opts):
        return self._generic(np.multiply, args, qs, out_t, opts)

    def _op_maximum(self, args, qs, out_t, opts):
        return self._generic(np.maximum, args, qs, out_t, {})

    def _op_minimum(self, args, qs, out_t, opts):
        return self._generic(np.minimum, args, qs, out_t, {})

    def _op_concatenation(self, args, qs, out_t, opts):
        return self._generic(lambda *xs: np.concatenate(xs, axis=opts["axis"]), args, qs,
                             out_t, opts)

    def _reduce(self, fn, args, qs, out_t, opts):
        axes = tuple(int(a) for a in np.asarray(args[1]).reshape(-1))
        return self._generic(lambda x, _: fn(x, axis=axes, keepdims=opts.get("keep_dims")),
                             args, qs, out_t, {}, n_float=1)

    def _op_mean(self, args, qs, out_t, opts):
        return self._reduce(np.mean, args, qs, out_t, opts)

    def _op_reduce_max(self, args, qs, out_t, opts):
        return self._reduce(np.max, args, qs, out_t, opts)

    def _op_quantize(self, args, qs, out_t, opts):
        x = args[0]
        if x.dtype in (np.int8, np.uint8):  # requantize
            return K.quantize(K.dequantize(x, qs[0]), out_t.quant, out_t.dtype)
        return K.quantize(x.astype(np.float32), out_t.quant, out_t.dtype)

    def _op_pad(self, args, qs, out_t, opts):
        x = args[0]
        fill = qs[0]["zero_point"][0] if x.dtype == np.int8 and qs[0] is not None else 0
        return np.pad(x, np.asarray(args[1]).astype(np.int64), constant_values=fill)

    # the shape arithmetic TensorFlow's converter writes for Flatten/Reshape with a dynamic
    # batch: SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE
    def _op_shape(self, args, qs, out_t, opts):
        return np.asarray(args[0].shape, dtype=out_t.dtype)

    def _op_strided_slice(self, args, qs, out_t, opts):
        x, begin, end, strides = args[0], args[1], args[2], args[3]
        if opts.get("ellipsis_mask") or opts.get("new_axis_mask"):
            raise ValueError("tf.lite.Interpreter: STRIDED_SLICE with ellipsis or new-axis "
                             "masks is not supported; use LiteRT for this model.")
        index = []
        for i in range(len(begin)):
            b = None if opts.get("begin_mask", 0) >> i & 1 else int(begin[i])
            e = None if opts.get("end_mask", 0) >> i & 1 else int(end[i])
            if opts.get("shrink_axis_mask", 0) >> i & 1:
                index.append(int(begin[i]))
            else:
                index.append(slice(b, e, int(strides[i])))
        return np.asarray(x[tuple(index)])

    def _op_pack(self, args, qs, out_t, opts):
        return np.stack([np.asarray(a) for a in args], axis=opts.get("axis", 0))

    def _op_dequantize(self, args, qs, out_t, opts):
        return self._float(args[0], qs[0])


class _SignatureRunner:
    def __init__(self, interpreter, sig):
        self._it = interpreter
        self._sig = sig

    def get_input_details(self):
        return {n: self._it._details(i) for n, i in self._sig["inputs"].items()}

    def get_output_details(self):
        return {n: self._it._details(i) for n, i in self._sig["outputs"].items()}

    def __call__(self, **inputs):
        it = self._it
        missing = set(self._sig["inputs"]) - set(inputs)
        extra = set(inputs) - set(self._sig["inputs"])
        if missing or extra:
            raise ValueError(f"tf.lite signature runner: expected inputs "
                             f"{sorted(self._sig['inputs'])}, got {sorted(inputs)}.")
        for name, value in inputs.items():
            i = self._sig["inputs"][name]
            v = np.asarray(value)
            if tuple(v.shape) != tuple(it._shapes[i]):
                it.resize_tensor_input(i, v.shape)
            it.set_tensor(i, v)
        it.allocate_tensors()
        it.invoke()
        return {n: it.get_tensor(i) for n, i in self._sig["outputs"].items()}
