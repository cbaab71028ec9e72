"""Backend buffers of variables and tensors, for stateful fused kernels.

Some updates are faster as one in-place kernel over a variable's backend array than as a chain
of ops: the Keras optimizers' update step, the dynamic loss scale, Keras seed generators. Such a
kernel runs as one opaque stateful node inside tf.function (`tenfold.graph.effects`); these
functions are the sanctioned way for code above the core to reach the arrays it works on, so
no module outside the core touches `Tensor._value`. Everything else computes with ops.

- `variable_buffer(var)`: the array holding `var`'s value; a kernel may update it in place.
- `assign_buffer(var, array)`: makes `array` (same shape and dtype) the variable's value,
  without recording an op (for use inside a stateful kernel, or to restore a snapshot).
- `tensor_buffer(t)`: the array of a tensor (a gradient handed to a fused kernel); read-only.
- `from_buffer(array)`: a tensor wrapping a backend array (no copy).
"""
from tenfold.framework.tensor import Tensor


def variable_buffer(var):
    return var._value


def assign_buffer(var, array):
    var._value = array


def tensor_buffer(t):
    return t._value


def from_buffer(array):
    return Tensor._wrap(array)


def increment_buffer(var, amount=1):
    """`var`'s array += amount, in place where the array allows it (counters such as an
    optimizer's iteration count, bumped inside a stateful kernel)."""
    buf = var._value
    buf += amount
    var._value = buf


def array_of(x):
    """A tensor's (or variable's) backend array; anything else unchanged (tf.data carries
    arrays between its stages)."""
    return x._value if isinstance(x, Tensor) else x
