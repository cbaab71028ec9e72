"""Native row kernels (native/rows.c) for softmax and layer normalization over the last axis
of a 2-D C-contiguous float32/float64 array, their gradients, and dropout's keep mask (its
random bits drawn in the same pass). Each function returns
False (having written nothing) when the native library cannot be had or the arrays are not
the kind it takes; the caller then runs its NumPy twin (tenfold/ops/fused_ops.py).

The sizes the C code uses all come from the arrays' shapes, checked here before each call.
Large arrays are cut into fixed blocks of rows (as the twins' `_row_blocks`) shared out to
the kernel threads; the layer norm gradient's per-column sums are kept per block and added
in block order, so no result depends on the thread count.

rows.c uses vectors of the machine's width (64 bytes with AVX-512, 32 with AVX, else 16),
with the same results on each (the sums' lanes are fixed); the softmax runs natively only
on an AVX-512 build (narrower, its polynomial exp is slower than NumPy's) and for the
shapes `softmax_taken` names, the other kernels on any build.

In-process A/B (bench/bench_rows_native.py: the kernels as the ops call them), one thread
(TENFOLD_KERNEL_THREADS=1, OPENBLAS_NUM_THREADS=1), process-time medians of 41 alternating
runs, the shared 2-core machine (AVX-512) under load 1-2; NumPy twin -> native, ms:
  softmax (64, 2, 64, 64) float32          0.80  -> 0.69
  softmax gradient (64, 2, 64, 64)         0.82  -> 0.41    float64 1.84 -> 0.89
  layer norm (64, 64, 32)                  0.41  -> 0.17    float64 0.57 -> 0.14
  layer norm gradient (64, 64, 32)         0.63  -> 0.27    float64 1.12 -> 0.24
  dropout mask (64, 64, 32), rate 0.1      0.17  -> 0.15    (the random bits take most)
  softmax (64, 10) / (64, 2)               0.018 -> 0.013 / 0.016 -> 0.012
The softmax's exponentials take about half of its time (as NumPy's own exp pass does).
Taking a group's 8 row maxima first and then its exponentials (independent rows per phase,
so their latency chains overlap; the same operations per row), the C function alone, one
thread, process-time medians of 21 alternating runs: (8192, 64) 0.72 -> 0.68 ms,
(4096, 100) 0.89 -> 0.71, (512, 256) and (64, 10) unchanged.
"""
import ctypes

import numpy as np

from tenfold.backend import kernels as _kernels
from tenfold.backend import native
from tenfold.backend import native_pool as _pool

_FAMILY = "rows"
_BLOCK_ELEMS = 1 << 15  # as fused_ops._BLOCK_ELEMS: a block's rows stay in L2
_P = ctypes.c_void_p
_ARGTYPES = {
    "softmax_rows": [_P, _P, native.i64, native.i64],
    "softmax_grad_rows": [_P, _P, _P, native.i64, native.i64],
    "layer_norm_rows": [_P, _P, _P, _P, native.i64, native.i64, native.f64],
    "layer_norm_grad_rows": [_P, _P, _P, _P, _P, _P, native.i64, native.i64, native.i64,
                             native.f64],
    "dropout_mask": [_P, native.i64, native.i64, native.i64, native.i64, native.f64],
    "argmax_match": [_P, _P, _P, native.i64, native.i64, native.i64],
}
_fns = {}  # (library, name, dtype) -> the ctypes function, its argtypes set once
_width = {}  # id(library) -> the machine vector bytes its build uses (rows.c: VB)


def _lib(need=16):
    """The loaded rows library, or None (TENFOLD_NATIVE=0, no compiler, or a build whose
    vectors are narrower than `need` bytes: rows_vector_bytes in rows.c)."""
    lib = native.load(_FAMILY)
    if lib is None:
        return None
    width = _width.get(id(lib))
    if width is None:
        fn = lib.rows_vector_bytes
        fn.argtypes, fn.restype = [], ctypes.c_int
        width = _width[id(lib)] = fn()
    return lib if width >= need else None


def _fn(name, dtype, need=16):
    if _lib(need) is None:
        return None
    return native.kernel(_FAMILY, name, dtype, _ARGTYPES[name])


def _block_rows(cols):
    return max(1, _BLOCK_ELEMS // max(cols, 1))


def _one_call(rows, cols, nbytes):
    """Whether the rows go to C in one call (small arrays: no thread would pay)."""
    return rows <= _block_rows(cols) or nbytes < _kernels.BANDWIDTH_MIN_BYTES


_POOL_MIN_ELEMS = 1 << 16   # ~30-60 us of a row kernel on one core


def _run(fn, rows, cols, nbytes, args):
    """fn(*ints, *doubles) with (ints, doubles) = args(lo, hi) the call for rows [lo, hi):
    one call for small arrays, else fixed blocks of rows (the same cut either way, so the
    results are those of one call: blocks write disjoint rows, and per-block sums are
    indexed by block) run on the C pool (native_pool: a region starts in microseconds, so
    the Transformer's (4096, 32) layer norms gain) or, where it cannot be had, from
    kernels.BANDWIDTH_MIN_BYTES on the kernel threads."""
    step = _block_rows(cols)
    blocks = [(lo, min(rows, lo + step)) for lo in range(0, rows, step)]

    def call(lo, hi):
        ints, doubles = args(lo, hi)
        fn(*ints, *doubles)

    if len(blocks) > 1 and rows * cols >= _POOL_MIN_ELEMS and _pool.threads() > 1:
        calls = [args(*b) for b in blocks]
        if _pool.run(fn, [c[0] for c in calls], calls[0][1]):
            return
    if _one_call(rows, cols, nbytes):
        call(0, rows)
    else:
        _kernels.run_tasks(blocks, lambda b, _: call(*b), nbytes,
                           min_bytes=_kernels.BANDWIDTH_MIN_BYTES)


_DTYPES = frozenset((np.dtype(np.float32), np.dtype(np.float64)))  # native byte order only


def _rows_ok(*arrays):
    """2-D arrays of one shape and dtype, float32/float64, C-contiguous and aligned (what
    native.usable checks, written out: small softmaxes run every step, a few us each)."""
    a0 = arrays[0]
    if type(a0) is not np.ndarray or a0.ndim != 2 or a0.dtype not in _DTYPES:
        return False
    shape, dt = a0.shape, a0.dtype
    for a in arrays:
        if type(a) is not np.ndarray or a.shape != shape or a.dtype != dt:
            return False
        f = a.flags
        if not (f.c_contiguous and f.aligned):
            return False
    return True


def softmax_taken(shape, dtype):
    """Whether `softmax` runs natively for a (rows, cols) array of `dtype` (where the library
    and an AVX-512 build are had; fused_ops.softmax_rows asks `softmax_narrow` first, which
    takes float32 rows of <= NARROW_MAX). Its fixed cost per row (~90 ns: a whole vector's
    exponentials however short the row, the row's max and sum across the lanes) loses to
    the twin's passes over whole blocks on narrow rows; float64's degree-13 polynomial
    loses to NumPy's exp (ms, twin -> native, one thread, float32 unless said): (64, 10)
    0.031 -> 0.018; (16, 64) 0.025 -> 0.010; (8192, 64) 0.83 -> 0.75; (512, 256) 0.22 ->
    0.17; (64, 1000) 0.115 -> 0.090; but (4096, 10) 0.19 -> 0.47; (2048, 2) 0.035 -> 0.21;
    (4096, 32) 0.20 -> 0.22; (1024, 100) 0.20 -> 0.25; float64 (8192, 64) 1.9 -> 2.9."""
    rows, cols = shape
    if rows * cols <= _SMALL:
        return True  # the twin's fixed cost (several NumPy calls) dominates
    return dtype == np.float32 and cols >= 64 and (cols % 16 == 0 or cols >= 256)


_SMALL = 2048


def softmax(x2, out2):
    """out2 = softmax of the rows of x2 (out2 may be x2 itself, else must not overlap it),
    for the shapes `softmax_taken` says."""
    if not _rows_ok(x2, out2) or (out2 is not x2 and np.may_share_memory(x2, out2)) or \
            not softmax_taken(x2.shape, x2.dtype):
        return False
    fn = _fn("softmax_rows", x2.dtype, need=64)  # an AVX-512 build: see rows_vector_bytes
    if fn is None:
        return False
    rows, cols = x2.shape
    px, po, rb = native.addr(x2), native.addr(out2), cols * x2.itemsize
    _run(fn, rows, cols, 2 * x2.nbytes,
         lambda lo, hi: ([px + lo * rb, po + lo * rb, hi - lo, cols], []))
    return True


def softmax_grad(g2, y2, out):
    """out = y2 * (g2 - sum(g2 * y2)) per row (out a fresh array)."""
    if not _rows_ok(g2, y2, out) or np.may_share_memory(out, g2) or \
            np.may_share_memory(out, y2):
        return False
    fn = _fn("softmax_grad_rows", g2.dtype)
    if fn is None:
        return False
    rows, cols = g2.shape
    pg, py, po, rb = native.addr(g2), native.addr(y2), native.addr(out), cols * g2.itemsize
    _run(fn, rows, cols, 3 * g2.nbytes,
         lambda lo, hi: ([pg + lo * rb, py + lo * rb, po + lo * rb, hi - lo, cols], []))
    return True


def _vector_ok(v, x2):
    return type(v) is np.ndarray and v.shape == (x2.shape[1],) and native.usable(x2, v)


def layer_norm(x2, gamma, beta, epsilon, out):
    """out = (x2 - mean) / sqrt(var + epsilon) * gamma + beta over each row (out fresh;
    gamma and beta of shape (cols,) in x2's dtype)."""
    if not _rows_ok(x2, out) or x2.shape[1] < 1 or not _vector_ok(gamma, x2) or \
            not _vector_ok(beta, x2) or np.may_share_memory(out, x2):
        return False
    fn = _fn("layer_norm_rows", x2.dtype)
    if fn is None:
        return False
    rows, cols = x2.shape
    eps = float(x2.dtype.type(epsilon))  # the twin adds epsilon in x's dtype
    pg, pb = native.addr(gamma), native.addr(beta)
    px, po, rb = native.addr(x2), native.addr(out), cols * x2.itemsize
    _run(fn, rows, cols, 2 * x2.nbytes,
         lambda lo, hi: ([px + lo * rb, pg, pb, po + lo * rb, hi - lo, cols], [eps]))
    return True


def layer_norm_grad(g2, x2, gamma, epsilon, dx, dgamma, dbeta):
    """Layer normalization's backward: dx (rows, cols) and the column sums dgamma = sum of
    g * xhat, dbeta = sum of g (each (cols,)), written into the given fresh arrays."""
    if not _rows_ok(g2, x2, dx) or x2.shape[1] < 1 or not _vector_ok(gamma, x2) or \
            np.may_share_memory(dx, g2) or np.may_share_memory(dx, x2):
        return False
    rows, cols = x2.shape
    if dgamma.shape != (cols,) or dbeta.shape != (cols,):
        return False
    fn = _fn("layer_norm_grad_rows", x2.dtype)
    if fn is None:
        return False
    step = _block_rows(cols)
    nblocks = -(-rows // step)
    parts = np.empty((2, nblocks, cols))  # float64 per-block sums: dgamma, dbeta
    eps = float(x2.dtype.type(epsilon))
    pgam = native.addr(gamma)

    pg, px, pd, rb = native.addr(g2), native.addr(x2), native.addr(dx), cols * x2.itemsize
    pp0, pp1, pb = native.addr(parts[0]), native.addr(parts[1]), cols * 8

    def args(lo, hi):
        k = lo // step  # lo is a multiple of step: block k's partial rows
        return ([pg + lo * rb, px + lo * rb, pgam, pd + lo * rb, pp0 + k * pb, pp1 + k * pb,
                 hi - lo, cols, step], [eps])

    _run(fn, rows, cols, 3 * x2.nbytes, args)
    dgamma[...] = parts[0].sum(axis=0)  # block order: the same on any thread count
    dbeta[...] = parts[1].sum(axis=0)
    return True


def dropout_mask(out, key, per, threshold, scale):
    """Dropout's scaled keep mask in one pass (rows.c's dropout_mask): out = scale where the
    element's random draw >= threshold, else 0, the draws SplitMix64's stream from the state
    `key` (a uint64), `per` (4 or 2) draws of 64 / per bits from each of its outputs
    (random_ops._splitmix_draws is the NumPy twin). out: float32/float64, C-contiguous."""
    if per not in (2, 4) or not native.usable(out) or \
            not 0 <= int(threshold) < 1 << (64 // per):
        return False
    fn = _fn("dropout_mask", out.dtype, need=0)  # any build (AVX-512 blocks, else one by one)
    if fn is None:
        return False
    fn(native.addr(out), out.size, int(np.uint64(key).view(np.int64)), per, int(threshold),
       float(scale))
    return True


# ------------------------------------------------------------------------------------------
# Narrow rows (rows.c's *_narrow_f32, AVX-512 builds): softmax, the softmax cross-entropies
# and their logits gradients over a classifier's (batch, classes) float32 logits, classes <=
# NARROW_MAX, 16 rows per vector (one row per lane). The row kernels above pay ~60-90 ns per
# row however short it is; the twins several NumPy calls per op. The ops as they call them
# (/work/scratch/r9/narrow_time.py: in-process, best of 5 x 1000 calls, wall clock, the
# 2-core machine; before -> after, us):
#   (128, 10)   softmax 13.0 -> 6.4   xent 21.9 -> 7.0    its gradient 19.1 -> 7.8
#               sparse xent 23.8 -> 5.4   its gradient 19.9 -> 6.6
#   (64, 2)     softmax 9.6 -> 5.6    xent 12.3 -> 6.2    sparse xent 15.4 -> 4.9
#   (4096, 10)  softmax 62.5 -> 36.4  xent 414 -> 36.1    its gradient 113 -> 39.6
#   (4096, 32)  softmax 132 -> 72.4   xent 642 -> 63.6    sparse xent 563 -> 58.8
# (the rest of the small cases is Python: the checks and the ctypes call). In the seed MLP's
# fit (in-place per-node clocks, 400 steps) the three (128, 10) nodes took 101 us -> 39.

NARROW_MAX = 32
_F32 = np.dtype(np.float32)
_I64 = np.dtype(np.int64)
_NARROW_ARGS = {  # (argtypes, restype)
    "softmax_narrow": ([_P, _P, native.i64, native.i64], None),
    "xent_narrow": ([_P, _P, _P, native.i64, native.i64], None),
    "xent_grad_narrow": ([_P, _P, _P, _P, native.i64, native.i64], None),
    "sparse_xent_narrow": ([_P, _P, _P, native.i64, native.i64], native.i64),
    "sparse_xent_grad_narrow": ([_P, _P, _P, _P, native.i64, native.i64], native.i64),
    "xent_all_narrow": ([_P, _P, _P, _P, _P, _P, native.i64, native.i64], None),
    "sparse_xent_all_narrow": ([_P, _P, _P, _P, _P, _P, native.i64, native.i64], native.i64),
}
_narrow = {}  # (id(library), name) -> the ctypes function, or False (no AVX-512 build)


def _narrow_fn(name):
    """rows.c's `name`_f32, or None (no library, or a build without AVX-512). These run
    every step on a few hundred elements, so the lookup is one dict access."""
    lib = native.load(_FAMILY)
    if lib is None:
        return None
    key = (id(lib), name)
    fn = _narrow.get(key)
    if fn is None:
        probe = lib.narrow_rows_simd
        probe.argtypes, probe.restype = [], ctypes.c_int
        argtypes, restype = _NARROW_ARGS[name]
        fn = _narrow[key] = probe() == 1 and \
            native.kernel(_FAMILY, name, _F32, argtypes, restype) or False
    return fn or None


def narrow_taken(x2):
    """Whether the narrow kernels take the 2-D logits x2: float32, C-contiguous and aligned,
    1 <= cols <= NARROW_MAX (the library is asked by each call)."""
    if type(x2) is not np.ndarray or x2.ndim != 2 or x2.dtype != _F32:
        return False
    f = x2.flags
    return f.c_contiguous and f.aligned and 1 <= x2.shape[1] <= NARROW_MAX and x2.shape[0] > 0


def _f32_like(a, shape):
    return type(a) is np.ndarray and a.shape == shape and a.dtype == _F32 and \
        a.flags.c_contiguous and a.flags.aligned


def _narrow_run(fn, x2, nbytes, args):
    """fn over x2's rows: one call, or fixed blocks of rows on the C pool / kernel threads
    for large arrays (_run); args(lo, hi) gives the pointers and sizes of rows [lo, hi)."""
    rows, cols = x2.shape
    if rows * cols < _POOL_MIN_ELEMS and rows <= _block_rows(cols):
        fn(*args(0, rows), rows, cols)    # one call (a classifier's batch): no block list
        return
    _run(fn, rows, cols, nbytes, lambda lo, hi: (args(lo, hi) + [hi - lo, cols], []))


def _narrow_call(name, x2, arrays, nbytes, labels=None):
    """rows.c's `name` over x2's rows on `arrays` (each pointer advanced by the array's bytes
    per row, strides[0]; a None array goes as a null pointer: an output not wanted); the
    sparse kernels' `labels` are checked (False: one is outside [0, cols), nothing written).
    False where the kernel cannot be had."""
    fn = _narrow_fn(name)
    if fn is None:
        return False
    ptrs = [(0, 0) if a is None else (native.addr(a), a.strides[0]) for a in arrays]

    def args(lo, hi):
        return [p + lo * step if p else 0 for p, step in ptrs]

    if labels is not None:
        return _sparse_run(fn, labels, x2, nbytes, args)
    _narrow_run(fn, x2, nbytes, args)
    return True


def softmax_narrow(x2, out2):
    """out2 = softmax of x2's rows (out2 may be x2 itself, else not overlapping it): True,
    or False (nothing written) where the narrow kernel does not take them."""
    if not narrow_taken(x2) or not _f32_like(out2, x2.shape) or \
            (out2 is not x2 and np.may_share_memory(x2, out2)):
        return False
    return _narrow_call("softmax_narrow", x2, [x2, out2], 2 * x2.nbytes)


def xent(labels2, x2, loss):
    """loss (rows,) = softmax cross-entropy of x2's rows against the labels' rows (both
    (rows, cols) float32): True, or False where the narrow kernel does not take them."""
    if not narrow_taken(x2) or not _f32_like(labels2, x2.shape) or \
            not _f32_like(loss, x2.shape[:1]):
        return False
    return _narrow_call("xent_narrow", x2, [labels2, x2, loss], 2 * x2.nbytes)


def xent_grad(g, labels2, x2, out):
    """out = g[:, None] * (softmax(x2) * rowsum(labels2) - labels2) (g (rows,), out fresh):
    True, or False where the narrow kernel does not take them."""
    if not narrow_taken(x2) or not _f32_like(labels2, x2.shape) or \
            not _f32_like(g, x2.shape[:1]) or not _f32_like(out, x2.shape):
        return False
    return _narrow_call("xent_grad_narrow", x2, [g, labels2, x2, out], 3 * x2.nbytes)


def xent_all(labels2, x2, g, y, loss, dx):
    """softmax_narrow's y, xent's loss and xent_grad's dx of the same logits in one pass,
    each equal to its own kernel's; y, loss or dx None: not made (g is read for dx only).
    True, or False (nothing written) where the narrow kernel does not take them."""
    if not narrow_taken(x2) or not _f32_like(labels2, x2.shape) or \
            not _outputs_ok(x2, g, y, loss, dx):
        return False
    return _narrow_call("xent_all_narrow", x2,
                        [labels2, x2, g if dx is not None else None, y, loss, dx],
                        4 * x2.nbytes)


def sparse_xent_all(labels, x2, g, y, loss, dx):
    """xent_all for class-index labels (int64 (rows,)): sparse_xent's loss and
    sparse_xent_grad's dx; False (nothing written) where the kernel does not take them or a
    label is outside [0, cols) (the caller's twin then says which)."""
    if not narrow_taken(x2) or not _labels_ok(labels, x2) or \
            not _outputs_ok(x2, g, y, loss, dx):
        return False
    return _narrow_call("sparse_xent_all_narrow", x2,
                        [labels, x2, g if dx is not None else None, y, loss, dx],
                        4 * x2.nbytes, labels)


def _outputs_ok(x2, g, y, loss, dx):
    rows = x2.shape[:1]
    return (y is None or _f32_like(y, x2.shape)) and \
        (loss is None or _f32_like(loss, rows)) and \
        (dx is None or (_f32_like(dx, x2.shape) and _f32_like(g, rows)))


def _labels_ok(labels, x2):
    return type(labels) is np.ndarray and labels.shape == x2.shape[:1] and \
        labels.dtype == _I64 and labels.flags.c_contiguous and labels.flags.aligned


def _sparse_run(fn, labels, x2, nbytes, args):
    """As _narrow_run for the sparse kernels, which check the labels (each in [0, cols))
    and write nothing when one is not: False then. Large arrays are checked here first
    (their blocks' answers are not collected)."""
    rows, cols = x2.shape
    if not _one_call(rows, cols, nbytes) or rows * cols >= _POOL_MIN_ELEMS:
        if labels.min() < 0 or labels.max() >= cols:
            return False
        _narrow_run(fn, x2, nbytes, args)
        return True
    return fn(*args(0, rows), rows, cols) == 0


def sparse_xent(labels, x2, loss):
    """loss (rows,) = -log_softmax(x2)[r, labels[r]] (labels int64 (rows,)): True, or False
    (nothing written) where the narrow kernel does not take them or a label is outside
    [0, cols) (the caller's twin then says which)."""
    if not narrow_taken(x2) or not _labels_ok(labels, x2) or \
            not _f32_like(loss, x2.shape[:1]):
        return False
    return _narrow_call("sparse_xent_narrow", x2, [labels, x2, loss], x2.nbytes, labels)


def sparse_xent_grad(g, labels, x2, out):
    """out = (softmax(x2) - onehot(labels)) * g[:, None] (g (rows,), out fresh): True, or
    False as sparse_xent."""
    if not narrow_taken(x2) or not _labels_ok(labels, x2) or \
            not _f32_like(g, x2.shape[:1]) or not _f32_like(out, x2.shape):
        return False
    return _narrow_call("sparse_xent_grad_narrow", x2, [g, labels, x2, out], 2 * x2.nbytes,
                        labels)


def argmax_match(a, b2, out):
    """out (rows,) = 1 where argmax(b2[r]) equals argmax(a[r]) (a (rows, cols') one-hot
    labels) or a[r] (a (rows,) class indices), else 0 (NaN never wins an argmax, ties go to
    the first index), all arrays of b2's float dtype: True, or False (nothing written) where
    the kernel does not take them. One call: a classifier's batch is a few thousand values."""
    if not _rows_ok(b2) or type(a) is not np.ndarray or type(out) is not np.ndarray or \
            out.shape != b2.shape[:1] or out.dtype != b2.dtype or a.dtype != b2.dtype or \
            not (a.ndim == 1 and a.shape == out.shape or
                 a.ndim == 2 and a.shape[0] == b2.shape[0] and a.shape[1] > 0) or \
            not (a.flags.c_contiguous and a.flags.aligned and out.flags.c_contiguous) or \
            b2.shape[1] == 0:
        return False
    fn = _fn("argmax_match", b2.dtype)
    if fn is None:
        return False
    fn(native.addr(a), native.addr(b2), native.addr(out), b2.shape[0],
       a.shape[1] if a.ndim == 2 else 0, b2.shape[1])
    return True
