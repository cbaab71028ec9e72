"""A minimal `tf.strings`: string tensors hold bytes (dtype string, NumPy object arrays)."""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive
from tenfold.ops._convert import tensor


def _str_tensor(x, op):
    t = tensor(x)
    if t._value.dtype != object:
        raise TypeError(f"{op} expects a string tensor, got {t.dtype.name}")
    return t


def _map(fn, otype=object):
    vec = np.vectorize(fn, otypes=[otype])
    return lambda x: vec(x) if x.size else np.zeros(x.shape, otype)


def _b(v):
    return v if isinstance(v, bytes) else str(v).encode("utf-8")


def _u(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


_length = primitive("string_length", lambda x, unit: _map(
    (lambda s: len(_u(s))) if unit == "UTF8_CHAR" else (lambda s: len(_b(s))), np.int32)(x), no_grad="string-valued")
_lower = primitive("string_lower", _map(lambda s: _u(s).lower().encode("utf-8")), no_grad="string-valued")
_upper = primitive("string_upper", _map(lambda s: _u(s).upper().encode("utf-8")), no_grad="string-valued")
_strip = primitive("string_strip", _map(lambda s: _b(s).strip()), no_grad="string-valued")
_to_number = primitive("string_to_number", lambda x, dtype: _to_number_kernel(x, dtype), no_grad="string-valued")
_as_string = primitive("as_string", lambda x, precision: _map(
    (lambda v: (f"{v:.{precision}f}" if precision >= 0 else f"{v:g}").encode()
     if isinstance(v, (float, np.floating)) else str(v).encode()))(x), no_grad="string-valued")
_join = primitive("string_join", lambda *xs, separator: _join_kernel(xs, separator), no_grad="string-valued")
_reduce_join = primitive("reduce_join", lambda x, axis, keepdims, separator:
                         _reduce_join_kernel(x, axis, keepdims, separator), no_grad="string-valued")
_regex_full_match = primitive("regex_full_match", lambda x, pattern: _map(
    lambda s: __import__("re").fullmatch(pattern, _u(s)) is not None, np.bool_)(x), no_grad="string-valued")
_regex_replace = primitive("regex_replace", lambda x, pattern, rewrite, replace_global: _map(
    lambda s: __import__("re").sub(pattern, rewrite, _u(s),
                                   count=0 if replace_global else 1).encode("utf-8"))(x), no_grad="string-valued")
_substr = primitive("substr", lambda x, pos, length: _map(
    lambda s: _b(s)[pos:pos + length])(x), no_grad="string-valued")


def _to_number_kernel(x, dtype):
    def conv(s):
        try:
            return float(_u(s)) if np.dtype(dtype).kind == "f" else int(_u(s))
        except ValueError:
            raise InvalidArgumentError(f"strings.to_number: StringToNumberOp could not correctly "
                                       f"convert string: {_u(s)}") from None
    return _map(conv, dtype)(x)


def _join_kernel(xs, separator):
    b = np.broadcast_arrays(*xs)
    out = np.empty(b[0].shape, object)
    for idx in np.ndindex(out.shape):
        out[idx] = _b(separator).join(_b(a[idx]) for a in b)
    return out


def _reduce_join_kernel(x, axis, keepdims, separator):
    sep = _b(separator)
    if axis is None:
        return np.asarray(sep.join(_b(v) for v in x.ravel()), dtype=object)
    moved = np.moveaxis(x, axis, -1)
    out = np.empty(moved.shape[:-1], object)
    for idx in np.ndindex(out.shape):
        out[idx] = sep.join(_b(v) for v in moved[idx])
    return np.expand_dims(out, axis) if keepdims else out


def length(input, unit="BYTE", name=None):
    return _length(_str_tensor(input, "strings.length"), unit=unit)


def lower(input, encoding="", name=None):
    return _lower(_str_tensor(input, "strings.lower"))


def upper(input, encoding="", name=None):
    return _upper(_str_tensor(input, "strings.upper"))


def strip(input, name=None):
    return _strip(_str_tensor(input, "strings.strip"))


def to_number(input, out_type=dtypes.float32, name=None):
    return _to_number(_str_tensor(input, "strings.to_number"),
                      dtype=dtypes.as_dtype(out_type)._np)


def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="",
              name=None):
    return _as_string(tensor(input), precision=int(precision))


def join(inputs, separator="", name=None):
    return _join(*[_str_tensor(x, "strings.join") for x in inputs], separator=separator)


def reduce_join(inputs, axis=None, keepdims=False, separator="", name=None):
    x = _str_tensor(inputs, "strings.reduce_join")
    if axis is not None:
        axis = int(axis) % max(x._value.ndim, 1)
    return _reduce_join(x, axis=axis, keepdims=bool(keepdims), separator=separator)


def regex_full_match(input, pattern, name=None):
    return _regex_full_match(_str_tensor(input, "strings.regex_full_match"), pattern=pattern)


def regex_replace(input, pattern, rewrite, replace_global=True, name=None):
    return _regex_replace(_str_tensor(input, "strings.regex_replace"), pattern=pattern,
                          rewrite=rewrite, replace_global=bool(replace_global))


def substr(input, pos, len, unit="BYTE", name=None):  # noqa: A002 - TensorFlow's name
    return _substr(_str_tensor(input, "strings.substr"), pos=int(pos), length=int(len))


def format(template, inputs, placeholder="{}", summarize=3, name=None):  # noqa: A001
    from tenfold.ops.functional_ops import format_value
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    parts = template.split(placeholder)
    if len(parts) - 1 != len(inputs):
        raise InvalidArgumentError(f"strings.format: {len(parts) - 1} placeholders but "
                                   f"{len(inputs)} inputs")
    out = parts[0]
    for p, x in zip(parts[1:], inputs):
        out += format_value(x, summarize) + p
    return convert_to_tensor(out)


def split(input, sep=None, maxsplit=-1, name=None):
    """Splits a scalar string (a 1-D string tensor of the parts); ragged results are lists."""
    t = _str_tensor(input, "strings.split")
    s = None if sep is None else _b(sep)
    if t._value.ndim == 0:
        parts = _b(t._value[()]).split(s, maxsplit)
        return Tensor._wrap(np.array(parts, dtype=object))
    return [split(Tensor._wrap(v)) for v in t._value]
