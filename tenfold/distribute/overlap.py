"""Gradient all-reduce overlapping the backward pass.

While a distributed step runs (a Keras fit step over several workers, or `strategy.run` with
one replica per worker), an `OverlapSession` is installed as the tape's ready hook
(`tenfold/autodiff/tape.py`). When `tape.gradient(loss, variables)` runs, the session learns
for each variable the last backward entry that contributes to its gradient; as the backward
loop passes it, the gradient is final and joins the current bucket. A bucket that reaches
`bytes_per_pack` starts its all-reduce on the communication thread at once, while the
backward pass goes on computing the earlier layers' gradients; the last bucket starts when
the loop ends. The optimizer's hook then waits for the buckets of the gradients it is given
(matched by identity) and reduces any others the usual way.

Inside `tf.function` the start and the wait are stateful graph nodes at those same places in
the program, so a compiled step overlaps the same way each time it runs. Every worker runs the
same program, so every worker forms the same buckets in the same order. Set
TENFOLD_ALLREDUCE_OVERLAP=0 to reduce after the backward pass instead.
"""
import contextlib
import itertools
import os
import time

import numpy as np

from tenfold.distribute import collective
from tenfold.util.tensor_meta import npd, shape_of, size_of

_ids = itertools.count()


def enabled():
    return os.environ.get("TENFOLD_ALLREDUCE_OVERLAP", "1") != "0"


class _Bucket:
    __slots__ = ("key", "tensors", "result")

    def __init__(self, tensors):
        self.key = next(_ids)
        self.tensors = tensors
        self.result = None


class OverlapSession:
    """See the module docstring. Used as `with OverlapSession(strategy): step()`."""

    def __init__(self, strategy):
        self._s = strategy
        self._slots = strategy.__dict__.setdefault("_overlap_slots", {})
        self._where = {}  # id(gradient tensor) -> (bucket, position)

    def __enter__(self):
        from tenfold.autodiff import tape
        self._prev = tape._ready_hook[0]
        tape._ready_hook[0] = self
        return self

    def __exit__(self, *exc):
        from tenfold.autodiff import tape
        tape._ready_hook[0] = self._prev

    # ------------------------------------------------------------------ the tape's side
    def plan(self, sources, relevant):
        """A notifier for one backward pass, or None when it is not a gradient of trainable
        variables (inputs, nested derivatives...)."""
        from tenfold.framework.variable import Variable
        if not sources or not all(isinstance(v, Variable) and v.trainable and
                                  npd(v).kind == "f" for v in sources):
            return None
        reducer = self._s._reducer
        key = tuple(id(v) for v in sources)
        if key not in reducer._checked:  # the names/shapes check before the first bucket
            collective.check_same_variables(self._s._comm, list(sources), "gradients' "
                                            "variables (at the first all-reduce)")
            reducer._checked.add(key)
        index = {id(v): i for i, v in enumerate(sources)}
        first = {}
        for pos, e in enumerate(relevant):
            for t in e.inputs:
                i = index.get(id(t))
                if i is not None and i not in first:
                    first[i] = pos
        order = sorted(first.items(), key=lambda kv: -kv[1])  # ready first, last layer first
        return _Notifier(self, sources, order)

    def _start(self, tensors, during_backward):
        bucket = _Bucket(tensors)
        comm, slots, stats = self._s._comm, self._slots, self._s.stats

        def start(arrays):  # runs here, and each time a compiled step runs
            flat = np.concatenate([np.ravel(a) for a in arrays]) if len(arrays) > 1 \
                else np.ravel(arrays[0]).copy()
            slots[bucket.key] = comm.allreduce_start(flat, "sum")
            stats["gradient_bytes"] += flat.nbytes
            stats["buckets_started"] = stats.get("buckets_started", 0) + 1
            if during_backward:
                stats["buckets_started_in_backward"] = \
                    stats.get("buckets_started_in_backward", 0) + 1
            return []
        collective.as_stateful_op("all_reduce_start", start, tensors, n_outputs=0)
        for pos, t in enumerate(tensors):
            self._where[id(t)] = (bucket, pos)

    # ------------------------------------------------------------------ the optimizer's side
    def take(self, grads):
        """`grads` with those whose all-reduce this session started replaced by the sums
        (waiting for their buckets); the others unchanged; and the list of their indices."""
        out = list(grads)
        done = []
        for i, g in enumerate(grads):
            hit = self._where.get(id(g)) if g is not None else None
            if hit is None:
                continue
            bucket, pos = hit
            if bucket.result is None:
                bucket.result = self._wait(bucket)
            out[i] = bucket.result[pos]
            done.append(i)
        return out, done

    def _wait(self, bucket):
        slots, stats = self._slots, self._s.stats
        shapes = [shape_of(t) for t in bucket.tensors]
        dtypes = [npd(t) for t in bucket.tensors]

        def wait(arrays):
            t0 = time.perf_counter()
            flat = slots.pop(bucket.key).wait()
            stats["gradient_allreduce_s"] += time.perf_counter() - t0
            stats["gradient_allreduces"] += 1
            out, pos = [], 0
            for shape, dt in zip(shapes, dtypes):
                n = int(np.prod(shape))
                out.append(flat[pos:pos + n].reshape(shape).astype(dt, copy=False))
                pos += n
            return out
        return collective.as_stateful_op("all_reduce_wait", wait, bucket.tensors,
                                         n_outputs=len(bucket.tensors))


class _Notifier:
    """Feeds the gradients of one backward pass into buckets as they become final."""

    def __init__(self, session, sources, order):
        self._session = session
        self._sources = sources
        self._order = order
        self._next = 0
        self._bucket, self._bytes, self._dtype = [], 0, None
        self._limit = session._s._options.bucket_bytes()

    def until(self, pos, grads):
        order = self._order
        while self._next < len(order) and order[self._next][1] > pos:
            i = order[self._next][0]
            self._next += 1
            v = self._sources[i]
            g = grads.get(id(v))
            if g is None or npd(g) != npd(v) or shape_of(g) != shape_of(v):
                continue  # cast or reshaped later: reduced by the optimizer's hook instead
            if self._bucket and npd(g) != self._dtype:
                self._flush(pos >= 0)
            self._bucket.append(g)
            self._bytes += size_of(g) * npd(g).itemsize
            self._dtype = npd(g)
            if self._bytes >= self._limit:
                self._flush(pos >= 0)
        if pos < 0 and self._bucket:
            self._flush(False)

    def _flush(self, during_backward):
        self._session._start(self._bucket, during_backward)
        self._bucket, self._bytes = [], 0


@contextlib.contextmanager
def session_for(strategy):
    """An OverlapSession around one distributed step (a no-op with one worker, several
    replicas per process, or TENFOLD_ALLREDUCE_OVERLAP=0)."""
    if strategy._num_workers == 1 or strategy._num_local != 1 or not enabled():
        yield None
        return
    prev = strategy.__dict__.get("_overlap_session")
    session = OverlapSession(strategy)
    strategy.__dict__["_overlap_session"] = session
    try:
        with session:
            yield session
    finally:
        strategy.__dict__["_overlap_session"] = prev
