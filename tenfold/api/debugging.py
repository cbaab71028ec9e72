"""`tf.debugging`: assertions raise InvalidArgumentError naming what failed; each is a
recorded op, so a traced function checks again every time it runs."""
import numpy as _np

from tenfold.framework import dtypes as _dtypes
from tenfold.framework.tensor import Tensor as _Tensor
from tenfold.framework.errors import InvalidArgumentError as _InvalidArgumentError
from tenfold.ops._convert import tensor as _tensor, binary as _binary
from tenfold.ops import math_ops as _m
from tenfold.ops import _checks
from tenfold.util.tensor_meta import npd as _npd, shape_of as _shape_of
from tenfold.ops.functional_ops import (  # noqa: F401
    Assert, check_numerics, assert_that as _check)
from tenfold.ops.math_ops import is_non_decreasing, is_strictly_increasing  # noqa: F401

_state = {"check_numerics": False, "log_device_placement": False}


def _msg(message, what):
    message = "" if message is None else str(message)  # TensorFlow formats any message
    return f"{message + ': ' if message else ''}{what}"


def _compare(op, fn, what):
    def check(x, y, message=None, summarize=None, name=None):
        x, y = _binary(x, y, op)
        try:
            _np.broadcast_shapes(_shape_of(x), _shape_of(y))
        except ValueError:
            raise _InvalidArgumentError(_msg(message, f"{op}: shapes {list(_shape_of(x))} and "
                                            f"{list(_shape_of(y))} are incompatible")) from None
        _check(fn(x, y), _msg(message, f"Condition x {what} y did not hold. x (shape "
                                       f"{list(_shape_of(x))}) = "), [x, _wrap_text(" y = "), y],
               summarize=3 if summarize is None else summarize)
        return None
    check.__name__ = op
    return check


def _wrap_text(s):
    return _Tensor._wrap(_np.asarray(s.encode(), dtype=object))


assert_equal = _compare("assert_equal", _m.equal, "==")
assert_none_equal = _compare("assert_none_equal", _m.not_equal, "!=")
assert_less = _compare("assert_less", _m.less, "<")
assert_less_equal = _compare("assert_less_equal", _m.less_equal, "<=")
assert_greater = _compare("assert_greater", _m.greater, ">")
assert_greater_equal = _compare("assert_greater_equal", _m.greater_equal, ">=")


def _sign_check(op, fn, what):
    def check(x, message=None, summarize=None, name=None):
        x = _tensor(x)
        _check(fn(x, _m.zeros_like(x)), _msg(message, f"Condition x {what} did not hold. x = "),
               [x], summarize=3 if summarize is None else summarize)
        return None
    check.__name__ = op
    return check


assert_positive = _sign_check("assert_positive", _m.greater, "> 0")
assert_negative = _sign_check("assert_negative", _m.less, "< 0")
assert_non_negative = _sign_check("assert_non_negative", _m.greater_equal, ">= 0")
assert_non_positive = _sign_check("assert_non_positive", _m.less_equal, "<= 0")


def assert_near(x, y, rtol=None, atol=None, message=None, summarize=None, name=None):
    x, y = _binary(x, y, "assert_near")
    eps = _np.finfo(_npd(x)).eps if _npd(x).kind == "f" else 0
    rtol = 10 * eps if rtol is None else rtol
    atol = 10 * eps if atol is None else atol
    diff = _m.abs(_m.subtract(x, y))
    tol = _m.add(_m.multiply(_m.abs(y), rtol), atol)
    _check(_m.less_equal(diff, tol), _msg(message, f"x and y not equal to tolerance rtol = "
                                                   f"{rtol}, atol = {atol}. x = "),
           [x, _wrap_text(" y = "), y], summarize=3 if summarize is None else summarize)
    return None


def assert_all_finite(t, msg, name=None, x=None, message=None):
    return check_numerics(t if x is None else x, msg if message is None else message)


def assert_rank(x, rank, message=None, name=None):
    x = _tensor(x)
    r = _checks.scalar_int(rank, "assert_rank", "rank")
    if x.ndim != r:
        raise _InvalidArgumentError(_msg(message, f"Tensor must have rank {r}. Received rank "
                                                 f"{x.ndim}, shape "
                                                 f"{list(_shape_of(x))}"))


def assert_rank_at_least(x, rank, message=None, name=None):
    x = _tensor(x)
    rank = _checks.scalar_int(rank, "assert_rank_at_least", "rank")
    if x.ndim < rank:
        raise _InvalidArgumentError(_msg(message, f"Tensor must have rank at least {rank}. "
                                                 f"Received rank {x.ndim}, shape "
                                                 f"{list(_shape_of(x))}"))


def assert_rank_in(x, ranks, message=None, name=None):
    x = _tensor(x)
    ranks = [_checks.scalar_int(r, "assert_rank_in", "ranks")
             for r in _checks.tensor_list(ranks, "assert_rank_in", "ranks")]
    if x.ndim not in ranks:
        raise _InvalidArgumentError(_msg(message, f"Tensor rank {x.ndim} is not one of "
                                                 f"{ranks}"))


def assert_scalar(tensor_, message=None, name=None):
    assert_rank(tensor_, 0, message)
    return _tensor(tensor_)


def assert_type(tensor_, tf_type, message=None, name=None):
    t = _tensor(tensor_)
    want = _dtypes.as_dtype(tf_type)
    if t.dtype != want:
        raise TypeError(_msg(message, f"assert_type: tensor has dtype {t.dtype.name}, expected "
                                      f"{want.name}"))


def assert_integer(x, message=None, name=None):
    t = _tensor(x)
    if not t.dtype.is_integer:
        raise TypeError(_msg(message, f"assert_integer: expected an integer tensor, got dtype "
                                      f"{t.dtype.name}"))


def assert_proper_iterable(values):
    if isinstance(values, (str, bytes, _Tensor, _np.ndarray)) or not hasattr(values, "__iter__"):
        raise TypeError(f"Expected argument 'values' to be a \"proper\" iterable, got "
                        f"{type(values).__name__}")


def assert_shapes(shapes, data=None, summarize=None, message=None, name=None):
    """Checks tensors against symbolic shapes, e.g. [(x, ('N', 3)), (y, ('N',))]."""
    items = shapes.items() if isinstance(shapes, dict) else shapes
    sizes = {}
    for t, spec in _shape_pairs(items):
        shape = _shape_of(_tensor(t))
        if spec and spec[0] == "..." or Ellipsis in spec:
            spec = spec[1:]
            shape = shape[len(shape) - len(spec):] if len(spec) <= len(shape) else shape
        if len(shape) != len(spec):
            raise _InvalidArgumentError(_msg(message, f"assert_shapes: tensor of shape "
                                                     f"{list(shape)} must have rank {len(spec)}"))
        for d, s in zip(shape, spec):
            if isinstance(s, str):
                if s in sizes and sizes[s] != d:
                    raise _InvalidArgumentError(_msg(message, f"assert_shapes: dimension {s!r} "
                                                             f"is {sizes[s]} in one tensor and "
                                                             f"{d} in another"))
                sizes[s] = d
            elif s is not None and int(s) != d:
                raise _InvalidArgumentError(_msg(message, f"assert_shapes: tensor of shape "
                                                         f"{list(shape)} does not match "
                                                         f"{spec}"))


def _shape_pairs(items):
    """(tensor, [dim, ...]) pairs from assert_shapes' argument; each dim a name, int or None."""
    usage = ("expected a list of (tensor, shape) pairs or a dict, each shape a list of "
             "dimension names, integers or None, e.g. [(x, ('N', 3))]")
    try:
        pairs = [tuple(p) for p in items]
    except TypeError:
        raise ValueError(f"assert_shapes: shapes must be {usage}; got "
                         f"{type(items).__name__}") from None
    out = []
    for p in pairs:
        if len(p) != 2:
            raise ValueError(f"assert_shapes: each entry must be a (tensor, shape) pair, got "
                             f"one of length {len(p)}; {usage}")
        t, spec = p
        if hasattr(spec, "as_list"):
            spec = spec.as_list()
        if isinstance(spec, (str, bytes)) or not isinstance(spec, (list, tuple)):
            raise ValueError(f"assert_shapes: a shape must be a list or tuple, got "
                             f"{type(spec).__name__} {spec!r:.40}; {usage}")
        for d in spec:
            if not (d is None or d is Ellipsis or isinstance(d, str) or
                    isinstance(d, (int, _np.integer)) and not isinstance(d, (bool, _np.bool_))):
                raise ValueError(f"assert_shapes: dimension {d!r:.40} in shape {spec!r:.60} "
                                 f"is not a name, integer or None; {usage}")
        out.append((t, list(spec)))
    return out


def is_numeric_tensor(tensor_):
    return isinstance(tensor_, _Tensor) and tensor_.dtype.is_numeric


def enable_check_numerics(stack_height_limit=30, path_length_limit=50):
    _state["check_numerics"] = True


def disable_check_numerics():
    _state["check_numerics"] = False


def set_log_device_placement(enabled):
    _state["log_device_placement"] = bool(enabled)


def get_log_device_placement():
    return _state["log_device_placement"]


class experimental:  # noqa: N801 - a namespace
    @staticmethod
    def enable_dump_debug_info(*args, **kwargs):
        return None

    @staticmethod
    def disable_dump_debug_info():
        return None
