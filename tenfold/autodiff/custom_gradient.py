"""`tf.custom_gradient`: a function whose gradient is given by the user.

While `f` runs, gradient tapes are paused (its gradient comes from `grad_fn`, not from its
ops), but other observers (tf.function's tracer) keep seeing its ops. Then one identity-like
primitive per output is recorded whose inputs are f's tensor arguments, the trainable variables
f read, and the output itself; its gradient rule calls `grad_fn`, written with tenfold ops, so
an outer tape can differentiate it again.
"""
import functools

from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.variable import Variable
from tenfold.framework.state import STATE as _STATE
from tenfold.ops.registry import Primitive
from tenfold.util import nest


def _identity_kernel(*xs, index):
    return xs[-1]


class _VariableSpy:
    """Notes the trainable variables the wrapped function reads (records nothing else).
    Variables passed in as arguments are inputs, not captured variables."""

    def __init__(self, argument_ids):
        self.accessed = []
        self._skip = argument_ids

    def record(self, prim, inputs, out, params):
        for t in inputs:
            if isinstance(t, Variable) and t.trainable and id(t) not in self._skip and \
                    all(t is not v for v in self.accessed):
                self.accessed.append(t)


def _as_input(a):
    if isinstance(a, Tensor):
        return a
    try:
        return convert_to_tensor(a)
    except (TypeError, ValueError):
        return None


def _accepts_variables(fn):
    import inspect  # only needed on this path; costly to import with tenfold
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    return any(p.kind == p.VAR_KEYWORD or p.name == "variables" for p in sig.parameters.values())


def custom_gradient(f=None):
    """Decorator: `f(*x)` returns `(y, grad_fn)`; `grad_fn(*dy)` gives the inputs' gradients.

    If f reads trainable variables, grad_fn must accept `variables=` and return
    `(input_grads, variable_grads)`, as in TensorFlow.

    >>> @custom_gradient
    ... def clip_grad(x):
    ...     return tf.identity(x), lambda dy: tf.clip_by_value(dy, -1., 1.)
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        saved = list(_STATE.observers)
        if not saved:  # nothing records: just the forward value
            return f(*args, **kwargs)[0]
        from tenfold.autodiff.tape import GradientTape
        spy = _VariableSpy({id(a) for a in nest.flatten(args) if isinstance(a, Variable)})
        _STATE.observers[:] = [o for o in saved if not isinstance(o, GradientTape)] + [spy]
        try:
            result, grad_fn = f(*args, **kwargs)
        finally:
            _STATE.observers[:] = saved
        accessed = spy.accessed
        if accessed and not _accepts_variables(grad_fn):
            raise TypeError(f"@custom_gradient function {getattr(f, '__name__', f)!r} reads "
                            f"variables ({', '.join(v.name for v in accessed)}), so its "
                            f"grad_fn must accept a keyword argument 'variables' and return "
                            f"(input_grads, variable_grads).")
        inputs = [t for t in (_as_input(a) for a in nest.flatten(args)) if t is not None]
        flat_out = [convert_to_tensor(y) for y in nest.flatten(result)]
        n_in = len(inputs)
        all_inputs = inputs + accessed

        def grads_all(g, out, *ins, index, _n=len(flat_out)):
            from tenfold.ops import array_ops
            dys = [array_ops.zeros_like(flat_out[i]) if i != index else g for i in range(_n)]
            if accessed:
                in_grads, var_grads = grad_fn(*dys, variables=accessed)
                in_grads = list(in_grads) if isinstance(in_grads, (list, tuple)) else [in_grads]
                var_grads = list(var_grads)
                if len(var_grads) != len(accessed):
                    raise ValueError(f"custom_gradient: grad_fn returned {len(var_grads)} "
                                     f"variable gradients for {len(accessed)} variables")
                return in_grads[:n_in] + [None] * (n_in - len(in_grads)) + var_grads + [None]
            res = grad_fn(*dys)
            res = list(res) if isinstance(res, (list, tuple)) else [res]
            if len(res) < n_in:
                res += [None] * (n_in - len(res))
            return res[:n_in] + [None]

        prim = Primitive("custom_gradient", _identity_kernel, grads=grads_all, aliasing="view")
        outs = []
        for i, y in enumerate(flat_out):
            out = Tensor._wrap(y._value)
            for o in _STATE.observers:
                o.record(prim, all_inputs + [y], out, {"index": i})
            outs.append(out)
        return nest.pack_sequence_as(result, outs)

    return wrapped


def recompute_grad(f):
    """Kept for code that wraps layers with it: gradients are the same, memory is not saved."""
    return f
