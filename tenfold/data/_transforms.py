"""Transformations: each node pulls from its input's iterator (or, over in-memory arrays,
rewrites the input's index stream: see `_index.py`)."""
import collections
import itertools
import os

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.errors import InvalidArgumentError, FailedPreconditionError
from tenfold.framework.tensor import Tensor
from tenfold.data import _structure as S
from tenfold.data import _index, _parallel
from tenfold.data.dataset import (DatasetV2, AUTOTUNE, INFINITE, UNKNOWN, _int, _call_fn,
                                  _elements_from_plan, _fn_name)
from tenfold.ops.buffers import array_of
from tenfold.framework.host import from_host, to_host

# Set to False to force the element-by-element path (tests compare the two).
use_index_plans = True

_DEFAULT_GLOBAL_SEED = 87654321


def _cpu_count():
    return max(os.cpu_count() or 1, 1)


def _input_plan(ds):
    return ds._inputs[0]._index_plan() if use_index_plans else None


def _with_batch_dim(spec, dim):
    def leaf(s):
        if S.is_ragged_spec(s):
            return _ragged_batch_spec(s, dim)
        shape = S.spec_shape(s)
        if shape.rank is None:
            return S.make_spec(None, S.spec_dtype(s))
        return S.make_spec([dim] + shape.as_list(), S.spec_dtype(s))
    return S.map_leaves(leaf, spec)


def _ragged_batch_spec(s, dim):
    shape = S.spec_shape(s)
    dims = [dim] + shape.as_list() if shape.rank is not None else None
    return S.ragged_module().RaggedTensorSpec(dims, S.spec_dtype(s), s.ragged_rank + 1)


def _ragged_components(ds):
    """Per component of `ds`'s elements, whether its spec is a RaggedTensorSpec (so `batch`
    makes a RaggedTensor of it even from dense rows), or None when the pipeline has no ragged
    source (the spec is not computed then: it may run map functions)."""
    todo, seen = [ds], set()
    while todo:
        d = todo.pop()
        if id(d) in seen:
            continue
        seen.add(id(d))
        if type(d).__name__ in ("RaggedSliceDataset", "RaggedBatchDataset"):
            return [S.is_ragged_spec(s) for s in S.flatten(ds.element_spec)]
        todo.extend(getattr(d, "_inputs", ()))
    return None


class _PassThrough(DatasetV2):
    """A node over one input, which by default keeps its input's elements (and index plan) as
    they are. Subclasses that change them override `_index_plan` (the rewritten index stream,
    or None) and `_iter_elements` (the element-by-element path used when there is no plan)."""

    def _iter(self):
        plan = self._index_plan()
        if plan is not None:
            return _elements_from_plan(plan)
        return self._iter_elements()

    def _iter_elements(self):
        return self._inputs[0]._iter()

    def _index_plan(self):
        return _input_plan(self)

    def _cardinality(self):
        return self._inputs[0]._cardinality()


class _OptionsDataset(_PassThrough):
    def __init__(self, inp, options):
        from tenfold.data.options import Options
        if not isinstance(options, Options):
            raise TypeError(f"with_options expects a tf.data.Options, got "
                            f"{type(options).__name__}.")
        super().__init__(inp)
        self._options = options


OptionsDataset = _OptionsDataset


# ----------------------------------------------------------------------------------------
# map / filter

def _map_workers(ds, num_parallel_calls):
    if num_parallel_calls is None:
        return 0
    n = _int(num_parallel_calls, "num_parallel_calls")
    if n == AUTOTUNE:
        n = _cpu_count()
        cap = ds.options().threading.private_threadpool_size
        if cap:
            n = min(n, int(cap))
    elif n <= 0:
        raise ValueError(f"num_parallel_calls must be positive or tf.data.AUTOTUNE, got {n}.")
    return n if n > 1 else 0


class _Unrecorded:
    """Runs spec inference without tapes or tf.function tracers recording its ops."""

    def __enter__(self):
        from tenfold.framework.state import STATE
        self._saved = list(STATE.observers)
        STATE.observers[:] = []

    def __exit__(self, *exc):
        from tenfold.framework.state import STATE
        STATE.observers[:] = self._saved
        return False


def _infer_spec(fn_on_element, in_spec, fallback):
    """Output spec of a function by running it on placeholder zeros (twice with different
    sizes for unknown dimensions; dimensions that change become None), as tracing would;
    `fallback()` (peeking at the first real element) if the function rejects zeros."""
    with _Unrecorded():
        return _infer_spec_unrecorded(fn_on_element, in_spec, fallback)


def _infer_spec_unrecorded(fn_on_element, in_spec, fallback):
    try:
        # a second run with other sizes (and other text: string ops have data-dependent
        # shapes) shows which output dimensions vary
        has_unknown = any(S.spec_shape(s).rank is None or None in S.spec_shape(s).as_list() or
                          S.spec_dtype(s) == dtypes.string
                          for s in S.flatten(in_spec) if not isinstance(s, S.DatasetSpec))
        outs = [fn_on_element(S.placeholder(in_spec, 2))]
        if has_unknown:
            outs.append(fn_on_element(S.placeholder(in_spec, 3)))
    except Exception:  # noqa: BLE001 - any failure: use real data instead
        return fallback()
    spec = S.spec_of(outs[0])
    if len(outs) == 2 and S.same_structure(outs[0], outs[1]):
        spec = S.pack(spec, [S.relax(a, b) if not isinstance(a, S.DatasetSpec) else a
                             for a, b in zip(S.flatten(spec), S.flatten(S.spec_of(outs[1])))])
    return spec


class _MapDataset(DatasetV2):
    def __init__(self, inp, fn, num_parallel_calls, deterministic):
        if not callable(fn):
            raise TypeError(f"Dataset.map expects a function, got {type(fn).__name__}.")
        super().__init__(inp)
        self._fn = fn
        self._parallel = num_parallel_calls
        self._deterministic = deterministic
        _map_workers(self, num_parallel_calls)  # validate now

    def _apply(self, e, i):
        return S.from_tensors(_call_fn(self._fn, "map", S.to_tensors(e), i))

    def _iter(self):
        n = _map_workers(self, self._parallel)
        src = self._inputs[0]._iter()
        if n:
            det = self._deterministic
            if det is None:
                det = self._deterministic_default()
            return _parallel.parallel_map(src, self._apply, n, det)
        return (self._apply(e, i) for i, e in enumerate(src))

    def _compute_spec(self):
        def fallback():
            for e in self._iter():
                return S.spec_of(e)
            return S.map_leaves(lambda s: S.make_spec(None, dtypes.float32),
                                self._inputs[0].element_spec)
        return _infer_spec(lambda ph: self._apply(ph, 0), self._inputs[0].element_spec,
                           fallback)

    def _cardinality(self):
        return self._inputs[0]._cardinality()


class _ParallelMapDataset(_MapDataset):
    pass


def MapDataset(inp, fn, num_parallel_calls, deterministic):  # noqa: N802 - a node factory
    cls = _MapDataset if num_parallel_calls is None else _ParallelMapDataset
    return cls(inp, fn, num_parallel_calls, deterministic)


def _as_bool(value, index, what="filter"):
    v = array_of(value)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.ndarray) and v.dtype == np.bool_ and v.ndim == 0:
        return bool(v)
    desc = S.describe(value) if isinstance(value, (Tensor, np.ndarray)) else type(value).__name__
    raise TypeError(f"Dataset.{what}: `predicate` must return a scalar boolean tensor, got "
                    f"{desc} (on element {index}). Use e.g. tf.reduce_all(...) or a "
                    "comparison to make a scalar bool.")


class _FilterDataset(DatasetV2):
    def __init__(self, inp, predicate):
        if not callable(predicate):
            raise TypeError(f"Dataset.filter expects a function, got {type(predicate).__name__}.")
        super().__init__(inp)
        self._pred = predicate

    def _iter(self):
        pred = self._pred
        for i, e in enumerate(self._inputs[0]._iter()):
            if _as_bool(_call_fn(pred, "filter", S.to_tensors(e), i), i):
                yield e


FilterDataset = _FilterDataset


class _TakeWhileDataset(DatasetV2):
    def __init__(self, inp, predicate):
        super().__init__(inp)
        self._pred = predicate

    def _iter(self):
        for i, e in enumerate(self._inputs[0]._iter()):
            if not _as_bool(_call_fn(self._pred, "take_while", S.to_tensors(e), i), i,
                            "take_while"):
                return
            yield e


TakeWhileDataset = _TakeWhileDataset


class _UniqueDataset(DatasetV2):
    def __init__(self, inp):
        super().__init__(inp)

    def _iter(self):
        seen = set()
        for e in self._inputs[0]._iter():
            if not isinstance(e, np.ndarray) or e.ndim != 0:
                raise TypeError("Dataset.unique works on datasets of scalar integers or "
                                f"strings, got elements {S.describe(e)}.")
            key = e.item()
            if key not in seen:
                seen.add(key)
                yield e


UniqueDataset = _UniqueDataset


class _EnumerateDataset(DatasetV2):
    def __init__(self, inp, start):
        super().__init__(inp)
        self._start = start

    def _iter(self):
        for i, e in enumerate(self._inputs[0]._iter(), self._start):
            yield (np.asarray(i, dtype=np.int64), e)

    def _compute_spec(self):
        return (S.make_spec([], dtypes.int64), self._inputs[0].element_spec)

    def _cardinality(self):
        return self._inputs[0]._cardinality()


EnumerateDataset = _EnumerateDataset


# ----------------------------------------------------------------------------------------
# shuffle

def _derive_seed(seed):
    """The dataset's base seed with TensorFlow's rules: an op seed (with the global seed, or
    TensorFlow's default global seed) is deterministic; a global seed alone gives each new
    dataset the next seed of a deterministic sequence; no seed at all is random."""
    from tenfold.ops import random_ops
    g = random_ops.get_global_seed()
    if seed is not None:
        g = _DEFAULT_GLOBAL_SEED if g is None else g
        ss = np.random.SeedSequence([g & 0xFFFFFFFFFFFF, _int(seed, "seed") & 0xFFFFFFFFFFFF,
                                     0xDA7A])
        return int(ss.generate_state(1, np.uint64)[0] >> 1)
    return int(random_ops._generator(None).integers(0, 2 ** 62))


class _ShuffleDataset(_PassThrough):
    def __init__(self, inp, buffer_size, seed, reshuffle_each_iteration):
        super().__init__(inp)
        b = _int(buffer_size, "shuffle's buffer_size")
        if b <= 0:
            raise InvalidArgumentError(
                f"Dataset.shuffle: buffer_size must be greater than zero, got {b}. It is the "
                "number of elements to draw from: 1 keeps the order, the dataset's size gives "
                "a full shuffle (e.g. shuffle(len(x_train))).")
        self._buffer_size = b
        self._reshuffle = True if reshuffle_each_iteration is None else \
            bool(reshuffle_each_iteration)
        self._base_seed = _derive_seed(seed)
        self._epochs = itertools.count()

    def _rngs(self):
        e = next(self._epochs) if self._reshuffle else 0
        return (np.random.default_rng([self._base_seed, e, 1]),
                np.random.default_rng([self._base_seed, e, 2]))

    def _index_plan(self):
        plan = _input_plan(self)
        if plan is None:
            return None
        b = self._buffer_size

        def stream():
            rs, rd = self._rngs()
            return _index.shuffle(plan.stream(), b, rs, rd)
        return _index.IndexPlan(plan.source, stream)

    def _iter_elements(self):
        rs, rd = self._rngs()
        return _index.shuffle_elements(self._inputs[0]._iter(), self._buffer_size, rs, rd)


ShuffleDataset = _ShuffleDataset


# ----------------------------------------------------------------------------------------
# repeat / take / skip / shard

class _CountedPassThrough(_PassThrough):
    """A pass-through node with an integer `count` (repeat, take, skip; negative: no limit)."""

    def __init__(self, inp, count):
        super().__init__(inp)
        self._count = count


class _RepeatDataset(_CountedPassThrough):
    def _index_plan(self):
        plan = _input_plan(self)
        if plan is None:
            return None
        count = self._count
        return _index.IndexPlan(plan.source, lambda: _index.repeat(plan.stream, count))

    def _iter_elements(self):
        done = 0
        while self._count < 0 or done < self._count:
            empty = True
            for e in self._inputs[0]._iter():
                empty = False
                yield e
            if empty:
                return
            done += 1

    def _cardinality(self):
        n, c = self._inputs[0]._cardinality(), self._count
        if c == 0 or n == 0:
            return 0
        if c < 0:
            return INFINITE
        return n if n < 0 else n * c


RepeatDataset = _RepeatDataset


class _TakeDataset(_CountedPassThrough):
    def _index_plan(self):
        plan = _input_plan(self)
        if plan is None or self._count < 0:
            return plan
        c = self._count
        return _index.IndexPlan(plan.source, lambda: _index.take(plan.stream(), c))

    def _iter_elements(self):
        it = self._inputs[0]._iter()
        return it if self._count < 0 else itertools.islice(it, self._count)

    def _cardinality(self):
        n, c = self._inputs[0]._cardinality(), self._count
        if c < 0:
            return n
        if n == INFINITE:
            return c
        if n == UNKNOWN:
            return UNKNOWN if c else 0
        return min(n, c)


TakeDataset = _TakeDataset


class _SkipDataset(_CountedPassThrough):
    def _index_plan(self):
        plan = _input_plan(self)
        if plan is None:
            return None
        c = self._count
        if c < 0:
            return _index.IndexPlan(plan.source, lambda: iter(()))
        return _index.IndexPlan(plan.source, lambda: _index.skip(plan.stream(), c))

    def _iter_elements(self):
        it = self._inputs[0]._iter()
        if self._count < 0:
            for _ in it:
                pass
            return
        yield from itertools.islice(it, self._count, None)

    def _cardinality(self):
        n, c = self._inputs[0]._cardinality(), self._count
        if c < 0:
            return 0
        if n < 0:
            return n
        return max(n - c, 0)


SkipDataset = _SkipDataset


class _ShardDataset(_PassThrough):
    def __init__(self, inp, num_shards, index):
        super().__init__(inp)
        if num_shards <= 0:
            raise InvalidArgumentError(f"Dataset.shard: num_shards must be positive, got "
                                       f"{num_shards}.")
        if not 0 <= index < num_shards:
            raise InvalidArgumentError(f"Dataset.shard: index must be in [0, num_shards) = "
                                       f"[0, {num_shards}), got {index}.")
        self._n, self._i = num_shards, index

    def _index_plan(self):
        plan = _input_plan(self)
        if plan is None:
            return None
        n, i = self._n, self._i
        return _index.IndexPlan(plan.source, lambda: _index.shard(plan.stream(), n, i))

    def _iter_elements(self):
        return itertools.islice(self._inputs[0]._iter(), self._i, None, self._n)

    def _cardinality(self):
        n = self._inputs[0]._cardinality()
        if n < 0:
            return n
        return n // self._n + (1 if n % self._n > self._i else 0)


ShardDataset = _ShardDataset


class _AssertCardinalityDataset(_PassThrough):
    def __init__(self, inp, expected):
        super().__init__(inp)
        self._expected = expected

    def _index_plan(self):
        return None

    def _iter(self):
        n = 0
        for e in self._inputs[0]._iter():
            n += 1
            if 0 <= self._expected < n:
                raise FailedPreconditionError(
                    f"Input dataset was expected to contain {self._expected} elements but "
                    "contained more.")
            yield e
        if self._expected >= 0 and n != self._expected:
            raise FailedPreconditionError(f"Input dataset was expected to contain "
                                          f"{self._expected} elements but contained only {n}.")

    def _cardinality(self):
        return self._expected


AssertCardinalityDataset = _AssertCardinalityDataset


# ----------------------------------------------------------------------------------------
# batch / padded_batch / unbatch

def _check_batch_size(batch_size, what):
    b = _int(batch_size, f"{what}'s batch_size")
    if b <= 0:
        raise InvalidArgumentError(f"Dataset.{what}: batch_size must be greater than zero, "
                                   f"got {b}.")
    return b


def _batched_cardinality(n, b, drop):
    if n < 0:
        return n
    return n // b if drop else -(-n // b)


def _stack(elems, what="batch", ragged=None):
    template = elems[0]
    flats = [S.flatten(e) for e in elems]
    k = len(flats[0])
    for j, f in enumerate(flats):
        if len(f) != k or (j and not S.same_structure(template, elems[j])):
            raise InvalidArgumentError(
                f"Dataset.{what}: elements of one batch have different structures: "
                f"{S.describe(template)} and {S.describe(elems[j])}.")
    out = []
    for p in range(k):
        arrs = [f[p] for f in flats]
        if (ragged is not None and ragged[p]) or any(S.is_ragged(a) for a in arrs):
            from tenfold.data._ragged import batch_component
            out.append(batch_component(arrs))
            continue
        s0 = arrs[0].shape
        for j, a in enumerate(arrs):
            if a.shape != s0:
                raise InvalidArgumentError(
                    f"Dataset.{what}: cannot batch tensors with different shapes in component "
                    f"{p}: the first element of the batch has shape {list(s0)} and element {j} "
                    f"has shape {list(a.shape)}. Use padded_batch(...) to pad them to a "
                    "common shape, or make the shapes equal first (e.g. map a resize or "
                    "crop).")
            if a.dtype != arrs[0].dtype:
                raise InvalidArgumentError(
                    f"Dataset.{what}: component {p} has dtype {arrs[0].dtype} in the first "
                    f"element of the batch but {a.dtype} in element {j}.")
        out.append(np.stack(arrs))
    return out[0] if not S.is_structure(template) else S.pack(template, out)


def _batches_from_plan(plan, b, drop):
    leaves = S.flatten(plan.source)
    template = plan.source
    single = not S.is_structure(template)
    flat_tuple = type(template) is tuple and not any(S.is_structure(t) for t in template)
    gather = _index.gather
    for pieces in _index.batches(plan.stream(), b, drop):
        if len(pieces) == 1:
            c = pieces[0]
            arrs = [gather(a, c) for a in leaves]
        else:
            arrs = [np.concatenate([gather(a, c) for c in pieces]) for a in leaves]
        if single:
            yield arrs[0]
        elif flat_tuple:
            yield tuple(arrs)
        else:
            yield S.pack(template, arrs)


class _BatchDataset(DatasetV2):
    def __init__(self, inp, batch_size, drop_remainder):
        super().__init__(inp)
        self._b = _check_batch_size(batch_size, "batch")
        self._drop = bool(drop_remainder)
        self._batch_size = from_host(np.asarray(self._b, dtype=np.int64))  # as tf.data
        self._drop_remainder = from_host(np.asarray(self._drop))

    def _iter(self):
        plan = _input_plan(self)
        if plan is not None:
            return _batches_from_plan(plan, self._b, self._drop)
        return self._batches()

    def _batches(self):
        buf, b = [], self._b
        ragged = _ragged_components(self._inputs[0])
        for e in self._inputs[0]._iter():
            buf.append(e)
            if len(buf) == b:
                yield _stack(buf, ragged=ragged)
                buf = []
        if buf and not self._drop:
            yield _stack(buf, ragged=ragged)

    def _compute_spec(self):
        return _with_batch_dim(self._inputs[0].element_spec, self._b if self._drop else None)

    def _cardinality(self):
        return _batched_cardinality(self._inputs[0]._cardinality(), self._b, self._drop)


BatchDataset = _BatchDataset


def _shape_list(s, what):
    if s is None:
        return None
    if isinstance(s, Tensor):
        s = to_host(s).tolist()
    if hasattr(s, "as_list"):
        if getattr(s, "rank", 0) is None:
            return None
        s = s.as_list()
    if isinstance(s, (int, np.integer)):
        s = [s]
    try:
        return [None if d is None or int(d) == -1 else int(d) for d in s]
    except (TypeError, ValueError):
        raise TypeError(f"Dataset.padded_batch: {what} must be a shape (list of ints or None), "
                        f"got {s!r}.") from None


class _PaddedBatchDataset(DatasetV2):
    def __init__(self, inp, batch_size, padded_shapes, padding_values, drop_remainder):
        super().__init__(inp)
        self._b = _check_batch_size(batch_size, "padded_batch")
        self._shapes = padded_shapes
        self._padding_values = padding_values
        self._drop = bool(drop_remainder)

    def _leaf_settings(self, template):
        from tenfold.data._sources import _zip_up_to
        nleaves = len(S.flatten(template))
        if self._shapes is None:
            shapes = [None] * nleaves
        elif S.is_structure(template):
            shapes = [p.b for p in S.flatten(_zip_up_to(
                template, self._shapes, "Dataset.padded_batch: padded_shapes"))]
        else:
            shapes = [self._shapes]
        shapes = [_shape_list(s, "padded_shapes") for s in shapes]
        if self._padding_values is None:
            values = [None] * nleaves
        elif S.is_structure(template) and S.is_structure(self._padding_values):
            values = [p.b for p in S.flatten(_zip_up_to(
                template, self._padding_values, "Dataset.padded_batch: padding_values"))]
        else:
            values = [self._padding_values] * nleaves
        return shapes, values

    def _iter(self):
        buf, b = [], self._b
        settings = None
        for e in self._inputs[0]._iter():
            if settings is None:
                settings = self._leaf_settings(e)
            buf.append(e)
            if len(buf) == b:
                yield self._pad(buf, *settings)
                buf = []
        if buf and not self._drop:
            yield self._pad(buf, *(settings or self._leaf_settings(buf[0])))

    def _pad(self, elems, shapes, values):
        template = elems[0]
        flats = [S.flatten(e) for e in elems]
        out = []
        for p, (shape, value) in enumerate(zip(shapes, values)):
            arrs = [f[p] for f in flats]
            rank = arrs[0].ndim
            for j, a in enumerate(arrs):
                if a.ndim != rank:
                    raise InvalidArgumentError(
                        f"Dataset.padded_batch: component {p} has rank {rank} in the first "
                        f"element of the batch but rank {a.ndim} in element {j}; padding "
                        "changes sizes, not ranks.")
            maxes = [max(a.shape[d] for a in arrs) for d in range(rank)]
            if shape is None:
                target = maxes
            else:
                if len(shape) != rank:
                    raise InvalidArgumentError(
                        f"Dataset.padded_batch: padded shape {shape} for component {p} has "
                        f"rank {len(shape)} but the elements have rank {rank} "
                        f"(shape {list(arrs[0].shape)}).")
                target = []
                for d, (want, have) in enumerate(zip(shape, maxes)):
                    if want is None:
                        target.append(have)
                    elif have > want:
                        j = next(j for j, a in enumerate(arrs) if a.shape[d] > want)
                        raise InvalidArgumentError(
                            f"Dataset.padded_batch: element {j} of the batch has shape "
                            f"{list(arrs[j].shape)} in component {p}, larger than the padded "
                            f"shape {shape} (dimension {d}). Attempted to pad to a smaller "
                            "size than the input element.")
                    else:
                        target.append(want)
            dtype = arrs[0].dtype
            if value is None:
                fill = b"" if dtype.kind == "O" else 0
            else:
                fill = array_of(value)
                fill = np.asarray(fill)
                if fill.ndim != 0:
                    raise ValueError(f"Dataset.padded_batch: padding values must be scalars, "
                                     f"got shape {list(fill.shape)} for component {p}.")
                fill = fill[()]
            res = np.full([len(arrs)] + target, fill, dtype=dtype)
            for j, a in enumerate(arrs):
                res[(j,) + tuple(slice(0, n) for n in a.shape)] = a
            out.append(res)
        return out[0] if not S.is_structure(template) else S.pack(template, out)

    def _compute_spec(self):
        spec = self._inputs[0].element_spec
        shapes, _ = self._leaf_settings(spec)
        lead = self._b if self._drop else None
        leaves = []
        for s, want in zip(S.flatten(spec), shapes):
            have = S.spec_shape(s)
            if want is None:
                dims = have.as_list() if have.rank is not None else None
            else:
                dims = list(want)
            leaves.append(S.make_spec(None if dims is None else [lead] + dims,
                                      S.spec_dtype(s)))
        return S.pack(spec, leaves)

    def _cardinality(self):
        return _batched_cardinality(self._inputs[0]._cardinality(), self._b, self._drop)


PaddedBatchDataset = _PaddedBatchDataset


class _UnbatchDataset(DatasetV2):
    def __init__(self, inp):
        super().__init__(inp)

    def _iter(self):
        for e in self._inputs[0]._iter():
            leaves = S.flatten(e)
            if any(a.ndim == 0 for a in leaves):
                raise InvalidArgumentError(f"Dataset.unbatch: every component needs a leading "
                                           f"(batch) axis, got {S.describe(e)}.")
            n = leaves[0].shape[0]
            if any(a.shape[0] != n for a in leaves):
                raise InvalidArgumentError(f"Dataset.unbatch: the components have different "
                                           f"batch sizes: {S.describe(e)}.")
            if any(S.is_ragged(a) for a in leaves):
                from tenfold.data._ragged import unbatch_row
                for i in range(n):
                    yield S.pack(e, [unbatch_row(a, i) for a in leaves]) \
                        if S.is_structure(e) else unbatch_row(e, i)
            elif not S.is_structure(e):
                for i in range(n):
                    yield e[i, ...]
            else:
                for i in range(n):
                    yield S.pack(e, [a[i, ...] for a in leaves])

    def _compute_spec(self):
        def drop(s):
            if S.is_ragged_spec(s):
                from tenfold.data._ragged import unbatched_spec
                return unbatched_spec(s)
            sh = S.spec_shape(s)
            if sh.rank is None:
                return S.make_spec(None, S.spec_dtype(s))
            if sh.rank == 0:
                raise ValueError("Dataset.unbatch: the input's elements must have a leading "
                                 f"(batch) axis, got {s!r}.")
            return S.make_spec(sh.as_list()[1:], S.spec_dtype(s))
        return S.map_leaves(drop, self._inputs[0].element_spec)

    def _cardinality(self):
        n = self._inputs[0]._cardinality()
        if n < 0:
            return n if n == INFINITE else UNKNOWN
        dims = set()
        for s in S.flatten(self._inputs[0].element_spec):
            sh = S.spec_shape(s)
            dims.add(sh[0] if sh.rank else None)
        if len(dims) == 1 and None not in dims:
            return n * dims.pop()
        return UNKNOWN


UnbatchDataset = _UnbatchDataset


# ----------------------------------------------------------------------------------------
# prefetch / cache

class _PrefetchDataset(DatasetV2):
    def __init__(self, inp, buffer_size):
        super().__init__(inp)
        if buffer_size < AUTOTUNE:
            raise InvalidArgumentError(f"Dataset.prefetch: buffer_size must be positive or "
                                       f"tf.data.AUTOTUNE (-1), got {buffer_size}.")
        self._size = 4 if buffer_size == AUTOTUNE else buffer_size

    def _iter(self):
        if self._size == 0:
            return self._inputs[0]._iter()
        return _parallel.prefetch(self._inputs[0]._iter, self._size)

    def _cardinality(self):
        return self._inputs[0]._cardinality()


PrefetchDataset = _PrefetchDataset


class _CacheDataset(DatasetV2):
    def __init__(self, inp, filename):
        super().__init__(inp)
        self._filename = filename
        self._elements = None   # memory cache, once a pass completed
        self._chunks = None     # index-plan cache, once a pass completed

    def _index_plan(self):
        if self._filename or self._elements is not None:
            return None
        plan = _input_plan(self)
        if plan is None:
            return None

        def stream():
            if self._chunks is not None:
                return iter(self._chunks)
            return self._record_chunks(plan.stream())
        return _index.IndexPlan(plan.source, stream)

    def _record_chunks(self, stream):
        rec = []
        for c in stream:
            rec.append(c)
            yield c
        if self._chunks is None:
            self._chunks = rec

    def _iter(self):
        if self._filename:
            from tenfold.data import _cache
            return _cache.iterate(self)
        if self._elements is not None:
            return iter(self._elements)
        plan = self._index_plan()
        if plan is not None:
            return _elements_from_plan(plan)
        return self._record()

    def _record(self):
        rec = []
        for e in self._inputs[0]._iter():
            rec.append(e)
            yield e
        if self._elements is None:
            self._elements = rec

    def _cardinality(self):
        return self._inputs[0]._cardinality()


CacheDataset = _CacheDataset


# ----------------------------------------------------------------------------------------
# flat_map / interleave / window

def _dataset_result(fn, what, e, i):
    ds = _call_fn(fn, what, S.to_tensors(e), i)
    if not isinstance(ds, DatasetV2):
        raise TypeError(f"Dataset.{what}: the function `{_fn_name(fn)}` must return a "
                        f"Dataset, got {type(ds).__name__} (on element {i}).")
    return ds


class _FlatMapDataset(DatasetV2):
    _what = "flat_map"

    def __init__(self, inp, fn):
        if not callable(fn):
            raise TypeError(f"Dataset.{self._what} expects a function, got "
                            f"{type(fn).__name__}.")
        super().__init__(inp)
        self._fn = fn

    def _iter(self):
        for i, e in enumerate(self._inputs[0]._iter()):
            yield from _dataset_result(self._fn, self._what, e, i)._iter()

    def _compute_spec(self):
        def on(ph):
            return _dataset_result(self._fn, self._what, ph, 0).element_spec

        def fallback():
            for i, e in enumerate(self._inputs[0]._iter()):
                return _dataset_result(self._fn, self._what, e, i).element_spec
            raise ValueError(f"Dataset.{self._what}: cannot tell the element spec of an "
                             "empty dataset whose function rejects placeholder inputs.")
        with _Unrecorded():
            try:
                return on(S.placeholder(self._inputs[0].element_spec, 2))
            except Exception:  # noqa: BLE001
                return fallback()


FlatMapDataset = _FlatMapDataset


class _InterleaveDataset(_FlatMapDataset):
    _what = "interleave"

    def __init__(self, inp, fn, cycle_length, block_length):
        super().__init__(inp, fn)
        c = AUTOTUNE if cycle_length is None else _int(cycle_length, "cycle_length")
        self._cycle = _cpu_count() if c == AUTOTUNE else c
        self._block = 1 if block_length is None else _int(block_length, "block_length")
        if self._cycle <= 0 or self._block <= 0:
            raise InvalidArgumentError("Dataset.interleave: cycle_length and block_length must "
                                       "be positive.")

    def _iter(self):
        cycle, block = self._cycle, self._block
        current = [None] * cycle
        src = enumerate(self._inputs[0]._iter())
        ci = bi = 0
        num_open = 0
        end_of_input = False
        while not end_of_input or num_open > 0:
            it = current[ci]
            if it is not None:
                try:
                    e = next(it)
                except StopIteration:
                    current[ci] = None
                    num_open -= 1
                    ci, bi = (ci + 1) % cycle, 0
                    continue
                bi += 1
                if bi == block:
                    ci, bi = (ci + 1) % cycle, 0
                yield e
            elif not end_of_input:
                try:
                    i, x = next(src)
                except StopIteration:
                    end_of_input = True
                    continue
                current[ci] = _dataset_result(self._fn, self._what, x, i)._iter()
                num_open += 1
            else:
                ci, bi = (ci + 1) % cycle, 0


InterleaveDataset = _InterleaveDataset


class _WindowDataset(DatasetV2):
    def __init__(self, inp, size, shift, stride, drop_remainder):
        super().__init__(inp)
        self._size = _int(size, "window's size")
        self._shift = self._size if shift is None else _int(shift, "window's shift")
        self._stride = _int(stride, "window's stride")
        if min(self._size, self._shift, self._stride) <= 0:
            raise InvalidArgumentError("Dataset.window: size, shift and stride must be "
                                       "positive.")
        self._drop = bool(drop_remainder)

    def _iter(self):
        from tenfold.data._sources import _ListDataset
        size, shift, stride = self._size, self._shift, self._stride
        span = (size - 1) * stride + 1
        it = self._inputs[0]._iter()
        buf = collections.deque()
        start = 0
        w = 0
        exhausted = False
        spec = None
        while True:
            while not exhausted and start + len(buf) < w + span:
                try:
                    buf.append(next(it))
                except StopIteration:
                    exhausted = True
            avail = start + len(buf)
            if w >= avail:
                return
            elems = [buf[i - start] for i in range(w, min(w + span, avail), stride)]
            if len(elems) < size and self._drop:
                return
            if spec is None:
                spec = self._inputs[0].element_spec
            template = elems[0]
            flats = [S.flatten(e) for e in elems]
            specs = S.flatten(spec)
            subs = [_ListDataset([f[p] for f in flats], specs[p])
                    for p in range(len(flats[0]))]
            yield subs[0] if not S.is_structure(template) else S.pack(template, subs)
            w += shift
            while start < w and buf:
                buf.popleft()
                start += 1
            while start < w and not exhausted:
                try:
                    next(it)
                    start += 1
                except StopIteration:
                    exhausted = True

    def _compute_spec(self):
        return S.map_leaves(lambda s: S.DatasetSpec(s), self._inputs[0].element_spec)

    def _cardinality(self):
        n = self._inputs[0]._cardinality()
        if n < 0:
            return n
        span = (self._size - 1) * self._stride + 1
        if self._drop:
            return 0 if n < span else (n - span) // self._shift + 1
        return -(-n // self._shift)


WindowDataset = _WindowDataset


# ----------------------------------------------------------------------------------------
# scan / group_by_window

class _ScanDataset(DatasetV2):
    def __init__(self, inp, initial_state, scan_func):
        super().__init__(inp)
        self._state0 = S.normalize(initial_state, "scan's initial_state")
        self._fn = scan_func

    def _step(self, state, e, i):
        out = _call_fn(self._fn, "scan", (S.to_tensors(state), S.to_tensors(e)), i)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"Dataset.scan: `scan_func` must return (new_state, "
                            f"output_element), got {type(out).__name__} (on element {i}).")
        new_state, value = S.from_tensors(out[0]), S.from_tensors(out[1])
        if not S.same_structure(state, new_state):
            raise TypeError(f"Dataset.scan: the new state {S.describe(new_state)} does not have "
                            f"the structure of the initial state {S.describe(state)}.")
        return new_state, value

    def _iter(self):
        state = self._state0
        for i, e in enumerate(self._inputs[0]._iter()):
            state, value = self._step(state, e, i)
            yield value

    def _compute_spec(self):
        def fallback():
            for e in self._iter():
                return S.spec_of(e)
            raise ValueError("Dataset.scan: cannot tell the element spec of an empty dataset.")
        return _infer_spec(lambda ph: self._step(self._state0, ph, 0)[1],
                           self._inputs[0].element_spec, fallback)

    def _cardinality(self):
        return self._inputs[0]._cardinality()


ScanDataset = _ScanDataset


class _GroupByWindowDataset(DatasetV2):
    """Groups elements by `key_func`; each group, once `window_size` elements are in it (and
    at the end), goes through `reduce_func(key, window_dataset)`, whose elements are output.
    Left-over groups are flushed in increasing key order, as tf.data does."""

    def __init__(self, inp, key_func, reduce_func, window_size, window_size_func):
        super().__init__(inp)
        if (window_size is None) == (window_size_func is None):
            raise ValueError("group_by_window: give exactly one of window_size and "
                             "window_size_func.")
        self._key = key_func
        self._reduce = reduce_func
        self._size = (lambda k: window_size) if window_size_func is None else window_size_func

    def _emit(self, key, elems, spec):
        from tenfold.data._sources import _ListDataset
        window = _ListDataset(elems, spec)
        out = _call_fn(self._reduce, "group_by_window", (from_host(np.asarray(key)), window),
                       0)
        if not isinstance(out, DatasetV2):
            raise TypeError("group_by_window: reduce_func must return a Dataset, got "
                            f"{type(out).__name__}.")
        return out._iter()

    def _iter(self):
        groups, sizes = {}, {}
        spec = None
        for i, e in enumerate(self._inputs[0]._iter()):
            k = _call_fn(self._key, "group_by_window", S.to_tensors(e), i)
            k = int(array_of(k))
            if k not in sizes:
                sizes[k] = _int(self._size(from_host(np.asarray(k, dtype=np.int64))),
                                "window size")
                if sizes[k] <= 0:
                    raise InvalidArgumentError(f"group_by_window: window size for key {k} "
                                               f"must be positive, got {sizes[k]}.")
            groups.setdefault(k, []).append(e)
            if len(groups[k]) == sizes[k]:
                if spec is None:
                    spec = self._inputs[0].element_spec
                yield from self._emit(k, groups.pop(k), spec)
        for k in sorted(groups):
            if groups[k]:
                if spec is None:
                    spec = self._inputs[0].element_spec
                yield from self._emit(k, groups[k], spec)

    def _compute_spec(self):
        from tenfold.data._sources import _ListDataset
        spec = self._inputs[0].element_spec
        with _Unrecorded():
            try:
                ph = S.placeholder(spec, 2)
                return self._reduce(from_host(np.asarray(0, dtype=np.int64)),
                                    _ListDataset([ph], spec)).element_spec
            except Exception:  # noqa: BLE001
                for e in self._iter():
                    return S.spec_of(e)
        raise ValueError("group_by_window: cannot tell the element spec of an empty dataset.")


GroupByWindowDataset = _GroupByWindowDataset


def bucket_by_sequence_length(ds, element_length_func, bucket_boundaries, bucket_batch_sizes,
                              padded_shapes=None, padding_values=None,
                              pad_to_bucket_boundary=False, no_padding=False,
                              drop_remainder=False):
    bounds = [int(b) for b in bucket_boundaries]
    sizes = [int(b) for b in bucket_batch_sizes]
    if len(sizes) != len(bounds) + 1:
        raise ValueError(f"bucket_by_sequence_length: len(bucket_batch_sizes) must be "
                         f"len(bucket_boundaries) + 1 = {len(bounds) + 1}, got {len(sizes)}.")
    if bounds != sorted(bounds):
        raise ValueError("bucket_by_sequence_length: bucket_boundaries must be increasing.")

    def key(*args):
        n = int(element_length_func(*args))
        return int(np.searchsorted(bounds, n, side="right"))

    def reduce(k, window):
        k = int(k)
        if no_padding:
            return window.batch(sizes[k], drop_remainder=drop_remainder)
        shapes = padded_shapes
        if pad_to_bucket_boundary:
            if k >= len(bounds):
                raise InvalidArgumentError(
                    "bucket_by_sequence_length: with pad_to_bucket_boundary=True every "
                    f"element must be shorter than the last boundary ({bounds[-1]}).")
            spec = window.element_spec
            shapes = S.map_leaves(
                lambda s: [bounds[k] - 1] + [None] * (S.spec_shape(s).rank - 1), spec)
        return window.padded_batch(sizes[k], padded_shapes=shapes,
                                   padding_values=padding_values,
                                   drop_remainder=drop_remainder)
    return _GroupByWindowDataset(ds, key, reduce, None, lambda k: sizes[int(k)])
