"""Side effects inside graphs: variable assignments and reads, and opaque stateful calls.

While a tracer records, `Variable.assign`, `assign_add`, `assign_sub` and `read_value` call
`variable_hook` (installed in this thread's `STATE.variable_hook`), which runs them as the
primitives below, so they are recorded with their inputs and kept in program order.

`stateful_call(name, fn, tensors)` records any Python function on arrays with side effects as
one graph node (the Keras optimizers' in-place update uses it): it runs now, and again each
time the graph runs.
"""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import registry
from tenfold.ops.registry import primitive
from tenfold.backend import numpy_out as _out
from tenfold.graph.graph import MultiOp

_wrap = Tensor._wrap


def _assign_kernel(ref, value, var):
    new = value.copy()
    var._value = new
    return new


def _assign_add_kernel(ref, value, var):
    new = np.add(ref, value, out=np.empty_like(ref))
    var._value = new
    return new


def _assign_sub_kernel(ref, value, var):
    new = np.subtract(ref, value, out=np.empty_like(ref))
    var._value = new
    return new


# Assignments replace the variable's array (copy on write, as eager execution does); the
# executor turns them into in-place updates where no other tensor can see the old array.
_EFFECT = "a side effect, not a function of its inputs"
assign = primitive("assign", _assign_kernel, stateful=True, no_grad=_EFFECT,
                   inplace_kernel=_out.assign_inplace)
assign_add = primitive("assign_add", _assign_add_kernel, stateful=True, no_grad=_EFFECT,
                       inplace_kernel=_out.assign_add_inplace)
assign_sub = primitive("assign_sub", _assign_sub_kernel, stateful=True, no_grad=_EFFECT,
                       inplace_kernel=_out.assign_sub_inplace)


def read_value(var):
    """A recorded snapshot of a variable (identity copies)."""
    return registry.REGISTRY["identity"](var)


def variable_hook(var, op, value, array):
    """Called by Variable methods while tracing (see tenfold/framework/variable.py)."""
    from tenfold.graph.tracer import current_tracer
    tracer = current_tracer()
    if op == "read_value":
        return read_value(var)
    if tracer is not None:
        tracer.note_assign(var)
    vt = None
    if isinstance(value, Tensor) and type(value) is Tensor and value._value is array:
        vt = value
    elif tracer is not None:
        vt = tracer.tensor_for_array(array)
    if vt is None:
        vt = _wrap(array)
    registry.REGISTRY[op](var, vt, var=var)
    return var


def stateful_call(name, fn, tensors, n_outputs=0, may_leave_running=False, writes=None):
    """Runs `fn(list_of_arrays)` now and records it as one stateful graph node.

    `fn` returns None (when `n_outputs` is 0) or a list of `n_outputs` arrays.
    `may_leave_running`: fn may leave C work running on the pool when the executor allows it
    (an optimizer's update: backend/native_pool.start); the executor then guards the nodes
    after it and joins the work before anything reads what it touches.
    `writes`: the Variables fn writes, where it declares them (the executor may then move
    nodes touching none of them past the call: graph/update_overlap.py).
    """
    def kernel(*arrays):
        out = fn(list(arrays))
        return [] if n_outputs == 0 else list(out)
    ids = None
    if writes is not None:
        from tenfold.graph.update_overlap import variable_ids
        ids = frozenset(i for v in writes for i in variable_ids(v))
    return MultiOp(name, kernel, stateful=True, may_leave_running=may_leave_running,
                   writes=ids)(*tensors)


def recording():
    """True while a tf.function is being traced in this thread."""
    from tenfold.graph.tracer import active_tracers
    return bool(active_tracers())
