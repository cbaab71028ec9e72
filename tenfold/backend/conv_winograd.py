"""3x3 stride-1 convolutions (float32, channels-last, one group, no dilation) by Winograd's
F(2x2, 3x3) (native/winograd.c): the forward with bias and ReLU, through it the stride-1
input gradient (conv_native.backprop_input runs the forward on dy), and the filter gradient
(dU = sum over tiles of V^T dM, dM = A dY A^T; dg = G^T dU G). Each returns None where it
does not apply (see `wins`); conv_native's direct kernels run then.

Why: the direct kernels already run ResNet-20's 3x3 convolutions at 170-180 GFLOP/s on two
cores, about the machine's peak (OpenBLAS's 1024^3 SGEMM: 181), so only fewer operations
make them faster. F(2x2, 3x3) does 16 multiply-adds per tile, input and output channel where
the direct convolution does 36; its transforms only add, subtract and halve.

Numerics: not the direct kernel's bits. Each output is the same sum, but of transformed
values: the input transform adds or subtracts two values, the output transform sums up to
nine products' partial sums, so the rounding is a few more additions per value (the tests
bound it against float64 sums, as for the direct kernel).

Inside `fit` (bench/profile_fit.py, alternating): ResNet-20's step 115-119 -> 83-84 ms, its
convolution nodes 94 -> 67 ms; the MNIST convnet's 14.0-14.6 -> 12.8-12.9 ms, then 12.4-12.7
-> 9.3-9.5 ms with its conv + ReLU + 2x2 pool fusion pooling each output tile (`conv_pool`)
and the pooled input gradient's wider padding (dz covers 10 of the 11 rows) taken too.
The 16-channel layers gain least there (forward 1.7 -> 1.4 ms): with 16 channels the
transforms are a third of the work, and they read x and dy from memory where
the direct kernel's C padding copy streams them (the transforms fetch the next tile row's
lines ahead, which took the cold 16->16 filter gradient from 2.04 to 1.77 ms).
"""
import ctypes

import numpy as np

from tenfold.backend import kernels as _k
from tenfold.backend import native
from tenfold.backend import native_pool as _pool

_F32 = np.dtype(np.float32)
_PARAMS = 18
_STATUS = 17
# V (16, tb, c) and M (16, tb, o) of a block of tb tiles: about 128 KB each, in L2
_BLOCK_FLOATS = 1 << 15
_ROWS = 24          # tb a multiple of the micro-kernels' 4, 8 and 12 rows
_TASKS_PER_THREAD = 4
# the filter gradient's tasks: about this many multiply-adds' worth of (tile, c, o) each,
# whatever the threads (each writes a 16 x c x o partial, added in order afterwards)
_DW_TASK_WORK = 1 << 20


def _fns():
    """(the forward's tile-chunk task, the filter transform, the filter gradient's task, its
    inverse transform) ctypes functions, or None."""
    if not native.simd("winograd", "winograd_simd"):
        return None
    transform = native.pointers_and_ints(1, 2) + [ctypes.c_void_p]
    return (native.kernel("winograd", "winograd_fwd_chunk", _F32,
                          [ctypes.c_void_p, native.i64, native.i64]),
            native.kernel("winograd", "winograd_filter", _F32, transform),
            native.kernel("winograd", "winograd_dw_chunk", _F32,
                          [ctypes.c_void_p, native.i64, native.i64, native.i64]),
            native.kernel("winograd", "winograd_filter_grad", _F32, transform))


# Measured (b64 unless said, two threads, wall, medians, kernels.conv_bias_act with ReLU
# and kernels.conv_backprop_input, pads 1; the direct or im2col kernel -> F(2x2, 3x3), ms;
# bench/winograd_ab.py): ResNet-20's 16->16 32x32 1.62 -> 1.25 forward, 1.66 -> 1.41
# input gradient; 32->32 16x16 1.65 -> 0.94; 64->64 8x8 1.87 -> 0.88; 128->128 8x8 b32
# 3.94 -> 1.71; 64->64 56x56 b8 8.8 -> 4.8; 256->256 4x4 b32 4.16 -> 2.05; 512->512 4x4 b16
# 10.3 -> 7.3 forward, 16.0 -> 13.4 input gradient. With fewer input channels the
# transforms cost what the products save: 8->16 0.88 -> 0.90 and 1.04 -> 1.07, 16->8's
# input gradient (8 in) 0.88 -> 0.93, 8->8 ties, 3->16 (a first layer) 0.54 -> 0.53; with
# 8 outputs and 16 in it wins (16->8 forward 1.65 -> 1.23, 8->16's input gradient 1.98 ->
# 1.60).
_MIN_IN = 16
_MIN_OUT = 8
# U is (16, C, O): past 512 x 512 (a 16 MB transform per call) the products read it from
# beyond L2 for every block of tiles and the gain is gone
_MAX_FILTER_PAIRS = 512 * 512
# a block's V or M scratch is 16 * 24 tiles * channels floats at least: 1.5 MB at 1024
_MAX_CHANNELS = 1024


# The filter gradient (the direct kernel -> F(2x2, 3x3), with the bias gradient, the same
# rule): 16->16 32x32 2.09 -> 1.60, 32->32 16x16 1.54 -> 0.99, 64->64 8x8 1.46 -> 0.84,
# 16->32 16x16 1.01 -> 0.56, 128->128 8x8 b32 5.8 -> 3.4 and 6.3 -> 2.4, 64->64 56x56 b8
# 8.7 -> 5.5, 16->8 2.15 -> 1.85 and 2.50 -> 2.04; with 8 input channels it ties or loses
# (8->16 1.46 -> 1.38, 1.44 -> 1.47; 8->8 16x16 0.33 -> 0.48). Each task writes a
# (16, C, O) partial, all summed afterwards: at 256 x 256 (4 MB each) that traffic makes it
# a toss-up (256->256 4x4 b32: 5.8 -> 4.8, 6.4 -> 5.4, 6.3 -> 7.7), so up to 128 x 128.
_DW_MAX_FILTER_PAIRS = 128 * 128


def wins(x_shape, w_shape, filter_grad=False):
    """Whether F(2x2, 3x3) beats the direct kernel for this (N, H, W, C) input and
    (3, 3, C, O) filter, for the forward (and input gradient) or the filter gradient
    (measured; see the figures above)."""
    kh, kw, c, o = w_shape
    if kh != 3 or kw != 3 or max(c, o) > _MAX_CHANNELS:
        return False
    pairs = _DW_MAX_FILTER_PAIRS if filter_grad else _MAX_FILTER_PAIRS
    return c >= _MIN_IN and o >= _MIN_OUT and c * o <= pairs


def filter_transform(w, fn):
    """U = G w G^T as (16, C, O) float32 for a (3, 3, C, O) filter (fn: winograd_filter)."""
    w = np.ascontiguousarray(w)
    u = np.empty((16,) + w.shape[2:], _F32)
    fn(native.addr(w), w.shape[2], w.shape[3], native.addr(u))
    return u


def conv(x, w, b, pads, relu=False):
    """relu?(conv(x, w) + b), stride 1, as (N, Ho, Wo, O) float32, or None where it does
    not apply (another dtype, filter size or layout, no native library or AVX-512)."""
    return _forward(x, w, b, pads, relu, pooled=False)


def conv_pool(x, w, b, pads, relu=False):
    """(out, idx) = 2x2 stride-2 max pooling, with its argmax, of relu?(conv(x, w) + b) for
    a stride-1 conv (kernels.conv_bias_act_pool's contract: idx the offset of each window's
    first maximum, + 4 where relu left the window dead), or None as `conv`. A 2x2 output tile
    is one pooling window, so each is pooled in the output transform and the conv's output
    is never written."""
    return _forward(x, w, b, pads, relu, pooled=True)


def conv_routed(g, route, w, pads):
    """conv(dz, w) for dz the unpooled form of a 2x2 max pooling's gradient g (N, Ha, Wa, C):
    (N, 2 Ha, 2 Wa, C), each window's g at the offset its argmax `route` (conv_pool's idx,
    uint8, g's shape) names, zero elsewhere and in dead windows. dz is never made: the input
    transform reads g through the route. The pooled conv's input gradient (conv_native); None
    where it does not apply."""
    if type(route) is not np.ndarray or type(g) is not np.ndarray or route.dtype != np.uint8 \
            or route.shape != g.shape:
        return None
    return _forward(g, w, None, pads, False, pooled=False, route=np.ascontiguousarray(route))


def _forward(x, w, b, pads, relu, pooled, route=None):
    if type(x) is not np.ndarray or type(w) is not np.ndarray or x.dtype != _F32 or \
            w.dtype != _F32 or x.ndim != 4 or w.ndim != 4 or w.shape[:2] != (3, 3) or \
            w.shape[2] != x.shape[3] or x.size == 0 or \
            (b is not None and (type(b) is not np.ndarray or b.dtype != _F32 or
                                b.shape != (w.shape[3],))):
        return None
    (pt, pb), (pl, pr) = pads
    if min(pt, pb, pl, pr) < 0:
        return None
    n, h, wd, c = x.shape
    if route is not None:   # x is pooled: the transform reads it unpooled
        h, wd = 2 * h, 2 * wd
    o = w.shape[3]
    ho, wo = h + pt + pb - 2, wd + pl + pr - 2
    fns = _fns()
    if ho <= 0 or wo <= 0 or o == 0 or fns is None:
        return None
    fn, transform = fns[:2]
    x = np.ascontiguousarray(x)
    u = filter_transform(w, transform)
    bias = None if b is None else np.ascontiguousarray(b)
    if pooled:
        y = np.empty((n, ho // 2, wo // 2, o), _F32)
        idx = np.empty(y.shape, np.uint8)
    else:
        y = np.empty((n, ho, wo, o), _F32)
    tb = _block(c, o)
    tiles = n * ((ho + 1) // 2) * ((wo + 1) // 2)
    params = np.zeros(_PARAMS, np.int64)
    params[:17] = [native.addr(x), h, wd, c, pt, pl, native.addr(u), o,
                   native.addr(bias) if bias is not None else 0, int(relu),
                   0 if pooled else native.addr(y), ho, wo, tb,
                   native.addr(y) if pooled else 0, native.addr(idx) if pooled else 0,
                   native.addr(route) if route is not None else 0]
    per_task = -(-tiles // (_TASKS_PER_THREAD * max(1, _pool.threads())))
    step = -(-per_task // tb) * tb   # whole blocks per task
    ranges = [(t, min(t + step, tiles)) for t in range(0, tiles, step)]
    _run(fn, params, ranges, x.nbytes + y.nbytes, tb, c, o)
    return (y, idx) if pooled else y


def _block(c, o):
    """Tiles per block: V and M (or dM) of a block about _BLOCK_FLOATS each."""
    return max(_ROWS, _BLOCK_FLOATS // max(c, o) // 16 // _ROWS * _ROWS)


def _run(fn, params, rows, nbytes, tb, c, o):
    """fn(params, *row) for every row: on the C pool, else on the Python kernel threads."""
    rows = np.column_stack([np.full(len(rows), native.addr(params), np.int64),
                            np.asarray(rows, np.int64)])
    if not _pool.run(fn, rows):
        _k.run_tasks([tuple(r[1:]) for r in rows],
                     lambda r, _: fn(native.ptr(params), *r), nbytes)
    if params[_STATUS]:
        raise MemoryError(f"conv2d (Winograd): no memory for a thread's scratch: "
                          f"{16 * tb * (c + o) * 4} bytes for a block of {tb} tiles")


def backprop_filter(x, dy, pads, with_bias=False, route=None):
    """The filter gradient (3, 3, C, O) float32 of a stride-1 conv(x, w) with dy (N, Ho, Wo,
    O), or None where it does not apply; with `with_bias`, (dw, db), db being dy summed over
    all axes but the last (each task sums its tiles' pixels in double). The tasks are fixed
    by the shapes (not the threads) and their partial dU are added in task order, so no
    result depends on the thread count. With `route` (as conv_routed), dy is a 2x2 max
    pooling's gradient (N, Ho / 2, Wo / 2, O), read unpooled: a tile is one window."""
    if type(x) is not np.ndarray or type(dy) is not np.ndarray or x.dtype != _F32 or \
            dy.dtype != _F32 or x.ndim != 4 or dy.ndim != 4 or x.size == 0 or dy.size == 0:
        return None
    if route is not None and (type(route) is not np.ndarray or route.dtype != np.uint8 or
                              route.shape != dy.shape):
        return None
    (pt, pb), (pl, pr) = pads
    n, h, wd, c = x.shape
    o = dy.shape[3]
    ho, wo = h + pt + pb - 2, wd + pl + pr - 2
    fns = _fns()
    seen = (n, ho // 2, wo // 2, o) if route is not None and ho % 2 == 0 and wo % 2 == 0 \
        else (n, ho, wo, o)
    if min(pt, pb, pl, pr) < 0 or dy.shape != seen or fns is None:
        return None
    fn, inverse = fns[2:]
    x = np.ascontiguousarray(x)
    dy = np.ascontiguousarray(dy)
    route = None if route is None else np.ascontiguousarray(route)
    tb = _block(c, o)
    tiles = n * ((ho + 1) // 2) * ((wo + 1) // 2)
    per_task = -(-max(tb, _DW_TASK_WORK // (c * o)) // tb) * tb
    ranges = [(i, t, min(t + per_task, tiles)) for i, t in enumerate(range(0, tiles, per_task))]
    partial = np.empty((len(ranges), 16, c, o), _F32)
    bias_parts = np.empty((len(ranges), o), _F32) if with_bias else None
    params = np.zeros(_PARAMS, np.int64)
    params[:14] = [native.addr(x), h, wd, c, pt, pl, native.addr(dy), o, native.addr(partial),
                   ho, wo, tb, native.addr(bias_parts) if with_bias else 0,
                   native.addr(route) if route is not None else 0]
    _run(fn, params, ranges, x.nbytes + dy.nbytes, tb, c, o)
    du = _k.sum_in_order(partial)
    dw = np.empty((3, 3, c, o), _F32)
    inverse(native.addr(du), c, o, native.addr(dw))
    return (dw, _k.sum_in_order(bias_parts)) if with_bias else dw
