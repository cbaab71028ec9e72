"""`keras.saving`: `.keras` model files (Keras 3's own format), `.weights.h5` files, configs.

    model.save("model.keras")
    model = keras.saving.load_model("model.keras")     # same predictions, same optimizer state

Loading is safe by default: it instantiates only tenfold's Keras classes and objects the caller
registered or passed as `custom_objects`, never imports a module named in a file, and refuses
Python bytecode (`Lambda` layers made from lambdas) unless `safe_mode=False`.
Files are checked before they are trusted (zip bombs, HDF5 links, impossible dataset sizes,
checksums, config depth, parameter counts: see `limits` for the limits and how to raise them).
"""
import importlib as _importlib

from tenfold.keras.saving.object_registration import (  # noqa: F401
    CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
    get_registered_object, register_keras_serializable)

_ATTRS = {
    "serialize_keras_object": "tenfold.keras.saving.serialization_lib",
    "deserialize_keras_object": "tenfold.keras.saving.serialization_lib",
    "enable_unsafe_deserialization": "tenfold.keras.saving.serialization_lib",
    "SafeModeScope": "tenfold.keras.saving.serialization_lib",
    "in_safe_mode": "tenfold.keras.saving.serialization_lib",
    "save_model": "tenfold.keras.saving.saving_lib",
    "load_model": "tenfold.keras.saving.saving_lib",
    "save_weights": "tenfold.keras.saving.saving_lib",
    "load_weights": "tenfold.keras.saving.saving_lib",
    "model_from_json": "tenfold.keras.saving.saving_lib",
    "model_to_json": "tenfold.keras.saving.saving_lib",
    "set_max_load_parameters": "tenfold.keras.saving.limits",
    "get_max_load_parameters": "tenfold.keras.saving.limits",
}


def __getattr__(name):
    if name in _ATTRS:
        val = getattr(_importlib.import_module(_ATTRS[name]), name)
        globals()[name] = val
        return val
    raise AttributeError(f"module 'tenfold.keras.saving' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_ATTRS))
