"""Distributed input: `InputContext`, and datasets whose global batches are split across the
replicas of every worker.

A global batch of B elements over R replicas: each replica gets ceil(B / R) elements in
replica order until the batch runs out, so a batch that does not divide leaves the last
replicas smaller, possibly empty (7 over 2: [4, 3]; 5 over 4: [2, 2, 1, 0]) - TensorFlow's
rebatching. Worker w holds replicas w*k ... w*k + k - 1 (k replicas per worker), so N workers
with per-worker batch B see exactly the rows of one process with batch N*B, in order.
"""
import numpy as np

from tenfold.distribute import values as dv
from tenfold.util import nest


class InputContext:
    """`tf.distribute.InputContext`: which input pipeline this is, out of how many."""

    def __init__(self, num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=1):
        self.num_input_pipelines = num_input_pipelines
        self.input_pipeline_id = input_pipeline_id
        self.num_replicas_in_sync = num_replicas_in_sync

    def get_per_replica_batch_size(self, global_batch_size):
        if global_batch_size % self.num_replicas_in_sync != 0:
            raise ValueError(f"The `global_batch_size` {global_batch_size} is not divisible by "
                             f"`num_replicas_in_sync` {self.num_replicas_in_sync}.")
        return global_batch_size // self.num_replicas_in_sync

    def __repr__(self):
        return (f"tf.distribute.InputContext(input pipeline id {self.input_pipeline_id}, "
                f"total: {self.num_input_pipelines})")


class ValueContext:
    """`tf.distribute.experimental.ValueContext` (for distribute_values_from_function)."""

    def __init__(self, replica_id_in_sync_group=0, num_replicas_in_sync=1):
        self.replica_id_in_sync_group = replica_id_in_sync_group
        self.num_replicas_in_sync = num_replicas_in_sync


def replica_sizes(batch, replicas):
    """Elements per replica for a global batch (see the module docstring)."""
    per = -(-batch // replicas) if batch else 0
    return [max(0, min(per, batch - r * per)) for r in range(replicas)]


def worker_slices(batch, strategy):
    """(start, stop) of each of this worker's replicas in a global batch of `batch` rows."""
    sizes = replica_sizes(batch, strategy.num_replicas_in_sync)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    first = strategy._rank * strategy._num_local
    return [(int(starts[r]), int(starts[r + 1])) for r in range(first, first + strategy._num_local)]


def _rows(x, lo, hi):
    from tenfold.framework.tensor import Tensor
    if x is None:
        return None
    if isinstance(x, Tensor):
        return x[lo:hi]  # a tenfold slice op: this replica's rows
    if hasattr(x, "shape") and len(getattr(x, "shape", ())):
        return x[lo:hi]
    return x


def batch_rows(element):
    for t in nest.flatten(element):
        if t is not None and hasattr(t, "shape") and len(t.shape):
            return int(t.shape[0])
    return None


def split_element(strategy, element):
    """This worker's part of one global batch: its replicas' slices (PerReplica when it has
    several, the plain structure when one)."""
    n = batch_rows(element)
    if n is None:
        raise ValueError("tf.distribute: the dataset's elements must be batches (a leading "
                         "batch axis) to be split across replicas: call `dataset.batch("
                         "global_batch_size)` first.")
    parts = []
    for lo, hi in worker_slices(n, strategy):
        part = nest.map_structure(lambda t: _rows(t, lo, hi), element) \
            if nest.is_nested(element) else _rows(element, lo, hi)
        parts.append(part)
    return parts[0] if len(parts) == 1 else _per_replica_structure(parts)


def _per_replica_structure(parts):
    return dv.regroup(parts)


class DistributedDataset:
    """`strategy.experimental_distribute_dataset(dataset)`: iterate for this worker's parts of
    each global batch (every worker reads the whole pipeline and keeps its rows)."""

    def __init__(self, strategy, dataset, options=None):
        self._strategy = strategy
        self._dataset = dataset
        self._options = options

    def __iter__(self):
        return DistributedIterator(self._strategy, iter(self._dataset), split=True)

    @property
    def element_spec(self):
        return getattr(self._dataset, "element_spec", None)

    def reduce(self, initial_state, reduce_func):
        state = initial_state
        for element in self:
            state = reduce_func(state, element)
        return state


class DistributedDatasetsFromFunction:
    """`strategy.distribute_datasets_from_function(fn)`: each worker builds its own dataset
    from an `InputContext` (its shard, per-replica batches); the workers stop together when
    any runs out (one small all-reduce per step)."""

    def __init__(self, strategy, dataset_fn, options=None):
        self._strategy = strategy
        ctx = InputContext(strategy._num_workers, strategy._rank,
                           strategy.num_replicas_in_sync)
        self._dataset = dataset_fn(ctx)
        self._options = options

    def __iter__(self):
        return DistributedIterator(self._strategy, iter(self._dataset), split=False)

    @property
    def element_spec(self):
        return getattr(self._dataset, "element_spec", None)


class DistributedIterator:
    """`tf.distribute.DistributedIterator`: `next()` / `get_next()` give this worker's
    per-replica values."""

    def __init__(self, strategy, it, split):
        self._strategy = strategy
        self._it = it
        self._split = split
        self._done = False

    def __iter__(self):
        return self

    def _pull(self):
        s = self._strategy
        if self._split:
            return split_element(s, next(self._it))
        parts = []
        for _ in range(s._num_local):
            parts.append(next(self._it))
        return parts[0] if len(parts) == 1 else _per_replica_structure(parts)

    def __next__(self):
        if self._done:
            raise StopIteration
        s = self._strategy
        try:
            value, have = self._pull(), 1
        except StopIteration:
            value, have = None, 0
        if not self._split and s._num_workers > 1:  # every worker agrees on the end
            have = int(s._comm.allreduce([np.asarray([have], np.int64)], "min")[0][0])
        if not have:
            self._done = True
            raise StopIteration
        return value

    def get_next(self):
        try:
            return next(self)
        except StopIteration:
            from tenfold.framework import errors
            raise errors.OutOfRangeError(None, None, "End of sequence") from None

    def get_next_as_optional(self):
        try:
            value = next(self)
        except StopIteration:
            value = None
        return _Optional(value)


class _Optional:
    def __init__(self, value):
        self._element = value

    def has_value(self):
        from tenfold.framework.tensor import constant
        return constant(self._element is not None)

    def get_value(self):
        if self._element is None:
            from tenfold.framework import errors
            raise errors.InvalidArgumentError(None, None, "The optional has no value.")
        return self._element
