"""Higher-order and utility ops: map_fn, scan, folds, print, asserts, numerics checks, Python
functions as ops, gradient clipping.

map_fn / scan / folds run their function once per element in Python and stack the results,
so they are differentiable and trace into the graph (unrolled) like any other ops.
"""
import sys
import time

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.framework.state import STATE as _STATE
from tenfold.ops.registry import primitive
from tenfold.ops._convert import tensor
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.util import nest

_wrap = Tensor._wrap


# ------------------------------------------------------------------------------------------
# map_fn, vectorized_map, scan, foldl, foldr

def _elements(elems, op):
    flat = [tensor(e) for e in nest.flatten(elems)]
    if not flat:
        raise ValueError(f"{op}: elems must contain at least one tensor")
    for t in flat:
        if t._value.ndim == 0:
            raise InvalidArgumentError(f"{op}: elements must have rank >= 1 (they are split "
                                       f"along axis 0), got a scalar")
    n = flat[0]._value.shape[0]
    for t in flat[1:]:
        if t._value.shape[0] != n:
            raise InvalidArgumentError(f"{op}: all elems must have the same size on axis 0, "
                                       f"got {[int(x._value.shape[0]) for x in flat]}")
    return flat, n


def _stack_results(results, op, signature=None):
    flat0 = nest.flatten(results[0])
    cols = [[convert_to_tensor(nest.flatten(r)[i]) for r in results] for i in range(len(flat0))]
    return nest.pack_sequence_as(results[0], [a.stack(c) for c in cols])


def _empty_like_signature(signature, fallback):
    if signature is None:
        return nest.map_structure(lambda t: _wrap(np.zeros((0,) + t._value.shape[1:],
                                                           t._value.dtype)), fallback)

    def one(spec):
        if isinstance(spec, dtypes.DType) or isinstance(spec, str):
            return _wrap(np.zeros((0,), dtypes.as_dtype(spec)._np))
        shape = tuple(d or 0 for d in (spec.shape.as_list() if spec.shape.rank is not None
                                       else []))
        return _wrap(np.zeros((0,) + shape, dtypes.as_dtype(spec.dtype)._np))
    return nest.map_structure(one, signature)


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False,
           infer_shape=True, name=None, fn_output_signature=None):
    """Applies fn to each element of elems (split along axis 0) and stacks the results."""
    flat, n = _elements(elems, "map_fn")
    signature = fn_output_signature if fn_output_signature is not None else dtype
    if n == 0:
        return _empty_like_signature(signature, elems)
    results = []
    for i in range(n):
        item = nest.pack_sequence_as(elems, [t[i] for t in flat])
        results.append(fn(item))
    out = _stack_results(results, "map_fn")
    if signature is not None and not nest.is_nested(signature) and \
            isinstance(signature, (dtypes.DType, str)):
        out = m.cast(out, signature) if isinstance(out, Tensor) else out
    return out


def vectorized_map(fn, elems, fallback_to_while_loop=True, warn=True):
    return map_fn(fn, elems)


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False,
         infer_shape=True, reverse=False, name=None):
    """Accumulates fn(acc, x) over elems; returns every intermediate accumulator, stacked."""
    flat, n = _elements(elems, "scan")
    order = list(range(n))
    if reverse:
        order.reverse()
    results = [None] * n
    if initializer is None:
        if n == 0:
            raise InvalidArgumentError("scan: elems is empty and no initializer was given")
        first = order.pop(0)
        acc = nest.pack_sequence_as(elems, [t[first] for t in flat])
        results[first] = acc
    else:
        acc = initializer
    for i in order:
        item = nest.pack_sequence_as(elems, [t[i] for t in flat])
        acc = fn(acc, item)
        results[i] = acc
    if n == 0:
        return nest.map_structure(lambda t: _wrap(np.zeros((0,) + tuple(tensor(t)._value.shape),
                                                           tensor(t)._value.dtype)), initializer)
    return _stack_results(results, "scan")


def _fold(fn, elems, initializer, reverse, op):
    flat, n = _elements(elems, op)
    order = list(range(n))[::-1] if reverse else list(range(n))
    if initializer is None:
        if n == 0:
            raise InvalidArgumentError(f"{op}: elems is empty and no initializer was given")
        first = order.pop(0)
        acc = nest.pack_sequence_as(elems, [t[first] for t in flat])
    else:
        acc = initializer
    for i in order:
        acc = fn(acc, nest.pack_sequence_as(elems, [t[i] for t in flat]))
    return acc


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    return _fold(fn, elems, initializer, False, "foldl")


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    return _fold(fn, elems, initializer, True, "foldr")


# ------------------------------------------------------------------------------------------
# tf.print

def _fmt_float(v):
    """The shortest of %.6g / %.9g (float32) or %.15g / %.17g (float64) that reads back to
    the same value, as TensorFlow prints floats."""
    if isinstance(v, np.float64) or type(v) is float:
        short, full, back = "%.15g", "%.17g", float
    else:
        short, full, back = "%.6g", "%.9g", np.float32
    s = short % v
    return s if not np.isfinite(v) or back(s) == back(v) else full % v


def _fmt_scalar(v, quote=False):
    if isinstance(v, (bytes, np.bytes_)):
        s = v.decode("utf-8", "replace")
        return f'"{s}"' if quote else s
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        return _fmt_float(v)
    return str(v)


def _fmt_array(a, summarize, indent=0):
    if a.ndim == 0:
        return _fmt_scalar(a[()])
    n = a.shape[0]
    idx = list(range(n))
    cut = summarize is not None and summarize >= 0 and n > 2 * summarize
    if cut:
        idx = idx[:summarize] + [None] + idx[n - summarize:]
    if a.ndim == 1:
        parts = ["..." if i is None else _fmt_scalar(a[i], quote=True) for i in idx]
        return "[" + " ".join(parts) + "]"
    sep = "\n" * (a.ndim - 1) + " " * (indent + 1)
    parts = ["..." if i is None else _fmt_array(a[i], summarize, indent + 1) for i in idx]
    return "[" + sep.join(parts) + "]"


def format_value(x, summarize=3):
    """How tf.print shows a value: tensors in NumPy-like brackets, summarized."""
    if isinstance(x, Tensor):
        return _fmt_array(np.asarray(x.numpy()), summarize)
    if isinstance(x, np.ndarray):
        return _fmt_array(x, summarize)
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {format_value(v, summarize)}" for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        inner = ", ".join(format_value(v, summarize) for v in x)
        return f"[{inner}]" if isinstance(x, list) else f"({inner})"
    return str(x)


def _print_kernel(*arrays, template, stream, sep, end, summarize):
    it = iter(arrays)
    texts = []
    for kind, v in template:
        if kind == "t":
            texts.append(_fmt_array(next(it), summarize))
        else:
            texts.append(v)
    target = {"stdout": sys.stdout, "stderr": sys.stderr}.get(stream, stream) \
        if isinstance(stream, str) else stream
    if isinstance(target, str) and target.startswith("file://"):
        with open(target[7:], "a") as f:
            f.write(sep.join(texts) + end)
    else:
        print(sep.join(texts), end=end, file=target)
        if hasattr(target, "flush"):
            target.flush()
    return np.zeros((0,), np.int8)


_print = primitive("print", _print_kernel, stateful=True, no_grad="a side effect, not a function of its inputs")


def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None, **kwargs):
    """`tf.print`: prints tensors (their values, summarized) and Python objects, to stderr by
    default; runs again each time a traced function runs."""
    if kwargs:
        raise TypeError(f"tf.print got unexpected arguments {sorted(kwargs)}")
    stream = sys.stderr if output_stream is None else output_stream
    template, tensors = [], []
    for x in inputs:
        if isinstance(x, Tensor):
            template.append(("t", None))
            tensors.append(tensor(x))
        else:
            template.append(("s", format_value(x, summarize)))
    summ = None if summarize is None or summarize < 0 else int(summarize)
    _print(*tensors, template=tuple(template), stream=stream, sep=sep, end=end, summarize=summ)
    return None


# ------------------------------------------------------------------------------------------
# Asserts and numerics checks (primitives, so a traced graph checks each time it runs)

def _assert_kernel(cond, *data, message, summarize):
    if not np.all(cond):
        shown = [_fmt_array(np.asarray(d), summarize) for d in data]
        raise InvalidArgumentError(" ".join([message] + shown) if shown else message)
    return np.zeros((0,), np.int8)


# stateful (as TensorFlow's Assert and CheckNumerics ops): a graph keeps them although
# nothing uses their result
_assert = primitive("assert", _assert_kernel, stateful=True,
                    no_grad="a side effect, not a function of its inputs")


def Assert(condition, data, summarize=None, name=None):  # noqa: N802 - TensorFlow's name
    """Raises InvalidArgumentError (showing `data`) when condition is false."""
    cond = tensor(condition)
    if cond._value.dtype != np.bool_:
        raise TypeError(f"Assert: condition must be bool, got {cond.dtype.name}")
    strs = [d for d in data if not isinstance(d, Tensor)]
    message = "assertion failed: " + " ".join(str(s) for s in strs) if strs else \
        "assertion failed:"
    tensors = [tensor(d) for d in data if isinstance(d, Tensor)]
    _assert(cond, *tensors, message=message, summarize=3 if summarize is None else summarize)
    return None


def assert_that(condition, message, tensors=(), summarize=3):
    """Checks a bool tensor; raises InvalidArgumentError with message and tensor values."""
    _assert(tensor(condition), *[tensor(t) for t in tensors], message=message,
            summarize=summarize)


def _check_numerics_kernel(x, message):
    if x.dtype.kind in "fc" or x.dtype.name == "bfloat16":
        bad_nan = np.isnan(x).any()
        bad_inf = np.isinf(x).any()
        if bad_nan or bad_inf:
            what = "NaN and Inf" if bad_nan and bad_inf else "NaN" if bad_nan else "Inf"
            raise InvalidArgumentError(f"{message} : Tensor had {what} values")
    return x


_check_numerics = primitive(
    "check_numerics", _check_numerics_kernel, stateful=True,
    grads=(lambda g, o, x, message: _check_numerics(
        g, message="Not a number (NaN) or infinity (Inf) values detected in gradient. "
                   + message),))


def check_numerics(tensor_, message, name=None):
    """Returns tensor_, or raises InvalidArgumentError if it holds NaN or Inf."""
    return _check_numerics(tensor(tensor_), message=str(message))


# ------------------------------------------------------------------------------------------
# Python functions as ops

def py_function(func=None, inp=None, Tout=None, name=None):  # noqa: N803 - TensorFlow's names
    """Runs func(*inp) eagerly on tensors (differentiable through the ops it runs). Inside
    tf.function it is one stateful graph node: func runs each time the graph runs (and the
    node is kept even if nothing uses its result). Without `func` it is a decorator, as in
    TensorFlow: `@tf.py_function(Tout=tf.float32)` makes `f(*inp)`."""
    if func is None:
        def decorate(f):
            import functools

            @functools.wraps(f)
            def wrapper(*args):
                return py_function(f, list(args), Tout, name)
            return wrapper
        return decorate
    if inp is None:
        inp = []
    if _STATE.tracers:
        return _py_function_node(func, inp, Tout)
    out = func(*[tensor(x) if isinstance(x, Tensor) else x for x in inp])
    return _convert_outputs(out, Tout)


def _py_function_kernel(*arrays, func, tout, index, cache):
    """Runs the Python function on tensors with nothing recording (it is the graph node's
    body, not part of the graph); `cache` shares one run between the node's outputs."""
    if index == 0 or "res" not in cache:
        saved = (list(_STATE.observers), list(_STATE.tracers), _STATE.concrete_guard,
                 _STATE.variable_hook)
        _STATE.observers[:] = []
        _STATE.tracers[:] = []
        _STATE.concrete_guard = None
        _STATE.variable_hook = None
        try:
            out = func(*[Tensor._wrap(x) for x in arrays])
            res = _convert_outputs(out, tout)
        finally:
            _STATE.observers[:] = saved[0]
            _STATE.tracers[:] = saved[1]
            _STATE.concrete_guard, _STATE.variable_hook = saved[2], saved[3]
        cache["res"] = res
    res = cache["res"]
    if isinstance(tout, tuple):
        return res[index]._value if tout else np.zeros((0,), np.int8)
    return res._value if res is not None else np.zeros((0,), np.int8)


_py_function = primitive("py_function", _py_function_kernel, stateful=True, runs_python=True,
                         no_grad="a Python function run by the graph (not traced)")


def _py_function_node(func, inp, tout):
    ins = [tensor(x) for x in inp]
    if isinstance(tout, list):
        tout = tuple(tout)
    cache = {}
    if isinstance(tout, tuple):
        outs = [_py_function(*ins, func=func, tout=tout, index=i, cache=cache)
                for i in range(max(len(tout), 1))]
        return outs[:len(tout)]
    out = _py_function(*ins, func=func, tout=tout, index=0, cache=cache)
    return None if tout is None else out


eager_py_func = py_function


def _convert_outputs(out, tout):
    if tout is None:
        return None
    if isinstance(tout, (list, tuple)):
        if not tout and out is None:
            return []
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        if len(outs) != len(tout):
            raise ValueError(f"the function returned {len(outs)} values but Tout lists "
                             f"{len(tout)}")
        return [_to_dtype(o, d) for o, d in zip(outs, tout)]
    return _to_dtype(out, tout)


def _to_dtype(value, dtype):
    d = dtypes.as_dtype(dtype if not hasattr(dtype, "dtype") or isinstance(dtype, dtypes.DType)
                        else dtype.dtype)
    if isinstance(value, Tensor):
        return value if value.dtype == d else m.cast(value, d)
    arr = np.asarray(value)
    if d is not dtypes.string:
        arr = arr.astype(d._np)
    return convert_to_tensor(arr, dtype=d)


def _numpy_function_kernel(*arrays, func, tout, index):
    args = [a_ if a_.ndim else a_[()] for a_ in arrays]
    res = func(*args, _index=index) if isinstance(tout, tuple) else func(*args)
    if isinstance(tout, (list, tuple)):
        res = list(res) if isinstance(res, (list, tuple)) else [res]
        res = res[index]
        d = tout[index]
    else:
        d = tout
    dt = dtypes.as_dtype(d if not hasattr(d, "dtype") or isinstance(d, dtypes.DType) else d.dtype)
    arr = np.asarray(res)
    return arr if dt is dtypes.string else arr.astype(dt._np, copy=False)


_numpy_function = primitive("numpy_function", _numpy_function_kernel, stateful=True,
                            runs_python=True, no_grad="a side effect, not a function of its inputs")


def numpy_function(func, inp, Tout, stateful=True, name=None):  # noqa: N803
    """Runs func on NumPy arrays (not differentiable); its results become tensors."""
    ins = [tensor(x) for x in inp]
    if isinstance(Tout, (list, tuple)):
        # run once, then split: each output is one primitive call reading a cached result
        cache = {}

        def once(*arrays, _index=None, _f=func):
            if _index == 0 or "res" not in cache:  # output 0 always runs first
                cache["res"] = _f(*arrays)
            return cache["res"]
        return [_numpy_function(*ins, func=once, tout=tuple(Tout), index=i)
                for i in range(len(Tout))]
    return _numpy_function(*ins, func=func, tout=Tout, index=0)


py_func = numpy_function


# ------------------------------------------------------------------------------------------
# Gradient clipping

def clip_by_norm(t, clip_norm, axes=None, name=None):
    """Scales t so its L2 norm over `axes` is at most clip_norm."""
    t = tensor(t.values if hasattr(t, "dense_shape") else t)
    l2sum = m.reduce_sum(m.multiply(t, t), axis=axes, keepdims=True)
    pred = m.greater(l2sum, 0)
    l2sum_safe = m.where(pred, l2sum, m.ones_like(l2sum))
    l2norm = m.where(pred, m.sqrt(l2sum_safe), l2sum)
    intermediate = m.multiply(t, clip_norm)
    return m.divide(intermediate, m.maximum(l2norm, clip_norm))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scales every tensor by clip_norm / max(global_norm, clip_norm); returns
    (clipped_list, global_norm). None entries stay None."""
    if not isinstance(t_list, (list, tuple)):
        raise TypeError(f"clip_by_global_norm: t_list should be a sequence, got "
                        f"{type(t_list).__name__}")
    from tenfold.ops.linalg_ops import global_norm
    if use_norm is None:
        use_norm = global_norm(t_list)
    use_norm = tensor(use_norm)
    clip = m.cast(clip_norm, use_norm.dtype)
    scale_for_finite = m.multiply(clip, m.minimum(m.divide(1.0, use_norm), m.divide(1.0, clip)))
    scale = m.add(scale_for_finite, m.subtract(use_norm, use_norm))  # NaN if the norm isn't finite
    out = []
    for t in t_list:
        if t is None:
            out.append(None)
            continue
        v = tensor(t)
        out.append(m.multiply(v, m.cast(scale, v.dtype)))
    return (type(t_list)(out) if isinstance(t_list, tuple) else out), use_norm


def clip_by_average_norm(t, clip_norm, name=None):
    t = tensor(t)
    n = float(max(t._value.size, 1))
    l2norm_inv = m.rsqrt(m.reduce_sum(m.multiply(t, t)))
    return m.multiply(t, m.minimum(m.multiply(clip_norm, m.multiply(l2norm_inv, n)), 1.0))


# ------------------------------------------------------------------------------------------

def no_op(name=None):
    return None


def group(*inputs, **kwargs):
    return None


def timestamp(name=None):
    """Seconds since the epoch, as a float64 scalar."""
    return _timestamp()


_timestamp_prim = primitive("timestamp", lambda: np.asarray(time.time(), np.float64), no_grad="a side effect, not a function of its inputs")


def _timestamp():
    return _timestamp_prim()


def guarantee_const(input, name=None):
    return tensor(input)
