"""Gradient all-reduce in buckets, the variable-signature check, and graph-aware collectives.

Buckets: the gradients are taken last variable first (the order backpropagation finishes
them), grouped by dtype into packs of about `bytes_per_pack` bytes; each pack's all-reduce is
started on the communication thread as soon as it is packed, so the reduction of one pack
overlaps the packing of the next and the unpacking of the previous. (The tape returns all
gradients at once, so the reduction does not overlap the backward pass itself.)

Inside `tf.function` a collective is one stateful graph node: it runs each time the graph
runs, in program order, on every worker.
"""
import time

import numpy as np

from tenfold.framework.tensor import Tensor, convert_to_tensor
from tenfold.ops.buffers import from_buffer, tensor_buffer
from tenfold.util.tensor_meta import npd, shape_of


def _grad_array(g):
    if g is None:
        return None
    if isinstance(g, Tensor):  # the backend array handed to the MPI/NCCL buffers
        return tensor_buffer(g)
    if hasattr(g, "indices") and hasattr(g, "dense_shape"):  # IndexedSlices -> dense
        vals = np.asarray(_grad_array(g.values))
        idx = np.asarray(_grad_array(g.indices))
        shape = tuple(int(s) for s in np.asarray(_grad_array(g.dense_shape)))
        dense = np.zeros(shape, dtype=vals.dtype)
        np.add.at(dense, idx, vals)
        return dense
    return np.asarray(g)


def _tracing():
    try:
        from tenfold.graph.effects import recording
    except ImportError:
        return False
    return recording()


def as_stateful_op(name, fn, tensors, n_outputs):
    """Runs `fn(arrays) -> n_outputs arrays` eagerly, or records it as one stateful graph node
    while tracing (run each time the graph runs, in program order)."""
    if _tracing():
        from tenfold.graph.effects import stateful_call
        out = stateful_call(name, fn, tensors, n_outputs=n_outputs)
        return [] if n_outputs == 0 else list(out)
    # a stateful kernel over backend arrays (communication buffers), as in a graph node
    out = fn([tensor_buffer(t) for t in tensors])
    return [from_buffer(_host_or_device(o)) for o in (out or [])]


def _as_collective_op(name, fn, tensors):
    return as_stateful_op(name, fn, tensors, len(tensors))


def variable_signature(v):
    name = getattr(v, "path", None) or getattr(v, "name", "?")
    return (str(name), tuple(int(s) for s in shape_of(v)), str(npd(v)))


def check_same_variables(comm, variables, what):
    """All workers must hold the same variables (names, shapes, dtypes) in the same order;
    otherwise a ValueError naming the first variable that differs and the ranks involved."""
    mine = [variable_signature(v) for v in variables]
    everyone = comm.allgather_object(mine)
    ref = everyone[0]
    for rank, sigs in enumerate(everyone):
        if sigs == ref:
            continue
        for i in range(max(len(sigs), len(ref))):
            a = ref[i] if i < len(ref) else None
            b = sigs[i] if i < len(sigs) else None
            if a != b:
                def show(s):
                    return "no variable" if s is None else f"'{s[0]}' shape {s[1]} {s[2]}"
                raise ValueError(
                    f"tf.distribute: the workers have different models. In the {what}, "
                    f"variable #{i} is {show(a)} on rank 0 but {show(b)} on rank {rank} "
                    f"({len(ref)} vs {len(sigs)} variables). Every worker must build the same "
                    "model (same layers, shapes and order) from the same code.")


def sum_local_gradients(per_replica_grads):
    """Per variable, the sum of the local replicas' gradients (None where every replica has
    None); IndexedSlices are made dense first."""
    from tenfold.ops import math_ops
    out = []
    for parts in zip(*per_replica_grads):
        present = [_dense_gradient(g) for g in parts if g is not None]
        out.append(None if not present else
                   present[0] if len(present) == 1 else math_ops.add_n(present))
    return out


def _dense_gradient(g):
    if isinstance(g, Tensor):
        return g
    if hasattr(g, "to_dense"):  # IndexedSlices (an Embedding's gradient)
        return g.to_dense()
    return convert_to_tensor(g)


def all_reduce_tensors(comm, arrays, op, what):
    """All-reduce a list of arrays/tensors (op 'sum' / 'mean'); returns Tensors."""
    tensors = [t if isinstance(t, Tensor) else convert_to_tensor(np.asarray(t))
               for t in arrays]

    def run(arrs):
        if getattr(comm, "name", "") == "nccl":
            return comm.allreduce([_host_or_device(a) for a in arrs], op)
        return comm.allreduce([_to_host(a) for a in arrs], op)
    return _as_collective_op("collective_all_reduce", run, tensors)


def _host_or_device(a):
    """A NumPy array, or the device array as it is (CuPy arrays refuse np.asarray)."""
    if hasattr(a, "__cuda_array_interface__"):
        return a
    return np.asarray(a)


def _to_host(a):
    if isinstance(a, np.ndarray):
        return a
    from tenfold import backend
    return backend.to_numpy(a)


def _array_module(arrays):
    from tenfold import backend
    return backend.get_array_module(*arrays)


class GradientReducer:
    """Sums gradients over every replica, in buckets (see the module docstring)."""

    def __init__(self, strategy):
        self._strategy = strategy
        self._checked = set()
        self.last_bucket_count = 0

    def __call__(self, grads, variables):
        s = self._strategy
        grads = list(grads)
        if s._num_workers == 1:
            return grads
        done = ()
        session = s.__dict__.get("_overlap_session")
        if session is not None:  # buckets started during the backward pass (overlap.py)
            grads, done = session.take(grads)
            if len(done) == sum(g is not None for g in grads):
                return grads
        key = tuple(id(v) for v in variables)
        if key not in self._checked:
            check_same_variables(s._comm, list(variables), "gradients' variables (at the "
                                 "first all-reduce)")
            self._checked.add(key)
        taken = set(done)
        present = [i for i, g in enumerate(grads) if g is not None and i not in taken]
        if not present:
            return grads
        tensors = []
        for i in present:
            g = grads[i]
            if not isinstance(g, Tensor):
                g = Tensor._wrap(np.asarray(_grad_array(g)))
            tensors.append(g)
        comm = s._comm
        bucket_bytes = s._options.bucket_bytes()
        reducer = self
        stats = s.stats

        def run(arrays):
            t0 = time.perf_counter()
            out = reducer._reduce_in_buckets(comm, arrays, bucket_bytes)
            stats["gradient_allreduce_s"] += time.perf_counter() - t0
            stats["gradient_allreduces"] += 1
            stats["gradient_bytes"] += sum(a.nbytes for a in out)
            return out
        reduced = _as_collective_op("all_reduce_gradients", run, tensors)
        out = list(grads)
        for i, t in zip(present, reduced):
            out[i] = t
        return out

    def _reduce_in_buckets(self, comm, arrays, bucket_bytes):
        if getattr(comm, "name", "") == "nccl":  # device buffers stay on the device
            arrays = [_host_or_device(a) for a in arrays]
        else:  # MPI reduces host buffers: device gradients come to the host
            arrays = [_to_host(a) for a in arrays]
        xp = _array_module(arrays)
        order = list(range(len(arrays)))[::-1]  # last layers' gradients first
        buckets, current, size, dtype = [], [], 0, None
        for i in order:
            a = arrays[i]
            if current and (a.dtype != dtype or size + a.nbytes > bucket_bytes):
                buckets.append(current)
                current, size = [], 0
            current.append(i)
            size += a.nbytes
            dtype = a.dtype
        if current:
            buckets.append(current)
        self.last_bucket_count = len(buckets)
        started = []
        for idx in buckets:  # pack and start each; the comm thread works meanwhile
            flat = xp.concatenate([arrays[i].ravel() for i in idx]) if len(idx) > 1 \
                else arrays[idx[0]].ravel()
            started.append((idx, comm.allreduce_start(flat, "sum")))
        out = [None] * len(arrays)
        for idx, handle in started:
            flat = handle.wait()
            pos = 0
            for i in idx:
                a = arrays[i]
                out[i] = flat[pos:pos + a.size].reshape(a.shape).astype(a.dtype, copy=False)
                pos += a.size
        return out
