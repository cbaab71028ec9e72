"""`keras.constraints`: projections applied to weights after each optimizer update
(`kernel_constraint=MaxNorm(2)`); the optimizer calls `variable.constraint(variable)`."""
from tenfold.keras import _identifiers as _ids
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
    return _ids.serialize_instance_or_name(constraint, Constraint, "keras.constraints",
                                           _BY_NAME)


def deserialize(config, custom_objects=None):
    return _ids.deserialize_class(config, custom_objects, kind="constraint", known=_BY_NAME,
                                  get=get, unknown=_unknown_class)


def get(identifier, custom_objects=None):
    """A constraint from None, a name ('non_neg'), a config dict, an instance or a callable."""
    return _ids.get_instance(identifier, custom_objects, kind="constraint", base=Constraint,
                             known=_BY_NAME, deserialize=deserialize, unknown=_unknown_name)


def _unknown_class(name):
    return (f"Unknown constraint: {name!r}. Known: MaxNorm, NonNeg, UnitNorm, MinMaxNorm "
            "(or pass custom_objects).")


def _unknown_name(name):
    return (f"Unknown constraint: {name!r}. Known names: 'max_norm', 'non_neg', 'unit_norm', "
            "'min_max_norm'.")
