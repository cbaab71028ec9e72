"""Kernels NumPy lacks: convolution (im2col + GEMM, chunked), its two adjoints, depthwise
convolution, max/average pooling and their gradients.

Plain array functions, no tensors and no argument checks (the public ops in
`tenfold/ops/conv_ops.py` validate and resolve padding). Conventions, for any number of spatial
dimensions:

- channels-last: `x` is (N, *spatial, C); a filter is (*kernel, C_in, C_out), TensorFlow's
  HWIO, so NHWC inputs need no transposes at all;
- `strides`, `dilations`: one int per spatial dim; `pads`: ((before, after), ...) per spatial
  dim, already resolved from SAME/VALID/explicit;
- float16/bfloat16 are computed in float32 and cast back (NumPy has no fast half GEMM).

How it is made fast (each choice measured with bench/bench_conv.py and micro-benchmarks on the
MNIST convnet at batch 128, 2 cores, OpenBLAS; single-thread CPU ms in brackets):
- im2col a few images at a time into a reused buffer of about `_CHUNK_BYTES`, each chunk going
  straight into one GEMM: the columns stay in L2 and the 17 MB im2col of conv2 is never
  written (chunked 4.6 ms vs 6.9 ms for one big im2col + GEMM, wall, 2 threads);
- a bias rides in the GEMM as a column of ones and ReLU is applied to the chunk while it is in
  cache (conv_bias_act), saving two passes over the output;
- 2-D convs of up to 64 channels compute a tile of 1 x tw outputs per GEMM row from their
  input patch (a block-structured weight): a wider GEMM and a smaller im2col, each chunk padded
  in its own buffer instead of pad() copying the input; the stride-1 input gradient is the same
  kernel on dy with the flipped filter (ResNet-20's 3x3 16->16 32x32, one thread: forward
  8.1 -> 6.6 ms, input gradient 11.4 -> 6.2, filter gradient 9.3 -> 7.1; see _tile_for);
- single-channel inputs use offset-major columns, one contiguous copy per kernel offset
  (1.0 ms vs 3.1 ms for conv1's im2col);
- the input gradient makes offset-major columns with one batched GEMM, then scatters them with
  one strided `+=` per kernel offset, never `np.add.at` (conv2: [8.0] vs [11.1]);
- the filter gradient sums one small product per chunk, in chunk order, so results do not
  depend on threading;
- 2x2/2 max pooling gathers the four window offsets as whole channel vectors (a void dtype of
  C floats per item) and keeps each window's argmax for the gradient, a scatter
  (pool1 forward + backward [4.9] vs [6.8]); ties go to the first maximum, as in TensorFlow;
- chunks are shared out to Python threads (NumPy releases the GIL) while BLAS runs single-
  threaded: see the threads section below.
"""
import contextlib
import ctypes
import functools
import itertools
import math
import os
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tenfold.backend import cpu_load as _cpu_load
from tenfold.backend import fpenv as _fpenv
from tenfold.backend import native as _native

_CHUNK_BYTES = 1 << 20          # im2col buffer for the forward and input-gradient GEMMs
_FILTER_CHUNK_BYTES = 2 << 20   # filter gradient: bigger chunks, its GEMM output is tiny
_COL2IM_CHUNK_BYTES = 1 << 19   # input gradient: columns + their scatter stay in L2
_TILED_BYTES = 1 << 20          # output-tiled conv: padded chunk + columns + output block
_FILTER_TILED_BYTES = 2 << 20

# TENFOLD_CONV_LEGACY=1 runs the kernels of before the general conv work (issue 17), for
# before/after figures in one run (bench/bench_conv_models.py --ab); never needed otherwise.
LEGACY = os.environ.get("TENFOLD_CONV_LEGACY", "") not in ("", "0")

_F32 = np.dtype(np.float32)
# dtypes with fast paths (GEMV sums, vectorized ReLU) and compiled (Numba) kernels
FLOAT_DTYPES = (_F32, np.dtype(np.float64))
_MIN_PARALLEL_BYTES = 1 << 18   # below this, a thread hand-off costs more than it saves
# Kernels made of many short NumPy calls per task (the blocked optimizer updates, row-block
# softmax / layer norm, stacked small GEMMs) hold the GIL between calls, so their threads
# convoy: measured in whole train steps, alternating in one process (quiet 2-core machine,
# medians of 8 epochs), the Transformer ran 16.4 ms/step with kernel threads off against
# 20.9 with them on (and 18.9 with only the row blocks and stacks serial), the MLP 3.65
# against 4.74; convolutions and the recurrent loops gain from threads (ResNet-20 305 vs
# 366 ms, LSTM 59 vs 76 ms). So these share out only from this size on (then, same way:
# Transformer 22.9 ms/step against 24.4 at the old 256 KB, MLP 5.0 against 5.3; noisy).
BANDWIDTH_MIN_BYTES = 8 << 20


# ------------------------------------------------------------------------------------------
# threads: chunks of images are shared out to a small pool of Python threads (NumPy releases
# the GIL in copies, ufunc loops and BLAS calls) while BLAS runs single-threaded, so the
# im2col copies, col2im adds, epilogues and pooling run in parallel too, not only the GEMMs.
# On the shared 2-core machine this is also ~10x more robust than OpenBLAS's own threads,
# whose lock-step workers stall whenever another process holds a core. When the BLAS thread
# count cannot be controlled (not OpenBLAS), kernels run serially and BLAS threads itself.

def _thread_count():
    """TENFOLD_KERNEL_THREADS, else OPENBLAS_NUM_THREADS / OMP_NUM_THREADS (someone limiting
    BLAS threads, e.g. pytest -n, means to limit ours too), else the usable cores (max 8)."""
    for var in ("TENFOLD_KERNEL_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env = os.environ.get(var, "").strip()
        if env.isdigit():
            return max(1, int(env))
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


class _BlasThreads:
    """Sets the BLAS thread count to 1 while a parallel region runs (nests, thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.depth = 0
        self.saved = None
        self.fns = None  # (get, set), or False once the search failed
        self.lib = None  # the library they were found in
        self.short_spin = False   # whether _shorten_openblas_spin applied

    def _find(self):
        names = [("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                 ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
                 ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                 ("openblas_get_num_threads", "openblas_set_num_threads")]
        for path in _openblas_paths():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for get, set_ in names:
                if hasattr(lib, get) and hasattr(lib, set_):
                    g, st = getattr(lib, get), getattr(lib, set_)
                    g.restype = ctypes.c_int
                    st.argtypes = [ctypes.c_int]
                    self.lib = lib
                    return g, st
        return False

    def available(self):
        if self.fns is None:
            np.dot(np.ones((2, 2)), np.ones((2, 2)))  # make sure BLAS is loaded
            self.fns = self._find()
            if self.fns:
                self.short_spin = _shorten_openblas_spin(self.lib)
        return bool(self.fns)

    def _enter_single(self):
        get, set_ = self.fns
        with self.lock:
            if self.depth == 0:
                self.saved = get()
                if self.saved != 1:
                    set_(1)
            self.depth += 1

    def _exit_single(self):
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.saved != 1:
                self.fns[1](self.saved)

    def call_single(self, fn, *args, **kw):
        """fn(*args, **kw) with BLAS single-threaded (as `single`, without a generator's
        cost: small products call it every step)."""
        self._enter_single()
        try:
            return fn(*args, **kw)
        finally:
            self._exit_single()

    @contextlib.contextmanager
    def single(self):
        self._enter_single()
        try:
            yield
        finally:
            self._exit_single()


def _openblas_paths():
    """The OpenBLAS libraries this process has loaded (/proc/self/maps on Linux), then the
    ones NumPy's wheels ship (numpy.libs; .dylibs on macOS, where there is no maps file)."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f
                            if "openblas" in line.lower() and ".so" in line})
    except OSError:
        paths = []
    import glob
    base = os.path.dirname(np.__file__)
    for pattern in (os.path.join(os.path.dirname(base), "numpy.libs", "*openblas*"),
                    os.path.join(base, ".dylibs", "*openblas*")):
        paths += [p for p in sorted(glob.glob(pattern)) if p not in paths]
    return paths


_SHORT_SPIN = 4   # OPENBLAS_THREAD_TIMEOUT's smallest value: 2^4 cycles


def _shorten_openblas_spin(lib):
    """Makes OpenBLAS's idle worker threads sleep at once instead of spinning (True when
    done). They spin about 2^28 cycles (~0.1 s) after each threaded product, waiting for the
    next, and whatever runs on their core meanwhile gets half of it: the C pool's helpers,
    which split the optimizer updates and the row kernels between the products, ran 2-4x
    slower (the seed MLP's RMSprop update: 0.29 ms -> 0.18 with the workers asleep, the
    step 1.78 -> 1.65 ms; the convnet 15.1 -> 11.8 ms/step when the tuner had chosen two
    BLAS threads; the Transformer and the DCGAN within the noise). Waking a sleeping worker
    costs a few microseconds per threaded product.
    OpenBLAS reads OPENBLAS_THREAD_TIMEOUT when it loads, which is before `import tenfold`
    in nearly every program, so the value is set through its own `openblas_read_env` and its
    threads restarted (`blas_thread_shutdown_`; they start again with the next threaded
    call). Left alone where the user set OPENBLAS_THREAD_TIMEOUT (their choice stands), where
    the library lacks those functions, or where another Python thread could be inside BLAS
    (restarting its threads then is not safe)."""
    if os.environ.get("OPENBLAS_THREAD_TIMEOUT") is not None:
        return False
    names = ("openblas_read_env", "openblas_thread_timeout", "blas_thread_shutdown_",
             "blas_thread_init")
    fns = [getattr(lib, n, None) for n in names]
    if any(f is None for f in fns):
        return False
    me = threading.current_thread()
    if any(t is not me and not t.name.startswith("tenfold-kernel") and t.is_alive()
           for t in threading.enumerate()):
        return False
    read_env, timeout, shutdown, init = fns
    timeout.restype = ctypes.c_int
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(_SHORT_SPIN)
    try:
        read_env()
    finally:   # read now: the user's environment (and their subprocesses') stays as it was
        del os.environ["OPENBLAS_THREAD_TIMEOUT"]
    if timeout() != _SHORT_SPIN:
        return False
    shutdown()
    init()
    return True


_blas = _BlasThreads()


def single_threaded_blas():
    """Context manager: BLAS runs single-threaded inside (nests; a no-op where the BLAS thread
    count cannot be set). For small GEMMs/GEMVs on a shared machine: OpenBLAS's threaded
    kernels stall whenever another process holds a core (a 86528x32 GEMV: 8 ms instead of
    0.2 ms under load 3; the Dense matmuls of the MNIST convnet: 16 ms instead of 0.4 ms)."""
    return _blas.single() if _blas.available() else contextlib.nullcontext()


_single_blas = single_threaded_blas


def blas_thread_count_fns():
    """OpenBLAS's (get_num_threads, set_num_threads) as ctypes functions, or None: the one
    search for them, shared with graph/threads.py's tuner (the first call also shortens
    OpenBLAS's idle spinning: `_shorten_openblas_spin`)."""
    return _blas.fns if _blas.available() else None


_pool = [None]
_threads = _thread_count()


def _busy():
    """Whether other processes hold so many of our cores that fewer than two are free. Then
    one thread with single-threaded BLAS is fastest: helper threads that lose their core
    leave the caller waiting at the end of each call (measured under load 4-6: median step
    73 ms serial vs 156 ms with 2 threads and 223 ms with OpenBLAS's own threads). Measured
    from /proc/stat without our own CPU time (`cpu_load`), not the 1-minute load average,
    which lags a minute and counts our own threads."""
    return _cpu_load.free_cores() < 2


def _executor():
    if _pool[0] is None:
        from concurrent.futures import ThreadPoolExecutor
        _pool[0] = ThreadPoolExecutor(_threads, thread_name_prefix="tenfold-kernel",
                                      initializer=_in_kernel_thread)
    return _pool[0]


_region = threading.local()   # .on: this thread runs tasks of a parallel region


def _in_kernel_thread():
    _region.on = True   # a kernel thread only ever runs a region's tasks


def _workers(n_tasks, nbytes, min_bytes=None):
    """How many threads to use for n_tasks tasks over about nbytes of data (1 inside a
    parallel region's task: every thread is busy already)."""
    if _threads <= 1 or n_tasks <= 1 or getattr(_region, "on", False) or \
            nbytes < (_MIN_PARALLEL_BYTES if min_bytes is None else min_bytes) or \
            not _blas.available():
        return 1
    return min(_threads, n_tasks)


def run_tasks(tasks, work, nbytes, make_state=None, min_bytes=None):
    """Calls work(task, state) for every task, on up to `_threads` threads taking tasks in
    order from a shared queue; `state` is per-thread scratch from make_state(). The calling
    thread works too, so when the pool threads are slow to get a core (a busy machine) it
    simply does more of the tasks itself instead of waiting."""
    n = _workers(len(tasks), nbytes, min_bytes)
    busy = _threads > 1 and _busy()
    if n == 1 or busy:
        state = make_state() if make_state else None
        with _single_blas() if busy else contextlib.nullcontext():
            for t in tasks:
                work(t, state)
        return
    counter = itertools.count()
    fp = _fpenv.mode()   # the caller's subnormal mode, taken by the threads (fpenv.py)

    def worker():
        state = None
        if fp is not None and threading.current_thread() is not caller:
            _fpenv.restore(fp)
        for i in counter:
            if i >= len(tasks):
                return
            if state is None and make_state:
                state = make_state()
            work(tasks[i], state)

    caller = threading.current_thread()
    for hook in before_python_region:   # the C pool's spinning helpers would slow ours
        hook()
    with _blas.single():
        futures = [_executor().submit(worker) for _ in range(n - 1)]
        _region.on = True   # a task that calls run_tasks again runs its tasks itself
        try:
            worker()
        finally:
            _region.on = False
            for f in futures:
                f.result()


before_python_region = []   # callables run before run_tasks hands tasks to its threads


def map_tasks(tasks, work, nbytes, make_state=None, min_bytes=None):
    """[work(task, state) for task in tasks], the tasks shared out as run_tasks does; the
    results in task order whatever thread ran each."""
    results = [None] * len(tasks)

    def run(item, state):
        results[item[0]] = work(item[1], state)

    run_tasks(list(enumerate(tasks)), run, nbytes, make_state, min_bytes)
    return results


def sum_in_order(parts):
    """parts[0] + parts[1] + ... added left to right (a list of arrays, or an array's rows):
    per-chunk partial sums combined so that no result depends on which thread made which
    part. Into parts[0] where it owns its memory (not a view), else into a copy."""
    total = parts[0] if parts[0].base is None else parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def batch_parallel(n, nbytes, fn):
    """Calls fn(lo, hi) on contiguous slices covering range(n), shared out to the threads."""
    k = _workers(n, nbytes)
    parts = min(n, 2 * k) if k > 1 else 1
    bounds = [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]
    run_tasks(bounds, lambda b, _: fn(*b), nbytes if k > 1 else 0)


# Elementwise sequences (optimizer updates): each pass of a big array streams it through
# memory, so the whole sequence runs block by block with each block's arrays in L2 (2 MB per
# core here). Single thread, process time, medians; whole arrays -> blocks of 16K/32K/64K/
# 128K/256K/512K bytes per array: 784x512 float32 RMSprop step (9 passes) 1.44 -> 2.37/1.68/
# 1.30/1.15/1.19/1.26 ms; Adam 2.21 -> 3.02/2.22/1.64/1.54/1.55/1.67; sparse Adam on a
# 20000x32 embedding 3.65 -> 6.13/4.51/3.62/3.19/2.99/2.97 (a busy machine, load 4 on 2
# cores; quiet, 784x512 RMSprop: 1.03 whole, 0.70 at 128K, 0.68 at 256K). Python overhead
# per block eats the gain below 64K.
_BLOCK_BYTES = 1 << 18


def blockwise(body, arrays, n_scratch=0):
    """body(*block_views, *scratch) over contiguous blocks of the flat, C-contiguous,
    same-size `arrays`, the blocks shared out to the kernel threads; `scratch` are per-thread
    1-D buffers of a block's length. Elementwise bodies only: every element sees the same
    arithmetic as body(*arrays) would give it. Returns False (running nothing) when the
    arrays are too small to gain or not all C-contiguous, so the caller runs its whole-array
    path."""
    a0 = arrays[0]
    n = a0.size
    block = _BLOCK_BYTES // a0.itemsize
    if n < 2 * block or any(not a.flags.c_contiguous or a.size != n for a in arrays):
        return False
    flats = [a.reshape(-1) for a in arrays]
    bounds = list(range(0, n, block))
    dt = a0.dtype

    def work(lo, scratch):
        hi = min(n, lo + block)
        if hi - lo != block:
            scratch = [s[:hi - lo] for s in scratch]
        body(*[f[lo:hi] for f in flats], *scratch)

    run_tasks(bounds, work, n * a0.itemsize * len(arrays),
              lambda: thread_scratch(block, dt, n_scratch), min_bytes=BANDWIDTH_MIN_BYTES)
    return True


_scratch_local = threading.local()


def thread_scratch(n, dtype, count):
    """`count` 1-D arrays of `n` elements of `dtype`, kept per thread and reused from call
    to call (a fresh 256 KB buffer is a fresh mapping: page faults on every first touch)."""
    cache = getattr(_scratch_local, "bufs", None)
    if cache is None:
        cache = _scratch_local.bufs = {}
    dtype = np.dtype(dtype)
    bufs = cache.get(dtype)
    if bufs is None or len(bufs) < count or bufs[0].size < n:
        bufs = cache[dtype] = [np.empty(max(n, bufs[0].size if bufs else 0), dtype)
                               for _ in range(max(count, len(bufs) if bufs else 0))]
    return [b[:n] for b in bufs[:count]]


def _per_image(fn, out_shape, dtype, *arrays):
    """fn(*arrays), where fn works image by image, computed on batch slices in parallel."""
    n = out_shape[0]
    nbytes = sum(a.nbytes for a in arrays)
    if _workers(n, nbytes) == 1:
        return fn(*arrays)
    out = np.empty(out_shape, dtype)

    def part(lo, hi):
        out[lo:hi] = fn(*(a[lo:hi] for a in arrays))

    batch_parallel(n, nbytes, part)
    return out


def sum_axes(x, axes):
    """The sum of float x over `axes` (a tuple of distinct non-negative axes, not all of
    them) by matrix-vector products with a vector of ones, or None where that does not apply.
    x's axes are taken in memory order (so a transposed view needs no copy: attention's bias
    gradients sum (B, T, H, K) views of (B, H, T, K) arrays over B and T), adjacent summed or
    kept axes are merged, and each run of summed axes is one GEMV (a batch of GEMVs when kept
    axes precede it). NumPy's reduction over leading axes of these shapes runs a short inner
    loop per row: (64, 64, 2, 32) over (0, 1), single-thread CPU, 0.14 ms contiguous and
    0.35 ms as the transposed view, against 0.03 / 0.05 ms here."""
    if x.dtype not in FLOAT_DTYPES or not axes or len(axes) >= x.ndim:
        return None
    order = sorted(range(x.ndim), key=lambda a: -x.strides[a])
    xp = x.transpose(order)
    if not xp.flags.c_contiguous:
        return None
    groups = []  # [summed?, size] runs in memory order
    for a, n in zip(order, xp.shape):
        r = a in axes
        if groups and groups[-1][0] == r:
            groups[-1][1] *= n
        else:
            groups.append([r, n])
    if len(groups) == 2 and groups[0][0] and groups[1][1] >= 512:
        return None  # leading axes over long rows: NumPy adds whole rows (0.020 vs 0.029 ms)
    y = xp.reshape([n for _, n in groups])
    with _single_blas():  # OpenBLAS's threaded GEMV stalls on a busy machine
        while any(r for r, _ in groups):
            j = next(i for i, (r, _) in enumerate(groups) if r)
            a = math.prod(n for _, n in groups[:j])
            m = groups[j][1]
            b = math.prod(n for _, n in groups[j + 1:])
            ones = ones_vector(m, x.dtype)
            if b == 1:
                y = y.reshape(a, m) @ ones
            else:
                y = np.matmul(ones, y.reshape(a, m, b))
            del groups[j]
    kept = [a for a in order if a not in axes]
    y = y.reshape([x.shape[a] for a in kept])
    return y.transpose(np.argsort(kept)) if kept != sorted(kept) else y


def matmul_stack(a, b, out=None):
    """np.matmul(a, b, out=out) where a and b are stacks of small matrices with the same
    leading dimension (attention's (batch, heads, T, K) products). NumPy calls one small GEMM
    per matrix, serially; here the stack is cut along its first axis into chunks of about
    `_STACK_CHUNK_BYTES` of b, shared out to the threads (each chunk one np.matmul, GIL
    released, BLAS single-threaded). When b is a transposed view (q @ k^T), each chunk of b
    is first copied to row-major order: OpenBLAS's small transposed-B GEMMs run at half speed
    ((64, 2, 64, 32) @ (64, 2, 32, 64)^T views, float32, single-thread CPU: 0.70-0.88 ms
    as one np.matmul, 0.44 ms in chunks of 8 with the copy, 0.57 ms copying all of b first).
    The same GEMMs whatever the threads, so results do not depend on them; they equal
    np.matmul's (the copy only changes which of OpenBLAS's kernels reads b: equal in the
    tests' shapes, within rounding in general). Float32 products the native GEMM wins on (thin
    2-D ones, q @ k^T stacks: gemm_native) go there first."""
    got = _gemm_native().matmul(a, b, out)
    if got is not None:
        return got
    if a.ndim == 2 and b.ndim == 2 and \
            _OPENBLAS_SERIAL_MNK < a.shape[0] * a.shape[1] * b.shape[1] < _SMALL_MNK and \
            _threads > 1 and _blas.available():
        # a tiny product: OpenBLAS's threads cost more than they save here (a hand-off to
        # the other core, and half the output then sits in that core's cache for the next
        # op). The seed MLP's (128, 10) x (10, 512) and (128, 512) x (512, 10): 30 / 17 us
        # on two threads, 17 / 16 on one; its fit, alternating processes: 1.269 -> 1.240 ms
        if b.shape[0] <= 16 and b.strides[0] == b.itemsize and b.strides[1] != b.itemsize:
            # a short reduction against a transposed weight (a classifier head's input
            # gradient, dz @ W^T): OpenBLAS's small transposed-B kernel is slow; the (k, n)
            # copy is tiny. One thread: (128, 10) x (10, 512)^T 16.4 -> 10.6 us, (128, 16) x
            # (16, 256)^T 10.1 -> 8.0, (128, 2) x (2, 512)^T 12.8 -> 8.3; equal results
            b = np.ascontiguousarray(b)
        return _blas.call_single(np.matmul, a, b, out=out)
    n = a.shape[0] if a.ndim >= 3 else 0
    if n < 2 or b.ndim != a.ndim or b.shape[0] != n or a.dtype != b.dtype or \
            a.dtype not in FLOAT_DTYPES or a.nbytes + b.nbytes < _STACK_MIN_BYTES:
        return np.matmul(a, b, out=out)
    transposed = b.strides[-2] == b.itemsize and b.strides[-1] != b.itemsize and \
        b.shape[-1] > 1 and a.shape[-2] <= 256
    nbytes = a.nbytes + b.nbytes
    if not transposed and _workers(n, nbytes, BANDWIDTH_MIN_BYTES) == 1:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) +
                       (a.shape[-2], b.shape[-1]), a.dtype)
    step = max(1, min(n // 2, _STACK_CHUNK_BYTES // max(1, b[0].nbytes)))
    chunks = [(i, min(n, i + step)) for i in range(0, n, step)]

    def scratch():
        return np.empty((step,) + b.shape[1:], b.dtype) if transposed else None

    def work(r, buf):
        lo, hi = r
        bb = b[lo:hi]
        if transposed:
            bb = buf[:hi - lo]
            np.copyto(bb, b[lo:hi])
        np.matmul(a[lo:hi], bb, out=out[lo:hi])

    run_tasks(chunks, work, nbytes, make_state=scratch, min_bytes=BANDWIDTH_MIN_BYTES)
    return out


_gemm_module = []


def _gemm_native():
    """tenfold.backend.gemm_native (imported on first use: it imports this module)."""
    if not _gemm_module:
        from tenfold.backend import gemm_native
        _gemm_module.append(gemm_native)
    return _gemm_module[0]


_SMALL_MNK = 1 << 20          # 2-D products below this many multiply-adds: BLAS on one thread
_OPENBLAS_SERIAL_MNK = 1 << 18  # ... from here: OpenBLAS runs smaller ones on one thread itself
                                # (interface/gemm.c: m n k <= 65536 * GEMM_MULTITHREAD_THRESHOLD)
_STACK_MIN_BYTES = 1 << 18    # as _MIN_PARALLEL_BYTES: smaller stacks go to np.matmul as is
_STACK_CHUNK_BYTES = 1 << 17  # 8 (2, 32, 64) float32 matrices: the fastest of 4/8/16/32


# ------------------------------------------------------------------------------------------
# shared helpers

def compute_dtype(dtype):
    """The dtype kernels compute in: float32/float64/integers as is, half types in float32."""
    dtype = np.dtype(dtype)
    if (dtype.kind == "f" and dtype.itemsize >= 4) or dtype.kind in "iu":
        return dtype
    return _F32


def out_sizes(in_sizes, ksize, strides, dilations, pads):
    """Output spatial sizes of a sliding window (0 where the window does not fit)."""
    return tuple(max(0, (n + a + b - (k - 1) * d - 1) // s + 1)
                 for n, k, s, d, (a, b) in zip(in_sizes, ksize, strides, dilations, pads))


def pad(x, pads, value=0):
    """x with its spatial dims padded by `pads` (no copy when there is no padding)."""
    if not any(a or b for a, b in pads):
        return x
    shape = (x.shape[0],) + tuple(n + a + b for n, (a, b) in zip(x.shape[1:-1], pads)) + \
        (x.shape[-1],)
    out = np.full(shape, value, dtype=x.dtype)
    out[_interior(pads, x.shape)] = x
    return out


def _interior(pads, shape):
    return (slice(None),) + tuple(slice(a, a + n) for (a, _), n in zip(pads, shape[1:-1])) + \
        (slice(None),)


def _unpad(xp, pads, shape):
    if not any(a or b for a, b in pads):
        return xp
    return np.ascontiguousarray(xp[_interior(pads, shape)])


def offsets(ksize):
    """Kernel offsets in row-major window order."""
    return itertools.product(*[range(k) for k in ksize])


def offset_slices(k, out_sp, strides, dilations):
    """The spatial slices that kernel offset `k` reads for outputs out_sp."""
    return tuple(slice(ki * d, ki * d + (o - 1) * s + 1, s) if o > 0 else slice(0, 0)
                 for ki, o, s, d in zip(k, out_sp, strides, dilations))


def offset_view(xp, k, out_sp, strides, dilations):
    """The (N, *out_sp, C) view of padded `xp` that kernel offset `k` sees."""
    return xp[(slice(None),) + offset_slices(k, out_sp, strides, dilations) + (slice(None),)]


def _reshaped(a, shape):
    """A view of `a` with a new shape; raises rather than copy (a copy would lose writes)."""
    try:
        return np.reshape(a, shape, copy=False)  # NumPy >= 2.1
    except TypeError:
        v = a.view()
        v.shape = shape
        return v


def windows(xp, out_sp, ksize, strides, dilations):
    """A read-only (N, *out_sp, *ksize, C) view of every window of padded `xp`."""
    st = xp.strides
    nd = len(ksize)
    shape = (xp.shape[0],) + tuple(out_sp) + tuple(ksize) + (xp.shape[-1],)
    strides_ = (st[0],) + tuple(st[1 + i] * strides[i] for i in range(nd)) + \
        tuple(st[1 + i] * dilations[i] for i in range(nd)) + (st[-1],)
    return as_strided(xp, shape, strides_, writeable=False)


def _image_ranges(n, b):
    """(n0, n1) chunks of b images covering range(n)."""
    return [(n0, min(n, n0 + b)) for n0 in range(0, n, b)]


def _chunk(n, bytes_per_image, budget):
    return max(1, min(n, budget // max(1, bytes_per_image)))


def _non_overlapping(ksize, strides, dilations, pads):
    return all(d == 1 and s >= k for k, s, d in zip(ksize, strides, dilations)) and \
        not any(a or b for a, b in pads)


# ------------------------------------------------------------------------------------------
# convolution: y = conv(x, w) and its adjoints in x (conv_backprop_input, the transposed
# convolution) and in w (conv_backprop_filter). `groups` splits channels as TF does.

class _Columns:
    """Chunked im2col of padded xp (N, *S, C): `ranges` of images, a per-thread `buffer()`,
    and `fill(buf, n0, n1)` giving the chunk's column matrix, (rows, K*C) -- or offset-major
    (K, rows) when C == 1. `ones` appends a column (row) of ones, so a bias rides along in
    the GEMM instead of costing a pass over the output."""

    def __init__(self, xp, out_sp, ksize, strides, dilations, budget, ones=False, cout=0):
        self.xp, self.out_sp, self.ksize, self.ones = xp, tuple(out_sp), tuple(ksize), ones
        self.cin = xp.shape[-1]
        self.rows, self.kk = math.prod(out_sp), math.prod(ksize)
        self.kdim = self.kk * self.cin
        n = xp.shape[0]
        # `cout`: the chunk's output block counts too, so an epilogue finds it in cache
        self.b = _chunk(n, self.rows * (self.kdim + ones + cout) * xp.dtype.itemsize, budget)
        self.ranges = _image_ranges(n, self.b)
        self.offset_major = self.cin == 1
        if self.offset_major:
            self.slices = [offset_slices(k, out_sp, strides, dilations) + (0,)
                           for k in offsets(ksize)]
        else:
            self.win = windows(xp, out_sp, ksize, strides, dilations)

    def buffer(self):
        if self.offset_major:
            buf = np.empty((self.kk + self.ones, self.b) + self.out_sp, self.xp.dtype)
            if self.ones:
                buf[self.kk] = 1
        else:
            buf = np.empty((self.b * self.rows, self.kdim + self.ones), self.xp.dtype)
            if self.ones:
                buf[:, self.kdim] = 1
        return buf

    def fill(self, buf, n0, n1):
        m = n1 - n0
        if self.offset_major:
            cols = buf[:, :m]
            for i, sl in enumerate(self.slices):
                cols[i] = self.xp[(slice(n0, n1),) + sl]
            return cols.reshape(cols.shape[0], -1)
        cols = buf[:m * self.rows]
        target = cols[:, :self.kdim] if self.ones else cols
        np.copyto(_reshaped(target, (m,) + self.out_sp + self.ksize + (self.cin,)),
                  self.win[n0:n1])
        return cols


def _row_ranges(m, row_bytes, budget=_CHUNK_BYTES):
    b = _chunk(m, row_bytes, budget)
    return [(r, min(m, r + b)) for r in range(0, m, b)]


def _chunked_matmul(a, b, out, epilogue=None):
    """out = a @ b by row chunks shared out to the threads (BLAS single-threaded)."""
    def work(r, _):
        block = out[r[0]:r[1]]
        np.matmul(a[r[0]:r[1]], b, out=block)
        if epilogue is not None:
            epilogue(block)

    run_tasks(_row_ranges(a.shape[0], (a.shape[1] + out.shape[1]) * a.dtype.itemsize), work,
              a.nbytes + out.nbytes)


def _chunked_matmul_tn(a, b):
    """a.T @ b summed over row chunks, in chunk order (deterministic under threads)."""
    ranges = _row_ranges(a.shape[0], (a.shape[1] + b.shape[1]) * a.dtype.itemsize,
                         _FILTER_CHUNK_BYTES)
    return sum_in_order(map_tasks(ranges, lambda r, _: np.matmul(a[r[0]:r[1]].T, b[r[0]:r[1]]),
                                  a.nbytes + b.nbytes))


def _is_pointwise(ksize, strides, pads):
    return all(k == 1 for k in ksize) and all(s == 1 for s in strides) and \
        not any(a or b for a, b in pads)


_ZERO_RUN = 1 << 14
_zero_runs = {}


def relu(x, out=None):
    """max(x, 0). NumPy's maximum against a scalar takes a loop that is not vectorized (4x
    slower than an array-array maximum with AVX-512, NumPy 2.4), so contiguous float arrays
    are compared row by row with a 64 KB run of zeros that stays in L1/L2."""
    if type(x) is not np.ndarray:  # a device array (CuPy, the CI stand-in): its own maximum
        return np.maximum(x, x.dtype.type(0), out=out)
    if out is None:
        out = np.empty_like(x)
    n = x.size
    if n < 4096 or x.dtype not in FLOAT_DTYPES or not (x.flags.c_contiguous and
                                                          out.flags.c_contiguous):
        return np.maximum(x, x.dtype.type(0), out=out)
    z = _zero_runs.get(x.dtype)
    if z is None:
        z = _zero_runs[x.dtype] = np.zeros(_ZERO_RUN, x.dtype)
        z.flags.writeable = False
    xf, of = x.reshape(-1), out.reshape(-1)
    full = n - n % _ZERO_RUN
    if full:
        np.maximum(xf[:full].reshape(-1, _ZERO_RUN), z, out=of[:full].reshape(-1, _ZERO_RUN))
    if full < n:
        np.maximum(xf[full:], z[:n - full], out=of[full:])
    return out


def _epilogue(block, bias, apply_relu):
    if bias is not None:
        block += bias
    if apply_relu:
        relu(block, block)


_relu_kernel = relu   # for functions whose `relu` argument is a flag


# LeakyReLU, y = max(x * alpha, x) for alpha <= 1, and its gradient, each in one pass over
# memory: the ufuncs of the unfused chain (multiply, maximum; and for the gradient the
# maximum's tie rule, alpha * x >= x, then g * alpha or g), run by `blockwise` on blocks that
# stay in L2 with per-thread temporaries, so the values are the chain's bit for bit. The
# gradient reads the output y: alpha * y >= y exactly where alpha * x >= x (y = alpha * x
# there, else y = x, for 0 < alpha <= 1), so the pre-activation need not be kept. Measured
# (64x28x28x128 float32, the DCGAN generator's, one thread, process time, median of 7,
# alternating, /work/scratch/dcgan/leaky.py): forward 11.7 ms (multiply then maximum) -> 7.3
# ms; gradient 111-119 ms (multiply, greater_equal, 2 selects, multiply, add) -> 14.5 ms.

# Natively (native/activations.c), each is one C loop with the same float operations per
# element (bit-identical); (64, 28, 28, 128) float32, one thread, process time, medians of
# 7 alternating, with other jobs on the machine (/work/scratch/lr_ab.py): forward (with
# its output's allocation) 20.7 -> 15.5 ms, gradient 31.6 -> 19.0 ms.
# One call where one thread runs it (not 64K-element chunks: ~17 us of Python per chunk),
# 1 MB chunks to the threads from BANDWIDTH_MIN_BYTES on. A single pass saturates much of
# the memory bandwidth with one thread here: a C loop over (64, 28, 28, 128) float32 takes
# 2.0-2.4 ms on one core, 1.0-1.2 on two started together (best of 31), but Python threads
# wake late and the 2 cores are shared, so smaller arrays run serially (1.5-6 MB: 1.1-1.4x
# slower on two threads, wall minimum of 41 alternating, /work/scratch/ew/thr3.py).
_NATIVE_CHUNK = 1 << 18


_activation_fns = {}   # (name, dtype, #arrays, #ints, #doubles) -> (library, ctypes function)


def _activations_fn(name, dt, n_arrays, n_ints, n_doubles):
    """The native activations kernel `name` for dtype dt (n_arrays pointers, n_ints int64s,
    n_doubles doubles), or None. Kept per library: elementwise kernels run every step on
    small arrays, where building the argument types on each call showed (~0.5 us)."""
    lib = _native.load("activations")
    if lib is None:
        return None
    key = (name, dt, n_arrays, n_ints, n_doubles)
    got = _activation_fns.get(key)
    if got is None or got[0] is not lib:
        fn = _native.kernel("activations", name, dt, _native.pointers_and_ints(
            n_arrays, n_ints) + [_native.f64] * n_doubles)
        if fn is None:
            return None
        got = _activation_fns[key] = (lib, fn)
    return got[1]


def _activation(name, dt, n_arrays):
    """The native `name` kernel for dtype dt (arrays..., n, alpha), or None."""
    return _activations_fn(name, dt, n_arrays, 1, 1)


def _native_chunks(fn, args, doubles, n, unit, nbytes):
    """fn(*args(lo, hi), *doubles) over [lo, hi) ranges covering range(n) (n items of `unit`
    elements each): one call where one thread runs it, else fixed chunks of about
    _NATIVE_CHUNK elements shared out to the threads (elementwise kernels: the values do not
    depend on the split). The chunks run on the C pool where it can be had (native_pool: no
    GIL, a region started in microseconds, where a hand-off to the Python kernel threads
    costs 40-70 us)."""
    step = max(1, _NATIVE_CHUNK // max(1, unit))
    if n <= step or _workers(2, nbytes, BANDWIDTH_MIN_BYTES) == 1 or _busy():
        fn(*args(0, n), *doubles)
        return
    starts = range(0, n, step)
    from tenfold.backend import native_pool   # (it imports this module)
    if native_pool.run(fn, [args(lo, min(n, lo + step)) for lo in starts], doubles):
        return
    run_tasks(list(starts), lambda lo, _: fn(*args(lo, min(n, lo + step)), *doubles), nbytes,
              min_bytes=BANDWIDTH_MIN_BYTES)


def _native_elementwise(name, arrays, alpha):
    """Runs the native elementwise kernel over same-shape C-contiguous float arrays (the last
    one written), in fixed chunks shared out to the threads; False where it does not apply."""
    a0 = arrays[0]
    if not _native.usable(*arrays) or any(a.shape != a0.shape for a in arrays):
        return False
    fn = _activation(name, a0.dtype, len(arrays))
    if fn is None:
        return False
    base = [_native.addr(a) for a in arrays]
    n = a0.size
    if n <= _NATIVE_CHUNK:   # one call, as _native_chunks would make it (small: every us shows)
        fn(*base, n, alpha)
        return True
    size = a0.itemsize
    _native_chunks(fn, lambda lo, hi: [b + lo * size for b in base] + [hi - lo], (alpha,),
                   n, 1, a0.nbytes * len(arrays))
    return True


# A bias add, and a bias add then LeakyReLU, natively in one pass (the executor's chains run
# the latter after a convolution with that activation). NumPy twin -> native, float32, one
# thread, process time, medians of 15 alternating, machine under load ~5 (/work/scratch/ew/
# bias_ab.py): bias add (64, 28, 28, 128) 5.6 -> 4.5 ms, (64, 14, 14, 128) 0.97 -> 0.61;
# bias + LeakyReLU 8.9 -> 5.7 ms, 1.65 -> 0.70.
def _bias_rows(x, b, out):
    """The native bias kernels' row length c (b a vector along x's last axis, every array
    C-contiguous of one float dtype, b apart from out), else None. Not for c = 1: NumPy adds
    a scalar at full speed (64x28x28x1: 0.04 ms, a C loop over rows of one 0.36 ms)."""
    c = b.shape[0] if b.ndim == 1 else -1
    if x.ndim < 2 or x.shape[-1] != c or out.shape != x.shape or c < 2 or \
            x.size < _NATIVE_BIAS_MIN or \
            not _native.usable(x, b, out) or np.may_share_memory(b, out):
        return None
    return c


# smaller arrays: NumPy's broadcast add (1.4 us on (128, 10)) beats the native call's checks
# and ctypes call (6.6 us); at (128, 512) they tie (11.1 / 10.2 us)
_NATIVE_BIAS_MIN = 1 << 14


def _native_bias(name, x, b, out, *extra):
    """Runs native `name`(x, b, out, rows, c, *extra) over row chunks; False where it does
    not apply."""
    c = _bias_rows(x, b, out)
    if c is None:
        return False
    fn = _activations_fn(name, x.dtype, 3, 2, len(extra))
    if fn is None:
        return False
    px, pb, po = _native.addr(x), _native.addr(b), _native.addr(out)
    row = c * x.itemsize
    _native_chunks(fn, lambda lo, hi: (px + lo * row, pb, po + lo * row, hi - lo, c), extra,
                   x.size // c, c, 2 * x.nbytes)
    return True


def bias_add(x, b, out):
    """out = x + b for a vector b along x's last axis, natively (out may be x): True, or False
    where that does not apply (the caller runs np.add, a short inner loop per row)."""
    return _native_bias("bias_add", x, b, out)


def bias_relu(x, b, out):
    """relu(x + b) into out (may be x), b a vector along x's last axis: one native pass where
    it applies (bias_add's and relu's float operations on each element, bit for bit), else
    the two steps."""
    if type(x) is np.ndarray and type(b) is np.ndarray and type(out) is np.ndarray and \
            _native_bias("bias_relu", x, b, out):
        return out
    np.add(x, b, out=out)
    return relu(out, out)


def relu_grad(g, y, out):
    """g * (y > 0) into out (may be g or y) in one native pass, the values of NumPy's multiply
    by the bool mask: True, or False where the kernel does not take the arrays (the caller
    then runs its twin, the mask and the multiply)."""
    # (_native_elementwise checks the arrays: NumPy's, one dtype and shape, contiguous)
    return _native_elementwise("relu_grad", [g, y, out], 0.0)


def bias_leaky_relu(x, b, alpha, out):
    """leaky_relu(x + b, alpha) into out (may be x), b a vector along x's last axis: one
    native pass where it applies (the add's and leaky_relu's float operations on each
    element, bit for bit), else the two steps."""
    a = x.dtype.type(alpha)
    if type(x) is np.ndarray and type(b) is np.ndarray and type(out) is np.ndarray and \
            _native_bias("bias_leaky_relu", x, b, out, float(a)):
        return out
    np.add(x, b, out=out)
    return leaky_relu(out, alpha, out)


def leaky_relu(x, alpha, out=None):
    """max(x * alpha, x), alpha <= 1 (out may be x)."""
    a = x.dtype.type(alpha)
    if type(x) is np.ndarray and (out is None or type(out) is np.ndarray):
        o = np.empty_like(x) if out is None else out
        if _native_elementwise("leaky_relu", [x, o], float(a)):
            return o

        def body(xb, ob, t):
            np.multiply(xb, a, out=t)
            np.maximum(t, xb, out=ob)

        if blockwise(body, [x, o], 1):
            return o
    return np.maximum(np.multiply(x, a), x, out=out)


def leaky_relu_backprop(g, y, alpha, out=None):
    """The gradient through y = leaky_relu(x, alpha), 0 < alpha <= 1, from y: g * alpha where
    alpha * y >= y (maximum's tie rule picks x * alpha there), else g (out may be g or y)."""
    a = y.dtype.type(alpha)
    one = y.dtype.type(1)
    if type(g) is np.ndarray and type(y) is np.ndarray and g.shape == y.shape and \
            g.dtype == y.dtype and (out is None or type(out) is np.ndarray):
        o = np.empty_like(g) if out is None else out
        if _native_elementwise("leaky_relu_backprop", [g, y, o], float(a)):
            return o

        def body(gb, yb, ob, t, u):
            # the factor alpha or 1 by exact arithmetic on the mask as 0.0 / 1.0 (a masked
            # multiply or np.where branches per element: 100x slower on a random mask)
            np.multiply(yb, a, out=t)
            np.greater_equal(t, yb, out=t)        # before ob (which may be y) is written
            np.subtract(one, t, out=u)
            np.multiply(t, a, out=t)
            np.add(t, u, out=t)
            np.multiply(gb, t, out=ob)

        if blockwise(body, [g, y, o], 2):
            return o
    mask = np.greater_equal(np.multiply(y, a), y)
    res = np.where(mask, np.multiply(g, a), g)
    if out is None:
        return res
    np.copyto(out, res)
    return out


def _conv1(xp, w, out, strides, dilations, bias=None, relu=False, sink=None, out_sp=None):
    """One group: out[...] = conv of padded xp with w (out preallocated, channels-last), plus
    bias (a row of the GEMM) and ReLU applied chunk by chunk while the chunk is in cache.
    With `sink`, out is None and each chunk's block goes to sink(n0, n1, block) instead (a
    per-thread buffer, reused)."""
    ksize, cout = w.shape[:-2], w.shape[-1]
    out_sp = out.shape[1:-1] if out_sp is None else tuple(out_sp)
    w2 = w.reshape(-1, cout)
    o2 = None if out is None else out.reshape(-1, cout)
    if _is_pointwise(ksize, strides, ((0, 0),)):
        _chunked_matmul(xp.reshape(-1, xp.shape[-1]), w2, o2,
                        lambda block: _epilogue(block, bias, relu))
        return
    # the bias rides in the GEMM as a column (row) of ones; ReLU is applied to each block
    # while it is in cache, so the chunk budget counts the output block too
    # a sink's pooling costs a dozen NumPy calls per chunk: bigger chunks amortize them
    cols = _Columns(xp, out_sp, ksize, strides, dilations,
                    _CHUNK_BYTES if sink is None else 2 * _CHUNK_BYTES,
                    ones=bias is not None, cout=cout if relu or sink else 0)
    if bias is not None:
        w2 = np.concatenate([w2, bias.reshape(1, cout)])
    rows = cols.rows

    def state():
        return cols.buffer(), None if sink is None else np.empty((cols.b * rows, cout), xp.dtype)

    def work(r, bufs):
        n0, n1 = r
        c = cols.fill(bufs[0], n0, n1)
        block = o2[n0 * rows:n1 * rows] if sink is None else bufs[1][:(n1 - n0) * rows]
        np.matmul(c.T if cols.offset_major else c, w2, out=block)
        _epilogue(block, None, relu)
        if sink is not None:
            sink(n0, n1, block)

    out_bytes = xp.shape[0] * rows * cout * xp.dtype.itemsize
    run_tasks(cols.ranges, work, out_bytes + xp.nbytes, state)


def _direct():
    """The native direct convolution for few input channels (imported on first use)."""
    from tenfold.backend import conv_direct
    return conv_direct


def _narrow():
    """The native convolutions with few output channels (backend/conv_narrow.py; imported
    on first use: it imports this module)."""
    from tenfold.backend import conv_narrow
    return conv_narrow


def _native_conv():
    """The native implicit-GEMM convolutions (backend/conv_native.py; imported on first use:
    it imports this module)."""
    from tenfold.backend import conv_native
    return conv_native


def conv(x, w, strides, dilations, pads, groups=1):
    """Convolution (cross-correlation, as TF): x (N, *S, C), w (*K, C // groups, O)."""
    return conv_bias_act(x, w, None, strides, dilations, pads, groups)


def conv_bias_act(x, w, b, strides, dilations, pads, groups=1, relu=False):
    """relu?(conv(x, w) + b) in one pass over the output (b may be None)."""
    dt = x.dtype
    ct = compute_dtype(dt)
    w = w.astype(ct, copy=False)
    if b is not None:
        b = b.astype(ct, copy=False)
    x = x.astype(ct, copy=False)  # once (a half-precision x is copied here, and only here)
    ksize = w.shape[:-2]
    out_sp = out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    cout = w.shape[-1]
    out_shape = (x.shape[0],) + out_sp + (cout,)
    if math.prod(out_shape) and w.shape[-2] and groups == 1 and \
            not _scatter_wins(w.shape, strides):
        y = _native_conv().conv(x, w, b, strides, dilations, pads, relu)
        if y is None and not LEGACY:  # few input channels where the above does not apply
            y = _direct().conv_bias_act(x, w, b, strides, dilations, pads, relu)
        if y is not None:
            return y.astype(dt, copy=False)
    out = np.empty(out_shape, ct)
    if out.size == 0:
        return out.astype(dt, copy=False)
    if w.shape[-2] == 0:
        out.fill(0)
        _epilogue(out, b, relu)
        return out.astype(dt, copy=False)
    if groups == 1 and _scatter_wins(w.shape, strides):  # reads x unpadded
        # native, vectorized over C_in
        y = _narrow().conv_bias_act(x, w, b, strides, dilations, pads, relu)
        if y is not None:
            return y.astype(dt, copy=False)
        _conv_by_scatter(x, w, out, dilations, pads)
        _epilogue(out, b, relu)
        return out.astype(dt, copy=False)
    tile = _untiled_unpadded(_tile_for(w.shape[-2], cout, ksize, out_sp, strides), pads) \
        if _tiled_ok(x.shape, w.shape, strides, dilations, pads, groups, strided=True) else None
    if tile is not None:  # by output tiles; pads each chunk itself
        _conv2d_tiled(x, w, out, pads, tile, b, relu, tuple(strides))
        return out.astype(dt, copy=False)
    xp = pad(x, pads)
    if groups == 1:
        _conv1(xp, w, out, strides, dilations, b, relu)
    else:
        cg, og = w.shape[-2], cout // groups
        for g in range(groups):
            part = np.empty(out.shape[:-1] + (og,), ct)
            _conv1(np.ascontiguousarray(xp[..., g * cg:(g + 1) * cg]),
                   w[..., g * og:(g + 1) * og], part, strides, dilations,
                   None if b is None else b[g * og:(g + 1) * og], relu)
            out[..., g * og:(g + 1) * og] = part
    return out.astype(dt, copy=False)


# A stride-1 convolution with few output channels (C_out * 8 <= C_in: the DCGAN generator's
# last Conv2D(1, 7) on 128 channels) would copy K * C_in im2col values per output position
# for a GEMM only C_out wide. Instead: one GEMM of the input (C_in deep, K * C_out wide),
# then K shifted adds of C_out channels (_conv_by_scatter). Measured (2 cores, load 6-12,
# best of 9 / 3, float32, b64, alternating in one process, bench/bench_conv_kernels.py
# --scatter; noisy): 7x7 128->1 28x28 SAME: 99 ms vs 373 ms, and 84 vs 493, for im2col +
# GEMV; at C_out * 4 == C_in it is a tie (3x3 64->16 16x16: 17 vs 22, then 28.5 vs 26.6;
# 3x3 32->8: 6.1 vs 8.4, then 3.6 vs 3.3), so the threshold is 8x.
# x is not padded: the GEMM runs over the input's rows and each tap adds only where it lands
# inside x (7x7 128->1 28x28 SAME b64, one thread, process time, median of 5, alternating:
# 42 -> 23 ms, /work/scratch/dcgan/ab.py).

def _scatter_wins(w_shape, strides):
    return not LEGACY and all(s == 1 for s in strides) and w_shape[-1] * 8 <= w_shape[-2]


def _conv_by_scatter(x, w, out, dilations, pads):
    """out = stride-1 conv of x (unpadded; `pads` the conv's) with w, as Z = x @ [w_0 ..
    w_K-1] (one GEMM per chunk of images, C_in deep and K * C_out wide) and out[o] =
    sum_k Z[o - pad + k*d, k] over the taps whose position is inside x (no padded copy of x,
    and the GEMM has the input's rows, not the padded input's)."""
    ksize, cin, cout = w.shape[:-2], w.shape[-2], w.shape[-1]
    kk = math.prod(ksize)
    wall = np.ascontiguousarray(w.reshape(kk, cin, cout).transpose(1, 0, 2)).reshape(
        cin, kk * cout)
    sp = x.shape[1:-1]
    out_sp = out.shape[1:-1]
    rows = math.prod(sp)
    n = x.shape[0]
    x2 = x.reshape(n * rows, cin) if x.flags.c_contiguous else \
        np.ascontiguousarray(x).reshape(n * rows, cin)
    b = _chunk(n, rows * (kk * cout + cin) * x.dtype.itemsize, 2 * _CHUNK_BYTES)
    adds = []   # per tap: (the outputs it reaches, the input positions p = o + shift)
    for i, k in enumerate(offsets(ksize)):
        dst, src = [], []
        for ki, d, (pb, _), ni, no in zip(k, dilations, pads, sp, out_sp):
            shift = ki * d - pb
            lo, hi = max(0, -shift), min(no, ni - shift)
            dst.append(slice(lo, max(lo, hi)))
            src.append(slice(lo + shift, max(lo, hi) + shift))
        if all(sl.stop > sl.start for sl in dst):
            adds.append(((slice(None),) + tuple(dst) + (slice(None),),
                         (slice(None),) + tuple(src) + (i, slice(None))))
    # the first tap that covers every output is copied, not added (no zero fill)
    full = next((j for j, (dsl, _) in enumerate(adds)
                 if all(sl.start == 0 and sl.stop == no for sl, no in zip(dsl[1:-1], out_sp))),
                None)
    if full is not None:
        adds.insert(0, adds.pop(full))

    def work(r, buf):
        n0, n1 = r
        m = n1 - n0
        z = np.matmul(x2[n0 * rows:n1 * rows], wall, out=buf[:m * rows])
        z = z.reshape((m,) + sp + (kk, cout))
        dst = out[n0:n1]
        if full is None:
            dst.fill(0)
        for j, (dsl, ssl) in enumerate(adds):
            if j == 0 and full is not None:
                np.copyto(dst, z[ssl])
            else:
                dst[dsl] += z[ssl]

    run_tasks(_image_ranges(n, b), work, x.nbytes + out.nbytes,
              lambda: np.empty((b * rows, kk * cout), x.dtype))


# ------------------------------------------------------------------------------------------
# output-tiled 2-D convolution (stride 1, undilated, one group): each GEMM row computes a tile
# of th x tw output pixels from its (th+kh-1) x (tw+kw-1) input patch, with a block-structured
# weight ((th+kh-1)(tw+kw-1)C_in, th*tw*C_out) that holds w at every tile position. For few
# channels this widens the skinny GEMM (C_out = 16 runs at ~40% of the speed of 64 wide in
# OpenBLAS) and shrinks the im2col copy ((th+2)(tw+2)/(th*tw) instead of 9 values of C_in per
# output for 3x3) for (th+kh-1)(tw+kw-1)/(kh*kw) times the FLOPs. Chunks of images are padded
# into a per-thread buffer (no pad() of the whole input), their columns stay in cache, and the
# bias and ReLU are applied to each chunk's block in cache. The input gradient of a stride-1
# convolution is the same kernel on dy with the flipped, transposed filter, and the filter
# gradient multiplies the same columns by dy laid out in tiles.

def _tiled_ok(x_shape, w_shape, strides, dilations, pads, groups, strided=False):
    return (not LEGACY and groups == 1 and len(x_shape) == 4 and
            (strided or all(s == 1 for s in strides)) and all(d == 1 for d in dilations) and
            all(a >= 0 and b >= 0 for a, b in pads) and w_shape[-2] > 0 and w_shape[-1] > 0)


# Which tile, by channel count (max of C_in and C_out, so a conv and its input gradient
# agree). Measured on ResNet-20's 3x3 SAME convs at batch 64, float32, one thread
# (process_time, medians of 11, old/new alternating in one process, machine under load;
# forward with bias / input gradient / filter gradient, ms):
#   16->16 32x32: old 8.5 / 11.8 / 9.9;  1x1 tile 7.9 / 7.3 / 8.1;  1x2 7.1 / 6.4 / 7.0;
#                 2x2 7.4 / 7.0 / 7.8
#   32->32 16x16: old 5.5 / 7.9 / 6.4;   1x1 5.2 / 5.3 / 5.3;  1x2 5.1 / 4.8 / 5.2;
#                 2x2 6.3 / 7.4 / 6.2
#   64->64 8x8:   old 5.7 / 4.0 / 6.1;   1x1 5.6 / 3.3 / 5.6;  1x2 6.6 / 3.9 / 6.6
# (the input gradient's win is mostly the phase path's nine small copies per image going).
#   3->16 32x32 (ResNet's first conv): old 3.0 / - / 4.2;  1x1 3.0 / 4.1;  1x2 2.2 / 2.8;
#                 1x4 2.0 / 2.7;  2x2 2.3 / 3.1 (forward / filter gradient)
# Strided convs (forward and filter gradient; ResNet's 3x3/2 SAME, pads (0, 1), and the
# MobileNet-style stem), same method:
#   3x3/2 16->32 32x32: old 5.3 / 6.3;  1x1 tile 4.1 / 4.8;  1x2 4.7 / 5.6
#   3x3/2 32->64 16x16: old 3.5 / 3.7;  1x1 3.0 / 3.0;  1x2 3.9 / 4.0
#   3x3/2 3->32 64x64:  old 4.9 / 5.5;  1x1 4.4 / 5.0;  1x2 4.2 / 4.6
#   1x1/2 16->32 32x32: old 0.85 / 0.82;  1x1 0.87 / 0.84 (unpadded 1x1 tiles: plain path)
#   Siamese 5x5 4->16 12x12 VALID b16 (1x2): 0.25 / 0.26 -> 0.25 / 0.23.
# Above 64 channels, or C_in == 1 (offset-major columns), the plain path stays: unmeasured.
_TILE_MAX_CHANNELS = 64


def _tile_for(cin, cout, ksize, out_sp, strides=(1, 1)):
    """The output tile (th, tw) for an undilated 2-D conv, or None for the plain im2col
    path."""
    c = max(cin, cout)
    if cin < 2 or c > _TILE_MAX_CHANNELS or any(k > 7 for k in ksize) or cout * 8 <= cin:
        return None   # (C_out * 8 <= C_in: the scatter forms, see _scatter_wins)
    if all(k == 1 for k in ksize) and all(s == 1 for s in strides):
        return None   # pointwise: one plain GEMM, no columns to save
    if any(s > 1 for s in strides):
        first = 2 if cin <= 4 else 1
    else:
        first = 4 if c <= 8 else 2 if c <= 32 else 1
    for tw in (first, 2, 1):
        if out_sp[1] % tw == 0:
            return 1, tw


def _untiled_unpadded(tile, pads):
    """None for 1x1 tiles without padding: then the plain im2col path is the same algorithm
    (MNIST convnet 3x3 32->64 13x13 VALID b128 with ReLU, one thread: forward 9.7 ms plain vs
    10.1 tiled, filter gradient 8.4 vs 8.3)."""
    if tile == (1, 1) and not any(a or b for a, b in pads):
        return None
    return tile


def _tile_weight(w, th, tw, strides=(1, 1)):
    """(ph, pw, C_in, th, tw, C_out) zeros with w at each tile position, flat (the patch
    ph = (th-1)*s + kh by pw = (tw-1)*s + kw)."""
    kh, kw, cin, cout = w.shape
    sh, sw = strides
    ph, pw = (th - 1) * sh + kh, (tw - 1) * sw + kw
    wb = np.zeros((ph, pw, cin, th, tw, cout), w.dtype)
    for a in range(th):
        for b in range(tw):
            wb[a * sh:a * sh + kh, b * sw:b * sw + kw, :, a, b, :] = w
    return wb.reshape(ph * pw * cin, th * tw * cout)


class _TiledColumns:
    """Chunked, per-chunk padded, output-tiled im2col of x (N, H, W, C) for a stride-1 conv
    with kernel (kh, kw), pads ((pt, pb), (pl, pr)) and output tile (th, tw). Without
    padding the columns are copied from x itself (no padded buffer)."""

    def __init__(self, x, ksize, pads, tile, out_per_row, budget, strides=(1, 1)):
        n, h, w, c = x.shape
        (kh, kw), ((pt, pb), (pl, pr)), (th, tw) = ksize, pads, tile
        self.x, self.pads, self.tile, self.strides = x, pads, tile, strides
        sh, sw = strides
        self.ho, self.wo = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        self.ht, self.wt = self.ho // th, self.wo // tw
        # the padded extent the windows read (a stride may leave the last rows unread)
        self.hp, self.wp = (self.ho - 1) * sh + kh, (self.wo - 1) * sw + kw
        self.ph, self.pw = (th - 1) * sh + kh, (tw - 1) * sw + kw
        self.rows = self.ht * self.wt
        self.kdim = self.ph * self.pw * c
        self.h_in, self.w_in = max(0, min(h, self.hp - pt)), max(0, min(w, self.wp - pl))
        self.padded = bool(pt or pb or pl or pr)
        per_image = ((self.hp * self.wp * c if self.padded else 0) +
                     self.rows * (self.kdim + out_per_row)) * x.dtype.itemsize
        self.b = _chunk(n, per_image, budget)
        self.ranges = _image_ranges(n, self.b)

    def _windows(self, a):
        s = a.strides
        (th, tw), (sh, sw) = self.tile, self.strides
        return as_strided(a, (a.shape[0], self.ht, self.wt, self.ph, self.pw, a.shape[-1]),
                          (s[0], s[1] * th * sh, s[2] * tw * sw, s[1], s[2], s[3]),
                          writeable=False)

    def buffers(self):
        c = self.x.shape[-1]
        cols = np.empty((self.b * self.rows, self.kdim), self.x.dtype)
        if not self.padded:
            return None, self._windows(self.x), cols
        xb = np.zeros((self.b, self.hp, self.wp, c), self.x.dtype)
        return xb, self._windows(xb), cols

    def fill(self, bufs, n0, n1):
        xb, win, cols = bufs[:3]
        m = n1 - n0
        if xb is None:
            src = win[n0:n1]
        else:
            (pt, _), (pl, _) = self.pads
            xb[:m, pt:pt + self.h_in, pl:pl + self.w_in] = \
                self.x[n0:n1, :self.h_in, :self.w_in]
            src = win[:m]
        c = cols[:m * self.rows]
        np.copyto(_reshaped(c, (m, self.ht, self.wt, self.ph, self.pw, self.x.shape[-1])), src)
        return c


def _conv2d_tiled(x, w, out, pads, tile, bias=None, relu=False, strides=(1, 1)):
    """out = relu?(conv(x, w) + bias), undilated, one group, 2-D, by output tiles."""
    th, tw = tile
    cout = w.shape[-1]
    width = th * tw * cout
    # the GEMM writes straight into out when a row of tiles is a row of out (th == 1)
    direct = th == 1 and out.flags.c_contiguous
    cols = _TiledColumns(x, w.shape[:2], pads, tile, 0 if direct else width, _TILED_BYTES,
                         strides)
    wb = _tile_weight(w, th, tw, strides)
    rows, ht, wt = cols.rows, cols.ht, cols.wt
    # the bias repeated over a whole image's output: one long add per image instead of a
    # broadcast over short rows (16 channels, 32x32: 0.30 ms vs 0.56 per batch of 64)
    per_image = rows * width <= 1 << 16
    bt = None if bias is None else np.tile(bias, rows * th * tw if per_image else th * tw)

    def state():
        return cols.buffers() + (None if direct else np.empty((cols.b * rows, width), x.dtype),)

    def work(r, bufs):
        n0, n1 = r
        m = n1 - n0
        c = cols.fill(bufs, n0, n1)
        block = out[n0:n1].reshape(m * rows, width) if direct else bufs[3][:m * rows]
        np.matmul(c, wb, out=block)
        _epilogue(block.reshape(m, rows * width) if per_image else block, bt, relu)
        if not direct:
            np.copyto(out[n0:n1].reshape(m, ht, th, wt, tw, cout),
                      block.reshape(m, ht, wt, th, tw, cout).transpose(0, 1, 3, 2, 4, 5))

    run_tasks(cols.ranges, work, x.nbytes + out.nbytes, state)


def _backprop_filter_tiled(x, dy, ksize, pads, tile, strides=(1, 1)):
    """The filter gradient (kh*kw*C_in, C_out) of a stride-1 undilated 2-D conv: per chunk,
    P = cols^T @ dy_tiles ((th+kh-1)(tw+kw-1)C_in x th*tw*C_out), summed over the chunks in
    order; then dw[i, j] = sum over tile positions (a, b) of P[a + i, b + j, :, a, b, :]."""
    th, tw = tile
    kh, kw = ksize
    cin, cout = x.shape[-1], dy.shape[-1]
    width = th * tw * cout
    direct = th == 1   # dy's rows are already rows of 1 x tw tiles
    cols = _TiledColumns(x, ksize, pads, tile, width, _FILTER_TILED_BYTES, strides)
    rows, ht, wt = cols.rows, cols.ht, cols.wt

    def state():
        return cols.buffers() + (None if direct else np.empty((cols.b * rows, width), x.dtype),)

    def work(r, bufs):
        n0, n1 = r
        m = n1 - n0
        c = cols.fill(bufs, n0, n1)
        if direct:
            g = dy[n0:n1].reshape(m * rows, width)
        else:
            g = bufs[3][:m * rows]
            np.copyto(_reshaped(g, (m, ht, wt, th, tw, cout)),
                      dy[n0:n1].reshape(m, ht, th, wt, tw, cout).transpose(0, 1, 3, 2, 4, 5))
        return np.matmul(c.T, g)

    p = sum_in_order(map_tasks(cols.ranges, work, x.nbytes + dy.nbytes, state))
    p = p.reshape(cols.ph, cols.pw, cin, th, tw, cout)
    dw = np.zeros((kh, kw, cin, cout), p.dtype)
    sh, sw = strides
    for a in range(th):
        for b in range(tw):
            dw += p[a * sh:a * sh + kh, b * sw:b * sw + kw, :, a, b, :]
    return dw.reshape(kh * kw * cin, cout)


def _flipped_for_input_grad(w, pads):
    """(filter, pads) with which the stride-1 input gradient is a forward convolution of dy:
    w flipped in space with C_in and C_out swapped, pads k-1-p (None if a pad exceeds k-1)."""
    kh, kw = w.shape[:2]
    (pt, pb), (pl, pr) = pads
    p2 = ((kh - 1 - pt, kh - 1 - pb), (kw - 1 - pl, kw - 1 - pr))
    if any(a < 0 or b < 0 for a, b in p2):
        return None, None
    return np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2)), p2


def relu_backprop(g, y):
    """g where y > 0, else 0 (the gradient through a ReLU whose output is y)."""
    if g.shape != y.shape or g.ndim == 0:
        return g * (y > 0)
    out = np.empty(np.broadcast_shapes(g.shape, y.shape), np.result_type(g, y))
    batch_parallel(len(out), out.nbytes * 2,
                   lambda lo, hi: np.multiply(g[lo:hi], y[lo:hi] > 0, out=out[lo:hi]))
    return out


def bias_backprop(dz):
    """The sum of dz over every axis but the last (a GEMV: 7x faster than np.sum over axes)."""
    ct = compute_dtype(dz.dtype)
    d2 = dz.reshape(-1, dz.shape[-1]).astype(ct, copy=False)
    ones = ones_vector(d2.shape[0], ct)
    # one BLAS thread: OpenBLAS's threaded GEMV stalls on a busy machine (8 ms vs 0.2); a
    # plain call, not the context manager (a Dense layer's bias gradient runs every step)
    got = _blas.call_single(np.matmul, ones, d2) if _blas.available() else ones @ d2
    return got.astype(dz.dtype, copy=False)


_ones_cache = {}


def ones_vector(n, dtype):
    """A read-only vector of n ones, kept: column sums as GEMVs (ones @ block) ask for the same
    ones every step (a bias gradient; norm_kernels' batch statistics: 9.6 vs 15.6 us for
    np.add.reduce over the rows of a 128 x 1024 float32 block)."""
    key = (n, dtype)
    got = _ones_cache.get(key)
    if got is None:
        if len(_ones_cache) >= 32:
            _ones_cache.clear()
        got = _ones_cache[key] = np.ones(n, dtype)
        got.flags.writeable = False
    return got


def _backprop_input1(dy, w, dxp, strides, dilations):
    """One group: dxp (padded, zeroed) += col2im(dy @ w^T). The columns are made offset-major,
    (K, rows, C_in), by one batched GEMM, so each of the K strided adds reads a contiguous
    block (1.4x faster than (rows, K*C_in) columns for 3x3 convs)."""
    ksize, cin, cout = w.shape[:-2], w.shape[-2], w.shape[-1]
    out_sp = dy.shape[1:-1]
    dy2 = dy.reshape(-1, cout)
    if _is_pointwise(ksize, strides, ((0, 0),)) and dxp.shape[1:-1] == out_sp:
        _chunked_matmul(dy2, w.reshape(cin, cout).T, dxp.reshape(-1, cin))
        return
    kk = math.prod(ksize)
    wt = np.ascontiguousarray(w.reshape(kk, cin, cout).transpose(0, 2, 1))  # (K, O, C)
    rows = math.prod(out_sp)
    n = dy.shape[0]
    b = _chunk(n, rows * kk * cin * dy.dtype.itemsize, _COL2IM_CHUNK_BYTES)

    slices = [(Ellipsis,) + offset_slices(k, out_sp, strides, dilations) + (slice(None),)
              for k in offsets(ksize)]

    def work(r, buf):
        n0, n1 = r
        m = n1 - n0
        dcols = np.matmul(dy2[None, n0 * rows:n1 * rows], wt, out=buf[:, :m * rows])
        dst = dxp[n0:n1]
        shape = (m,) + tuple(out_sp) + (cin,)
        for i, sl in enumerate(slices):
            view = dst[sl]
            view += dcols[i].reshape(shape)

    run_tasks(_image_ranges(n, b), work, dxp.nbytes + dy.nbytes,
              lambda: np.empty((kk, b * rows, cin), dy.dtype))


# The strided input gradient with C_out > C_in (where _backprop_input1 runs) of small
# channel counts, as a sub-pixel convolution: output phase r = i mod s of dx receives
# dy[J + q] @ w[t]^T from the taps t with q = (r + pad_before - t) / s an integer, so one
# stride-1 conv of dy over a P x P patch (P = the spread of q) with a weight holding every
# phase's taps, (P, P, C_out, s*s*C_in), computes all s*s phases as one GEMM row (a wide N of
# s*s*C_in), and a depth-to-space copy lays them out. (P*s)^2 / k^2 times the FLOPs: 1.78 for
# 3x3/2. Measured (float32, b64, one thread, process time, medians of 15, alternating):
#   ResNet 3x3/2 16->32 32x32: 6.8 ms -> 4.6;  3x3/2 32->64 16x16: 3.9 -> 4.3 (so <= 32).
_SUBPIXEL_MAX_CHANNELS = 32


def _subpixel_plan(n, o, k, s, pb):
    """One spatial dim: ([(phase, tap, q)], q_min, P, J, pad_before, pad_after) for dy."""
    taps = [(r, t, (r + pb - t) // s) for r in range(s) for t in range(k)
            if (r + pb - t) % s == 0]
    qs = [q for _, _, q in taps] or [0]
    jn = -(-n // s)
    return taps, min(qs), max(qs) - min(qs) + 1, jn, -min(qs), jn - 1 + max(qs) - (o - 1)


def _subpixel_wins(dy_shape, w_shape, x_shape, strides, dilations, pads, groups):
    if LEGACY or groups != 1 or len(x_shape) != 4 or all(s == 1 for s in strides) or \
            any(d != 1 for d in dilations) or w_shape[-1] <= w_shape[-2] or \
            max(w_shape[-2:]) > _SUBPIXEL_MAX_CHANNELS:
        return False
    spread = [_subpixel_plan(x_shape[1 + i], dy_shape[1 + i], w_shape[i], strides[i],
                             pads[i][0])[2] * strides[i] for i in range(2)]
    return spread[0] * spread[1] <= 2 * w_shape[0] * w_shape[1]   # (1x1/2: 4x the FLOPs)


def _backprop_input_subpixel(dy, w, x_shape, strides, pads):
    """dx (x_shape) of a strided 2-D single-group conv, by one sub-pixel convolution."""
    kh, kw, cin, cout = w.shape
    n = x_shape[0]
    sh, sw = strides
    (tap_h, q0h, ph, jh, loh, hih), (tap_w, q0w, pw, jw, low, hiw) = [
        _subpixel_plan(x_shape[1 + i], dy.shape[1 + i], w.shape[i], strides[i], pads[i][0])
        for i in range(2)]
    ws = np.zeros((ph, pw, cout, sh, sw, cin), w.dtype)
    for rh, a, qa in tap_h:
        for rw, b, qb in tap_w:
            ws[qa - q0h, qb - q0w, :, rh, rw, :] = w[a, b].T
    # rows of dy that no phase reads are cropped (negative pads)
    d = dy[:, max(0, -loh):dy.shape[1] + min(0, hih), max(0, -low):dy.shape[2] + min(0, hiw)]
    out = np.empty((n, jh, jw, sh * sw * cin), dy.dtype)
    _conv2d_tiled(d, ws.reshape(ph, pw, cout, sh * sw * cin), out,
                  ((max(0, loh), max(0, hih)), (max(0, low), max(0, hiw))), (1, 1))
    o6 = out.reshape(n, jh, jw, sh, sw, cin)
    dx = np.empty(tuple(x_shape), dy.dtype)
    if x_shape[1] == jh * sh and x_shape[2] == jw * sw:
        np.copyto(dx.reshape(n, jh, sh, jw, sw, cin), o6.transpose(0, 1, 3, 2, 4, 5))
    else:
        for rh in range(sh):
            for rw in range(sw):
                dst = dx[:, rh::sh, rw::sw]
                dst[...] = o6[:, :dst.shape[1], :dst.shape[2], rh, rw]
    return dx


def _backprop_input_col2im(dy, w, dxp, col2im):
    """dxp (zeroed, a view is fine) += the input gradient of a stride-1, undilated,
    single-group convolution, as one (rows, C_out) x (C_out, K*C_in) GEMM per chunk and a
    compiled scatter `col2im(h, dxp, kh, kw)` (tenfold/jit): the GEMM runs at full width
    instead of K narrow ones, and the scatter is one pass instead of K strided adds."""
    kh, kw, cin, cout = w.shape
    n, ho, wo = dy.shape[:3]
    rows = ho * wo
    wt = np.ascontiguousarray(w.reshape(kh * kw * cin, cout).T)
    dy2 = dy.reshape(n * rows, cout)
    b = _chunk(n, rows * kh * kw * cin * dy.dtype.itemsize, _COL2IM_CHUNK_BYTES)

    def work(r, buf):
        n0, n1 = r
        h = np.matmul(dy2[n0 * rows:n1 * rows], wt, out=buf[:(n1 - n0) * rows])
        col2im(h.reshape(n1 - n0, ho, wo, kh * kw * cin), dxp[n0:n1], kh, kw)

    run_tasks(_image_ranges(n, b), work, dxp.nbytes + dy.nbytes,
              lambda: np.empty((b * rows, kh * kw * cin), dy.dtype))


def conv_backprop_input(dy, w, x_shape, strides, dilations, pads, groups=1, into=None,
                        col2im=None):
    """The gradient of conv(x, w) in x for output gradient dy; also the transposed conv.
    `into`: a zeroed array (a view is fine) of x_shape to accumulate into, when there is no
    padding (returned). `col2im`: a compiled scatter (tenfold/jit's col2im_add) for 4-d
    stride-1, undilated, single-group float32/float64 convolutions (_backprop_input_col2im)."""
    dt = dy.dtype
    ct = compute_dtype(dt)
    dy = np.ascontiguousarray(dy, dtype=ct)
    w = w.astype(ct, copy=False)
    padded = (x_shape[0],) + tuple(n + a + b for n, (a, b) in zip(x_shape[1:-1], pads)) + \
        (x_shape[-1],)
    # few input channels: the native direct kernel (conv_direct.py; where it wins)
    if into is None and groups == 1 and not LEGACY and dy.size and len(x_shape) == 4 and \
            x_shape[-1] <= _direct().BPI_MAX_CHANNELS:
        dx = _direct().conv_backprop_input(dy, w, tuple(x_shape), strides, dilations, pads)
        if dx is not None:
            return dx.astype(dt, copy=False)
    if into is None and col2im is None and groups == 1 and dy.size and w.shape[-1] == 1 and \
            not LEGACY:  # one output channel: vectorized over x's channels (conv_narrow.py)
        dx = _narrow().backprop_input(dy, w, tuple(x_shape), strides, dilations, pads)
        if dx is not None:
            return dx.astype(dt, copy=False)
    if into is None and col2im is None and groups == 1 and dy.size:
        dx = _native_conv().backprop_input(dy, w, tuple(x_shape), strides, dilations, pads)
        if dx is not None:
            return dx.astype(dt, copy=False)
    # stride 1: a forward convolution of dy with the flipped filter, by output tiles
    # (C_out > C_in keeps _backprop_input1: MNIST convnet 3x3 32->64 13x13 VALID b128,
    # one thread: 10.4 ms vs 14.7 for the tiled form)
    if into is None and col2im is None and dy.size and w.shape[-1] <= w.shape[-2] and \
            _tiled_ok(x_shape, w.shape, strides, dilations, pads, groups):
        tile = _tile_for(w.shape[-1], w.shape[-2], w.shape[:-2], x_shape[1:-1])
        wf, pf = _flipped_for_input_grad(w, pads) if tile else (None, None)
        if wf is not None:
            dx = np.empty(tuple(x_shape), ct)
            _conv2d_tiled(dy, wf, dx, pf, tile)
            return dx.astype(dt, copy=False)
    if into is None and col2im is None and dy.size and w.size and \
            _subpixel_wins(dy.shape, w.shape, x_shape, strides, dilations, pads, groups):
        return _backprop_input_subpixel(dy, w, x_shape, strides, pads).astype(dt, copy=False)
    # by phases when the im2col it copies (K * C_out per row) is no more than the strided adds
    # of _backprop_input1 (K * C_in per row): measured in _backprop_input_phases's comment
    if into is None and groups == 1 and not LEGACY and dy.size and w.size and \
            w.shape[-1] <= w.shape[-2]:
        return _backprop_input_phases(dy, w, tuple(x_shape), strides, dilations,
                                      pads).astype(dt, copy=False)
    dxp = np.zeros(padded, ct) if into is None else into
    if dy.size and w.size:
        if col2im is not None and groups == 1 and dy.ndim == 4 and ct in FLOAT_DTYPES and \
                all(s == 1 for s in strides) and all(d == 1 for d in dilations):
            _backprop_input_col2im(dy, w, dxp, col2im)
        elif groups == 1:
            _backprop_input1(dy, w, dxp, strides, dilations)
        else:
            cg, og = w.shape[-2], w.shape[-1] // groups
            for g in range(groups):
                part = np.zeros(padded[:-1] + (cg,), ct)
                _backprop_input1(np.ascontiguousarray(dy[..., g * og:(g + 1) * og]),
                                 w[..., g * og:(g + 1) * og], part, strides, dilations)
                dxp[..., g * cg:(g + 1) * cg] = part
    return _unpad(dxp, pads, x_shape).astype(dt, copy=False)


def conv_backprop_input_routed(g, idx, w, x_shape, pads):
    """The input gradient (x_shape) of a stride-1 conv followed by 2x2 max pooling, from the
    pooled gradient g and the pooling's argmax idx (conv_bias_act_pool's), without making
    the unpooled gradient (native Winograd, conv_native.backprop_input_routed); None where
    it does not apply."""
    if LEGACY or not g.size or len(x_shape) != 4:
        return None
    return _native_conv().backprop_input_routed(g, idx, w, tuple(x_shape), pads)


def conv_backprop_filter_routed(x, g, idx, w_shape, pads, with_bias=False):
    """The filter gradient of the same (with `with_bias`, (dw, db)); None where it does not
    apply (conv_native.backprop_filter_routed)."""
    if LEGACY or not g.size or len(w_shape) != 4:
        return None
    return _native_conv().backprop_filter_routed(x, g, idx, tuple(w_shape), pads, with_bias)


def conv_backprop_input_covered(dy, w, x_shape, pads):
    """The input gradient (x_shape) of a stride-1, undilated, ungrouped conv whose output
    gradient dy covers only the output's first rows and columns (the rest zero: a 2x2 max
    pool's backward leaves an odd output's last row and column out), from the native
    kernel, which takes the missing part as zero padding; None where it does not apply."""
    if LEGACY or not dy.size or len(x_shape) != 4:
        return None
    return _native_conv().backprop_input(dy, w, tuple(x_shape), (1, 1), (1, 1), pads)


# ------------------------------------------------------------------------------------------
# the input gradient (= the transposed convolution) by output phases: for strides s, the
# input positions i = r + s*j of one phase r (per dim) receive dy[j + q_k] @ w[k]^T from the
# taps k with (r + pad_before - k*d) divisible by s, q_k = (r + pad_before - k*d) / s. Each
# phase is then an ordinary correlation of (zero-padded) dy with the phase's taps: one im2col
# of dy (contiguous C_out runs per tap) and one GEMM (rows, T*C_out) x (T*C_out, C_in), with
# the FLOPs of the adjoint exactly (no zero-inserted dy), written straight into dx. Stride 1
# is one phase: a forward convolution with the flipped, transposed filter.
# Measured against _backprop_input1 (K narrow GEMMs + K strided adds) on the 2-core machine,
# float32, alternating A/B in one process (bench/bench_conv_kernels.py --bpi):
#   ResNet-20 3x3 16->16 32x32 b64: 28.3 ms vs 26.9 (a tie); 3x3 64->64 8x8: 5.8 vs 6.4;
#   DCGAN Conv2DTranspose 4x4/2 128->128 7x7->14x14 b64: 49 vs 51;
#   DCGAN Conv2D 7x7 128->1 28x28 (input gradient): 33 vs 1787 (49 adds of 128 channels);
#   ResNet-20 3x3/2 16->32 16x16 b64: 2.6 vs 2.0 (C_out > C_in: the im2col copies more than
#   the adds). Under load (load average 6), best of 9.
# So it is used when C_out <= C_in (see conv_backprop_input).

def _phase_plan(n, k, s, d, pb, out):
    """Per spatial dim: [(r, J, taps, offsets)] for each phase r with J = #{i = r + s*j < n}."""
    plan = []
    for r in range(min(s, n)):
        j = len(range(r, n, s))
        taps = [t for t in range(k) if (r + pb - t * d) % s == 0]
        plan.append((r, j, taps, [(r + pb - t * d) // s for t in taps]))
    return plan


def _phases_of(dy, ksize, x_shape, strides, dilations, pads):
    """(per-dim phase plans, the zero padding before dy, dy zero-padded once so that every
    tap's window j + q stays inside) for an input gradient by output phases."""
    out_sp = dy.shape[1:-1]
    plans = [_phase_plan(x_shape[1 + i], ksize[i], strides[i], dilations[i], pads[i][0],
                         out_sp[i]) for i in range(len(ksize))]
    lo = [max([0] + [-min(q) for _, _, _, q in p if q]) for p in plans]
    hi = [max([0] + [jj - 1 + max(q) - (o - 1) for _, jj, _, q in p if q])
          for p, o in zip(plans, out_sp)]
    return plans, lo, pad(dy, list(zip(lo, hi)))


def _backprop_input_phases(dy, w, x_shape, strides, dilations, pads):
    """dx (x_shape, unpadded) of a single-group convolution, by output phases."""
    ksize, cin, cout = w.shape[:-2], w.shape[-2], w.shape[-1]
    n = x_shape[0]
    plans, lo, dyp = _phases_of(dy, ksize, x_shape, strides, dilations, pads)
    dx = np.empty(x_shape, dy.dtype)
    for phase in itertools.product(*plans):
        sl = (slice(None),) + tuple(slice(r, None, s) for (r, _, _, _), s in
                                    zip(phase, strides)) + (slice(None),)
        dst = dx[sl]
        jshape = tuple(p[1] for p in phase)
        taps = list(itertools.product(*[p[2] for p in phase]))
        if not taps:
            dst[...] = 0
            continue
        qs = list(itertools.product(*[p[3] for p in phase]))
        wt = np.stack([w[t] for t in taps])            # (T, C_in, C_out)
        wt = np.ascontiguousarray(wt.transpose(0, 2, 1)).reshape(len(taps) * cout, cin)
        rows = math.prod(jshape)
        b = _chunk(n, rows * (len(taps) * cout + cin) * dy.dtype.itemsize, _CHUNK_BYTES)
        srcs = [(Ellipsis,) + tuple(slice(l + q, l + q + j) for l, q, j in zip(lo, qv, jshape))
                + (slice(None),) for qv in qs]
        direct = dst.flags.c_contiguous

        def work(r, buf, dst=dst, srcs=srcs, wt=wt, rows=rows, jshape=jshape):
            n0, n1 = r
            m = n1 - n0
            cols = buf[0][:m * rows]
            c5 = _reshaped(cols, (m,) + jshape + (len(srcs), cout))
            chunk = dyp[n0:n1]
            for t, src in enumerate(srcs):
                c5[..., t, :] = chunk[src]
            if direct:
                np.matmul(cols, wt, out=dst[n0:n1].reshape(m * rows, cin))
            else:
                res = np.matmul(cols, wt, out=buf[1][:m * rows])
                dst[n0:n1] = res.reshape((m,) + jshape + (cin,))

        def state(b=b, rows=rows, t=len(taps)):
            return (np.empty((b * rows, t * cout), dy.dtype),
                    None if direct else np.empty((b * rows, cin), dy.dtype))

        run_tasks(_image_ranges(n, b), work, dy.nbytes + dx.nbytes, state)
    return dx


def _backprop_filter1(xp, dy, ksize, strides, dilations):
    cin, cout = xp.shape[-1], dy.shape[-1]
    out_sp = dy.shape[1:-1]
    dy2 = dy.reshape(-1, cout)
    if _is_pointwise(ksize, strides, ((0, 0),)) and xp.shape[1:-1] == out_sp:
        return _chunked_matmul_tn(xp.reshape(-1, cin), dy2)
    rows = math.prod(out_sp)
    cols = _Columns(xp, out_sp, ksize, strides, dilations, _FILTER_CHUNK_BYTES)

    def work(r, buf):  # one small (kdim, O) product per chunk
        n0, n1 = r
        c = cols.fill(buf, n0, n1)
        return np.matmul(c if cols.offset_major else c.T, dy2[n0 * rows:n1 * rows])

    return sum_in_order(map_tasks(cols.ranges, work, xp.nbytes + dy.nbytes, cols.buffer))


# The filter gradient of a stride-1 convolution with few output channels (the same rule as
# _conv_by_scatter, the DCGAN generator's last Conv2D(1, 7) on 128 channels): the im2col of x
# would copy K * C_in values per output position for a GEMM only C_out wide (a GEMV). Instead
# the im2col is made of dy over the (unpadded) input's grid, D[k, p] = dy[p + pad - k*d]
# (K * C_out values per input position, zeros where that is outside dy), and dw = D @ x: one
# GEMM K * C_out by C_in, as deep as the input, and x is neither padded nor copied.
# Measured (float32, b64, one thread, process time, median of 7, alternating,
# /work/scratch/dcgan/bpf.py): 7x7 128->1 28x28 SAME 140-198 ms (im2col + GEMV) -> 13 ms;
# 3x3 64->8 16x16: 9.1 -> 6.1; 3x3 32->4 32x32: 16 -> 8.6.

def _backprop_filter_by_scatter(x, dy, ksize, dilations, pads):
    """dw (K, C_in, C_out) of a stride-1 conv of x (unpadded; `pads` the conv's), by one
    GEMM D @ x per chunk of images, D offset-major (K * C_out, rows): each tap's copy of dy
    is a block of contiguous rows. Per-chunk products are summed in chunk order."""
    cin, cout = x.shape[-1], dy.shape[-1]
    kk = math.prod(ksize)
    sp = x.shape[1:-1]
    out_sp = dy.shape[1:-1]
    rows = math.prod(sp)
    n = x.shape[0]
    x2 = x.reshape(n * rows, cin) if x.flags.c_contiguous else \
        np.ascontiguousarray(x).reshape(n * rows, cin)
    # D is what is reused in cache; x streams through the GEMM once
    b = _chunk(n, rows * kk * cout * x.dtype.itemsize, _FILTER_CHUNK_BYTES)
    ranges = _image_ranges(n, b)
    # per tap: the input positions p it pairs with dy (p = o - pad + k*d) and those o;
    # the rest of D stays zero (written once per buffer)
    copies = []
    for i, k in enumerate(offsets(ksize)):
        dst, src = [], []
        for ki, d, (pb, _), ni, no in zip(k, dilations, pads, sp, out_sp):
            shift = ki * d - pb                       # p = o + shift
            lo, hi = max(0, shift), min(ni, no + shift)
            dst.append(slice(lo, max(lo, hi)))
            src.append(slice(lo - shift, max(lo, hi) - shift))
        copies.append(((i, slice(None), slice(None)) + tuple(dst),
                       (slice(None), slice(None)) + tuple(src)))
    dyt = np.moveaxis(dy, -1, 0)   # (C_out, N, *out_sp): a view

    def work(r, buf):
        n0, n1 = r
        m = n1 - n0
        # (K, C_out, m, *sp); a short last chunk gets its own zeros
        d = buf if m == b else np.zeros((kk, cout, m) + sp, x.dtype)
        src = dyt[:, n0:n1]
        for dsl, ssl in copies:
            d[dsl] = src[ssl]
        return np.matmul(d.reshape(kk * cout, m * rows),
                         x2[n0 * rows:n1 * rows])    # (K * C_out, C_in)

    dw = sum_in_order(map_tasks(ranges, work, x.nbytes + dy.nbytes,
                                lambda: np.zeros((kk, cout, b) + sp, x.dtype)))
    return dw.reshape(kk, cout, cin).transpose(0, 2, 1)


def conv_backprop_filter(x, dy, w_shape, strides, dilations, pads, groups=1, with_bias=False):
    """The gradient of conv(x, w) in w for output gradient dy; with `with_bias`, (dw, db)
    where db is the bias gradient, dy summed over all axes but the last (the executor's
    `_fuse_conv_bias_grads`): the native implicit-GEMM kernel's chunks sum their rows of dy
    while they have them in cache; the other paths run bias_backprop after."""
    dy0 = dy

    def done(dw):
        return (dw, bias_backprop(dy0)) if with_bias else dw

    dt = x.dtype
    ct = compute_dtype(dt)
    dy = np.ascontiguousarray(dy, dtype=ct)
    x = x.astype(ct, copy=False)  # once (a half-precision x is copied here, and only here)
    ksize = tuple(w_shape[:-2])
    if dy.size == 0 or x.size == 0:
        return done(np.zeros(w_shape, dt))
    direct = groups == 1 and not LEGACY
    if direct:  # native direct, first for 1-3 input channels at stride 1 (conv_direct.py)
        dw = _direct().conv_backprop_filter(x, dy, w_shape, strides,
                                            dilations, pads, before_gemm=True)
        if dw is not None:
            return done(dw.astype(dt, copy=False))
    if groups == 1 and _scatter_wins(w_shape, strides):
        # native, vectorized over C_in
        dw = _narrow().backprop_filter(x, dy, w_shape, strides, dilations, pads)
        if dw is not None:
            return done(dw.astype(dt, copy=False))
        dw = _backprop_filter_by_scatter(x, dy, ksize, dilations, pads)
        return done(np.ascontiguousarray(dw.reshape(w_shape), dtype=dt))  # a transposed view
    got = _native_conv().backprop_filter(x, dy, w_shape, strides, dilations, pads,
                                         with_bias=with_bias) if groups == 1 else None
    if got is not None:
        if with_bias:
            return got[0].astype(dt, copy=False), got[1].astype(dt, copy=False)
        return got.astype(dt, copy=False)
    if direct:  # where the implicit GEMM does not apply (float64, narrow, no AVX-512)
        dw = _direct().conv_backprop_filter(x, dy, w_shape, strides,
                                            dilations, pads)
        if dw is not None:
            return done(dw.astype(dt, copy=False))
    tile = _untiled_unpadded(_tile_for(w_shape[-2], w_shape[-1], ksize, dy.shape[1:-1],
                                       strides), pads) \
        if _tiled_ok(x.shape, w_shape, strides, dilations, pads, groups, strided=True) else None
    if tile is not None:  # by output tiles; pads each chunk itself
        dw = _backprop_filter_tiled(x, dy, ksize, pads, tile,
                                    tuple(strides))
        return done(dw.reshape(w_shape).astype(dt, copy=False))
    xp = pad(x, pads)
    if groups == 1:
        dw = _backprop_filter1(xp, dy, ksize, strides, dilations)
    else:
        cg, og = w_shape[-2], w_shape[-1] // groups
        dw = np.empty((math.prod(ksize) * cg, w_shape[-1]), ct)
        for g in range(groups):
            dw[:, g * og:(g + 1) * og] = _backprop_filter1(
                np.ascontiguousarray(xp[..., g * cg:(g + 1) * cg]),
                np.ascontiguousarray(dy[..., g * og:(g + 1) * og]), ksize, strides, dilations)
    return done(dw.reshape(w_shape).astype(dt, copy=False))


def conv_backprop_filter_pooled(x, t, idx, y_shape, w_shape, pads, with_bias=False, jit=None):
    """The filter gradient of a stride-1 convolution y = conv(x, w) whose output went through
    2x2 stride-2 max pooling, from the pooled gradient t and the pooling's argmax idx
    (max_pool_2x2_argmax): the gradient at y is t scattered to each window's maximum, so
    y's full-size gradient is never made. With the window offset q = (qi, qj) of each
    maximum, dw[k] = sum_q X[q + k]^T (t * [idx == q]), where X[o] reads x at pooled
    positions shifted by o: one GEMM of the (kh+1)(kw+1) shifted copies of x against the four
    masked copies of t. That is (kh+1)(kw+1)/(kh*kw) times the FLOPs of the plain filter
    gradient but a quarter of its rows, so it pays when kh*kw*C_in is small (a first layer
    on images: conv1 of the MNIST convnet, 3.9 ms for the scatter and the plain filter
    gradient -> 1.2-1.8 ms in the compiled step). Rows of y that pooling dropped (odd sizes)
    get no gradient.
    with_bias: returns (dw, db), db (the sum of the routed gradient) from a column of ones
    riding in the same GEMM."""
    dt = x.dtype
    ct = compute_dtype(dt)
    t = np.ascontiguousarray(t, dtype=ct)
    if not LEGACY:  # native direct (or None)
        res = _direct().conv_backprop_filter_pooled(x.astype(ct, copy=False), t, idx, w_shape,
                                                    pads, with_bias)
        if res is not None:
            return tuple(r.astype(dt, copy=False) for r in res) if with_bias else \
                res.astype(dt, copy=False)
    xp = pad(x.astype(ct, copy=False), pads)
    kh, kw, cin, cout = w_shape
    n, ha, wa = t.shape[:3]
    rows = ha * wa
    o_h, o_w = kh + 1, kw + 1
    width = o_h * o_w * cin
    ones = 1 if with_bias else 0
    b = _chunk(n, rows * (width + ones + 4 * cout) * ct.itemsize, _CHUNK_BYTES)
    ranges = _image_ranges(n, b)
    st = xp.strides
    # (N, Ha, Wa, o_h, o_w, C): the (o_h, o_w) neighbourhood of every pooled position
    shifted = as_strided(xp, (n, ha, wa, o_h, o_w, cin),
                         (st[0], 2 * st[1], 2 * st[2], st[1], st[2], st[3]), writeable=False)

    def make_state():
        cols = np.empty((b * rows, width + ones), ct)
        if ones:
            cols[:, width] = 1
        return cols, np.empty((4, b * rows, cout), ct), np.empty((b * rows, cout), bool)

    def work(r, state):
        cols_buf, g_buf, eq = state
        n0, n1 = r
        m = (n1 - n0) * rows
        cols = cols_buf[:m]
        np.copyto(_reshaped(cols[:, :width], (n1 - n0, ha, wa, o_h, o_w, cin)),
                  shifted[n0:n1])
        g = g_buf[:, :m]   # one contiguous block per q: 2.7x faster than interleaved
        tc = t[n0:n1].reshape(m, cout)
        ic = idx[n0:n1].reshape(m, cout)
        if jit is not None:  # the Numba kernels module: the four blocks in one pass
            jit.split_by_argmax(tc, ic, g, ct.type(0))
        else:
            for q in range(4):
                np.equal(ic, q, out=eq[:m])
                np.multiply(tc, eq[:m], out=g[q])
        return np.matmul(cols.T[None], g)   # (4, width, cout)

    p = sum_in_order(map_tasks(ranges, work, xp.nbytes + 2 * t.nbytes, make_state))
    db = p[:, width].sum(axis=0) if ones else None
    p = p[:, :width].reshape(2, 2, o_h, o_w, cin, cout)
    dw = np.zeros(w_shape, ct)
    for qi in range(2):
        for qj in range(2):
            dw += p[qi, qj, qi:qi + kh, qj:qj + kw]
    if ones:
        return dw.astype(dt, copy=False), db.astype(dt, copy=False)
    return dw.astype(dt, copy=False)


# ------------------------------------------------------------------------------------------
# depthwise convolution: x (N, *S, C), w (*K, C, M) -> (N, *S', C*M); one pass per offset.

# Chunked by images (a few hundred KB of output per chunk, shared out to the threads), each
# chunk's accumulator and product stay in L2 across the K taps, and the first tap writes the
# accumulator directly (no zero fill). Measured against the whole-batch loops of before
# (3x3 depthwise, b32, float32, 2 cores, load 6-7, best of 9, old -> new ms;
# bench/bench_conv_kernels.py --depthwise, +-30% between runs):
#   32x32x64 /1: forward 37 -> 23, input gradient 39 -> 40, filter gradient 22 -> 7.7;
#   32x32x128 /2: 24 -> 17, 25 -> 26, 16 -> 8.6;   8x8x256 /1: 7.2 -> 5.5, 12 -> 8.4, 3.9 -> 2.6.
# (1 MB chunks instead of 256 KB measured no better.) The filter gradient sums per-chunk
# partials in chunk order, so results do not depend on threading.
_DW_CHUNK_BYTES = 1 << 18


def _dw_ranges(n, per_image_bytes):
    return _image_ranges(n, _chunk(n, per_image_bytes, _DW_CHUNK_BYTES))


def _dw_taps(w):
    """[(offset, (C, M) filter slice)] in window order."""
    return [(k, w[k]) for k in offsets(w.shape[:-2])]


# Multiplier 1 (MobileNet's DepthwiseConv2D) has a faster form: each tap's weights are tiled
# to one image's output (*out_sp, C), so NumPy runs contiguous loops over whole images instead
# of broadcasting C weights (an inner loop of C = 32..256 values per call), and each tap is a
# copy of its (strided) view into a block, a product in place and an add (an out-of-place
# product into a third array is 1.5x slower in L2, NumPy 2.4). The input gradient is the
# same correlation, of the zero-padded dy with the flipped taps, per output phase (the
# _phase_plan of the transposed convolution): every output is written once (no zero fill,
# no += into strided views of a padded dx). Measured (b32 float32, one thread, process time,
# median of 5, alternating with the kernels above, /work/scratch/dcgan/dw.py; forward /
# input gradient, ms; load 5): 32x32x32 /1: 10.9 -> 6.5, 13.2 -> 7.1; 32x32x64 /2: 7.3 ->
# 5.8, 9.0 -> 5.6; 16x16x128 /1: 11.6 -> 7.5, 14.9 -> 9.1; 16x16x128 /2: 3.6 -> 2.9, 6.9 ->
# 4.9; 8x8x256 /1: 5.3 -> 3.7, 6.7 -> 4.0. The filter gradient keeps its einsums (the same
# copy + product + a GEMV row sum measured no better: 7.4 vs 8.8, 6.6 vs 5.8, 7.4 vs 6.7).

_DW_TILE_BYTES = 1 << 17


def _dw_tiles(ws, out_sp):
    """Each (C,) tap weight tiled, contiguous, to one image's output (*out_sp, C) when that is
    small (NumPy then runs one contiguous inner loop per image: a product with (C,) weights
    broadcast iterates C values at a time, 2x slower), else to (W_out, C)."""
    if not ws:
        return []
    c = ws[0].shape[-1]
    sp = tuple(out_sp) if math.prod(out_sp) * c * ws[0].itemsize <= _DW_TILE_BYTES \
        else tuple(out_sp[-1:])
    return [np.ascontiguousarray(np.broadcast_to(wk, sp + (c,))) for wk in ws]


def _dw_correlate(src, offs, tiles, strides, out, tmp):
    """out (m, *out_sp, C) = sum over taps of src[off + s*j] * tile (first tap written)."""
    out_sp = out.shape[1:-1]
    for i, (off, wt) in enumerate(zip(offs, tiles)):
        v = src[(slice(None),) + tuple(slice(o, o + (n - 1) * st + 1, st)
                                       for o, n, st in zip(off, out_sp, strides))]
        # the (strided) view copied to a contiguous block, then an in-place product: 1.5x
        # faster than the product into a third array (NumPy 2.4, in L2), and a strided tap
        # is gathered by that copy (faster than per-chunk phase copies of xp: 7.9 -> 6.6 ms
        # at 32x32x64 /2)
        t = out if i == 0 else tmp
        np.copyto(t, v)
        t *= wt
        if i:
            out += t


def _dw_forward1(xp, w, strides, dilations, out):
    """Multiplier-1 depthwise conv of padded xp with w (*K, C), into out (contiguous)."""
    ksize = w.shape[:-1]
    out_sp = out.shape[1:-1]
    taps = list(offsets(ksize))
    offs = [tuple(ki * d for ki, d in zip(k, dilations)) for k in taps]
    tiles = _dw_tiles([w[k] for k in taps], out_sp)
    n = xp.shape[0]
    b = _chunk(n, out[0].nbytes, _DW_CHUNK_BYTES)

    def work(r, tmp):
        n0, n1 = r
        _dw_correlate(xp[n0:n1], offs, tiles, strides, out[n0:n1], tmp[:n1 - n0])

    run_tasks(_image_ranges(n, b), work, xp.nbytes + out.nbytes,
              lambda: np.empty((b,) + out.shape[1:], out.dtype))


def _dw_backprop_input1(dy, w, x_shape, strides, dilations, pads):
    """dx (x_shape) of a multiplier-1 depthwise conv: per output phase (see _phase_plan), a
    stride-1 correlation of the zero-padded dy with that phase's taps."""
    ksize, c = w.shape[:-1], w.shape[-1]
    nd = len(ksize)
    n = x_shape[0]
    plans, lo, dyp = _phases_of(dy, ksize, x_shape, strides, dilations, pads)
    dx = np.empty(x_shape, dy.dtype)
    single = all(st == 1 for st in strides)
    phases = []
    for phase in itertools.product(*plans):
        jshape = tuple(p[1] for p in phase)
        taps = list(itertools.product(*[p[2] for p in phase]))
        offs = [tuple(l + q for l, q in zip(lo, qv))
                for qv in itertools.product(*[p[3] for p in phase])]
        dst = (slice(None),) + tuple(slice(p[0], None, st) for p, st in zip(phase, strides))
        phases.append((dst, jshape, offs, _dw_tiles([w[t] for t in taps], jshape)))
    ones = (1,) * nd
    per = dx[0].nbytes + dy[0].nbytes
    b = _chunk(n, per, _DW_CHUNK_BYTES)

    def work(r, state):
        n0, n1 = r
        m = n1 - n0
        tmp, outs = state
        for dst, jshape, offs, tiles in phases:
            target = dx[n0:n1] if single else dx[(slice(n0, n1),) + dst[1:]]
            if not offs:
                target[...] = 0
                continue
            if single:
                o = target
            else:
                key = jshape
                if key not in outs:
                    outs[key] = (np.empty((b,) + jshape + (c,), dy.dtype),
                                 np.empty((b,) + jshape + (c,), dy.dtype))
                o, t = outs[key][0][:m], outs[key][1][:m]
            _dw_correlate(dyp[n0:n1], offs, tiles, ones, o, tmp[:m] if single else t)
            if not single:
                target[...] = o

    run_tasks(_image_ranges(n, b), work, dx.nbytes + dy.nbytes,
              lambda: (np.empty((b,) + x_shape[1:], dy.dtype) if single else None, {}))
    return dx


# Native 2-D kernels (native/depthwise.c), taken where the library loads and the arrays are
# C-contiguous float32/float64 (else the NumPy kernels above, their twins, run): x read
# unpadded (no padded copy), each output (or dx element: gathered, written once) summing its
# taps in registers in window order as the twins do (forward and multiplier-1 input gradient
# give the twins' bits; taps in the padding are skipped, not added as zero products: only
# a zero's sign, or a NaN from an infinite weight there, can differ), channels the vector loop, chunks of images shared out to the
# threads. The filter gradient sums each chunk in float64, the chunks' partials added in
# chunk order (fixed chunks: results do not depend on the thread count). Multiplier M > 1
# runs the same kernels on C*M channels (x repeated M times per chunk). NumPy twin ->
# native, MobileNet's depthwise layers (b32 float32 3x3 pads 1), one thread, process time,
# medians of 9 alternating runs in one process (/work/scratch/dw/bench.py, load 0.6), ms:
#                  forward        input gradient   filter gradient
#   32x32x32 /1:   9.05 -> 1.79   9.49 -> 2.15     8.06 -> 1.94
#   32x32x64 /2:   6.82 -> 1.28   7.38 -> 1.96     5.71 -> 1.51
#   16x16x128 /1:  8.72 -> 1.75   10.18 -> 2.07    6.21 -> 2.06
#   16x16x128 /2:  3.70 -> 0.74   4.89 -> 1.05     2.65 -> 0.99
#   8x8x256 /1:    4.44 -> 0.86   4.74 -> 0.97     2.97 -> 1.10
#   8x8x256 /2:    2.06 -> 0.43   2.28 -> 0.56     1.44 -> 0.52
# (load 5: 32x32x32 /1 6.4 -> 1.9, 8.0 -> 2.3, 8.6 -> 2.3). Multiplier 2, 16x16x32 /1:
# 24.7 -> 1.5, 17.0 -> 1.5, 19.4 -> 2.5. The C loops run near memory bandwidth (a 512-bit
# vector preference measured no faster).
_DW_NATIVE_MAX = 1 << 30   # strides, dilations, pads, kernel sizes: no int64 overflow in C
# name -> (pointer arguments, int64 arguments)
_DW_SIGNATURES = {"dw_gather": (5, 9), "dw_backprop_filter1": (3, 15), "dw_expand": (2, 3),
                  "dw_reduce": (2, 3)}


def _dw_native(name, dtype):
    """The ctypes function `name`_f32/_f64 of native/depthwise.c (argtypes set once), or
    None where it cannot be had (not float32/float64, no compiler, TENFOLD_NATIVE=0)."""
    return _native.kernel("depthwise", name, dtype,
                          _native.pointers_and_ints(*_DW_SIGNATURES[name]))


def _dw_native_geometry(x_shape, w_shape, strides, dilations, pads):
    """(strides, dilations, pads) as ints when the native 2-D kernels take this case (NHWC,
    filter (KH, KW, C, M), strides/dilations >= 1, pads >= 0), else None."""
    if len(x_shape) != 4 or len(w_shape) != 4 or w_shape[-1] < 1 or \
            w_shape[-2] != x_shape[-1] or len(strides) != 2 or len(dilations) != 2 or \
            len(pads) != 2 or min(x_shape) < 0 or min(w_shape) < 0 or \
            max(w_shape[:2]) > _DW_NATIVE_MAX:
        return None
    try:
        st = tuple(int(v) for v in strides)
        di = tuple(int(v) for v in dilations)
        pd = tuple((int(a), int(b)) for a, b in pads)
    except (TypeError, ValueError):
        return None
    if not all(1 <= v <= _DW_NATIVE_MAX for v in st + di) or \
            not all(0 <= v <= _DW_NATIVE_MAX for ab in pd for v in ab):
        return None
    return st, di, pd


def _dw_plan(name, x_shape, w_shape, strides, dilations, pads, dtype, arrays):
    """What every native depthwise entry needs, or None where it does not apply (then the
    NumPy kernels run): (ctypes function, compute dtype, geometry, (OH, OW))."""
    geo = _dw_native_geometry(x_shape, w_shape, strides, dilations, pads)
    if geo is None or not all(isinstance(a, np.ndarray) for a in arrays):
        return None
    ct = compute_dtype(dtype)
    fn = _dw_native(name, ct)
    if fn is None:
        return None
    return fn, ct, geo, out_sizes(x_shape[1:3], w_shape[:2], *geo)


def _addr(a, i=0):
    """The address of a[i] (a C-contiguous array), as ctypes takes it."""
    return ctypes.c_void_p(_native.addr(a) + i * a.strides[0])


def _dw_expander(x, mult, b):
    """For multiplier M > 1: (make_state, expand(state, n0, n1) -> address of images
    n0..n1 of x with each channel repeated M times, in the thread's scratch); for M = 1,
    x itself."""
    if mult == 1:
        return None, lambda state, n0, n1: _addr(x, n0)
    expand = _dw_native("dw_expand", x.dtype)
    per = x[0].size * mult
    rows = x.shape[1] * x.shape[2]

    def run(state, n0, n1):
        expand(_addr(x, n0), _native.ptr(state), (n1 - n0) * rows, x.shape[3], mult)
        return _native.ptr(state)

    return (lambda: np.empty(b * per, x.dtype)), run


# The gather plans along one spatial dim: (destination size, taps) int64, read-only, the
# source index that tap t of destination index i reads, else -1 (cached: building one
# costs more than a small layer's kernel).

@functools.lru_cache(maxsize=64)
def _dw_window_table(o, k, s, d, p, n):
    """The forward's: input index i*s - p + t*d of output index i, where 0 <= it < n."""
    t = np.arange(o, dtype=np.int64)[:, None] * s - p + np.arange(k, dtype=np.int64) * d
    return _read_only(np.where((t >= 0) & (t < n), t, -1))


@functools.lru_cache(maxsize=64)
def _dw_tap_table(n, k, s, d, p, o):
    """The input gradient's: the output index q that tap t of input index i feeds
    (i + p - t*d = q*s, 0 <= q < `o`)."""
    t = np.arange(n, dtype=np.int64)[:, None] + p - np.arange(k, dtype=np.int64)[None, :] * d
    q = t // s
    return _read_only(np.where((t >= 0) & (t % s == 0) & (q < o), q, -1))


def _read_only(table):
    table = np.ascontiguousarray(table, dtype=np.int64)
    table.flags.writeable = False
    return table


def _dw_forward_native(x, w, strides, dilations, pads):
    """y of a 2-D depthwise conv in C, or None (then the NumPy kernels run)."""
    plan = _dw_plan("dw_gather", x.shape, w.shape, strides, dilations, pads, x.dtype, (x,))
    if plan is None:
        return None
    fn, ct, ((sh, sw), (dh, dw), ((ph, _), (pw, _))), (oh, ow) = plan
    x = np.ascontiguousarray(x, dtype=ct)  # a view is copied (the NumPy path copies too)
    if not _native.usable(x):
        return None
    n, h, wd, c = x.shape
    kh, kw, _, mult = w.shape
    y = np.empty((n, oh, ow, c * mult), ct)
    if y.size:
        b = _chunk(n, x[0].nbytes * mult + y[0].nbytes, _DW_CHUNK_BYTES)
        make_state, source = _dw_expander(x, mult, b)
        gather = _dw_gatherer(fn, w, ct, _dw_window_table(oh, kh, sh, dh, ph, h),
                              _dw_window_table(ow, kw, sw, dw, pw, wd), (h, wd), c * mult)

        def work(r, state):
            gather(source(state, *r), _addr(y, r[0]), r[1] - r[0], (oh, ow))

        run_tasks(_image_ranges(n, b), work, x.nbytes + y.nbytes, make_state)
    return y


def _dw_gatherer(fn, w, ct, th, tw, src_sp, channels):
    """gather(src address, dst address, images, dst spatial size): dw_gather with this
    filter and these tables (kept alive here while it runs)."""
    wc = np.ascontiguousarray(w, dtype=ct)   # tiny: copied where it is not contiguous
    pk, pth, ptw = _native.ptr(wc), _native.ptr(th), _native.ptr(tw)
    kh, kw = w.shape[:2]

    def gather(src, dst, m, dst_sp, _keep=(wc, th, tw)):
        fn(src, pk, dst, pth, ptw, 0, m, src_sp[0], src_sp[1], channels, kh, kw, *dst_sp)

    return gather


def _dw_backprop_input_native(dy, w, x_shape, strides, dilations, pads):
    """dx of a 2-D depthwise conv in C, or None (then the NumPy kernels run). Multiplier
    M > 1: the gradient of the C*M repeated channels, per chunk, summed over m."""
    x_shape = tuple(int(v) for v in x_shape)
    plan = _dw_plan("dw_gather", x_shape, w.shape, strides, dilations, pads, dy.dtype, (dy,))
    if plan is None:
        return None
    fn, ct, ((sh, sw), (dh, dw), ((ph, _), (pw, _))), (oh, ow) = plan
    dy = np.ascontiguousarray(dy, dtype=ct)
    n, h, wd, c = x_shape
    kh, kw, _, mult = w.shape
    if not _native.usable(dy) or dy.shape != (n, oh, ow, c * mult):
        return None
    dx = np.empty(x_shape, ct)
    if dx.size and not dy.size:
        dx[...] = 0
    elif dx.size:
        gather = _dw_gatherer(fn, w, ct, _dw_tap_table(h, kh, sh, dh, ph, oh),
                              _dw_tap_table(wd, kw, sw, dw, pw, ow), (oh, ow), c * mult)
        b = _chunk(n, dx[0].nbytes * mult + dy[0].nbytes, _DW_CHUNK_BYTES)
        reduce = _dw_native("dw_reduce", ct) if mult > 1 else None

        def work(r, state):
            m = r[1] - r[0]
            dst = _addr(dx, r[0]) if mult == 1 else _native.ptr(state)
            gather(_addr(dy, r[0]), dst, m, (h, wd))
            if mult > 1:
                reduce(dst, _addr(dx, r[0]), m * h * wd, c, mult)

        run_tasks(_image_ranges(n, b), work, dx.nbytes + dy.nbytes,
                  (lambda: np.empty(b * dx[0].size * mult, ct)) if mult > 1 else None)
    return dx


def _dw_backprop_filter_native(x, dy, w_shape, strides, dilations, pads):
    """dw (w_shape, compute dtype) of a 2-D depthwise conv in C, or None: each chunk of
    images sums into its own float64 partial, the partials added in chunk order."""
    w_shape = tuple(int(v) for v in w_shape)
    plan = _dw_plan("dw_backprop_filter1", x.shape, w_shape, strides, dilations, pads,
                    x.dtype, (x, dy))
    if plan is None:
        return None
    fn, ct, ((sh, sw), (dh, dw), ((ph, _), (pw, _))), (oh, ow) = plan
    x, dy = np.ascontiguousarray(x, dtype=ct), np.ascontiguousarray(dy, dtype=ct)
    n, h, wd, c = x.shape
    kh, kw, _, mult = w_shape
    if not _native.usable(x, dy) or dy.shape != (n, oh, ow, c * mult):
        return None
    if not dy.size:
        return np.zeros(w_shape, ct)
    b = _chunk(n, x[0].nbytes * mult + dy[0].nbytes, _DW_CHUNK_BYTES)
    ranges = _image_ranges(n, b)
    part = np.empty((len(ranges), kh * kw * c * mult), np.float64)
    make_state, source = _dw_expander(x, mult, b)

    def work(task, state):
        i, (n0, n1) = task
        fn(source(state, n0, n1), _addr(dy, n0), _addr(part, i), 0, n1 - n0,
           h, wd, c * mult, kh, kw, oh, ow, sh, sw, dh, dw, ph, pw)

    run_tasks(list(enumerate(ranges)), work, x.nbytes + dy.nbytes, make_state)
    return sum_in_order(part).reshape(w_shape).astype(ct)


def depthwise_conv(x, w, strides, dilations, pads):
    if LEGACY:
        return _depthwise_conv_legacy(x, w, strides, dilations, pads)
    y = _dw_forward_native(x, w, strides, dilations, pads)
    if y is not None:
        return y.astype(x.dtype, copy=False)
    dt = x.dtype
    ct = compute_dtype(dt)
    xp = pad(x.astype(ct, copy=False), pads)
    w = w.astype(ct, copy=False)
    ksize, c, mult = w.shape[:-2], w.shape[-2], w.shape[-1]
    out_sp = out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    out = np.empty((x.shape[0],) + out_sp + (c, mult), ct)
    if out.size and mult == 1 and len(out_sp):
        _dw_forward1(xp, w[..., 0], strides, dilations, out[..., 0])
    elif out.size:
        taps = [(offset_slices(k, out_sp, strides, dilations), wk) for k, wk in _dw_taps(w)]
        per = out[0].nbytes

        def work(r, tmp):
            n0, n1 = r
            acc = out[n0:n1]
            t = tmp[:n1 - n0]
            if mult == 1:  # plain (..., C) products: no broadcast over a trailing unit axis
                acc, t = acc[..., 0], t[..., 0]
            for i, (sl, wk) in enumerate(taps):
                v = xp[(slice(n0, n1),) + sl + (slice(None),)]
                np.multiply(v, wk[:, 0], out=acc if i == 0 else t) if mult == 1 else \
                    np.multiply(v[..., None], wk, out=acc if i == 0 else t)
                if i:
                    acc += t

        b = _chunk(x.shape[0], per, _DW_CHUNK_BYTES)
        run_tasks(_image_ranges(x.shape[0], b), work, xp.nbytes + out.nbytes,
                  lambda: np.empty((b,) + out.shape[1:], ct))
    return out.reshape(out.shape[:-2] + (c * mult,)).astype(dt, copy=False)


def depthwise_backprop_input(dy, w, x_shape, strides, dilations, pads):
    if LEGACY:
        return _depthwise_backprop_input_legacy(dy, w, x_shape, strides, dilations, pads)
    dx = _dw_backprop_input_native(dy, w, x_shape, strides, dilations, pads)
    if dx is not None:
        return dx.astype(dy.dtype, copy=False)
    dt = dy.dtype
    ct = compute_dtype(dt)
    w = w.astype(ct, copy=False)
    c, mult = w.shape[-2], w.shape[-1]
    if mult == 1 and dy.size and len(dy.shape) > 2:
        return _dw_backprop_input1(np.ascontiguousarray(dy, dtype=ct), w[..., 0],
                                   tuple(x_shape), strides, dilations, pads).astype(
                                       dt, copy=False)
    dy = dy.astype(ct, copy=False).reshape(dy.shape[:-1] + (c, mult))
    out_sp = dy.shape[1:-2]
    padded = (x_shape[0],) + tuple(n + a + b for n, (a, b) in zip(x_shape[1:-1], pads)) + (c,)
    dxp = np.zeros(padded, ct)
    if dy.size:
        taps = [(offset_slices(k, out_sp, strides, dilations), wk) for k, wk in _dw_taps(w)]
        n = x_shape[0]
        b = _chunk(n, dy[0].nbytes + dxp[0].nbytes, _DW_CHUNK_BYTES)

        def work(r, tmp):
            n0, n1 = r
            d = dy[n0:n1]
            t = tmp[:n1 - n0]
            for sl, wk in taps:
                view = dxp[(slice(n0, n1),) + sl + (slice(None),)]
                if mult == 1:
                    np.multiply(d[..., 0], wk[:, 0], out=t)
                else:
                    np.einsum("...cm,cm->...c", d, wk, out=t)
                view += t

        run_tasks(_image_ranges(n, b), work, dxp.nbytes + dy.nbytes,
                  lambda: np.empty((b,) + out_sp + (c,), ct))
    return _unpad(dxp, pads, x_shape).astype(dt, copy=False)


def depthwise_backprop_filter(x, dy, w_shape, strides, dilations, pads):
    if LEGACY:
        return _depthwise_backprop_filter_legacy(x, dy, w_shape, strides, dilations, pads)
    dw = _dw_backprop_filter_native(x, dy, w_shape, strides, dilations, pads)
    if dw is not None:
        return dw.astype(x.dtype, copy=False)
    dt = x.dtype
    ct = compute_dtype(dt)
    xp = pad(x.astype(ct, copy=False), pads)
    ksize, c, mult = tuple(w_shape[:-2]), w_shape[-2], w_shape[-1]
    dy = dy.astype(ct, copy=False).reshape(dy.shape[:-1] + (c, mult))
    out_sp = dy.shape[1:-2]
    if not dy.size:
        return np.zeros(tuple(w_shape), dt)
    slices = [offset_slices(k, out_sp, strides, dilations) for k in offsets(ksize)]
    n = x.shape[0]
    ranges = _image_ranges(n, _chunk(n, dy[0].nbytes, _DW_CHUNK_BYTES))
    nsp = len(out_sp)
    letters = "pqrstu"[:nsp]
    spec = f"n{letters}c,n{letters}cm->cm"

    def work(r, _):
        n0, n1 = r
        d = dy[n0:n1]
        part = np.empty((len(slices), c, mult), ct)
        for i, sl in enumerate(slices):
            v = xp[(slice(n0, n1),) + sl + (slice(None),)]
            part[i] = np.einsum(spec, v, d)
        return part

    dw = sum_in_order(map_tasks(ranges, work, xp.nbytes + dy.nbytes))
    return dw.reshape(tuple(w_shape)).astype(dt, copy=False)


def _depthwise_conv_legacy(x, w, strides, dilations, pads):
    dt = x.dtype
    ct = compute_dtype(dt)
    xp = pad(x.astype(ct, copy=False), pads)
    w = w.astype(ct, copy=False)
    ksize, c, mult = w.shape[:-2], w.shape[-2], w.shape[-1]
    out_sp = out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    acc = np.zeros((x.shape[0],) + out_sp + (c, mult), ct)
    if acc.size:
        tmp = np.empty_like(acc)
        for k in offsets(ksize):
            v = offset_view(xp, k, out_sp, strides, dilations)
            np.multiply(v[..., None], w[k], out=tmp)
            acc += tmp
    return acc.reshape(acc.shape[:-2] + (c * mult,)).astype(dt, copy=False)


def _depthwise_backprop_input_legacy(dy, w, x_shape, strides, dilations, pads):
    dt = dy.dtype
    ct = compute_dtype(dt)
    w = w.astype(ct, copy=False)
    ksize, c, mult = w.shape[:-2], w.shape[-2], w.shape[-1]
    dy = dy.astype(ct, copy=False).reshape(dy.shape[:-1] + (c, mult))
    out_sp = dy.shape[1:-2]
    padded = (x_shape[0],) + tuple(n + a + b for n, (a, b) in zip(x_shape[1:-1], pads)) + (c,)
    dxp = np.zeros(padded, ct)
    if dy.size:
        for k in offsets(ksize):
            view = offset_view(dxp, k, out_sp, strides, dilations)
            if mult == 1:
                view += dy[..., 0] * w[k][:, 0]
            else:
                view += np.einsum("...cm,cm->...c", dy, w[k])
    return _unpad(dxp, pads, x_shape).astype(dt, copy=False)


def _depthwise_backprop_filter_legacy(x, dy, w_shape, strides, dilations, pads):
    dt = x.dtype
    ct = compute_dtype(dt)
    xp = pad(x.astype(ct, copy=False), pads)
    ksize, c, mult = tuple(w_shape[:-2]), w_shape[-2], w_shape[-1]
    dy = dy.astype(ct, copy=False).reshape(dy.shape[:-1] + (c, mult))
    out_sp = dy.shape[1:-2]
    dw = np.zeros(tuple(w_shape), ct)
    if dy.size:
        dy2 = dy.reshape(-1, c, mult)
        for k in offsets(ksize):
            v = offset_view(xp, k, out_sp, strides, dilations).reshape(-1, c)
            dw[k] = np.einsum("rc,rcm->cm", v, dy2)
    return dw.astype(dt, copy=False)


# ------------------------------------------------------------------------------------------
# pooling: public functions split the batch over threads; the _nd versions do the work.

def _lowest(dtype):
    return -np.inf if dtype.kind == "f" or dtype.kind == "V" else np.iinfo(dtype).min


def _is_2x2(ksize, strides, dilations, pads):
    return tuple(ksize) == (2, 2) and tuple(strides) == (2, 2) and \
        tuple(dilations) == (1, 1) and not any(a or b for a, b in pads)


def _rows_2x2(x):
    """(N, Ho, 2, Wo, 2, C) view of the 2x2 windows of x (N, H, W, C): window row i of every
    window in an image row is x6[:, :, i] -- a contiguous run of 2*Wo*C elements."""
    n, h, w, c = x.shape
    st = x.strides
    return as_strided(x, (n, h // 2, 2, w // 2, 2, c),
                      (st[0], 2 * st[1], st[1], 2 * st[2], st[2], st[3]))


def _max_pool_2x2(x, out):
    """The common MaxPooling2D(2): max of the two window rows first (long contiguous runs),
    then of the column pair (faster than four strided views)."""
    x6 = _rows_2x2(x)
    v = np.maximum(x6[:, :, 0], x6[:, :, 1])  # (N, Ho, Wo, 2, C)
    np.maximum(v[..., 0, :], v[..., 1, :], out=out)


def _max_pool_nd(x, ksize, strides, dilations, pads):
    xp = pad(x, pads, _lowest(x.dtype))
    out_sp = out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    ks = iter(offsets(ksize))
    out = np.array(offset_view(xp, next(ks), out_sp, strides, dilations))
    for k in ks:
        np.maximum(out, offset_view(xp, k, out_sp, strides, dilations), out=out)
    return out


def _pool_shape(x_shape, ksize, strides, dilations, pads):
    return (x_shape[0],) + out_sizes(x_shape[1:-1], ksize, strides, dilations, pads) + \
        (x_shape[-1],)


def max_pool(x, ksize, strides, dilations, pads):
    dt = x.dtype
    x = x.astype(compute_dtype(dt), copy=False)
    shape = _pool_shape(x.shape, ksize, strides, dilations, pads)
    if x.ndim == 4 and _is_2x2(ksize, strides, dilations, pads) and x.size:
        out = np.empty(shape, x.dtype)
        batch_parallel(shape[0], x.nbytes, lambda lo, hi: _max_pool_2x2(x[lo:hi], out[lo:hi]))
    else:
        out = _per_image(lambda t: _max_pool_nd(t, ksize, strides, dilations, pads), shape,
                         x.dtype, x)
    return out.astype(dt, copy=False)


def _max_pool_2x2_grad(x, out, g, dx):
    """Routes g to each 2x2 window's first maximum in row-major order, into dx. The four
    window offsets are gathered into contiguous arrays by copying whole channel vectors (a
    void dtype of C floats per item, so each copy moves C*4-byte items, not floats), the
    compares and masked products run on contiguous arrays, and one copy per offset scatters
    the result back (1.3x faster than masks over strided views)."""
    n, h, w, c = x.shape
    ho, wo = out.shape[1:3]
    item = np.dtype((np.void, c * x.dtype.itemsize))
    xv = x.view(item).reshape(n, h, w) if x.flags.c_contiguous else None
    dv = dx.view(item).reshape(n, h, w)
    if (h, w) != (2 * ho, 2 * wo):
        dx[...] = 0
    buf = np.empty((n, ho, wo, c), x.dtype)
    res = np.empty((n, ho, wo, c), x.dtype)
    taken = np.empty(out.shape, bool)
    e = np.empty(out.shape, bool)
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        if xv is not None:  # np.copyto: 2x faster than slice assignment for void items
            np.copyto(buf.view(item).reshape(n, ho, wo), xv[:, i:2 * ho:2, j:2 * wo:2])
            src = buf
        else:
            src = x[:, i:2 * ho:2, j:2 * wo:2]
        if k == 0:
            np.equal(src, out, out=taken)
            mask = taken
        else:
            np.equal(src, out, out=e)
            np.greater(e, taken, out=e)  # e and not taken: the first maximum only
            if k != 3:
                taken |= e
            mask = e
        np.multiply(g, mask, out=res)
        np.copyto(dv[:, i:2 * ho:2, j:2 * wo:2], res.view(item).reshape(n, ho, wo))


_OFFSETS_2X2 = ((0, 0), (0, 1), (1, 0), (1, 1))


def is_2x2(x, ksize, strides, dilations, pads):
    """Whether max_pool_2x2_argmax applies: 4-d, 2x2 windows, stride 2, no padding."""
    return x.ndim == 4 and _is_2x2(ksize, strides, dilations, pads) and x.size > 0 and \
        x.dtype.kind == "f" and x.dtype.itemsize >= 4


def _gather_2x2(x, bufs):
    """bufs[k] = the k-th window offset's (N, Ho, Wo, C) elements, copied as whole channel
    vectors (a void item of C floats: far fewer, longer copies than float by float)."""
    n, h, w, c = x.shape
    ho, wo = bufs.shape[2:4]
    item = np.dtype((np.void, c * x.dtype.itemsize))
    xv = np.ascontiguousarray(x).view(item).reshape(n, h, w)
    for k, (i, j) in enumerate(_OFFSETS_2X2):
        np.copyto(bufs[k].view(item).reshape(n, ho, wo), xv[:, i:2 * ho:2, j:2 * wo:2])


def max_pool_2x2_argmax(x, jit=None):
    """(out, idx) for 2x2 stride-2 max pooling of x (N, H, W, C): idx (uint8) is the offset of
    each window's first maximum in row-major order (0..3), kept so the gradient needs neither
    x nor compares (max_pool_2x2_grad_from_argmax: 2x faster than recomputing the masks).
    `jit`: tenfold/jit's kernels module, for one compiled pass."""
    n, h, w, c = x.shape
    out = np.empty((n, h // 2, w // 2, c), x.dtype)
    idx = np.empty(out.shape, np.uint8)
    batch_parallel(n, x.nbytes,
                   lambda lo, hi: _pool_into(x[lo:hi], out[lo:hi], idx[lo:hi], False, jit))
    return out, idx


def _pool_into(x, out, idx, relu, jit):
    """out, idx = 2x2 pooling of x with its argmax; with relu, the ReLU applied after the
    pooling (it commutes with max) and its dead windows marked (mask_argmax_by_relu)."""
    if jit is not None:  # the Numba kernels module: the same in one pass
        jit.pool_2x2_argmax(x, out, idx, relu, out.dtype.type(0))
        return
    _pool_2x2_argmax_into(x, out, idx)
    if relu:
        mask_argmax_by_relu(out, idx)
        _relu_kernel(out, out)


def _pool_2x2_argmax_into(x, out, idx):
    n, ho, wo, c = out.shape
    bufs = np.empty((4, n, ho, wo, c), x.dtype)
    _gather_2x2(x, bufs)
    a, b, cc, d = bufs
    rt = b > a             # top row: right strictly greater (ties go left)
    rb = d > cc            # bottom row
    top = np.maximum(a, b, out=a)
    bottom = np.maximum(cc, d, out=cc)
    bt = bottom > top      # bottom row strictly greater (ties go up)
    np.maximum(top, bottom, out=out)
    np.logical_xor(rt, rb, out=rb)
    np.logical_and(rb, bt, out=rb)
    np.logical_xor(rt, rb, out=rt)  # the column: rb where bottom wins, else rt
    np.left_shift(bt.view(np.uint8), 1, out=idx)
    np.bitwise_or(idx, rt.view(np.uint8), out=idx)


def conv_bias_act_pool(x, w, b, pads, relu=False, jit=None):
    """(out, idx) = max_pool_2x2_argmax(relu?(conv(x, w) + b)) for a stride-1 conv, groups
    1, float32/float64: each chunk of the conv's output is pooled while it is in cache, and
    the full-size output is never written (graph-only fusion: the gradients through the
    pooling need only idx)."""
    if not LEGACY:  # native direct conv (few input channels) or Winograd's F(2x2, 3x3)
        # with the pooling as its epilogue (or None)
        res = _direct().conv_bias_act_pool(x, w, b, pads, relu)
        if res is None:
            res = _native_conv().conv_pool(x, w, b, pads, relu)
        if res is not None:
            return res
    ksize, cout = w.shape[:-2], w.shape[-1]
    out_sp = out_sizes(x.shape[1:-1], ksize, (1, 1), (1, 1), pads)
    n = x.shape[0]
    out = np.empty((n, out_sp[0] // 2, out_sp[1] // 2, cout), x.dtype)
    idx = np.empty(out.shape, np.uint8)
    if out.size == 0 or w.shape[-2] == 0 or _is_pointwise(ksize, (1, 1), pads):
        _pool_into(conv_bias_act(x, w, b, (1, 1), (1, 1), pads), out, idx, relu, jit)
        return out, idx

    def sink(n0, n1, block):
        _pool_into(block.reshape((n1 - n0,) + out_sp + (cout,)), out[n0:n1], idx[n0:n1],
                   relu, jit)

    if _native_conv().conv(x, w, b, (1, 1), (1, 1), pads, sink=sink) is None:
        _conv1(pad(x, pads), w, None, (1, 1), (1, 1), b, False, sink=sink, out_sp=out_sp)
    return out, idx


def mask_argmax_by_relu(out, idx):
    """Marks windows whose maximum is not > 0 with an offset of 4 + q, which no gradient
    routing matches: routing g with the marked idx then equals routing relu_backprop(g, out)
    -- the ReLU before the pooling needs no pass of its own in the backward step."""
    dead = np.greater(out, 0)
    np.logical_not(dead, out=dead)
    np.bitwise_or(idx, np.left_shift(dead.view(np.uint8), 2), out=idx)


def max_pool_2x2_grad_from_argmax(idx, g, x_shape):
    """The gradient of 2x2 stride-2 max pooling given its argmax (see max_pool_2x2_argmax)."""
    n, h, w, c = x_shape
    ho, wo = idx.shape[1:3]
    dx = np.empty(x_shape, g.dtype)
    item = np.dtype((np.void, c * g.dtype.itemsize))

    def part(lo, hi):
        if (h, w) != (2 * ho, 2 * wo):
            dx[lo:hi] = 0
        dv = dx[lo:hi].view(item).reshape(hi - lo, h, w)
        res = np.empty((hi - lo, ho, wo, c), g.dtype)
        e = np.empty(res.shape, bool)
        for k, (i, j) in enumerate(_OFFSETS_2X2):
            np.equal(idx[lo:hi], k, out=e)
            np.multiply(g[lo:hi], e, out=res)
            np.copyto(dv[:, i:2 * ho:2, j:2 * wo:2], res.view(item).reshape(hi - lo, ho, wo))

    batch_parallel(n, dx.nbytes, part)
    return dx


def _first_max_masks(xp, out, ksize, strides, dilations):
    """Yields (offset, mask): mask marks the windows whose first maximum is at that offset."""
    out_sp = out.shape[1:-1]
    taken = None
    last = math.prod(ksize) - 1
    for i, k in enumerate(offsets(ksize)):
        e = offset_view(xp, k, out_sp, strides, dilations) == out
        if taken is None:
            taken = e
        else:
            np.greater(e, taken, out=e)  # e and not taken
            if i != last:
                taken |= e
        yield k, e


def _max_pool_grad_nd(x, out, g, ksize, strides, dilations, pads):
    xp = pad(x, pads, _lowest(x.dtype))
    out_sp = out.shape[1:-1]
    disjoint = _non_overlapping(ksize, strides, dilations, pads)
    covered = disjoint and all(o * s == n for o, s, n in zip(out_sp, strides, x.shape[1:-1])) \
        and all(k == s for k, s in zip(ksize, strides))
    dxp = np.empty(xp.shape, x.dtype) if covered else np.zeros(xp.shape, x.dtype)
    for k, e in _first_max_masks(xp, out, ksize, strides, dilations):
        view = offset_view(dxp, k, out_sp, strides, dilations)
        if disjoint:
            np.multiply(g, e, out=view)
        else:
            view += g * e
    return _unpad(dxp, pads, x.shape)


def max_pool_grad(x, out, g, ksize, strides, dilations, pads):
    """Routes g to each window's first maximum (TensorFlow's tie rule)."""
    dt = x.dtype
    ct = compute_dtype(dt)
    x, out, g = (a.astype(ct, copy=False) for a in (x, out, g))
    if x.ndim == 4 and _is_2x2(ksize, strides, dilations, pads) and x.size:
        dx = np.empty(x.shape, ct)
        batch_parallel(x.shape[0], 2 * x.nbytes, lambda lo, hi: _max_pool_2x2_grad(
            x[lo:hi], out[lo:hi], g[lo:hi], dx[lo:hi]))
    else:
        dx = _per_image(lambda *a: _max_pool_grad_nd(*a, ksize, strides, dilations, pads),
                        x.shape, ct, x, out, g)
    return dx.astype(dt, copy=False)


def _max_pool_grad_grad_nd(x, out, gg, ksize, strides, dilations, pads):
    xp = pad(x, pads, _lowest(x.dtype))
    gp = pad(gg, pads)
    out_sp = out.shape[1:-1]
    res = np.zeros(out.shape, x.dtype)
    for k, e in _first_max_masks(xp, out, ksize, strides, dilations):
        res += offset_view(gp, k, out_sp, strides, dilations) * e
    return res


def max_pool_grad_grad(x, out, gg, ksize, strides, dilations, pads):
    """The adjoint of max_pool_grad in g: gg read at each window's first maximum."""
    dt = x.dtype
    ct = compute_dtype(dt)
    x, out, gg = (a.astype(ct, copy=False) for a in (x, out, gg))
    return _per_image(lambda *a: _max_pool_grad_grad_nd(*a, ksize, strides, dilations, pads),
                      out.shape, ct, x, out, gg).astype(dt, copy=False)


def _avg_counts(in_sp, ksize, strides, dilations, pads, out_sp, dtype):
    """How many real (unpadded) elements each window holds: (1, *out_sp, 1), or a scalar."""
    if not any(a or b for a, b in pads):
        return dtype.type(math.prod(ksize))
    counts = np.ones((), dtype)
    for n, k, s, d, (a, _), o in zip(in_sp, ksize, strides, dilations, pads, out_sp):
        pos = np.arange(o)[:, None] * s - a + np.arange(k)[None, :] * d
        c = ((pos >= 0) & (pos < n)).sum(axis=1).astype(dtype)
        counts = np.multiply.outer(counts, c)
    return counts.reshape((1,) + tuple(out_sp) + (1,))


def _avg_pool_nd(x, ksize, strides, dilations, pads):
    xp = pad(x, pads)
    out_sp = out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    ks = iter(offsets(ksize))
    out = np.array(offset_view(xp, next(ks), out_sp, strides, dilations))
    for k in ks:
        out += offset_view(xp, k, out_sp, strides, dilations)
    out /= _avg_counts(x.shape[1:-1], ksize, strides, dilations, pads, out_sp, x.dtype)
    return out


def _tiling_windows(x_shape, ksize, strides, dilations, pads):
    """(kh, kw) where the windows of a 2-D pooling tile the image: stride = window, no
    dilation or pads (AveragePooling2D(k), the usual case); else None."""
    if len(x_shape) != 4 or len(ksize) != 2 or tuple(strides) != tuple(ksize) or \
            any(d != 1 for d in dilations) or any(a or b for a, b in pads) or \
            any(k < 1 for k in ksize) or 0 in x_shape or \
            x_shape[1] < ksize[0] or x_shape[2] < ksize[1]:
        return None
    return int(ksize[0]), int(ksize[1])


def avg_pool(x, ksize, strides, dilations, pads):
    dt = x.dtype
    ct = compute_dtype(dt)
    x = x.astype(ct, copy=False)
    tiling = _tiling_windows(x.shape, ksize, strides, dilations, pads)
    if tiling is not None and not LEGACY:   # native (conv_direct.py), else None
        out = _direct().avg_pool_tiling(x, *tiling)
        if out is not None:
            return out.astype(dt, copy=False)
    return _per_image(lambda t: _avg_pool_nd(t, ksize, strides, dilations, pads),
                      _pool_shape(x.shape, ksize, strides, dilations, pads), ct,
                      x).astype(dt, copy=False)


def _avg_pool_grad_nd(g, x_shape, ksize, strides, dilations, pads):
    out_sp = g.shape[1:-1]
    gs = g / _avg_counts(x_shape[1:-1], ksize, strides, dilations, pads, out_sp, g.dtype)
    padded = (g.shape[0],) + tuple(n + a + b for n, (a, b) in zip(x_shape[1:-1], pads)) + \
        (x_shape[-1],)
    dxp = np.zeros(padded, g.dtype)
    disjoint = _non_overlapping(ksize, strides, dilations, pads)
    for k in offsets(ksize):
        view = offset_view(dxp, k, out_sp, strides, dilations)
        if disjoint:
            view[...] = gs
        else:
            view += gs
    return _unpad(dxp, pads, (g.shape[0],) + tuple(x_shape[1:]))


def avg_pool_grad(g, x_shape, ksize, strides, dilations, pads):
    dt = g.dtype
    ct = compute_dtype(dt)
    g = g.astype(ct, copy=False)
    tiling = _tiling_windows(tuple(x_shape), ksize, strides, dilations, pads)
    if tiling is not None and not LEGACY:   # native (conv_direct.py), else None
        dx = _direct().avg_pool_grad_tiling(g, x_shape, *tiling)
        if dx is not None:
            return dx.astype(dt, copy=False)
    return _per_image(lambda t: _avg_pool_grad_nd(t, x_shape, ksize, strides, dilations, pads),
                      tuple(x_shape), ct, g).astype(dt, copy=False)
