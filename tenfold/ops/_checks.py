"""Argument checks shared by the public ops: sizes before allocating, scalar ints, axes.

Every error names the op and the argument, says what was received and what was expected, and
is one of TensorFlow's classes (InvalidArgumentError, ResourceExhaustedError) or a TypeError
for a value of the wrong kind.

The size limit: an op that would create a tensor larger than `max_tensor_bytes()` raises
ResourceExhaustedError before allocating. The default is the machine's physical memory (a
tensor larger than that cannot be held); the environment variable TENFOLD_MAX_TENSOR_BYTES or
`set_max_tensor_bytes(n)` changes it.
"""
import math
import os

import numpy as np

from tenfold.framework.errors import InvalidArgumentError, ResourceExhaustedError

_limit = [None]


def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 36  # 64 GiB where the OS won't say


def max_tensor_bytes():
    """The largest tensor, in bytes, an op may create."""
    if _limit[0] is None:
        env = os.environ.get("TENFOLD_MAX_TENSOR_BYTES")
        try:
            _limit[0] = int(env) if env else _physical_memory()
        except ValueError:
            raise ValueError(f"TENFOLD_MAX_TENSOR_BYTES must be an integer number of bytes, "
                             f"got {env!r}") from None
    return _limit[0]


def set_max_tensor_bytes(n):
    """Sets the size limit (bytes); None goes back to the default. Returns the old limit."""
    old = max_tensor_bytes()
    _limit[0] = None if n is None else int(n)
    return old


def check_alloc(op, shape, dtype, what="the output tensor"):
    """Raises ResourceExhaustedError if a tensor of `shape` and `dtype` is over the limit.

    Computed with Python ints, so huge shapes can't overflow on the way."""
    count = 1
    for d in shape:
        count *= int(d)
    itemsize = np.dtype(dtype).itemsize if not isinstance(dtype, int) else dtype
    nbytes = count * max(itemsize, 1)
    limit = max_tensor_bytes()
    if nbytes > limit:
        name = getattr(np.dtype(dtype), "name", str(dtype)) if not isinstance(dtype, int) else ""
        raise ResourceExhaustedError(
            f"{op}: OOM when allocating {what} with shape {list(shape)} and type "
            f"{name}: {nbytes:,} bytes, more than the limit of {limit:,} bytes (the machine's "
            f"memory unless TENFOLD_MAX_TENSOR_BYTES says otherwise). Use a smaller shape.")
    return nbytes


def _value_of(v):
    if hasattr(v, "_value") and hasattr(v, "numpy"):
        return v.numpy()
    return v


def scalar_int(v, op, arg):
    """A Python int from an int, NumPy integer or one-element integer tensor."""
    raw = _value_of(v)
    if isinstance(raw, (bool, np.bool_)):
        raise TypeError(f"{op}: {arg} must be an integer, got the bool {raw!r}")
    if isinstance(raw, (int, np.integer)):
        return int(raw)
    if isinstance(raw, np.ndarray):
        if raw.dtype.kind not in "iu":
            raise TypeError(f"{op}: {arg} must be an integer, got a tensor of dtype {raw.dtype}")
        if raw.size != 1:
            raise InvalidArgumentError(f"{op}: {arg} must be a scalar, got shape "
                                       f"{list(raw.shape)}")
        return int(raw.reshape(()))
    if isinstance(raw, (list, tuple)):
        raise InvalidArgumentError(f"{op}: {arg} must be a scalar integer, got {_short(raw)}")
    raise TypeError(f"{op}: {arg} must be an integer, got {type(raw).__name__} {_short(raw)}")


def non_negative_int(v, op, arg):
    n = scalar_int(v, op, arg)
    if n < 0:
        raise InvalidArgumentError(f"{op}: {arg} must be >= 0, got {n}")
    return n


def positive_int(v, op, arg):
    n = scalar_int(v, op, arg)
    if n < 1:
        raise InvalidArgumentError(f"{op}: {arg} must be >= 1, got {n}")
    return n


def int_list(v, op, arg):
    """A tuple of Python ints from a list, tuple, TensorShape or integer tensor (rank <= 1)."""
    if hasattr(v, "as_list"):
        v = v.as_list()
    raw = _value_of(v)
    if isinstance(raw, (int, np.integer)) and not isinstance(raw, (bool, np.bool_)):
        return (int(raw),)
    arr = np.asarray(raw, dtype=object) if not isinstance(raw, np.ndarray) else raw
    if arr.ndim > 1:
        raise InvalidArgumentError(f"{op}: {arg} must be a list of integers (rank 1), got "
                                   f"shape {list(arr.shape)}")
    out = []
    for d in arr.reshape(-1).tolist():
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"{op}: {arg} must be a list of integers, got {_short(raw)}")
        out.append(int(d))
    return tuple(out)


def axis(v, rank, op, arg="axis"):
    """An axis in [-rank, rank) as a non-negative int."""
    a = scalar_int(v, op, arg)
    if not -rank <= a < max(rank, 1) or (rank == 0 and a != 0 and a != -1):
        raise InvalidArgumentError(f"{op}: {arg}={a} is out of range for a tensor of rank "
                                   f"{rank}; expected a value in [{-rank}, {rank})")
    return a % rank if rank else 0


def boolean(v, op, arg, default=False):
    """A Python bool from a bool, a number or a one-element tensor (TensorFlow's `bool(v)`);
    None gives `default`."""
    if v is None:
        return default
    raw = _value_of(v)
    if isinstance(raw, (bool, np.bool_, int, np.integer)):
        return bool(raw)
    if isinstance(raw, np.ndarray) and raw.size == 1 and raw.dtype.kind in "biuf":
        return bool(raw.reshape(()))
    raise TypeError(f"{op}: {arg} must be a bool, got {type(raw).__name__} {_short(raw)}")


def finite_number(v, op, arg):
    raw = _value_of(v)
    try:
        f = float(np.asarray(raw).reshape(()))
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{op}: {arg} must be a scalar number, got "
                                   f"{_short(raw)}") from None
    if not math.isfinite(f):
        raise InvalidArgumentError(f"{op}: {arg} must be finite, got {f}")
    return f


def _short(v):
    s = repr(v)
    return s if len(s) < 60 else s[:57] + "..."


def tensor_list(values, op, arg):
    """A list from a list/tuple of tensors, or a tensor of rank >= 1 (its rows), as
    TensorFlow's list-taking ops; anything else is a TypeError naming the op."""
    if isinstance(values, (list, tuple)):
        return list(values)
    shape = getattr(values, "shape", None)
    if shape is not None and hasattr(values, "dtype"):
        if len(shape) >= 1:
            return list(values)
    elif hasattr(values, "__iter__") and not isinstance(values, (str, bytes, dict)):
        return list(values)  # generators, dict views, ...
    raise TypeError(f"{op}: {arg} must be a list of tensors, got {type(values).__name__} "
                    f"{_short(values)}")


def matrices(x, op, arg="input", float_only=False):
    """Checks that tensor x is a batch of matrices [..., M, N] (of a float type)."""
    v = x._value
    if v.ndim < 2:
        raise InvalidArgumentError(f"{op}: {arg} must be a matrix or a batch of matrices "
                                   f"[..., M, N], got shape {list(v.shape)}")
    if float_only and v.dtype.kind not in "fc":
        raise TypeError(f"{op}: {arg} must be a floating-point or complex tensor, got "
                        f"{x.dtype.name}; cast it first, e.g. tf.cast(x, tf.float32)")
    if v.dtype == object:
        raise TypeError(f"{op}: {arg} must be numeric, got a string tensor")
    return v.shape[-2:]


def numeric(x, op, arg="x"):
    """Refuses string tensors where an op needs numbers (NumPy would fail deep inside)."""
    if x._value.dtype == object:
        raise TypeError(f"{op}: {arg} must be a numeric tensor, got a string tensor")
    return x


def convert(value, op, arg, dtype=None):
    """convert_to_tensor, its errors naming the op and the argument."""
    from tenfold.framework.tensor import convert_to_tensor, name_error
    try:
        return convert_to_tensor(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise name_error(e, op, arg) from None
