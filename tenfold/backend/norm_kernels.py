"""Training-mode BatchNormalization kernels over NumPy arrays, channels-last (normalised over
every axis but the last), optionally with the ReLU (and a residual add) that follows folded
in (the fused primitives of ops/fused_ops.py).

Where the native library (native/batch_norm.c) builds, C-contiguous float32/float64 arrays
go to it (see the end of this file): the same passes as below, each one C loop, the sums in
double. The NumPy code below is its twin (TENFOLD_NATIVE=0, other arrays).

How the NumPy twin is made fast (single-thread process-time medians, float32, inputs rotated over
300 MB so each call starts from memory: bench/bench_batch_norm.py;
old = the previous kernels, relu / relu_grad counted separately there):
- a "wide" view: x is (rows, C) with C as small as 16, where NumPy's broadcasting loops run
  16 elements at a time (x - mean: 1.01 ms for 4 MB); viewed as (rows / k, k * C) with the
  per-channel vectors tiled k times, each loop runs ~1024 elements (0.57 ms), and the sums
  of squares are a wide `einsum` (0.21 ms vs 0.64 ms narrow); per-channel sums are the wide
  column sums folded back; column sums are GEMVs with a vector of ones;
- in-place ops against a full tiled block rather than a broadcast row, and a copy then an
  in-place op rather than one op into a third array (measured in cache, see the helpers);
- the rows are cut into tasks of about `_TASK_BYTES`, run on the kernel threads
  (kernels.run_tasks, BLAS single-threaded); sums are per task, added in task order, so
  results do not depend on the thread count;
- forward above `_CACHED_BYTES`: two passes over memory, one for the moments (each task's
  corrected two-pass moments while its rows are in cache, combined by Chan's update: as
  accurate as the old two-pass kernel or better), one that writes y = x * scale + shift
  (shift = beta - mean * scale, as Keras; + residual, then clamped) block by block; the
  first pass runs the last rows first, which the producer of x has just written. Up to
  `_CACHED_BYTES` x stays in cache and three lighter passes (mean, centre + squares, scale)
  do less arithmetic;
- backward: one pass that (masks g by r > 0 and) sums g and g * x, one that writes dx = g *
  a + x * b + c.
(64, 32, 32, 16) [ms]: forward + ReLU 3.39 -> 2.85, backward through ReLU 5.94 -> 3.81,
plain backward 4.80 -> 3.17; (32, 32, 32, 64): 9.18 -> 7.54, 11.48 -> 7.56; (64, 8, 8, 64):
0.59 -> 0.63, 1.13 -> 0.96 (on par single-threaded below 2 MB; both cores help there).
"""
import ctypes

import numpy as np

from tenfold.backend import kernels as _k
from tenfold.backend import native as _native
from tenfold.backend import native_pool as _pool

_WIDE = 1024            # elements per row of the wide view (at most)
_TASK_BYTES = 1 << 19   # rows of x per task: two tasks per core for a 2 MB tensor
_CACHED_BYTES = 2 << 20  # up to this, the forward's passes find x and y in cache (L2: 2 MB)
_layouts = {}
_zero_blocks = {}


def fast_ok(*arrays):
    """Whether these kernels take the arrays: NumPy float32/float64, one dtype."""
    d = arrays[0].dtype
    return all(type(a) is np.ndarray and a.dtype == d for a in arrays) and \
        d in _k.FLOAT_DTYPES and arrays[0].ndim >= 1 and arrays[0].shape[-1] > 0


def _layout(rows, c, itemsize):
    """(k, wide rows, task bounds): k channel vectors per wide row (k divides rows)."""
    key = (rows, c, itemsize)
    got = _layouts.get(key)
    if got is None:
        k = 1
        for d in range(min(max(1, _WIDE // c), rows), 0, -1):
            if rows % d == 0:
                k = d
                break
        w_rows = rows // k
        per = max(1, _TASK_BYTES // (k * c * itemsize))
        bounds = [(lo, min(lo + per, w_rows)) for lo in range(0, w_rows, per)]
        got = _layouts[key] = (k, w_rows, bounds)
    return got


def _run(bounds, work, nbytes, scratch=None):
    """work(lo, hi[, buf]) for each task; scratch: (shape, dtype) of a per-thread buf."""
    if scratch is None:
        _k.run_tasks(bounds, lambda b, _: work(*b), nbytes)
    else:
        _k.run_tasks(bounds, lambda b, buf: work(b[0], b[1], buf), nbytes,
                     lambda: np.empty(scratch[0], scratch[1]))


def _zeros(shape, dt):
    """A read-only block of zeros: NumPy's maximum(a, 0.0) takes a loop that is not
    vectorized, maximum(a, zeros) is (27 vs 12 us per 64K float32 in cache)."""
    key = (shape, dt)
    z = _zero_blocks.get(key)
    if z is None:
        z = _zero_blocks[key] = np.zeros(shape, dt)
        z.flags.writeable = False
    return z


def _wide_vector(v, k, rows, dt):
    """Per-channel vector v tiled along a wide row, and down `rows` rows when that is more than
    one: in-place ops against a full block are faster than against a broadcast row (11 vs 18
    us per 64K float32 in cache; the tile costs 8 us per 64K, once per call)."""
    w = np.tile(np.asarray(v, dt), k)
    if rows <= 1:
        return w[None, :]  # a broadcast row; [:rows] leaves it whole
    full = np.empty((rows, w.size), dt)
    full[...] = w
    return full


def _fold(partials, k, c):
    """Per-channel totals from per-task wide partial sums (task order, then the k tiles)."""
    return partials.sum(axis=0).reshape(k, c).sum(axis=0)


def bn_forward(x, gamma, beta, epsilon, relu=False, residual=None):
    """(y, mean, var): y = x * scale + shift, scale = gamma / sqrt(var + epsilon), shift =
    beta - mean * scale (as Keras and tf.nn.batch_normalization compute it), plus `residual`
    (an array of x's shape) if given, then ReLU if `relu`; mean and var (biased) over every
    axis but the last, as the unfused chain."""
    c = x.shape[-1]
    dt = x.dtype
    x = np.ascontiguousarray(x)
    rows = x.size // c if c else 0
    if residual is not None:
        residual = np.ascontiguousarray(residual, dt)
    fns = _native_fns(dt)
    if fns is not None and _native.usable(x, gamma, beta) and rows > 0 and \
            gamma.shape == (c,) and beta.shape == (c,) and \
            (residual is None or (residual.size == x.size and _native.usable(x, residual))):
        return _native_forward(fns, x, gamma, beta, epsilon, relu, residual, rows, c)
    if rows == 0:
        return np.empty(x.shape, dt), np.full(c, np.nan, dt), np.full(c, np.nan, dt)
    k, w_rows, bounds = _layout(rows, c, dt.itemsize)
    wc = k * c
    per = bounds[0][1] - bounds[0][0]
    xw = x.reshape(w_rows, wc)
    at = {lo: i for i, (lo, _) in enumerate(bounds)}
    t_mean = np.empty((len(bounds), wc), dt)
    t_m2 = np.empty((len(bounds), wc), dt)

    def moments(lo, hi, buf):
        """Each task's moments by the corrected two-pass formula (its rows read from memory
        once): m = sum(x) / n, d = x - m, M2 = sum(d * d) - sum(d)^2 / n, mean = m + sum(d) / n
        (the correction keeps float32 sums' rounding of m out of the variance)."""
        i = at[lo]
        xb = xw[lo:hi]
        cnt = dt.type(hi - lo)
        m = t_mean[i]
        np.matmul(ones[:hi - lo], xb, out=m)
        m /= cnt
        d = buf[:hi - lo]
        np.copyto(d, xb)  # copy + in-place subtract: 42 vs 50 us per 128K (x - m into d)
        np.subtract(d, m, out=d)
        np.einsum("ij,ij->j", d, d, out=t_m2[i])
        r = ones[:hi - lo] @ d
        t_m2[i] -= r * r / cnt
        m += r / cnt

    ones = _k.ones_vector(per, dt)   # column sums as GEMVs
    y = np.empty(x.shape, dt)
    yw = y.reshape(w_rows, wc)
    full = per if len(bounds) > 1 else 1
    small = x.nbytes <= _CACHED_BYTES
    with _k.single_threaded_blas():
        if small:  # in cache: the mean, then x - mean (into y) and its sum of squares
            _run(bounds, lambda lo, hi: np.matmul(ones[:hi - lo], xw[lo:hi],
                                                  out=t_mean[at[lo]]), x.nbytes)
            mean = _fold(t_mean, k, c) / dt.type(rows)
            mean_w = _wide_vector(mean, k, full, dt)

            def centre(lo, hi):
                d = yw[lo:hi]
                np.copyto(d, xw[lo:hi])
                np.subtract(d, mean_w[:hi - lo], out=d)
                np.einsum("ij,ij->j", d, d, out=t_m2[at[lo]])

            _run(bounds, centre, 2 * x.nbytes)
            var = _fold(t_m2, k, c) / dt.type(rows)
        else:  # last rows first: the producer of x has just written them, maybe in cache
            _run(bounds[::-1], moments, x.nbytes, ((per, wc), dt))
            mean, var = _combine(t_mean, t_m2, [hi - lo for lo, hi in bounds], k, c, dt)
    scale = gamma / np.sqrt(var + dt.type(epsilon))
    scale_w = _wide_vector(scale, k, full, dt)
    shift_w = _wide_vector(beta - mean * scale, k, full, dt)
    zeros = _zeros((per, wc), dt)
    sw = None if residual is None else residual.reshape(w_rows, wc)

    def affine(lo, hi):  # y = x * scale + shift (then ReLU) while the rows are in cache
        d = yw[lo:hi]
        np.copyto(d, xw[lo:hi])  # then in place: 31 vs 50 us per 128K (for x - mean)
        np.multiply(d, scale_w[:hi - lo], out=d)
        np.add(d, shift_w[:hi - lo], out=d)
        if sw is not None:
            np.add(d, sw[lo:hi], out=d)
        if relu:
            np.maximum(d, zeros[:hi - lo], out=d)

    _run(bounds, affine, (2 if sw is None else 3) * x.nbytes)
    return y, mean, var


def _combine(t_mean, t_m2, counts, k, c, dt):
    """Per-channel (mean, biased variance) from the moments of groups of rows (Chan et al.'s
    pairwise update, as stable as the two-pass formula): the groups are each task's rows of
    each of the k channel tiles of a wide row."""
    cnt = np.repeat(np.asarray(counts, dt), k)                   # (tasks * k,)
    gm = t_mean.reshape(-1, c)
    n = cnt.sum()
    mean = (cnt @ gm) / n
    d = gm - mean
    m2 = t_m2.reshape(-1, c).sum(axis=0) + cnt @ (d * d)
    return mean, m2 / n


def bn_backward(g, x, r, gamma, mean, var, epsilon, relu=False):
    """[dx | dgamma | dbeta] flattened: the backward of bn_forward given its mean and var;
    with `relu`, g is the gradient of the ReLU's output r (the mask r > 0 is applied here)."""
    c = x.shape[-1]
    dt = x.dtype
    x = np.ascontiguousarray(x)
    g = np.ascontiguousarray(g)
    rows = x.size // c if c else 0
    r = np.ascontiguousarray(r) if relu else None
    fns = _native_fns(dt)
    if fns is not None and rows > 0 and _native.usable(g, x, gamma, mean, var) and \
            g.size == x.size and gamma.shape == mean.shape == var.shape == (c,) and \
            (not relu or (r.size == x.size and _native.usable(x, r))):
        return _native_backward(fns, g, x, r, gamma, mean, var, epsilon, rows, c)
    if rows == 0:
        return np.zeros(2 * c, dt)
    k, w_rows, bounds = _layout(rows, c, dt.itemsize)
    wc = k * c
    per = bounds[0][1] - bounds[0][0]
    xw = x.reshape(w_rows, wc)
    gw = g.reshape(w_rows, wc)
    rw = r.reshape(w_rows, wc) if relu else None
    flat = np.empty(x.size + 2 * c, dt)
    dxw = flat[:x.size].reshape(w_rows, wc)
    part_g = np.empty((len(bounds), wc), dt)
    part_gx = np.empty((len(bounds), wc), dt)
    at = {lo: i for i, (lo, _) in enumerate(bounds)}
    zero = dt.type(0)

    def sums(lo, hi, mask):
        i = at[lo]
        gb = gw[lo:hi]
        if relu:  # the masked gradient goes to dx's rows, read again below; a float mask
            # times g in place beats g times a bool mask (35 vs 50 us per 64K float32)
            m = mask[:hi - lo]
            np.greater(rw[lo:hi], zero, out=m)
            gb = dxw[lo:hi]
            np.copyto(gb, m)
            np.multiply(gb, gw[lo:hi], out=gb)
        np.matmul(ones[:hi - lo], gb, out=part_g[i])
        np.einsum("ij,ij->j", gb, xw[lo:hi], out=part_gx[i])

    ones = _k.ones_vector(per, dt)   # column sums as GEMVs
    # last rows first: the producer of g has just written them, they may still be in cache
    with _k.single_threaded_blas():
        _run(bounds[::-1], sums, (3 if relu else 2) * x.nbytes, ((per, wc), np.bool_))
    t = dt.type
    n = t(rows)
    inv = 1 / np.sqrt(var + t(epsilon))
    dbeta = _fold(part_g, k, c)
    dgamma = inv * (_fold(part_gx, k, c) - mean * dbeta)
    a = gamma * inv
    b = -a * inv * dgamma / n
    cc = -a * dbeta / n - b * mean
    full = per if len(bounds) > 1 else 1
    a_w, b_w, c_w = np.tile(a, k), np.tile(b, k), _wide_vector(cc, k, full, dt)
    if relu:
        a_w = _wide_vector(a, k, full, dt)

    def grad(lo, hi, buf):  # dx = g * a + x * b + c
        d = dxw[lo:hi]
        tmp = buf[:hi - lo]
        np.multiply(xw[lo:hi], b_w, out=tmp)
        if relu:
            np.multiply(d, a_w[:hi - lo], out=d)
        else:
            np.multiply(gw[lo:hi], a_w, out=d)
        np.add(d, tmp, out=d)
        np.add(d, c_w[:hi - lo], out=d)

    _run(bounds, grad, 3 * x.nbytes, ((per, wc), dt))
    flat[x.size:x.size + c] = dgamma
    flat[x.size + c:] = dbeta
    return flat


# ------------------------------------------------------------------------------------------
# native kernels (native/batch_norm.c): the same passes as above, each one C loop over the
# rows, sums in double. Taken for NumPy float32/float64 C-contiguous arrays when the library
# loads (the code above is their twin, and what TENFOLD_NATIVE=0 runs). The rows are cut into
# blocks of about _BLOCK_ELEMS elements (each block's sums in its own slot, combined in block
# order: results do not depend on the thread count); tasks of about _TASK_BYTES of blocks go
# to the kernel threads from _NATIVE_PARALLEL_BYTES on (a hand-off costs ~30 us, more than
# a pass over a smaller tensor in cache; not measured threaded: the 2 shared cores were busy).
# Single thread, process-time medians of >= 9 alternating calls, inputs from memory, float32
# (bench/bench_batch_norm_native.py, a loaded machine: load 5-6 on 2 cores), twin -> native
# [ms], forward + ReLU / forward + residual + ReLU / backward / backward through the ReLU:
#   (64, 32, 32, 16)   3.68 -> 1.93 | 3.98 -> 2.33 | 4.59 -> 2.68 | 6.11 -> 3.71
#   (64, 16, 16, 32)   2.14 -> 1.10 | 2.40 -> 1.29 | 2.67 -> 1.43 | 3.39 -> 1.82
#   (64, 8, 8, 64)     1.32 -> 0.58 | 1.48 -> 0.75 | 1.50 -> 0.81 | 2.22 -> 1.06
#   (32, 32, 32, 32)   3.89 -> 2.25 | 6.40 -> 3.18 | 5.43 -> 3.04 | 6.02 -> 3.60
#   (32, 32, 32, 64)   8.11 -> 4.29 | 9.13 -> 5.13 | 10.41 -> 5.80 | 11.62 -> 7.55
#   (32, 16, 16, 128)  4.37 -> 2.41 | 5.06 -> 2.85 | 5.56 -> 3.08 | 6.30 -> 3.95
#   (32, 8, 8, 256)    2.28 -> 1.16 | 2.76 -> 1.40 | 3.32 -> 1.59 | 3.89 -> 2.03
# Each native pass runs at about the speed of a copy of its arrays (0.8 ms to read 4 MB
# here): the forward reads x twice and writes y, the backward reads g, x (and r) twice.

_BLOCK_ELEMS = 16384
_NATIVE_PARALLEL_BYTES = 1 << 20
_WIDE_C = 256        # BN_WIDE in batch_norm.c: rows of fewer channels are run k at a time
_native_layouts = {}
_native_decl = {}
_P, _I, _D = ctypes.c_void_p, _native.i64, _native.f64
_SIGNATURES = {
    "bn_moments": [_P, _I, _I, _I, _I, _I, _P],
    "bn_stats": [_P, _I, _I, _I, _I, _P, _P, _D, _P, _P, _P, _P],
    "bn_apply": [_P, _P, _P, _P, _P, _I, _I, _I, _I],
    "bn_grad_sums": [_P, _P, _P, _P, _I, _I, _I, _I, _I, _I, _P],
    "bn_grad_coef": [_P, _I, _I, _I, _P, _P, _D, _P, _P, _P, _P, _P],
    "bn_grad_apply": [_P, _P, _P, _P, _P, _P, _P, _P, _I, _I, _I, _I],
}


class _Fns:
    """The ctypes functions of one dtype, their argument types declared once."""

    def __init__(self, lib, sfx):
        for name, argtypes in _SIGNATURES.items():
            fn = getattr(lib, f"{name}_{sfx}")
            fn.argtypes = argtypes
            fn.restype = None
            setattr(self, name[3:], fn)


def _native_fns(dt):
    """The native kernels for dtype dt, or None (no library, TENFOLD_NATIVE=0, other dtype)."""
    lib = _native.load("batch_norm")
    if lib is None or dt not in _k.FLOAT_DTYPES:
        return None
    fns = _native_decl.get((id(lib), dt))
    if fns is None:
        fns = _native_decl[(id(lib), dt)] = _Fns(lib, _native.suffix(dt))
    return fns


def native_ok(*arrays):
    """Whether the native kernels are had for these arrays' dtype (the library loads; the
    callers check fast_ok; bn_forward / bn_backward check the rest, else run the twin)."""
    return _native_fns(arrays[0].dtype) is not None


def _native_layout(rows, c, itemsize):
    """(rows per block, blocks, tasks as (first block, end block), tasks as row ranges): a
    block is a whole number of the C kernels' wide rows where one holds several rows."""
    key = (rows, c, itemsize)
    got = _native_layouts.get(key)
    if got is None:
        k = _WIDE_C // c if c <= _WIDE_C else 1
        blk = max(k, _BLOCK_ELEMS // c // k * k)
        nblk = -(-rows // blk)
        per = max(1, _TASK_BYTES // (blk * c * itemsize))
        tasks = [(b, min(b + per, nblk)) for b in range(0, nblk, per)]
        spans = [(b0 * blk, min(rows, b1 * blk)) for b0, b1 in tasks]
        got = _native_layouts[key] = (blk, nblk, tasks, spans)
    return got


def _each(fn, tasks, args, nbytes):
    """fn(*args(*task)) for every task: from _NATIVE_PARALLEL_BYTES on, shared out on the C
    pool's threads (native_pool: a region starts in microseconds, where a hand-off to the
    Python kernel threads costs 40-70 us, as much as a whole pass over a (64, 8, 8, 64)
    tensor), or on the Python kernel threads where the pool cannot be had; else in order on
    this thread."""
    if len(tasks) > 1 and nbytes >= _NATIVE_PARALLEL_BYTES:
        if not _pool.run(fn, [[0 if a is None else a for a in args(*t)] for t in tasks]):
            _k.run_tasks(tasks, lambda t, _: fn(*args(*t)), nbytes,
                         min_bytes=_NATIVE_PARALLEL_BYTES)
        return
    for t in tasks:
        fn(*args(*t))


def _native_forward(fns, x, gamma, beta, epsilon, relu, residual, rows, c):
    """bn_forward by native/batch_norm.c: x, gamma, beta (and residual) checked by the caller
    (usable, gamma and beta of shape (c,), residual of x's size, rows >= 1)."""
    dt = x.dtype
    blk, nblk, tasks, spans = _native_layout(rows, c, dt.itemsize)
    part = np.empty((nblk + 1) * 2 * c)  # + a slot to combine them in
    vec = np.empty((4, c), dt)  # mean, var, scale, shift
    y = np.empty(x.shape, dt)
    px, pp, pv, py = _native.addr(x), _native.addr(part), _native.addr(vec), _native.addr(y)
    pr = None if residual is None else _native.addr(residual)
    step = c * dt.itemsize
    _each(fns.moments, tasks[::-1], lambda b0, b1: (px, rows, c, blk, b0, b1, pp), x.nbytes)
    fns.stats(pp, nblk, rows, c, blk, _native.addr(gamma), _native.addr(beta), float(epsilon), pv,
              pv + step, pv + 2 * step, pv + 3 * step)
    flag = 1 if relu else 0
    _each(fns.apply, spans, lambda lo, hi: (px, pr, py, pv + 2 * step, pv + 3 * step, c, lo,
                                            hi, flag), (2 if pr is None else 3) * x.nbytes)
    return y, vec[0], vec[1]


def _native_backward(fns, g, x, r, gamma, mean, var, epsilon, rows, c):
    """bn_backward by native/batch_norm.c: arrays checked by the caller (usable, g and r of
    x's size, gamma, mean and var of shape (c,), rows >= 1); r is None without a ReLU."""
    dt = x.dtype
    blk, nblk, tasks, spans = _native_layout(rows, c, dt.itemsize)
    part = np.empty((nblk + 1) * 2 * c)  # + a slot to combine them in
    coef = np.empty((3, c), dt)  # a, b, c of dx = g' * a + (x - mean) * b + c
    flat = np.empty(x.size + 2 * c, dt)
    pg, px, pm, pp, pc, pf = _native.addr(g), _native.addr(x), _native.addr(mean), _native.addr(part), _native.addr(coef), \
        _native.addr(flat)
    pr, flag = (None, 0) if r is None else (_native.addr(r), 1)
    step = c * dt.itemsize
    _each(fns.grad_sums, tasks[::-1],
          lambda b0, b1: (pg, px, pr, pm, rows, c, blk, b0, b1, flag, pp),
          (3 if flag else 2) * x.nbytes)
    tail = pf + x.size * dt.itemsize
    fns.grad_coef(pp, nblk, rows, c, _native.addr(gamma), _native.addr(var), float(epsilon), pc, pc + step,
                  pc + 2 * step, tail, tail + step)
    _each(fns.grad_apply, spans,
          lambda lo, hi: (pg, px, pr, pm, pc, pc + step, pc + 2 * step, pf, c, lo, hi, flag),
          (4 if flag else 3) * x.nbytes)
    return flat
