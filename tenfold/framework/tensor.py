"""Tensor: an immutable value wrapping a backend array, and its conversion rules.

The eager hot path is `Tensor._wrap(array)`: one object allocation, no copies, no checks.
Operators are installed by `tenfold.ops` (which declares them) to keep this module free of ops.
"""
import builtins

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor_shape import TensorShape
from tenfold.framework.errors import InvalidArgumentError, OpError
from tenfold.framework.state import STATE as _STATE

_ndarray = np.ndarray


class Tensor:
    """An immutable multi-dimensional array (as `tf.Tensor`, eager)."""

    __slots__ = ("_value", "_keras_mask", "__weakref__")
    __array_priority__ = 100  # NumPy's binary operators defer to ours

    def __init__(self, *args, **kwargs):
        raise TypeError("Tensors are made with tf.constant(...) or tf.convert_to_tensor(...), "
                        "not by calling Tensor directly.")

    @classmethod
    def _wrap(cls, value):
        t = object.__new__(Tensor)
        t._value = value
        return t

    # --- metadata ---
    @property
    def shape(self):
        return TensorShape(self._value.shape)

    def get_shape(self):
        return self.shape

    @property
    def dtype(self):
        return dtypes.from_numpy(self._value.dtype)

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def device(self):
        from tenfold.framework.device import device_name_of
        return device_name_of(self._value)

    @property
    def name(self):
        raise AttributeError("Tensor.name is undefined when eager execution is enabled.")

    @property
    def op(self):
        raise AttributeError("Tensor.op is undefined when eager execution is enabled.")

    @property
    def graph(self):
        raise AttributeError("Tensor.graph is undefined when eager execution is enabled.")

    def set_shape(self, shape):
        """Checks that `shape` is compatible with this tensor's (eager shapes are known)."""
        if not TensorShape(self._value.shape).is_compatible_with(shape):
            raise ValueError(f"Tensor's shape {TensorShape(self._value.shape)} is not "
                             f"compatible with supplied shape {TensorShape(shape)}.")

    def numpy(self):
        """The value as a NumPy array (a 0-d tensor gives a NumPy scalar, as TensorFlow does)."""
        _check_concrete(self, "numpy")  # an error inside tf.function (tenfold/graph)
        v = self._value
        if type(v) is not _ndarray:
            from tenfold.backend import to_numpy
            v = to_numpy(v)
        return v[()] if v.ndim == 0 else v

    def __array__(self, dtype=None, copy=None):
        _check_concrete(self, "numpy")  # an error inside tf.function (tenfold/graph)
        from tenfold.backend import to_numpy
        v = to_numpy(self._value)
        if dtype is not None:
            v = v.astype(dtype, copy=False)
        return v.copy() if copy else v

    def ref(self):
        return _Ref(self)

    experimental_ref = ref

    # --- Python protocol ---
    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("len() of a 0-d (scalar) tensor is undefined.")
        return self._value.shape[0]

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        for i in range(self._value.shape[0]):
            yield self[i]

    def _scalar(self, what):
        _check_concrete(self, what)
        if self._value.size != 1:
            raise TypeError(f"Only a tensor with one element can be converted to a Python "
                            f"{what}; this one has shape {tuple(self._value.shape)}.")
        return self._value.reshape(()).item()

    def __bool__(self):
        _check_concrete(self, "bool")
        if self._value.size != 1:
            raise ValueError(f"The truth value of a tensor of shape {tuple(self._value.shape)} "
                             "is ambiguous: use tf.reduce_any or tf.reduce_all.")
        return builtins.bool(self._value.reshape(()).item())

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __index__(self):
        if not self.dtype.is_integer:
            raise TypeError(f"Only integer scalar tensors can be used as an index; got "
                            f"{self.dtype.name}.")
        return int(self._scalar("int"))

    def __complex__(self):
        return complex(self._scalar("complex"))

    def __hash__(self):
        raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the key.")

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return Tensor._wrap(self._value.copy())

    def __reduce__(self):
        return _constant_from_array, (self.numpy(),)

    def __repr__(self):
        sym = _symbolic(self) if _STATE.tracers else None
        if sym is not None:  # inside tf.function: TensorFlow's graph-tensor form
            return f"<tf.Tensor '{sym[0]}' shape={sym[1]} dtype={self.dtype.name}>"
        return (f"<tf.Tensor: shape={self.shape}, dtype={self.dtype.name}, "
                f"numpy={_array_repr(self.numpy())}>")

    def __str__(self):
        sym = _symbolic(self) if _STATE.tracers else None
        if sym is not None:
            return f'Tensor("{sym[0]}", shape={sym[1]}, dtype={self.dtype.name})'
        return f"tf.Tensor({_array_str(self.numpy())}, shape={self.shape}, dtype={self.dtype.name})"

    def __format__(self, spec):
        if _STATE.tracers and _symbolic(self) is not None:  # a traced value is not known yet
            return format(str(self), spec)
        if self._value.ndim == 0 and spec:
            return format(self._value.item(), spec)
        return format(str(self), spec)


def _constant_from_array(a):
    return Tensor._wrap(np.asarray(a))


class _Ref:
    """A hashable reference to a tensor (`tensor.ref()`)."""
    __slots__ = ("_t",)

    def __init__(self, t):
        self._t = t

    def deref(self):
        return self._t

    def __hash__(self):
        return id(self._t)

    def __eq__(self, other):
        return isinstance(other, _Ref) and other._t is self._t


def _multiline(text):
    """TensorFlow starts the numbers on a new line when they take several lines."""
    return "\n" + text if "\n" in text else text


def _array_repr(a):
    """NumPy's repr for arrays; scalars as TensorFlow shows them (`1.0`, not `np.float32(1.0)`)."""
    if isinstance(a, np.ndarray):
        return _multiline(np.array_repr(a))
    if isinstance(a, (bytes, str)):
        return repr(a)
    return str(a)


def _array_str(a):
    if isinstance(a, np.ndarray):
        return _multiline(np.array_str(a))
    return repr(a) if isinstance(a, (bytes, str)) else str(a)


def _symbolic(t):
    """(graph name, TensorShape) of a tensor a tf.function is tracing, else None (the tracers
    in this thread's state answer `symbolic(t)`; see tenfold/graph/tracer.py)."""
    for tr in reversed(_STATE.tracers):
        sym = tr.symbolic(t)
        if sym is not None:
            return sym
    return None


def _check_concrete(t, what):
    # set by tf.function while tracing (per thread): a traced tensor has no Python value
    guard = _STATE.concrete_guard
    if guard is not None:
        guard(t, what)


# ----------------------------------------------------------------------------------------
# Conversion

def _first_leaf(value):
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    return value


def _nested_leaves(value, ndim):
    """A nested list of bytes as an object array of the same bytes (no NumPy width padding)."""
    out = np.empty(len(value), dtype=object)
    out[:] = [_nested_leaves(v, ndim - 1) if ndim > 1 else v for v in value]
    return np.array(out.tolist(), dtype=object) if ndim > 1 else out


def _infer_numpy(value):
    """NumPy array for a Python value with TensorFlow's inference: float -> float32, int -> int32."""
    if value is None:
        raise ValueError("Attempt to convert a value (None) with an unsupported type "
                         "(<class 'NoneType'>) to a Tensor.")
    try:
        a = np.asarray(value)
    except ValueError:
        raise ValueError(f"Can't convert non-rectangular Python sequence to Tensor: "
                         f"{_short(value)}. Make every row the same length.") from None
    k = a.dtype.kind
    if k == "f" and a.dtype == np.float64 and not isinstance(value, (np.ndarray, np.generic)):
        # A nested list takes the dtype of its first element when that is a NumPy float
        # (TensorFlow: [np.float64(1), 2] -> float64, [2, np.float64(1)] -> float32).
        first = _first_leaf(value)
        if isinstance(first, np.floating):
            return a.astype(first.dtype)
        return a.astype(np.float32)
    if k == "i" and a.dtype == np.int64 and not isinstance(value, (np.ndarray, np.integer)):
        if a.size == 0 or (a.min() >= -2**31 and a.max() < 2**31):
            return a.astype(np.int32)
        return a
    if k == "U":
        return np.char.encode(a, "utf-8").astype(object)
    if k == "S":
        if isinstance(value, (bytes, list, tuple)):
            # NumPy's fixed-width bytes drop trailing NULs: keep the Python bytes as they are
            # (serialized protos end in b"\x00" often)
            out = np.empty(a.shape, dtype=object)
            out[...] = value if a.ndim == 0 else _nested_leaves(value, a.ndim)
            return out
        return a.astype(object)
    if k == "O":
        flat = a.ravel()
        if flat.size and all(isinstance(v, (bytes, str)) for v in flat):
            return np.array([v.encode("utf-8") if isinstance(v, str) else v for v in flat],
                            dtype=object).reshape(a.shape)
        raise ValueError(f"Cannot convert {_short(value)} to a tensor: ragged or mixed nested "
                         "lists are not supported; make every row the same length and type.")
    return a


def _is_weak_scalar(x):
    """Python numbers (and NumPy scalars) adopt the dtype of the tensor they meet."""
    return isinstance(x, (int, float, builtins.bool)) or isinstance(x, np.generic)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """Converts tensors, NumPy arrays, Python scalars and nested lists to a Tensor."""
    try:  # free on the success path (zero-cost exceptions)
        if isinstance(value, Tensor):
            if dtype is not None:
                want = dtypes.as_dtype(dtype)
                if want._np != value._value.dtype:
                    raise ValueError(f"Tensor conversion requested dtype {want.name} for a "
                                     f"tensor of dtype {value.dtype.name}: use tf.cast to "
                                     f"change it.")
            if type(value) is not Tensor:  # a Variable: read it through a recorded op
                from tenfold.framework import hooks  # installed by tenfold.ops
                v = hooks.read_variable(value)
                return hooks.array_ops.identity(v) if v is value else v
            return value
        to_tensor = getattr(value, "__tf_tensor__", None)
        if to_tensor is not None:
            return convert_to_tensor(to_tensor(dtype, name), dtype)
        if isinstance(value, (list, tuple)) and value and _contains_tensor(value):
            return _autopack(value, dtype)
        if not isinstance(value, _HOST_VALUES) and value is not None:
            from tenfold.backend import backend_of
            if backend_of(value).name != "numpy":  # another backend's array: stays on device
                if dtype is not None and dtypes.as_dtype(dtype)._np != value.dtype:
                    value = value.astype(dtypes.as_dtype(dtype)._np)
                return Tensor._wrap(value)
        if dtype is not None:
            want = dtypes.as_dtype(dtype)
            arr = _convert_with_dtype(value, want)
        else:
            if isinstance(value, (list, tuple)) and _contains_tensor(value):
                value = _unwrap_nested(value)
            if dtype_hint is not None and not isinstance(value, (np.ndarray, np.generic)):
                try:
                    return _placed(_convert_with_dtype(value, dtypes.as_dtype(dtype_hint)))
                except (TypeError, ValueError):
                    pass
            arr = _infer_numpy(value)
        return _placed(arr)
    except (TypeError, ValueError) as e:
        raise name_error(e, "convert_to_tensor", "value") from None


_LEAD = "convert_to_tensor: value: "


def name_error(e, op, arg):
    """The conversion error `e`, its message led by `op` and `arg`: what an op raises when
    converting its argument `arg` fails (a nested convert_to_tensor's lead is replaced)."""
    if isinstance(e, OpError):  # an OpError names its op already
        return e
    msg = str(e)
    nested = msg.startswith(_LEAD)
    if nested:
        msg = msg[len(_LEAD):]
    if msg.startswith(op + ":"):
        return type(e)(msg) if nested else e
    lead = f"{op}: {arg}: " if arg else f"{op}: "
    return type(e)(lead + msg)


def _placed(arr):
    """A tensor for a host array, on the device of the enclosing tf.device scope."""
    b = _STATE.backend
    if b is not None:
        arr = b.from_host(arr) if arr.dtype != object else arr
    return Tensor._wrap(arr)


_HOST_VALUES = (int, float, complex, builtins.bool, str, bytes, list, tuple, np.ndarray,
                np.generic)


def _convert_with_dtype(value, want):
    if isinstance(value, (list, tuple)) and _contains_tensor(value):
        value = _unwrap_nested(value)
    if want is dtypes.string:
        out = _infer_numpy(value)
        if out.dtype != object:
            raise TypeError(f"Cannot convert {_short(value)} to a tensor of dtype string: "
                            f"numbers don't convert to strings; use tf.strings.as_string.")
        return out
    src = np.asarray(value) if value is not None else _infer_numpy(value)
    if src.dtype.kind in "SUO" and not isinstance(value, (np.ndarray, np.generic)):
        raise TypeError(f"Cannot convert {_short(value)} to a tensor of dtype {want.name}: "
                        f"strings don't convert to numbers; use tf.strings.to_number.")
    tgt = want._np
    if src.dtype == tgt:
        return src
    sk, tk = src.dtype.kind, ("f" if want.is_floating else tgt.kind)
    if sk == "f" and tk in "iub":
        if isinstance(value, (np.ndarray, np.generic)):  # NumPy values convert (truncating)
            return src.astype(tgt)
        raise TypeError(f"Cannot convert {_short(value)} to a tensor of dtype {want.name}: "
                        f"Python floats don't convert to integer tensors; use tf.cast.")
    if sk == "b" and tk != "b":
        raise TypeError(f"Cannot convert {_short(value)} (bool) to a tensor of dtype {want.name}.")
    if sk in "iu" and tk in "iu" and src.size:
        info = np.iinfo(tgt)
        if src.min() < info.min or src.max() > info.max:
            raise TypeError(f"Cannot convert {_short(value)} to {want.name}: out of range "
                            f"[{info.min}, {info.max}].")
    if sk in "c" and tk not in "c":
        raise TypeError(f"Cannot convert complex {_short(value)} to {want.name}.")
    return src.astype(tgt)


def _short(v):
    s = repr(v)
    return s if len(s) < 60 else s[:57] + "..."


def _contains_tensor(seq):
    for x in seq:
        if isinstance(x, Tensor):
            return True
        if isinstance(x, (list, tuple)) and _contains_tensor(x):
            return True
    return False


def _first_tensor(seq):
    for x in seq:
        if isinstance(x, Tensor):
            return x
        if isinstance(x, (list, tuple)):
            t = _first_tensor(x)
            if t is not None:
                return t
    return None


def _autopack(seq, dtype):
    """A list holding tensors becomes one tensor through tf.stack, so gradients flow to them
    (TensorFlow's auto-packing); other entries take the dtype of the first tensor."""
    from tenfold.framework import hooks  # installed by tenfold.ops
    stack = hooks.array_ops.stack
    dt = dtypes.as_dtype(dtype) if dtype is not None else _first_tensor(seq).dtype
    items = [_autopack(x, dt) if isinstance(x, (list, tuple)) and x and _contains_tensor(x)
             else convert_to_tensor(x, dtype=dt) for x in seq]
    return stack(items)


def _unwrap_nested(seq):
    return [(_unwrap_nested(x) if isinstance(x, (list, tuple)) else
             (x.numpy() if isinstance(x, Tensor) else x)) for x in seq]


def constant(value, dtype=None, shape=None, name=None):
    """A tensor from a Python value or NumPy array (`tf.constant`); copies NumPy input."""
    try:
        t = convert_to_tensor(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise name_error(e, "constant", "value") from None
    if isinstance(value, np.ndarray) and t._value is value:
        t = Tensor._wrap(value.copy())
    if shape is not None:
        shape = _constant_shape(shape)
        v = t._value
        if type(v) is not _ndarray:  # on another device: shape it on the host, copy back
            from tenfold.backend import to_numpy
            v = to_numpy(v)
        if v.size == 1 and int(np.prod(shape)) != 1:
            from tenfold.framework import hooks  # installed by tenfold.ops
            hooks.check_alloc("constant", shape, v.dtype)
            v = np.broadcast_to(v.reshape(()), shape).copy()
        else:
            if v.size != int(np.prod(shape)):
                raise TypeError(f"Eager execution of tf.constant with unsupported shape: value "
                                f"has {v.size} elements, shape is {list(shape)} with "
                                f"{int(np.prod(shape))} elements.")
            v = v.reshape(shape)
        t = _placed(v)
    if _STATE.tracers and t is not value:
        _note_constant(t, name)
    return t


def _note_constant(t, name):
    """Inside tf.function, a tensor made from a Python / NumPy value is TensorFlow's "Const"
    op: the tracer names it for printing (`Tensor("Const_1:0", ...)`)."""
    _STATE.tracers[-1].note_constant(t, name if isinstance(name, str) and name else None)


def convert_to_tensor_v2(value, dtype=None, dtype_hint=None, name=None):
    """`tf.convert_to_tensor`: convert_to_tensor, with a value made inside tf.function named
    as TensorFlow's Const op (internal conversions of op arguments are not)."""
    t = convert_to_tensor(value, dtype=dtype, dtype_hint=dtype_hint, name=name)
    if _STATE.tracers and t is not value and not isinstance(value, Tensor):
        _note_constant(t, name)
    return t


def _constant_shape(shape):
    """tf.constant's shape argument as a tuple of non-negative ints."""
    if isinstance(shape, TensorShape):
        shape = shape.as_list()
    if isinstance(shape, Tensor):
        shape = shape.numpy().tolist()
    try:
        dims = tuple(shape)
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, (builtins.bool,
                                                                         np.bool_))
                   for d in dims):
            raise TypeError
    except TypeError:
        raise TypeError(f"constant: shape must be a list of integers, got "
                        f"{_short(shape)}") from None
    if any(d < 0 for d in dims):
        raise InvalidArgumentError(f"constant: shape must have non-negative dimensions, got "
                                   f"{list(dims)}")
    return tuple(int(d) for d in dims)


def is_tensor(x):
    return isinstance(x, Tensor)


def raise_invalid(op, message):
    raise InvalidArgumentError(f"{op}: {message}")
