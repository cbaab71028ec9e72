"""The one door from tensors to host NumPy arrays for code above the core.

Code in keras/, data/, train/, summary/, serving/ and export/ computes with tenfold ops; it
brings tensor data to the host only at the edges (writing files, progress-bar logs, summaries,
serving responses, Python control decisions outside graphs). Those places call `to_host`, so
they are easy to find (`grep -rn to_host`) and go through the public conversion
(`Tensor.numpy()`: an error inside tf.function, the backend's explicit transfer otherwise).
"""
import numpy as np


def to_host(value):
    """`value` (a tensor, variable or anything array-like) as a host NumPy array (0-d arrays
    stay arrays, unlike `Tensor.numpy()`'s scalars)."""
    numpy = getattr(value, "numpy", None)
    if numpy is not None and not isinstance(value, np.ndarray):
        return np.asarray(numpy())
    return np.asarray(value)


def to_python(value):
    """A scalar tensor as a Python number (for logs and control decisions on the host)."""
    return to_host(value).reshape(()).item() if np.size(to_host(value)) == 1 else \
        to_host(value).tolist()


def from_host(array):
    """A tensor from host data that did not come from a tensor (index tables built from static
    shapes, Python fill values): through the public conversion, so it lands on the current
    backend."""
    from tenfold.framework.tensor import convert_to_tensor
    return convert_to_tensor(np.asarray(array))


def eager_values(t):
    """The host values of tensor `t` for an eager-only input check (a friendly error before a
    kernel's own), or None while tf.function traces: there the values are not known yet and
    the kernels validate when the graph runs."""
    from tenfold.framework.context import executing_eagerly
    return to_host(t) if executing_eagerly() else None
