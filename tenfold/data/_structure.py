"""Elements inside a pipeline: nested tuples / dicts / namedtuples of backend arrays.

tf.data treats tuples, dicts and namedtuples as structure and everything else (lists
included) as one tensor. Inside the pipeline each leaf is a backend array (a 0-d array for a
scalar, never a NumPy scalar), or a `tf.RaggedTensor` kept whole (its spec is a
`RaggedTensorSpec`); iteration wraps the array leaves in `Tensor`s at the very end.
"""
import collections.abc

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.ops.buffers import array_of, from_buffer, tensor_buffer, variable_buffer

_wrap = from_buffer  # pipeline arrays become tensors without a copy
_ndarray = np.ndarray
_Mapping = collections.abc.Mapping


def is_structure(x):
    return isinstance(x, (tuple, _Mapping))


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=repr)


def flatten(x):
    """Leaves in tf.nest order (dict keys sorted)."""
    if isinstance(x, tuple):
        out = []
        for c in x:
            out.extend(flatten(c))
        return out
    if isinstance(x, _Mapping):
        out = []
        for k in _sorted_keys(x):
            out.extend(flatten(x[k]))
        return out
    return [x]


def pack(template, leaves):
    """The structure of `template` filled with `leaves` (in flatten's order)."""
    it = iter(leaves)

    def build(t):
        if isinstance(t, tuple):
            kids = [build(c) for c in t]
            return type(t)(*kids) if _is_namedtuple(t) else tuple(kids)
        if isinstance(t, _Mapping):
            d = {k: build(t[k]) for k in _sorted_keys(t)}
            return {k: d[k] for k in t}
        return next(it)

    return build(template)


def map_leaves(fn, x):
    if type(x) is tuple:
        return tuple(map_leaves(fn, c) for c in x)
    if isinstance(x, tuple):
        return type(x)(*[map_leaves(fn, c) for c in x]) if _is_namedtuple(x) else \
            tuple(map_leaves(fn, c) for c in x)
    if isinstance(x, _Mapping):
        return {k: map_leaves(fn, v) for k, v in x.items()}
    return fn(x)


def same_structure(a, b):
    """True when `a` and `b` nest the same way (tuple lengths, dict keys)."""
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and \
            all(same_structure(x, y) for x, y in zip(a, b))
    if isinstance(a, _Mapping):
        return isinstance(b, _Mapping) and set(a) == set(b) and \
            all(same_structure(a[k], b[k]) for k in a)
    return not is_structure(b)


_RAGGED = []


def ragged_module():
    """tenfold.ops.ragged, imported on first use (most pipelines hold no ragged values)."""
    if not _RAGGED:
        from tenfold.ops import ragged
        _RAGGED.append(ragged)
    return _RAGGED[0]


def is_ragged(x):
    return type(x).__name__ == "RaggedTensor" and isinstance(x, ragged_module().RaggedTensor)


def is_ragged_spec(s):
    return type(s).__name__ == "RaggedTensorSpec" and \
        isinstance(s, ragged_module().RaggedTensorSpec)


def describe(x):
    """A short text of an element's structure and leaf shapes, for error messages."""
    def leaf(a):
        if is_ragged(a):
            return f"ragged {a.dtype.name}{a.shape.as_list()}"
        a = array_of(a)
        if isinstance(a, _ndarray):
            return f"{dtypes.from_numpy(a.dtype).name}{list(a.shape)}" \
                if a.dtype.kind != "O" else f"string{list(a.shape)}"
        return type(a).__name__
    return str(map_leaves(leaf, x)).replace("'", "")


# ----------------------------------------------------------------------------------------
# Conversions at the pipeline's edges

def to_array(value, what="element"):
    """One leaf as a backend array, with TensorFlow's inference for Python values."""
    if type(value) is Tensor:  # the pipeline carries backend arrays between its stages
        return tensor_buffer(value)
    if isinstance(value, _ndarray):
        if value.dtype.kind in "US":
            return value.astype(object)
        return value
    if value is None:
        raise TypeError(f"tf.data: {what} contains None, which is not a tensor. Return or "
                        "yield tensors, arrays or numbers only.")
    if isinstance(value, (str, bytes)):
        return np.array(value, dtype=object)
    if isinstance(value, Tensor):  # a Variable
        return np.array(variable_buffer(value))  # a snapshot of the variable
    if isinstance(value, np.generic):
        return np.asarray(value)
    if is_ragged(value):
        return value   # a RaggedTensor travels whole (RaggedTensorSpec)
    if type(value).__name__ == "SparseTensor":
        raise TypeError(f"tf.data: {what} contains a tf.SparseTensor (a VarLenFeature parsed "
                        "by tf.io.parse_example?); tenfold datasets hold dense tensors only. "
                        "Densify it inside the map function: tf.sparse.to_dense(sparse), or "
                        "parse the feature as tf.io.FixedLenSequenceFeature(..., "
                        "allow_missing=True).")
    try:
        return tensor_buffer(convert_to_tensor(value))
    except (TypeError, ValueError) as e:
        raise type(e)(f"tf.data: cannot convert {what} to a tensor: {e}") from None


def normalize(value, what="element"):
    """A user value (tensors, arrays, numbers, lists; in tuples/dicts) as an element."""
    if isinstance(value, tuple):
        kids = [normalize(c, what) for c in value]
        return type(value)(*kids) if _is_namedtuple(value) else tuple(kids)
    if isinstance(value, _Mapping):
        return {k: normalize(v, what) for k, v in value.items()}
    return to_array(value, what)


def to_tensors(x):
    """An element as the user sees it: leaves wrapped in Tensors."""
    t = type(x)
    if t is _ndarray:
        return _wrap(x)
    if t is tuple:
        return tuple(to_tensors(c) for c in x)
    if isinstance(x, tuple):
        return type(x)(*[to_tensors(c) for c in x])
    if isinstance(x, _Mapping):
        return {k: to_tensors(v) for k, v in x.items()}
    if isinstance(x, _ndarray):
        return _wrap(np.asarray(x))
    return x  # a nested Dataset (window) passes through


def _numpy_leaf(a):
    if not isinstance(a, _ndarray):
        return a
    if a.ndim == 0:
        return a[()]
    return a if a.flags.writeable else a.copy()


def to_numpy(x):
    """An element as `as_numpy_iterator` gives it: arrays, NumPy scalars for 0-d values."""
    return map_leaves(_numpy_leaf, x)


def from_tensors(x):
    """The inverse of to_tensors for function results (lists become tuples, as tf.data does)."""
    if isinstance(x, list):
        x = tuple(x)
    return normalize(x, "the function's result")


# ----------------------------------------------------------------------------------------
# Specs

def _tensor_spec():
    from tenfold.graph.spec import TensorSpec
    return TensorSpec


def leaf_spec(a, batch=False):
    """TensorSpec of one leaf array; `batch=True` drops the leading axis (slices)."""
    shape = a.shape[1:] if batch else a.shape
    return _tensor_spec()(shape, dtypes.from_numpy(a.dtype) if a.dtype.kind != "O"
                          else dtypes.string)


def ragged_spec(rt, slices=False):
    """RaggedTensorSpec of a RaggedTensor leaf; `slices=True`: of its rows (TensorFlow gives
    rows of a ragged_rank-1 tensor a ragged_rank-0 spec: dense tensors of varying length)."""
    shape = rt.shape.as_list()
    rank = rt.ragged_rank
    if slices:
        shape, rank = shape[1:], rank - 1
    return ragged_module().RaggedTensorSpec(shape, rt.dtype, rank)


def spec_of(elem, slices=False):
    from tenfold.data.dataset import DatasetV2
    if isinstance(elem, DatasetV2):
        return DatasetSpec(elem.element_spec)
    if is_ragged(elem):
        return ragged_spec(elem, slices)
    return map_leaves(lambda a: leaf_spec(a, slices) if isinstance(a, _ndarray) else
                      spec_of(a, slices), elem)


def spec_shape(spec):
    from tenfold.framework.tensor_shape import TensorShape
    return TensorShape(spec.shape)


def spec_dtype(spec):
    return dtypes.as_dtype(spec.dtype)


def make_spec(shape, dtype):
    return _tensor_spec()(shape, dtype)


def relax(a, b):
    """The most specific spec compatible with both leaf specs (differing dims become None)."""
    if is_ragged_spec(a) or is_ragged_spec(b):
        sa, sb = spec_shape(a), spec_shape(b)
        dims = None if sa.rank != sb.rank or sa.rank is None else \
            [x if x == y else None for x, y in zip(sa.as_list(), sb.as_list())]
        rank = a.ragged_rank if is_ragged_spec(a) else b.ragged_rank
        return ragged_module().RaggedTensorSpec(dims, spec_dtype(a), rank)
    sa, sb = spec_shape(a), spec_shape(b)
    if sa.rank is None or sb.rank is None or sa.rank != sb.rank:
        return make_spec(None, spec_dtype(a))
    dims = [x if x == y else None for x, y in zip(sa.as_list(), sb.as_list())]
    return make_spec(dims, spec_dtype(a))


class DatasetSpec:
    """The spec of an element that is itself a dataset (`window`'s elements)."""

    def __init__(self, element_spec, dataset_shape=()):
        self.element_spec = element_spec
        self.shape = dataset_shape

    def __eq__(self, other):
        return isinstance(other, DatasetSpec) and other.element_spec == self.element_spec

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return f"DatasetSpec({self.element_spec!r}, TensorShape([]))"


def placeholder(spec, unknown):
    """Zeros matching `spec`, with `unknown` for each None dimension (to infer map shapes)."""
    def leaf(s):
        if isinstance(s, DatasetSpec):
            raise TypeError("nested datasets have no placeholder")
        shape = spec_shape(s)
        if shape.rank is None:
            raise TypeError("unknown rank")
        dims = [unknown if d is None else d for d in shape.as_list()]
        d = spec_dtype(s)
        if is_ragged_spec(s) and s.ragged_rank > 0:
            return _ragged_placeholder(dims, s.ragged_rank, d)
        if d == dtypes.string:  # two runs see different text (split lengths differ)
            return np.full(dims, b" ".join([b"a"] * (unknown - 2)), dtype=object)
        return np.zeros(dims, dtype=d._np)
    return map_leaves(leaf, spec)


def _ragged_placeholder(dims, ragged_rank, dtype):
    """A RaggedTensor of shape `dims` (every row of a ragged dimension `dims[k]` long)."""
    rows = dims[0]
    lengths = []
    for k in range(1, ragged_rank + 1):
        lengths.append(np.full(rows, dims[k], np.int64))
        rows *= dims[k]
    flat = np.full([rows] + dims[ragged_rank + 1:], b"a", dtype=object) \
        if dtype == dtypes.string else np.zeros([rows] + dims[ragged_rank + 1:], dtype._np)
    return ragged_module().RaggedTensor.from_nested_row_lengths(
        convert_to_tensor(flat), lengths, validate=False)
