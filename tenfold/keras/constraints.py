"""`keras.constraints`: projections applied to weights after each optimizer update
(`kernel_constraint=MaxNorm(2)`); the optimizer calls `variable.constraint(variable)`."""
from tenfold.ops import math_ops as m
from tenfold.ops._convert import tensor


def _eps():
    from tenfold.keras import backend
    return backend.epsilon()


def _norms(w, axis):
    return m.sqrt(m.reduce_sum(m.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: `__call__(w)` returns the projected weight."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Rescales each slice along `axis` whose L2 norm exceeds `max_value`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = tensor(w)
        norms = _norms(w, self.axis)
        desired = m.clip_by_value(norms, 0, self.max_value)
        return m.multiply(w, m.divide(desired, m.add(norms, _eps())))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        w = tensor(w)
        return m.multiply(w, m.cast(m.greater_equal(w, 0.0), w.dtype))


class UnitNorm(Constraint):
    """Scales each slice along `axis` to unit L2 norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = tensor(w)
        return m.divide(w, m.add(_norms(w, self.axis), _eps()))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Keeps each slice's L2 norm within [min_value, max_value], moving it by `rate`."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = tensor(w)
        norms = _norms(w, self.axis)
        desired = m.add(m.multiply(m.clip_by_value(norms, self.min_value, self.max_value),
                                   self.rate), m.multiply(norms, 1.0 - self.rate))
        return m.multiply(w, m.divide(desired, m.add(norms, _eps())))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_BY_NAME = {"Constraint": Constraint, "MaxNorm": MaxNorm, "NonNeg": NonNeg,
            "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm, "max_norm": MaxNorm,
            "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm}


def serialize(constraint):
    if constraint is None:
        return None
    if isinstance(constraint, Constraint):
        cls = type(constraint)
        builtin = _BY_NAME.get(cls.__name__) is cls
        return {"module": "keras.constraints" if builtin else cls.__module__,
                "class_name": cls.__name__, "config": constraint.get_config(),
                "registered_name": None if builtin else cls.__name__}
    if isinstance(constraint, str):
        return constraint
    return getattr(constraint, "__name__", repr(constraint))


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return get(config, custom_objects)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Cannot deserialize constraint from {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        try:
            from tenfold.keras.saving import get_registered_object
            cls = get_registered_object(config.get("registered_name") or name)
        except Exception:
            cls = None
    if cls is None:
        raise ValueError(f"Unknown constraint: {name!r}. Known: MaxNorm, NonNeg, UnitNorm, "
                         "MinMaxNorm (or pass custom_objects).")
    cfg = config.get("config") or {}
    return cls.from_config(cfg) if hasattr(cls, "from_config") else cls(**cfg)


def get(identifier, custom_objects=None):
    """A constraint from None, a name ('non_neg'), a config dict, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects)
    if isinstance(identifier, str):
        cls = (custom_objects or {}).get(identifier) or _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown constraint: {identifier!r}. Known names: 'max_norm', "
                             "'non_neg', 'unit_norm', 'min_max_norm'.")
        return cls()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret constraint identifier: {identifier!r}")
