"""Small float32 GEMMs through native/gemm.c (AVX-512 micro-kernels reading strided operands
in place): the Dense layers' thin products ((4096, 32) x (32, 64), their input gradients
against a transposed weight view) and the transposed-b attention products (q @ k^T on
(B, H, T, K) views). `matmul` returns None where it does not apply (another dtype, rank or
layout, n < 16 or n > 128, k > 256 but for the pooled long reductions below, a small
product, no native library or no AVX-512 build): np.matmul / kernels.matmul_stack run then, as before.

Why: OpenBLAS packs both operands and zero-fills the output before these K = 32/64
products, and its small transposed-B kernels are slow; the micro-kernel keeps a block of
the output in registers over the whole reduction and prefetches the next block's rows.

Numerics: each output element is one chain of fused multiply-adds from 0 in k order, what
OpenBLAS computes for a reduction of one of its k blocks: the results equal np.matmul's bit
for bit on the benchmark shapes (the tests check it; elsewhere, e.g. OpenBLAS's kernels for
a few rows, within rounding). The C code sums longer reductions in k blocks of 256 (the
blocks' sums added in order). Those (k > `_MAX_K`) are taken only for few-row 2-D products
where the C pool has two threads (`_long_reduction`): the weight gradients of thin layers
along a sequence ((4096, 32)^T x (4096, 64)), which OpenBLAS runs on one core, are cut into
fixed 2048-long slices of the reduction, one pool task each, summed in order: 0.27-0.29 ->
0.195 ms back to back, within float32 rounding of OpenBLAS's numbers (not equal to them).
Elsewhere OpenBLAS keeps them.

`bias` (executor's matmul_bias fusion, a Dense layer's bias): each block of rows gets the
bias added right after it is stored, while still in L1, rounded apart from the product (the
numbers of a separate add), instead of a pass of its own over the output.

Threads: the rows (a 2-D product) or the leading axis (a stack) are cut into fixed chunks
run on the C pool (backend/native_pool.py; a region starts in microseconds) from 4 MFLOP,
else shared out to the kernel threads (kernels.run_tasks) from kernels.BANDWIDTH_MIN_BYTES
on; every output element is computed by the same chain whatever the cut.

A/B (kernels.matmul_stack as the ops call it, OPENBLAS_NUM_THREADS=1 and
TENFOLD_KERNEL_THREADS=1, process-time medians of 15 alternating runs of 30 calls, the
shared 2-core machine (AVX-512) under load 1-2; OpenBLAS -> native, ms):
  (4096, 32) x (32, 64)                          0.170 -> 0.139
  (4096, 64) x (32, 64)^T (the weight's view)    0.182 -> 0.154
  (4096, 32) x (32, 32)                          0.102 -> 0.086
  (64, 2, 64, 32) x (64, 2, 64, 32)^T views      0.474 -> 0.404   (q @ k^T; matmul_stack's
  the same into a (B, T, H, V) output view       0.462 -> 0.411    copy-and-GEMM chunks)
The untransposed stacks ((64, 2, 64, 64) x (64, 2, 64, 32) and the transposed-a ones) do
not gain (0.455 -> 0.468, 0.477 -> 0.562): OpenBLAS keeps them.
"""

import numpy as np

from tenfold.backend import kernels as _k
from tenfold.backend import native
from tenfold.backend import native_pool as _pool

_F32 = np.dtype(np.float32)
_MAX_K = 256           # longer reductions (weight gradients) stay with OpenBLAS: its numbers
# ... except few-row products (weight gradients of thin layers along a sequence: (32, 4096)
# x (4096, 64)), which OpenBLAS runs on one core: here their reduction is cut over the C
# pool (_long_reduction)
_MAX_K_POOLED = 1 << 16
_MAX_M_POOLED = 256
# wider products stay with OpenBLAS too: they run on both cores there, here on one below
# kernels.BANDWIDTH_MIN_BYTES (the MLP's (784, 128) x (128, 512) weight gradient)
_MAX_N = 128
_MIN_FLOPS = 1 << 20   # smaller products: the ctypes call's few us are not paid back
_ROW_CHUNK = 512       # rows per task of a 2-D product
def _fn():
    """The ctypes gemm_f32, or None (TENFOLD_NATIVE=0, no library, no AVX-512 build)."""
    if not native.simd("gemm", "gemm_simd"):
        return None
    return native.kernel("gemm", "gemm", _F32, native.pointers_and_ints(5, 16))


def _elem_strides(x):
    """x's strides in elements, or None (negative, or not a multiple of the item size)."""
    out = []
    for s in x.strides:
        if s < 0 or s % 4:
            return None
        out.append(s // 4)
    return out


def _taken(a, b):
    """Whether the native kernel takes a @ b (types, shapes and layout; the cheap checks
    first: every matmul of a step asks)."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != _F32 or \
            b.dtype != _F32:
        return False
    nd = a.ndim
    if nd != b.ndim or (nd != 2 and nd != 4):
        return False
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if not 16 <= n <= _MAX_N or k < 1 or m < 1 or b.shape[-2] != k:
        return False
    if k > _MAX_K and (nd != 2 or k > _MAX_K_POOLED or m > _MAX_M_POOLED or
                       b.strides[-1] != 4 or _pool.threads() < 2):
        return False
    if nd == 4:
        # stacks: only q @ k^T (b's columns strided) beats OpenBLAS's per-matrix GEMMs
        if a.shape[:2] != b.shape[:2] or b.strides[-1] == 4 or b.strides[-2] != 4:
            return False
        m *= a.shape[0] * a.shape[1]
    return 2 * m * n * k >= _MIN_FLOPS and a.flags.aligned and b.flags.aligned


def matmul(a, b, out=None, bias=None):
    """a @ b for float32 2-D matrices or (B, H)-stacks of them (no broadcasting) where the
    native kernel wins (see the module's figures), written into `out` when given (any
    strides with a unit last one, not overlapping a or b); with `bias` (n float32 values,
    C-contiguous, any shape), then + bias on every row (a 2-D product only); else None,
    having run nothing."""
    if not _taken(a, b):
        # not a thin product: a mostly-zero a (pixels, one-hot features) may still be
        return _gemm_sparse().matmul(a, b, out, bias)
    if bias is not None and (a.ndim != 2 or type(bias) is not np.ndarray or
                             bias.dtype != _F32 or bias.size != b.shape[-1] or
                             not bias.flags.c_contiguous or not bias.flags.aligned):
        return None
    fn = _fn()
    if fn is None:
        return None
    m, k = a.shape[-2:]
    n = b.shape[-1]
    shape = a.shape[:-2] + (m, n)
    if out is None:
        out = np.empty(shape, _F32)
    elif type(out) is not np.ndarray or out.dtype != _F32 or out.shape != shape or \
            not out.flags.writeable or not out.flags.aligned or out.strides[-1] != 4 or \
            np.may_share_memory(out, a) or np.may_share_memory(out, b) or \
            (bias is not None and np.may_share_memory(out, bias)):
        return None
    sa, sb, sc = _elem_strides(a), _elem_strides(b), _elem_strides(out)
    if sa is None or sb is None or sc is None or \
            (sb[-1] != 1 and sb[-1] * 16 >= 1 << 31):  # pack_b's int32 gather offsets
        return None
    if a.ndim == 2:
        sa, sb, sc = [0, 0] + sa, [0, 0] + sb, [0, 0] + sc
        nb0, nb1 = 1, 1
    else:
        nb0, nb1 = a.shape[:2]
    pa, pb, pc = native.addr(a), native.addr(b), native.addr(out)
    pbias = None if bias is None else native.addr(bias)
    # the C code reads a, b and writes out only at the elements their shapes and strides
    # name (masked vector lanes past n are never touched); pack holds one b (k x n)

    def args(pack, i0, i1, r0, r1):   # stacks [i0, i1), rows [r0, r1)
        return _gemm_args(pa + 4 * (i0 * sa[0] + r0 * sa[2]), pb + 4 * i0 * sb[0],
                          pc + 4 * (i0 * sc[0] + r0 * sc[2]), pack, pbias, i1 - i0, nb1,
                          r1 - r0, n, k, sa, sb, sc[:3])

    def call(pack, *block):
        fn(*args(native.addr(pack), *block))

    def scratch():  # b copied row-major when its columns are strided (q @ k^T)
        return np.empty(k * n if sb[3] != 1 else 1, _F32)

    nbytes = a.nbytes + b.nbytes + out.nbytes
    if k > _MAX_K:
        return _long_reduction(fn, pa, sa, pb, sb, out, bias, m, n, k)
    if a.ndim == 2:
        tasks = [(0, 1, r, min(m, r + _ROW_CHUNK)) for r in range(0, m, _ROW_CHUNK)]
    else:
        step = max(1, nb0 // 8)
        tasks = [(i, min(nb0, i + step), 0, m) for i in range(0, nb0, step)]
    if len(tasks) > 1 and 2 * m * n * k >= _POOL_MIN_FLOPS and _pool.threads() > 1:
        # the C pool: a region starts in microseconds, so 0.1-0.4 ms products gain
        packs = np.empty((len(tasks), k * n if sb[3] != 1 else 1), _F32)
        rows = [args(native.addr(packs[j]), *t) for j, t in enumerate(tasks)]
        if _pool.run(fn, rows):
            return out
    # Python threads only from kernels.BANDWIDTH_MIN_BYTES on, as matmul_stack's own
    # chunks: below, a hand-off costs about what half of a 0.1-0.4 ms product saves
    if _k._workers(len(tasks), nbytes, _k.BANDWIDTH_MIN_BYTES) == 1:
        call(scratch(), 0, nb0, 0, m)
    else:
        _k.run_tasks(tasks, lambda t, pack: call(pack, *t), nbytes, make_state=scratch,
                     min_bytes=_k.BANDWIDTH_MIN_BYTES)
    return out


_sparse_module = []


def _gemm_sparse():
    """tenfold.backend.gemm_sparse (imported on first use)."""
    if not _sparse_module:
        from tenfold.backend import gemm_sparse
        _sparse_module.append(gemm_sparse)
    return _sparse_module[0]


def _gemm_args(pa, pb, pc, pack, bias, nb0, nb1, m, n, k, sa, sb, sc):
    """gemm_f32's arguments in its order (addresses as integers, a missing bias 0); sa, sb:
    the 4 element strides of a and b, sc the 3 outer ones of c."""
    return [pa, pb, pc, pack, bias or 0, nb0, nb1, m, n, k, *sa, *sb, *sc]


_POOL_MIN_FLOPS = 1 << 22   # about 40 us on one core: less is not worth a region
_K_SLICE = 2048             # a long reduction's slices (fixed: results independent of threads)


def _long_reduction(fn, pa, sa, pb, sb, out, bias, m, n, k):
    """out = a @ b (+ bias) for a 2-D product with k > _MAX_K (taken only where the C pool
    has two threads, see _taken): the reduction cut into fixed slices of _K_SLICE, each
    slice's product a task of the pool into its own buffer, the slices' products then added
    in order (and the bias last, rounded apart). Each slice reads its part of a and b once;
    cutting the few rows instead would read all of b per task."""
    bounds = [(lo, min(k, lo + _K_SLICE)) for lo in range(0, k, _K_SLICE)]
    parts = np.empty((len(bounds), m, n), _F32)
    pp = native.addr(parts)
    # each slice: a (m, k1 - k0) x (k1 - k0, n) product into parts[j] (row stride n)
    rows = [_gemm_args(pa + 4 * k0 * sa[3], pb + 4 * k0 * sb[2], pp + 4 * j * m * n, 0, None,
                       1, 1, m, n, k1 - k0, [0, 0, *sa[2:]], [0, 0, *sb[2:]], [0, 0, n])
            for j, (k0, k1) in enumerate(bounds)]
    if not _pool.run(fn, rows):
        return None
    np.copyto(out, _k.sum_in_order(list(parts)))
    if bias is not None:
        out += bias.reshape(-1)
    return out


# ------------------------------------------------------------------------------------------
# Fused attention (gemm.c's attention_f32 / attention_grad_f32): softmax(q k^T) v per batch
# and head on (B, T, H, K) layouts, the scores of one (batch, head) kept in a scratch. The
# (batch, head) pairs are cut into fixed chunks run on the C pool (each chunk its own
# scratch); every pair is computed the same way whatever the cut.

_ATTN_MIN_FLOPS = 1 << 22   # smaller: one C call on the calling thread
_ATTN_MAX_SCORES = 1 << 22  # T x S per (batch, head): larger scratch stays with the twin
_ATTN_POINTERS = {"attention": 6, "attention_grad": 9}


def _attention_fn(name):
    """The ctypes attention_f32 / attention_grad_f32, or None (as _fn)."""
    if not native.simd("gemm", "gemm_simd"):
        return None
    return native.kernel("gemm", name, _F32, native.pointers_and_ints(_ATTN_POINTERS[name], 7))


def _attention_dims(q, k, v, *more):
    """(B, T, S, H, K, V) where the kernels take q, k, v (and `more`: g, of the output's
    shape): float32, C-contiguous, aligned, (B, T, H, K) / (B, S, H, K) / (B, S, H, V),
    no empty axis; else None."""
    arrays = (q, k, v) + more
    if any(type(x) is not np.ndarray or x.dtype != _F32 or x.ndim != 4 or
           not x.flags.c_contiguous or not x.flags.aligned for x in arrays):
        return None
    b, t, h, kd = q.shape
    s, vd = k.shape[1], v.shape[3]
    if k.shape != (b, s, h, kd) or v.shape != (b, s, h, vd) or \
            any(g.shape != (b, t, h, vd) for g in more) or min(b, t, s, h, kd, vd) < 1 or \
            t * s > _ATTN_MAX_SCORES or 16 * h * max(kd, vd) >= 1 << 31:  # pack_b's offsets
        return None
    return b, t, s, h, kd, vd


def _attention_run(fn, head, tail, pairs, flops, work_floats):
    """fn(*head, work, t0, t1, *tail) over the (batch, head) pairs [0, pairs) in chunks, on
    the C pool when the work pays for a region, else on the kernel threads (while BLAS runs
    several and the pool stays off), else in one call on this thread."""
    step = max(1, pairs // 8)
    tasks = [(i, min(pairs, i + step)) for i in range(0, pairs, step)]

    def scratch():
        return _k.thread_scratch(work_floats, _F32, 1)[0]

    if len(tasks) > 1 and flops >= _ATTN_MIN_FLOPS:
        if _pool.threads() > 1:
            work = np.empty((len(tasks), work_floats), _F32)
            rows = [[*head, native.addr(work[j]), t0, t1, *tail]
                    for j, (t0, t1) in enumerate(tasks)]
            if _pool.run(fn, rows):
                return
        if _k._workers(len(tasks), flops, 0) > 1:   # no pool now (BLAS threads): Python ones
            _k.run_tasks(tasks, lambda r, work: fn(*head, native.addr(work), *r, *tail), flops,
                         make_state=scratch, min_bytes=0)
            return
    fn(*head, native.addr(scratch()), 0, pairs, *tail)


def attention(q, k, v, keep=False):
    """(o, probs): o = softmax(q k^T) v per (batch, head), as (B, T, H, V), q already
    scaled; probs the (B, H, T, S) probabilities when `keep` (for attention_grad), else None.
    None (having run nothing) where the native kernel does not take the arrays."""
    dims = _attention_dims(q, k, v)
    fn = dims is not None and _attention_fn("attention")
    if not fn:
        return None
    b, t, s, h, kd, vd = dims
    out = np.empty((b, t, h, vd), _F32)
    probs = np.empty((b, h, t, s), _F32) if keep else None
    pq, pk, pv, po = native.addr(q), native.addr(k), native.addr(v), native.addr(out)
    pp = 0 if probs is None else native.addr(probs)
    # the C code reads q, k, v and writes out (and probs) at the (batch, head) pairs it is
    # given only, within the shapes checked above; work holds (T S unless probs) + K S floats
    _attention_run(fn, [pq, pk, pv, po, pp], [h, t, s, kd, vd], b * h,
                   2 * b * h * t * s * (kd + vd), (0 if keep else t * s) + kd * s)
    return out, probs


def attention_grad(g, q, k, v, probs=None):
    """[dq, dk, dv] of attention(q, k, v) for g = dL/d(output), flat in one array (dq's
    elements, then dk's, then dv's, each in its input's layout), from the forward's `probs`
    when given (else recomputed); None where the native kernel does not take the arrays."""
    dims = _attention_dims(q, k, v, g)
    fn = dims is not None and _attention_fn("attention_grad")
    if not fn:
        return None
    b, t, s, h, kd, vd = dims
    if probs is not None and (type(probs) is not np.ndarray or probs.dtype != _F32 or
                              probs.shape != (b, h, t, s) or not probs.flags.c_contiguous or
                              not probs.flags.aligned):
        return None
    flat = np.empty(q.size + k.size + v.size, _F32)
    ptrs = [native.addr(x) for x in (g, q, k, v)]
    ptrs.append(0 if probs is None else native.addr(probs))
    pd = native.addr(flat)
    ptrs += [pd, pd + 4 * q.size, pd + 4 * (q.size + k.size)]   # dq, dk, dv
    _attention_run(fn, ptrs, [h, t, s, kd, vd], b * h,
                   2 * b * h * t * s * ((2 if probs is None else 1) * kd + 2 * vd),
                   (t * s if probs is None else 0) + t * s + max(kd, vd) * s)
    return flat
