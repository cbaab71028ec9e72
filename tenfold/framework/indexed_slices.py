"""`tf.IndexedSlices`: rows `values` of a dense tensor at `indices` (gradients here are always
dense tensors; this exists for code that builds or checks for it)."""
from tenfold.framework.tensor import convert_to_tensor
from tenfold.framework.tensor_shape import TensorShape


class IndexedSlices:
    def __init__(self, values, indices, dense_shape=None):
        self.values = convert_to_tensor(values)
        self.indices = convert_to_tensor(indices)
        self.dense_shape = None if dense_shape is None else convert_to_tensor(dense_shape)

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self):
        if self.dense_shape is None:
            return TensorShape(None)
        return TensorShape(self.dense_shape.numpy().tolist())

    def to_dense(self):
        from tenfold.framework.hooks import array_ops  # installed by tenfold.ops
        if self.dense_shape is None:
            raise ValueError("IndexedSlices.to_dense needs dense_shape")
        shape = [int(d) for d in self.dense_shape.numpy()]
        idx = array_ops.expand_dims(self.indices, -1)
        return array_ops.scatter_nd(idx, self.values, shape)

    def __tf_tensor__(self, dtype=None, name=None):
        return self.to_dense()

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
