"""A loaded model with what the REST API says about it: input/output names, dtypes and
shapes, and a thread-safe `predict`."""
import glob
import os
import threading

import numpy as np
from tenfold.framework.host import to_host

# TensorFlow's DataType names, as TF Serving's metadata writes them
_TF_DTYPES = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "float16": "DT_HALF",
              "bfloat16": "DT_BFLOAT16", "int8": "DT_INT8", "int16": "DT_INT16",
              "int32": "DT_INT32", "int64": "DT_INT64", "uint8": "DT_UINT8",
              "uint16": "DT_UINT16", "uint32": "DT_UINT32", "uint64": "DT_UINT64",
              "bool": "DT_BOOL", "string": "DT_STRING"}

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


class TensorInfo:
    __slots__ = ("name", "dtype", "shape")

    def __init__(self, name, dtype, shape):
        self.name = name
        self.dtype = str(dtype)
        self.shape = None if shape is None else tuple(shape)

    def np_dtype(self):
        if self.dtype == "bfloat16":
            import ml_dtypes
            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype(self.dtype)

    def tf_dtype(self):
        return _TF_DTYPES.get(self.dtype, "DT_INVALID")


def _graph(model):
    from tenfold.keras.models.functional import Functional
    from tenfold.keras.models.sequential import Sequential
    if isinstance(model, Sequential):
        return model._functional
    if isinstance(model, Functional):
        return model
    return None


def _names_of(struct, kts, default):
    """Names for the flat tensors of a structure: dict keys where the structure is a dict
    (in flattening order), else the KerasTensors' names."""
    from tenfold.util import nest
    if isinstance(struct, dict):
        return nest.flatten({k: k for k in struct})
    names = [getattr(kt, "name", None) or f"{default}_{i}" for i, kt in enumerate(kts)]
    seen = set()
    for i, n in enumerate(names):
        if n in seen:
            names[i] = f"{n}_{i}"
        seen.add(names[i])
    return names


class Servable:
    """One version of one model, ready to answer predict requests."""

    def __init__(self, model, name="model", version=1, source=None):
        self.model = model
        self.name = str(name)
        self.version = int(version)
        self.source = source
        self._lock = threading.Lock()
        graph = _graph(model)
        self._dict_inputs = False
        if graph is not None:
            self._dict_inputs = isinstance(graph._inputs_struct, dict)
            in_names = _names_of(graph._inputs_struct, graph.inputs, "input")
            self.inputs = [TensorInfo(n, kt.dtype, kt.shape)
                           for n, kt in zip(in_names, graph.inputs)]
            out_names = _names_of(graph._outputs_struct, graph.outputs, "output")
            if not isinstance(graph._outputs_struct, dict):
                out_names = list(graph.output_names)
                out_names = [n if out_names.count(n) == 1 else f"{n}_{i}"
                             for i, n in enumerate(out_names)]
            self.outputs = [TensorInfo(n, kt.dtype, kt.shape)
                            for n, kt in zip(out_names, graph.outputs)]
        else:  # a subclassed model or an unbuilt Sequential: shapes unknown until called
            self.inputs = [TensorInfo("inputs", "float32", None)]
            self.outputs = [TensorInfo("output_0", "float32", None)]
            self._outputs_known = False

    @property
    def input_names(self):
        return [t.name for t in self.inputs]

    @property
    def output_names(self):
        return [t.name for t in self.outputs]

    def predict(self, arrays):
        """Model outputs (a list of NumPy arrays, in `outputs` order) for the input arrays
        (a list in `inputs` order). One request at a time per model."""
        from tenfold.util import nest
        if self._dict_inputs:
            x = dict(zip(self.input_names, arrays))
        elif len(arrays) == 1:
            x = arrays[0]
        else:
            x = list(arrays)
        with self._lock:
            out = self.model(x, training=False)
        flat = nest.flatten(out)
        result = [to_host(o) for o in flat]  # the response leaves the process
        if not getattr(self, "_outputs_known", True):
            self.outputs = [TensorInfo("output_0" if len(result) == 1 else f"output_{i}",
                                       r.dtype.name, (None,) + r.shape[1:])
                            for i, r in enumerate(result)]
            self._outputs_known = True
        return result


class SavedModelServable(Servable):
    """A SavedModel directory (as tf.saved_model.save / model.export write them), served
    through its `serving_default` signature with tenfold's reader."""

    def __init__(self, directory, name="model", version=1):
        from tenfold.export import saved_model
        loaded = saved_model.load(directory)
        sig = loaded.signatures.get(saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY)
        if sig is None:
            raise ValueError(f"{directory}: the SavedModel has no 'serving_default' signature "
                             f"(it has {sorted(loaded.signatures)}).")
        self.model = loaded
        self.name = str(name)
        self.version = int(version)
        self.source = directory
        self._lock = threading.Lock()
        self._dict_inputs = False
        self._signature = sig
        self.inputs = [TensorInfo(k, s.dtype.name, s.shape.as_list())
                       for k, s in sig.structured_input_signature[1].items()]
        self.outputs = [TensorInfo(k, s.dtype.name, s.shape.as_list())
                        for k, s in sig.structured_outputs.items()]

    def predict(self, arrays):
        with self._lock:
            out = self._signature(**dict(zip(self.input_names, arrays)))
        return [np.asarray(out[t.name].numpy()) for t in self.outputs]


def _find_model_file(directory):
    files = sorted(f for f in glob.glob(os.path.join(directory, "*"))
                   if f.lower().endswith(MODEL_SUFFIXES) and os.path.isfile(f))
    if not files:
        if os.path.exists(os.path.join(directory, "saved_model.pb")):
            return directory  # a SavedModel directory
        raise ValueError(f"No model file ({', '.join(MODEL_SUFFIXES)}) found in {directory}.")
    if len(files) > 1:
        names = [os.path.basename(f) for f in files]
        raise ValueError(f"Several model files in {directory} ({names}): keep one per version "
                         "directory, or pass the file itself.")
    return files[0]


def resolve_model_path(path, version=None):
    """(model file, version) for a file, a directory holding one model file, or a
    TensorFlow-Serving-style base path `base/<version>/model.keras` (the highest version);
    a SavedModel directory (holding saved_model.pb) stands for the model file."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return path, version
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No model at {path!r}: pass a .keras file or a directory "
                                "(TF Serving layout: <base>/<version>/model.keras).")
    versions = sorted((int(d), d) for d in os.listdir(path)
                      if d.isdigit() and os.path.isdir(os.path.join(path, d)))
    if versions:
        v, d = versions[-1]
        return _find_model_file(os.path.join(path, d)), v
    return _find_model_file(path), version


def load_servable(model_or_path, name="model", version=1):
    """A Servable from a Keras model object or a saved model path (loaded in safe mode:
    nothing in the file runs as code)."""
    from tenfold.keras.models.model import Model
    if isinstance(model_or_path, Model):
        return Servable(model_or_path, name, version, source=None)
    if not isinstance(model_or_path, (str, os.PathLike)):
        raise TypeError(f"serve() takes a Keras model or the path of a saved model, got "
                        f"{type(model_or_path).__name__}.")
    path, v = resolve_model_path(model_or_path, version)
    if os.path.isdir(path):  # a SavedModel directory (resolve_model_path checked it)
        return SavedModelServable(path, name, version if v is None else v)
    from tenfold.keras.models import load_model
    model = load_model(path, compile=False, safe_mode=True)
    return Servable(model, name, version if v is None else v, source=path)
