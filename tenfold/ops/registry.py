"""The primitive registry: each primitive is declared once, with everything anyone reads about it.

A primitive is the unit that eager execution, GradientTape, tf.function tracing, the graph
executor, `summary()`'s FLOP count and export all read. Everything else in `tenfold.ops` is
composed from primitives in Python. One declaration holds:

    add = primitive("add", kernel=np.add,
                    grads=(lambda g, out, x, y: g, lambda g, out, x, y: g),
                    flops=elementwise_flops, aliasing="fresh")

- `kernel(*arrays, **params)` computes the output from backend arrays, written against the
  array namespace (`np.*` functions dispatch to other array libraries through NumPy's
  `__array_ufunc__` / `__array_function__` protocols; kernels that create arrays take the
  namespace from `tenfold.backend.get_array_module(x)`). Static attributes (axis,
  keepdims, ...) are keyword params. It may raise InvalidArgumentError itself for checks NumPy
  would not make (negative gather indices, say).
- `kernels`: per-backend kernels, `{backend name: kernel}`, for backends that need their own
  (the default `kernel` serves every other backend).
- `grads`: one rule per input, `rule(g, out, *inputs, **params)` -> gradient for that input,
  written with tenfold ops (so higher derivatives work). `None` marks an input as
  non-differentiable. A single callable instead of a tuple gives all inputs' gradients at
  once (for variadic primitives such as concat). The engine sums each gradient back to its
  input's shape (un-broadcasting), so rules don't.
- `no_grad`: why there is no gradient at all (`grads=None`): `NOT_DIFFERENTIABLE` (piecewise
  constant, comparisons, random draws), `INTEGER_VALUED` (integer or boolean outputs), or a
  sentence of your own. Every primitive has `grads` or a `no_grad` reason.
- `check(*arrays, **params)`: the shape/dtype rule, raising the clear error for bad input
  before the kernel runs, on every backend and in graphs (public ops usually check while
  converting arguments instead).
- `flops(inputs, out, params)`: the arithmetic work of one call (summary()'s FLOPs column);
  `FREE` (no arithmetic: data movement) or `elementwise_flops` (one per element, the default).
- `aliasing`: `"view"` (the output may share memory with the first input: reshape, transpose),
  `"fresh"` (always a newly allocated array the executor may later overwrite), or None
  (unknown: treated as shared).
- `writable_view`: a view op whose output the executor may write into once every buffer it
  shares is dead.
- `shape_only`: the output depends only on the inputs' shapes and dtypes (a graph constant).
- `stateful`: side effects or fresh randomness: never folded or removed, and never reordered
  but for one case (graph/update_overlap.py: a variable assign that no other node before an
  optimizer's update touches may run after it).
- `runs_python`: the kernel calls the user's Python (py_function, numpy_function), which may
  read or write anything: the executor finishes C work left running before it (a stateful
  primitive without it touches only its inputs and the variable in its params).
- `out_kernel(*arrays, out=buffer, **params)`: a NumPy-backend variant writing into a given
  buffer (the executor's in-place planning); with `inplace=True` that buffer may be one of
  its own inputs' (elementwise ops), with a tuple of input positions only those inputs'
  (the executor's chain nodes), else only a dead buffer of the output's shape.
- `bias_kernel(x, b, out=buffer, **params)`: an elementwise primitive applied to x + b, b a
  vector along x's last axis, in one pass, bit for bit the add then the primitive; the
  executor's chain nodes run it for an `add` of such a vector followed by this primitive.
- `inplace_kernel(ref, value, var)`: a variable update that reuses the variable's array when
  nothing else sees it (assign, assign_add, assign_sub).
- `jit_kernel`: (kernel, out_kernel or None), compiled (Numba) variants for graphs compiled
  with `jit_compile=True`.
- `uses_blas`: runs a GEMM (matmul, convolutions): the executor tunes BLAS threads for graphs
  that have one.
- `pool_route`: for gradients that route through 2x2 max pooling's kept argmax, (position of
  the pooling's input y, position of the pooled gradient g); y is read only for its shape.
- `out_spec(*arrays, **params)`: the output's (shape, dtype) without running the kernel, for
  ops whose kernel can fail on values (out-of-range indices): while tracing, a kernel failure
  of any op without side effects is deferred to the graph run, so an unused op fails no more
  than in TensorFlow (which prunes it); its stand-in result has this shape (else the inputs'
  broadcast shape).
- `tf_name`: TensorFlow's op type, for the names of printed graph tensors ("MatMul:0");
  default: the primitive's name in CamelCase (`_TF_OP_NAMES` lists the ones that differ).
- `transfer`: a device copy (its kernel places its output; the only primitives that cross).
- `onnx`: the ONNX operator this primitive lowers to (a name, or a callable building nodes).
- `quiet`: the kernel calls library code written in Python (SciPy's `polygamma`), whose NumPy
  floating-point warnings are attributed to that library, not to tenfold, so the import-time
  filter can't tell them apart from the user's: such a kernel runs under
  `np.errstate(all="ignore")` (about 1 us; ufunc kernels need nothing, see
  framework/numpy_warnings.py).
- `tf_op`: the TensorFlow op this primitive lowers to one-for-one in a GraphDef / SavedModel
  (`"Neg"`, `"AddV2"`, `"Sum"`); primitives needing more than one node have a lowering
  function in `tenfold/export/_tf_graph.py`.
"""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import (InvalidArgumentError, ResourceExhaustedError,
                                      out_of_device_memory)
from tenfold.framework.state import STATE as _STATE
from tenfold.framework import numpy_warnings as _numpy_warnings
import warnings as _warnings

_filters_seen = _numpy_warnings.filters_seen

_new = object.__new__
_ndarray = np.ndarray

REGISTRY = {}

NOT_DIFFERENTIABLE = "not differentiable (piecewise constant, a comparison or a random draw)"
INTEGER_VALUED = "integer-valued (integer or boolean output)"


def FREE(inputs, out, params):  # noqa: N802 - a constant-like marker
    """No arithmetic: the primitive only moves or reinterprets data."""
    return 0


def elementwise_flops(inputs, out, params):
    """One operation per element of the largest operand (the default FLOP count)."""
    n = int(out._value.size)
    for t in inputs:
        s = int(t._value.size)
        if s > n:
            n = s
    return n


_FACTS = ("kernels", "check", "flops", "aliasing", "writable_view", "shape_only", "stateful",
          "runs_python", "out_kernel", "inplace", "bias_kernel", "inplace_kernel", "jit_kernel",
          "uses_blas", "pool_route", "onnx", "tf_op", "no_grad", "transfer", "out_spec",
          "tf_name", "quiet")



# TensorFlow's op type where it is not the primitive's name in CamelCase; binary arithmetic
# takes the name of its Python operator (`a + b` is "add"), the usual way to write it.
_TF_OP_NAMES = {
    "add": "add", "subtract": "sub", "multiply": "mul", "divide": "truediv",
    "floordiv": "floordiv", "floormod": "mod", "pow": "pow", "negative": "Neg",
    "matmul": "MatMul", "reduce_sum": "Sum", "reduce_max": "Max", "reduce_min": "Min",
    "reduce_prod": "Prod", "reduce_any": "Any", "reduce_all": "All", "gather": "GatherV2",
    "gather_nd": "GatherNd", "argmax": "ArgMax", "argmin": "ArgMin", "select": "SelectV2",
    "strided_slice": "strided_slice", "transpose": "transpose", "concat": "concat",
    "random_standard_normal": "random_normal", "random_uniform": "random_uniform",
    "one_hot": "one_hot", "log_softmax": "LogSoftmax", "bias_relu": "Relu",
    "is_nan": "IsNan", "is_inf": "IsInf", "is_finite": "IsFinite", "zeros_like": "zeros_like",
    "ones_like": "ones_like", "unsorted_segment_reduce": "UnsortedSegmentSum",
    "py_function": "EagerPyFunc", "numpy_function": "PyFunc",
}


class Primitive:
    __slots__ = ("name", "kernel", "grads", "doc") + _FACTS

    def __init__(self, name, kernel, grads=None, doc=None, *, kernels=None, check=None,
                 flops=None, aliasing=None, writable_view=False, shape_only=False,
                 stateful=False, runs_python=False, out_kernel=None, inplace=False,
                 bias_kernel=None, inplace_kernel=None, jit_kernel=None, uses_blas=False,
                 pool_route=None, onnx=None, tf_op=None, no_grad=None, transfer=False,
                 out_spec=None, tf_name=None, quiet=False):
        self.name = name
        self.quiet = quiet
        if quiet:
            kernel = _quieted(kernel)
        self.kernel = kernel if check is None else _checked(kernel, check)
        self.grads = grads
        self.doc = doc
        self.kernels = kernels
        self.check = check
        self.flops = flops if flops is not None else elementwise_flops
        if aliasing not in (None, "view", "fresh"):
            raise ValueError(f"primitive {name!r}: aliasing must be 'view', 'fresh' or None, "
                             f"got {aliasing!r}")
        self.aliasing = aliasing
        self.writable_view = writable_view
        self.shape_only = shape_only
        self.stateful = stateful
        self.runs_python = runs_python
        self.out_kernel = out_kernel
        self.inplace = inplace
        self.bias_kernel = bias_kernel
        self.inplace_kernel = inplace_kernel
        self.uses_blas = uses_blas
        self.pool_route = pool_route
        self.jit_kernel = jit_kernel
        self.onnx = onnx
        self.tf_op = tf_op
        self.no_grad = no_grad
        self.transfer = transfer
        self.out_spec = out_spec
        self.tf_name = tf_name if tf_name is not None else _TF_OP_NAMES.get(name)

    def __call__(self, *inputs, **params):
        """Runs the kernel on tensors `inputs` (already converted) and records the call."""
        if _warnings.filters is not _filters_seen[0]:  # replaced by a catch_warnings block
            _numpy_warnings.install()
        n = len(inputs)
        try:
            # the common arities without building an argument list (the eager hot path);
            # one type check sends arrays of other backends to the dispatching path
            if n == 2:
                a = inputs[0]._value
                if type(a) is not _ndarray:
                    return self._call_general(inputs, params)
                if params:
                    value = self.kernel(a, inputs[1]._value, **params)
                else:
                    value = self.kernel(a, inputs[1]._value)
            elif n == 1:
                a = inputs[0]._value
                if type(a) is not _ndarray:
                    return self._call_general(inputs, params)
                if params:
                    value = self.kernel(a, **params)
                else:
                    value = self.kernel(a)
            else:
                arrays = [t._value for t in inputs]
                for a in arrays:
                    if type(a) is not _ndarray:
                        return self._call_general(inputs, params)
                if not n and _STATE.backend is not None:  # creation under tf.device(...)
                    return self._call_general(inputs, params)
                value = self.kernel(*arrays, **params)
        except InvalidArgumentError as e:
            return self._failed(inputs, params, e)
        except (ValueError, IndexError, np.linalg.LinAlgError) as e:
            return self._failed(inputs, params, _op_error(self, inputs, params, e))
        except TypeError as e:
            for t in inputs:  # a later input on another device: dispatch (or the clear error)
                if type(t._value) is not _ndarray:
                    return self._call_general(inputs, params)
            raise _type_error(self, inputs, e) from None
        except (AttributeError, OverflowError) as e:
            # NumPy's object loops call methods of the elements (bytes.arctan2, b"x" * 2**40)
            if not _has_strings(inputs):
                raise
            return self._failed(inputs, params, _string_error(self, inputs))
        except (FloatingPointError, RuntimeWarning):
            # the user's np.seterr(all="raise") or an "error" warnings filter met log(0):
            # TensorFlow computes -inf silently (see framework/numpy_warnings.py)
            if self.stateful:
                raise
            value = _numpy_warnings.rerun_quietly(self.kernel, [t._value for t in inputs],
                                                  params)
        except MemoryError as e:  # NumPy could not allocate: a size check missed it
            if isinstance(e, ResourceExhaustedError):
                raise
            raise _host_oom(self, inputs, e) from None
        if type(value) is not _ndarray:
            value = _as_array(value, self, inputs)
        out = _new(Tensor)
        out._value = value
        obs = _STATE.observers
        if obs:
            for o in obs:
                o.record(self, inputs, out, params)
        return out

    def _failed(self, inputs, params, err):
        """A kernel failed with `err` (already naming this op): raises it, or while tracing
        returns the stand-in output of an op whose failure may be pruned (see
        `_traced_failure`)."""
        if _STATE.tracers:
            out = _traced_failure(self, inputs, params, err)
            if out is not None:
                return out
        raise err from None

    def _call_general(self, inputs, params):
        """Any arity and any backend: checks, dispatches on the inputs' backend, records."""
        from tenfold.framework import device as _device
        arrays = [t._value for t in inputs]
        backend = _device.common_backend(self.name, arrays)
        kernel = self.kernel
        if backend is not None:  # not the default backend
            arrays = _device.placed(self.name, backend, arrays)
            if self.kernels is not None:
                kernel = self.kernels.get(backend.name, kernel)
        elif not inputs and _STATE.backend is not None:  # a creation op under tf.device
            backend = _STATE.backend
        try:
            value = kernel(*arrays, **params)
        except InvalidArgumentError as e:
            return self._failed(inputs, params, e)
        except (ValueError, IndexError, np.linalg.LinAlgError) as e:
            return self._failed(inputs, params, _op_error(self, inputs, params, e))
        except TypeError as e:
            raise _type_error(self, inputs, e) from None
        except (AttributeError, OverflowError) as e:
            if not _has_strings(inputs):
                raise
            return self._failed(inputs, params, _string_error(self, inputs))
        except (FloatingPointError, RuntimeWarning):
            if self.stateful:
                raise
            value = _numpy_warnings.rerun_quietly(kernel, arrays, params)
        except MemoryError as e:  # a device out of memory (CuPy's OutOfMemoryError)
            if isinstance(e, ResourceExhaustedError):
                raise
            if backend is None:
                raise _host_oom(self, inputs, e) from None
            raise out_of_device_memory(self.name, _describe(inputs), backend.device_name(0),
                                       e) from None
        if self.transfer:  # a device copy places its output itself
            pass
        elif backend is not None:
            value = _device.on_backend(self.name, backend, value)
        elif type(value) is not _ndarray:
            value = _as_array(value, self, inputs)
        out = _new(Tensor)
        out._value = value
        obs = _STATE.observers
        if obs:
            for o in obs:
                o.record(self, inputs, out, params)
        return out

    def differentiable_input(self, i):
        g = self.grads
        if g is None:
            return False
        if callable(g):
            return True
        return i < len(g) and g[i] is not None

    def __repr__(self):
        return f"<primitive {self.name}>"


def _traced_failure(prim, inputs, params, err):
    """A kernel failed while tf.function traces. A failure TensorFlow would only meet when the
    graph runs (a value error: out-of-range indices, a bad string, a division by zero, a
    non-invertible matrix) of an op without side effects is deferred: the op gets a stand-in
    result, recorded as usual and marked with the error, and so are the results of ops
    computed from it; the tracer raises it if one reaches an output, a side effect or control
    flow, else the ops are pruned from the graph as TensorFlow prunes them. Shape errors (the
    primitive's `check`, operands that do not broadcast) are TensorFlow's trace-time errors
    and stateful ops always run (TensorFlow keeps them): those raise now (None)."""
    tracers = _STATE.tracers
    inherited = None
    for tr in tracers:
        inherited = tr.poisoned_error(inputs)
        if inherited is not None:
            break
    if inherited is not None:  # ran on a stand-in: the first failure is the one to report
        if prim.stateful:
            raise inherited
        err = inherited
    elif prim.stateful or getattr(err, "static_shape_error", False):
        return None
    arrays = [t._value for t in inputs]
    if inherited is None and prim.check is not None:
        try:
            prim.check(*arrays, **params)
        except Exception:  # noqa: BLE001 - the shape/dtype rule fails: a trace-time error
            return None
    if prim.out_spec is not None:
        shape, dtype = prim.out_spec(*arrays, **params)
    else:  # the result's shape is unknown without running: the inputs' broadcast one
        try:
            shape = np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
        except ValueError:
            shape = ()
        dtype = arrays[0].dtype if arrays else np.float32
        if params.get("dtype") is not None:  # an op given its result's dtype (to_number, ...)
            try:
                dtype = np.dtype(params["dtype"])
            except TypeError:
                pass
    out = _new(Tensor)
    out._value = np.zeros(shape, dtype)
    for o in _STATE.observers:
        o.record(prim, inputs, out, params)
    guessed = prim.out_spec is None or any(tr.is_guessed(t) for tr in tracers for t in inputs)
    for tr in tracers:
        tr.poison(out, err, guessed)
    return out


def _quieted(kernel):
    def quiet_kernel(*arrays, **params):
        with np.errstate(all="ignore"):
            return kernel(*arrays, **params)
    quiet_kernel.__name__ = getattr(kernel, "__name__", "kernel")
    return quiet_kernel


def _checked(kernel, check):
    def checked_kernel(*arrays, **params):
        check(*arrays, **params)
        return kernel(*arrays, **params)
    checked_kernel.__name__ = getattr(kernel, "__name__", "kernel")
    return checked_kernel


def _as_array(value, prim=None, inputs=()):
    if isinstance(value, (np.generic, int, float, bool)):
        return np.asarray(value)
    if isinstance(value, (bytes, str)):  # a 0-d string result: NumPy returns the element
        return np.asarray(value.encode() if isinstance(value, str) else value, dtype=object)
    if prim is not None and inputs:  # another backend's array out of NumPy inputs: mixed
        from tenfold.framework import device as _device
        _device.common_backend(prim.name, [t._value for t in inputs])
    return value


def _type_error(prim, inputs, err):
    from tenfold.framework import device as _device
    _device.common_backend(prim.name, [t._value for t in inputs])  # mixed devices: that error
    if _has_strings(inputs):
        return _string_error(prim, inputs)
    return TypeError(f"{prim.name}: {err} (inputs: {_describe(inputs)})")


def _host_oom(prim, inputs, err):
    return ResourceExhaustedError(f"{prim.name}: OOM when running on inputs "
                                  f"{_describe(inputs)}: {err}")


def _has_strings(inputs):
    return any(getattr(t._value, "dtype", None) == object for t in inputs)


def _string_error(prim, inputs):
    """A numeric kernel met a string tensor: TensorFlow's InvalidArgumentError (its op has
    no string kernel)."""
    return InvalidArgumentError(
        f"{prim.name}: string tensors are not supported (inputs: {_describe(inputs)}); it takes "
        f"numbers. Convert strings with tf.strings.to_number first.")


def primitive(name, kernel, grads=None, doc=None, **facts):
    """Declares a primitive and registers it by name (facts: see the module docstring)."""
    if name in REGISTRY:
        raise ValueError(f"primitive {name!r} is declared twice")
    p = Primitive(name, kernel, grads, doc, **facts)
    REGISTRY[name] = p
    return p


def declare(name_or_prim, **facts):
    """Adds facts to a declared primitive (for primitives made by helpers that don't pass
    them through); returns the primitive."""
    p = REGISTRY[name_or_prim] if isinstance(name_or_prim, str) else name_or_prim
    for k, v in facts.items():
        if k not in _FACTS:
            raise TypeError(f"declare({p.name!r}): unknown fact {k!r}; known: {_FACTS}")
        if k == "quiet" and v and not p.quiet:
            p.kernel = _quieted(p.kernel)
        setattr(p, k, v)
    return p


def active_observers():
    """The objects recording ops in this thread (tapes, tracers): empty on the eager path."""
    return _STATE.observers


def __getattr__(name):
    # `registry.observers`: this thread's list (kept for callers written before it became
    # per-thread state; new code uses active_observers() / state.observing()).
    if name == "observers":
        return _STATE.observers
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _describe(inputs):
    return ", ".join(f"{t.dtype.name}{list(t._value.shape)}" for t in inputs)


def _op_error(prim, inputs, params, err):
    text = str(err)
    if "broadcast" in text and len(inputs) >= 2:
        shapes = " vs. ".join(str(list(t._value.shape)) for t in inputs)
        return _static(InvalidArgumentError(
            f"{prim.name}: incompatible shapes: {shapes}. Elementwise ops broadcast: each "
            f"axis (aligned from the right) must be equal or 1. Reshape or tf.expand_dims "
            f"one operand so the shapes line up."))
    shown = {k: _short_param(v) for k, v in params.items() if not callable(v)}
    extra = f" with {shown}" if shown else ""
    return InvalidArgumentError(
        f"{prim.name} cannot run on inputs {_describe(inputs)}{extra}: {text}")


def _static(err):
    """Marks `err` as a shape error TensorFlow raises while tracing (never deferred)."""
    err.static_shape_error = True
    return err


def _short_param(v):
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def check_same_dtype(op, x, y):
    """Refuses mixed dtypes, as TensorFlow does (no silent promotion between tensors)."""
    if x._value.dtype != y._value.dtype:
        raise InvalidArgumentError(
            f"{op} needs both inputs to have the same dtype, got {x.dtype.name} (shape "
            f"{list(x._value.shape)}) and {y.dtype.name} (shape {list(y._value.shape)}). "
            + _dtype_fix(op, x, y))


def _dtype_fix(op, x, y):
    """The cast to use (the integer input to the float one's dtype) and, for a matmul whose
    first input also needs flattening (uint8 images into a Dense-like matmul), the reshape."""
    kx, ky = x._value.dtype.kind, y._value.dtype.kind
    if kx in "uib" and ky in "fc":
        which, arg, to = "first", "x", y.dtype.name
    elif ky in "uib" and kx in "fc":
        which, arg, to = "second", "y", x.dtype.name
    else:
        return f"Use tf.cast(x, tf.{y.dtype.name}) on one of them."
    cast = f"tf.cast({arg}, tf.{to})"
    text = f"Cast the {which} input: {cast}"
    scaled = cast
    if x._value.dtype.name == "uint8" or y._value.dtype.name == "uint8":
        text += f" (for images, usually {cast} / 255)"
        scaled = f"{cast} / 255"
    text += "."
    xs, ys = x._value.shape, y._value.shape
    if op == "matmul" and which == "first" and len(xs) >= 3 and len(ys) == 2 and \
            xs[-1] != ys[0] and int(_np_prod(xs[1:])) == ys[0]:
        text += (f" Its shape is wrong too: matmul multiplies the last axis of the first "
                 f"input ({xs[-1]}) with the first axis of the second ({ys[0]}), so flatten "
                 f"each sample: tf.reshape(x, [-1, {ys[0]}]). Both together: "
                 f"tf.reshape({scaled}, [-1, {ys[0]}]).")
    return text


def _np_prod(shape):
    out = 1
    for d in shape:
        out *= int(d)
    return out


def is_differentiable_dtype(np_dtype):
    return np_dtype.kind in "fc" or np_dtype.name == "bfloat16"


_OP_MODULES = ("math_ops", "math_extra", "array_ops", "array_extra", "nn_ops", "random_ops",
               "linalg_ops", "segment_ops", "image_ops", "functional_ops", "bitwise_ops",
               "string_ops", "conv_ops", "signal_ops", "fused_ops")


def load_all():
    """Imports every op module, so REGISTRY holds every primitive (for graph loaders and
    exporters that look primitives up by name). Most modules load lazily otherwise."""
    import importlib
    for name in _OP_MODULES:
        try:
            importlib.import_module("tenfold.ops." + name)
        except ImportError:
            if name != "conv_ops":
                raise
    return REGISTRY
