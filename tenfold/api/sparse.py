"""`tf.sparse` (minimal): `SparseTensor` with conversions to and from dense tensors."""
import numpy as _np

from tenfold.framework.tensor import Tensor as _Tensor, convert_to_tensor as _to_tensor
from tenfold.framework.tensor_shape import TensorShape as _TensorShape
from tenfold.framework.errors import InvalidArgumentError as _IAE
from tenfold.ops import array_ops as _a, math_ops as _m


class SparseTensor:
    """indices [N, rank] (int64), values [N], dense_shape [rank]."""

    def __init__(self, indices, values, dense_shape):
        self.indices = _m.cast(_to_tensor(indices), "int64")
        self.values = _to_tensor(values)
        self.dense_shape = _m.cast(_to_tensor(dense_shape), "int64")
        if self.indices.ndim != 2 or self.indices.shape[0] != self.values.shape[0]:
            raise _IAE(f"SparseTensor: indices must be [N, rank] and values [N], got "
                       f"{self.indices.shape} and {self.values.shape}")

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self):
        return _TensorShape(self.dense_shape.numpy().tolist())

    def __repr__(self):
        return (f"SparseTensor(indices={self.indices!r}, values={self.values!r}, "
                f"dense_shape={self.dense_shape!r})")

    @classmethod
    def from_value(cls, value):
        return value


def to_dense(sp_input, default_value=None, validate_indices=True, name=None):
    shape = [int(d) for d in sp_input.dense_shape.numpy()]
    if sp_input.values.dtype.name == "string":  # strings: no arithmetic, fill and place
        out = _np.empty(shape, dtype=object)
        out[...] = b"" if default_value is None else default_value
        idx = sp_input.indices.numpy()
        out[tuple(idx.T)] = sp_input.values.numpy()
        return _Tensor._wrap(out)
    out = _a.scatter_nd(sp_input.indices, sp_input.values, shape)
    if default_value not in (None, 0):
        mask = _a.scatter_nd(sp_input.indices, _a.ones_like(sp_input.values, dtype="int8"), shape)
        out = _m.where(_m.greater(mask, 0), out, _m.add(_m.zeros_like(out), default_value))
    return out


def from_dense(tensor, name=None):
    t = _to_tensor(tensor)
    idx = _a.where_indices(_m.not_equal(t, _m.zeros_like(t)))
    return SparseTensor(idx, _a.gather_nd(t, idx), list(t.shape))


def reduce_sum(sp_input, axis=None, keepdims=False, output_is_sparse=False, name=None):
    return _m.reduce_sum(to_dense(sp_input), axis=axis, keepdims=keepdims)


def sparse_dense_matmul(sp_a, b, adjoint_a=False, adjoint_b=False, name=None):
    return _m.matmul(to_dense(sp_a), b, adjoint_a=adjoint_a, adjoint_b=adjoint_b)


matmul = sparse_dense_matmul


def eye(num_rows, num_columns=None, dtype="float32", name=None):
    n = int(num_rows)
    mcols = n if num_columns is None else int(num_columns)
    k = min(n, mcols)
    idx = _np.stack([_np.arange(k), _np.arange(k)], axis=1)
    return SparseTensor(idx, _a.ones([k], dtype=dtype), [n, mcols])


def to_indicator(sp_input, vocab_size, name=None):
    raise NotImplementedError("tf.sparse.to_indicator is not implemented in tenfold")


def __getattr__(name):
    raise AttributeError(f"tf.sparse.{name} is not implemented in tenfold (only SparseTensor, "
                         f"to_dense, from_dense, reduce_sum, sparse_dense_matmul, eye)")


_ = _Tensor
