"""The `get` / `serialize` / `deserialize` machinery shared by the Keras object families
(constraints, regularizers, initializers, losses, metrics).

Each family keeps its own public functions (with its own error messages, which name the kind
of object and list the known names); this module holds the steps they all take.
"""


def instance_config(obj, module, known, registered_name=None):
    """Keras 3's `{'module', 'class_name', 'config', 'registered_name'}` for `obj`.

    A built-in class (found under its own name in `known`) is recorded with `module`
    ('keras.constraints', ...) and no registered name; any other class with its Python module
    and `registered_name(cls)` (the class name when `registered_name` is None).
    """
    cls = type(obj)
    builtin = known.get(cls.__name__) is cls
    if builtin:
        registered = None
    else:
        registered = registered_name(cls) if registered_name is not None else cls.__name__
    return {"module": module if builtin else cls.__module__, "class_name": cls.__name__,
            "config": obj.get_config(), "registered_name": registered}


def registry_name(obj):
    """The name `obj` is registered under ('package>Name'), else its `__name__`."""
    from tenfold.keras.saving.object_registration import get_registered_name
    return get_registered_name(obj)


def registered_object(*names):
    """The first object registered (`register_keras_serializable`) or in a
    `custom_object_scope` under one of `names` (None entries are skipped), else None."""
    from tenfold.keras.saving.object_registration import get_registered_object
    for name in names:
        if name:
            obj = get_registered_object(name)
            if obj is not None:
                return obj
    return None


def from_class_config(cls, config):
    """An object of `cls` from the `'config'` entry of a serialized dict."""
    cfg = config.get("config") or {}
    return cls.from_config(cfg) if hasattr(cls, "from_config") else cls(**cfg)


def is_class_config(config):
    return isinstance(config, dict) and "class_name" in config


# -- families whose objects are instances of one base class (constraints, regularizers) --

def serialize_instance_or_name(obj, base, module, known):
    """None for None; the config dict of a `base` instance; a name (or repr) otherwise."""
    if obj is None:
        return None
    if isinstance(obj, base):
        return instance_config(obj, module, known)
    if isinstance(obj, str):
        return obj
    return getattr(obj, "__name__", repr(obj))


def deserialize_class(config, custom_objects, *, kind, known, get, unknown):
    """An object from a name (through `get`) or a config dict; `unknown(name)` is the message
    for a class name found neither in `custom_objects`, `known` nor the registry."""
    if isinstance(config, str):
        return get(config, custom_objects)
    if not is_class_config(config):
        raise ValueError(f"Cannot deserialize {kind} from {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or known.get(name) or \
        registered_object(config.get("registered_name") or name)
    if cls is None:
        raise ValueError(unknown(name))
    return from_class_config(cls, config)


def get_instance(identifier, custom_objects, *, kind, base, known, deserialize, unknown):
    """None, a `base` instance, a config dict, a known name (an instance of its class) or any
    callable; `unknown(name)` is the message for a name not known."""
    if identifier is None:
        return None
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects)
    if isinstance(identifier, str):
        cls = (custom_objects or {}).get(identifier) or known.get(identifier)
        if cls is None:
            raise ValueError(unknown(identifier))
        return cls()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")


# -- families of classes and functions looked up by name (losses, metrics) --

def lookup(name, known, custom_objects=None):
    """`custom_objects[name]`, else `known[name]`, else a registered object, else None."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    obj = known.get(name)
    if obj is not None:
        return obj
    from tenfold.keras.saving.object_registration import get_registered_object
    return get_registered_object(name, custom_objects)


def did_you_mean(name, known):
    """' Did you mean 'x'?' for the closest lower-case (function) name in `known`, else ''."""
    import difflib
    names = sorted(n for n in known if n[0].islower())
    close = difflib.get_close_matches(str(name), names, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def deserialize_named(config, custom_objects, *, kind, known, unknown):
    """An object from a name or a config dict (`class_name` 'function' holds a function's
    name); `unknown(name)` is the message for a name that resolves to nothing."""
    if isinstance(config, str):
        obj = lookup(config, known, custom_objects)
        if obj is None:
            raise ValueError(unknown(config))
        return obj
    if not is_class_config(config):
        raise ValueError(f"Could not interpret {kind} config: {config!r}")
    name = config["class_name"]
    if name == "function":
        return deserialize_named(config["config"], custom_objects, kind=kind, known=known,
                                 unknown=unknown)
    obj = lookup(config.get("registered_name") or name, known, custom_objects) or \
        lookup(name, known, custom_objects)
    if obj is None:
        raise ValueError(unknown(name))
    return obj.from_config(dict(config.get("config", {})))


def get_named(identifier, *, kind, known, deserialize, unknown):
    """None, a config dict, a name (a class name gives an instance, a function name the
    function) or any callable."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        obj = lookup(identifier, known)
        if obj is None:
            raise ValueError(unknown(identifier))
        return obj() if isinstance(obj, type) else obj
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")
