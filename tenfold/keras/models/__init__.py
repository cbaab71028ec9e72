"""`keras.models`: Model, Sequential, and loading/cloning models."""
from tenfold.keras.models.model import Model  # noqa: F401
from tenfold.keras.models.functional import Functional  # noqa: F401
from tenfold.keras.models.sequential import Sequential  # noqa: F401
from tenfold.keras.models.cloning import clone_model  # noqa: F401


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved with `model.save` (`.keras`; `.h5` where supported)."""
    from tenfold.keras import saving
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile,
                             safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, **kwargs):
    from tenfold.keras import saving
    return saving.save_model(model, filepath, overwrite=overwrite, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A model (new weights) from `model.to_json()`."""
    try:
        from tenfold.keras.saving import model_from_json as _mfj
    except ImportError:
        _mfj = None
    if _mfj is not None:
        return _mfj(json_string, custom_objects=custom_objects)
    import json
    from tenfold.keras.engine.serialization import deserialize_keras_object
    return deserialize_keras_object(json.loads(json_string), custom_objects=custom_objects)


def model_from_config(config, custom_objects=None):
    from tenfold.keras.engine.serialization import deserialize_keras_object
    return deserialize_keras_object(config, custom_objects=custom_objects)
