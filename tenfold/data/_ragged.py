"""Ragged tensors in tf.data: slicing RaggedTensors (`from_tensor_slices`, alone or in a
structure), `Dataset.ragged_batch` (components of unknown shape become RaggedTensors;
components with a fully known shape are stacked as `batch` does, as TensorFlow's
ragged_batch does), and the helpers `batch` / `unbatch` use for RaggedTensorSpec components
(map functions take and return RaggedTensors as they are: they are pipeline leaves)."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.framework.tensor_shape import TensorShape
from tenfold.data import _structure as S
from tenfold.data.dataset import DatasetV2
from tenfold.ops import ragged as _ragged
from tenfold.ops.array_ops import concat
from tenfold.ops.buffers import tensor_buffer
from tenfold.framework.errors import InvalidArgumentError


class RaggedSliceDataset(DatasetV2):
    """`from_tensor_slices` of a structure holding RaggedTensors: row i of each ragged leaf
    (a dense tensor for ragged_rank 1, whose spec is TensorFlow's ragged_rank-0
    RaggedTensorSpec; a RaggedTensor otherwise) with row i of the dense leaves."""

    def __init__(self, tensors):
        super().__init__()
        self._template = tensors
        leaves = S.flatten(tensors)
        self._leaves = [rt if S.is_ragged(rt) else S.to_array(rt, "from_tensor_slices' input")
                        for rt in leaves]
        counts = {int(a.shape[0]) if S.is_ragged(a) else
                  (a.shape[0] if a.ndim else None) for a in self._leaves}
        if None in counts:
            raise ValueError("Dataset.from_tensor_slices: a component is a scalar; every "
                             "component needs a first axis to slice.")
        if len(counts) > 1:
            raise ValueError(f"Dataset.from_tensor_slices: the components have different "
                             f"first dimensions {sorted(counts)}; they must all have the "
                             "same number of rows.")
        self._n = counts.pop() if counts else 0
        # rows of ragged_rank-1 leaves are cut straight from their buffers
        self._cut = [(tensor_buffer(a.values), tensor_buffer(a.row_splits))
                     if S.is_ragged(a) and a.ragged_rank == 1 else None for a in self._leaves]

    def _row(self, k, i):
        a = self._leaves[k]
        cut = self._cut[k]
        if cut is not None:
            v, sp = cut
            return v[sp[i]:sp[i + 1]]
        if S.is_ragged(a):
            return a[i]
        return a[i, ...]

    def _iter(self):
        single = not S.is_structure(self._template)
        for i in range(self._n):
            row = [self._row(k, i) for k in range(len(self._leaves))]
            yield row[0] if single else S.pack(self._template, row)

    def _compute_spec(self):
        return S.pack(self._template, [S.ragged_spec(a, slices=True) if S.is_ragged(a)
                                       else S.leaf_spec(a, batch=True)
                                       for a in self._leaves]) \
            if S.is_structure(self._template) else (
                S.ragged_spec(self._leaves[0], slices=True))

    def _cardinality(self):
        return self._n


def batch_component(parts):
    """One component of a batch whose spec is ragged: dense rows (arrays) become a
    ragged_rank-1 RaggedTensor, RaggedTensors one ragged dimension more (as TensorFlow's
    batch of RaggedTensorSpec components)."""
    if not any(S.is_ragged(p) for p in parts):
        return _ragged.stack_rows([Tensor._wrap(p) for p in parts])
    if not all(S.is_ragged(p) for p in parts):
        raise InvalidArgumentError("Dataset.batch: a component is a RaggedTensor in some "
                                   "elements and a dense tensor in others.")
    nrows = np.array([int(p.shape[0]) for p in parts], np.int64)
    return _ragged.RaggedTensor.from_row_lengths(concat_rows(parts), nrows, validate=False)


def concat_rows(parts):
    """RaggedTensors (or dense tensors) joined along their first axis."""
    if not S.is_ragged(parts[0]):
        return concat([Tensor._wrap(p) if isinstance(p, np.ndarray) else p for p in parts], 0)
    values = concat_rows([p.values for p in parts])
    splits, offset = [np.zeros(1, np.int64)], 0
    for p in parts:
        sp = tensor_buffer(p.row_splits)
        splits.append(sp[1:] + offset)
        offset += int(sp[-1])
    return _ragged.RaggedTensor.from_row_splits(values, np.concatenate(splits),
                                                validate=False)


def unbatch_row(a, i):
    """Row i of a batched leaf (an array or a RaggedTensor)."""
    if S.is_ragged(a):
        return S.to_array(a[i])
    return a[i, ...]


def unbatched_spec(s):
    """The spec of the rows of a RaggedTensorSpec component."""
    shape = TensorShape(s.shape)
    dims = shape.as_list()[1:] if shape.rank else None
    return _ragged.RaggedTensorSpec(dims, s.dtype, max(s.ragged_rank - 1, 0))


class RaggedBatchDataset(DatasetV2):
    def __init__(self, inp, batch_size, drop_remainder):
        super().__init__(inp)
        b = int(batch_size)
        if b <= 0:
            raise ValueError(f"ragged_batch: batch_size must be positive, got {batch_size}.")
        self._b = b
        self._drop = bool(drop_remainder)
        specs = S.flatten(inp.element_spec)
        self._ragged = []
        for spec in specs:
            shape = TensorShape(spec.shape)
            if shape.rank is None:
                raise ValueError("ragged_batch: a component has unknown rank; give it a known "
                                 "rank (set_shape / ensure_shape) first.")
            ragged = not shape.is_fully_defined() or S.is_ragged_spec(spec)
            if ragged and None in shape.as_list()[1:] and not S.is_ragged_spec(spec):
                raise NotImplementedError(
                    f"ragged_batch: component of shape {shape} has an unknown inner "
                    f"dimension; only the first dimension may vary (ragged_rank 1).")
            self._ragged.append(ragged)

    def _iter(self):
        buf = []
        for e in self._inputs[0]._iter():
            buf.append(e)
            if len(buf) == self._b:
                yield self._stack(buf)
                buf = []
        if buf and not self._drop:
            yield self._stack(buf)

    def _stack(self, elems):
        flat = [S.flatten(e) for e in elems]
        leaves = []
        for k, ragged in enumerate(self._ragged):
            parts = [f[k] for f in flat]
            # a spec made from a first element may claim a fixed shape: rows that differ
            # are ragged whatever it says
            if ragged or any(S.is_ragged(p) or p.shape != parts[0].shape for p in parts):
                self._ragged[k] = True  # and stays ragged for the next batches
                leaves.append(batch_component(parts))
            else:
                leaves.append(np.stack(parts))
        return S.pack(elems[0], leaves)

    def _compute_spec(self):
        specs = S.flatten(self._inputs[0].element_spec)
        out = []
        for spec, ragged in zip(specs, self._ragged):
            batch = self._b if self._drop else None
            shape = [batch] + TensorShape(spec.shape).as_list()
            if S.is_ragged_spec(spec):
                out.append(_ragged.RaggedTensorSpec(shape, spec.dtype, spec.ragged_rank + 1))
            elif ragged:
                out.append(_ragged.RaggedTensorSpec(shape, spec.dtype, 1))
            else:
                out.append(S.make_spec(shape, spec.dtype))
        return S.pack(self._inputs[0].element_spec, out)

    def _cardinality(self):
        n = self._inputs[0]._cardinality()
        if n < 0:
            return n
        return n // self._b if self._drop else -(-n // self._b)
