"""The built-in optimizers' dense updates (the sparse Adam's too, rows summed, and the weight
decay) as one C pass over the gradient, the weights and the slots (tenfold/backend/native/optimizers.c), where
the NumPy bodies in optimizers.py run 4-12 passes. Same operations in the same order in the
variables' dtype: the numbers are the NumPy bodies', bit for bit.

Each function returns False, running nothing, when the arrays do not suit the C kernels (no
compiler or TENFOLD_NATIVE=0, device arrays, another dtype, not C-contiguous, unaligned,
read-only, shapes that differ, overlapping arrays); the caller then runs its NumPy body.
Updates of 64K elements and more are cut into fixed chunks run on the C pool
(backend/native_pool.py: no GIL, a region starts in microseconds; their square roots and
divisions make them compute-bound, ~0.7 ns per float32 element); where the pool cannot be
had, big ones go to the kernel threads from kernels.BANDWIDTH_MIN_BYTES on (elementwise:
the result does not depend on the cut). RMSprop on the MLP's 784x512 weights: 223 us on one
thread, 221 us through the kernel threads, 148 us on the pool.

A/B, `Optimizer._backend_update_step` on the benchmark models' variables (random float32
gradients, the Embeddings' as rows: batch x length ids), process time, medians of 31
alternating runs of 5 steps, one thread, the NumPy bodies (TENFOLD_NATIVE=0: blocked, small
variables grouped, as before) -> C, ms per step (a busy 2-core machine: +-30% from run to
run, the ratios steadier):
  MLP RMSprop, 4 variables         1.69 -> 0.52   784x512 alone  1.25 -> 0.36
  LSTM Adam, 6 variables          12.7  -> 3.74   20000x128 embedding, 5120 ids  11.9 -> 2.66,
                                                  128x512  0.18 -> 0.068
  Transformer Adam, 22 variables   2.67 -> 0.83   20000x32 embedding, 4096 ids  2.46 -> 0.68
  convnet Adam, 6 variables        0.17 -> 0.09   3x3x32x64  0.071 -> 0.035
  ResNet-20 Adam, 82 variables     1.47 -> 0.83   3x3x64x64  0.13 -> 0.06
The dense kernels are bound by the sqrt and the division (~1.2 ns per float32 element here);
the sparse Adam's pass also sums the ids' rows (summed_rows' gathers, ~1 ms of the LSTM's).

A training step's dense updates by one kernel run as one `UpdatePlan` (see there): one pool
region, its rows built once, each step only writing the gradients' addresses in. The seed
MLP's four RMSprop updates inside `fit`: 219-231 -> 165-176 us (the C pass ~112 of it), its
step 1.243 -> 1.184 ms (two trees, 6 alternating rounds); ResNet-20's 82 Adam updates 604 ->
421 us.
"""
import ctypes
import threading

import numpy as np

from tenfold.backend import kernels as _kernels
from tenfold.backend import native as _native
from tenfold.backend import native_pool as _pool
from tenfold.ops.buffers import variable_buffer

_FAMILY = "optimizers"
_P = ctypes.c_void_p
_I = _native.i64
_D = _native.f64
_ARGS = {
    "adam": [_P, _P, _P, _P, _P, _I, _D, _D, _D, _D],
    "adam_sparse": [_P] * 3 + [_I] * 3 + [_P] * 2 + [_I] * 2 + [_P, _I] + [_P] * 3 +
                   [_D] * 4,
    "rmsprop": [_P, _P, _P, _P, _P, _I, _D, _D, _D, _D, _D],
    "sgd": [_P, _P, _P, _I, _D, _D, _I],
    "weight_decay": [_P, _I, _D, _D],
    # name: [g, w, slots...] + [n] + scalars (the bodies' `s`, in order)
    "adagrad": [_P] * 3 + [_I] + [_D] * 2,
    "adadelta": [_P] * 4 + [_I] + [_D] * 4,
    "adamax": [_P] * 4 + [_I] + [_D] * 5,
    "nadam": [_P] * 4 + [_I] + [_D] * 9,
    "lion": [_P] * 3 + [_I] + [_D] * 5,
}
_SIMPLE = {"adagrad": 3, "adadelta": 4, "adamax": 4, "nadam": 4, "lion": 3}   # arrays
_CHUNK_BYTES = 1 << 18   # per array, for the threads (elementwise: any cut gives the same)
_POOL_MIN_ELEMENTS = 1 << 16   # updates this big go to the C pool (~45 us on one core)
_PART_ELEMENTS = 1 << 15   # an UpdatePlan's parts of a big variable: ~20 us of RMSprop each
_MAX_PARTS = 16
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_fns = {}
_lib = [None]


def _fn(name, dtype):
    """The ctypes function `name_f32/f64` with its argtypes set (cached), or None."""
    return _native.kernel(_FAMILY, name, dtype, _ARGS[name])


def _pointers(arrays, n_inputs=1):
    """The addresses of `arrays` (the first n_inputs read, the rest written) where the C
    loops may take them, else None: NumPy arrays of one float dtype, one shape, C-contiguous,
    aligned, the outputs writeable, no two overlapping (the loops read and write element by
    element)."""
    a0 = arrays[0]
    dt, shape, n = a0.dtype, a0.shape, a0.size
    if dt != _F32 and dt != _F64:
        return None
    out = []
    for k, a in enumerate(arrays):
        if type(a) is not np.ndarray or a.dtype != dt or a.shape != shape or \
                not a.flags.aligned:
            return None
        got = _native.writable_addr(a)   # None unless C-contiguous and writeable
        if got is None:
            if k >= n_inputs or not a.flags.c_contiguous:
                return None
            got = _native.addr(a)   # a read-only input
        out.append(got)
    if n:
        nbytes = a0.nbytes
        starts = sorted(out)
        for k in range(len(starts) - 1):
            if starts[k + 1] - starts[k] < nbytes:
                return None
    return out


def _elementwise(fn, addrs, size, itemsize, tail_args):
    """fn(*addrs, n, *tail_args) over whole arrays (None: an absent slot), or over fixed
    chunks: on the C pool from _POOL_MIN_ELEMENTS, else on the kernel threads from
    kernels.BANDWIDTH_MIN_BYTES."""
    nbytes = size * itemsize * sum(p is not None for p in addrs)
    chunk = _CHUNK_BYTES // itemsize
    doubles = [a for a in tail_args if isinstance(a, float)]
    if size >= _POOL_MIN_ELEMENTS and len(doubles) <= 8 and _pool.threads() > 1:
        # the C pool (a region starts in microseconds): from 64K elements, whose square
        # roots and divisions take ~45 us on one core. Integer arguments travel with the
        # pointers, doubles apart (the pool's calling convention, see native/pool.c)
        ints = [a for a in tail_args if not isinstance(a, float)]
        step = max(_POOL_MIN_ELEMENTS // 2, -(-size // 8))
        rows = [[0 if p is None else p + lo * itemsize for p in addrs] +
                [min(step, size - lo)] + ints for lo in range(0, size, step)]
        if _pool.run(fn, rows, doubles):
            return
    if nbytes < _kernels.BANDWIDTH_MIN_BYTES or _kernels._threads <= 1:
        fn(*addrs, size, *tail_args)
        return

    def work(lo, _):
        off = lo * itemsize
        fn(*[None if p is None else p + off for p in addrs], min(chunk, size - lo), *tail_args)

    _kernels.run_tasks(list(range(0, size, chunk)), work, nbytes,
                       min_bytes=_kernels.BANDWIDTH_MIN_BYTES)


def adam(arrays, s):
    """Adam._body on [g, w, m, v] or [g, w, m, v, v_hat] (amsgrad); s = (alpha, c1, c2,
    eps). False when the C kernel does not apply."""
    ptrs = _pointers(arrays) if len(arrays) in (4, 5) else None
    fn = ptrs is not None and _fn("adam", arrays[0].dtype)
    if not fn:
        return False
    if len(ptrs) == 4:
        ptrs.append(None)
    _elementwise(fn, ptrs, arrays[0].size, arrays[0].itemsize, [float(x) for x in s])
    return True


def rmsprop(arrays, s, centered, momentum):
    """RMSprop._body on [g, w, v, (average_gradient if centered), (momentum if momentum)];
    s = (lr, rho, 1 - rho, eps, momentum)."""
    ptrs = _pointers(arrays) if len(arrays) == 3 + bool(centered) + bool(momentum) else None
    fn = ptrs is not None and _fn("rmsprop", arrays[0].dtype)
    if not fn:
        return False
    a = ptrs[3] if centered else None
    m = ptrs[-1] if momentum else None
    _elementwise(fn, ptrs[:3] + [a, m], arrays[0].size, arrays[0].itemsize,
                 [float(x) for x in s])
    return True


def sgd(arrays, s, nesterov):
    """SGD's plain body on [g, w] or its momentum body on [g, w, m]; s = (lr, momentum)."""
    ptrs = _pointers(arrays) if len(arrays) in (2, 3) else None
    fn = ptrs is not None and _fn("sgd", arrays[0].dtype)
    if not fn:
        return False
    if len(ptrs) == 2:
        ptrs.append(None)
    _elementwise(fn, ptrs, arrays[0].size, arrays[0].itemsize,
                 [float(s[0]), float(s[1]), int(bool(nesterov))])
    return True


def weight_decay(w, wd, lr):
    """Optimizer._apply_weight_decay's `w -= (w * wd) * lr` (wd, lr: scalars of w's
    dtype) in place."""
    ptrs = _pointers([w], 0)
    fn = ptrs is not None and _fn("weight_decay", w.dtype)
    if not fn:
        return False
    _elementwise(fn, ptrs, w.size, w.itemsize, [float(wd), float(lr)])
    return True


def simple(name, arrays, s):
    """The body of Adagrad, Adadelta, Adamax, Nadam or Lion (`name`, lower case) on
    [g, w, *slots] (the slots in the order of the optimizer's `_slot_groups`), with its
    scalars `s` in the order its `_compute_scalars` gives them."""
    ptrs = _pointers(arrays) if len(arrays) == _SIMPLE[name] else None
    fn = ptrs is not None and len(s) == len(_ARGS[name]) - len(arrays) - 1 and \
        _fn(name, arrays[0].dtype)
    if not fn:
        return False
    _elementwise(fn, ptrs, arrays[0].size, arrays[0].itemsize, [float(x) for x in s])
    return True


def adam_sparse(w, m, v, groups, values, s):
    """Adam's sparse update (Adam._sparse_kernel) of `w` and its slots m, v from the rows
    `values` of the ids grouped by `groups` (optimizer.row_groups: order, first, uniq): each
    looked-up row's summed rows and summed squares (summed_rows' numbers) are made in the
    pass, every other row of m and v decays; then every row's step."""
    if type(w) is not np.ndarray or w.ndim < 1:
        return False
    ptrs = _pointers([w, m, v], 0)
    fn = ptrs is not None and _fn("adam_sparse", w.dtype)
    if not fn:
        return False
    order, first, uniq = groups
    n_ids = order.size
    nrows, tail = w.shape[0], w.shape[1:]
    if not _native.usable(values) or values.dtype != w.dtype or \
            values.shape != (n_ids,) + tail or not all(
                type(a) is np.ndarray and a.dtype == np.int64 and a.ndim == 1 and
                a.flags.c_contiguous and a.flags.aligned for a in (order, first, uniq)) or \
            first.size != uniq.size or uniq.size > n_ids:
        return False
    if uniq.size and (uniq[0] < 0 or uniq[-1] >= nrows):
        return False   # the NumPy path's handling of such ids stays theirs
    bounds = np.append(first, n_ids)   # the C reads first[k + 1] for the last group too
    row = w.size // nrows if nrows else 0
    ids = [_native.addr(uniq), _native.addr(bounds)]
    rows = [_native.addr(order), n_ids, _native.addr(values)]
    scalars = [float(x) for x in s]

    def run(r0, r1, k0, k1, scratch):
        gs, sq = scratch
        fn(*ptrs, r0, r1, row, *ids, k0, k1, *rows, _native.addr(gs), _native.addr(sq), *scalars)

    nbytes = 3 * w.nbytes
    step = max(1, (_CHUNK_BYTES // w.itemsize) // max(row, 1))
    cuts = list(range(0, nrows, step)) + [nrows]
    if w.size >= _POOL_MIN_ELEMENTS and row and len(cuts) > 2 and _pool.threads() > 1:
        # the C pool: each chunk of rows one task with its own two scratch rows
        ks = np.searchsorted(uniq, cuts).tolist()
        scratch = np.empty((len(cuts) - 1, 2, row), w.dtype)
        tasks = [[*ptrs, cuts[t], cuts[t + 1], row, *ids, ks[t], ks[t + 1], *rows,
                  _native.addr(scratch[t, 0]), _native.addr(scratch[t, 1])]
                 for t in range(len(cuts) - 1)]
        if _pool.run(fn, tasks, scalars):
            return True
    if nbytes < _kernels.BANDWIDTH_MIN_BYTES or _kernels._threads <= 1 or row == 0:
        run(0, nrows, 0, uniq.size, _kernels.thread_scratch(max(row, 1), w.dtype, 2))
        return True
    ks = np.searchsorted(uniq, cuts).tolist()
    _kernels.run_tasks(list(range(len(cuts) - 1)),
                       lambda t, scratch: run(cuts[t], cuts[t + 1], ks[t], ks[t + 1], scratch),
                       nbytes, lambda: _kernels.thread_scratch(row, w.dtype, 2),
                       min_bytes=_kernels.BANDWIDTH_MIN_BYTES)
    return True


def may_leave_running():
    """Whether the graph executor allows the update running now to leave its region
    running (native_pool.start)."""
    return _pool.allow_start[0] == threading.get_ident()


class UpdatePlan:
    """A whole optimizer step's dense updates by one C kernel as one region of the C pool,
    its task rows built once: each variable's pointers (gradient, weight, slots), a big
    variable cut into parts (at least one per thread, ~32K elements each), every other
    variable one task. Each step only writes the gradients' addresses into the rows
    (`run`), where the per-variable path checks and lays out every array again and runs a
    region (or a call) per variable, and gathers the small ones into one flat array first:
    the seed MLP's four RMSprop updates cost ~210 us inside `fit` that way, ~85 of them
    Python.

    Valid while every weight and slot is still the array it was built over (checked by
    identity each step); elementwise updates of distinct variables, so the numbers are the
    per-variable path's, bit for bit."""

    __slots__ = ("fn", "dt", "positions", "arrays", "owners", "roots", "rows", "grad_of",
                 "tail_ints")

    @classmethod
    def make(cls, name, dt, entries, tail):
        """entries: [(position of the variable's gradient, [w, *slots or None], [the
        variables holding them])] of arrays of dtype dt; tail: the kernel's arguments
        after n (ints and doubles), whose ints go into the rows. None where the kernel,
        the pool or the arrays do not allow it."""
        fn = _fn(name, dt) if _pool.available() else None
        n_ptr = 1 + len(entries[0][1]) if entries else 0
        if not fn or not entries or n_ptr + 1 + len(tail) != len(_ARGS[name]) or \
                sum(isinstance(a, float) for a in tail) > 8:   # the pool passes 8 doubles
            return None
        spans = []
        for _, arrays, _ in entries:
            w = arrays[0]
            for a in arrays:
                if a is None:
                    continue
                if type(a) is not np.ndarray or a.dtype != dt or a.shape != w.shape or \
                        _native.writable_addr(a) is None or not a.flags.aligned:
                    return None
                if a.size:
                    spans.append((_native.addr(a), a.nbytes))
        spans.sort()
        if any(s0 + n0 > s1 for (s0, n0), (s1, _) in zip(spans, spans[1:])):
            return None   # two of them overlap: the per-variable path decides
        self = cls()
        self.fn, self.dt = fn, dt
        self.positions = [e[0] for e in entries]
        self.arrays = [e[1] for e in entries]
        self.owners = [e[2] for e in entries]
        # the memory the weights and slots live in: a gradient living there too (a weight
        # passed as another's gradient) goes to the per-variable path, whose order it needs
        self.roots = {id(_pool.root(a)) for arrays in self.arrays for a in arrays
                      if a is not None}
        self.tail_ints = [a for a in tail if not isinstance(a, float)]
        parts = max(1, _pool.threads())
        big, small = [], []
        for k, arrays in enumerate(self.arrays):
            size = arrays[0].size
            # a big variable in parts of >= _PART_ELEMENTS: a region left running (`run`
            # with defer) is shared by its caller, when it joins, part by part
            n = max(parts, min(_MAX_PARTS, size // _PART_ELEMENTS)) \
                if size >= _POOL_MIN_ELEMENTS else 1
            cuts = [size * t // n for t in range(n + 1)]
            for lo, hi in zip(cuts, cuts[1:]):
                if hi > lo:
                    (big if n > 1 else small).append((k, lo, hi))
        # the parts of big variables first: both threads start on them, the small ones fill
        # in after. Row r reads the gradient of variable grad_of[r][0] from byte grad_of[r][1]
        self.grad_of = [(k, lo * dt.itemsize) for k, lo, _ in big + small]
        rows = [[0] + [0 if a is None else _native.addr(a) + off for a in self.arrays[k]] +
                [hi - lo] + self.tail_ints
                for (k, off), (_, lo, hi) in zip(self.grad_of, big + small)]
        self.rows = np.array(rows, np.int64).reshape(len(rows), n_ptr + 1 +
                                                     len(self.tail_ints))
        return self

    def valid(self, tail):
        """Whether the variables still hold the arrays the rows point into, and the kernel's
        integer arguments in `tail` are those in the rows (SGD's nesterov)."""
        if [a for a in tail if not isinstance(a, float)] != self.tail_ints:
            return False
        for owners, arrays in zip(self.owners, self.arrays):
            for v, a in zip(owners, arrays):
                if v is not None and variable_buffer(v) is not a:
                    return False
        return True

    def run(self, grads, tail, defer=False):
        """The updates with these gradients (the step's list; the plan reads its positions)
        and the kernel's tail arguments (whose integers `valid` checked); False, having run
        nothing, where a gradient is not a C-contiguous, aligned array of the weight's dtype
        and shape, apart from the weights and slots. `defer`: the region is left running on
        the pool's helpers (native_pool.start), its caller to join it before anything reads
        the weights, slots or gradients."""
        if _pool._pending[0] is not None:
            _pool.join()   # the rows are about to change
        dt = self.dt
        addrs = []
        roots = self.roots
        for p, arrays in zip(self.positions, self.arrays):
            g = grads[p]
            if type(g) is not np.ndarray or (g.dtype is not dt and g.dtype != dt) or \
                    g.shape != arrays[0].shape:
                return False
            a = _native.writable_addr(g)   # C-contiguous and writeable, else None
            if a is None:
                if not g.flags.c_contiguous:
                    return False
                a = g.__array_interface__["data"][0]   # a read-only gradient
            if a % g.itemsize or id(_pool.root(g)) in roots:   # misaligned; aliasing a weight
                return False
            addrs.append(a)
        if not len(self.rows):   # nothing but empty variables
            return True
        rows = self.rows
        if len(rows) <= 4:   # a few rows: item by item beats building a column
            for r, (k, off) in enumerate(self.grad_of):
                rows[r, 0] = addrs[k] + off
        else:
            rows[:, 0] = [addrs[k] + off for k, off in self.grad_of]
        doubles = [a for a in tail if isinstance(a, float)]
        if defer:
            gs = [grads[p] for p in self.positions]
            return _pool.start(self.fn, rows, doubles,
                               self.roots.union([id(_pool.root(g)) for g in gs]), gs)
        return _pool.run(self.fn, rows, doubles)
