"""`tf.TensorArray`, eager: a Python list of tensors; `stack` / `concat` are recorded ops."""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.tensor_shape import TensorShape
from tenfold.framework.errors import InvalidArgumentError


class TensorArray:
    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None,
                 tensor_array_name=None, handle=None, flow=None, infer_shape=True,
                 element_shape=None, colocate_with_first_write_call=True, name=None):
        self._dtype = dtypes.as_dtype(dtype)
        self._size = 0 if size is None else int(size)
        self._dynamic = bool(dynamic_size)
        self._items = [None] * self._size
        self._element_shape = TensorShape(element_shape) if element_shape is not None else None

    @property
    def dtype(self):
        return self._dtype

    @property
    def dynamic_size(self):
        return self._dynamic

    @property
    def element_shape(self):
        return self._element_shape if self._element_shape is not None else TensorShape(None)

    def _index(self, index, op):
        i = int(index)
        if i < 0 or (i >= len(self._items) and not self._dynamic):
            raise InvalidArgumentError(f"TensorArray.{op}: index {i} out of range for a "
                                       f"TensorArray of size {len(self._items)}")
        return i

    def write(self, index, value, name=None):
        i = self._index(index, "write")
        v = convert_to_tensor(value, dtype=self._dtype) if not isinstance(value, Tensor) \
            else value
        if v.dtype != self._dtype:
            raise InvalidArgumentError(f"TensorArray.write: value has dtype {v.dtype.name}, "
                                       f"the array holds {self._dtype.name}")
        if self._element_shape is not None and not self._element_shape.is_compatible_with(
                v.shape):
            raise InvalidArgumentError(f"TensorArray.write: value of shape {v.shape} is not "
                                       f"compatible with element shape {self._element_shape}")
        if self._element_shape is None:
            self._element_shape = v.shape
        if i >= len(self._items):
            self._items.extend([None] * (i + 1 - len(self._items)))
        self._items[i] = v
        return self

    def read(self, index, name=None):
        i = self._index(index, "read")
        if i >= len(self._items) or self._items[i] is None:
            if self._element_shape is not None and self._element_shape.is_fully_defined():
                return Tensor._wrap(np.zeros(self._element_shape.as_list(), self._dtype._np))
            raise InvalidArgumentError(f"TensorArray.read: index {i} was never written")
        return self._items[i]

    def _filled(self):
        out = []
        for i, v in enumerate(self._items):
            if v is None:
                if self._element_shape is None or not self._element_shape.is_fully_defined():
                    raise InvalidArgumentError(f"TensorArray: element {i} was never written")
                v = Tensor._wrap(np.zeros(self._element_shape.as_list(), self._dtype._np))
            out.append(v)
        return out

    def stack(self, name=None):
        from tenfold.ops import array_ops
        items = self._filled()
        if not items:
            shape = self._element_shape.as_list() if self._element_shape is not None and \
                self._element_shape.rank is not None else []
            return Tensor._wrap(np.zeros([0] + [d or 0 for d in shape], self._dtype._np))
        return array_ops.stack(items)

    def gather(self, indices, name=None):
        from tenfold.ops import array_ops
        idx = convert_to_tensor(indices).numpy().reshape(-1).tolist()
        return array_ops.stack([self.read(i) for i in idx])

    def concat(self, name=None):
        from tenfold.ops import array_ops
        return array_ops.concat(self._filled(), 0)

    def unstack(self, value, name=None):
        from tenfold.ops import array_ops
        for i, v in enumerate(array_ops.unstack(value)):
            self.write(i, v)
        return self

    def scatter(self, indices, value, name=None):
        from tenfold.ops import array_ops
        idx = convert_to_tensor(indices).numpy().reshape(-1).tolist()
        for i, v in zip(idx, array_ops.unstack(value)):
            self.write(i, v)
        return self

    def split(self, value, lengths, name=None):
        from tenfold.ops import array_ops
        for i, v in enumerate(array_ops.split(value, lengths)):
            self.write(i, v)
        return self

    def size(self, name=None):
        return Tensor._wrap(np.asarray(len(self._items), np.int32))

    def identity(self):
        return self

    def close(self, name=None):
        self._items = []

    def mark_used(self):
        pass
