"""`keras.regularizers`: penalties on weights added to the loss (`kernel_regularizer='l2'`).

A regularizer is called on a weight and returns a scalar tensor; layers collect them in
`layer.losses`.
"""
from tenfold.keras import _identifiers as _ids
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops._convert import tensor


def _check(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if value != value or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value}")
    return value


class Regularizer:
    """Base class: `__call__(x)` returns a scalar penalty."""

    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1(Regularizer):
    """l1 * sum(|x|)."""

    def __init__(self, l1=0.01):
        self.l1 = _check("L1: l1", 0.01 if l1 is None else l1)

    def __call__(self, x):
        return m.multiply(m.reduce_sum(m.abs(tensor(x))), self.l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 * sum(x**2) (no factor 1/2, as Keras)."""

    def __init__(self, l2=0.01):
        self.l2 = _check("L2: l2", 0.01 if l2 is None else l2)

    def __call__(self, x):
        return m.multiply(m.reduce_sum(m.square(tensor(x))), self.l2)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x**2)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check("L1L2: l1", 0.0 if l1 is None else l1)
        self.l2 = _check("L1L2: l2", 0.0 if l2 is None else l2)

    def __call__(self, x):
        x = tensor(x)
        out = None
        if self.l1:
            out = m.multiply(m.reduce_sum(m.abs(x)), self.l1)
        if self.l2:
            t = m.multiply(m.reduce_sum(m.square(x)), self.l2)
            out = t if out is None else m.add(out, t)
        if out is None:
            out = m.multiply(m.reduce_sum(x), 0.0)
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D kernel to be orthonormal: `factor` times the mean
    absolute off-diagonal cosine similarity between them."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _check("OrthogonalRegularizer: factor", factor)
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got "
                             f"{mode!r}")
        self.mode = mode

    def __call__(self, x):
        x = tensor(x)
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer needs a 2-D weight, got shape "
                             f"{tuple(x.shape)}")
        if self.mode == "columns":
            x = a.transpose(x)
        sq = m.reduce_sum(m.square(x), axis=1, keepdims=True)
        xn = m.multiply(x, m.rsqrt(m.maximum(sq, 1e-12)))
        prod = m.matmul(xn, xn, transpose_b=True)
        n = int(x.shape[0])
        eye = a.eye(n, dtype=x.dtype)
        size = n * n - n
        return m.multiply(m.reduce_sum(m.abs(m.multiply(prod, m.subtract(1.0, eye)))),
                          self.factor / max(size, 1))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1=l1, l2=l2)


l1 = L1
l2 = L2
orthogonal_regularizer = OrthogonalRegularizer

_BY_NAME = {"L1": L1, "L2": L2, "L1L2": L1L2, "OrthogonalRegularizer": OrthogonalRegularizer,
            "Regularizer": Regularizer, "l1": L1, "l2": L2, "l1_l2": l1_l2,
            "orthogonal_regularizer": OrthogonalRegularizer}


def serialize(regularizer):
    return _ids.serialize_instance_or_name(regularizer, Regularizer, "keras.regularizers",
                                           _BY_NAME)


def deserialize(config, custom_objects=None):
    return _ids.deserialize_class(config, custom_objects, kind="regularizer", known=_BY_NAME,
                                  get=get, unknown=_unknown_class)


def get(identifier, custom_objects=None):
    """A regularizer from None, a name ('l2'), a config dict, an instance or a callable."""
    return _ids.get_instance(identifier, custom_objects, kind="regularizer", base=Regularizer,
                             known=_BY_NAME, deserialize=deserialize, unknown=_unknown_name)


def _unknown_class(name):
    return (f"Unknown regularizer: {name!r}. Known: L1, L2, L1L2, OrthogonalRegularizer "
            "(or pass custom_objects).")


def _unknown_name(name):
    return (f"Unknown regularizer: {name!r}. Known names: 'l1', 'l2', 'l1_l2', "
            "'orthogonal_regularizer'.")
