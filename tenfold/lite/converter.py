"""`tf.lite.TFLiteConverter`: Keras models (and `tf.function`s that call one) to `.tflite`.

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]          # quantize
    converter.representative_dataset = lambda: ([x[i:i + 1]] for i in range(100))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8                       # or tf.uint8 / tf.float32
    converter.inference_output_type = tf.int8
    open("model.tflite", "wb").write(converter.convert())

Without optimizations the model stays float32. With `Optimize.DEFAULT`: a representative
dataset gives full-integer quantization (int8 activations, calibrated on it); without one,
dynamic-range quantization (int8 weights); `target_spec.supported_types = [tf.float16]`
gives float16 weights.
"""
import enum

import numpy as np

from tenfold.lite import _flatbuffer, _lower, _quantize
from tenfold.lite._lower import UnsupportedLayerError

__all__ = ["TFLiteConverter", "Optimize", "OpsSet", "TargetSpec", "ConverterError"]


class ConverterError(ValueError):
    """A conversion that cannot be done as configured (`tf.lite.ConverterError`)."""


class Optimize(enum.Enum):
    DEFAULT = "DEFAULT"
    OPTIMIZE_FOR_SIZE = "OPTIMIZE_FOR_SIZE"  # deprecated aliases of DEFAULT in TensorFlow
    OPTIMIZE_FOR_LATENCY = "OPTIMIZE_FOR_LATENCY"
    EXPERIMENTAL_SPARSITY = "EXPERIMENTAL_SPARSITY"


class OpsSet(enum.Enum):
    TFLITE_BUILTINS = "TFLITE_BUILTINS"
    TFLITE_BUILTINS_INT8 = "TFLITE_BUILTINS_INT8"
    SELECT_TF_OPS = "SELECT_TF_OPS"
    EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 = \
        "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"


class TargetSpec:
    def __init__(self, supported_ops=None, supported_types=None):
        self.supported_ops = set(supported_ops or {OpsSet.TFLITE_BUILTINS})
        self.supported_types = set(supported_types or ())
        self.experimental_select_user_tf_ops = set()


class RepresentativeDataset:
    """`tf.lite.RepresentativeDataset(gen)`: a wrapper TensorFlow accepts too."""

    def __init__(self, input_gen):
        self.input_gen = input_gen


def _np_dtype(dt, field):
    if dt is None:
        return np.dtype(np.float32)
    name = getattr(dt, "name", None) or getattr(dt, "__name__", None) or str(dt)
    try:
        d = np.dtype(name)
    except TypeError:
        d = None
    if d not in (np.dtype(np.float32), np.dtype(np.int8), np.dtype(np.uint8)):
        raise ConverterError(f"TFLiteConverter: {field}={dt!r} is not supported; use "
                             "tf.float32, tf.int8 or tf.uint8.")
    return d


class TFLiteConverter:
    """Converts a Keras model to TensorFlow Lite (see the module docstring)."""

    def __init__(self, model):
        self._model = model
        self.optimizations = set()
        self.representative_dataset = None
        self.target_spec = TargetSpec()
        self.inference_input_type = None
        self.inference_output_type = None
        self.allow_custom_ops = False
        self.experimental_new_converter = True
        self.experimental_new_quantizer = True
        self._experimental_disable_per_channel = False

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_keras_model(cls, model):
        from tenfold.keras.models.model import Model
        if not isinstance(model, Model):
            raise TypeError(f"TFLiteConverter.from_keras_model expects a Keras model, got "
                            f"{type(model).__name__}.")
        return cls(model)

    @classmethod
    def from_concrete_functions(cls, funcs, trackable_obj=None):
        """Converts the Keras model a `tf.function` calls. TensorFlow traces any Python into
        a graph; tenfold converts a concrete function whose computation is one Keras model
        applied to its inputs (`tf.function(lambda x: model(x))`), given as `trackable_obj`
        or found among the function's captured variables' owner."""
        funcs = list(funcs) if isinstance(funcs, (list, tuple)) else [funcs]
        if len(funcs) != 1:
            raise ConverterError(f"TFLiteConverter.from_concrete_functions: got {len(funcs)} "
                                 "functions; tenfold converts one (one signature).")
        from tenfold.keras.models.model import Model
        model = trackable_obj if isinstance(trackable_obj, Model) else None
        if model is None:
            model = _model_called_by(funcs[0])
        if model is None:
            raise ConverterError(
                "TFLiteConverter.from_concrete_functions: could not find the Keras model this "
                "function computes; tenfold converts functions of the form "
                "`tf.function(lambda x: model(x))`: pass the model as trackable_obj "
                "(from_concrete_functions([f], model)) or use from_keras_model(model).")
        conv = cls(model)
        conv._function = funcs[0]
        return conv

    @classmethod
    def from_saved_model(cls, saved_model_dir, signature_keys=None, tags=None):
        raise ConverterError(
            f"TFLiteConverter.from_saved_model('{saved_model_dir}'): tenfold cannot read "
            "SavedModel directories yet. Load the Keras model (keras.models.load_model on "
            "its .keras file) and use TFLiteConverter.from_keras_model(model).")

    # ------------------------------------------------------------------ conversion
    def _quant_mode(self):
        opts = {o if isinstance(o, Optimize) else Optimize(str(o).split(".")[-1])
                for o in (self.optimizations or ())}
        ops = {o if isinstance(o, OpsSet) else OpsSet(str(o).split(".")[-1])
               for o in self.target_spec.supported_ops}
        types = {np.dtype(getattr(t, "name", t)) for t in self.target_spec.supported_types}
        if OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 in ops:
            raise ConverterError("TFLiteConverter: 16x8 quantization (EXPERIMENTAL_TFLITE_"
                                 "BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8) is not supported by "
                                 "tenfold's converter; use TFLITE_BUILTINS_INT8.")
        # SELECT_TF_OPS only permits TensorFlow ops; tenfold writes builtins, so it changes
        # nothing
        int8_only = ops - {OpsSet.SELECT_TF_OPS} == {OpsSet.TFLITE_BUILTINS_INT8}
        in_t = _np_dtype(self.inference_input_type, "inference_input_type")
        out_t = _np_dtype(self.inference_output_type, "inference_output_type")
        quantize = bool(opts & {Optimize.DEFAULT, Optimize.OPTIMIZE_FOR_SIZE,
                                Optimize.OPTIMIZE_FOR_LATENCY})
        if (in_t != np.float32 or out_t != np.float32) and not (
                quantize and self.representative_dataset is not None):
            raise ConverterError(
                "TFLiteConverter: inference_input_type/inference_output_type int8 or uint8 need "
                "full-integer quantization: set converter.optimizations = "
                "[tf.lite.Optimize.DEFAULT] and converter.representative_dataset.")
        if int8_only and not (quantize and self.representative_dataset is not None):
            raise ConverterError(
                "TFLiteConverter: supported_ops = [TFLITE_BUILTINS_INT8] needs a "
                "representative_dataset (and optimizations = [tf.lite.Optimize.DEFAULT]) to "
                "calibrate the activations.")
        if not quantize:
            return "float", in_t, out_t
        if np.dtype(np.float16) in types and not int8_only:
            return "float16", in_t, out_t
        if self.representative_dataset is not None:
            return "int8", in_t, out_t
        return "dynamic", in_t, out_t

    def convert(self):
        """The `.tflite` flatbuffer, as bytes."""
        _flatbuffer.require_tflite_schema()
        mode, in_t, out_t = self._quant_mode()
        graph = _lower.lower_keras_model(self._model)
        if mode == "float16":
            _quantize.float16(graph)
        elif mode == "dynamic":
            _quantize.dynamic_range(graph)
        elif mode == "int8":
            ranges = calibrate(graph, self.representative_dataset)
            _quantize.full_integer(graph, ranges, in_t, out_t)
        return _flatbuffer.write(graph, description=f"tenfold ({mode})")


def _model_called_by(fn):
    """The Keras model a traced function reads its variables from (None if not one)."""
    from tenfold.keras.models.model import Model
    py = getattr(getattr(fn, "_function", None), "_python_function", None)
    py = py or getattr(getattr(fn, "_function", None), "python_function", None)
    seen = []
    for cell in (getattr(py, "__closure__", None) or ()):
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, Model):
            seen.append(v)
    g = getattr(py, "__globals__", {})
    for name in getattr(getattr(py, "__code__", None), "co_names", ()):
        if isinstance(g.get(name), Model):
            seen.append(g[name])
    self_obj = getattr(py, "__self__", None)
    if isinstance(self_obj, Model):
        seen.append(self_obj)
    return seen[0] if len(seen) == 1 else None


def _samples(dataset, graph):
    """Yields one list of float32 arrays per representative sample, checked against the
    model's inputs."""
    if isinstance(dataset, RepresentativeDataset):
        dataset = dataset.input_gen
    if not callable(dataset):
        raise ConverterError("TFLiteConverter: representative_dataset must be a function "
                             "returning an iterable (a generator) of samples, got "
                             f"{type(dataset).__name__}.")
    names = graph.input_names or [t.name for t in graph.inputs]
    for n, sample in enumerate(dataset()):
        if isinstance(sample, dict):
            missing = set(names) - set(sample)
            if missing:
                raise ConverterError(f"TFLiteConverter: representative sample {n} lacks the "
                                     f"inputs {sorted(missing)} (the model's inputs are "
                                     f"{names}).")
            sample = [sample[k] for k in names]
        elif not isinstance(sample, (list, tuple)):
            sample = [sample]
        if len(sample) != len(graph.inputs):
            raise ConverterError(f"TFLiteConverter: representative sample {n} has "
                                 f"{len(sample)} arrays but the model takes "
                                 f"{len(graph.inputs)} inputs ({names}); yield a list with "
                                 "one array per input.")
        out = []
        for t, name, x in zip(graph.inputs, names, sample):
            x = np.asarray(x.numpy() if hasattr(x, "numpy") else x)
            if x.dtype.kind != "f":
                raise ConverterError(f"TFLiteConverter: representative sample {n}, input "
                                     f"\"{name}\": got dtype {x.dtype}, expected float32 "
                                     "(the model's float input, before quantization: "
                                     "e.g. images scaled as in training).")
            want = t.shape
            if x.ndim == len(want) - 1:
                x = x[None]
            if x.ndim != len(want) or any(w != -1 and w != d for w, d in zip(want, x.shape)):
                raise ConverterError(f"TFLiteConverter: representative sample {n}, input "
                                     f"\"{name}\": got shape {tuple(x.shape)}, expected "
                                     f"{tuple(None if d == -1 else d for d in want)}. Yield "
                                     "[x[i:i + 1]] (a batch of one) per sample.")
            out.append(x.astype(np.float32))
        yield out


def calibrate(graph, dataset):
    """{id(tensor): (min, max)} over the representative dataset, from running the float
    graph with every intermediate tensor kept."""
    from tenfold.lite.interpreter import Interpreter
    buf = _flatbuffer.write(graph)
    tensors = graph.tensors()  # the writer's tensor order
    it = Interpreter(model_content=buf, experimental_preserve_all_tensors=True)
    ins = [d["index"] for d in it.get_input_details()]
    lo = np.full(len(tensors), np.inf)
    hi = np.full(len(tensors), -np.inf)
    count = 0

    def run(chunk):
        for i, x in zip(ins, chunk):
            if tuple(x.shape) != tuple(it._shapes[i]):
                it.resize_tensor_input(i, x.shape)
            it.set_tensor(i, x)
        it.allocate_tensors()
        it.invoke()
        for j, t in enumerate(tensors):
            if t.is_const:
                continue
            v = it._values.get(j)
            if v is not None and v.size:
                lo[j] = min(lo[j], float(v.min()))
                hi[j] = max(hi[j], float(v.max()))

    # min/max over the samples is the same run one by one or stacked: stack up to 64
    pending = []
    for sample in _samples(dataset, graph):
        count += 1
        if pending and [x.shape[1:] for x in sample] != [x.shape[1:] for x in pending[0]]:
            run([np.concatenate(xs) for xs in zip(*pending)])
            pending = []
        pending.append(sample)
        if len(pending) == 64:
            run([np.concatenate(xs) for xs in zip(*pending)])
            pending = []
    if pending:
        run([np.concatenate(xs) for xs in zip(*pending)])
    if count == 0:
        raise ConverterError("TFLiteConverter: representative_dataset yielded no samples; "
                             "give it at least one (a few hundred are typical).")
    return {id(t): (lo[j], hi[j]) for j, t in enumerate(tensors) if not t.is_const}
