"""`tf.RaggedTensor`: rows of different lengths, composed over ordinary tensors.

A ragged tensor is `values` (a tensor, or another ragged tensor for more ragged dimensions)
cut into rows by `row_splits` (int64, `row_splits[i]:row_splits[i + 1]` is row i), as in
TensorFlow. Everything is computed with tenfold ops, so tapes and tf.function see it like
any other op. It lives in the ops layer (it needs ops); `tf.ragged` is tenfold/api/ragged.py.
"""
import builtins
import numbers

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.framework.tensor_shape import TensorShape
from tenfold.ops import array_ops as _a
from tenfold.ops import array_extra as _ax
from tenfold.ops import math_ops as _m
from tenfold.ops import functional_ops as _f


def _splits_tensor(x, what):
    t = convert_to_tensor(x)
    if not t.dtype.is_integer:
        raise TypeError(f"RaggedTensor: {what} must be an integer tensor, got {t.dtype.name}.")
    if t.shape.rank != 1:
        raise ValueError(f"RaggedTensor: {what} must be a vector (rank 1), got shape "
                         f"{t.shape}.")
    return t if t.dtype == dtypes.int64 else _m.cast(t, dtypes.int64)


def _check(cond, message):
    """Raises InvalidArgumentError when `cond` (a bool tensor) is false (also in graphs)."""
    _f.assert_that(_m.reduce_all(cond), message)


class RaggedTensor:
    """Rows of different lengths (`tf.RaggedTensor`); build one with `tf.ragged.constant` or
    the `from_*` factories."""

    def __init__(self, values, row_splits, internal=False):
        if not internal:
            raise TypeError("RaggedTensor is made with tf.ragged.constant(...) or "
                            "tf.RaggedTensor.from_row_splits / from_row_lengths / "
                            "from_value_rowids, not by calling RaggedTensor directly.")
        self._values = values
        self._row_splits = row_splits

    # ------------------------------------------------------------ factories
    @classmethod
    def from_row_splits(cls, values, row_splits, name=None, validate=True):
        values = _as_values(values)
        splits = _splits_tensor(row_splits, "row_splits")
        if validate:
            n = _a.shape(splits)[0]
            if splits.shape[0] == 0:
                raise ValueError("RaggedTensor.from_row_splits: row_splits must have at "
                                 "least one element (0).")
            nvals = _nrows_of(values)
            _check(_m.equal(splits[0], 0), "Arguments to from_row_splits do not form a valid "
                   "RaggedTensor: row_splits[0] must be 0.")
            _check(_m.greater_equal(splits[1:], splits[:n - 1]),
                   "Arguments to from_row_splits do not form a valid RaggedTensor: "
                   "row_splits must be sorted in ascending order.")
            _check(_m.equal(splits[-1], nvals),
                   "Arguments to from_row_splits do not form a valid RaggedTensor: "
                   "row_splits[-1] must equal the number of values.")
        return cls(values, splits, internal=True)

    @classmethod
    def from_row_lengths(cls, values, row_lengths, name=None, validate=True):
        lengths = _splits_tensor(row_lengths, "row_lengths")
        if validate:
            _check(_m.greater_equal(lengths, 0), "Arguments to from_row_lengths do not form "
                   "a valid RaggedTensor: row_lengths must be non-negative.")
        splits = _a.concat([_a.zeros([1], dtypes.int64), _m.cumsum(lengths)], 0)
        return cls.from_row_splits(values, splits, validate=validate)

    @classmethod
    def from_value_rowids(cls, values, value_rowids, nrows=None, name=None, validate=True):
        rowids = _splits_tensor(value_rowids, "value_rowids")
        if nrows is None:
            nrows = _m.add(_m.reduce_max(rowids), 1) if rowids.shape[0] else \
                convert_to_tensor(0, dtypes.int64)
        nrows = _m.cast(convert_to_tensor(nrows), dtypes.int64)
        if validate:
            _check(_m.greater_equal(rowids[1:], rowids[:-1]) if rowids.shape[0] > 1
                   else convert_to_tensor(True),
                   "Arguments to from_value_rowids do not form a valid RaggedTensor: "
                   "value_rowids must be sorted in ascending order.")
        # row i ends where the first id greater than i is
        bounds = _a.range(_m.add(nrows, 1), dtype=dtypes.int64)
        splits = _ax.searchsorted(rowids, bounds, side="left", out_type=dtypes.int64)
        return cls.from_row_splits(values, splits, validate=validate)

    @classmethod
    def from_nested_row_splits(cls, flat_values, nested_row_splits, name=None, validate=True):
        result = _as_values(flat_values)
        for splits in reversed(list(nested_row_splits)):
            result = cls.from_row_splits(result, splits, validate=validate)
        return result

    @classmethod
    def from_nested_row_lengths(cls, flat_values, nested_row_lengths, name=None,
                                validate=True):
        result = _as_values(flat_values)
        for lengths in reversed(list(nested_row_lengths)):
            result = cls.from_row_lengths(result, lengths, validate=validate)
        return result

    @classmethod
    def from_tensor(cls, tensor, lengths=None, padding=None, ragged_rank=1, name=None,
                    row_splits_dtype=dtypes.int64):
        """Rows of a dense tensor; `lengths` (per row) or `padding` (a value to drop from the
        end of each row) cut them."""
        t = convert_to_tensor(tensor)
        if t.shape.rank is None or t.shape.rank < 2:
            raise ValueError(f"RaggedTensor.from_tensor: tensor must have rank >= 2, got "
                             f"shape {t.shape}.")
        nrows, ncols = t.shape[0], t.shape[1]
        if lengths is None and padding is not None:
            keep = _m.not_equal(t, padding)
            if t.shape.rank > 2:
                keep = _m.reduce_any(_a.reshape(keep, [nrows, ncols, -1]), axis=2)
            # length = 1 + the last kept position (trailing padding only)
            pos = _a.range(1, ncols + 1, dtype=dtypes.int64)
            lengths = _m.reduce_max(_m.multiply(_m.cast(keep, dtypes.int64), pos), axis=1)
        if lengths is None:
            lengths = _a.fill([nrows], convert_to_tensor(ncols, dtypes.int64))
        lengths = _splits_tensor(lengths, "lengths")
        mask = _m.less(_a.range(ncols, dtype=dtypes.int64)[None, :], lengths[:, None])
        values = _a.boolean_mask(t, mask)
        return cls.from_row_lengths(values, lengths, validate=False)

    # ------------------------------------------------------------ structure
    @property
    def values(self):
        return self._values

    @property
    def row_splits(self):
        return self._row_splits

    @property
    def flat_values(self):
        v = self._values
        while isinstance(v, RaggedTensor):
            v = v._values
        return v

    @property
    def nested_row_splits(self):
        out = [self._row_splits]
        v = self._values
        while isinstance(v, RaggedTensor):
            out.append(v._row_splits)
            v = v._values
        return tuple(out)

    @property
    def ragged_rank(self):
        return 1 + (self._values.ragged_rank if isinstance(self._values, RaggedTensor) else 0)

    @property
    def dtype(self):
        return self.flat_values.dtype

    @property
    def row_splits_dtype(self):
        return dtypes.int64

    @property
    def shape(self):
        """[nrows, None, ...ragged dims as None..., uniform inner dims]."""
        nrows = self._row_splits.shape[0] - 1
        inner = self.flat_values.shape.as_list()[1:]
        return TensorShape([nrows] + [None] * self.ragged_rank + inner)

    def get_shape(self):
        return self.shape

    @property
    def ndim(self):
        return self.shape.rank

    def nrows(self, out_type=dtypes.int64, name=None):
        return _m.cast(_m.subtract(_a.size(self._row_splits), 1), out_type)

    def row_starts(self, name=None):
        return self._row_splits[:-1]

    def row_limits(self, name=None):
        return self._row_splits[1:]

    def row_lengths(self, axis=1, name=None):
        if axis == 1:
            return _m.subtract(self._row_splits[1:], self._row_splits[:-1])
        if axis > 1 and isinstance(self._values, RaggedTensor):
            return self.with_values(self._values.row_lengths(axis - 1))
        raise ValueError(f"RaggedTensor.row_lengths: axis {axis} is not a ragged dimension "
                         f"(ragged_rank is {self.ragged_rank}).")

    def value_rowids(self, name=None):
        n = _a.shape(self._row_splits)[0] - 1
        return _ax.repeat(_a.range(n, dtype=dtypes.int64), self.row_lengths())

    def bounding_shape(self, axis=None, name=None, out_type=dtypes.int64):
        dims = [self.nrows(), _longest(self.row_lengths())]
        v = self._values
        while isinstance(v, RaggedTensor):
            dims.append(_longest(v.row_lengths()))
            v = v._values
        dims += [convert_to_tensor(d, dtypes.int64) for d in v.shape.as_list()[1:]]
        shape = _m.cast(_a.stack(dims), out_type)
        return shape if axis is None else shape[axis]

    def with_values(self, new_values):
        return RaggedTensor(_as_values(new_values), self._row_splits, internal=True)

    def with_flat_values(self, new_values):
        if isinstance(self._values, RaggedTensor):
            return self.with_values(self._values.with_flat_values(new_values))
        return self.with_values(new_values)

    # ------------------------------------------------------------ conversion
    def to_tensor(self, default_value=None, name=None, shape=None):
        """A dense tensor, each row padded with `default_value` (zero by default) to the
        longest row."""
        values = self._values
        if isinstance(values, RaggedTensor):
            values = values.to_tensor(default_value)
        lengths = self.row_lengths()
        nrows = _a.shape(self._row_splits)[0] - 1
        width = _longest(lengths)
        inner = values.shape.as_list()[1:]
        if default_value is None:
            default_value = 0
        default = _m.cast(convert_to_tensor(default_value), values.dtype) \
            if not isinstance(default_value, Tensor) else default_value
        full_shape = _a.concat([_a.stack([_m.cast(nrows, dtypes.int64), width]),
                                convert_to_tensor(np.asarray(inner, np.int64)) if inner else
                                _a.zeros([0], dtypes.int64)], 0)
        dense = _a.fill(full_shape, default)
        rowids = self.value_rowids()
        cols = _m.subtract(_a.range(_a.shape(rowids)[0], dtype=dtypes.int64),
                           _a.gather(self._row_splits, rowids))
        index = _a.stack([rowids, cols], axis=1)
        out = _a.tensor_scatter_nd_update(dense, index, values)
        if shape is not None:
            out = _fit_shape(out, shape, default)
        return out

    def to_list(self):
        rows = self._values.to_list() if isinstance(self._values, RaggedTensor) else \
            self._values.numpy().tolist()
        splits = self._row_splits.numpy().tolist()
        return [rows[s:e] for s, e in zip(splits[:-1], splits[1:])]

    def numpy(self):
        """An object array of the rows (as TensorFlow's eager RaggedTensor.numpy())."""
        rows = self._values.numpy() if isinstance(self._values, RaggedTensor) else \
            self._values.numpy()
        splits = self._row_splits.numpy()
        out = np.empty(len(splits) - 1, dtype=object)
        for i, (s, e) in enumerate(zip(splits[:-1], splits[1:])):
            out[i] = rows[s:e]
        return out

    def __repr__(self):
        try:
            return f"<tf.RaggedTensor {self.to_list()!r}>"
        except TypeError:  # inside tf.function: no values yet
            return (f"tf.RaggedTensor(values={self._values!r}, "
                    f"row_splits={self._row_splits!r})")

    __str__ = __repr__

    # ------------------------------------------------------------ indexing
    def __getitem__(self, key):
        if isinstance(key, tuple):
            if len(key) == 1:
                key = key[0]
            else:
                raise NotImplementedError(
                    "RaggedTensor indexing supports one index or slice (rt[i], rt[a:b]); "
                    "index the result again for inner dimensions.")
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise NotImplementedError("RaggedTensor slicing with a step is not supported.")
            n = int(self._row_splits.shape[0]) - 1
            start, stop, _ = key.indices(n)
            stop = max(stop, start)
            splits = self._row_splits[start:stop + 1]
            lo, hi = self._row_splits[start], self._row_splits[stop]
            values = _slice_rows(self._values, lo, hi)
            return RaggedTensor(values, _m.subtract(splits, lo), internal=True)
        if isinstance(key, (numbers.Integral, Tensor)):
            n = int(self._row_splits.shape[0]) - 1
            i = int(key) if not isinstance(key, Tensor) else key
            if isinstance(i, int):
                if not -n <= i < n:
                    raise IndexError(f"RaggedTensor index {i} is out of range for {n} rows.")
                i = i % n
            return _slice_rows(self._values, self._row_splits[i], self._row_splits[i + 1])
        raise TypeError(f"RaggedTensor indices must be integers or slices, got "
                        f"{type(key).__name__}.")

    # ------------------------------------------------------------ elementwise operators
    def _binary(self, other, op, reverse=False):
        if isinstance(other, RaggedTensor):
            _check_same_structure(self, other, op.__name__)
            a, b = self.flat_values, other.flat_values
        else:
            o = other if isinstance(other, Tensor) else None
            if o is None:
                o = convert_to_tensor(other, dtype_hint=self.dtype) \
                    if not isinstance(other, (list, tuple)) else convert_to_tensor(other)
            if o.shape.rank:
                fv = self.flat_values.shape.rank - 1
                if o.shape.rank > fv:
                    raise ValueError(
                        f"RaggedTensor {op.__name__}: a dense operand of shape {o.shape} "
                        f"cannot broadcast against the ragged dimensions of {self.shape}; "
                        f"use a scalar, a ragged tensor of the same row structure, or "
                        f"tf.ragged.map_flat_values.")
            a, b = self.flat_values, o
        out = op(b, a) if reverse else op(a, b)
        return self.with_flat_values(out)

    def __add__(self, o):
        return self._binary(o, _m.add)

    def __radd__(self, o):
        return self._binary(o, _m.add, True)

    def __sub__(self, o):
        return self._binary(o, _m.subtract)

    def __rsub__(self, o):
        return self._binary(o, _m.subtract, True)

    def __mul__(self, o):
        return self._binary(o, _m.multiply)

    def __rmul__(self, o):
        return self._binary(o, _m.multiply, True)

    def __truediv__(self, o):
        return self._binary(o, _m.divide)

    def __rtruediv__(self, o):
        return self._binary(o, _m.divide, True)

    def __floordiv__(self, o):
        return self._binary(o, _m.floordiv)

    def __mod__(self, o):
        return self._binary(o, _m.floormod)

    def __pow__(self, o):
        return self._binary(o, _m.pow)

    def __lt__(self, o):
        return self._binary(o, _m.less)

    def __le__(self, o):
        return self._binary(o, _m.less_equal)

    def __gt__(self, o):
        return self._binary(o, _m.greater)

    def __ge__(self, o):
        return self._binary(o, _m.greater_equal)

    def __and__(self, o):
        return self._binary(o, _m.logical_and)

    def __or__(self, o):
        return self._binary(o, _m.logical_or)

    def __neg__(self):
        return self.with_flat_values(_m.negative(self.flat_values))

    def __abs__(self):
        return self.with_flat_values(_m.abs(self.flat_values))

    def __invert__(self):
        return self.with_flat_values(_m.logical_not(self.flat_values))

    def _ragged_reduce(self, opname, axis=None, keepdims=False):
        """tf.reduce_* of a ragged tensor (dispatched from tenfold/ops/math_ops.py): all
        values, or each row along the ragged axis 1 (empty rows give the reduction's
        identity, or NaN for a mean, as TensorFlow)."""
        if keepdims:
            raise NotImplementedError(f"tf.{opname} of a RaggedTensor with keepdims=True is "
                                      f"not supported.")
        whole = getattr(_m, opname)
        if axis is None:
            return whole(self.flat_values)
        rank = self.shape.rank
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if isinstance(axis, int) and axis < 0:
            axis += rank
        if axis != 1 or self.ragged_rank != 1:
            raise NotImplementedError(
                f"tf.{opname} of a RaggedTensor supports axis=None or the ragged axis 1 (with "
                f"ragged_rank 1); got axis={axis}. Reduce rt.to_tensor() instead.")
        from tenfold.ops import segment_ops as _s
        ids, n = self.value_rowids(), self.nrows()
        v = self._values
        if opname == "reduce_mean":
            total = _s.unsorted_segment_sum(v, ids, n)
            count = _m.cast(self.row_lengths(), v.dtype)
            while count.shape.rank < total.shape.rank:
                count = _a.expand_dims(count, -1)
            with np.errstate(invalid="ignore", divide="ignore"):  # empty rows: NaN, silently
                return _m.divide(total, count)
        if opname in ("reduce_any", "reduce_all"):
            # count the true (any) or false (all) values per row
            flags = v if opname == "reduce_any" else _m.logical_not(v)
            hits = _s.unsorted_segment_sum(_m.cast(flags, dtypes.int32), ids, n)
            return _m.greater(hits, 0) if opname == "reduce_any" else _m.equal(hits, 0)
        seg = {_m.reduce_sum: _s.unsorted_segment_sum, _m.reduce_max: _s.unsorted_segment_max,
               _m.reduce_min: _s.unsorted_segment_min,
               _m.reduce_prod: _s.unsorted_segment_prod}.get(whole)
        if seg is None:
            raise NotImplementedError(f"tf.{opname} of a RaggedTensor is not supported.")
        return seg(v, ids, n)

    def __tf_tensor__(self, dtype=None, name=None):
        raise ValueError(f"Failed to convert a tf.RaggedTensor of shape {self.shape} to a "
                        f"Tensor: its rows have different lengths. Use rt.to_tensor() (padded) "
                        f"or compute on rt.flat_values with tf.ragged.map_flat_values.")

    def __bool__(self):
        raise TypeError("RaggedTensor has no truth value; use tf.reduce_any / reduce_all on "
                        "its flat_values.")

    __hash__ = None


def _longest(lengths):
    if lengths.shape[0] == 0:
        return convert_to_tensor(0, dtypes.int64)
    return _m.reduce_max(lengths)


def _nrows_of(values):
    if isinstance(values, RaggedTensor):
        return _m.subtract(_a.size(values._row_splits, out_type=dtypes.int64), 1)
    return _a.shape(values, out_type=dtypes.int64)[0]


def _slice_rows(values, lo, hi):
    if isinstance(values, RaggedTensor):
        splits = values._row_splits[lo:hi + 1]
        start, stop = values._row_splits[lo], values._row_splits[hi]
        return RaggedTensor(_slice_rows(values._values, start, stop),
                            _m.subtract(splits, start), internal=True)
    return values[lo:hi]


def _as_values(values):
    if isinstance(values, RaggedTensor):
        return values
    t = convert_to_tensor(values)
    if t.shape.rank == 0:
        raise ValueError("RaggedTensor values must have rank >= 1, got a scalar.")
    return t


def _fit_shape(t, shape, default):
    shape = TensorShape(shape).as_list()
    cur = t.shape.as_list()
    pads, sl = [], []
    for want, have in zip(shape, cur):
        if want is None:
            pads.append([0, 0])
            sl.append(slice(None))
        else:
            pads.append([0, max(want - have, 0)])
            sl.append(slice(0, want))
    t = t[tuple(sl)]
    return _a.pad(t, pads, constant_values=default)


def _check_same_structure(x, y, what):
    xs, ys = x.nested_row_splits, y.nested_row_splits
    if len(xs) != len(ys):
        raise ValueError(f"RaggedTensor {what}: ragged ranks differ ({len(xs)} vs "
                         f"{len(ys)}).")
    for a, b in zip(xs, ys):
        if a.shape[0] != b.shape[0]:
            raise _errors().InvalidArgumentError(
                f"RaggedTensor {what}: the operands have different numbers of rows "
                f"({a.shape[0] - 1} vs {b.shape[0] - 1}); elementwise ops need ragged "
                f"tensors with the same row lengths.")
        _check(_m.equal(a, b), f"RaggedTensor {what}: the operands' row lengths differ; "
               f"elementwise ops need ragged tensors with the same row lengths.")


def _errors():
    from tenfold.framework import errors
    return errors


# ----------------------------------------------------------------------------------------
# tf.ragged functions

def _depth(x):
    d = 0
    while isinstance(x, (list, tuple)):
        d += 1
        nxt = None
        for item in x:
            if isinstance(item, (list, tuple)) and (nxt is None or len(item)):
                nxt = item
                if len(item):
                    break
        if nxt is None:
            break
        x = nxt
    return d


def _max_depth(x):
    if not isinstance(x, (list, tuple)):
        return 0
    return 1 + max((_max_depth(i) for i in x), default=0)


def constant(pylist, dtype=None, ragged_rank=None, inner_shape=None, name=None,
             row_splits_dtype=dtypes.int64):
    """A RaggedTensor from a nested Python list (`tf.ragged.constant`)."""
    if isinstance(pylist, (Tensor, np.ndarray)) or not isinstance(pylist, (list, tuple)):
        raise TypeError(f"tf.ragged.constant expects a nested Python list, got "
                        f"{type(pylist).__name__}; use tf.constant for rectangular values.")
    depth = _max_depth(pylist)
    inner_rank = len(inner_shape) if inner_shape is not None else 0
    if ragged_rank is None:
        ragged_rank = max(1, depth - 1 - inner_rank)
    if not 0 < ragged_rank < max(depth, 2) + 1:
        raise ValueError(f"tf.ragged.constant: ragged_rank must be between 1 and "
                         f"{max(depth - 1, 1)} for this list (depth {depth}), got "
                         f"{ragged_rank}.")
    splits = []
    items = list(pylist)
    for level in builtins.range(ragged_rank):
        s = [0]
        nxt = []
        for item in items:
            if not isinstance(item, (list, tuple)):
                raise ValueError(f"tf.ragged.constant: all scalar values must have the same "
                                 f"nesting depth; found a scalar {item!r} at depth "
                                 f"{level + 1}.")
            nxt.extend(item)
            s.append(len(nxt))
        splits.append(s)
        items = nxt
    if items:
        leaf_depths = {_max_depth(i) for i in items}
        if len(leaf_depths) > 1:
            raise ValueError("tf.ragged.constant: all scalar values must have the same "
                             "nesting depth.")
        try:
            flat = convert_to_tensor(items, dtype=dtype)
        except ValueError as e:
            raise ValueError(f"tf.ragged.constant: the innermost lists must be uniform below "
                             f"ragged_rank={ragged_rank} ({e}).") from None
    else:
        inner = list(inner_shape) if inner_shape is not None else \
            [0] * max(depth - 1 - ragged_rank, 0)
        flat = _a.zeros([0] + inner, dtype if dtype is not None else dtypes.float32)
    if inner_shape is not None and items:
        flat = _a.reshape(flat, [-1] + list(inner_shape))
    rt = flat
    for s in reversed(splits):
        rt = RaggedTensor(rt, convert_to_tensor(np.asarray(s, np.int64)), internal=True)
    return rt


def constant_value(pylist, dtype=None, ragged_rank=None, inner_shape=None,
                   row_splits_dtype="int64"):
    return constant(pylist, dtype, ragged_rank, inner_shape)


def map_flat_values(op, *args, **kwargs):
    """Applies `op` to the flat values of the ragged arguments (which must share their row
    structure) and returns a RaggedTensor with that structure (`tf.ragged.map_flat_values`)."""
    found = []

    def swap(x):
        if isinstance(x, RaggedTensor):
            found.append(x)
            return x.flat_values
        if isinstance(x, list):
            return [swap(i) for i in x]
        if isinstance(x, tuple):
            return tuple(swap(i) for i in x)
        if isinstance(x, dict):
            return {k: swap(v) for k, v in x.items()}
        return x
    new_args = swap(list(args))
    new_kwargs = swap(kwargs)
    if not found:
        return op(*new_args, **new_kwargs)
    first = found[0]
    for other in found[1:]:
        _check_same_structure(first, other, "map_flat_values")
    out = op(*new_args, **new_kwargs)
    if not isinstance(out, Tensor) or out.shape.rank == 0 or \
            out.shape[0] != first.flat_values.shape[0]:
        raise ValueError(f"tf.ragged.map_flat_values: op must keep the number of flat values "
                         f"({first.flat_values.shape[0]}), got "
                         f"{getattr(out, 'shape', type(out).__name__)}.")
    return first.with_flat_values(out)


def boolean_mask(data, mask, name=None):
    """Keeps the entries of `data` where `mask` is true; along the second axis the rows get
    different lengths, so the result is ragged (`tf.ragged.boolean_mask`)."""
    if isinstance(data, RaggedTensor) or isinstance(mask, RaggedTensor):
        if not (isinstance(data, RaggedTensor) and isinstance(mask, RaggedTensor)):
            raise NotImplementedError("tf.ragged.boolean_mask with one ragged and one dense "
                                      "argument is not supported; make both ragged.")
        _check_same_structure(data, mask, "boolean_mask")
        keep = mask.flat_values
        rowids = data.value_rowids() if data.ragged_rank == 1 else None
        if rowids is None:
            raise NotImplementedError("tf.ragged.boolean_mask supports ragged_rank 1.")
        values = _a.boolean_mask(data.flat_values, keep)
        kept_ids = _a.boolean_mask(rowids, keep)
        return RaggedTensor.from_value_rowids(values, kept_ids, nrows=data.nrows())
    data = convert_to_tensor(data)
    mask = convert_to_tensor(mask)
    if mask.shape.rank == 1:
        return _a.boolean_mask(data, mask)
    if mask.shape.rank != 2:
        raise NotImplementedError("tf.ragged.boolean_mask supports masks of rank 1 or 2.")
    lengths = _m.reduce_sum(_m.cast(mask, dtypes.int64), axis=1)
    return RaggedTensor.from_row_lengths(_a.boolean_mask(data, mask), lengths, validate=False)


def stack_rows(rows, dtype=None):
    """A RaggedTensor whose rows are the given tensors (same dtype and inner shape); what
    Dataset.ragged_batch builds."""
    rows = [convert_to_tensor(r, dtype=dtype) for r in rows]
    if not rows:
        raise ValueError("stack_rows: no rows")
    lengths = [int(r.shape[0]) if r.shape.rank else 1 for r in rows]
    values = _a.concat([r if r.shape.rank else _a.reshape(r, [1]) for r in rows], 0)
    return RaggedTensor.from_row_lengths(values, np.asarray(lengths, np.int64),
                                         validate=False)


def is_ragged(x):
    return isinstance(x, RaggedTensor)


def range(starts, limits=None, deltas=1, dtype=None, name=None,  # noqa: A001 - tf's name
          row_splits_dtype=dtypes.int64):
    """Row i is tf.range(starts[i], limits[i], deltas[i]) (`tf.ragged.range`)."""
    if limits is None:
        starts, limits = 0, starts
    s = np.asarray(convert_to_tensor(starts).numpy())
    lim = np.asarray(convert_to_tensor(limits).numpy())
    d = np.asarray(convert_to_tensor(deltas).numpy())
    s, lim, d = np.broadcast_arrays(s, lim, d)
    rows = [_a.range(int(a), int(b), int(c), dtype=dtype) if d.dtype.kind in "iu" and
            s.dtype.kind in "iu" else _a.range(a, b, c, dtype=dtype)
            for a, b, c in zip(s.ravel(), lim.ravel(), d.ravel())]
    return stack_rows(rows)


class RaggedTensorSpec:
    """The type of a RaggedTensor (`tf.RaggedTensorSpec`): shape (None for ragged
    dimensions), dtype, ragged_rank and row_splits dtype."""

    def __init__(self, shape=None, dtype=dtypes.float32, ragged_rank=None,
                 row_splits_dtype=dtypes.int64, flat_values_spec=None):
        self.shape = TensorShape(shape)
        self.dtype = dtypes.as_dtype(dtype)
        if ragged_rank is None:
            ragged_rank = (self.shape.rank - 1) if self.shape.rank else 0
        self.ragged_rank = ragged_rank
        self.row_splits_dtype = dtypes.as_dtype(row_splits_dtype)

    @classmethod
    def from_value(cls, value):
        return cls(value.shape, value.dtype, value.ragged_rank)

    def is_compatible_with(self, other):
        if isinstance(other, RaggedTensor):
            other = RaggedTensorSpec.from_value(other)
        return (isinstance(other, RaggedTensorSpec) and self.dtype == other.dtype and
                self.shape.is_compatible_with(other.shape))

    def __eq__(self, other):
        return (isinstance(other, RaggedTensorSpec) and self.shape == other.shape and
                self.dtype == other.dtype and self.ragged_rank == other.ragged_rank)

    def __hash__(self):
        return hash((tuple(self.shape.as_list()) if self.shape.rank is not None else None,
                     self.dtype.name, self.ragged_rank))

    def __repr__(self):
        return (f"RaggedTensorSpec({self.shape!r}, tf.{self.dtype.name}, {self.ragged_rank}, "
                f"tf.{self.row_splits_dtype.name})")
