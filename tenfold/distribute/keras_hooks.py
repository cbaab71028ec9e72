"""What Keras `fit` / `evaluate` / `predict` and the optimizers do under a strategy.

The training loop (tenfold/keras/engine/trainer.py) and the optimizers call these through
small marked hooks, only after `tenfold.distribute` was imported:

- `strategy_of(model)`: the strategy the model was compiled under (Keras trains a model with
  the strategy whose scope it was compiled in), or the one in scope now.
- `shard_adapter`: each worker iterates over its replicas' rows of every global batch.
- `wrap_step`: runs the step in the replica context (so the loss is scaled by
  1 / num_replicas_in_sync and the optimizer sums gradients over replicas) and returns the
  global metric results, computed from metric variables summed over the workers.
- `wrap_predict`: gathers every worker's predictions, in input order.
- `callbacks_for_worker`: worker 0 alone writes (checkpoints, TensorBoard, CSV, backups,
  progress bar); after `on_train_begin` (where BackupAndRestore restores) every worker takes
  worker 0's weights, optimizer state, initial epoch and shuffling RNG.
- `aggregate_gradients` (optimizers) and `scale_loss` / `unscale_loss` (the loss).
"""
import threading
import time
import weakref

import numpy as np

from tenfold.distribute import strategy as _st
from tenfold.distribute import input as _input
from tenfold.distribute import overlap
from tenfold.ops.buffers import array_of, assign_buffer, from_buffer, variable_buffer
from tenfold.util import nest


def strategy_of(model):
    s = model.__dict__.get("_distribute_strategy")
    if s is None and _st.has_strategy():
        s = _st.get_strategy()
    return s


def record_strategy(model):
    """At compile: remember the strategy in scope (as Keras does)."""
    if _st.has_strategy():
        model.__dict__["_distribute_strategy"] = _st.get_strategy()


def _multi(model):
    s = strategy_of(model)
    return s if s is not None and s._num_workers > 1 else None


# ---------------------------------------------------------------------- loss scaling
def _replicas_of_step():
    """Replicas whose gradients are summed for the step running now: the strategy's count
    inside `strategy.run` / a distributed fit step (a replica context), else 1."""
    ctx = _st._replica_ctx()
    return 1 if ctx is None else ctx.strategy.num_replicas_in_sync


def scale_loss(loss):
    n = _replicas_of_step()
    if n > 1:
        from tenfold.ops import math_ops
        return math_ops.multiply(loss, np.asarray(1.0 / n, dtype=loss.dtype.as_numpy_dtype))
    return loss


def unscale_loss(loss):
    n = _replicas_of_step()
    if n > 1:
        from tenfold.ops import math_ops
        return math_ops.multiply(loss, np.asarray(n, dtype=loss.dtype.as_numpy_dtype))
    return loss


def aggregate_gradients(grads, variables, optimizer=None):
    """The optimizer's hook: the gradients summed over every replica; or None when the update
    was applied here already (several local replicas: a merge_call sums the replicas'
    gradients, reduces them over the workers and applies them once)."""
    if getattr(_applying, "active", False):
        return grads  # inside that merge_call: already summed
    s = _st.get_strategy()
    if s.num_replicas_in_sync == 1:
        return grads
    ctx = _st._replica_ctx()
    if ctx is not None and ctx._thread is not None:
        if optimizer is None:
            raise RuntimeError("tf.distribute: an optimizer applied gradients in a replica "
                               "context without naming itself to aggregate_gradients.")
        ctx.merge_call(_apply_summed, args=(optimizer, list(grads), list(variables)))
        return None
    if ctx is None and _st.in_cross_replica_context() and s._num_local > 1:
        return grads  # cross-replica context (merge_call, or outside run): already summed
    return s._aggregate_gradients(grads, variables)


_applying = threading.local()


def _apply_summed(strategy, optimizer, grads, variables):
    """merge_fn of the optimizer's update with several local replicas."""
    from tenfold.distribute.collective import sum_local_gradients
    per_replica = [list(g) for g in _st.dv.local_results(grads)]
    summed = sum_local_gradients(per_replica)
    if strategy._num_workers > 1:
        summed = strategy._reducer(summed, variables)
    _applying.active = True
    try:
        optimizer.apply(summed, variables)
    finally:
        _applying.active = False


# ---------------------------------------------------------------------- input
class ShardedAdapter:
    """A data adapter whose batches are this worker's rows of each global batch (one batch
    of the rows of all its replicas; the replicated step splits it, see `local_parts`)."""

    def __init__(self, strategy, adapter):
        self._strategy = strategy
        self._adapter = adapter

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    def _part(self, data):
        s = self._strategy
        n = _input.batch_rows(data)
        if n is None or s._num_local == 1:
            return _input.split_element(s, data)
        s._global_rows = n
        slices = _input.worker_slices(n, s)
        lo, hi = slices[0][0], slices[-1][1]
        return nest.map_structure(lambda t: _input._rows(t, lo, hi), data) \
            if nest.is_nested(data) else _input._rows(data, lo, hi)

    def __iter__(self):
        for data in self._adapter:
            yield self._part(data)

    def peek(self):
        data = self._adapter.peek()
        if data is None:
            return None
        part = self._part(data)
        n = _input.batch_rows(part)
        return part if n else data  # build from the full batch if this worker's part is empty


class JoinedReplicaBatches:
    """A distributed dataset's PerReplica elements as one batch of this worker's rows; the
    replicas' sizes are kept for `local_parts`."""

    def __init__(self, strategy, adapter):
        self._strategy = strategy
        self._adapter = adapter

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    def _join(self, data):
        from tenfold.ops import array_ops
        parts = _st.dv.local_results(data)
        if len(parts) == 1:
            return data
        self._strategy._local_sizes = [_input.batch_rows(p) or 0 for p in parts]
        flats = [nest.flatten(p) for p in parts]
        joined = [None if f[0] is None else array_ops.concat(list(f), axis=0)
                  for f in zip(*flats)]
        return nest.pack_sequence_as(parts[0], joined)

    def __iter__(self):  # the distributed dataset itself: its PerReplica elements intact
        steps = getattr(self._adapter, "steps", None)
        for i, data in enumerate(self._adapter.data):
            if steps is not None and i >= steps:
                break
            yield self._join(data)

    def peek(self):
        for data in self._adapter.data:
            return self._join(data)
        return None


def shard_adapter(model, adapter):
    s = strategy_of(model)
    if s is None or s.num_replicas_in_sync == 1 or isinstance(adapter, ShardedAdapter):
        return adapter
    if isinstance(getattr(adapter, "data", None), (_input.DistributedDataset,
                                                    _input.DistributedDatasetsFromFunction)):
        # already this worker's part (strategy.experimental_distribute_...): one batch per
        # step, the replicas' parts concatenated (the replicated step splits them again)
        return JoinedReplicaBatches(s, adapter) if s._num_local > 1 else adapter
    if s._num_workers == 1:  # one process: its replicas' rows are the whole batch
        return adapter
    return ShardedAdapter(s, adapter)


# ---------------------------------------------------------------------- steps
def wrap_step(model, fn):
    s = strategy_of(model)
    if s is None or s.num_replicas_in_sync == 1:
        return fn
    if s._num_local > 1 and _is_train_step(fn):
        return _replicated_train_step(model, s, fn)
    if s._num_workers == 1:
        return fn  # evaluation in one process: its replicas' rows as one batch (same numbers)
    multi = s._num_workers > 1

    def step(data):
        with _st.ReplicaContext(s, s._rank * s._num_local), overlap.session_for(s):
            logs = fn(data)
        if multi:
            return model.get_metrics_result()
        return logs
    step.__name__ = getattr(fn, "__name__", "step")
    step.__wrapped__ = fn
    return step


def _is_train_step(fn):
    base = getattr(fn, "_step", fn)
    return getattr(base, "__name__", "") == "train_step"


def local_parts(strategy, data):
    """This worker's batch split into its local replicas' batches, as the global batch is
    split (TensorFlow's rebatching; see input.py)."""
    sizes = strategy.__dict__.pop("_local_sizes", None)
    if sizes is not None and sum(sizes) == _input.batch_rows(data):  # a distributed dataset's
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()      # own split
        slices = list(zip(bounds[:-1], bounds[1:]))
    else:
        n = _input.batch_rows(data)
        total = strategy.__dict__.pop("_global_rows", None) or n
        slices = _input.worker_slices(total, strategy)
    first = slices[0][0]
    parts = []
    for lo, hi in slices:
        lo, hi = lo - first, hi - first
        parts.append(nest.map_structure(lambda t: _input._rows(t, lo, hi), data)
                     if nest.is_nested(data) else _input._rows(data, lo, hi))
    return tuple(parts)


def _replicated_train_step(model, s, fn):
    """Keras's train step under several local replicas: `strategy.run(train_step)` on each
    replica's part of the batch (one thread per replica, the optimizer update applied once in
    a merge_call), compiled with tf.function as a whole when the model's step is."""
    # kept on the strategy (a model stays picklable): model -> (its step function, ours)
    cache = s.__dict__.setdefault("_keras_train_steps", weakref.WeakValueDictionary())
    holder = cache.get(id(model))
    if holder is not None and holder.model is model and holder.fn is fn:
        return holder.step
    base = getattr(fn, "_step", fn)

    def replicated_train_step(parts):
        results = s.run(base, args=(_st.dv.PerReplica(parts),))
        return _st.dv.local_results(results)[-1]  # the last replica's logs include them all
    run = replicated_train_step
    if hasattr(fn, "_step"):  # a CompiledStep: compile the replicated step the same way
        from tenfold.keras.engine.compiled_steps import compile_step
        run = compile_step(model, replicated_train_step, "train_function")
    multi = s._num_workers > 1

    def step(data):
        logs = run(local_parts(s, data))
        return model.get_metrics_result() if multi else logs
    step.__name__ = "train_function"
    step.__wrapped__ = fn
    holder = _StepHolder(model, fn, step)
    model.__dict__["_tf_distribute_step_holder"] = holder  # lives as long as the model
    cache[id(model)] = holder
    return step


class _StepHolder:
    def __init__(self, model, fn, step):
        self._model = weakref.ref(model)
        self.fn = fn
        self.step = step

    @property
    def model(self):
        return self._model()

    def __reduce__(self):  # not saved with the model: rebuilt at the next fit
        return (type(None), ())


def on_batch(model, data, fn):
    """`train_on_batch` / `test_on_batch` under several workers: the batch is global (this
    worker takes its rows), variables created in scope are synced first, logs are global."""
    s = _multi(model)
    if s is None:
        return data, fn
    s._sync_pending()
    return _input.split_element(s, data), wrap_step(model, fn)


def wrap_predict(model, fn):
    s = _multi(model)
    if s is None:
        return fn

    def step(data):
        with _st.ReplicaContext(s, s._rank):
            out = fn(data)
        flat = nest.flatten(out)
        gathered = []
        for t in flat:
            a = np.asarray(t.numpy() if hasattr(t, "numpy") else t)
            gathered.append(np.concatenate(s._comm.allgather(a), axis=0))
        return nest.pack_sequence_as(out, gathered) if nest.is_nested(out) else gathered[0]
    return step


# ---------------------------------------------------------------------- metrics
def _metric_variables(model):
    out = []
    for m in model.metrics:
        out.extend(getattr(m, "variables", []))
    return out


def global_metrics_result(model):
    """`model.get_metrics_result()` over every worker: each metric variable is summed
    (averaged where its aggregation says mean) over the workers, the results read, and the
    local values put back. None when not applicable (one worker, or while tracing)."""
    s = _multi(model)
    if s is None:
        return None
    from tenfold.distribute.collective import _tracing
    if _tracing():
        return None
    variables = _metric_variables(model)
    # MPI buffers: the metric variables' backend arrays, swapped for the sums and restored
    local = [variable_buffer(v) for v in variables]
    t0 = time.perf_counter()
    summed = s._comm.allreduce([np.asarray(a) for a in local], "sum")
    s.stats["metric_allreduce_s"] += time.perf_counter() - t0
    try:
        for v, a in zip(variables, summed):
            agg = str(getattr(v, "aggregation", "sum")).lower()
            if "mean" in agg:
                a = (a / s._num_workers).astype(a.dtype, copy=False)
            elif "first" in agg:
                continue
            assign_buffer(v, a)
        out = {}
        for m in model.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update({k: _detach(x) for k, x in r.items()})
            else:
                out[m.name] = _detach(r)
    finally:
        for v, a in zip(variables, local):
            assign_buffer(v, a)
    return out


def _detach(x):
    from tenfold.framework.tensor import Tensor
    if isinstance(x, Tensor):  # a copy of the backend array: the local values come back
        return from_buffer(np.array(array_of(x), copy=True))
    return x


# ---------------------------------------------------------------------- callbacks
_WRITERS = ("ModelCheckpoint", "TensorBoard", "CSVLogger", "ProgbarLogger")


def callbacks_for_worker(model, cbl):
    s = _multi(model)
    if s is None or getattr(cbl, "_tf_distribute_done", False):
        return cbl
    cbl._tf_distribute_done = True
    if s._rank != 0:
        keep = []
        for cb in cbl.callbacks:
            names = {k.__name__ for k in type(cb).__mro__}
            if names & set(_WRITERS):
                continue
            if "BackupAndRestore" in names:  # worker 0 restores and writes; the others
                cb._save = _no_save            # take its state in sync_from_chief, so no
                cb.on_train_begin = _no_save   # shared filesystem is needed
                cb.delete_checkpoint = False
            keep.append(cb)
        cbl.callbacks = keep
        if cbl._progbar is not None and cbl._progbar not in keep:
            cbl._progbar = None
        cbl._hooked.clear()
    begin = cbl.on_train_begin

    def on_train_begin(logs=None):
        begin(logs)
        sync_from_chief(model, s)
    cbl.on_train_begin = on_train_begin
    return cbl


def _no_save(batch=None, *args, **kwargs):
    return None


def sync_from_chief(model, s):
    """Every worker takes worker 0's weights, optimizer state, initial epoch (set by
    BackupAndRestore) and NumPy RNG state (so the shuffles agree). Checks the models match."""
    from tenfold.distribute.collective import check_same_variables
    variables = list(getattr(model, "variables", None) or model.weights)
    opt = getattr(model, "optimizer", None)
    if opt is not None and hasattr(opt, "variables"):
        seen = {id(v) for v in variables}
        variables += [v for v in opt.variables if id(v) not in seen]
    check_same_variables(s._comm, variables, "model and optimizer variables (at the start of "
                         "fit)")
    s.broadcast_variables(variables)
    s._pending = []
    state = s._comm.broadcast_object((model.__dict__.get("_initial_epoch"),
                                      np.random.get_state()), root=0)
    epoch, rng = state
    if epoch is None:
        model.__dict__.pop("_initial_epoch", None)
    else:
        model.__dict__["_initial_epoch"] = epoch
    np.random.set_state(rng)


# ---------------------------------------------------------------------- batch normalization
def _step_replicas():
    """The replica context of a step with several replicas in sync, else None."""
    ctx = _st._replica_ctx()
    if ctx is None or ctx.strategy.num_replicas_in_sync == 1:
        return None
    return ctx


def several_replicas():
    return _step_replicas() is not None


def synchronized_moments(x, axes):
    """BatchNormalization(synchronized=True): the mean and variance over the batches of every
    replica (in-process and over the workers), as Keras 3 computes them on TensorFlow: sums of
    x and x², and the row counts, all-reduced; variance = E[x²] - E[x]² (at least 0). None
    outside a step with several replicas (the layer then uses its own batch)."""
    ctx = _step_replicas()
    if ctx is None:
        return None
    from tenfold.ops import array_ops, math_ops
    local_sum = math_ops.reduce_sum(x, axis=axes, keepdims=True)
    local_sq = math_ops.reduce_sum(math_ops.square(x), axis=axes, keepdims=True)
    local_count = math_ops.reduce_sum(array_ops.ones_like(x), axis=axes, keepdims=True)
    total, total_sq, count = ctx.all_reduce("SUM", [local_sum, local_sq, local_count])
    mean = math_ops.divide_no_nan(total, count)
    var = math_ops.maximum(math_ops.subtract(math_ops.divide_no_nan(total_sq, count),
                                             math_ops.square(mean)), 0.0)
    return mean, var


def replica_mean_of_statistics(stats):
    """The statistics a BatchNormalization folds into its moving mean and variance, averaged
    over the replicas, as tf.keras's moving statistics (variables aggregated by MEAN) end up;
    unchanged outside a step with several replicas."""
    ctx = _step_replicas()
    if ctx is None:
        return stats
    from tenfold.ops import array_ops
    return ctx.all_reduce("MEAN", [array_ops.stop_gradient(t) for t in stats])
