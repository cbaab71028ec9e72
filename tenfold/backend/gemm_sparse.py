"""Float32 products a @ b whose left operand is mostly zeros, multiplying only its nonzeros
(native/gemm_sparse.c): a Dense layer fed image pixels, one-hot or bag-of-words features,
and the same layer's weight gradient x^T dy (a = x^T, read in place). `matmul` returns None
(having run nothing, or having found b not finite) where it does not apply; the dense
product runs then, as before.

Why: the seed MLP's step is two (128, 784) x (784, 512)-sized products (the first layer's
forward and its weight gradient) that OpenBLAS already runs at this machine's peak, on
MNIST batches of which 81% of the pixels are exactly 0. Listing a's nonzeros costs one pass
over a (each thread its half of the rows); each nonzero then costs one fused multiply-add
per 16 output columns, with b copied in blocks that stay in L1 (each task owns a 128-column
block of c). All of it is one region of the C pool (backend/native_pool.py).

Measured (2-core AMD EPYC, Zen 4, noisy host; MNIST batches of 128):
  back to back, dense -> here:  x @ W   (128, 784) x (784, 512)   551-575 -> 271-296 us
                                x^T dy  (784, 128) x (128, 512)   530-577 -> 280-285 us
  the seed MLP's step in fit (bench/profile_fit.py mlp --data mnist, alternating
  processes): 1.73, 2.35, 1.74 -> 1.11, 1.16, 1.36 ms.
A random a of density 0.1 / 0.2 / 0.3 / 0.5: 567 -> 216, 592 -> 323, 570 -> 416, 583 -> 676 us
(the forward shape): the threshold is 0.3.

Numerics: each output is one chain of fused multiply-adds from 0 over a's nonzeros in
column order; the zeros' terms are exactly 0 where b is finite (see the C file), so this is
the dense product summed in one chain in column order (OpenBLAS sums in blocks of k:
within float32 rounding of its numbers, not equal to them). A NaN or infinity in a is a
nonzero and reaches its row's outputs as in the dense product; where b holds one, the C
code says so and the dense product runs (0 * inf is NaN there). Whatever the threads, every
output is computed by the same chain.

When: 2-D float32 products of at least `_MIN_MACS` multiply-adds and `_MIN_N` columns,
a with a unit stride on one axis and b's rows contiguous, whose a holds at most
`_MAX_DENSITY` nonzeros (each list task samples eight of its rows or columns first). A
dense a costs a region's start (about 30 us), so a call site whose a was dense is not
sampled again for its next `_DENSE_SKIP` calls (keyed by shapes and strides; about 1.5 us
each): layers are fed alike from step to step.
"""
import ctypes

import numpy as np

from tenfold.backend import gemm_native as _gemm_native
from tenfold.backend import kernels as _k
from tenfold.backend import native
from tenfold.backend import native_pool as _pool

_F32 = np.dtype(np.float32)
_MAX_DENSITY = 0.30
_MIN_MACS = 1 << 23       # ~0.1 ms of dense product: the sample's cost is below 2% of it
_MIN_N = 64
_COLUMN_BLOCK = 128       # columns per task
_MAX_A_SIZE = 1 << 26     # a's elements: the list's int32 positions stay far from 2**31
_SCRATCH_KEPT = 1 << 18   # lists up to this many entries reuse the thread's buffers
_DENSE_SKIP = 64
_dense_seen = {}          # (shapes, strides) -> calls left before a is sampled again


def _fn():
    """The ctypes sparse_task_f32, or None (TENFOLD_NATIVE=0, no library, no AVX-512)."""
    if not native.simd("gemm_sparse", "gemm_sparse_simd"):
        return None
    return native.kernel("gemm_sparse", "sparse_task", _F32, [ctypes.c_void_p, native.i64])


def _unit_strides(a):
    """a's (row, column) strides in elements with one of them 1, or None."""
    s = _gemm_native._elem_strides(a)
    return s if s is not None and 1 in s else None


def matmul(a, b, out=None, bias=None):
    """a @ b (+ bias on every row) for 2-D float32 a (m, k), b (k, n) when a is mostly
    zeros (see the module), written into `out` when given (C-contiguous rows, not
    overlapping a, b or bias); else None, `out` then unspecified."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim != 2 or \
            b.ndim != 2 or a.dtype != _F32 or b.dtype != _F32:
        return None
    m, k = a.shape
    n = b.shape[1]
    if b.shape[0] != k or n < _MIN_N or m * n * k < _MIN_MACS or m * k > _MAX_A_SIZE:
        return None
    key = (a.shape, a.strides, n)
    left = _dense_seen.get(key)
    if left:
        _dense_seen[key] = left - 1
        return None
    sa = _unit_strides(a)
    if sa is None or b.strides[1] != 4 or b.strides[0] % 4 or b.strides[0] < 0 or \
            not a.flags.aligned or not b.flags.aligned:
        return None
    if bias is not None and (type(bias) is not np.ndarray or bias.dtype != _F32 or
                             bias.size != n or not bias.flags.c_contiguous):
        return None
    fn = _fn()
    if fn is None:
        return None
    if out is None:
        out = np.empty((m, n), _F32)
    elif type(out) is not np.ndarray or out.dtype != _F32 or out.shape != (m, n) or \
            not out.flags.writeable or not out.flags.aligned or out.strides[1] != 4 or \
            out.strides[0] % 4 or any(np.may_share_memory(out, x) for x in (a, b, bias)
                                      if x is not None):
        return None
    threads = _pool.threads()
    lists = 2 if threads > 1 and m >= 32 else 1   # each thread lists its share of the rows
    cap = int(_MAX_DENSITY * -(-m // lists) * k)  # per list
    blocks = -(-n // _COLUMN_BLOCK)
    val, idx, start, end, count = _scratch(m, lists * (cap + 16))
    flags = np.zeros(lists + 1 + blocks, np.int64)   # the lists' counts, done, statuses
    pf = native.addr(flags)
    addr = native.addr
    p = np.array([addr(a), addr(val), addr(idx), addr(start), addr(end), addr(count), pf,
                  pf + 8 * lists, addr(b), addr(out), 0 if bias is None else addr(bias),
                  pf + 8 * (lists + 1), m, k, sa[0], sa[1], b.strides[0] // 4,
                  out.strides[0] // 4, n, lists, cap, _COLUMN_BLOCK], np.int64)
    pa = addr(p)
    tasks = [[pa, t] for t in range(lists + blocks)]
    # the C code reads a, b (and bias) and writes out only within the shapes and strides
    # above, and val/idx/start/end/count within their sizes (lists segments of cap + 16)
    if threads < 2 or not _pool.run(fn, tasks):
        for t in tasks:
            fn(*t)
    status = flags[lists + 1:]
    if not status.any():
        _dense_seen.pop(key, None)
        return out
    if (status == 2).any():   # a looked dense: this call site is skipped for a while
        if len(_dense_seen) > 1024:   # shapes that keep changing: forget the old ones
            _dense_seen.clear()
        _dense_seen[key] = _DENSE_SKIP
    # else b holds an infinity or a NaN (the dense product's numbers), or no scratch could
    # be had
    return None


def _scratch(m, entries):
    """(val, idx, start, end, count) buffers for lists of `entries` entries of an m-row a:
    this thread's, kept from call to call, up to _SCRATCH_KEPT entries; fresh ones beyond
    (only the pages the lists reach are ever touched)."""
    if entries > _SCRATCH_KEPT:
        ends = np.empty(2 * m, np.int64)
        return (np.empty(entries, _F32), np.empty(entries, np.int32), ends[:m], ends[m:],
                np.empty(m, np.int32))
    val = _k.thread_scratch(entries, _F32, 1)[0]
    ints = _k.thread_scratch(entries + m, np.int32, 1)[0]
    ends = _k.thread_scratch(2 * m, np.int64, 1)[0]
    return val, ints[:entries], ends[:m], ends[m:], ints[entries:]
