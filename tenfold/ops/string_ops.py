"""A minimal `tf.strings`: string tensors hold bytes (dtype string, NumPy object arrays)."""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive, INTEGER_VALUED
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
    (lambda rx: lambda s: rx.fullmatch(_b(s)) is not None)(
        _compile(pattern, "strings.regex_full_match")), np.bool_)(x), no_grad="string-valued")
_regex_replace = primitive("regex_replace", lambda x, pattern, rewrite, replace_global: _map(
    (lambda rx: lambda s: rx.sub(lambda m: _rewrite(rewrite, m), _b(s),
                                 count=0 if replace_global else 1))(
        _compile(pattern, "strings.regex_replace")))(x), no_grad="string-valued")
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
    from tenfold.ops import _checks
    inputs = _checks.tensor_list(inputs, "strings.join", "inputs")
    sep = _scalar_bytes(separator, "strings.join", "separator")
    return _join(*[_str_tensor(x, "strings.join") for x in inputs], separator=sep)


def reduce_join(inputs, axis=None, keepdims=False, separator="", name=None):
    x = _str_tensor(inputs, "strings.reduce_join")
    if axis is not None:
        axis = int(axis) % max(x._value.ndim, 1)
    return _reduce_join(x, axis=axis, keepdims=bool(keepdims), separator=separator)


# Regular expressions are RE2's, as TensorFlow's: linear time (no catastrophic backtracking),
# RE2 syntax (no lookaround or backreferences) and RE2's error messages. The google-re2
# binding is imported on the first regex op.
_re2_cache = {}


def _scalar_bytes(v, op, what):
    if isinstance(v, Tensor):
        if v._value.dtype != object or v._value.size != 1:
            raise InvalidArgumentError(f"{op}: {what} must be a scalar string, got a tensor of "
                                       f"dtype {v.dtype.name} and shape {list(v._value.shape)}")
        v = v._value.reshape(())[()]
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, bytes):
        return v
    raise TypeError(f"{op}: {what} must be a string, got {type(v).__name__} {v!r}")


def _compile(pattern, op):
    pat = _scalar_bytes(pattern, op, "pattern")
    rx = _re2_cache.get(pat)
    if rx is None:
        try:
            import re2
        except ImportError:
            raise ImportError(f"{op} needs the google-re2 package (RE2, the regex engine "
                              f"TensorFlow uses): pip install google-re2") from None
        options = re2.Options()
        options.log_errors = False
        try:
            rx = re2.compile(pat, options=options)
        except re2.error as e:
            msg = e.args[0].decode("utf-8", "replace") if e.args and isinstance(
                e.args[0], bytes) else str(e)
            raise InvalidArgumentError(f"{op}: Invalid pattern: {pat.decode('utf-8', 'replace')}"
                                       f", error: {msg}") from None
        if len(_re2_cache) > 256:
            _re2_cache.clear()
        _re2_cache[pat] = rx
    return rx


def _check_rewrite(rewrite, rx, op):
    """RE2's rewrite syntax: \\0..\\9 name groups, \\\\ is a backslash; anything else after
    a backslash, or a group the pattern lacks, is an error (as RE2::CheckRewriteString)."""
    i, most = 0, 0
    while i < len(rewrite):
        if rewrite[i:i + 1] == b"\\":
            nxt = rewrite[i + 1:i + 2]
            if nxt.isdigit():
                most = max(most, int(nxt))
            elif nxt != b"\\":
                raise InvalidArgumentError(
                    f"{op}: invalid rewrite pattern {rewrite.decode('utf-8', 'replace')!r}: "
                    f"a backslash must be followed by a digit or another backslash")
            i += 2
        else:
            i += 1
    if most > rx.groups:
        raise InvalidArgumentError(
            f"{op}: the rewrite {rewrite.decode('utf-8', 'replace')!r} asks for group {most}, "
            f"but the pattern has only {rx.groups} parenthesized subexpressions")


def _rewrite(rewrite, m):
    out, i = [], 0
    while i < len(rewrite):
        c = rewrite[i:i + 1]
        if c == b"\\":
            nxt = rewrite[i + 1:i + 2]
            out.append((m.group(int(nxt)) or b"") if nxt.isdigit() else b"\\")
            i += 2
        else:
            out.append(c)
            i += 1
    return b"".join(out)


def regex_full_match(input, pattern, name=None):
    op = "strings.regex_full_match"
    x = _str_tensor(input, op)
    pat = _scalar_bytes(pattern, op, "pattern")
    _compile(pat, op)  # errors here, before the kernel
    return _regex_full_match(x, pattern=pat)


def regex_replace(input, pattern, rewrite, replace_global=True, name=None):
    op = "strings.regex_replace"
    x = _str_tensor(input, op)
    pat = _scalar_bytes(pattern, op, "pattern")
    rw = _scalar_bytes(rewrite, op, "rewrite")
    _check_rewrite(rw, _compile(pat, op), op)
    return _regex_replace(x, pattern=pat, rewrite=rw, replace_global=bool(replace_global))


def substr(input, pos, len, unit="BYTE", name=None):  # noqa: A002 - TensorFlow's name
    return _substr(_str_tensor(input, "strings.substr"), pos=int(pos), length=int(len))


def format(template, inputs, placeholder="{}", summarize=3, name=None):  # noqa: A001
    from tenfold.ops.functional_ops import format_value
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    template = _scalar_bytes(template, "strings.format", "template").decode("utf-8", "replace")
    placeholder = _scalar_bytes(placeholder, "strings.format", "placeholder").decode(
        "utf-8", "replace")
    if not placeholder:
        raise InvalidArgumentError("strings.format: placeholder must not be empty")
    parts = template.split(placeholder)
    if len(parts) - 1 != len(inputs):
        raise InvalidArgumentError(f"strings.format: {len(parts) - 1} placeholders but "
                                   f"{len(inputs)} inputs")
    out = parts[0]
    for p, x in zip(parts[1:], inputs):
        out += format_value(x, summarize) + p
    return convert_to_tensor(out)


def _split_parts(x, sep, maxsplit):
    parts = []
    for v in x.ravel():
        parts.extend(_b(v).split(sep, maxsplit))
    return np.array(parts, dtype=object)


def _split_row_splits(x, sep, maxsplit):
    lengths = [len(_b(v).split(sep, maxsplit)) for v in x.ravel()]
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


# the parts and the row splits of tf.strings.split: two graph ops (each splits the strings)
_split_values = primitive("string_split_values", _split_parts, aliasing="fresh",
                          tf_name="StringSplitV2", no_grad="string-valued")
_split_splits = primitive("string_split_row_splits", _split_row_splits, aliasing="fresh",
                          tf_name="StringSplitV2", no_grad=INTEGER_VALUED)


def split(input, sep=None, maxsplit=-1, name=None):
    """Splits strings at `sep` (runs of whitespace when None): a scalar gives a 1-D string
    tensor of its parts, a vector a RaggedTensor of them (one row per string), as TensorFlow
    does. Graph ops, so it works inside tf.function on traced strings."""
    t = _str_tensor(input, "strings.split")
    if t._value.ndim > 1:
        raise NotImplementedError(f"strings.split: inputs of rank {t._value.ndim} are not "
                                  "supported; reshape to a vector first (tf.reshape(x, [-1])).")
    s = None if sep is None else _b(sep)
    if s == b"":
        raise InvalidArgumentError("strings.split: sep must not be empty.")
    parts = _split_values(t, sep=s, maxsplit=int(maxsplit))
    if t._value.ndim == 0:
        return parts
    from tenfold.ops.ragged import RaggedTensor
    return RaggedTensor.from_row_splits(parts, _split_splits(t, sep=s, maxsplit=int(maxsplit)),
                                        validate=False)


# ------------------------------------------------------------------------ lookup tables
def _table_find_kernel(*arrays, table):
    return table(*arrays)


lookup_table_find = primitive(
    "lookup_table_find", _table_find_kernel, aliasing="fresh", tf_name="LookupTableFindV2",
    no_grad="a table lookup (indices or tokens)")


def table_find(*inputs, table):
    """One graph op looking `inputs` up in `table`, a function of their arrays returning the
    result array (the text preprocessing layers' vocabularies, hashes and tokenizers). It is
    called each time the op runs, so a graph traced before the table is filled (`adapt`)
    reads the new contents, as TensorFlow's lookup-table resources behave."""
    return lookup_table_find(*[tensor(x) for x in inputs], table=table)
