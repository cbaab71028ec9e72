"""`tf.IndexedSlices`: a sparse representation of a dense tensor by rows, `dense[indices[i]]
+= values[i]` (repeated indices add up). As in TensorFlow, it is what `GradientTape.gradient`
returns for a variable read with `tf.gather` (an `Embedding` lookup), and
`tf.convert_to_tensor` (or any op taking it) makes it dense."""
import numpy as np

from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.tensor_shape import TensorShape


class IndexedSlices:
    """`IndexedSlices(values, indices, dense_shape=None)` (as `tf.IndexedSlices`)."""

    def __init__(self, values, indices, dense_shape=None):
        self.values = convert_to_tensor(values)
        self.indices = convert_to_tensor(indices)
        if self.indices.dtype.name not in ("int32", "int64"):
            raise TypeError(f"IndexedSlices: indices must be int32 or int64, got "
                            f"{self.indices.dtype.name}")
        # the shape as Python ints where it was given as such (known while tracing, too)
        self._static_shape_value = None
        if dense_shape is None or isinstance(dense_shape, Tensor):
            self.dense_shape = dense_shape
        else:
            dims = tuple(int(d) for d in list(dense_shape))
            self._static_shape_value = dims
            self.dense_shape = convert_to_tensor(np.array(dims, np.int32))

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self):
        if self.dense_shape is None:
            return TensorShape([None] + list(self.values.shape)[1:])
        return TensorShape(list(self._static_shape("shape")))

    @property
    def device(self):
        return self.values.device

    def _static_shape(self, what):
        if self._static_shape_value is not None:
            return self._static_shape_value
        if self.dense_shape is None:
            raise ValueError(f"IndexedSlices.{what} needs dense_shape: build it as "
                             "tf.IndexedSlices(values, indices, dense_shape).")
        return tuple(int(d) for d in self.dense_shape.numpy())

    def to_dense(self):
        """The dense tensor: rows of `values` summed into `indices` (repeats add)."""
        from tenfold.framework.hooks import array_ops  # installed by tenfold.ops
        shape = self._static_shape("to_dense")
        return array_ops.unsorted_rows_sum(self.values, self.indices, shape)

    def __tf_tensor__(self, dtype=None, name=None):
        dense = self.to_dense()
        if dtype is not None and dense.dtype != dtype:
            from tenfold.framework.hooks import math_ops
            dense = math_ops.cast(dense, dtype)
        return dense

    def __array__(self, dtype=None, copy=None):
        arr = self.to_dense().numpy()
        return arr if dtype is None else arr.astype(dtype)

    def numpy(self):
        return self.to_dense().numpy()

    def __neg__(self):
        from tenfold.framework.hooks import math_ops
        return IndexedSlices(math_ops.negative(self.values), self.indices, self.dense_shape)

    def __repr__(self):
        return (f"IndexedSlices(indices={self.indices!r}, values={self.values!r}, "
                f"dense_shape={self.dense_shape!r})")


class RaggedTensor:
    """Placeholder: tenfold has no ragged tensors; `isinstance(x, tf.RaggedTensor)` is False."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("tenfold does not support ragged tensors; pad sequences to "
                                  "one length (keras.utils.pad_sequences) instead.")

    @classmethod
    def from_row_lengths(cls, *args, **kwargs):
        cls()

    from_tensor = from_row_splits = from_value_rowids = from_nested_row_lengths = \
        from_row_lengths
