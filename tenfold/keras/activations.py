"""`keras.activations`: elementwise activation functions, by function or by name.

    activations.get("relu")(x)         # same as activations.relu(x)
    Dense(10, activation="softmax")
"""
import numpy as np

from tenfold.ops import math_ops as m
from tenfold.ops import nn_ops as nn
from tenfold.ops._convert import tensor


def _x(x):
    return tensor(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0), with optional leak below `threshold`, and a cap at `max_value`."""
    x = _x(x)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return nn.relu(x)
    if threshold != 0.0:
        out = m.where(m.greater(x, threshold), x, m.zeros_like(x))
    else:
        out = nn.relu(x)
    if negative_slope != 0.0:
        below = m.where(m.less(x, threshold), m.multiply(m.subtract(x, threshold),
                                                         negative_slope), m.zeros_like(x))
        out = m.add(out, below)
    if max_value is not None:
        out = m.minimum(out, max_value)
    return out


def leaky_relu(x, negative_slope=0.2):
    return nn.leaky_relu(_x(x), alpha=negative_slope)


def relu6(x):
    return nn.relu6(_x(x))


def softmax(x, axis=-1):
    x = _x(x)
    if x.ndim == 0:
        raise ValueError("softmax needs an input of rank >= 1 (the axis to normalise over); "
                         "got a scalar.")
    out = nn.softmax(x, axis=axis)
    from tenfold.keras.ops import _logits
    return _logits.tag(out, x)  # crossentropies use these logits, as in Keras


def log_softmax(x, axis=-1):
    return nn.log_softmax(_x(x), axis=axis)


def elu(x, alpha=1.0):
    x = _x(x)
    if alpha == 1.0:
        return nn.elu(x)
    return m.where(m.greater(x, 0), x, m.multiply(m.expm1(m.minimum(x, 0)), alpha))


def selu(x):
    return nn.selu(_x(x))


def celu(x, alpha=1.0):
    x = _x(x)
    return m.add(nn.relu(x), m.multiply(m.expm1(m.divide(m.minimum(x, 0), alpha)), alpha))


def softplus(x):
    return m.softplus(_x(x))


def softsign(x):
    return nn.softsign(_x(x))


def silu(x):
    return nn.silu(_x(x))


swish = silu


def gelu(x, approximate=False):
    return nn.gelu(_x(x), approximate=approximate)


def glu(x, axis=-1):
    from tenfold.ops import array_ops as a
    x = _x(x)
    x1, x2 = a.split(x, 2, axis=axis)
    return m.multiply(x1, m.sigmoid(x2))


def tanh(x):
    return m.tanh(_x(x))


def sigmoid(x):
    x = _x(x)
    from tenfold.keras.ops import _logits
    return _logits.tag(m.sigmoid(x), x)  # crossentropies use these logits, as in Keras


def exponential(x):
    return m.exp(_x(x))


def hard_sigmoid(x):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between (Keras 3's definition)."""
    x = _x(x)
    return m.divide(nn.relu6(m.add(x, 3.0)), 6.0)


def hard_silu(x):
    x = _x(x)
    return m.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def hard_tanh(x):
    return m.clip_by_value(_x(x), -1.0, 1.0)


def linear(x):
    return x


def mish(x):
    x = _x(x)
    return m.multiply(x, m.tanh(m.softplus(x)))


def log_sigmoid(x):
    x = _x(x)
    return m.negative(m.softplus(m.negative(x)))


def tanh_shrink(x):
    x = _x(x)
    return m.subtract(x, m.tanh(x))


def squareplus(x, b=4):
    x = _x(x)
    return m.divide(m.add(x, m.sqrt(m.add(m.square(x), float(b)))), 2.0)


def soft_shrink(x, threshold=0.5):
    x = _x(x)
    return m.where(m.greater(x, threshold), m.subtract(x, threshold),
                   m.where(m.less(x, -threshold), m.add(x, threshold), m.zeros_like(x)))


def hard_shrink(x, threshold=0.5):
    x = _x(x)
    return m.where(m.greater(m.abs(x), threshold), x, m.zeros_like(x))


def threshold(x, threshold, default_value):
    x = _x(x)
    return m.where(m.greater(x, threshold), x, m.multiply(m.ones_like(x), default_value))


def sparse_plus(x):
    x = _x(x)
    mid = m.divide(m.square(m.add(x, 1.0)), 4.0)
    return m.where(m.less_equal(x, -1.0), m.zeros_like(x),
                   m.where(m.greater_equal(x, 1.0), x, mid))


def sparse_sigmoid(x):
    x = _x(x)
    return m.clip_by_value(m.multiply(m.add(x, 1.0), 0.5), 0.0, 1.0)


_ALL = {f.__name__: f for f in (
    relu, leaky_relu, relu6, softmax, log_softmax, elu, selu, celu, softplus, softsign, silu,
    gelu, glu, tanh, sigmoid, exponential, hard_sigmoid, hard_silu, hard_tanh, linear, mish,
    log_sigmoid, tanh_shrink, squareplus, soft_shrink, hard_shrink, sparse_plus,
    sparse_sigmoid)}
_ALIASES = {"swish": silu, "hard_swish": hard_silu}


def serialize(activation):
    """The name of a built-in activation ('relu'); a custom callable's name otherwise."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    for name, fn in _ALL.items():
        if activation is fn:
            return name
    if hasattr(activation, "get_config"):  # an activation layer used as the activation
        from tenfold.keras.layers import serialize as _ser_layer
        return _ser_layer(activation)
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize activation {activation!r}: give it a __name__ or "
                         "register it with keras.saving.register_keras_serializable.")
    from tenfold.keras.saving.serialization_lib import serialize_keras_object
    return serialize_keras_object(activation)


def deserialize(config, custom_objects=None):
    if isinstance(config, dict):
        if config.get("class_name") == "function":
            return get(config.get("config"), custom_objects)
        from tenfold.keras.layers import deserialize as _deser_layer
        return _deser_layer(config, custom_objects)
    return get(config, custom_objects)


def _registered_by_bare_name(name):
    """Files from Keras <= 3.6 name registered functions without their package: the one
    registered function whose name ends with `>name`, if exactly one does."""
    from tenfold.keras.saving.object_registration import GLOBAL_CUSTOM_OBJECTS
    found = [obj for key, obj in GLOBAL_CUSTOM_OBJECTS.items()
             if key.endswith(f">{name}") and callable(obj)]
    return found[0] if len(found) == 1 else None


def _passed_by_bare_name(bare, custom_objects):
    """A registered activation (`package>name` in the file) passed in `custom_objects` or a
    `custom_object_scope` under its bare name."""
    from tenfold.keras.saving.object_registration import scoped_custom_objects
    for table in (custom_objects or {}, scoped_custom_objects()):
        if bare in table and callable(table[bare]):
            return table[bare]
    return None


def _close_registered(name):
    import difflib
    from tenfold.keras.saving.object_registration import GLOBAL_CUSTOM_OBJECTS
    close = difflib.get_close_matches(name, list(GLOBAL_CUSTOM_OBJECTS), n=5, cutoff=0.6)
    close += [k for k in GLOBAL_CUSTOM_OBJECTS
              if k.split(">")[-1] == name.split(">")[-1] and k not in close]
    return f" Registered names close to it: {', '.join(close[:5])}." if close else ""


def get(identifier, custom_objects=None):
    """An activation function from None (linear), a name, a config or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if custom_objects and identifier in custom_objects:
            return custom_objects[identifier]
        fn = _ALL.get(identifier) or _ALIASES.get(identifier)
        if fn is None:
            try:
                from tenfold.keras.saving import get_registered_object
                fn = get_registered_object(identifier)
            except Exception:
                fn = None
        if fn is None and ">" in identifier:
            fn = _passed_by_bare_name(identifier.split(">", 1)[1], custom_objects)
        if fn is None:
            fn = _registered_by_bare_name(identifier)
        if fn is None:
            from tenfold.keras.engine.name_checks import closest
            names = sorted(list(_ALL) + list(_ALIASES))
            raise ValueError(f"Unknown activation function: {identifier!r}."
                             f"{closest(identifier, names)} Known names: {', '.join(names)}."
                             + _close_registered(identifier))
        return fn
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


_ = np
