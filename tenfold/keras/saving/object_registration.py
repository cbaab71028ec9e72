"""The registry of user classes and functions that configs may name (`register_keras_serializable`,
`custom_objects`, `CustomObjectScope`).

Loading only instantiates classes that are registered here, passed as `custom_objects`, or
part of tenfold's own Keras API: a name in a file never causes an import.
"""
import inspect
import threading

GLOBAL_CUSTOM_OBJECTS = {}   # registered name -> object
GLOBAL_CUSTOM_NAMES = {}     # id(object) -> registered name


class _Scopes(threading.local):
    def __init__(self):
        self.stack = []


_scopes = _Scopes()


class CustomObjectScope:
    """Makes the given name -> object mappings visible to deserialization inside a `with` block.

    >>> with CustomObjectScope({"MyLayer": MyLayer}):
    ...     model = keras.models.load_model("m.keras")
    """

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for d in custom_objects:
            if d is None:
                continue
            if not isinstance(d, dict):
                raise TypeError(f"CustomObjectScope takes dicts of name -> object; got {d!r}")
            self.custom_objects.update(d)

    def __enter__(self):
        _scopes.stack.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scopes.stack.pop()


custom_object_scope = CustomObjectScope


def scoped_custom_objects():
    """All name -> object mappings of the enclosing CustomObjectScopes (innermost wins)."""
    out = {}
    for d in _scopes.stack:
        out.update(d)
    return out


def get_custom_objects():
    """The global registry dict (name -> object); adding to it registers objects globally."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Class/function decorator: registers the object as `'{package}>{name}'` so that saved
    configs can name it and `load_model` can rebuild it.

    >>> @keras.saving.register_keras_serializable(package="my_pkg")
    ... class MyLayer(keras.layers.Layer): ...
    """
    def decorator(arg):
        obj_name = name if name is not None else getattr(arg, "__name__", None)
        if obj_name is None:
            raise ValueError(f"register_keras_serializable: cannot infer a name for {arg!r}; "
                             "pass name=...")
        if not isinstance(package, str) or ">" in package:
            raise ValueError(f"register_keras_serializable: package must be a string without "
                             f"'>'; got {package!r}")
        registered = f"{package}>{obj_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"Cannot register {arg.__name__}: a registered class must "
                             "implement get_config() (and from_config if its constructor does "
                             "not take the config's keys).")
        GLOBAL_CUSTOM_OBJECTS[registered] = arg
        GLOBAL_CUSTOM_NAMES[id(arg)] = registered
        return arg
    return decorator


def get_registered_name(obj):
    """`'package>Name'` for a registered object, else its `__name__`."""
    reg = GLOBAL_CUSTOM_NAMES.get(id(obj))
    if reg is not None and GLOBAL_CUSTOM_OBJECTS.get(reg) is obj:
        return reg
    return getattr(obj, "__name__", None)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or passed, or in scope) under `name`, or None."""
    if name is None:
        return None
    for table in (scoped_custom_objects(), GLOBAL_CUSTOM_OBJECTS, custom_objects or {},
                  module_objects or {}):
        if name in table:
            return table[name]
    return None
