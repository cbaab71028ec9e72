"""An argument fuzzer over every public op of `import tenfold as tf` and its op namespaces.

Arguments are drawn from each op's signature: a parameter's name (and default) picks a
hostile-leaning Hypothesis strategy (tensors with 0-size dims, NaN/inf, odd dtypes; axes and
sizes that are negative, zero or huge; index lists of the wrong length). Each call ends in one
outcome class:

- ``ok``: a result (its tensors are materialised, and a few cheap oracles check values);
- ``clear``: an error a user can act on: a `tf.errors.OpError` (InvalidArgumentError,
  ResourceExhaustedError, ...), or a TypeError/ValueError/NotImplementedError raised by tenfold
  whose message names the op (or starts with the name of the tenfold op it delegated to);
- ``foreign``: anything else (ZeroDivisionError, IndexError, OverflowError, KeyError, NumPy's own
  ValueError/MemoryError, a message that names nothing);
- ``wrong``: a result that an oracle rejects (silently wrong numbers or shape);
- ``warns``: a NumPy RuntimeWarning ("divide by zero encountered in log") reached the user,
  whose warning filters are Python's defaults plus what `import tenfold` installs
  (tenfold/framework/numpy_warnings.py); TensorFlow's kernels never warn;
- ``crash`` / ``timeout``: only the subprocess runner (`tools/fuzz_ops.py`) can see these.

Used by tests/core/test_op_fuzz.py (a fixed number of examples per op) and tools/fuzz_ops.py.
"""
import inspect
import math
import os
import re
import traceback
import warnings

import numpy as np
from hypothesis import strategies as st

import tenfold as tf
from tenfold.framework import errors as _errors
from tenfold.framework import numpy_warnings as _numpy_warnings

NAMESPACES = ("", "math", "nn", "linalg", "image", "signal", "strings", "sparse", "random",
              "bitwise", "dtypes", "debugging")

# Not ops over tensor arguments: higher-order functions (they take Python callables), context
# managers, process-wide settings, classes, and helpers that only print or time.
EXCLUDED = {
    "function", "cond", "while_loop", "case", "switch_case", "map_fn", "vectorized_map", "scan",
    "foldl", "foldr", "py_function", "numpy_function", "custom_gradient", "recompute_grad",
    "device", "name_scope", "init_scope", "control_dependencies", "executing_eagerly",
    "gradients", "hessians", "get_logger", "print", "no_op", "group", "timestamp",
    "random.set_seed", "random.set_global_generator", "random.get_global_generator",
    "debugging.set_log_device_placement", "debugging.get_log_device_placement",
    "debugging.enable_check_numerics", "debugging.disable_check_numerics",
    "debugging.assert_proper_iterable", "Assert",
}

TENSOR_NAMES = {
    "x", "y", "a", "b", "input", "inputs", "tensor", "input_tensor", "params", "value", "values",
    "logits", "labels", "features", "image", "images", "img", "img1", "img2", "data", "t", "z",
    "signal", "condition", "mask", "predictions", "targets", "tensors", "matrix", "rhs", "diagonal",
    "filters", "filter", "updates", "segment_ids", "arr", "weights", "bias", "mean", "variance",
    "offset", "scale", "sp_input", "sp_a", "sp_b", "input_a", "input_b", "coeffs", "q", "v",
    "num", "x1", "x2", "s", "source", "pattern", "rewrite", "boxes", "dense", "chol",
    "superdiag", "maindiag", "subdiag", "diagonals", "sorted_sequence", "max_values",
    "random_seed", "k_tensor", "tensor_list", "inputs_list", "contrast_factor", "delta",
}
INT_NAMES = {
    "axis", "dim", "batch_dims", "k", "depth", "num", "num_classes", "num_segments",
    "block_size", "frame_length", "frame_step", "fft_length", "window_length", "minlength",
    "maxlength", "num_lower", "num_upper", "len", "pos", "nbins", "num_samples", "seed",
    "offset_height", "offset_width", "target_height", "target_width", "maxval", "minval",
    "limit", "start", "delta", "seq_axis", "batch_axis", "n", "num_or_size_splits", "size",
    "rate", "dilations", "multiples", "strides", "ksize", "pool_size", "out_idx", "reps",
    "repeats", "count", "order", "ord", "length",
}
SHAPE_NAMES = {
    "shape", "dims", "begin", "end", "size", "perm", "strides", "multiples", "paddings",
    "ksize", "dense_shape", "output_shape", "new_shape", "target_shape", "sizes", "axes",
    "output_size", "crop_size", "indices", "ellipsis_mask", "shape_x", "shape_y", "s0", "s1",
}
STRING_VALUES = ["SAME", "VALID", "NHWC", "NCHW", "bilinear", "nearest", "bicubic", "area",
                 "lanczos3", "CONSTANT", "REFLECT", "SYMMETRIC", "euclidean", "fro", "UTF-8",
                 "", "bogus", "(a*)*b", "[", "a|b", "\\d+", "abc"]

DTYPES = ["float32", "float64", "float16", "int32", "int64", "int8", "uint8", "bool"]
HUGE_INTS = [2 ** 31 - 1, 2 ** 31, 2 ** 32 + 3, 2 ** 40, 2 ** 62, -2 ** 31, -2 ** 40]
SPECIAL_FLOATS = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e300, -1e300,
                  3e9, -3e9, 1e-300]


def public_ops():
    """[(qualified name, function)] of every public op, each function once (first name wins)."""
    seen, out = set(), []
    for ns in NAMESPACES:
        mod = tf if not ns else getattr(tf, ns)
        names = sorted(n for n in dir(mod) if not n.startswith("_")
                       and not (mod is tf and n in tf._LAZY))  # namespaces, not ops
        extra = []
        if ns == "math":  # tf.math.special.*
            extra = [("math.special." + n, getattr(tf.math.special, n))
                     for n in sorted(vars(tf.math.special))]
        for qual, fn in [((ns + "." if ns else "") + n, None) for n in names] + extra:
            short = qual.rsplit(".", 1)[-1]
            if fn is None:
                try:
                    fn = getattr(mod, short)
                except (AttributeError, ImportError):
                    continue
            if not inspect.isfunction(fn) or not fn.__module__.startswith("tenfold"):
                continue
            if qual in EXCLUDED or short in EXCLUDED or id(fn) in seen:
                continue
            if fn.__module__.startswith(("tenfold.keras", "tenfold.data", "tenfold.graph",
                                         "tenfold.summary", "tenfold.train")):
                continue
            seen.add(id(fn))
            out.append((qual, fn))
    return out


# -- strategies -------------------------------------------------------------------------------

def _shapes(max_rank=4, max_dim=4):
    return st.lists(st.integers(0, max_dim), min_size=0, max_size=max_rank)


STRINGS = ["", "a", "hello world", "a" * 40 + "c", "1.5", "-7", "nan", "\u00e9t\u00e9", "x\x00y"]


@st.composite
def string_tensors(draw):
    shape = draw(st.lists(st.integers(1, 3), max_size=2))
    n = int(np.prod(shape)) if shape else 1
    vals = draw(st.lists(st.sampled_from(STRINGS + ["a" * 40 + "c"] * 3), min_size=n,
                         max_size=n))
    return tf.constant(np.array([v.encode() for v in vals], dtype=object).reshape(shape))


@st.composite
def tensors(draw, dtype=None):
    if dtype is None and draw(st.integers(0, 9)) == 0:
        return draw(string_tensors())
    shape = draw(_shapes())
    dt = dtype or draw(st.sampled_from(DTYPES + ["float32", "float32", "int32"]))
    n = int(np.prod(shape)) if shape else 1
    if dt == "bool":
        vals = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif dt.startswith(("int", "uint")):
        info = np.iinfo(dt)
        vals = draw(st.lists(st.one_of(st.integers(-3, 5),
                                       st.sampled_from([int(info.min), int(info.max)])),
                             min_size=n, max_size=n))
        vals = [min(max(v, int(info.min)), int(info.max)) for v in vals]
    else:
        vals = draw(st.lists(st.one_of(st.floats(-4, 4, width=32),
                                       st.sampled_from(SPECIAL_FLOATS[:5])),
                             min_size=n, max_size=n))
    with np.errstate(all="ignore"):
        arr = np.array(vals, dtype=dt).reshape(shape)
    if draw(st.integers(0, 5)) == 0:
        return arr  # a NumPy array, as users pass them
    return tf.constant(arr)


def ints():
    return st.one_of(st.integers(-3, 5), st.integers(-3, 5), st.sampled_from(HUGE_INTS))


def int_lists():
    return st.one_of(
        st.lists(st.integers(-3, 5), max_size=5),
        st.lists(st.one_of(st.integers(-3, 5), st.sampled_from(HUGE_INTS)), min_size=1,
                 max_size=4),
        st.lists(st.lists(st.integers(-2, 4), min_size=2, max_size=2), max_size=4))


def floats():
    return st.one_of(st.floats(-5, 5), st.sampled_from(SPECIAL_FLOATS))


def anything():
    return st.one_of(tensors(), ints(), int_lists(), floats(), st.none(),
                     st.sampled_from(DTYPES), st.sampled_from(STRING_VALUES))


def strategy_for(param):
    """A strategy for one parameter, from its name and default."""
    name, default = param.name, param.default
    has_default = default is not inspect.Parameter.empty
    if name == "name":
        return st.just(None)
    if name in ("dtype", "out_type", "output_type", "output_dtype", "index_dtype", "type"):
        base = st.sampled_from(DTYPES + ["string", "complex64"])
    elif isinstance(default, bool):
        base = st.booleans()
    elif isinstance(default, str) or name in ("padding", "data_format", "method", "mode",
                                              "pattern", "rewrite", "sep", "separator",
                                              "encoding", "unit", "reduction"):
        base = st.sampled_from(STRING_VALUES + ([default] if isinstance(default, str) else []))
        if name == "pattern":  # catastrophic for a backtracking engine on "aaa...c"
            base = st.one_of(st.just("(a*)*b"), base)
    elif isinstance(default, float):
        base = floats()
    elif isinstance(default, int) or name in INT_NAMES:
        base = st.one_of(ints(), int_lists()) if name in SHAPE_NAMES else ints()
    elif name in SHAPE_NAMES:
        base = st.one_of(int_lists(), tensors("int32"))
    elif name in TENSOR_NAMES or not has_default:
        base = st.one_of(tensors(), tensors(), tensors(), ints(), floats(), int_lists())
    else:
        base = anything()
    if has_default:
        return st.one_of(st.just(_KEEP), st.just(_KEEP), base)
    return base


_KEEP = object()  # leave the parameter at its default


@st.composite
def call_args(draw, fn):
    """(args, kwargs) for one call of fn."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return (), {}
    args, kwargs = [], {}
    strings_op = fn.__module__.endswith("string_ops")
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            args += draw(st.lists(st.one_of(tensors(), ints()), max_size=3))
            continue
        if p.kind == p.VAR_KEYWORD:
            continue
        if strings_op and p.name in ("input", "inputs", "template") and draw(st.booleans()):
            v = draw(string_tensors())
        else:
            v = draw(strategy_for(p))
        if v is _KEEP:
            if p.kind == p.POSITIONAL_ONLY:
                break
            continue
        if p.kind == p.POSITIONAL_ONLY:
            args.append(v)
        else:
            kwargs[p.name] = v
    # list-of-tensors ops (concat, stack, add_n, ...) get lists half the time
    for key in ("values", "inputs", "tensors", "tensor_list"):
        if key in kwargs and draw(st.booleans()):
            kwargs[key] = draw(st.lists(tensors(), min_size=0, max_size=3))
    return tuple(args), kwargs


# -- outcome classes --------------------------------------------------------------------------

ALL_OP_NAMES = None


def _op_names():
    global ALL_OP_NAMES
    if ALL_OP_NAMES is None:
        names = set()
        for qual, fn in public_ops():
            names.add(qual.rsplit(".", 1)[-1])
            names.add(fn.__name__.strip("_"))
        from tenfold.ops import registry
        names.update(registry.REGISTRY)  # primitives name themselves in kernel errors
        ALL_OP_NAMES = names
    return ALL_OP_NAMES


_LEAD = re.compile(r"^\s*(?:tf\.)?([A-Za-z_][\w.]*)(?:\s*[:(]|'s |\s+(?:expects|needs|"
                   r"requires|does not|must|got|cannot|can't)\b)")
_TENFOLD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(tf.__file__)))


def _raised_in_tenfold(exc):
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    fname = os.path.abspath(last.tb_frame.f_code.co_filename)
    return fname.startswith(os.path.join(_TENFOLD_DIR, "tenfold"))


def names_op(message, qual, fn):
    """Whether an error message names the op (or the tenfold op it delegated to)."""
    short = qual.rsplit(".", 1)[-1]
    candidates = {short, qual, fn.__name__.strip("_")}
    if any(re.search(r"(?<![\w])" + re.escape(c) + r"(?![\w])", message) for c in candidates):
        return True
    m = _LEAD.match(message)
    return bool(m and m.group(1).rsplit(".", 1)[-1] in _op_names())


def classify_exception(exc, qual, fn):
    """'clear' or 'foreign' for an exception raised by calling op `qual`."""
    if isinstance(exc, _errors.OpError):
        return "clear" if str(exc).strip() else "foreign"
    if type(exc) in (TypeError, ValueError, NotImplementedError) or isinstance(
            exc, _errors.OperatorNotAllowedInGraphError):
        if _raised_in_tenfold(exc) and names_op(str(exc), qual, fn):
            return "clear"
    return "foreign"


def _materialise(result):
    if isinstance(result, tf.Tensor) or hasattr(result, "numpy"):
        try:
            arr = result.numpy()
        except AttributeError:
            return
        with np.errstate(all="ignore"):  # the fuzzer's own arithmetic
            np.asarray(arr).sum() if np.asarray(arr).dtype.kind in "biufc" else None
    elif isinstance(result, (list, tuple)):
        for r in result:
            _materialise(r)
    elif isinstance(result, dict):
        for r in result.values():
            _materialise(r)
    else:
        for attr in ("indices", "values", "dense_shape"):
            if hasattr(result, attr):
                _materialise(getattr(result, attr))


def _np(v):
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v)


def _arg(sig_fn, args, kwargs, name, default=None):
    try:
        bound = inspect.signature(sig_fn).bind_partial(*args, **kwargs)
    except TypeError:
        return default
    return bound.arguments.get(name, default)


# Oracles: cheap checks of documented results, (fn, args, kwargs, result) -> None or a complaint.
def _oracle_shape_from(arg):
    def check(fn, args, kwargs, out):
        shape = _arg(fn, args, kwargs, arg)
        want = [int(d) for d in np.ravel(_np(shape))]
        got = list(_np(out).shape)
        if got != want:
            return f"shape {got}, wanted {want}"
    return check


def _oracle_saturate(fn, args, kwargs, out):
    x = _np(_arg(fn, args, kwargs, "value"))
    y = _np(out)
    if y.dtype.kind in "iu" and x.dtype.kind == "f":
        with np.errstate(all="ignore"):
            fin = np.isfinite(x)
            lo, hi = np.iinfo(y.dtype).min, np.iinfo(y.dtype).max
            expect = np.clip(x[fin], lo, hi)
            if not np.all(np.sign(y[fin]) == np.sign(np.trunc(expect)).astype(y.dtype)):
                return "sign flipped by saturate_cast"


def _oracle_range(fn, args, kwargs, out):
    y = _np(out)
    if y.ndim != 1:
        return f"range gave rank {y.ndim}"
    if y.size > 1 and y.dtype.kind in "iu":
        d = np.diff(y.astype(object))
        if len(set(d.tolist())) > 1:
            return "range wrapped around"


def _oracle_elementwise(npfn):
    def check(fn, args, kwargs, out):
        x = _arg(fn, args, kwargs, "x")
        if x is None:
            return
        # the input as the op sees it: Python numbers become float32/int32 tensors first
        xa, y = _np(tf.convert_to_tensor(x)), _np(out)
        if xa.dtype.kind not in "fiu" or xa.dtype == np.float16:
            return
        with np.errstate(all="ignore"):
            want = npfn(xa)
        if y.shape != want.shape:
            return f"shape {y.shape}, wanted {want.shape}"
        if not np.allclose(y.astype(np.float64), want.astype(np.float64), equal_nan=True,
                           rtol=1e-5, atol=1e-6):
            return "values differ from NumPy"
    return check


def _oracle_uniform(fn, args, kwargs, out):
    y = _np(out)
    lo = _arg(fn, args, kwargs, "minval", 0)
    hi = _arg(fn, args, kwargs, "maxval", None)
    if y.dtype.kind in "iu" and y.size and hi is not None and np.ndim(_np(hi)) == 0 \
            and np.ndim(_np(lo)) == 0:
        lo, hi = int(_np(lo)), int(_np(hi))
        if y.min() < lo or y.max() >= hi:
            return f"uniform ints outside [{lo}, {hi})"


def _oracle_transpose(fn, args, kwargs, out):
    perm = _arg(fn, args, kwargs, "perm")
    x = _np(_arg(fn, args, kwargs, "a"))
    if perm is None:
        want = x.transpose().shape
    else:
        p = [int(v) for v in np.ravel(_np(perm))]
        if sorted(p) != list(range(x.ndim)):
            return f"accepted perm {p} for rank {x.ndim}"
        want = x.transpose(p).shape
    if _np(out).shape != want:
        return f"shape {_np(out).shape}, wanted {want}"


ORACLES = {
    "zeros": _oracle_shape_from("shape"), "ones": _oracle_shape_from("shape"),
    "fill": _oracle_shape_from("dims"), "saturate_cast": _oracle_saturate,
    "range": _oracle_range, "abs": _oracle_elementwise(np.abs),
    "negative": _oracle_elementwise(np.negative), "square": _oracle_elementwise(np.square),
    "floor": _oracle_elementwise(np.floor), "ceil": _oracle_elementwise(np.ceil),
    "random.uniform": _oracle_uniform, "transpose": _oracle_transpose,
}


def _warned(log):
    """'warns' and where, if a RuntimeWarning reached the user."""
    for w in log:
        if issubclass(w.category, RuntimeWarning):
            return "warns", (f"{w.category.__name__}: {w.message}  [at "
                             f"{os.path.basename(w.filename)}:{w.lineno}]")
    return None


def run_case(qual, fn, args, kwargs):
    """Calls the op; returns (outcome class, detail)."""
    with warnings.catch_warnings(record=True) as log:
        warnings.resetwarnings()  # a user's default settings...
        _numpy_warnings.install()  # ...with what `import tenfold` adds
        warnings.simplefilter("always", RuntimeWarning, append=True)  # each, not once a place
        try:
            out = fn(*args, **kwargs)
            _materialise(out)
        except RecursionError as e:
            return "foreign", f"RecursionError: {str(e)[:200]}"
        except Exception as e:  # noqa: BLE001 - classifying every exception is the point
            cls = classify_exception(e, qual, fn)
            detail = f"{type(e).__name__}: {str(e)[:300]}"
            if cls == "foreign":
                frames = traceback.extract_tb(e.__traceback__)
                if frames:
                    f = frames[-1]
                    detail += f"  [at {os.path.basename(f.filename)}:{f.lineno}]"
            return (_warned(log) or (cls, detail)) if cls == "clear" else (cls, detail)
    warned = _warned(log)
    if warned:
        return warned
    oracle = ORACLES.get(qual)
    if oracle is not None:
        try:
            with np.errstate(all="ignore"):
                complaint = oracle(fn, args, kwargs, out)
        except Exception:  # noqa: BLE001 - an oracle that can't read the case says nothing
            complaint = None
        if complaint:
            return "wrong", complaint
    return "ok", ""


def describe(args, kwargs):
    def short(v):
        if isinstance(v, tf.Tensor):
            return f"<tensor {v.dtype.name}{list(v.shape)}>"
        if isinstance(v, np.ndarray):
            return f"<ndarray {v.dtype}{list(v.shape)}>"
        r = repr(v)
        return r if len(r) < 60 else r[:57] + "..."
    parts = [short(a) for a in args] + [f"{k}={short(v)}" for k, v in kwargs.items()
                                        if not (k == "name" and v is None)]
    return ", ".join(parts)


def max_tensor_bytes_for_fuzzing():
    """The size limit fuzzing sets (small, so a missed check can't eat the machine)."""
    return 1 << 28


__all__ = ["public_ops", "call_args", "run_case", "classify_exception", "describe",
           "ORACLES"]
