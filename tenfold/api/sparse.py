"""`tf.sparse` (minimal): `SparseTensor` with conversions to and from dense tensors."""
import numpy as _np

from tenfold.framework.tensor import Tensor as _Tensor, convert_to_tensor as _to_tensor
from tenfold.framework.tensor_shape import TensorShape as _TensorShape
from tenfold.framework.errors import InvalidArgumentError as _IAE
from tenfold.ops import array_ops as _a, math_ops as _m, _checks


class SparseTensor:
    """indices [N, rank] (int64), values [N], dense_shape [rank]."""

    def __init__(self, indices, values, dense_shape):
        self.indices = _m.cast(_to_tensor(indices), "int64")
        self.values = _to_tensor(values)
        self.dense_shape = _m.cast(_to_tensor(dense_shape), "int64")
        if self.indices.ndim != 2 or self.values.ndim != 1 or self.dense_shape.ndim != 1 or \
                self.indices.shape[0] != self.values.shape[0] or \
                self.indices.shape[1] != self.dense_shape.shape[0]:
            raise _IAE(f"SparseTensor: indices must be [N, rank], values [N] and dense_shape "
                       f"[rank], got {self.indices.shape}, {self.values.shape} and "
                       f"{self.dense_shape.shape}")

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


def _check_sparse(sp, op):
    if not isinstance(sp, SparseTensor):
        raise TypeError(f"{op}: sp_input must be a tf.sparse.SparseTensor, got "
                        f"{type(sp).__name__}")
    shape = [int(d) for d in sp.dense_shape.numpy().reshape(-1)]
    if any(d < 0 for d in shape):
        raise _IAE(f"{op}: dense_shape {shape} has a negative dimension")
    return shape


def _check_indices(idx, shape, op, validate_order):
    """Indices inside dense_shape; with validate_order, sorted and without repeats (as
    TensorFlow's validate_indices=True)."""
    if idx.shape[1] != len(shape):
        raise _IAE(f"{op}: indices have {idx.shape[1]} columns but dense_shape {shape} has "
                   f"rank {len(shape)}")
    if idx.size:
        bad = _np.nonzero(((idx < 0) | (idx >= _np.asarray(shape, _np.int64))).any(axis=1))[0]
        if bad.size:
            i = int(bad[0])
            raise _IAE(f"{op}: indices[{i}] = {idx[i].tolist()} is out of bounds for "
                       f"dense_shape {shape}")
    if validate_order and len(idx) > 1:
        # lexicographic comparison of each row with the next
        diff = idx[1:] - idx[:-1]
        first = _np.argmax(diff != 0, axis=1)
        lead = diff[_np.arange(len(diff)), first]
        bad = _np.nonzero(lead <= 0)[0]
        if bad.size:
            i = int(bad[0]) + 1
            what = "is repeated" if lead[i - 1] == 0 else "is out of order"
            raise _IAE(f"{op}: indices[{i}] = {idx[i].tolist()} {what}: sort the indices "
                       f"and merge repeats first, or pass validate_indices=False")


def to_dense(sp_input, default_value=None, validate_indices=True, name=None):
    shape = _check_sparse(sp_input, "sparse.to_dense")
    _check_indices(sp_input.indices.numpy(), shape, "sparse.to_dense", validate_indices)
    _checks.check_alloc("sparse.to_dense", shape, sp_input.values.dtype.as_numpy_dtype)
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
    n = _checks.non_negative_int(num_rows, "sparse.eye", "num_rows")
    mcols = n if num_columns is None else _checks.non_negative_int(num_columns, "sparse.eye",
                                                                    "num_columns")
    k = min(n, mcols)
    _checks.check_alloc("sparse.eye", (k, 3), _np.int64)
    idx = _np.stack([_np.arange(k), _np.arange(k)], axis=1)
    return SparseTensor(idx, _a.ones([k], dtype=dtype), [n, mcols])


def to_indicator(sp_input, vocab_size, name=None):
    raise NotImplementedError("tf.sparse.to_indicator is not implemented in tenfold")


def __getattr__(name):
    raise AttributeError(f"tf.sparse.{name} is not implemented in tenfold (only SparseTensor, "
                         f"to_dense, from_dense, reduce_sum, sparse_dense_matmul, eye)")


_ = _Tensor
