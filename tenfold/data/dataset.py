"""`tf.data.Dataset`: the public class. Each method builds a transformation node
(`_sources.py`, `_transforms.py`); iteration pulls elements through the chain.

Elements flow as nested tuples / dicts of backend arrays and become `Tensor`s only when they
leave the pipeline (iteration) or enter a user function (`map`, `filter`, ...). Chains over
in-memory arrays run on index arrays instead of elements (`_index.py`).
"""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.framework import dtypes
from tenfold.framework.errors import InvalidArgumentError, OutOfRangeError
from tenfold.data import _structure as S

AUTOTUNE = -1
INFINITE = INFINITE_CARDINALITY = -1
UNKNOWN = UNKNOWN_CARDINALITY = -2

_UNSET = object()


def _int(value, what):
    if isinstance(value, Tensor):
        value = to_host(value)[()]
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be an integer, got {value!r}") from None
    if out != value:
        raise TypeError(f"{what} must be an integer, got {value!r}")
    return out


class DatasetV2:
    """A sequence of elements, each a tensor or a tuple / dict of tensors (`tf.data.Dataset`).

        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(128)
        for x_batch, y_batch in ds:
            ...
    """

    _options = None

    def __init__(self, *inputs):
        self._inputs = inputs
        self._spec = _UNSET

    # --- what each node implements ---
    def _iter(self):
        """A fresh iterator over internal elements (one pass)."""
        plan = self._index_plan()
        if plan is None:
            raise NotImplementedError(type(self).__name__)
        return _elements_from_plan(plan)

    def _index_plan(self):
        """An IndexPlan when this node's elements are rows of in-memory arrays, else None."""
        return None

    def _compute_spec(self):
        return self._inputs[0].element_spec

    def _cardinality(self):
        return UNKNOWN

    # --- introspection ---
    @property
    def element_spec(self):
        """The structure of TensorSpecs one element has (`TensorSpec(shape, dtype)` leaves)."""
        if self._spec is _UNSET:
            self._spec = self._compute_spec()
        return self._spec

    @property
    def output_types(self):
        return S.map_leaves(lambda s: getattr(s, "dtype", None), self.element_spec)

    @property
    def output_shapes(self):
        return S.map_leaves(lambda s: getattr(s, "shape", None), self.element_spec)

    def cardinality(self):
        """The number of elements as an int64 scalar tensor; -1 infinite, -2 unknown."""
        return from_host(np.asarray(self._cardinality(), dtype=np.int64))

    def __len__(self):
        n = self._cardinality()
        if n == INFINITE:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self):
        return True

    def __iter__(self):
        return OwnedIterator(self)

    def __repr__(self):
        try:
            spec = self.element_spec
        except Exception:  # noqa: BLE001 - repr must not fail
            spec = "<unknown>"
        return f"<{type(self).__name__} element_spec={spec!r}>"

    def options(self):
        from tenfold.data.options import Options
        out = Options()
        for node in self._chain():
            if node._options is not None:
                out = out.merge(node._options)
        return out

    def _chain(self):
        """This node and everything upstream, sources first."""
        seen, order, stack = set(), [], [self]
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            order.append(n)
            stack.extend(i for i in n._inputs if isinstance(i, DatasetV2))
        return order[::-1]

    def _deterministic_default(self):
        d = self.options().deterministic
        return True if d is None else bool(d)

    def as_numpy_iterator(self):
        """Iterates the elements as NumPy values (arrays; NumPy scalars for 0-d tensors)."""
        return _NumpyIterator(self)

    def enumerate(self, start=0, name=None):
        return _transforms.EnumerateDataset(self, _int(start, "enumerate's start"))

    def reduce(self, initial_state, reduce_func, name=None):
        """Folds the elements: `state = reduce_func(state, element)`; returns the final state."""
        state = S.normalize(initial_state, "initial_state")
        for i, e in enumerate(self._iter()):
            new = _call_fn(reduce_func, "reduce", (S.to_tensors(state), S.to_tensors(e)),
                           i, unpack=True)
            new = S.from_tensors(new)
            if not S.same_structure(state, new):
                raise TypeError(f"Dataset.reduce: reduce_func must return a state with the "
                                f"structure of initial_state {S.describe(state)}, got "
                                f"{S.describe(new)}.")
            state = new
        return S.to_tensors(state)

    def get_single_element(self, name=None):
        it = self._iter()
        try:
            first = next(it)
        except StopIteration:
            raise InvalidArgumentError("Dataset.get_single_element: the dataset was empty; "
                                       "it must have exactly one element.") from None
        for _ in it:
            raise InvalidArgumentError("Dataset.get_single_element: the dataset had more than "
                                       "one element; it must have exactly one.")
        return S.to_tensors(first)

    # --- sources ---
    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """A dataset of the slices of `tensors` along their first axis (tuples / dicts kept)."""
        if any(S.is_ragged(t) for t in S.flatten(tensors)):  # rows of different lengths
            from tenfold.data._ragged import RaggedSliceDataset
            return RaggedSliceDataset(tensors)
        return _sources.TensorSliceDataset(tensors)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A dataset with one element: `tensors` itself."""
        return _sources.TensorDataset(tensors)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None):
        """A dataset of the elements `generator(*args)` yields, checked against
        `output_signature` (TensorSpecs), or `output_types` / `output_shapes`."""
        return _sources.GeneratorDataset(generator, output_types, output_shapes, args,
                                         output_signature)

    @staticmethod
    def range(*args, **kwargs):
        """`range(stop)`, `range(start, stop[, step])`; int64 elements (`output_type=`)."""
        return _sources.RangeDataset(*args, **kwargs)

    @staticmethod
    def zip(*args, datasets=None, name=None):
        """Elements combining one element of each dataset, in the structure given."""
        if datasets is not None:
            if args:
                raise TypeError("Dataset.zip: pass the datasets either positionally or as "
                                "`datasets=`, not both.")
            structure = datasets
        elif len(args) == 1:
            structure = args[0]
        elif args:
            structure = tuple(args)
        else:
            raise TypeError("Dataset.zip needs at least one dataset.")
        return _sources.ZipDataset(structure)

    @staticmethod
    def list_files(file_pattern, shuffle=None, seed=None, name=None):
        """File names matching a glob pattern (or list of patterns), shuffled by default."""
        return _sources.list_files(file_pattern, shuffle, seed)

    @staticmethod
    def sample_from_datasets(datasets, weights=None, seed=None, stop_on_empty_dataset=False,
                             rerandomize_each_iteration=None):
        """Elements drawn at random from `datasets` with probabilities `weights`."""
        return _sources.sample_from_datasets(datasets, weights, seed, stop_on_empty_dataset)

    @staticmethod
    def choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset=True):
        """Elements taken from `datasets[i]` for each `i` that `choice_dataset` yields."""
        return _sources.choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset)

    @staticmethod
    def counter(start=0, step=1, dtype=dtypes.int64, name=None):
        return _sources.RangeDataset(start, None, step, output_type=dtype)

    # --- transformations ---
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None,
            synchronous=None):
        """Applies `map_func` to each element (tuple elements are passed as separate
        arguments). With `num_parallel_calls` (or AUTOTUNE) it runs in threads; the order is
        kept unless `deterministic=False`."""
        return _transforms.MapDataset(self, map_func, num_parallel_calls, deterministic)

    def filter(self, predicate, name=None):
        """Keeps the elements for which `predicate` returns True (a scalar bool)."""
        return _transforms.FilterDataset(self, predicate)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None, name=None):
        """Randomly shuffles with a buffer of `buffer_size` elements (TensorFlow's buffer
        semantics: each output is drawn uniformly from the next `buffer_size` candidates)."""
        return _transforms.ShuffleDataset(self, buffer_size, seed, reshuffle_each_iteration)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        """Stacks consecutive elements into batches of `batch_size` (the last one may be
        smaller unless `drop_remainder=True`)."""
        return _transforms.BatchDataset(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None,
                     drop_remainder=False, name=None):
        """Batches elements of different shapes, padding each component to `padded_shapes`
        (None dimensions: to the longest in the batch) with `padding_values` (0 / b"")."""
        return _transforms.PaddedBatchDataset(self, batch_size, padded_shapes, padding_values,
                                              drop_remainder)

    def ragged_batch(self, batch_size, drop_remainder=False, row_splits_dtype=None, name=None):
        """Batches elements of different lengths: components whose shape is not fully known
        become RaggedTensors (rows of different lengths), the others are stacked as `batch`
        does."""
        from tenfold.data._ragged import RaggedBatchDataset
        return RaggedBatchDataset(self, batch_size, drop_remainder)

    def unbatch(self, name=None):
        """Splits each element along its first axis (the inverse of batch)."""
        return _transforms.UnbatchDataset(self)

    def rebatch(self, batch_size, drop_remainder=False, name=None):
        """Re-cuts a batched dataset into batches of `batch_size`."""
        return _transforms.BatchDataset(_transforms.UnbatchDataset(self), batch_size,
                                        drop_remainder)

    def repeat(self, count=None, name=None):
        """Repeats the dataset `count` times (None or -1: forever)."""
        return _transforms.RepeatDataset(self, -1 if count is None else
                                         _int(count, "repeat's count"))

    def take(self, count, name=None):
        """The first `count` elements (-1: all)."""
        return _transforms.TakeDataset(self, _int(count, "take's count"))

    def skip(self, count, name=None):
        """All but the first `count` elements (-1: skip everything)."""
        return _transforms.SkipDataset(self, _int(count, "skip's count"))

    def shard(self, num_shards, index, name=None):
        """Every `num_shards`-th element, starting at `index`."""
        return _transforms.ShardDataset(self, _int(num_shards, "num_shards"),
                                        _int(index, "index"))

    def prefetch(self, buffer_size, name=None):
        """Prepares up to `buffer_size` elements ahead in a background thread."""
        return _transforms.PrefetchDataset(self, _int(buffer_size, "prefetch's buffer_size"))

    def cache(self, filename="", name=None):
        """Keeps the elements of the first complete pass (in memory, or in a file that later
        runs of the program read back) and replays them afterwards."""
        return _transforms.CacheDataset(self, str(filename) if filename else "")

    def concatenate(self, dataset, name=None):
        """This dataset's elements followed by `dataset`'s."""
        return _sources.ConcatenateDataset(self, dataset)

    def flat_map(self, map_func, name=None):
        """Maps each element to a dataset and chains those datasets."""
        return _transforms.FlatMapDataset(self, map_func)

    def interleave(self, map_func, cycle_length=None, block_length=None,
                   num_parallel_calls=None, deterministic=None, name=None):
        """Maps each element to a dataset and draws `block_length` elements from each of
        `cycle_length` of them in turn."""
        return _transforms.InterleaveDataset(self, map_func, cycle_length, block_length)

    def window(self, size, shift=None, stride=1, drop_remainder=False, name=None):
        """Windows of `size` elements (each a dataset, or a tuple / dict of datasets), starting
        every `shift` elements, taking every `stride`-th element."""
        return _transforms.WindowDataset(self, size, shift, stride, drop_remainder)

    def apply(self, transformation_func):
        out = transformation_func(self)
        if not isinstance(out, DatasetV2):
            raise TypeError("Dataset.apply: the transformation must return a Dataset, got "
                            f"{type(out).__name__}.")
        return out

    def with_options(self, options, name=None):
        return _transforms.OptionsDataset(self, options)

    def assert_cardinality(self, expected_cardinality):
        return _transforms.AssertCardinalityDataset(self, _int(expected_cardinality,
                                                               "expected_cardinality"))

    def scan(self, initial_state, scan_func, name=None):
        """A running state: `new_state, output = scan_func(state, element)`; yields outputs."""
        return _transforms.ScanDataset(self, initial_state, scan_func)

    def group_by_window(self, key_func, reduce_func, window_size=None, window_size_func=None,
                        name=None):
        """Groups elements by `key_func(element)` into windows of `window_size` and maps
        each window (a dataset) through `reduce_func(key, window)`."""
        return _transforms.GroupByWindowDataset(self, key_func, reduce_func, window_size,
                                                window_size_func)

    def bucket_by_sequence_length(self, element_length_func, bucket_boundaries,
                                  bucket_batch_sizes, padded_shapes=None, padding_values=None,
                                  pad_to_bucket_boundary=False, no_padding=False,
                                  drop_remainder=False, name=None):
        """Batches elements of similar length together (bucket i holds lengths in
        [boundaries[i-1], boundaries[i])), padding each batch."""
        return _transforms.bucket_by_sequence_length(
            self, element_length_func, bucket_boundaries, bucket_batch_sizes, padded_shapes,
            padding_values, pad_to_bucket_boundary, no_padding, drop_remainder)

    def take_while(self, predicate, name=None):
        return _transforms.TakeWhileDataset(self, predicate)

    def unique(self, name=None):
        return _transforms.UniqueDataset(self)


Dataset = DatasetV2


# ----------------------------------------------------------------------------------------
# Iterators

class OwnedIterator:
    """The iterator `iter(dataset)` returns (`tf.data.Iterator`)."""

    def __init__(self, dataset):
        self._dataset = dataset
        self._it = dataset._iter()

    def __iter__(self):
        return self

    def __next__(self):
        return S.to_tensors(next(self._it))

    def get_next(self, name=None):
        try:
            return S.to_tensors(next(self._it))
        except StopIteration:
            raise OutOfRangeError("End of sequence") from None

    def get_next_as_optional(self):
        try:
            return Optional(S.to_tensors(next(self._it)))
        except StopIteration:
            return Optional(None, empty=True)

    @property
    def element_spec(self):
        return self._dataset.element_spec


Iterator = OwnedIterator


class Optional:
    """`tf.experimental.Optional`: a value that may be absent."""

    def __init__(self, value, empty=False):
        self._payload = value
        self._empty = empty

    def has_value(self, name=None):
        return from_host(np.asarray(not self._empty))

    def get_value(self, name=None):
        if self._empty:
            raise InvalidArgumentError("Optional.get_value: the optional has no value.")
        return self._payload


class _NumpyIterator:
    def __init__(self, dataset):
        self._it = dataset._iter()

    def __iter__(self):
        return self

    def __next__(self):
        return S.to_numpy(next(self._it))

    def __repr__(self):
        return "<NumpyIterator>"


def _elements_from_plan(plan):
    leaves = S.flatten(plan.source)
    template = plan.source
    if not S.is_structure(template):
        leaf = leaves[0]
        for c in plan.stream():
            for i in (c if isinstance(c, range) else c.tolist()):
                yield leaf[i, ...]
        return
    flat_tuple = type(template) is tuple and all(not S.is_structure(t) for t in template)
    for c in plan.stream():
        for i in (c if isinstance(c, range) else c.tolist()):
            vals = [a[i, ...] for a in leaves]
            yield tuple(vals) if flat_tuple else S.pack(template, vals)


# ----------------------------------------------------------------------------------------
# Calling user functions

def _fn_name(fn):
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name or type(fn).__name__


def _call_fn(fn, what, element, index, unpack=True):
    """Calls a user function on an element (already tensors) and names the element if it
    raises. Tuples are passed as separate arguments, as tf.data does."""
    try:
        if unpack and type(element) is tuple:
            return fn(*element)
        return fn(element)
    except Exception as e:
        note = (f"(raised by the function `{_fn_name(fn)}` passed to Dataset.{what}, on "
                f"element {index} of its input, {S.describe(element)})")
        _annotate(e, note)
        raise


def _annotate(exc, note):
    if hasattr(exc, "add_note"):
        if note not in getattr(exc, "__notes__", ()):
            exc.add_note(note)
    elif exc.args and isinstance(exc.args[0], str) and note not in exc.args[0]:
        exc.args = (f"{exc.args[0]}\n{note}",) + exc.args[1:]


from tenfold.data import _sources, _transforms  # noqa: E402
from tenfold.framework.host import from_host, to_host
