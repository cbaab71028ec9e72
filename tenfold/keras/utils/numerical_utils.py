"""`to_categorical` and `normalize` (NumPy in, NumPy out, as Keras)."""
import numpy as np
from tenfold.framework.host import to_host


def to_categorical(x, num_classes=None):
    """One-hot encodes integer class labels: `to_categorical([0, 2], 3)` ->
    `[[1, 0, 0], [0, 0, 1]]` (float32). A trailing axis of size 1 is dropped first."""
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = to_host(x)
    x = np.array(x, dtype="int64")
    input_shape = x.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    x = x.reshape(-1)
    if x.size and x.min() < 0:
        raise ValueError(f"to_categorical expects non-negative class indices; got {x.min()}.")
    if not num_classes:
        num_classes = int(np.max(x)) + 1 if x.size else 0
    elif x.size and x.max() >= num_classes:
        raise ValueError(f"to_categorical got class index {int(x.max())} but "
                         f"num_classes={num_classes}: indices must be < num_classes.")
    n = x.shape[0]
    categorical = np.zeros((n, num_classes), dtype="float32")
    categorical[np.arange(n), x] = 1
    return categorical.reshape(input_shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Scales `x` to unit `order`-norm along `axis` (zero vectors stay zero)."""
    from tenfold.framework.tensor import Tensor
    if isinstance(x, Tensor):
        from tenfold.ops import math_ops
        from tenfold.ops.composite import norm
        n = norm(x, ord=order, axis=axis, keepdims=True)
        return math_ops.div_no_nan(x, n)
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    axis = axis or -1
    return x / np.expand_dims(norm, axis)
