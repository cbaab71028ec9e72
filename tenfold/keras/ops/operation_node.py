"""Keras 3 operation nodes: `keras.ops` calls on symbolic tensors inside a functional model.

Keras 3 keeps `x + 3.0`, `ops.hard_sigmoid(x)` or `x[:, 1:3]` on KerasTensors as an
`Operation` in the model's graph and saves it among the layers of the functional config:

    {"module": "keras.src.ops.numpy", "class_name": "Add", "config": {"name": "add"},
     "inbound_nodes": [{"args": [<keras tensor>, 3.0], "kwargs": {}}]}

`config` holds the operation's name and its constructor arguments (`Sum`: axis, keepdims;
`Reshape`: newshape), the node its call arguments. MobileNetV3 (hard sigmoid / hard swish)
and ConvNeXt files are full of them. Here each becomes an `OperationLayer` running the
`tenfold.keras.ops` function of the same name (class `HardSigmoid` -> `hard_sigmoid`, looked
up in the family the module names, then in the others) with the constructor arguments as
keywords, and it is saved back in Keras's form. An operation tenfold has no function for is
refused with its name (`unknown_operation_error`).

The other way, a `tenfold.keras.ops` call on symbolic tensors becomes such a node too
(`keras_operation_call`), with Keras's class and Keras's split of the arguments between the
operation's config and its call (the generated table `_keras_operations.TABLE`), so files
tenfold saves load in Keras and in tenfold.
"""
import inspect

from tenfold.keras.layers.layer import Layer

_FAMILIES = ("numpy", "nn", "core", "math", "linalg", "image")
_PREFIXES = ("keras.src.ops.", "keras.ops.")


def is_operation_module(module):
    """True for the module of a Keras 3 operation class (`keras.src.ops.numpy`, ...)."""
    return isinstance(module, str) and any(module.startswith(p) for p in _PREFIXES)


def _family_modules(module):
    import importlib
    family = module.rsplit(".", 1)[-1]
    order = [family] + [f for f in _FAMILIES if f != family] if family in _FAMILIES \
        else list(_FAMILIES)
    importlib.import_module("tenfold.keras.ops")  # wraps the functions for symbolic calls
    return [importlib.import_module(f"tenfold.keras.ops.{f}") for f in order]


def _key(name):
    return name.replace("_", "").lower()


# Keras operation classes whose name is not their function's
_ALIASES = {"BatchNorm": "batch_normalization", "LayerNorm": "layer_normalization",
            "RMSNorm": "rms_normalization"}


def find_operation(module, class_name):
    """The tenfold.keras.ops function for Keras's operation `class_name` of `module`, or
    None. Names match without case and underscores (`GetItem` is `get_item`)."""
    if not isinstance(class_name, str) or not class_name.isidentifier():
        return None
    key = _key(_ALIASES.get(class_name, class_name))
    for mod in _family_modules(module):
        for name, obj in vars(mod).items():
            if name.startswith("_") or not callable(obj) or isinstance(obj, type):
                continue
            if _key(name) == key and getattr(obj, "__module__", "").startswith("tenfold."):
                return obj
    return None


def unknown_operation_error(module, class_name):
    return ValueError(
        f"The model uses the Keras operation '{class_name}' (module '{module}'), a keras.ops "
        f"function called on symbolic tensors, and tenfold has no keras.ops function for it. "
        f"Rebuild that part with layers tenfold has (or a custom layer registered with "
        f"keras.saving.register_keras_serializable) and save the model again.")


def _parameters(fn):
    target = getattr(fn, "__wrapped_op__", fn)
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return None, True
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
    return set(params), var_kw


class OperationLayer(Layer):
    """One Keras operation node of a functional model: calls `fn(*args, **op_config,
    **kwargs)` (see the module docstring)."""

    def __init__(self, fn, op_module, op_class, op_config=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._fn = fn
        self._op_module = op_module
        self._op_class = op_class
        self._op_config = dict(op_config or {})
        names, var_kw = _parameters(fn)
        self._accepts = None if var_kw or names is None else names
        if self._accepts is not None:
            bad = sorted(k for k in self._op_config if k not in self._accepts)
            if bad:
                raise ValueError(
                    f"Keras operation '{op_class}' (layer \"{self.name}\"): its config has "
                    f"{bad}, which tenfold's keras.ops.{getattr(fn, '__name__', op_class)} "
                    f"does not take (it takes {sorted(self._accepts)}).")

    # the public name Keras saves this node under (see serialization_lib)
    @property
    def _keras_public_name(self):
        return self._op_module, self._op_class

    def _convert_inputs(self, x):
        return x  # the op applies its own dtype rules

    def __call__(self, *args, **kwargs):
        from tenfold.keras.engine.keras_tensor import KerasTensor
        from tenfold.util import nest
        if args and not isinstance(args[0], KerasTensor) and \
                any(isinstance(x, KerasTensor) for x in nest.flatten((list(args), kwargs))):
            # a constant first argument (`1.0 - x`): still a symbolic call
            from tenfold.keras.engine.symbolic import symbolic_call
            return symbolic_call(self, args, kwargs)
        return super().__call__(*args, **kwargs)

    def call(self, *args, **kwargs):
        if self._accepts is not None:  # training= / mask= given to every layer
            kwargs = {k: v for k, v in kwargs.items() if k in self._accepts}
        positional, config = self._arranged(args)
        return self._fn(*positional, **config, **kwargs)

    def _arranged(self, args):
        """The function's positional arguments in its own order: the node's call arguments
        with the config's values in between where the function takes them positionally
        (`einsum(subscripts, *operands)` from Keras's `Einsum(subscripts)(*operands)`)."""
        config = dict(self._op_config)
        try:
            params = inspect.signature(getattr(self._fn, "__wrapped_op__", self._fn)).parameters
        except (TypeError, ValueError):
            return args, config
        positional, rest = [], list(args)
        for p in params.values():
            if p.kind == p.VAR_POSITIONAL:
                positional.extend(rest)
                rest = []
                break
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                break
            if p.name in config and rest:
                positional.append(config.pop(p.name))
            elif rest:
                positional.append(rest.pop(0))
            else:
                break
        return positional + rest, config

    def get_config(self):
        return {"name": self.name, **self._op_config}

    @classmethod
    def from_config(cls, config):
        raise TypeError("OperationLayer is rebuilt through operation_class(module, name).")


def operation_class(module, class_name):
    """A class-like object whose `from_config` builds the OperationLayer for Keras's
    operation `class_name` of `module`; raises the clear error when tenfold lacks it."""
    fn = find_operation(module, class_name)
    if fn is None:
        raise unknown_operation_error(module, class_name)

    class _Operation:
        @staticmethod
        def from_config(config):
            config = dict(config)
            name = config.pop("name", None)
            return OperationLayer(fn, module, class_name, config, name=name)

    _Operation.__name__ = class_name
    return _Operation


def keras_operation_call(fn, args, kwargs):
    """(OperationLayer, call args) for `fn(*args, **kwargs)` on symbolic tensors as Keras
    records it, or None when Keras has no such operation or splits the arguments another
    way (the caller then keeps a plain op layer)."""
    from tenfold.keras.engine.keras_tensor import KerasTensor
    from tenfold.keras.layers.layer import unique_name
    from tenfold.keras.ops._keras_operations import TABLE
    from tenfold.util import nest
    entry = TABLE.get(getattr(fn, "__name__", None))
    if entry is None:
        return None
    module, class_name, call_params, init_params = entry
    try:
        sig = inspect.signature(fn)
        bound = sig.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    bound.apply_defaults()
    variadic = {p.name for p in sig.parameters.values() if p.kind == p.VAR_POSITIONAL}
    if any(p.kind == p.VAR_KEYWORD and bound.arguments.get(p.name)
           for p in sig.parameters.values()):
        return None
    config = {}
    for name, value in bound.arguments.items():
        if name in variadic:  # `*operands`: Keras's call must take them the same way
            if "*" + name not in call_params:
                return None
            continue
        if name in call_params or sig.parameters[name].kind == inspect.Parameter.VAR_KEYWORD:
            continue
        if name not in init_params or \
                any(isinstance(v, KerasTensor) for v in nest.flatten(value)):
            return None
        config[name] = list(value) if isinstance(value, tuple) else value
    call_args, gap = [], False
    for name in call_params:
        if name.startswith("*"):
            call_args.extend(bound.arguments.get(name[1:], ()))
        elif name in bound.arguments:
            if gap:  # a later call argument after a missing one: not positional in Keras
                return None
            call_args.append(bound.arguments[name])
        else:
            gap = True
    layer = OperationLayer(fn, module, class_name, config, name=unique_name(fn.__name__))
    return layer, call_args
