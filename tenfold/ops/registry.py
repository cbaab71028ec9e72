"""The primitive registry: each primitive is declared once, with its kernel and gradient rules.

A primitive is the unit that eager execution, GradientTape, tf.function tracing and export all
read. Everything else in `tenfold.ops` is composed from primitives in Python.

Declaration:

    add = primitive("add", kernel=lambda x, y: x + y,
                    grads=(lambda g, out, x, y: g, lambda g, out, x, y: g))

- `kernel(*arrays, **params)` computes the output from backend arrays; static attributes
  (axis, keepdims, ...) are keyword params. It may raise InvalidArgumentError itself for
  checks NumPy would not make (negative gather indices, say).
- `grads`: one rule per input, `rule(g, out, *inputs, **params)` -> gradient for that input,
  written with tenfold ops (so higher derivatives work). `None` marks an input as
  non-differentiable. A single callable instead of a tuple gives all inputs' gradients at
  once (for variadic primitives such as concat). `grads=None`: not differentiable at all.
  The engine sums each gradient back to its input's shape (un-broadcasting), so rules don't.
"""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError

_new = object.__new__
_ndarray = np.ndarray

# Whoever records ops (GradientTape, tf.function tracing) registers here. Empty on the hot path.
observers = []

REGISTRY = {}


class Primitive:
    __slots__ = ("name", "kernel", "grads", "doc")

    def __init__(self, name, kernel, grads=None, doc=None):
        self.name = name
        self.kernel = kernel
        self.grads = grads
        self.doc = doc

    def __call__(self, *inputs, **params):
        """Runs the kernel on tensors `inputs` (already converted) and records the call."""
        try:
            # the common arities without building an argument list (the eager hot path)
            n = len(inputs)
            if n == 2:
                if params:
                    value = self.kernel(inputs[0]._value, inputs[1]._value, **params)
                else:
                    value = self.kernel(inputs[0]._value, inputs[1]._value)
            elif n == 1:
                if params:
                    value = self.kernel(inputs[0]._value, **params)
                else:
                    value = self.kernel(inputs[0]._value)
            else:
                value = self.kernel(*[t._value for t in inputs], **params)
        except InvalidArgumentError:
            raise
        except (ValueError, IndexError, np.linalg.LinAlgError) as e:
            raise _op_error(self, inputs, params, e) from None
        except TypeError as e:
            raise TypeError(f"{self.name}: {e} (inputs: {_describe(inputs)})") from None
        if type(value) is not _ndarray:
            value = _as_array(value)
        out = _new(Tensor)
        out._value = value
        if observers:
            for o in observers:
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


def _as_array(value):
    if isinstance(value, (np.generic, int, float, bool)):
        return np.asarray(value)
    return value  # a CuPy array


def primitive(name, kernel, grads=None, doc=None):
    """Declares a primitive and registers it by name."""
    if name in REGISTRY:
        raise ValueError(f"primitive {name!r} is declared twice")
    p = Primitive(name, kernel, grads, doc)
    REGISTRY[name] = p
    return p


def _describe(inputs):
    return ", ".join(f"{t.dtype.name}{list(t._value.shape)}" for t in inputs)


def _op_error(prim, inputs, params, err):
    text = str(err)
    if "broadcast" in text and len(inputs) >= 2:
        shapes = " vs. ".join(str(list(t._value.shape)) for t in inputs)
        return InvalidArgumentError(
            f"{prim.name}: incompatible shapes: {shapes}. Elementwise ops broadcast: each "
            f"axis (aligned from the right) must be equal or 1. Reshape or tf.expand_dims "
            f"one operand so the shapes line up.")
    shown = {k: _short_param(v) for k, v in params.items() if not callable(v)}
    extra = f" with {shown}" if shown else ""
    return InvalidArgumentError(
        f"{prim.name} cannot run on inputs {_describe(inputs)}{extra}: {text}")


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
               "string_ops", "conv_ops")


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
