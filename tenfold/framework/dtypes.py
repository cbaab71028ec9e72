"""DType: TensorFlow's dtype objects over NumPy dtypes (bfloat16 from ml_dtypes, loaded lazily:
importing ml_dtypes costs more than the rest of this module, and most programs never need it)."""
import builtins

import numpy as np


class DType:
    """A tensor element type. Compares equal to its name, to NumPy dtypes and to NumPy types."""

    __slots__ = ("name", "as_numpy_dtype", "_np", "_enum")

    def __init__(self, name, np_dtype, enum=0):
        self.name = name
        self._np = np.dtype(np_dtype)
        self.as_numpy_dtype = self._np.type
        self._enum = enum

    # --- kind predicates (TensorFlow's names) ---
    @property
    def is_floating(self):
        return self.name == "bfloat16" or self._np.kind == "f"

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
    def is_quantized(self):
        return False

    @property
    def is_numpy_compatible(self):
        return True

    @property
    def as_datatype_enum(self):
        """TensorFlow's DataType enum value (float32 = 1, ...)."""
        return self._enum

    @property
    def limits(self):
        return (self.min, self.max)

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
            return np.asarray(_finfo(self._np).min, dtype=self._np)[()]  # np scalar, as TF
        if self.is_bool:
            return False
        if self.is_complex or self.name == "string":
            raise TypeError(f"Cannot find minimum value of {self.name}.")
        return int(np.iinfo(self._np).min)

    @property
    def max(self):
        if self.is_floating:
            return np.asarray(_finfo(self._np).max, dtype=self._np)[()]  # np scalar, as TF
        if self.is_bool:
            return True
        if self.is_complex or self.name == "string":
            raise TypeError(f"Cannot find maximum value of {self.name}.")
        return int(np.iinfo(self._np).max)

    def is_compatible_with(self, other):
        try:
            return self == as_dtype(other)
        except TypeError:
            return False

    def __eq__(self, other):
        if other is self:
            return True
        if other is None:
            return False
        try:
            return self.name == as_dtype(other).name
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


def _bf16_numpy():
    """NumPy's bfloat16 dtype (imports ml_dtypes on first use) and registers it."""
    np_dt = _lazy.get("bf16")
    if np_dt is None:
        import ml_dtypes
        np_dt = _lazy["bf16"] = np.dtype(ml_dtypes.bfloat16)
        _BY_NP[np_dt] = bfloat16
    return np_dt


_lazy = {}


def _finfo(np_dtype):
    if np_dtype.kind == "f":
        return np.finfo(np_dtype)
    import ml_dtypes
    return ml_dtypes.finfo(np_dtype)


class _LazyBFloat16(DType):
    """bfloat16, whose NumPy dtype comes from ml_dtypes: resolved on first use."""
    __slots__ = ()

    def __init__(self):
        self.name = "bfloat16"
        self._enum = 14

    @property
    def _np(self):
        return _bf16_numpy()

    @property
    def as_numpy_dtype(self):
        return _bf16_numpy().type


float16 = half = DType("float16", np.float16, 19)
bfloat16 = _LazyBFloat16()
float32 = DType("float32", np.float32, 1)
float64 = double = DType("float64", np.float64, 2)
int8 = DType("int8", np.int8, 6)
int16 = DType("int16", np.int16, 5)
int32 = DType("int32", np.int32, 3)
int64 = DType("int64", np.int64, 9)
uint8 = DType("uint8", np.uint8, 4)
uint16 = DType("uint16", np.uint16, 17)
uint32 = DType("uint32", np.uint32, 22)
uint64 = DType("uint64", np.uint64, 23)
bool = DType("bool", np.bool_, 10)  # noqa: A001 - TensorFlow's name
complex64 = DType("complex64", np.complex64, 8)
complex128 = DType("complex128", np.complex128, 18)
string = DType("string", np.object_, 7)

ALL = (float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32,
       uint64, bool, complex64, complex128, string)
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"half": float16, "double": float64, "float": float32, "int": int32,
                 "bool_": bool, "object": string, "str": string})
_BY_NP = {d._np: d for d in ALL if d is not bfloat16}
_BY_ENUM = {d._enum: d for d in ALL}


def is_float_np(np_dtype):
    """True for NumPy float dtypes, bfloat16 included (without importing ml_dtypes)."""
    return np_dtype.kind == "f" or np_dtype.name == "bfloat16"


def from_numpy(np_dtype):
    """The DType of a NumPy dtype (fast path used by Tensor.dtype)."""
    d = _BY_NP.get(np_dtype)
    if d is None:
        if np_dtype.kind in "US":
            return string
        if np_dtype.name == "bfloat16":
            _bf16_numpy()
            return bfloat16
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
    if value is complex:
        return complex128
    if value is str or value is bytes:
        return string
    if type(value) is int:
        d = _BY_ENUM.get(value)
        if d is not None:
            return d
        raise TypeError(f"as_dtype: cannot convert {value!r} to a dtype: no DataType enum "
                        f"{value}.")
    if value is None:
        raise TypeError("as_dtype: cannot convert None to a dtype.")
    dt = getattr(value, "dtype", None)  # a Tensor, array or policy-like object
    if isinstance(dt, DType):
        return dt
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        if getattr(value, "__name__", None) == "bfloat16" or str(value) == "bfloat16":
            return bfloat16
    try:
        return from_numpy(np.dtype(value))
    except TypeError as e:
        raise TypeError(f"as_dtype: cannot convert {_short(value)} to a dtype: {e}") from None


def _short(v):
    s = repr(v)
    return s if len(s) < 60 else s[:57] + "..."
