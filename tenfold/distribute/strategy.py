"""The strategies: the default one, `MirroredStrategy` and `MultiWorkerMirroredStrategy`.

A strategy has `num_workers` processes (joined by a communicator, see `comm_base.py`) and
`num_local` replicas in each; `num_replicas_in_sync = num_workers * num_local`. Variables are
one object per process ("mirrored": every worker applies the same all-reduced update, and
variables created under `scope()` start from worker 0's values). Several local replicas run
in one thread each, synchronised in-process (`replicas.py`): `ReplicaContext.all_reduce` and
`merge_call` reduce over the local replicas first, then over the workers; the optimizer's
update is a `merge_call` that sums the gradients and applies them once.
"""
import contextlib
import threading
import weakref

import numpy as np

from tenfold.distribute import values as dv
from tenfold.distribute import collective
from tenfold.distribute import overlap
from tenfold.distribute.options import (CommunicationOptions, CommunicationImplementation,
                                        ReduceOp, reduce_op_of)
from tenfold.ops.buffers import array_of, variable_buffer
from tenfold.util import nest

_tls = threading.local()


def _stack():
    s = getattr(_tls, "scopes", None)
    if s is None:
        s = _tls.scopes = []
    return s


def _replica_ctx():
    return getattr(_tls, "replica", None)


# ---------------------------------------------------------------------- public queries
def get_strategy():
    """The strategy of the current context (the default strategy outside any scope)."""
    ctx = _replica_ctx()
    if ctx is not None:
        return ctx.strategy
    s = _stack()
    return s[-1] if s else _default_strategy()


def has_strategy():
    """True inside a non-default strategy's scope (or `run`)."""
    return get_strategy() is not _default_strategy()


def in_cross_replica_context():
    """True inside `strategy.scope()` and outside `strategy.run`."""
    return _replica_ctx() is None and bool(_stack())


def get_replica_context():
    """The `ReplicaContext` inside `strategy.run`; the default one outside any scope; None in
    a cross-replica context (inside `scope()`, outside `run`)."""
    ctx = _replica_ctx()
    if ctx is not None:
        return ctx
    if _stack():
        return None
    return _default_strategy()._default_replica_context


def get_cross_replica_context():
    ctx = _replica_ctx()
    if ctx is not None:
        return None
    return get_strategy()


def experimental_set_strategy(strategy):
    """Sets (or with None clears) the strategy outside of any `with scope()`."""
    s = _stack()
    s[:] = [x for x in s if not getattr(x, "_set_globally", False)]
    if strategy is not None:
        strategy._set_globally = True
        s.insert(0, strategy)


# ---------------------------------------------------------------------- contexts
class ReplicaContext:
    """`tf.distribute.ReplicaContext`: what a replica sees inside `strategy.run`."""

    def __init__(self, strategy, replica_id_in_sync_group, thread=None):
        self.strategy = strategy
        self._replica_id = replica_id_in_sync_group
        self._thread = thread  # the replica's thread when the process has several replicas

    @property
    def num_replicas_in_sync(self):
        return self.strategy.num_replicas_in_sync

    @property
    def replica_id_in_sync_group(self):
        from tenfold.framework.tensor import constant
        return constant(self._replica_id, dtype="int32")

    @property
    def devices(self):
        return (self.strategy.extended.worker_devices[self._local_index()],)

    def _local_index(self):
        return self._replica_id - self.strategy._rank * self.strategy._num_local

    def all_reduce(self, reduce_op, value, options=None):
        """Reduces `value` (a nested structure of tensors) over all replicas: every replica
        gets the result."""
        return self.strategy._replica_all_reduce(reduce_op_of(reduce_op), value, self)

    def all_gather(self, value, axis, options=None):
        return self.strategy._replica_all_gather(value, axis, self)

    def merge_call(self, merge_fn, args=(), kwargs=None):
        """Runs `merge_fn(strategy, *args, **kwargs)` once, in the cross-replica context, when
        every replica has called it: each argument that differs between replicas arrives as a
        PerReplica value; each replica gets its component of the result."""
        if self._thread is not None:
            return self._thread.sync("merge_call", (merge_fn, tuple(args), dict(kwargs or {})))
        return _merge_here(self.strategy, merge_fn, args, kwargs)

    def __enter__(self):
        self._prev = _replica_ctx()
        _tls.replica = self
        return self

    def __exit__(self, *exc):
        _tls.replica = self._prev


def _merge_here(strategy, merge_fn, args, kwargs):
    """`merge_fn` in the cross-replica context, in this thread."""
    prev = _replica_ctx()
    _tls.replica = None
    _stack().append(strategy)
    try:
        return merge_fn(strategy, *args, **(kwargs or {}))
    finally:
        _stack().pop()
        _tls.replica = prev


class StrategyExtended:
    """`strategy.extended`: placement and worker-role facts."""

    def __init__(self, strategy):
        self._strategy = strategy

    @property
    def worker_devices(self):
        return tuple(self._strategy._devices)

    @property
    def parameter_devices(self):
        return tuple(self._strategy._devices)

    @property
    def should_checkpoint(self):
        return self._strategy._rank == 0

    @property
    def should_save_summary(self):
        return self._strategy._rank == 0

    @property
    def experimental_should_init(self):
        return True

    @property
    def experimental_between_graph(self):
        return self._strategy._num_workers > 1

    @property
    def _in_multi_worker_mode(self):
        return self._strategy._num_workers > 1

    @property
    def communicator(self):
        return self._strategy._comm

    def reduce_to(self, reduce_op, value, destinations, options=None):
        return self._strategy.reduce(reduce_op, value, axis=None)

    def batch_reduce_to(self, reduce_op, value_destination_pairs, options=None):
        return [self.reduce_to(reduce_op, v, d) for v, d in value_destination_pairs]

    def update(self, var, fn, args=(), kwargs=None, group=True):
        return fn(var, *args, **(kwargs or {}))

    def value_container(self, value):
        return value

    def colocate_vars_with(self, colocate_with_variable):
        return contextlib.nullcontext()

    def non_slot_devices(self, var_list):
        return self.worker_devices


# ---------------------------------------------------------------------- strategies
class Strategy:
    """Base of the strategies (`tf.distribute.Strategy`). See the module docstring."""

    def __init__(self, devices, communicator, options=None, cluster_resolver=None):
        self._devices = list(devices)
        self._num_local = len(self._devices)
        self._comm = communicator
        self._rank = communicator.rank
        self._num_workers = communicator.size
        self._options = options or CommunicationOptions()
        if getattr(communicator, "timeout", 0) is None:
            communicator.timeout = self._options.timeout()
        self._cluster_resolver = cluster_resolver
        self._extended = StrategyExtended(self)
        self._pending = []  # weakrefs of variables created in scope, not yet synced
        self._reducer = collective.GradientReducer(self)
        # seconds spent in collectives (read by bench/bench_distribute.py)
        self.stats = {"gradient_allreduce_s": 0.0, "gradient_allreduces": 0,
                      "gradient_bytes": 0, "metric_allreduce_s": 0.0}

    # ------------------------------------------------------------------ facts
    @property
    def num_replicas_in_sync(self):
        return self._num_workers * self._num_local

    @property
    def extended(self):
        return self._extended

    @property
    def cluster_resolver(self):
        return self._cluster_resolver

    @property
    def is_chief(self):
        return self._rank == 0

    # ------------------------------------------------------------------ scope
    @contextlib.contextmanager
    def scope(self):
        """Variables created inside start equal on every worker (worker 0's values); Keras
        models compiled inside train with this strategy."""
        from tenfold.framework import variable as _variable
        _stack().append(self)
        hook = self._on_variable_created
        _variable._creation_hooks.append(hook)
        try:
            yield self
        finally:
            _variable._creation_hooks.remove(hook)
            _stack().pop()

    def _on_variable_created(self, var):
        if self._num_workers > 1:
            self._pending.append(weakref.ref(var))

    def _sync_pending(self):
        """Checks that every worker created the same variables and broadcasts worker 0's
        values: one collective, at the first `run` / `fit` step after they were created."""
        if self._num_workers == 1 or not self._pending:
            return
        variables = [v for v in (r() for r in self._pending) if v is not None]
        self._pending = []
        collective.check_same_variables(self._comm, variables, "variables created under "
                                        "strategy.scope()")
        self.broadcast_variables(variables)

    def broadcast_variables(self, variables, root=0):
        """Overwrites each variable with worker `root`'s value (on every worker)."""
        if self._num_workers == 1 or not variables:
            return
        # MPI buffers: the variables' backend arrays, overwritten in place by the broadcast
        arrays = [np.ascontiguousarray(variable_buffer(v)) for v in variables]
        self._comm.broadcast(arrays, root=root)
        for v, a in zip(variables, arrays):
            buf = variable_buffer(v)
            if buf is not a:
                buf[...] = a

    # ------------------------------------------------------------------ run
    def run(self, fn, args=(), kwargs=None, options=None):
        """Runs `fn(*args, **kwargs)` once per local replica (args may hold PerReplica values,
        each replica gets its component); returns the results (PerReplica when this worker
        has several replicas). Several local replicas run in one thread each (replicas.py)."""
        kwargs = kwargs or {}
        self._sync_pending()
        base = self._rank * self._num_local
        if self._num_local == 1:
            with ReplicaContext(self, base), overlap.session_for(self):
                return fn(*args, **kwargs)
        from tenfold.distribute.replicas import ReplicaRunner
        scopes = list(_stack())

        def body_for(i):
            a = dv.select_replica(i, args) if args else args
            k = dv.select_replica(i, kwargs) if kwargs else kwargs

            def body(thread):
                _tls.scopes = list(scopes)
                with ReplicaContext(self, base + i, thread), self._replica_device(i):
                    return fn(*a, **k)
            return body
        runner = ReplicaRunner(self._num_local, self._combine)
        return dv.regroup(runner.run([body_for(i) for i in range(self._num_local)]),
                          always_wrap=True)

    def _replica_device(self, i):
        dev = self._devices[i]
        if "CPU" in dev.upper():
            return contextlib.nullcontext()  # the CPU replicas share the host's arrays
        from tenfold.framework.device import device
        return device(dev)

    # ------------------------------------------------------------------ in-process collectives
    def _combine(self, kind, payloads):
        """The cross-replica step of a synchronisation point, in the calling thread, once every
        local replica reached it: returns each replica's reply (see replicas.py)."""
        if kind == "all_reduce":
            op = payloads[0][0]
            return [self._local_then_global_reduce(op, [p[1] for p in payloads])] * len(payloads)
        if kind == "all_gather":
            axis = payloads[0][0]
            out = self._local_then_global_gather(axis, [p[1] for p in payloads])
            return [out] * len(payloads)
        if kind == "merge_call":
            merge_fn, _, _ = payloads[0]
            args = dv.regroup([p[1] for p in payloads])
            kwargs = dv.regroup([p[2] for p in payloads])
            result = _merge_here(self, merge_fn, args, kwargs)
            return [dv.select_replica(i, result) for i in range(len(payloads))]
        raise ValueError(f"tf.distribute: unknown synchronisation {kind!r}")

    def _local_then_global_reduce(self, reduce_op, per_replica_lists):
        """Sums position by position over the local replicas, then over the workers (MPI);
        MEAN divides by num_replicas_in_sync."""
        from tenfold.ops import math_ops
        n = len(per_replica_lists[0])
        for r, lst in enumerate(per_replica_lists):
            if len(lst) != n:
                raise ValueError(f"ReplicaContext.all_reduce: replica 0 passed {n} tensors but "
                                 f"replica {r} passed {len(lst)}; every replica must reduce the "
                                 "same structure.")
            for k, (a, b) in enumerate(zip(per_replica_lists[0], lst)):
                if tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype:
                    raise ValueError(
                        f"ReplicaContext.all_reduce: value #{k} has shape {tuple(a.shape)} "
                        f"{a.dtype.name} on replica 0 but {tuple(b.shape)} {b.dtype.name} on "
                        f"replica {r}; every replica must reduce the same shapes and dtypes.")
        sums = [math_ops.add_n([lst[k] for lst in per_replica_lists]) for k in range(n)]
        if self._num_workers > 1 and sums:
            sums = collective.all_reduce_tensors(self._comm, sums, "sum",
                                                 "ReplicaContext.all_reduce")
        if reduce_op is ReduceOp.MEAN:
            sums = [math_ops.divide(t, math_ops.cast(self.num_replicas_in_sync, t.dtype))
                    if t.dtype.is_floating else
                    math_ops.floordiv(t, math_ops.cast(self.num_replicas_in_sync, t.dtype))
                    for t in sums]
        return sums

    def _local_then_global_gather(self, axis, per_replica_values):
        from tenfold.ops import array_ops
        local = array_ops.concat(list(per_replica_values), axis=axis)
        if self._num_workers == 1:
            return local
        if collective._tracing():
            raise NotImplementedError(
                "ReplicaContext.all_gather across several workers inside tf.function is not "
                "supported; call it eagerly or use strategy.gather() on the results.")
        return self.gather(local, axis)

    # ------------------------------------------------------------------ reductions
    def reduce(self, reduce_op, value, axis=None):
        """Reduces a per-replica value over every replica of every worker (cross-replica
        context): `SUM` or `MEAN`; with `axis`, also along that axis of each component (MEAN
        then divides by the number of elements along it, over all replicas)."""
        reduce_op = reduce_op_of(reduce_op)
        from tenfold.framework.tensor import convert_to_tensor
        from tenfold.ops import math_ops
        parts = [convert_to_tensor(v) for v in dv.local_results(value)]
        dtype = parts[0].dtype
        if axis is not None:
            count = sum(int(p.shape[axis]) for p in parts)
            parts = [math_ops.reduce_sum(p, axis=axis) for p in parts]
        total = parts[0] if len(parts) == 1 else math_ops.add_n(parts)
        if self._num_workers > 1:
            if axis is None:
                total, = collective.all_reduce_tensors(self._comm, [total], "sum",
                                                       "strategy.reduce")
            else:
                total, cnt = collective.all_reduce_tensors(
                    self._comm, [total, np.asarray(count, np.int64)], "sum", "strategy.reduce")
        if reduce_op is ReduceOp.MEAN:
            if axis is None:
                divisor = math_ops.cast(self.num_replicas_in_sync, dtype)
            else:
                divisor = math_ops.cast(cnt if self._num_workers > 1 else count, dtype)
            total = math_ops.divide(total, divisor) if dtype.is_floating else \
                math_ops.floordiv(total, divisor)
        return total

    def _replica_all_reduce(self, reduce_op, value, ctx=None):
        flat = nest.flatten(value)
        from tenfold.framework.tensor import convert_to_tensor
        tensors = [convert_to_tensor(v) for v in flat]
        thread = getattr(ctx, "_thread", None)
        if thread is not None:  # several local replicas: in-process, then over the workers
            def reduce_fn(ts):
                return list(thread.sync("all_reduce", (reduce_op, list(ts))))
        else:
            def reduce_fn(ts):
                return collective.all_reduce_tensors(
                    self._comm, list(ts), "sum" if reduce_op is ReduceOp.SUM else "mean",
                    "ReplicaContext.all_reduce")
        out = _differentiable_all_reduce(reduce_fn, tensors)
        return nest.pack_sequence_as(value, out) if nest.is_nested(value) else out[0]

    def _replica_all_gather(self, value, axis, ctx=None):
        thread = getattr(ctx, "_thread", None)
        if thread is None:
            return self.gather(value, axis)
        from tenfold.framework.tensor import convert_to_tensor
        return thread.sync("all_gather", (axis, convert_to_tensor(value)))

    def gather(self, value, axis):
        """Concatenates the per-replica components of every worker along `axis`."""
        from tenfold.framework.tensor import convert_to_tensor
        parts = [np.asarray(_to_array(v)) for v in dv.local_results(value)]
        local = np.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0]
        if self._num_workers > 1:
            moved = np.moveaxis(local, axis, 0)
            gathered = self._comm.allgather(np.ascontiguousarray(moved))
            local = np.moveaxis(np.concatenate(gathered, axis=0), 0, axis)
        return convert_to_tensor(local)

    def experimental_local_results(self, value):
        """The tuple of this worker's per-replica components of `value`."""
        return dv.local_results(value)

    def experimental_distribute_values_from_function(self, value_fn):
        from tenfold.distribute.input import ValueContext
        base = self._rank * self._num_local
        vals = [value_fn(ValueContext(base + i, self.num_replicas_in_sync))
                for i in range(self._num_local)]
        return vals[0] if len(vals) == 1 else dv.PerReplica(vals)

    # ------------------------------------------------------------------ input
    def experimental_distribute_dataset(self, dataset, options=None):
        """Each global batch of `dataset` split across all replicas: this worker yields its
        replicas' parts (see `input.py` for the split of batches that do not divide)."""
        from tenfold.distribute.input import DistributedDataset
        return DistributedDataset(self, dataset, options)

    def distribute_datasets_from_function(self, dataset_fn, options=None):
        """`dataset_fn(InputContext)` builds this worker's dataset (per-replica batches)."""
        from tenfold.distribute.input import DistributedDatasetsFromFunction
        return DistributedDatasetsFromFunction(self, dataset_fn, options)

    # ------------------------------------------------------------------ gradients
    def _aggregate_gradients(self, grads, variables):
        """Called by the optimizer before applying: returns the gradients summed over every
        replica, or None when this local replica only contributes (a later one applies)."""
        return self._reducer(grads, variables)

    def __repr__(self):
        return (f"<{type(self).__name__} workers={self._num_workers} "
                f"replicas_in_sync={self.num_replicas_in_sync}>")

    def __enter__(self):  # tf.distribute strategies are not context managers; scope() is
        raise TypeError(f"Use `with strategy.scope():`, not `with strategy:` "
                        f"({type(self).__name__} is not a context manager).")

    def __exit__(self, *exc):
        return False


class _DefaultDistributionStrategy(Strategy):
    """What `get_strategy()` returns outside any scope: one replica, no communication."""

    def __init__(self):
        from tenfold.distribute.comm_base import LocalCommunicator
        super().__init__(["/job:localhost/replica:0/task:0/device:CPU:0"], LocalCommunicator())
        self._default_replica_context = ReplicaContext(self, 0)

    @contextlib.contextmanager
    def scope(self):
        yield self

    def run(self, fn, args=(), kwargs=None, options=None):
        with ReplicaContext(self, 0):
            return fn(*args, **(kwargs or {}))

    def _aggregate_gradients(self, grads, variables):
        return grads

    def experimental_distribute_dataset(self, dataset, options=None):
        return dataset

    def distribute_datasets_from_function(self, dataset_fn, options=None):
        from tenfold.distribute.input import InputContext
        return dataset_fn(InputContext())


_DEFAULT = []


def _default_strategy():
    if not _DEFAULT:
        _DEFAULT.append(_DefaultDistributionStrategy())
    return _DEFAULT[0]


def _cpu_or_gpu_devices(devices):
    if devices is not None:
        if isinstance(devices, str):
            devices = [devices]
        devices = [str(d) for d in devices]
        if not devices:
            raise ValueError("MirroredStrategy: `devices` is empty; pass None (all local "
                             "devices) or a list such as ['/cpu:0'].")
        if len(set(devices)) != len(devices):
            raise ValueError(f"MirroredStrategy: duplicate devices in {devices}.")
        return devices
    from tenfold import config
    gpus = config.list_logical_devices("GPU") if hasattr(config, "list_logical_devices") \
        else []
    if gpus:
        return [d.name for d in gpus]
    return ["/job:localhost/replica:0/task:0/device:CPU:0"]


class MirroredStrategy(Strategy):
    """Synchronous training on the devices of one process (`tf.distribute.MirroredStrategy`).
    With no GPU, one replica on the CPU (as TensorFlow); pass `devices` for more replicas."""

    def __init__(self, devices=None, cross_device_ops=None):
        from tenfold.distribute.comm_base import LocalCommunicator
        super().__init__(_cpu_or_gpu_devices(devices), LocalCommunicator())


def _worker_devices(rank, local_devices):
    prefix = f"/job:worker/replica:0/task:{rank}"
    if local_devices is not None:
        devices = _cpu_or_gpu_devices(local_devices)
        return [prefix + "/device:" + d.rsplit("/", 1)[-1].replace("device:", "").upper()
                for d in devices]
    from tenfold import config
    gpus = config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return [prefix + "/device:" + g.name.rsplit("/", 1)[-1].replace("device:", "")
                for g in gpus]
    return [prefix + "/device:CPU:0"]


class MultiWorkerMirroredStrategy(Strategy):
    """Synchronous training across processes (`tf.distribute.MultiWorkerMirroredStrategy`):
    one replica per worker, workers joined over MPI (`mpirun -n N python train.py`, `srun`),
    gradients all-reduced in buckets (`communication_options.bytes_per_pack`).

    Each worker has one replica per local GPU when there are several (as TensorFlow), else
    one on the CPU; `local_devices=[...]` (tenfold's extension) names them, e.g.
    `["/cpu:0", "/cpu:1"]` for N processes x 2 replicas: the local replicas reduce in-process
    first, then the workers over MPI."""

    def __init__(self, cluster_resolver=None, communication_options=None, *,
                 local_devices=None):
        from tenfold.distribute import cluster
        options = communication_options or CommunicationOptions()
        if not isinstance(options, CommunicationOptions):
            raise TypeError("MultiWorkerMirroredStrategy: communication_options must be a "
                            "tf.distribute.experimental.CommunicationOptions; received "
                            f"{type(options).__name__}.")
        impl = {CommunicationImplementation.NCCL: "nccl",
                CommunicationImplementation.RING: "ring"}.get(options.implementation, "auto")
        comm = cluster.world_communicator(timeout=options.timeout(), implementation=impl)
        cluster.check_tf_config(comm.rank, comm.size)
        if getattr(comm, "timeout", None) is not None and options.timeout_seconds is not None:
            comm.timeout = options.timeout()
        rank = comm.rank
        if cluster_resolver is None:
            cluster_resolver = cluster.TFConfigClusterResolver()
            if cluster_resolver.task_type is None:
                cluster_resolver.task_type = "worker"
                cluster_resolver.task_id = rank
        super().__init__(_worker_devices(rank, local_devices), comm, options, cluster_resolver)


def _differentiable_all_reduce(reduce_fn, tensors):
    """`reduce_fn` (an all-reduce over every replica) made differentiable: its gradient is the
    same all-reduce of the incoming gradients, as TensorFlow's (every replica calls
    tape.gradient). Under a tape each tensor is reduced on its own (one gradient call each, in
    the same order on every replica); otherwise all in one exchange."""
    from tenfold.framework.state import STATE
    if not STATE.observers or not tensors:
        return list(reduce_fn(tensors))
    from tenfold.autodiff.custom_gradient import custom_gradient
    from tenfold.ops import array_ops

    @custom_gradient
    def reduce_one(x):
        y, = reduce_fn([x])

        def grad(dy):
            dy = array_ops.zeros_like(x) if dy is None else dy
            g, = reduce_fn([dy])
            return g
        return y, grad
    return [reduce_one(t) for t in tensors]


def _to_array(v):
    from tenfold.framework.tensor import Tensor
    if isinstance(v, Tensor):
        a = array_of(v)  # a host array is passed to the communicator as is (no copy)
        return a if isinstance(a, np.ndarray) else v.numpy()
    if hasattr(v, "numpy"):
        return v.numpy()
    return np.asarray(v)
