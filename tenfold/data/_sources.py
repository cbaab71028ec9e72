"""Datasets that make elements: slices of tensors, generators, ranges, zips, files."""
import glob as _glob
import os

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.tensor_shape import TensorShape
from tenfold.framework.errors import InvalidArgumentError
from tenfold.data import _structure as S
from tenfold.data import _index
from tenfold.data.dataset import DatasetV2, INFINITE, UNKNOWN, _int
from tenfold.ops.buffers import array_of, tensor_buffer
from tenfold.framework.host import to_host


def _private(a):
    """A private read-only copy of a user's NumPy array (tensors are immutable: no copy)."""
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def _own(value):
    """Normalizes user data and takes private copies of NumPy arrays."""
    if isinstance(value, tuple):
        kids = [_own(c) for c in value]
        return type(value)(*kids) if S._is_namedtuple(value) else tuple(kids)
    if isinstance(value, S._Mapping):
        return {k: _own(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind not in "USO":
        return _private(value)
    return S.to_array(value, "from_tensor_slices' input")


class _TensorSliceDataset(DatasetV2):
    def __init__(self, tensors):
        super().__init__()
        self._data = _own(tensors)
        leaves = S.flatten(self._data)
        if not leaves:
            raise ValueError("from_tensor_slices: the input has no tensors.")
        sizes = []
        for a in leaves:
            if a.ndim == 0:
                raise InvalidArgumentError(
                    "from_tensor_slices: every component must have at least one dimension to "
                    f"slice along; got a scalar in {S.describe(self._data)}. Use "
                    "from_tensors for a single element.")
            sizes.append(a.shape[0])
        if len(set(sizes)) > 1:
            raise InvalidArgumentError(
                "from_tensor_slices: all components must have the same size in their first "
                f"dimension, got {S.describe(self._data)} (sizes {sizes}).")
        self._n = sizes[0]

    def _index_plan(self):
        n = self._n
        return _index.IndexPlan(self._data, lambda: iter((range(n),)))

    def _compute_spec(self):
        return S.spec_of(self._data, slices=True)

    def _cardinality(self):
        return self._n


TensorSliceDataset = _TensorSliceDataset


class _TensorDataset(DatasetV2):
    def __init__(self, tensors):
        super().__init__()
        self._data = _own(tensors)

    def _iter(self):
        yield self._data

    def _compute_spec(self):
        return S.spec_of(self._data)

    def _cardinality(self):
        return 1


TensorDataset = _TensorDataset


class _RangeDataset(DatasetV2):
    def __init__(self, *args, output_type=dtypes.int64, name=None, dtype=None):
        super().__init__()
        if dtype is not None:
            output_type = dtype
        if not 1 <= len(args) <= 3:
            raise TypeError(f"Dataset.range takes 1 to 3 arguments (stop / start, stop, step), "
                            f"got {len(args)}.")
        vals = [None if a is None else _int(a, "Dataset.range's arguments") for a in args]
        if len(vals) == 1:
            start, stop, step = 0, vals[0], 1
        else:
            start, stop = vals[0], vals[1]
            step = vals[2] if len(vals) == 3 else 1
        if step == 0:
            raise InvalidArgumentError("Dataset.range: step must not be 0.")
        self._start, self._stop, self._step = start, stop, step
        self._dtype = dtypes.as_dtype(output_type)

    _PLAN_LIMIT = 1 << 24  # finite ranges up to this size run on the index fast path

    def _index_plan(self):
        from tenfold.data import _transforms
        if self._stop is None or not _transforms.use_index_plans:
            return None
        n = len(range(self._start, self._stop, self._step))
        if n > self._PLAN_LIMIT:
            return None
        values = getattr(self, "_range_values", None)
        if values is None:
            values = np.arange(self._start, self._stop, self._step).astype(self._dtype._np)
            values.setflags(write=False)
            self._range_values = values
        return _index.IndexPlan(values, lambda: iter((range(n),)))

    def _iter(self):
        plan = self._index_plan()
        if plan is not None:
            from tenfold.data.dataset import _elements_from_plan
            return _elements_from_plan(plan)
        return self._generate()

    def _generate(self):
        np_t = self._dtype._np
        if self._stop is None:  # counter
            v = self._start
            while True:
                yield np.asarray(v, dtype=np_t)
                v += self._step
        for v in range(self._start, self._stop, self._step):
            yield np.asarray(v, dtype=np_t)

    def _compute_spec(self):
        return S.make_spec([], self._dtype)

    def _cardinality(self):
        if self._stop is None:
            return INFINITE
        return len(range(self._start, self._stop, self._step))


RangeDataset = _RangeDataset


# ----------------------------------------------------------------------------------------
# from_generator

class _Pair:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b


def _zip_up_to(structure, other, what):
    """`structure` with each leaf replaced by a _Pair of it and the node of `other` there."""
    if isinstance(structure, tuple):
        if not isinstance(other, (tuple, list)) or len(other) != len(structure):
            raise ValueError(f"{what} does not match the structure {structure!r}: {other!r}")
        kids = [_zip_up_to(s, o, what) for s, o in zip(structure, other)]
        return type(structure)(*kids) if S._is_namedtuple(structure) else tuple(kids)
    if isinstance(structure, S._Mapping):
        if not isinstance(other, S._Mapping) or set(other) != set(structure):
            raise ValueError(f"{what} does not match the structure {structure!r}: {other!r}")
        return {k: _zip_up_to(structure[k], other[k], what) for k in structure}
    return _Pair(structure, other)


def _is_spec(x):
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (Tensor,
                                                                            np.ndarray))


class _GeneratorDataset(DatasetV2):
    def __init__(self, generator, output_types, output_shapes, args, output_signature):
        super().__init__()
        if not callable(generator):
            raise TypeError("from_generator: `generator` must be a callable that returns an "
                            f"iterable (a generator function), got {type(generator).__name__}.")
        if output_signature is not None:
            if output_types is not None or output_shapes is not None:
                raise TypeError("from_generator: give either `output_signature` or "
                                "`output_types` (with optional `output_shapes`), not both.")
            if isinstance(output_signature, list):
                output_signature = tuple(output_signature)
            for s in S.flatten(output_signature):
                if not _is_spec(s):
                    raise TypeError("from_generator: `output_signature` must hold "
                                    f"tf.TensorSpec objects, got {s!r}.")
            spec = S.map_leaves(lambda s: S.make_spec(s.shape, s.dtype), output_signature)
        else:
            if output_types is None:
                raise TypeError("from_generator: missing required argument "
                                "`output_signature` (a tf.TensorSpec, or a tuple / dict of "
                                "them, describing each yielded element).")
            if isinstance(output_types, list):
                output_types = tuple(output_types)
            if output_shapes is None:
                spec = S.map_leaves(lambda t: S.make_spec(None, dtypes.as_dtype(t)),
                                    output_types)
            else:
                pairs = _zip_up_to(output_types, output_shapes, "from_generator: output_shapes")
                spec = S.map_leaves(lambda p: S.make_spec(_shape(p.b), dtypes.as_dtype(p.a)),
                                    pairs)
        self._gen = generator
        self._args = () if args is None else tuple(_np_arg(a) for a in args)
        self._signature = spec

    def _iter(self):
        spec = self._signature
        flat_spec = S.flatten(spec)
        structured = S.is_structure(spec)
        for i, value in enumerate(self._gen(*self._args)):
            if structured:
                if isinstance(value, list) and isinstance(spec, tuple):
                    value = tuple(value)
                try:
                    pairs = _zip_up_to(spec, value, "")
                except ValueError:
                    raise TypeError(
                        f"from_generator: `generator` yielded element {i} that does not match "
                        f"the expected structure. Expected {_spec_text(spec)}, got "
                        f"{_value_text(value)}.") from None
                leaves = [_check_leaf(p.b, p.a, i, k) for k, p in
                          enumerate(S.flatten(pairs))]
                yield S.pack(spec, leaves)
            else:
                yield _check_leaf(value, flat_spec[0], i, None)

    def _compute_spec(self):
        return self._signature


GeneratorDataset = _GeneratorDataset


def _shape(s):
    if isinstance(s, TensorShape):
        return s
    if s is None:
        return TensorShape(None)
    if isinstance(s, Tensor):
        s = to_host(s).tolist()
    return TensorShape([None if d is None or d == -1 else int(d) for d in s])


def _np_arg(a):
    arr = S.to_array(a, "from_generator's args")
    return arr[()] if arr.ndim == 0 else arr


def _spec_text(spec):
    return str(S.map_leaves(lambda s: f"{S.spec_dtype(s).name}{S.spec_shape(s)}",
                            spec)).replace("'", "")


def _value_text(v):
    s = repr(v)
    return s if len(s) <= 120 else s[:117] + "..."


def _check_leaf(value, spec, index, component):
    dt = S.spec_dtype(spec)
    where = f"element {index}" + ("" if component is None else f", component {component}")
    try:
        if isinstance(value, Tensor):
            arr = tensor_buffer(value)
            if arr.dtype != dt._np:
                arr = arr.astype(dt._np)
        elif dt == dtypes.string:
            arr = np.asarray(value, dtype=object)
        else:
            arr = np.asarray(value, dtype=dt._np)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(
            f"from_generator: `generator` yielded a value that cannot be converted to the "
            f"expected type {dt.name} ({where}): {_value_text(value)}.") from None
    if dt != dtypes.string and isinstance(value, (str, bytes)):
        raise TypeError(f"from_generator: `generator` yielded a string where {dt.name} was "
                        f"expected ({where}): {_value_text(value)}.")
    shape = S.spec_shape(spec)
    if not shape.is_compatible_with(arr.shape):
        raise ValueError(
            f"from_generator: `generator` yielded an element of shape {tuple(arr.shape)} where "
            f"an element of shape {shape} was expected ({where}).")
    return arr


# ----------------------------------------------------------------------------------------
# Combining datasets

class _ZipDataset(DatasetV2):
    def __init__(self, structure):
        if isinstance(structure, list):
            structure = tuple(structure)
        flat = S.flatten(structure)
        for d in flat:
            if not isinstance(d, DatasetV2):
                raise TypeError(f"Dataset.zip expects datasets (in a tuple or dict), got "
                                f"{type(d).__name__}.")
        super().__init__(*flat)
        self._structure = structure

    def _iter(self):
        its = [d._iter() for d in self._inputs]
        while True:
            vals = []
            for it in its:
                try:
                    vals.append(next(it))
                except StopIteration:
                    return
            yield S.pack(self._structure, vals)

    def _compute_spec(self):
        return S.pack(self._structure, [d.element_spec for d in self._inputs])

    def _cardinality(self):
        cards = [d._cardinality() for d in self._inputs]
        finite = [c for c in cards if c >= 0]
        if finite:
            return min(finite)
        return UNKNOWN if UNKNOWN in cards else INFINITE


ZipDataset = _ZipDataset


class _ConcatenateDataset(DatasetV2):
    def __init__(self, first, second):
        if not isinstance(second, DatasetV2):
            raise TypeError(f"Dataset.concatenate expects a Dataset, got "
                            f"{type(second).__name__}.")
        super().__init__(first, second)
        a, b = first.element_spec, second.element_spec
        fa, fb = S.flatten(a), S.flatten(b)
        if not S.same_structure(a, b) or \
                any(S.spec_dtype(x) != S.spec_dtype(y) for x, y in zip(fa, fb)):
            raise TypeError(f"Dataset.concatenate: incompatible dataset elements: {a!r} and "
                            f"{b!r} (both must have the same structure and dtypes).")

    def _iter(self):
        yield from self._inputs[0]._iter()
        yield from self._inputs[1]._iter()

    def _compute_spec(self):
        a, b = self._inputs[0].element_spec, self._inputs[1].element_spec
        return S.pack(a, [S.relax(x, y) for x, y in zip(S.flatten(a), S.flatten(b))])

    def _cardinality(self):
        x, y = self._inputs[0]._cardinality(), self._inputs[1]._cardinality()
        if INFINITE in (x, y):
            return INFINITE
        if UNKNOWN in (x, y):
            return UNKNOWN
        return x + y


ConcatenateDataset = _ConcatenateDataset


class _ListDataset(DatasetV2):
    """A dataset over a list of elements already in memory (window's sub-datasets)."""

    def __init__(self, elements, spec):
        super().__init__()
        self._elements = elements
        self._spec_given = spec

    def _iter(self):
        return iter(self._elements)

    def _compute_spec(self):
        return self._spec_given

    def _cardinality(self):
        return len(self._elements)


# ----------------------------------------------------------------------------------------
# Files

def list_files(file_pattern, shuffle=None, seed=None):
    if isinstance(file_pattern, Tensor):
        file_pattern = to_host(file_pattern)[()]
    patterns = [file_pattern] if isinstance(file_pattern, (str, bytes, os.PathLike)) \
        else list(np.asarray(file_pattern, dtype=object).ravel())
    names = set()
    for p in patterns:
        p = os.fsdecode(p)
        names.update(_glob.glob(p))
    if not names:
        raise InvalidArgumentError(f"Dataset.list_files: no files matched pattern: "
                                   f"{', '.join(os.fsdecode(p) for p in patterns)}")
    ds = _TensorSliceDataset(np.array(sorted(names), dtype=object))
    if shuffle is None or shuffle:
        ds = ds.shuffle(len(names), seed=seed)
    return ds


class TextLineDataset(DatasetV2):
    """The lines of one or more text files, without line endings, as string tensors."""

    def __init__(self, filenames, compression_type=None, buffer_size=None,
                 num_parallel_reads=None, name=None):
        super().__init__()
        if isinstance(filenames, Tensor):
            filenames = to_host(filenames)[()]
        if isinstance(filenames, (str, bytes, os.PathLike)):
            filenames = [filenames]
        self._files = [os.fsdecode(f) for f in np.asarray(filenames, dtype=object).ravel()]
        self._compression = compression_type or ""

    def _iter(self):
        import gzip
        for f in self._files:
            opener = gzip.open if self._compression == "GZIP" else open
            with opener(f, "rb") as fh:
                for line in fh:
                    yield np.array(line.rstrip(b"\r\n"), dtype=object)

    def _compute_spec(self):
        return S.make_spec([], dtypes.string)


# ----------------------------------------------------------------------------------------
# Mixing datasets

class _DirectedInterleaveDataset(DatasetV2):
    """Draws each element from the dataset a selector names (sample_ / choose_from_datasets)."""

    def __init__(self, datasets, selector, stop_on_empty):
        datasets = list(datasets)
        for d in datasets:
            if not isinstance(d, DatasetV2):
                raise TypeError(f"expected a list of datasets, got {type(d).__name__}.")
        if not datasets:
            raise ValueError("expected a non-empty list of datasets.")
        super().__init__(*datasets)
        self._selector = selector
        self._stop = stop_on_empty

    def _iter(self):
        its = [d._iter() for d in self._inputs]
        alive = [True] * len(its)
        for i in self._selector(alive):
            if i is None:
                return
            if not 0 <= i < len(its):
                raise InvalidArgumentError(f"choose_from_datasets: selector value {i} is out "
                                           f"of range [0, {len(its)}).")
            if not alive[i]:
                if self._stop:
                    return
                continue
            try:
                yield next(its[i])
            except StopIteration:
                alive[i] = False
                if self._stop or not any(alive):
                    return

    def _compute_spec(self):
        specs = [d.element_spec for d in self._inputs]
        first = specs[0]
        leaves = S.flatten(first)
        for s in specs[1:]:
            leaves = [S.relax(a, b) for a, b in zip(leaves, S.flatten(s))]
        return S.pack(first, leaves)


def sample_from_datasets(datasets, weights=None, seed=None, stop_on_empty_dataset=False,
                         rerandomize_each_iteration=None):
    from tenfold.data._transforms import _derive_seed
    datasets = list(datasets)
    k = len(datasets)
    if weights is None:
        w = np.full(k, 1.0 / max(k, 1))
    else:
        w = np.asarray(array_of(weights), dtype=np.float64).ravel()
        if w.shape != (k,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"sample_from_datasets: weights must be {k} non-negative numbers "
                             f"(not all zero), got {weights!r}.")
    base = _derive_seed(seed)
    epochs = iter(range(2 ** 62))

    def selector(alive):
        rng = np.random.default_rng([base, next(epochs)])
        while any(alive):
            p = w * np.asarray(alive)
            if p.sum() <= 0:
                return
            yield int(rng.choice(k, p=p / p.sum()))
    return _DirectedInterleaveDataset(datasets, selector, stop_on_empty_dataset)


def choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset=True):
    def selector(alive):
        for c in choice_dataset._iter():
            yield int(c)
    return _DirectedInterleaveDataset(datasets, selector, stop_on_empty_dataset)


class TFRecordDataset(DatasetV2):
    """The records of one or more TFRecord files, as scalar string tensors, file after file
    (TensorFlow's format, CRCs checked; `compression_type` '', 'ZLIB' or 'GZIP')."""

    def __init__(self, filenames, compression_type=None, buffer_size=None,
                 num_parallel_reads=None, name=None):
        from tenfold.data import tfrecord
        super().__init__()
        self._files = tfrecord.file_list(filenames)
        self._compression = tfrecord._compression(compression_type, "TFRecordDataset")
        # num_parallel_reads > 1: TensorFlow interleaves the files (one record from each of
        # that many files in turn); tenfold reads them in that same order, in one thread
        self._reads = 1 if num_parallel_reads is None else _int(num_parallel_reads,
                                                                "num_parallel_reads")
        if self._reads == -1:  # AUTOTUNE: TensorFlow picks the machine's core count
            self._reads = os.cpu_count() or 1

    def _iter(self):
        from tenfold.data import tfrecord
        if self._reads > 1 and len(self._files) > 1:
            yield from self._interleaved()
            return
        for f in self._files:
            for rec in tfrecord.read_records(f, self._compression):
                yield np.array(rec, dtype=object)

    def _interleaved(self):
        from tenfold.data import tfrecord
        pending = iter(self._files)
        slots = [tfrecord.read_records(f, self._compression)
                 for f in [next(pending) for _ in range(min(self._reads, len(self._files)))]]
        i = 0
        while any(s is not None for s in slots):
            it = slots[i]
            if it is not None:
                try:
                    yield np.array(next(it), dtype=object)
                except StopIteration:  # refill the slot; its turn passes to the next one
                    nxt = next(pending, None)
                    slots[i] = None if nxt is None else tfrecord.read_records(
                        nxt, self._compression)
            i = (i + 1) % len(slots)

    def _compute_spec(self):
        return S.make_spec([], dtypes.string)
