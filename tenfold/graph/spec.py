"""TensorSpec: the shape and dtype a tf.function argument must have (`tf.TensorSpec`).

A `None` dimension accepts any size; a shape of `None` accepts any rank.

>>> spec = TensorSpec([None, 10], "float32")
>>> spec.is_compatible_with(tf.zeros([3, 10]))
True
"""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.tensor_shape import TensorShape, as_shape


class TypeSpec:
    """Base class of value specs (`tf.TypeSpec`)."""


class TensorSpec(TypeSpec):
    """Describes a tensor: `TensorSpec(shape, dtype=tf.float32, name=None)`."""

    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self._shape = as_shape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self._name = name

    @property
    def shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def name(self):
        return self._name

    @classmethod
    def from_tensor(cls, tensor, name=None):
        if isinstance(tensor, Tensor):
            return cls(tensor._value.shape, dtypes.from_numpy(tensor._value.dtype), name)
        a = np.asarray(tensor)
        return cls(a.shape, dtypes.from_numpy(a.dtype), name)

    @classmethod
    def from_spec(cls, spec, name=None):
        return cls(spec.shape, spec.dtype, name if name is not None else spec.name)

    def is_compatible_with(self, other):
        """True if `other` (a spec, tensor or array) fits this spec's dtype and shape."""
        if isinstance(other, TensorSpec):
            shape, dtype = other._shape, other._dtype
        elif isinstance(other, Tensor):
            shape, dtype = TensorShape(other._value.shape), dtypes.from_numpy(other._value.dtype)
        else:
            a = np.asarray(other)
            shape, dtype = TensorShape(a.shape), dtypes.from_numpy(a.dtype)
        return dtype == self._dtype and self._shape.is_compatible_with(shape)

    def is_subtype_of(self, other):
        if not isinstance(other, TensorSpec) or other._dtype != self._dtype:
            return False
        if other._shape._dims is None:
            return True
        if self._shape._dims is None or len(self._shape._dims) != len(other._shape._dims):
            return False
        return all(b is None or a == b for a, b in zip(self._shape._dims, other._shape._dims))

    def most_specific_common_supertype(self, others):
        """The narrowest spec that every one of `self` and `others` fits (None if dtypes differ)."""
        dims = self._shape._dims
        for o in others:
            if not isinstance(o, TensorSpec) or o._dtype != self._dtype:
                return None
            od = o._shape._dims
            if dims is None or od is None or len(dims) != len(od):
                dims = None
            else:
                dims = tuple(a if a == b else None for a, b in zip(dims, od))
        return TensorSpec(TensorShape(dims), self._dtype)

    def _without_name(self):
        return (self._shape._dims, self._dtype.name)

    def __eq__(self, other):
        return (type(other) is type(self) and self._shape == other._shape
                and self._dtype == other._dtype and self._name == other._name)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((self._shape._dims, self._dtype.name, self._name))

    def __repr__(self):
        shape = "None" if self._shape._dims is None else str(self._shape)
        return f"TensorSpec(shape={shape}, dtype=tf.{self._dtype.name}, name={self._name!r})"

    def __reduce__(self):
        return TensorSpec, (self._shape._dims, self._dtype.name, self._name)


def describe_shape(dims):
    """`(32, 10)` for a shape tuple, as the messages show it."""
    if dims is None:
        return "<unknown rank>"
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join("None" if d is None else str(d) for d in dims) + ")"
