"""`tenfold.export`: models in the formats other tools deploy.

- `tenfold.export.onnx.export(model, "model.onnx")`: ONNX (ONNX Runtime, TensorRT, OpenVINO).
- `model.export(path, format="onnx")`: the same, through Keras 3's entry point.
- `tf.saved_model.save` / `model.export(path)`: TensorFlow SavedModels (TensorFlow Serving).
- Serving over TensorFlow Serving's REST API: see `tenfold.serving`.

Submodules load on first use (the `onnx` package only when an ONNX export runs).
"""
import importlib as _importlib

_SUBMODULES = ("onnx", "saved_model")


def export_model(model, filepath, format="tf_saved_model", verbose=None, input_signature=None,
                 **kwargs):
    """What `Model.export` does: writes `model` to `filepath` in `format`."""
    fmt = str(format).lower()
    if fmt == "onnx":
        from tenfold.export import onnx as _onnx
        opset = kwargs.pop("opset_version", kwargs.pop("opset", _onnx.DEFAULT_OPSET))
        if kwargs:
            raise TypeError(f"model.export(format='onnx') got unexpected keyword argument(s): "
                            f"{', '.join(sorted(kwargs))}")
        proto = _onnx.export(model, filepath, opset=opset, input_signature=input_signature)
        if verbose:
            print(f"Saved the ONNX model (opset {opset}) to {filepath}")
        return proto
    if fmt == "tf_saved_model":
        from tenfold.export import saved_model as _sm
        if kwargs:
            raise TypeError(f"model.export(format='tf_saved_model') got unexpected keyword "
                            f"argument(s): {', '.join(sorted(kwargs))}")
        _sm.export_keras(model, filepath, input_signature=input_signature,
                         verbose=True if verbose is None else verbose)
        return None
    raise ValueError(f"model.export: unknown or unsupported format {format!r}. tenfold writes "
                     "format='tf_saved_model' (the default) and format='onnx'.")


def __getattr__(name):
    if name in _SUBMODULES:
        mod = _importlib.import_module(f"tenfold.export.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'tenfold.export' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
