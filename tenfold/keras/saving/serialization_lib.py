"""Configs in Keras 3's format: `serialize_keras_object` / `deserialize_keras_object`.

A serialized object is `{"module", "class_name", "config", "registered_name"}` with Keras's
public names (`"keras.layers"`, `"Dense"`), plus `build_config` / `compile_config` where the
object has them, so that Keras 3 reads what tenfold writes and the other way round.

Safety (the part Keras got wrong in CVE-2024-3660 and CVE-2025-1550): the `module` field of a
config is never imported. A name resolves only to
  1. an object passed as `custom_objects`, in a `CustomObjectScope`, or registered with
     `register_keras_serializable`;
  2. a class or function of tenfold's own Keras API (layers, initializers, losses, ...), looked
     up by its Keras public name in a fixed list of modeling namespaces.
Anything else is refused with an error naming it. Python bytecode in a config (`__lambda__`,
Keras 2 `Lambda` layers) is refused unless `safe_mode=False`.
"""
import base64
import codecs
import difflib
import inspect
import marshal
import threading
import types
import warnings

import numpy as np

from tenfold.keras.saving import object_registration as _reg

PLAIN_TYPES = (str, int, float, bool)

# (tenfold module, Keras public module). Order matters for reverse lookups: the first namespace
# exporting a class gives its public name.
_NAMESPACES = (
    ("tenfold.keras.layers", "keras.layers"),
    ("tenfold.keras.initializers", "keras.initializers"),
    ("tenfold.keras.regularizers", "keras.regularizers"),
    ("tenfold.keras.constraints", "keras.constraints"),
    ("tenfold.keras.optimizers.schedules", "keras.optimizers.schedules"),
    ("tenfold.keras.optimizers", "keras.optimizers"),
    ("tenfold.keras.losses", "keras.losses"),
    ("tenfold.keras.metrics", "keras.metrics"),
    ("tenfold.keras.activations", "keras.activations"),
)
# Namespaces searched for functions named by a config ("class_name": "function").
_FUNCTION_NAMESPACES = ("tenfold.keras.activations", "tenfold.keras.losses",
                        "tenfold.keras.metrics")
# Module prefixes that mean "a built-in Keras object" in files written by Keras or tenfold.
_KERAS_PREFIXES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras",
                   "tenfold.keras")


# ---------------------------------------------------------------------------------- scopes
class _State(threading.local):
    def __init__(self):
        self.safe_mode = None          # None: not inside a SafeModeScope
        self.sharing = None            # (id -> config, id -> object) inside ObjectSharingScope
        self.depth = 0                 # nesting of deserialize_keras_object calls


_state = _State()
_global_unsafe = [False]


class SafeModeScope:
    """Propagates `safe_mode` to nested deserialization (e.g. layers inside a model config)."""

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        self._prev = _state.safe_mode
        _state.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc):
        _state.safe_mode = self._prev


def enable_unsafe_deserialization():
    """Allows Python bytecode (lambdas) in configs everywhere (`keras.config.`
    `enable_unsafe_deserialization`). Only do this for files you trust."""
    _global_unsafe[0] = True


def in_safe_mode():
    """The safe_mode of the enclosing SafeModeScope (None outside one)."""
    if _state.safe_mode is not None:
        return _state.safe_mode
    return False if _global_unsafe[0] else None


class ObjectSharingScope:
    """Inside it, an object serialized twice is written once with a `shared_object_id`, and
    read back as one object."""

    def __enter__(self):
        self._prev = _state.sharing
        _state.sharing = ({}, {})
        return self

    def __exit__(self, *exc):
        _state.sharing = self._prev


# ---------------------------------------------------------------------------------- names
_public = {"by_id": None}


def _namespace(modname):
    import importlib
    try:
        return importlib.import_module(modname)
    except ImportError:
        return None


def _public_table():
    """id(object) -> (keras module, public name) for tenfold's built-in Keras objects."""
    table = _public["by_id"]
    if table is not None:
        return table
    table = {}
    for tf_mod, k_mod in _NAMESPACES:
        mod = _namespace(tf_mod)
        if mod is None:
            continue
        for name, obj in list(vars(mod).items()):
            if name.startswith("_") or id(obj) in table:
                continue
            if not getattr(obj, "__module__", "").startswith("tenfold."):
                continue
            if inspect.isclass(obj) and obj.__name__ == name:
                table[id(obj)] = (k_mod, name)
    for name, (mod, attr) in _model_classes().items():
        m = _namespace(mod)
        obj = getattr(m, attr, None) if m is not None else None
        if obj is not None:
            table[id(obj)] = ("keras.src.models.functional", "Functional") \
                if name == "Functional" else ("keras", name)
    pol = _namespace("tenfold.keras.mixed_precision.policy")
    if pol is not None:
        table[id(pol.Policy)] = ("keras", "DTypePolicy")
    if _namespace("tenfold.keras.layers") is not None:
        _public["by_id"] = table  # complete once the layers exist; rebuilt until then
    return table


def _model_classes():
    return {"Sequential": ("tenfold.keras.models", "Sequential"),
            "Functional": ("tenfold.keras.models", "Functional"),
            "Model": ("tenfold.keras.models", "Model")}


def public_name(cls):
    """(module, class_name) under which Keras exports `cls`, or None for user classes."""
    return _public_table().get(id(cls))


def _builtin_class(class_name, module):
    """A tenfold built-in class for a Keras (module, class_name); None if there is none."""
    if class_name in ("Functional", "Model", "Sequential"):
        mod, attr = _model_classes()[class_name]
        m = _namespace(mod)
        obj = getattr(m, attr, None) if m is not None else None
        if obj is None and class_name == "Functional":
            obj = getattr(m, "Model", None) if m is not None else None
        return obj
    if class_name in ("DTypePolicy", "FloatDTypePolicy", "Policy"):
        from tenfold.keras.mixed_precision.policy import Policy
        return Policy
    order = list(_NAMESPACES)
    mod = module or ""
    # Prefer the namespace the module names ("keras.src.layers.core.dense" -> layers).
    for hint in ("schedules", "initializers", "regularizers", "constraints", "optimizers",
                 "losses", "metrics", "activations", "layers"):
        if f".{hint}" in f".{mod.replace('keras.src.', 'keras.')}":
            order.sort(key=lambda p: 0 if p[1].endswith(hint) else 1)
            break
    for tf_mod, _ in order:
        m = _namespace(tf_mod)
        if m is None:
            continue
        obj = vars(m).get(class_name)
        if inspect.isclass(obj) and getattr(obj, "__module__", "").startswith("tenfold.") \
                and hasattr(obj, "from_config"):
            return obj
    return None


def _builtin_function(name):
    for tf_mod in _FUNCTION_NAMESPACES:
        m = _namespace(tf_mod)
        if m is None:
            continue
        obj = vars(m).get(name)
        if isinstance(obj, types.FunctionType) and obj.__module__.startswith("tenfold.") \
                and not name.startswith("_") and name not in ("get", "serialize",
                                                               "deserialize"):
            return obj
    return None


def _operation_module(module):
    return isinstance(module, str) and (module.startswith("keras.src.ops.") or
                                        module.startswith("keras.ops."))


def _application_class(name, module):
    """A helper layer of keras.applications (ConvNeXt's `LayerScale`) from tenfold's own
    module of the same family; only tenfold's modules are imported, never the file's."""
    import pkgutil
    import tenfold.keras.applications as apps
    family = module.rsplit(".", 1)[-1]
    if family not in {m.name for m in pkgutil.iter_modules(apps.__path__)}:
        return None
    mod = _namespace(f"tenfold.keras.applications.{family}")
    obj = getattr(mod, name, None) if mod is not None else None
    if inspect.isclass(obj) and hasattr(obj, "from_config") and \
            obj.__module__ == mod.__name__:
        return obj
    return None


def _is_keras_module(module):
    return isinstance(module, str) and any(module == p or module.startswith(p + ".")
                                           for p in _KERAS_PREFIXES)


# ---------------------------------------------------------------------------------- lambdas
def func_dump(func):
    """(code, defaults, closure) of a Python function, as Keras stores lambdas (base64 of
    marshalled bytecode). Loading it back runs that code: only with safe_mode=False."""
    code = codecs.encode(marshal.dumps(func.__code__), "base64").decode("ascii")
    closure = tuple(c.cell_contents for c in func.__closure__) if func.__closure__ else None
    return code, func.__defaults__, closure


def func_load(code, defaults=None, closure=None, globs=None):
    """Rebuilds a function from `func_dump`'s output. This executes bytecode from the file:
    callers check safe mode first (`check_unsafe_allowed`)."""
    check_unsafe_allowed("a Python lambda (marshalled bytecode)")
    if isinstance(code, (tuple, list)):
        code, defaults, closure = code
        if isinstance(defaults, list):
            defaults = tuple(defaults)
    raw = codecs.decode(code.encode("ascii"), "base64") if isinstance(code, str) else \
        base64.b64decode(code)
    code_obj = marshal.loads(raw)

    def cell(value):
        return (lambda: value).__closure__[0]

    if closure is not None:
        closure = tuple(cell(c) for c in closure)
    if globs is None:
        import builtins
        globs = {"__builtins__": builtins}
        try:
            import tenfold
            globs.update({"tf": tenfold, "keras": tenfold.keras, "ops": tenfold.keras.ops,
                          "np": np})
        except Exception:
            pass
    return types.FunctionType(code_obj, globs, name=code_obj.co_name, argdefs=defaults,
                              closure=closure)


class UnsafeConfigError(ValueError):
    """A config needs Python code from the file to load, and safe mode forbids that."""


def check_unsafe_allowed(what, where=None):
    safe = in_safe_mode()
    if safe is None or safe:
        loc = f" (in {where})" if where else ""
        raise UnsafeConfigError(
            f"Refusing to deserialize {what}{loc}: this would run Python code stored in the "
            "file, which is how a malicious model file takes over a machine. Loading is safe "
            "by default. If you trust the file's source, pass `safe_mode=False` to the loading "
            "function (or call keras.config.enable_unsafe_deserialization()). Better: define "
            "the function in your code, register it with "
            "@keras.saving.register_keras_serializable() and re-save the model.")


def scan_config(config, safe_mode, source=None):
    """Checks a whole config tree before anything is built: refuses Python bytecode when
    `safe_mode` (naming the layer), and malformed nodes. Raises UnsafeConfigError."""
    if not safe_mode:
        return
    stack = [(config, "config", None)]
    seen = 0
    while stack:
        node, path, layer = stack.pop()
        seen += 1
        if seen > 1_000_000:
            raise ValueError(f"Config{_src(source)} is too large or cyclic to load.")
        if isinstance(node, dict):
            cname = node.get("class_name")
            if isinstance(node.get("config"), dict) and isinstance(node["config"].get("name"),
                                                                   str):
                layer = f"{cname} '{node['config']['name']}'"
            if cname == "__lambda__":
                raise UnsafeConfigError(_lambda_msg(layer, path, source))
            cfg = node.get("config") if isinstance(node.get("config"), dict) else node
            # Keras 2 / tf.keras Lambda layers store the function as marshalled bytecode.
            if cname == "Lambda" or "function_type" in cfg:
                for key in ("function", "output_shape", "mask"):
                    ftype = cfg.get(f"{key}_type" if key != "function" else "function_type")
                    val = cfg.get(key)
                    if ftype == "lambda" or (key == "function" and isinstance(val, (list, tuple))
                                             and val and isinstance(val[0], str)
                                             and len(val[0]) > 16):
                        raise UnsafeConfigError(_lambda_msg(layer, path + f".{key}", source))
            for k, v in node.items():
                if isinstance(v, (dict, list, tuple)):
                    stack.append((v, f"{path}.{k}", layer))
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                if isinstance(v, (dict, list, tuple)):
                    stack.append((v, f"{path}[{i}]", layer))


def _src(source):
    return f" in {source}" if source else ""


def _lambda_msg(layer, path, source):
    where = f"{layer} " if layer else ""
    return (f"Refusing to load {where}from{_src(source) or ' the config'}: it contains a Python "
            f"lambda stored as marshalled bytecode (at {path}). Loading it would execute code "
            "from the file, which is how malicious model files take over machines, so safe "
            "mode (the default) refuses it. If you trust the file's source, pass "
            "`safe_mode=False` to the loading function. Better: replace the lambda with a "
            "named function registered with @keras.saving.register_keras_serializable().")


# ---------------------------------------------------------------------------------- serialize
def serialize_keras_object(obj):
    """The config dict of a Keras object (Keras 3's format; see the module docstring)."""
    from tenfold.framework.tensor import Tensor
    from tenfold.framework.dtypes import DType
    from tenfold.framework.tensor_shape import TensorShape
    from tenfold.keras.engine.keras_tensor import KerasTensor
    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        out = [serialize_keras_object(x) for x in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, dict):
        return serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {
            "start": serialize_keras_object(obj.start), "stop": serialize_keras_object(obj.stop),
            "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, KerasTensor):
        hist = getattr(obj, "_keras_history", None)
        if hist:
            hist = [hist[0].name, hist[1], hist[2]]
        return {"class_name": "__keras_tensor__", "config": {
            "shape": list(obj.shape), "dtype": obj.dtype, "keras_history": hist}}
    if isinstance(obj, TensorShape):
        return obj.as_list() if obj.rank is not None else None
    if isinstance(obj, Tensor):
        arr = np.asarray(obj)
        return {"class_name": "__tensor__", "config": {"value": arr.tolist(),
                                                       "dtype": _dtype_name(arr.dtype)}}
    if isinstance(obj, np.ndarray):
        if obj.ndim > 0:
            return {"class_name": "__numpy__", "config": {"value": obj.tolist(),
                                                          "dtype": _dtype_name(obj.dtype)}}
        return obj.item()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, DType):
        return obj.name
    if isinstance(obj, np.dtype):
        return _dtype_name(obj)
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        warnings.warn("The object being serialized includes a `lambda`: reloading it will need "
                      "`safe_mode=False`. Use a named, registered function instead.",
                      stacklevel=2)
        return {"class_name": "__lambda__", "config": {"value": func_dump(obj)}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return _serialize_function(obj)
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize object {obj!r} of type {type(obj).__name__}: to be "
                        "serializable, a class must implement get_config().")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"The get_config() method of {obj!r} should return a dict; it returned "
                        f"{config!r}")
    inner = serialize_dict(config)
    pub = getattr(obj, "_keras_public_name", None) or public_name(type(obj))
    if pub is not None:
        out = {"module": pub[0], "class_name": pub[1], "config": inner,
               "registered_name": "Functional" if pub[1] == "Functional" else None}
        if pub[0].startswith("keras.src.applications."):  # a helper layer (LayerScale)
            out["registered_name"] = pub[1]
        if _operation_module(pub[0]):  # Keras names its operation nodes' class twice
            out["registered_name"] = pub[1]  # and gives them no build config
            return out
    else:
        cls = type(obj)
        module = cls.__module__
        out = {"module": None if module == "__main__" else module, "class_name": cls.__name__,
               "config": inner, "registered_name": _reg.get_registered_name(cls)}
    _add_build_and_compile(obj, out)
    _record_shared(obj, out)
    return out


def _dtype_name(dt):
    dt = np.dtype(dt)
    return "bfloat16" if dt.name == "bfloat16" else dt.name


def _serialize_function(fn):
    """Keras 3 writes every named function, its own and the user's, as
    ("builtins", "function", name), the name being the registered one (`package>name`) for
    functions registered with `register_keras_serializable`."""
    return {"module": "builtins", "class_name": "function",
            "config": _reg.get_registered_name(fn), "registered_name": "function"}


def serialize_dict(obj):
    return {k: serialize_keras_object(v) for k, v in obj.items()}


def _add_build_and_compile(obj, config):
    if hasattr(obj, "get_build_config"):
        try:
            bc = obj.get_build_config()
        except Exception:
            bc = None
        if bc is not None:
            config["build_config"] = serialize_dict(bc)
    cc = compile_config_of(obj)
    if cc:
        config["compile_config"] = serialize_dict(cc)


def compile_config_of(obj):
    """The model's compile arguments (Keras 3 `get_compile_config()`), or None."""
    fn = getattr(obj, "get_compile_config", None)
    if fn is None:
        return None
    try:
        cc = fn()
    except Exception:
        return None
    return cc or None


def _record_shared(obj, config):
    if _state.sharing is None:
        return
    id_to_config = _state.sharing[0]
    key = id(obj)
    if key not in id_to_config:
        id_to_config[key] = (obj, config)
    else:
        config["shared_object_id"] = key
        id_to_config[key][1]["shared_object_id"] = key


# ---------------------------------------------------------------------------------- deserialize
def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object a config describes (see the module docstring for what may be built).

    >>> deserialize_keras_object({"module": "keras.layers", "class_name": "Dense",
    ...                           "config": {"units": 3}, "registered_name": None})
    <Dense name=dense, built=False>
    """
    scoped = in_safe_mode()
    safe_mode = scoped if scoped is not None else safe_mode
    if _state.depth == 0 and isinstance(config, (dict, list)) and (safe_mode is None or
                                                                  safe_mode):
        scan_config(config, True)   # refuse bytecode anywhere before building anything
    _state.depth += 1
    try:
        return _deserialize(config, custom_objects, safe_mode, kwargs)
    finally:
        _state.depth -= 1


def _deserialize(config, custom_objects, safe_mode, kwargs):
    module_objects = kwargs.pop("module_objects", None)
    custom = {**(custom_objects or {}), **_reg.scoped_custom_objects(),
              **_reg.GLOBAL_CUSTOM_OBJECTS}
    if config is None:
        return None
    if isinstance(config, str):
        if config in custom:
            return custom[config]
        if module_objects and config in module_objects:
            obj = module_objects[config]
            return obj() if inspect.isclass(obj) else obj
        return config
    if isinstance(config, PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom, safe_mode) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom, safe_mode) for k, v in config.items()}

    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    special = _deserialize_special(class_name, inner, custom, safe_mode, config)
    if special is not _NOT_SPECIAL:
        return special
    module = config.get("module", _LEGACY)
    registered_name = config.get("registered_name", class_name)

    if class_name == "function":
        if not isinstance(inner, str):
            raise TypeError(f"Expected the 'config' of a function to be its name (a str); "
                            f"got {inner!r}. Full config: {config}")
        return _retrieve(inner, registered_name, module, "function", config, custom)
    if not isinstance(inner, dict):
        raise TypeError(f"Expected 'config' to be a dict for {class_name}; got "
                        f"{type(inner).__name__}. Full config: {config}")
    if "shared_object_id" in config and _state.sharing is not None:
        obj = _state.sharing[1].get(config["shared_object_id"])
        if obj is not None:
            return obj
    cls = _retrieve(class_name, registered_name, module, "class", config, custom)
    if isinstance(cls, types.FunctionType):
        return cls
    if not hasattr(cls, "from_config"):
        raise TypeError(f"Unable to reconstruct an instance of '{class_name}': the class has no "
                        f"from_config() method. Full config: {config}")
    with _reg.CustomObjectScope(custom), SafeModeScope(safe_mode):
        try:
            instance = cls.from_config(inner)
        except TypeError as e:
            raise TypeError(f"{class_name} could not be rebuilt from its config: {e}\n"
                            f"config={_short(config)}") from None
        build_config = config.get("build_config")
        if build_config and not getattr(instance, "built", True):
            if hasattr(instance, "build_from_config"):
                instance.build_from_config(build_config)
                instance.built = True
        compile_config = config.get("compile_config")
        if compile_config:
            compile_from_config(instance, compile_config)
    if "shared_object_id" in config and _state.sharing is not None:
        _state.sharing[1][config["shared_object_id"]] = instance
    return instance


_NOT_SPECIAL = object()
_LEGACY = object()  # a config without "module" (Keras 2 / tf.keras): built-in names only


def _deserialize_special(class_name, inner, custom, safe_mode, config):
    if class_name == "__keras_tensor__":
        from tenfold.keras.engine.keras_tensor import KerasTensor
        kt = KerasTensor(inner["shape"], dtype=inner["dtype"])
        kt._pre_serialization_keras_history = inner.get("keras_history")
        return kt
    if class_name in ("__tensor__", "__numpy__"):
        arr = np.array(inner["value"], dtype=_np_dtype(inner["dtype"]))
        if class_name == "__numpy__":
            return arr
        from tenfold.framework.tensor import convert_to_tensor
        return convert_to_tensor(arr)
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(deserialize_keras_object(inner.get(k), custom, safe_mode)
                       for k in ("start", "stop", "step")))
    if class_name == "__tuple__":
        return tuple(deserialize_keras_object(x, custom, safe_mode)
                     for x in inner.get("value", []))
    if class_name == "__lambda__":
        if safe_mode is None or safe_mode:
            raise UnsafeConfigError(_lambda_msg(None, "__lambda__", None))
        with SafeModeScope(False):
            value = inner.get("value", inner)
            if isinstance(value, dict):
                return func_load(value.get("code"), value.get("defaults"), value.get("closure"))
            return func_load(value)
    if class_name == "__typespec__":
        raise TypeError("Configs holding TensorFlow TypeSpecs are not supported by tenfold.")
    return _NOT_SPECIAL


def _np_dtype(name):
    if name == "bfloat16":
        import ml_dtypes
        return ml_dtypes.bfloat16
    return np.dtype(name)


def _retrieve(name, registered_name, module, kind, full_config, custom):
    """Resolves a name from a config to an object, without importing anything."""
    key = name if kind == "function" else registered_name
    for k in (key, name if kind == "class" else None):
        if k is not None and k in custom:
            return custom[k]
    for k in (name, registered_name):
        if isinstance(k, str) and ">" in k:
            # a registered function or class passed in custom_objects by its bare name
            bare = k.split(">", 1)[1]
            if bare in custom and callable(custom[bare]):
                return custom[bare]
    if kind == "class" and _operation_module(module):
        # a keras.ops call on symbolic tensors (Keras 3's operation node)
        from tenfold.keras.ops.operation_node import operation_class
        return operation_class(module, name)
    if kind == "class" and isinstance(module, str) and \
            module.startswith("keras.src.applications."):
        cls = _application_class(name, module)
        if cls is not None:
            return cls
    if module is _LEGACY or _is_keras_module(module) or module == "builtins" or module is None:
        if kind == "function":
            fn = _builtin_function(name)
            if fn is not None:
                return fn
            # Keras <= 3.6 wrote registered functions by bare name.
            for cname, cobj in custom.items():
                if isinstance(cname, str) and cname.endswith(f">{name}"):
                    return cobj
        elif module is not None:
            cls = _builtin_class(name, None if module is _LEGACY else module)
            if cls is not None:
                return cls
    what = "function" if kind == "function" else "class"
    if module is _LEGACY or module is None or _is_keras_module(module):
        origin = ""
    else:
        origin = (f" The file says it comes from module '{module}'; tenfold never imports "
                  "modules named in a file.")
    close = _close_registered_names(key if isinstance(key, str) else name, custom)
    if close:
        origin += f" Registered names close to it: {', '.join(close)}."
    raise TypeError(
        f"Could not locate {what} '{name}'.{origin} Make sure custom classes and functions are "
        "decorated with `@keras.saving.register_keras_serializable()` (and imported before "
        "loading), or pass them as `custom_objects={'" + str(name) + "': ...}`. "
        f"Full object config: {_short(full_config)}")


def _close_registered_names(name, custom):
    """Registered or passed names that look like `name` (a typo, another package prefix)."""
    if not isinstance(name, str):
        return []
    names = [k for k in custom if isinstance(k, str)]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
    bare = name.split(">")[-1]
    close += [k for k in names if k.split(">")[-1] == bare and k not in close]
    close += [k for k in difflib.get_close_matches(bare, names, n=5, cutoff=0.6)
              if k not in close]
    return close[:5]


def _short(config, limit=600):
    s = repr(config)
    return s if len(s) <= limit else s[:limit] + " ...}"


def compile_from_config(model, compile_config):
    """Compiles `model` with a saved compile config (Keras 3's `compile_from_config`)."""
    if hasattr(model, "compile_from_config"):
        model.compile_from_config(compile_config)
        return
    if not hasattr(model, "compile"):
        return
    cfg = deserialize_keras_object(compile_config)
    import inspect as _inspect
    params = _inspect.signature(model.compile).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        cfg = {k: v for k, v in cfg.items() if k in params}
    model.compile(**cfg)
    opt = getattr(model, "optimizer", None)
    if opt is not None and getattr(model, "built", False) and hasattr(opt, "build"):
        try:
            opt.build(model.trainable_variables)
        except Exception:
            pass
