"""`keras.layers.TFSMLayer`: in Keras 3, a layer wrapping a TensorFlow SavedModel for
inference. A SavedModel is a TensorFlow graph program (its ops run by TensorFlow's C++
runtime), which tenfold does not execute; the layer exists so code that names it gets a clear
error that says what to do instead."""
import os

from tenfold.keras.layers.layer import Layer


class TFSMLayer(Layer):
    """Unsupported in tenfold: raises NotImplementedError naming the SavedModel and the ways
    to bring the model over (the arguments are Keras 3's)."""

    def __init__(self, filepath, call_endpoint="serve", call_training_endpoint=None,
                 trainable=True, name=None, dtype=None):
        path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else filepath
        found = isinstance(path, str) and os.path.exists(
            os.path.join(path, "saved_model.pb"))
        where = f"'{path}'" + ("" if found else " (no saved_model.pb there either)")
        raise NotImplementedError(
            f"TFSMLayer({where}, call_endpoint={call_endpoint!r}) is not supported: a "
            "TensorFlow SavedModel is a TensorFlow graph that only TensorFlow's runtime can "
            "execute, and tenfold never runs TensorFlow. To use the model in tenfold, save it "
            "from Keras as a .keras file (model.save('model.keras')) or its weights as .h5 / "
            ".weights.h5 and load them with keras.models.load_model / model.load_weights; or "
            "export it to ONNX.")
