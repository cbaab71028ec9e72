"""Native row kernels (native/rows.c) for softmax and layer normalization over the last axis
of a 2-D C-contiguous float32/float64 array, their gradients, and dropout's keep mask from
random bits. Each function returns
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
    "keep_mask_u16": [_P, _P, native.i64, native.i64, native.f64],
    "keep_mask_u32": [_P, _P, native.i64, native.i64, native.f64],
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
    and an AVX-512 build are had). Its fixed cost per row (~90 ns: a whole vector's
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


_BITS = {np.dtype(np.uint16): "keep_mask_u16", np.dtype(np.uint32): "keep_mask_u32"}


def keep_mask(bits, threshold, scale, out):
    """Dropout's mask from random bits in one pass: out = scale where bits >= threshold,
    else 0 (bits uint16 / uint32, C-contiguous, as many as out; threshold in their range;
    scale a value of out's dtype)."""
    name = _BITS.get(bits.dtype)
    if name is None or type(bits) is not np.ndarray or not bits.flags.c_contiguous or \
            not bits.flags.aligned or bits.size != out.size or not native.usable(out) or \
            not 0 <= int(threshold) <= np.iinfo(bits.dtype).max:
        return False
    fn = _fn(name, out.dtype, need=0)  # plain loops: any build
    if fn is None:
        return False
    fn(native.addr(bits), native.addr(out), out.size, int(threshold), float(scale))
    return True
