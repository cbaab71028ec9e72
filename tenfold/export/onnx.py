"""Export of Keras models (Sequential and functional) to ONNX, the format ONNX Runtime,
TensorRT, OpenVINO and the browsers' runtimes read.

    from tenfold.export import onnx as onnx_export
    onnx_export.export(model, "model.onnx")        # or model.export("model.onnx", format="onnx")

    import onnxruntime as ort
    sess = ort.InferenceSession("model.onnx")
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0]   # == model.predict(x)

The exported graph takes the same inputs as the Keras model (images stay channels-last,
NHWC; the graph transposes to ONNX's channels-first internally) with a dynamic batch
dimension, and is named after the model's `Input`s and output layers. Needs the `onnx`
package (`pip install "tenfold[onnx]"`), imported only when an export runs.

Each layer is translated by a converter in `_onnx_layers.py`; a layer without one (or a
custom subclass that overrides `call`) raises `UnsupportedLayerError` naming it.
"""
import numpy as np

from tenfold.export._layer_lookup import lowering_for
from tenfold.export._onnx_graph import Builder, Val
from tenfold.export._onnx_layers import CONVERTERS, UnsupportedLayerError, unsupported

__all__ = ["export", "UnsupportedLayerError", "supported_layers", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17
MIN_OPSET, MAX_OPSET = 13, 21

# layers whose call() takes a mask that the converter handles (or that ignores it at inference)
_MASK_OK = {"BatchNormalization", "GlobalAveragePooling1D"}


def _require_onnx():
    try:
        import onnx
        import onnx.helper  # noqa: F401
        import onnx.numpy_helper  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "ONNX export needs the `onnx` package, which is not installed (or failed to "
            f"import: {e}). Install it with `pip install onnx` (or `pip install "
            "\"tenfold[onnx]\"`); to run the exported model, also `pip install "
            "onnxruntime`.") from e
    return onnx


def supported_layers():
    """Names of the Keras layer classes the exporter translates."""
    return sorted(CONVERTERS)


class Converter:
    """Walks functional graphs and calls the layer converters."""

    def __init__(self, builder):
        self.b = builder

    def onnx_dtype(self, dtype):
        return self.b.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    # ------------------------------------------------------------------ layers
    def _converter_for(self, layer):
        return lowering_for(CONVERTERS, layer, unsupported, "exporter")

    def convert_layer(self, layer, node, ins):
        from tenfold.keras.models.model import Model
        if isinstance(layer, Model):
            return self.convert_model(layer, ins)
        fn = self._converter_for(layer)
        if fn is None:
            name = type(layer).__name__
            hint = ""
            if name in ("_OpLayer", "OperationLayer"):
                hint = (" (a keras.ops call or tensor arithmetic applied to symbolic tensors "
                        "in the functional API; use the equivalent layer, e.g. Add, Multiply, "
                        "Rescaling, Activation)")
            elif name == "Lambda":
                hint = " (its Python function cannot be translated)"
            raise unsupported(layer, f"no ONNX converter for layers of class {name}{hint}")
        cdt = getattr(layer, "compute_dtype", "float32")
        if cdt != "float32":
            raise unsupported(layer, f"it computes in {cdt} (mixed precision or a dtype "
                              "policy); the exporter writes float32 models: rebuild the "
                              "model under the 'float32' policy and copy the weights "
                              "(set_weights)")
        if any(v.mask is not None for v in ins) and getattr(layer, "_call_has_mask", False) \
                and type(layer).__name__ not in _MASK_OK:
            raise unsupported(layer, "it uses the mask of its input (from "
                              "Embedding(mask_zero=True) or Masking), which the exporter does "
                              "not translate for this layer")
        outs = fn(self, layer, node, ins)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        from tenfold.keras.layers.layer import Layer
        if type(layer).compute_mask is Layer.compute_mask:  # default mask propagation
            keep = ins[0].mask if (layer.supports_masking and len(ins) == 1) else None
            for v in outs:
                v.mask = keep
        return outs

    # ------------------------------------------------------------------ graphs
    def convert_model(self, model, ins):
        graph = graph_of(model)
        if len(ins) != len(graph.inputs):
            raise UnsupportedLayerError(
                f"ONNX export: model \"{model.name}\" takes {len(graph.inputs)} inputs but is "
                f"called on {len(ins)} here.")
        vals = {}
        for kt, v in zip(graph.inputs, ins):
            want = np.dtype(kt.dtype)
            if v.dtype != want:  # the model casts its inputs to the Input's dtype
                v = v.like(self.b.op("Cast", [v.name], f"{kt.name}/cast",
                                     to=self.onnx_dtype(want)), dtype=want)
            vals[id(kt)] = v
        from tenfold.keras.engine.keras_tensor import KerasTensor
        from tenfold.util import nest
        for depth in sorted(graph._nodes_by_depth, reverse=True):
            for node in graph._nodes_by_depth[depth]:
                if node.is_input:
                    continue
                if any(isinstance(x, KerasTensor) for x in nest.flatten(node.call_kwargs)):
                    raise unsupported(node.layer, "it is called with symbolic tensors as "
                                      f"keyword arguments ({sorted(node.call_kwargs)})")
                args = [x for x in nest.flatten(node.call_args) if isinstance(x, KerasTensor)]
                outs = self.convert_layer(node.layer, node, [vals[id(t)] for t in args])
                if len(outs) != len(node.output_tensors):
                    raise unsupported(node.layer, "its outputs could not be matched")
                for kt, v in zip(node.output_tensors, outs):
                    vals[id(kt)] = v
        return [vals[id(kt)] for kt in graph.outputs]


def graph_of(model, input_signature=None):
    """The Functional graph behind a Sequential or functional model (building an unbuilt
    Sequential from `input_signature` if given)."""
    from tenfold.keras.models.functional import Functional
    from tenfold.keras.models.sequential import Sequential
    if isinstance(model, Sequential):
        if model._functional is None and input_signature is not None:
            specs = _as_specs(input_signature)
            if len(specs) == 1 and specs[0][0] is not None:
                model.build((None,) + tuple(specs[0][0])[1:])
        if model._functional is None:
            raise ValueError(
                f"ONNX export: Sequential model \"{model.name}\" has no input shape yet. Give "
                "the first layer an input (keras.Input(shape=...) as the first layer), call "
                "the model on data once, or pass input_signature=[tf.TensorSpec((None, ...), "
                "'float32')].")
        return model._functional
    if isinstance(model, Functional):
        return model
    from tenfold.keras.models.model import Model
    if isinstance(model, Model):
        raise UnsupportedLayerError(
            f"ONNX export: model \"{model.name}\" is a subclassed Model (class "
            f"{type(model).__name__}) whose call() is Python code; the exporter converts "
            "Sequential and functional models. Rebuild it with keras.Input(...) and layer "
            "calls (the functional API), or as a Sequential.")
    raise TypeError(f"ONNX export expects a Keras model (Sequential or functional), got "
                    f"{type(model).__name__}.")


def _as_specs(input_signature):
    """[(shape or None, dtype or None)] from TensorSpecs, KerasTensors, arrays or shapes."""
    if input_signature is None:
        return None
    if not isinstance(input_signature, (list, tuple)) or (
            input_signature and all(d is None or isinstance(d, (int, np.integer))
                                    for d in input_signature)):
        input_signature = [input_signature]
    out = []
    for spec in input_signature:
        if hasattr(spec, "shape") and hasattr(spec, "dtype"):
            shape = spec.shape
            shape = None if shape is None else tuple(
                None if d is None else int(d) for d in (
                    shape.as_list() if hasattr(shape, "as_list") else shape))
            dt = spec.dtype
            dt = getattr(dt, "name", dt)
            out.append((shape, None if dt is None else np.dtype(str(dt))))
        elif isinstance(spec, (list, tuple)):
            out.append((tuple(None if d is None else int(d) for d in spec), None))
        else:
            raise TypeError(f"ONNX export: cannot read an input signature entry {spec!r}: pass "
                            "tf.TensorSpec(shape, dtype) objects (or shapes), one per input.")
    return out


def _dims(shape, base):
    return [("batch" if i == 0 else f"{base}_dim{i}") if d is None else int(d)
            for i, d in enumerate(shape)]


def export(model, path=None, opset=DEFAULT_OPSET, input_signature=None, *, check=True):
    """Converts a Sequential or functional Keras model to ONNX.

    Args:
      model: the model (built: it needs its input shapes).
      path: where to write the `.onnx` file (None: only return the ModelProto).
      opset: the ONNX opset (13 to 21; default 17).
      input_signature: optional `tf.TensorSpec`s (or shapes), one per input, to fix sizes or
        declare another input dtype (e.g. uint8 images for a model starting with Rescaling).
      check: run `onnx.checker` (with shape inference) on the result.

    Returns:
      The `onnx.ModelProto`.
    """
    onnx = _require_onnx()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or \
            not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"ONNX export: opset must be an integer from {MIN_OPSET} to "
                         f"{MAX_OPSET}, got opset={opset!r}.")
    graph = graph_of(model, input_signature)
    specs = _as_specs(input_signature)
    if specs is not None and len(specs) != len(graph.inputs):
        raise ValueError(f"ONNX export: input_signature has {len(specs)} entries but model "
                         f"\"{model.name}\" has {len(graph.inputs)} inputs "
                         f"({graph.input_names}).")
    b = Builder(onnx, opset)
    helper = onnx.helper
    cx = Converter(b)

    in_names = [b.reserve(n) for n in graph.input_names]
    out_names = []
    for n in graph.output_names:
        base, i = n, 1
        while n in out_names or n in in_names:
            n, i = f"{base}_{i}", i + 1
        out_names.append(b.reserve(n))

    graph_inputs, ins = [], []
    for i, (kt, name) in enumerate(zip(graph.inputs, in_names)):
        shape, dtype = kt.shape, np.dtype(kt.dtype)
        if specs is not None:
            s_shape, s_dtype = specs[i]
            if s_shape is not None:
                if len(s_shape) != len(shape) or any(
                        a is not None and c is not None and a != c
                        for a, c in zip(s_shape, shape)):
                    raise ValueError(f"ONNX export: input_signature[{i}] has shape {s_shape} "
                                     f"but input \"{name}\" has shape {shape}.")
                shape = tuple(c if c is not None else a for a, c in zip(shape, s_shape))
            dtype = s_dtype or dtype
        graph_inputs.append(helper.make_tensor_value_info(
            name, cx.onnx_dtype(dtype), _dims(shape, name)))
        ins.append(Val(name, "keras", kt.shape, dtype))

    outs = cx.convert_model(model, ins)

    graph_outputs = []
    for v, name in zip(outs, out_names):
        b.op("Identity", [b.as_layout(v, "keras")], name, out_names=[name])
        graph_outputs.append(helper.make_tensor_value_info(
            name, cx.onnx_dtype(v.dtype), _dims(v.shape, name)))

    onnx_graph = helper.make_graph(b.nodes, model.name or "model", graph_inputs,
                                   graph_outputs, b.initializers)
    opset_ids = [helper.make_opsetid("", int(opset))]
    import tenfold
    proto = helper.make_model(onnx_graph, opset_imports=opset_ids, producer_name="tenfold",
                              producer_version=tenfold.__tenfold_version__,
                              doc_string=f"Keras model \"{model.name}\" exported by tenfold")
    proto.ir_version = helper.find_min_ir_version_for(opset_ids)
    if check:
        onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        import os
        onnx.save_model(proto, os.fspath(path))
    return proto
