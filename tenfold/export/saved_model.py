"""`tf.saved_model`: tenfold does not write or read TensorFlow SavedModels (a protobuf graph
of TensorFlow kernels). These entry points say what to use instead."""


def _not_supported(what):
    return NotImplementedError(
        f"{what}: tenfold does not write TensorFlow SavedModel directories. To serve the "
        "model over TensorFlow Serving's REST API, save it with model.save('model.keras') and "
        "run `python -m tenfold.serving --model model.keras` (same URLs and JSON as "
        "TensorFlow Serving); to run it in ONNX Runtime or other engines, use "
        "model.export('model.onnx', format='onnx').")


def save(obj, export_dir, signatures=None, options=None):
    raise _not_supported("tf.saved_model.save")


def load(export_dir, tags=None, options=None):
    raise NotImplementedError(
        "tf.saved_model.load: tenfold cannot load TensorFlow SavedModel directories (they "
        "hold TensorFlow graphs). Load a Keras model file with "
        "tf.keras.models.load_model('model.keras').")


def contains_saved_model(export_dir):
    import os
    return os.path.exists(os.path.join(os.fspath(export_dir), "saved_model.pb"))
