"""Ragged tensors in tf.data: slicing a RaggedTensor (`from_tensor_slices(rt)`) and
`Dataset.ragged_batch` (components of unknown shape become RaggedTensors; components with a
fully known shape are stacked as `batch` does, as TensorFlow's ragged_batch does)."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.framework.tensor_shape import TensorShape
from tenfold.data import _structure as S
from tenfold.data.dataset import DatasetV2
from tenfold.ops import ragged as _ragged
from tenfold.ops.buffers import tensor_buffer


class RaggedSliceDataset(DatasetV2):
    """The rows of a RaggedTensor of ragged_rank 1 (dense tensors of different lengths)."""

    def __init__(self, rt):
        super().__init__()
        if rt.ragged_rank != 1:
            raise NotImplementedError(
                f"Dataset.from_tensor_slices supports RaggedTensors of ragged_rank 1 (rows "
                f"are dense tensors); got ragged_rank {rt.ragged_rank}.")
        self._values = tensor_buffer(rt.values)
        self._splits = tensor_buffer(rt.row_splits)
        self._inner = rt.values.shape.as_list()[1:]
        self._dtype = rt.dtype

    def _iter(self):
        v, s = self._values, self._splits
        for i in range(len(s) - 1):
            yield v[s[i]:s[i + 1]]

    def _compute_spec(self):
        return S.make_spec([None] + self._inner, self._dtype)

    def _cardinality(self):
        return len(self._splits) - 1


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
            ragged = not shape.is_fully_defined()
            if ragged and None in shape.as_list()[1:]:
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
            if ragged or any(p.shape != parts[0].shape for p in parts):
                self._ragged[k] = True  # and stays ragged for the next batches
                leaves.append(_ragged.stack_rows([Tensor._wrap(p) for p in parts]))
            else:
                leaves.append(np.stack(parts))
        return S.pack(elems[0], leaves)

    def _compute_spec(self):
        specs = S.flatten(self._inputs[0].element_spec)
        out = []
        for spec, ragged in zip(specs, self._ragged):
            batch = self._b if self._drop else None
            shape = [batch] + TensorShape(spec.shape).as_list()
            if ragged:
                out.append(_ragged.RaggedTensorSpec(shape, spec.dtype, 1))
            else:
                out.append(S.make_spec(shape, spec.dtype))
        return S.pack(self._inputs[0].element_spec, out)

    def _cardinality(self):
        n = self._inputs[0]._cardinality()
        if n < 0:
            return n
        return n // self._b if self._drop else -(-n // self._b)
