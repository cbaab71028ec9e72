"""Keras 3's serialized form of objects, for model configs (`get_config` / `from_config`).

`{"module": "keras.layers", "class_name": "Dense", "config": {...}, "registered_name": None,
"build_config": {...}}`. The saving package's `serialization_lib` is used when present (it is
the one place that knows every Keras object); these fallbacks cover layers and models.
"""
import importlib

_PUBLIC_MODULES = (
    ("tenfold.keras.layers", "keras.layers"),
    ("tenfold.keras.losses", "keras.losses"),
    ("tenfold.keras.metrics", "keras.metrics"),
    ("tenfold.keras.optimizers", "keras.optimizers"),
    ("tenfold.keras.initializers", "keras.initializers"),
    ("tenfold.keras.regularizers", "keras.regularizers"),
    ("tenfold.keras.constraints", "keras.constraints"),
)


def _saving_lib():
    try:
        return importlib.import_module("tenfold.keras.saving.serialization_lib")
    except ImportError:
        return None


def public_module_of(obj):
    cls = obj if isinstance(obj, type) else type(obj)
    mod = cls.__module__
    name = cls.__name__
    if name == "Sequential" and mod.startswith("tenfold.keras.models"):
        return "keras", None
    if name == "Functional" and mod.startswith("tenfold.keras.models"):
        return "keras.src.models.functional", "Functional"
    if name == "Model" and mod.startswith("tenfold.keras.models"):
        return "keras", None
    for prefix, public in _PUBLIC_MODULES:
        if mod.startswith(prefix):
            return public, None
    return mod, None


def serialize_keras_object(obj):
    lib = _saving_lib()
    if lib is not None and hasattr(lib, "serialize_keras_object"):
        return lib.serialize_keras_object(obj)
    return _fallback_serialize(obj)


def _fallback_serialize(obj):
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_fallback_serialize(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _fallback_serialize(v) for k, v in obj.items()}
    module, registered = public_module_of(obj)
    if registered is None and not module.startswith("keras"):
        registered = f"Custom>{type(obj).__name__}"
    cfg = {"module": module, "class_name": type(obj).__name__,
           "config": obj.get_config() if hasattr(obj, "get_config") else {},
           "registered_name": registered}
    if hasattr(obj, "get_build_config"):
        bc = obj.get_build_config()
        if bc is not None:
            cfg["build_config"] = _plain(bc)
    if hasattr(obj, "get_compile_config"):
        cc = obj.get_compile_config()
        if cc is not None:
            cfg["compile_config"] = cc
    return cfg


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def deserialize_keras_object(config, custom_objects=None):
    lib = _saving_lib()
    if lib is not None and hasattr(lib, "deserialize_keras_object"):
        return lib.deserialize_keras_object(config, custom_objects=custom_objects)
    return _fallback_deserialize(config, custom_objects)


def _find_class(class_name, module, custom_objects):
    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    from tenfold.keras import layers as layers_mod
    from tenfold.keras import models as models_mod
    for mod in (models_mod, layers_mod):
        c = getattr(mod, class_name, None)
        if isinstance(c, type):
            return c
    # Never import a module a config names: only known classes are instantiated.
    raise TypeError(f"Could not locate class '{class_name}' (module {module!r}). Make sure "
                    "custom classes are passed in `custom_objects`.")


def _fallback_deserialize(config, custom_objects=None):
    if not isinstance(config, dict) or "class_name" not in config:
        return config
    cls = _find_class(config["class_name"], config.get("module"), custom_objects)
    inner = config.get("config", {})
    if hasattr(cls, "from_config"):
        try:
            obj = cls.from_config(inner, custom_objects=custom_objects)
        except TypeError:
            obj = cls.from_config(inner)
    else:
        obj = cls(**inner)
    bc = config.get("build_config")
    if bc and not getattr(obj, "built", True) and hasattr(obj, "build_from_config"):
        obj.build_from_config(bc)
    return obj


def serialize_compile_config(cfg):
    out = {}
    for k, v in cfg.items():
        if k in ("optimizer", "loss", "metrics", "weighted_metrics", "loss_weights"):
            out[k] = _serialize_maybe(v)
        else:
            out[k] = v
    return out


def _serialize_maybe(v):
    if v is None or isinstance(v, (int, float, bool)):
        return v
    if isinstance(v, str):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_serialize_maybe(x) for x in v]
    if isinstance(v, dict):
        return {k: _serialize_maybe(x) for k, x in v.items()}
    lib = _saving_lib()
    if lib is not None and hasattr(lib, "serialize_keras_object"):
        return lib.serialize_keras_object(v)
    if callable(v) and not hasattr(v, "get_config"):
        return getattr(v, "__name__", str(v))
    return _fallback_serialize(v)


def deserialize_compile_config(cfg):
    out = dict(cfg)
    for k in ("optimizer", "loss", "metrics", "weighted_metrics"):
        out[k] = _deserialize_nested(out.get(k), k)
    return out


def _deserialize_nested(v, key):
    """Saved compile arguments back to objects. Metrics and losses may be lists or per-output
    dicts of serialized objects (`[{"class_name": "SparseCategoricalAccuracy", ...}, "accuracy"]`):
    each serialized object inside is deserialized, names stay names."""
    if isinstance(v, (list, tuple)):
        return [_deserialize_nested(x, key) for x in v]
    if not isinstance(v, dict):
        return v
    if "class_name" not in v:
        return {name: _deserialize_nested(x, key) for name, x in v.items()}
    lib = _saving_lib()
    if lib is not None:
        return lib.deserialize_keras_object(v)
    mod = {"optimizer": "optimizers", "loss": "losses"}.get(key, "metrics")
    m = importlib.import_module(f"tenfold.keras.{mod}")
    return m.deserialize(v) if hasattr(m, "deserialize") else m.get(v)
