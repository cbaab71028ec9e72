"""DType: TensorFlow's dtype objects over NumPy dtypes (bfloat16 from ml_dtypes)."""
import builtins

import numpy as np
import ml_dtypes


class DType:
    """A tensor element type. Compares equal to its name, to NumPy dtypes and to NumPy types."""

    __slots__ = ("name", "as_numpy_dtype", "_np")

    def __init__(self, name, np_dtype):
        self.name = name
        self._np = np.dtype(np_dtype)
        self.as_numpy_dtype = self._np.type

    # --- kind predicates (TensorFlow's names) ---
    @property
    def is_floating(self):
        return self._np.kind == "f" or self._np == _BF16

    @property
    def is_integer(self):
        return self._np.kind in "iu"

    @property
    def is_unsigned(self):
        return self._np.kind == "u"

    @property
    def is_bool(self):
        return self._np.kind == "b"

    @property
    def is_complex(self):
        return self._np.kind == "c"

    @property
    def is_numeric(self):
        return not self.is_bool and self.name != "string"

    @property
    def size(self):
        return self._np.itemsize

    @property
    def itemsize(self):
        return self._np.itemsize

    @property
    def base_dtype(self):
        return self

    @property
    def real_dtype(self):
        if self.is_complex:
            return float32 if self is complex64 else float64
        return self

    @property
    def min(self):
        if self.is_floating:
            return float(ml_dtypes.finfo(self._np).min)
        if self.is_bool:
            return False
        return int(np.iinfo(self._np).min)

    @property
    def max(self):
        if self.is_floating:
            return float(ml_dtypes.finfo(self._np).max)
        if self.is_bool:
            return True
        return int(np.iinfo(self._np).max)

    def is_compatible_with(self, other):
        return self == other

    def __eq__(self, other):
        if other is self:
            return True
        if other is None:
            return False
        try:
            return self._np == as_dtype(other)._np
        except (TypeError, ValueError):
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"tf.{self.name}"

    def __str__(self):
        return f"<dtype: '{self.name}'>"

    def __reduce__(self):
        return as_dtype, (self.name,)


_BF16 = np.dtype(ml_dtypes.bfloat16)

float16 = half = DType("float16", np.float16)
bfloat16 = DType("bfloat16", _BF16)
float32 = DType("float32", np.float32)
float64 = double = DType("float64", np.float64)
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
uint16 = DType("uint16", np.uint16)
uint32 = DType("uint32", np.uint32)
uint64 = DType("uint64", np.uint64)
bool = DType("bool", np.bool_)  # noqa: A001 - TensorFlow's name
complex64 = DType("complex64", np.complex64)
complex128 = DType("complex128", np.complex128)
string = DType("string", np.object_)

ALL = (float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32,
       uint64, bool, complex64, complex128, string)
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"half": float16, "double": float64, "float": float32, "int": int32,
                 "bool_": bool, "object": string, "str": string})
_BY_NP = {d._np: d for d in ALL}


def from_numpy(np_dtype):
    """The DType of a NumPy dtype (fast path used by Tensor.dtype)."""
    d = _BY_NP.get(np_dtype)
    if d is None:
        if np_dtype.kind in "US":
            return string
        raise TypeError(f"NumPy dtype {np_dtype} has no tenfold dtype; use one of "
                        f"{', '.join(x.name for x in ALL)}")
    return d


def as_dtype(value):
    """Converts a DType, name, NumPy dtype or NumPy/Python type to a DType (`tf.as_dtype`)."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        d = _BY_NAME.get(value)
        if d is None:
            raise TypeError(f"Unknown dtype {value!r}; expected one of "
                            f"{', '.join(x.name for x in ALL)}")
        return d
    if value is float:
        return float32
    if value is int:
        return int32
    if value is builtins.bool:
        return bool
    dt = getattr(value, "dtype", None)  # a Tensor, array or policy-like object
    if isinstance(dt, DType):
        return dt
    try:
        return from_numpy(np.dtype(value))
    except TypeError as e:
        raise TypeError(f"Cannot convert {value!r} to a dtype: {e}") from None
