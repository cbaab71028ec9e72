"""2-D convolutions (float32, channels-last, one group) through the native implicit-GEMM
kernels of native/conv_gemm.c: the forward (with bias and ReLU), the filter gradient, and
the stride-1 input gradient (the forward on the padded dy with the flipped, transposed
filter). Each function returns None where it does not apply (another dtype or rank, groups,
no native library or no AVX-512 build: the im2col + GEMM kernels in kernels.py run then).

Why: im2col + OpenBLAS runs these narrow GEMMs (16..64 output channels, depth K*K*C_in) at
a fraction of the CPU's peak and copies K*K times the input first; the micro-kernels keep
a block of outputs in registers and read the input in place. Measured (single thread,
process time, medians, float32, batch 64, 3x3 pads 1, ResNet-20's shapes; im2col path ->
native, ms) in the comments at each entry point below.

The images are cut into fixed chunks (about `_CHUNK_BYTES` of input each), run as tasks of
the C pool (backend/native_pool.py: C threads that need no GIL, a region started in
microseconds); each task pads its chunk in C into its thread's own scratch (borders zeroed,
interior copied; conv_gemm.c's `*_chunk` entry points). Where the pool cannot be had, the
chunks go to the Python kernel threads and are padded in NumPy, with the same bits. The
filter gradient sums the chunks' partials in chunk order, so no result depends on the
thread count. Measured (ResNet-20's convolutions, b64, two threads, medians; Python threads
-> C pool, ms): 3x3 16->16 32x32 forward 2.14 -> 1.99, input gradient 2.24 -> 1.83, filter
gradient 2.73 -> 2.23; inside `fit` the step's convolutions took 124 -> 112 ms (round 14,
docs/benchmarks.md).
"""
import ctypes
import os

import numpy as np

from tenfold.backend import conv_winograd as _wg
from tenfold.backend import kernels as _k
from tenfold.backend import native
from tenfold.backend import native_pool as _pool

_CHUNK_BYTES = 1 << 19
_F32 = np.dtype(np.float32)
_P, _I = ctypes.c_void_p, native.i64
_FWD_ARGS = [_P, _I, _I, _I, _I, _P] + [_I] * 7 + [_P, _I, _P, _I, _I, _I, _P, _I, _I, _I]
_DW_ARGS = [_P, _I, _I, _I, _I, _P] + [_I] * 9 + [_P, _P, _I]


def _lib():
    """(conv_fwd, conv_dw) ctypes functions, or None where native conv is not to be used."""
    if not native.simd("conv_gemm", "conv_simd"):
        return None
    lib = native.load("conv_gemm")
    if id(lib) not in _l1d_told:   # the forward's channel blocks follow L1's size
        tell = lib.conv_set_l1d
        tell.argtypes, tell.restype = [_I], None
        tell(_l1d_bytes())
        _l1d_told.add(id(lib))
    return (native.kernel("conv_gemm", "conv_fwd", _F32, _FWD_ARGS),
            native.kernel("conv_gemm", "conv_dw", _F32, _DW_ARGS))


_l1d_told = set()   # the libraries told L1's size (a rebuilt one is told again)


def _l1d_bytes():
    """The first CPU's level-1 data cache in bytes (Linux's sysfs), or 0 where it cannot be
    read (conv_gemm.c then keeps its 48 KB default)."""
    base = "/sys/devices/system/cpu/cpu0/cache"

    def read(entry, name):
        with open(os.path.join(base, entry, name)) as f:
            return f.read().strip()
    try:
        for entry in sorted(os.listdir(base)):
            if read(entry, "level") == "1" and read(entry, "type") in ("Data", "Unified"):
                size = read(entry, "size").upper()
                scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1:], 1)
                return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return 0


# A chunk's parameters: one int64 block per call (conv_gemm.c's conv_fwd_chunk /
# conv_dw_chunk), its status slot set by a task whose thread could not get its scratch
_CHUNK_PARAMS = 27
_CHUNK_STATUS = 26


def _on_pool(kind, params, tasks):
    """Runs conv_gemm.c's `<kind>_chunk` over tasks (rows of its integer arguments after the
    parameter block) on the C pool; False where the pool cannot be had (nothing run)."""
    if not _pool.available():
        return False
    block = np.zeros(_CHUNK_PARAMS, np.int64)
    block[:len(params)] = params   # addresses and sizes (0 for an absent array)
    fn = native.kernel("conv_gemm", f"{kind}_chunk", _F32, [_P] + [_I] * len(tasks[0]))
    rows = np.empty((len(tasks), 1 + len(tasks[0])), np.int64)
    rows[:, 0] = native.addr(block)
    rows[:, 1:] = tasks
    if not _pool.run(fn, rows):
        return False
    if block[_CHUNK_STATUS]:
        _, h, w, c, pt, pb, pl, pr = params[:8]
        raise MemoryError(f"conv2d: no memory for a thread's scratch ({kind}): a padded "
                          f"image of ({h + pt + pb}, {w + pl + pr}, {c}) float32 per image "
                          f"of its chunk")
    return True


# the kernels' vectors run along the output channels (the input's, for the input gradient):
# below 8 most lanes would be masked off, and im2col + GEMM wins
_MIN_CHANNELS = 8
# The forward kernel streams the filter once per block of output pixels, so it wins while
# the filter stays in L1/L2 and the GEMM is narrow. Measured (one thread, process time,
# medians, b64/b32): 3x3 16->16 32x32 8.6 -> 5.1 ms, 3x3 64->64 8x8 5.3 -> 3.8, 1x1 32->64
# 32x32 2.8 -> 1.8.
_MAX_FWD_OUT = 64
_MAX_FWD_FILTER_BYTES = 160 << 10


# Wider filters (O > 64) run as blocks of 64 output channels, each block's filter packed
# into one contiguous run (read in place, a C x 64 panel is C runs 4*O bytes apart that
# fall into a fraction of L1's sets) and, with more than one tap, one tap at a time (below):
# they win while a tap's C x 64 panel fits L1, so while C <= 192. Measured (one thread,
# process time, min of 9, alternating, im2col + OpenBLAS -> native, ms;
# /work/scratch/wide_ab4.py): the DCGAN's 4x4/2 128->128 28x28 b64 69.5 -> 57.2 and 14x14
# 23.3 -> 18.5, its discriminator's 3x3/2 64->128 14x14 b128 10.9 -> 8.4, MobileNet's 1x1
# 128->128 16x16 b32 3.8 -> 2.7, 1x1 64->128 1.10 -> 0.95, 1x1 128->256 8x8 1.09 -> 0.96;
# but with C = 256 the panel spills L1 and it loses (1x1 256->256 8x8 2.0 -> 2.5).

# Bigger filters run one tap at a time over each chunk: the tap's C x 64 panel stays in L1,
# the chunk's partial sums in L2. Measured (b64, two threads, wall, medians of 5, NumPy ->
# native, ms; /work/scratch/tap_ab.py): the DCGAN discriminator's 4x4/2 64->128 conv as its
# input gradient (dy's 128 channels in, 64 out) 31.6 -> 23.8. With O > 64 each block sweeps
# the chunk on its own (the DCGAN's 4x4/2 128->128 forward above: 64.6 ms with every tap per
# pixel block, 57.2 one tap at a time).
_TAP_OUTER_FILTER_BYTES = _MAX_FWD_FILTER_BYTES
_MAX_TAP_BYTES = 48 << 10


def _forward_wins(w_shape):
    kh, kw, c, o = w_shape
    if o > _MAX_FWD_OUT:
        return c * _MAX_FWD_OUT * 4 <= _MAX_TAP_BYTES
    if o < _MIN_CHANNELS:
        return False
    return kh * kw * c * o * 4 <= _MAX_FWD_FILTER_BYTES or _tap_outer(w_shape)


def _input_grad_wins(w_shape):
    """The input gradient runs the forward kernel with dy's channels in and x's out. With a
    single output channel (a generator's or a segmentation head's last conv) its K is tiny
    and up to 128 input channels win: the DCGAN's 7x7 128->1 b64 28x28, two threads, wall,
    15.6 -> 8.2 ms."""
    kh, kw, c, o = w_shape
    if o == 1 and _MIN_CHANNELS <= c <= 2 * _MAX_FWD_OUT:
        return True
    return _forward_wins((kh, kw, o, c))


def _tap_outer(w_shape):
    kh, kw, c, o = w_shape
    panel = c * min(o, 64) * 4
    # each tap reloads and stores the block's partial sums: worth it from 64 input channels
    # (the 7x7 128->1 input gradient, C = 1 and O = 128, ran 20x slower one tap at a time)
    return panel <= _MAX_TAP_BYTES and kh * kw > 1 and \
        (kh * kw * panel > _TAP_OUTER_FILTER_BYTES or (o > 64 and c >= 64))


# The filter gradient (conv_gemm.c conv_dw) runs the pixels in tiles of _DW_TILE (at most
# DW_MAX_TILE = 512 there): per tile and block of 64 output channels, dy's block (packed,
# tile x 64 floats) and the tile's lines of x stay in L1 while every (tap, 6 channels) block
# of dw runs over them, its partial sums in L2. So it wins for big filters as well, where
# im2col copies K*K times the input for OpenBLAS. Measured (b64 unless said, float32, medians
# of 9 alternating, /tmp A/B of kernels.conv_backprop_filter with this path declined -> taken,
# ms): one thread, process time (BLAS single-threaded): the DCGAN's 4x4/2 128->128 28x28
# 72.3 -> 49.7 (132 GFLOP/s), 14x14 17.4 -> 12.3; its discriminator's 3x3/2 64->128 14x14
# b128 8.5 -> 6.4, 1->64 28x28 b128 0.67 -> 0.62; ResNet-20's 3x3 16->16 32x32 5.7 -> 3.0,
# 32->32 16x16 3.8 -> 2.0, 64->64 8x8 2.8 -> 2.0, /2 16->32 2.6 -> 1.35; 3x3 128->128 8x8
# 9.9 -> 7.5, 3x3 512->512 4x4 b32 30.8 -> 23.6, 5x5 64->64 16x16 b32 17.7 -> 12.0; 1x1:
# 32->64 32x32 b32 1.8 -> 1.4, but 1x1 wider than 64 outputs (plain GEMMs, no im2col) tie:
# 64->128 16x16 1.29 vs 1.24, 256->512 4x4 0.97 vs 1.06. Two threads, wall: 4x4/2 128->128
# 28x28 77 -> 53, 14x14 11.2 -> 9.0. The kernel alone (one chunk, one thread, medians of 25,
# the previous kernel's sweeps of every pixel per register block -> tiles): 4x4/2 128->128
# 8 images 28x28 10.8 -> 5.4 ms, 14x14 1.62 -> 1.37; 3x3/2 64->128 16 images 14x14 0.92 ->
# 0.80; ResNet-20's 3x3 16->16 4 images 0.196 -> 0.154, 32->32 0.125 -> 0.119; but 3x3/2
# 1->64 16 images 28x28 0.050 -> 0.055 (3 of 6 channel rows used: the per-tile setup shows).
_DW_TILE = 128
_MAX_DW_TILE = 512
_MAX_DW_POINTWISE_OUT = 64
# a bigger dw (each chunk's partial) would live in L3 or beyond: the gain shrinks (3x3
# 512->512, 9.4 MB: 1.3x) and the partials' memory grows
_MAX_DW_BYTES = 16 << 20


def _filter_grad_wins(w_shape):
    kh, kw, c, o = w_shape
    return o >= _MIN_CHANNELS and (kh * kw > 1 or o <= _MAX_DW_POINTWISE_OUT) and \
        kh * kw * c * o * 4 <= _MAX_DW_BYTES


def _winograd_wins(x_shape, w_shape, strides, dilations, filter_grad=False):
    return tuple(strides) == (1, 1) and tuple(dilations) == (1, 1) and len(w_shape) == 4 and \
        len(x_shape) == 4 and _wg.wins(x_shape, w_shape, filter_grad)


def _applies(x, w_shape, groups, pads):
    return x.ndim == 4 and len(w_shape) == 4 and groups == 1 and x.dtype == _F32 and \
        type(x) is np.ndarray and x.size > 0 and all(a >= 0 and b >= 0 for a, b in pads) and \
        native.enabled() and _lib() is not None


def _packed(w):
    """The filter's full blocks of 64 output channels as (O // 64, KH, KW, C, 64), each tap's
    panel one contiguous run (read from w itself, a panel is C runs 4*O bytes apart, which
    map to a fraction of L1's sets); None where O has one block or fewer."""
    o = w.shape[-1]
    if o < 128:
        return None
    kh, kw, c = w.shape[:3]
    full = o // 64 * 64
    return native.line_aligned(w[..., :full].reshape(kh, kw, c, o // 64, 64)
                               .transpose(3, 0, 1, 2, 4))


def _padded_chunks(x, pads, n_per):
    """[(n0, n1)] chunks and a function giving chunk (n0, n1) padded, in a per-thread
    buffer (or a view of x when there is no padding)."""
    (pt, pb), (pl, pr) = pads
    n, h, w, c = x.shape
    hp, wp = h + pt + pb, w + pl + pr
    ranges = _k._image_ranges(n, n_per)
    if not (pt or pb or pl or pr):
        return ranges, hp, wp, (lambda n0, n1, buf: x[n0:n1]), None

    def padded(n0, n1, buf):
        b = buf[:n1 - n0]
        if pt:
            b[:, :pt] = 0
        if pb:
            b[:, hp - pb:] = 0
        if pl:
            b[:, pt:hp - pb, :pl] = 0
        if pr:
            b[:, pt:hp - pb, wp - pr:] = 0
        b[:, pt:pt + h, pl:pl + w] = x[n0:n1]
        return b

    return ranges, hp, wp, padded, (lambda: np.empty((n_per, hp, wp, c), x.dtype))


def _per_chunk(x, pads):
    n, h, w, c = x.shape
    (pt, pb), (pl, pr) = pads
    per_image = (h + pt + pb) * (w + pl + pr) * c * x.itemsize
    return _k._chunk(n, per_image, _CHUNK_BYTES)


def conv(x, w, b, strides, dilations, pads, relu=False, sink=None, chosen=False):
    """relu?(conv(x, w) + b) as (N, Ho, Wo, O) float32, or None (see the module doc).
    With `sink`, no output is made: each chunk of images is computed into a per-thread
    buffer and handed to sink(n0, n1, block) while it is in cache (returns True).
    `chosen`: the caller has already decided that the kernel wins (the input gradient).
    3x3 stride-1 convolutions where Winograd's F(2x2, 3x3) wins run through it
    (conv_winograd.py)."""
    if sink is None and x.dtype == _F32 and _winograd_wins(x.shape, w.shape, strides, dilations):
        y = _wg.conv(x, w, b, pads, relu)
        if y is not None:
            return y
    if w.ndim != 4 or not (chosen or _forward_wins(w.shape)) or \
            not _applies(x, w.shape, 1, pads) or \
            w.dtype != _F32 or w.shape[2] != x.shape[3] or \
            (b is not None and (b.dtype != _F32 or b.shape != (w.shape[3],))):
        return None
    fwd, _ = _lib()
    kh, kw, c, o = w.shape
    ho, wo = _k.out_sizes(x.shape[1:3], (kh, kw), strides, dilations, pads)
    if ho <= 0 or wo <= 0 or o == 0 or c == 0:
        return None
    x = np.ascontiguousarray(x)
    w = native.line_aligned(w)   # its rows are read once per pixel block
    bias = None if b is None else np.ascontiguousarray(b)
    y = None if sink is not None else np.empty((x.shape[0], ho, wo, o), _F32)
    n_per = _per_chunk(x, pads)
    ranges, hp, wp, padded, scratch = _padded_chunks(x, pads, n_per)
    sh, sw = strides
    dh, dw = dilations
    wptr = native.ptr(w)
    bptr = None if bias is None else native.ptr(bias)
    tap_outer = int(_tap_outer(w.shape))
    wpk = _packed(w)
    wpk_ptr = None if wpk is None else native.ptr(wpk)

    if sink is None and _on_pool(
            "conv_fwd", [native.addr(x), x.shape[1], x.shape[2], c, pads[0][0], pads[0][1],
                         pads[1][0], pads[1][1], native.addr(w), kh, kw, o, sh, sw, dh, dw,
                         native.addr(bias) if bias is not None else 0, int(relu),
                         native.addr(y), ho, wo, tap_outer,
                         native.addr(wpk) if wpk is not None else 0, ho * wo * o, wo * o, o],
            ranges):
        return y

    def work(r, bufs):
        n0, n1 = r
        xb = padded(n0, n1, bufs[0])
        out = y[n0:n1] if sink is None else bufs[1][:n1 - n0]
        fwd(native.ptr(xb), n1 - n0, hp, wp, c, wptr, kh, kw, o, sh, sw, dh, dw,
            bptr, int(relu), native.ptr(out), ho, wo, tap_outer, wpk_ptr, ho * wo * o,
            wo * o, o)
        if sink is not None:
            sink(n0, n1, out)

    def buffers():
        return (scratch() if scratch else None,
                np.empty((n_per, ho, wo, o), _F32) if sink is not None else None)

    _k.run_tasks(ranges, work, x.nbytes + x.shape[0] * ho * wo * o * 4, buffers)
    return y if sink is None else True


def conv_pool(x, w, b, pads, relu=False):
    """(out, idx): 2x2 stride-2 max pooling with its argmax of relu?(conv(x, w) + b) for a
    stride-1 conv (kernels.conv_bias_act_pool), through Winograd's F(2x2, 3x3) where it
    wins, its output tiles pooled as they are made; else None. Measured (the MNIST convnet's
    3x3 32->64 13x13 b128, ReLU, two threads, medians): the implicit GEMM pooling each chunk
    (the sink below) 4.24 ms -> 1.9 ms."""
    if x.dtype != _F32 or not _winograd_wins(x.shape, w.shape, (1, 1), (1, 1)):
        return None
    return _wg.conv_pool(x, w, b, pads, relu)


def backprop_filter(x, dy, w_shape, strides, dilations, pads, with_bias=False):
    """The filter gradient (KH, KW, C, O) float32 of conv(x, w), or None. With `with_bias`,
    (dw, db) where db is the bias gradient, dy summed over all axes but the last: each chunk
    of images sums its rows of dy right after the filter kernel has read them (still in
    cache; in row order in double in C on the pool, a float GEMV on the Python threads:
    the two round differently), and the chunks' sums are added in order (the same whatever
    the threads) instead of another pass over the whole of dy from memory. 3x3 stride-1
    filters where Winograd's F(2x2, 3x3) wins run through it (conv_winograd.py)."""
    if x.dtype == _F32 and dy.ndim == 4 and \
            _winograd_wins(x.shape, tuple(w_shape), strides, dilations, filter_grad=True) and \
            tuple(w_shape[2:]) == (x.shape[3], dy.shape[3]):
        got = _wg.backprop_filter(x, dy, pads, with_bias)
        if got is not None:
            return got
    if len(w_shape) != 4 or not _filter_grad_wins(tuple(w_shape)) or \
            not _applies(x, w_shape, 1, pads) or dy.dtype != _F32 or type(dy) is not np.ndarray:
        return None
    _, dwfn = _lib()
    kh, kw, c, o = (int(v) for v in w_shape)
    ho, wo = _k.out_sizes(x.shape[1:3], (kh, kw), strides, dilations, pads)
    if dy.shape != (x.shape[0], ho, wo, o) or c != x.shape[3] or o == 0 or c == 0 or \
            ho <= 0 or wo <= 0:
        return None
    x = np.ascontiguousarray(x)
    dy = np.ascontiguousarray(dy)
    # each chunk writes a whole dw partial, summed afterwards: chunks of at least 4 partials'
    # worth of input, so a big filter (the DCGAN's 4x4 128->128: 1 MB) is not written and
    # summed once per image (b64: 64 MB)
    dw_bytes = kh * kw * c * o * 4
    n = x.shape[0]
    n_per = max(_per_chunk(x, pads), min(n, -(-4 * dw_bytes // max(1, x[0].nbytes))))
    # as many chunks, of even sizes: the DCGAN's 14x14 b64 in 41 + 23 images would leave
    # one of two threads idle for a third of the call
    n_per = -(-n // -(-n // n_per))
    ranges, hp, wp, padded, scratch = _padded_chunks(x, pads, n_per)
    partial = np.empty((len(ranges), kh, kw, c, o), _F32)
    sh, sw = strides
    dh, dw = dilations
    bias_parts = np.empty((len(ranges), o), _F32) if with_bias else None
    ones = np.ones(max(b - a for a, b in ranges) * ho * wo, _F32) if with_bias else None

    tile = min(max(1, int(_DW_TILE)), _MAX_DW_TILE)  # the C side's offsets array

    if _on_pool("conv_dw", [native.addr(x), x.shape[1], x.shape[2], c, pads[0][0], pads[0][1],
                            pads[1][0], pads[1][1], native.addr(dy), ho, wo, o, kh, kw, sh, sw,
                            dh, dw, native.addr(partial), tile,
                            native.addr(bias_parts) if with_bias else 0],
                [(i, n0, n1) for i, (n0, n1) in enumerate(ranges)]):
        return _dw_result(partial, bias_parts, with_bias)

    def work(task, bufs):
        i, (n0, n1) = task
        xb = padded(n0, n1, bufs[0])
        dyb = dy[n0:n1]
        dwfn(native.ptr(xb), n1 - n0, hp, wp, c, native.ptr(dyb), ho, wo, o,
             kh, kw, sh, sw, dh, dw, native.ptr(partial[i]), native.ptr(bufs[1]), tile)
        if with_bias:
            rows = (n1 - n0) * ho * wo
            with _k.single_threaded_blas():
                np.matmul(ones[:rows], dyb.reshape(rows, o), out=bias_parts[i])

    def buffers():  # the padded chunk; a packed block of dy: tile x (at most) 64 floats
        return scratch() if scratch else None, np.empty(tile * 64, _F32)

    _k.run_tasks(list(enumerate(ranges)), work, x.nbytes + dy.nbytes, buffers)
    return _dw_result(partial, bias_parts, with_bias)


def backprop_input_routed(g, idx, w, x_shape, pads):
    """The input gradient (x_shape) of a stride-1 conv(x, w) followed by 2x2 max pooling,
    from the pooled gradient g and the pooling's argmax idx (conv_pool's): the unpooled
    gradient dz is read through idx by Winograd's input transform, never made (its rows and
    columns past 2 Ha and 2 Wa, which the pooling dropped, are the padding's zeros). None
    where Winograd does not take it. Measured (the MNIST convnet's 3x3 32->64 13x13 b128,
    two threads, medians, one run): dz made, then the Winograd input gradient, 0.87 + 3.22
    ms -> 3.32 reading g through idx."""
    if g.dtype != _F32 or len(x_shape) != 4 or g.ndim != 4 or w.ndim != 4:
        return None
    kh, kw, c, o = w.shape
    n, ha, wa = g.shape[:3]
    if not _winograd_wins((n, 2 * ha, 2 * wa, o), (kh, kw, o, c), (1, 1), (1, 1)):
        return None
    (pt, _), (pl, _) = pads
    top, left = kh - 1 - pt, kw - 1 - pl
    bottom = x_shape[1] + kh - 1 - 2 * ha - top
    right = x_shape[2] + kw - 1 - 2 * wa - left
    if min(top, left, bottom, right) < 0:   # rows no input row receives: the general path
        return None
    wt = native.line_aligned(w[::-1, ::-1].transpose(0, 1, 3, 2))
    return _wg.conv_routed(g, idx, wt, ((top, bottom), (left, right)))


def backprop_filter_routed(x, g, idx, w_shape, pads, with_bias=False):
    """The filter gradient (and with `with_bias`, (dw, db)) of a stride-1 conv(x, w) followed
    by 2x2 max pooling, from the pooled gradient g and the pooling's argmax idx, dz read
    through idx by Winograd's dY transform (one tile, one window); None where Winograd does
    not take it. The conv's output rows past 2 Ha (an odd size's last, which the pooling
    dropped) get no gradient: the bottom padding shrinks by them, or x loses its rows past
    the last window's reach."""
    if x.dtype != _F32 or g.dtype != _F32 or x.ndim != 4 or g.ndim != 4 or \
            not _winograd_wins(x.shape, tuple(w_shape), (1, 1), (1, 1), filter_grad=True) or \
            tuple(w_shape[2:]) != (x.shape[3], g.shape[3]):
        return None
    n, ha, wa, o = g.shape
    (pt, pb), (pl, pr) = pads
    pb -= x.shape[1] + pt + pb - 2 - 2 * ha    # the output rows pooling dropped
    pr -= x.shape[2] + pl + pr - 2 - 2 * wa
    x = x[:, :x.shape[1] + min(pb, 0), :x.shape[2] + min(pr, 0)]
    return _wg.backprop_filter(x, g, ((pt, max(pb, 0)), (pl, max(pr, 0))), with_bias,
                               route=idx)


def _dw_result(partial, bias_parts, with_bias):
    dw_total = _k.sum_in_order(partial)
    return (dw_total, _k.sum_in_order(bias_parts)) if with_bias else dw_total


def _phase_taps(phase):
    """(taps in the order of their dy offsets, first offset, offset step) of one spatial
    phase (r, J, taps, offsets) of kernels._phase_plan, or None when the offsets are not
    evenly spaced."""
    _, _, taps, qs = phase
    if not taps:
        return [], 0, 1
    order = sorted(range(len(taps)), key=lambda i: qs[i])
    q = [qs[i] for i in order]
    step = q[1] - q[0] if len(q) > 1 else 1
    if step <= 0 or any(b - a != step for a, b in zip(q, q[1:])):
        return None
    return [taps[i] for i in order], q[0], step


def _backprop_input_phases(dy, w, x_shape, strides, dilations, pads):
    """The input gradient of a strided conv by output phases: each phase (the dx rows
    r + s*j) is a stride-1 correlation of the zero-padded dy with that phase's taps, run by
    the forward kernel in place on dy's padded copy and written straight into dx's strided
    rows and columns."""
    fwd, _ = _lib()
    kh, kw, c, o = w.shape
    plans, lo, dyp = _k._phases_of(dy, (kh, kw), x_shape, strides, dilations, pads)
    dyp = np.ascontiguousarray(dyp)
    n, hp, wp = dyp.shape[0], dyp.shape[1], dyp.shape[2]
    dx = np.empty(x_shape, _F32)
    jobs = []
    for py in plans[0]:
        for px in plans[1]:
            dst = dx[:, py[0]::strides[0], px[0]::strides[1]]
            ty, tx = _phase_taps(py), _phase_taps(px)
            if not py[2] or not px[2]:
                dst[...] = 0
                continue
            if ty is None or tx is None:
                return None
            wsub = native.line_aligned(
                w[np.ix_(ty[0], tx[0])].transpose(0, 1, 3, 2))  # (KHp, KWp, O, C)
            origin = (lo[0] + ty[1]) * wp * o + (lo[1] + tx[1]) * o
            jobs.append((py[0], px[0], wsub, _packed(wsub), origin, ty[2], tx[2], py[1],
                         px[1]))
    base = dyp.__array_interface__["data"][0]
    dx_base = dx.__array_interface__["data"][0]
    xh, xw = x_shape[1], x_shape[2]
    per = _k._chunk(n, dyp[0].nbytes + dx[0].nbytes, _CHUNK_BYTES)
    ranges = _k._image_ranges(n, per)

    def args(n0, n1, job):
        # the phase's pixels written in place: rows py + s*i, columns px + s*j of dx
        py, px, wsub, wpk, origin, sy, sx, jy, jx = job
        return (base + (n0 * hp * wp * o + origin) * 4, n1 - n0, hp, wp, o, native.addr(wsub),
                wsub.shape[0], wsub.shape[1], c, 1, 1, sy, sx, 0, 0,
                dx_base + ((n0 * xh + py) * xw + px) * c * 4, jy, jx,
                int(_tap_outer(wsub.shape)), 0 if wpk is None else native.addr(wpk),
                xh * xw * c, strides[0] * xw * c, strides[1] * c)

    # every (chunk, phase) a task of its own on the C pool (they write disjoint pixels)
    if jobs and _pool.run(fwd, [args(n0, n1, job) for n0, n1 in ranges for job in jobs]):
        return dx

    def work(r, _):
        for job in jobs:
            fwd(*args(*r, job))

    _k.run_tasks(ranges, work, dyp.nbytes + dx.nbytes)
    return dx


def backprop_input(dy, w, x_shape, strides, dilations, pads):
    """The input gradient (x_shape) float32 of a stride-1 conv(x, w), or None: the forward
    convolution of dy, padded by (K - 1) * d - pad before and the rest after, with the
    filter flipped in space and its channel axes swapped."""
    if len(x_shape) != 4 or type(w) is not np.ndarray or type(dy) is not np.ndarray or \
            w.dtype != _F32 or dy.dtype != _F32 or w.ndim != 4 or dy.ndim != 4 or \
            not (_input_grad_wins(w.shape) or _winograd_wins(
                dy.shape, w.shape[:2] + w.shape[:1:-1], strides, dilations)) or \
            w.shape[2] != x_shape[3] or \
            dy.shape[3] != w.shape[3] or not native.enabled() or _lib() is None or \
            any(a < 0 or b < 0 for a, b in pads) or 0 in x_shape:
        return None
    if tuple(strides) != (1, 1):
        return _backprop_input_phases(dy, w, tuple(x_shape), tuple(strides),
                                      tuple(dilations), pads)
    kh, kw, c, o = w.shape
    (pt, pb), (pl, pr) = pads
    dh, dwl = dilations
    h, wd = x_shape[1], x_shape[2]
    top, left = (kh - 1) * dh - pt, (kw - 1) * dwl - pl
    bottom = h + (kh - 1) * dh - dy.shape[1] - top
    right = wd + (kw - 1) * dwl - dy.shape[2] - left
    # a negative amount: dy rows (a padding wider than the filter reaches) that no x row
    # receives: cropped
    dy = dy[:, max(0, -top):dy.shape[1] - max(0, -bottom),
            max(0, -left):dy.shape[2] - max(0, -right)]
    wt = native.line_aligned(w[::-1, ::-1].transpose(0, 1, 3, 2))
    return conv(dy, wt, None, (1, 1), dilations,
                ((max(0, top), max(0, bottom)), (max(0, left), max(0, right))), chosen=True)
