"""Direct 2-D convolution for few input channels (native/conv_direct.c): a vision model's
first layer (MNIST convnet 3x3 1->32, ResNet-20 3x3 3->16, MobileNet 3x3/2 3->32, DCGAN
4x4/2 1->64, Siamese 5x5 1->4), whose im2col + GEMM is a GEMM only K * C_in = 9..48 deep
after an im2col copy as big as the work. Each function returns None when the native
kernel does not take the call (no compiler, TENFOLD_NATIVE=0, a dtype, layout or shape it
does not cover); then kernels.py runs its NumPy path unchanged. Every size the C code uses
is checked here first. Also the input gradient and the many-tap filter gradient of such
convolutions (planar kernels), and average pooling whose windows tile the image."""
import ctypes

import numpy as np

from tenfold.backend import kernels as K
from tenfold.backend import native

_FAMILY = "conv_direct"
_P, _I = ctypes.c_void_p, native.i64
_SIGNATURES = {   # pointer arguments, then int64 arguments
    "conv_direct_fwd": (4, 17),
    "conv_direct_fwd_pool": (5, 17),
    "conv_direct_bpf": (4, 16),
    "conv_direct_bpf_pool": (7, 14),
    "conv_direct_bpi": (4, 22),
    "conv_direct_bpf_planar": (4, 20),
    "avg_pool_tiling": (2, 9),
    "avg_pool_grad_tiling": (2, 9),
}
_fns = {}

# Which convolutions go direct (from the A/B figures below). kernels.py asks the implicit-
# GEMM kernels of conv_native.py first (float32, AVX-512, 8..64 output channels: faster
# than these), except for the filter gradient at stride 1 with up to BPF_FIRST_MAX_CHANNELS
# input channels, where these win (a first layer on grey images: 1.3-2.9x). Where
# those do not apply: the forward (and the pooled forward, always direct) up to a depth of
# FWD_MAX_DEPTH and C_out of MAX_OUT; the filter gradient for BPF_MIN_TAPS..BPF_MAX_TAPS
# taps (not 1x1) up to a depth of BPF_MAX_DEPTH: beyond, the GEMM's long reduction wins.
FWD_MAX_DEPTH = 144
BPF_FIRST_MAX_CHANNELS = 1
BPF_MAX_DEPTH = 36
BPF_MIN_TAPS, BPF_MAX_TAPS = 2, 9
MAX_OUT = 128
_TASK_MACS = 1 << 22    # images per task: ~1 ms of work (a call costs ~10 us of Python)


def _fn(name, dtype):
    """The ctypes function name_f32/_f64 (argtypes set once), or None without the library."""
    return native.kernel(_FAMILY, name, dtype, native.pointers_and_ints(*_SIGNATURES[name]))


def _geometry_ok(x, w_shape, strides, dilations, pads, max_depth):
    """A 2-D, one-group conv with sane parameters and a GEMM depth up to max_depth."""
    if x.ndim != 4 or len(w_shape) != 4 or w_shape[2] != x.shape[3] or \
            len(strides) != 2 or len(dilations) != 2 or len(pads) != 2:
        return False
    kh, kw, cin, cout = w_shape
    if min(kh, kw, cin, cout) < 1 or kh * kw * cin > max_depth or cout > MAX_OUT:
        return False
    return all(int(s) >= 1 for s in strides) and all(int(d) >= 1 for d in dilations) and \
        all(int(a) >= 0 and int(b) >= 0 for a, b in pads)


def _bpf_ok(x, w_shape, strides, dilations, pads):
    taps = w_shape[0] * w_shape[1] if len(w_shape) == 4 else 0
    return BPF_MIN_TAPS <= taps <= BPF_MAX_TAPS and \
        _geometry_ok(x, w_shape, strides, dilations, pads, BPF_MAX_DEPTH)


def _ranges(n, macs_per_image):
    """Chunks of images by their multiply-adds (fixed by the shapes, not the threads)."""
    return K._image_ranges(n, K._chunk(n, macs_per_image, _TASK_MACS))


def _flat(strides, dilations, pads):
    (sh, sw), (dh, dw), ((pt, _), (pl, _)) = strides, dilations, pads
    return int(sh), int(sw), int(dh), int(dw), int(pt), int(pl)


# Measured: float32, TENFOLD_KERNEL_THREADS=1 and OPENBLAS_NUM_THREADS=1, process_time
# medians of 9-11, alternating in one process, the shared 2-core machine under load 2-5
# (+-10-20%). NumPy twin (TENFOLD_NATIVE=0) -> direct, ms (forward with bias and ReLU;
# filter gradient):
#   MNIST convnet conv1 3x3 1->32 28x28 VALID b128: fwd 3.23 -> 2.04, bpf 2.77 -> 1.04
#     conv_bias_act_pool (ReLU, 2x2 pool): 5.67 -> 1.38 (the implicit GEMM's conv then
#     the NumPy pooling: 15.8 vs 3.35 direct, an earlier build); the pooled filter
#     gradient with the bias gradient: 3.85 -> 1.31
#   ResNet-20 conv0 3x3 3->16 32x32 SAME b64: fwd 2.72 -> 1.30, bpf 2.45 -> 2.13;
#     pooled forward 4.32 -> 1.52, pooled filter gradient 3.38 -> 1.74
#   MobileNet stem 3x3/2 3->32 64x64 SAME b32: fwd 2.26 -> 0.96, bpf 2.34 -> 1.89
#   DCGAN disc. 3x3/2 1->64 28x28 SAME b64: fwd 0.94 -> 0.58, bpf 1.01 -> 0.74
#   4x4/2 1->64 28x28 b64: fwd 1.31 -> 0.98, bpf 1.33 -> 1.56 (NumPy kept: > 9 taps)
#   Siamese 5x5 1->4 28x28 VALID b16: fwd 0.41 -> 0.38, bpf 0.39 -> 0.46 (kept);
#     with four pixels of the four channels to an AVX-512 vector (fwd_o4c1, the same bits):
#     fwd 0.25 -> 0.08 (3x3 1->4 28x28 SAME b64: 0.73 -> 0.26); bpf now planar (below)
#     5x5 4->16 12x12: fwd 0.26 -> 0.14, bpf 0.23 -> 0.33 (kept)
#   3x3 4->32 28x28 SAME b64: fwd 3.80 -> 1.76, bpf 3.48 -> 2.79
#   3x3 8->32 28x28 SAME b64: fwd 5.77 -> 2.79, bpf 5.58 -> 6.53 (kept: depth 72 > 36)
#   3x3 16->16 32x32 SAME b64: fwd 8.46 -> 5.60, bpf 8.04 -> 9.62 (kept)
#   3x3 16->64 16x16 SAME b64: fwd 8.50 -> 6.56;  3x3 3->128 32x32 b16: fwd 5.01 -> 3.41
#   1x1 16->32 32x32 b32: fwd 2.50 -> 1.09, bpf 1.52 -> 1.84 (kept: pointwise)
#   3x3 32->64 13x13 VALID b128 (MNIST conv2, depth 288): fwd 8.25 -> 9.29 (kept)
# Against the implicit GEMM (conv_native.py; NumPy / implicit GEMM / direct, same run):
#   the forward: the GEMM wins wherever it applies (MNIST conv1 3.3 / 1.3 / 1.9; ResNet
#   conv0 3.2 / 1.3 / 2.0; 3x3 16->16 7.5 / 3.4 / 5.1), so it goes first;
#   the filter gradient at stride 1 with one input channel (3x3: nine taps per dy load):
#   direct wins (MNIST conv1 2.8 / 2.7 / 1.0; 3x3 1->16 28x28 b128 1.6 / 1.9 / 0.6; 3x3
#   1->64 2.5 / 1.9 / 1.1; 3x3 1->32 SAME b64 1.5 / 1.5 / 1.2); with more channels or a
#   stride, the GEMM (3x3 2->32 28x28 2.3 / 1.4 / 1.7; 3x3 3->16 32x32 3.0 / 1.7 / 2.3;
#   3x3/2 1->64 0.9 / 0.6 / 0.6).
def conv_bias_act(x, w, b, strides, dilations, pads, relu):
    """relu?(conv(x, w) + b) (b may be None), or None where the direct kernel does not
    apply. x, w (and b) of one float dtype, as the caller's compute dtype."""
    if not _geometry_ok(x, w.shape, strides, dilations, pads, FWD_MAX_DEPTH):
        return None
    arrays = (x, w) if b is None else (x, w, b)
    if not native.usable(*arrays) or (b is not None and b.shape != (w.shape[-1],)):
        return None
    fn = _fn("conv_direct_fwd", x.dtype)
    if fn is None:
        return None
    n, h, wd, cin = x.shape
    kh, kw, _, cout = w.shape
    oh, ow = K.out_sizes((h, wd), (kh, kw), strides, dilations, pads)
    out = np.empty((n, oh, ow, cout), x.dtype)
    if out.size == 0:
        return None
    sh, sw, dh, dw, pt, pl = _flat(strides, dilations, pads)
    bp = None if b is None else native.addr(b)
    xp, wp, op = native.addr(x), native.addr(w), native.addr(out)

    def work(r, _):
        fn(xp, wp, bp, op, r[0], r[1], h, wd, cin, oh, ow, cout, kh, kw, sh, sw, dh, dw, pt,
           pl, int(bool(relu)))

    K.run_tasks(_ranges(n, out[0].size * kh * kw * cin), work,
                x.nbytes + out.nbytes)
    return out


def conv_backprop_filter(x, dy, w_shape, strides, dilations, pads, before_gemm=False):
    """The filter gradient (w_shape, x's dtype) or None; dy (N, OH, OW, O) of x's dtype.
    before_gemm: asked before the implicit-GEMM kernels (conv_native.py), which win but at
    stride 1 with up to BPF_FIRST_MAX_CHANNELS input channels (and where the planar kernel
    wins: _bpf_planar_wins)."""
    if _bpf_planar_wins(x, w_shape, strides):
        dw = conv_backprop_filter_planar(x, dy, w_shape, strides, dilations, pads)
        if dw is not None:
            return dw
    if before_gemm and (any(int(s) != 1 for s in strides) or len(w_shape) != 4 or
                        w_shape[2] > BPF_FIRST_MAX_CHANNELS):
        return None
    if not _bpf_ok(x, w_shape, strides, dilations, pads) or not native.usable(x, dy):
        return None
    n, h, wd, cin = x.shape
    kh, kw, _, cout = w_shape
    oh, ow = K.out_sizes((h, wd), (kh, kw), strides, dilations, pads)
    if dy.shape != (n, oh, ow, cout) or dy.size == 0:
        return None
    fn = _fn("conv_direct_bpf", x.dtype)
    if fn is None:
        return None
    ranges = _ranges(n, dy[0].size * kh * kw * cin)
    partial = np.zeros((len(ranges), kh * kw * cin * cout))
    sh, sw, dh, dw, pt, pl = _flat(strides, dilations, pads)
    xp, gp = native.addr(x), native.addr(dy)

    def work(i, tacc):
        n0, n1 = ranges[i]
        fn(xp, gp, native.addr(tacc), native.addr(partial[i]), n0, n1, h, wd, cin, oh, ow,
           cout, kh, kw, sh, sw, dh, dw, pt, pl)

    K.run_tasks(list(range(len(ranges))), work, x.nbytes + dy.nbytes,
                lambda: np.empty(partial.shape[1], x.dtype))
    return K.sum_in_order(partial).reshape(w_shape).astype(x.dtype)


def conv_bias_act_pool(x, w, b, pads, relu):
    """(out, idx) = max_pool_2x2_argmax(relu?(conv(x, w) + b)) of a stride-1 conv (see
    kernels.conv_bias_act_pool), or None."""
    ones = ((1, 1), (1, 1))
    if not _geometry_ok(x, w.shape, *ones, pads, FWD_MAX_DEPTH):
        return None
    arrays = (x, w) if b is None else (x, w, b)
    if not native.usable(*arrays) or (b is not None and b.shape != (w.shape[-1],)):
        return None
    fn = _fn("conv_direct_fwd_pool", x.dtype)
    if fn is None:
        return None
    n, h, wd, cin = x.shape
    kh, kw, _, cout = w.shape
    oh, ow = K.out_sizes((h, wd), (kh, kw), *ones, pads)
    ha, wa = oh // 2, ow // 2
    out = np.empty((n, ha, wa, cout), x.dtype)
    idx = np.empty(out.shape, np.uint8)
    if out.size == 0:
        return None
    (pt, _), (pl, _) = pads
    bp = None if b is None else native.addr(b)
    xp, wp, op, ip = native.addr(x), native.addr(w), native.addr(out), native.addr(idx)

    def work(r, _):
        fn(xp, wp, bp, op, ip, r[0], r[1], h, wd, cin, ha, wa, cout, kh, kw, 1, 1, 1, 1,
           int(pt), int(pl), int(bool(relu)))

    K.run_tasks(_ranges(n, 4 * out[0].size * kh * kw * cin), work,
                x.nbytes + 4 * out.nbytes)
    return out, idx


def conv_backprop_filter_pooled(x, t, idx, w_shape, pads, with_bias):
    """The filter gradient (and with with_bias the bias gradient) of a stride-1 conv whose
    output went through 2x2/2 max pooling with argmax idx, from the pooled gradient t (see
    kernels.conv_backprop_filter_pooled), or None."""
    ones = ((1, 1), (1, 1))
    if not _geometry_ok(x, w_shape, *ones, pads, BPF_MAX_DEPTH) or not native.usable(x, t) or \
            type(idx) is not np.ndarray or idx.dtype != np.uint8 or \
            not idx.flags.c_contiguous or idx.shape != t.shape:
        return None
    n, h, wd, cin = x.shape
    kh, kw, _, cout = w_shape
    oh, ow = K.out_sizes((h, wd), (kh, kw), *ones, pads)
    ha, wa = oh // 2, ow // 2
    if t.shape != (n, ha, wa, cout) or t.size == 0:
        return None
    fn = _fn("conv_direct_bpf_pool", x.dtype)
    if fn is None:
        return None
    ranges = _ranges(n, 4 * t[0].size * kh * kw * cin)
    partial = np.zeros((len(ranges), kh * kw * cin * cout))
    dbp = np.zeros((len(ranges), cout)) if with_bias else None
    (pt, _), (pl, _) = pads
    xp, tp, ip = native.addr(x), native.addr(t), native.addr(idx)

    def work(i, scratch):
        n0, n1 = ranges[i]
        row, tacc = scratch
        fn(xp, tp, ip, native.addr(row), native.addr(tacc), native.addr(partial[i]),
           None if dbp is None else native.addr(dbp[i]), n0, n1, h, wd, cin, ha, wa, cout,
           kh, kw, 1, 1, int(pt), int(pl))

    K.run_tasks(list(range(len(ranges))), work, x.nbytes + t.nbytes,
                lambda: (np.empty(4 * wa * cout, x.dtype),
                         np.empty(partial.shape[1] + cout, x.dtype)))
    dw = K.sum_in_order(partial).reshape(w_shape).astype(x.dtype)
    if with_bias:
        return dw, K.sum_in_order(dbp).astype(x.dtype)
    return dw


# The input gradient for up to BPI_MAX_CHANNELS input channels (conv_direct_bpi: dy made
# planar per image in a scratch, each dx row a sum of its shifted rows, vectorized along
# x), any O, strides (by phases: no zero-inserted dy), dilations and non-negative pads.
BPI_MAX_CHANNELS = 4
BPI_MAX_K = 16              # taps per spatial dim (the C code's stack arrays)
BPI_MAX_SCRATCH = 1 << 21   # bytes of planar dy per thread: beyond, it leaves the cache
# Where it wins (the A/B figures below): up to BPI_ANY_OUT output channels, or from
# BPI_WIDE_MIN_CHANNELS input channels (RGB): with one input channel and many output
# channels the NumPy path's GEMM (K = O) and few adds are cheaper than making dy planar.
BPI_ANY_OUT = 16
BPI_WIDE_MIN_CHANNELS = 3


def _bpi_sizes(x_shape, w_shape, strides, dilations, pads, itemsize):
    """(HP, WP, JR, offh, offw, plane) of the C kernel's planar scratch (conv_direct_bpi);
    plane, the stride of its planes, an odd number of cache lines: planes 4 KiB apart
    would fall in one cache set."""
    _, h, wd, _ = x_shape
    kh, kw = w_shape[:2]
    sh, sw, dh, dw, pt, pl = _flat(strides, dilations, pads)
    lanes = 64 // itemsize
    offh, offw = (kh - 1) * dh // sh, (kw - 1) * dw // sw
    hp = (h - 1 + pt) // sh + 1 + offh
    cols = -(-wd // sw)                   # the columns of phase 0, the widest
    jr = -(-cols // lanes) * lanes
    wp = jr + (sw - 1 + pl) // sw + offw
    return hp, wp, jr, offh, offw, _odd_lines(hp * wp, lanes)


def _odd_lines(size, lanes):
    """size rounded up to an odd number of cache lines (of `lanes` elements): the stride of
    a scratch's planes, which 4 KiB apart would all fall in one cache set."""
    return (-(-size // lanes) | 1) * lanes


_bpi_plans = {}   # the checked geometry of each call signature (a train step repeats them)


def _bpi_plan(dy_shape, w_shape, x_shape, strides, dilations, pads, itemsize):
    """(the C kernel's int arguments after n0, n1; the image chunks; the scratch size) of an
    input gradient it takes, else None: every size checked here."""
    if len(x_shape) != 4 or len(dy_shape) != 4 or len(w_shape) != 4 or \
            len(strides) != 2 or len(dilations) != 2 or len(pads) != 2 or \
            any(len(p) != 2 for p in pads):
        return None
    n, h, wd, cin = (int(v) for v in x_shape)
    kh, kw, wc, cout = w_shape
    if wc != cin or not 1 <= cin <= BPI_MAX_CHANNELS or not 1 <= kh <= BPI_MAX_K or \
            not 1 <= kw <= BPI_MAX_K or min(n, h, wd, cout) < 1 or \
            any(int(s) < 1 for s in strides) or any(int(d) < 1 for d in dilations) or \
            any(int(a) < 0 or int(b) < 0 for a, b in pads):
        return None
    oh, ow = K.out_sizes((h, wd), (kh, kw), strides, dilations, pads)
    if tuple(dy_shape) != (n, oh, ow, cout) or oh * ow == 0:
        return None
    hp, wp, jr, offh, offw, plane = _bpi_sizes(x_shape, w_shape, strides, dilations, pads,
                                               itemsize)
    sh, sw, dh, dw, pt, pl = _flat(strides, dilations, pads)
    macs = oh * ow * cout * kh * kw * cin // (sh * sw) + h * wd * cin
    return ((h, wd, cin, oh, ow, cout, kh, kw, sh, sw, dh, dw, pt, pl, hp, wp, jr, offh,
             offw, plane), _ranges(n, macs), cout * plane + 2 * cin * jr,
            (cout, cin, cout * plane * itemsize))


def _bpi_wins(cout, cin, scratch_bytes):
    return scratch_bytes <= BPI_MAX_SCRATCH and \
        (cout <= BPI_ANY_OUT or cin >= BPI_WIDE_MIN_CHANNELS)


# Measured (float32, TENFOLD_KERNEL_THREADS=1, OPENBLAS_NUM_THREADS=1, process_time
# medians of 11 alternating in one process, the shared machine under load 3-4;
# kernels.conv_backprop_input without -> with this kernel, ms):
#   Siamese 5x5 1->4 28x28 VALID b16: 0.47 -> 0.11;  5x5 4->16 12x12 VALID b16: 0.31 -> 0.13
#   (the C call alone: 0.082 and 0.10 ms; before the two-row blocks 0.098 and 0.127)
#   ResNet-20 conv0 3x3 3->16 32x32 SAME b64: 4.3 -> 1.3
#   MobileNet stem 3x3/2 3->32 64x64 b32: 3.6 -> 1.9;  7x7/2 3->64 112x112 b8: 24.8 -> 8.2
#   3x3 4->64 56x56 SAME b32: 11.4 -> 10.0
#   not taken (one input channel, many outputs): MNIST 3x3 1->32 28x28 b128 3.5 -> 4.0,
#   DCGAN 3x3/2 1->64 28x28 b64 1.37 -> 1.36, 4x4/2 1->64 1.35 -> 1.41
def conv_backprop_input(dy, w, x_shape, strides, dilations, pads):
    """The input gradient (x_shape, dy's dtype) of a one-group 2-D conv(x, w) with up to
    BPI_MAX_CHANNELS input channels, or None. dy (N, OH, OW, O) and w of one float dtype."""
    if not native.usable(dy, w):
        return None
    try:
        key = (dy.shape, w.shape, tuple(x_shape), tuple(strides), tuple(dilations),
               tuple(tuple(p) for p in pads), dy.dtype)
        plan = _bpi_plans.get(key, False)
    except TypeError:   # unhashable parameters: planned every time
        key, plan = None, False
    if plan is False:
        plan = _bpi_plan(dy.shape, w.shape, x_shape, strides, dilations, pads, dy.itemsize)
        if key is not None and len(_bpi_plans) < 256:
            _bpi_plans[key] = plan
    if plan is None or not _bpi_wins(*plan[3]):
        return None
    fn = _fn("conv_direct_bpi", dy.dtype)
    if fn is None:
        return None
    sizes, ranges, scratch, _ = plan
    dx = np.empty(tuple(int(v) for v in x_shape), dy.dtype)
    gp, wpp, xp = native.addr(dy), native.addr(w), native.addr(dx)

    def work(r, buf):
        fn(gp, wpp, xp, native.addr(buf), r[0], r[1], *sizes)

    K.run_tasks(ranges, work, dy.nbytes + dx.nbytes,
                lambda: K.thread_scratch(scratch, dy.dtype, 1)[0])
    return dx


# The filter gradient at stride 1 in x with up to BPFP_MAX_CHANNELS input channels, any
# taps (conv_direct_bpf_planar: each image made planar in a scratch, then per tap and
# input channel the sums of up to 4 output channels in vector registers along x, kept as
# vectors over a chunk of images, their lanes added into a double partial per chunk).
# It runs where it wins (the A/B figures below): more taps than the per-tap kernel above
# takes (BPF_MAX_TAPS), up to BPFP_MAX_OUT output channels (one block in registers), rows
# of at least one vector; with more output channels or short rows the GEMMs win.
# Measured (float32, one thread, process time, medians of 11 alternating, the machine
# under load; kernels.conv_backprop_filter before -> this, ms): Siamese 5x5 1->4 28x28
# VALID b16 0.22 -> 0.075 (0.10 tap by tap; a filter row of 3 or 5 taps at once for four
# output channels: bpfp_row_taps); 5x5 4->16 12x12 0.085 -> 0.15 (kept: rows of 8); ResNet-20
# 3x3 3->16 32x32 SAME b64 0.9-1.7 -> 2.0-3.9 (kept; tap by tap).
BPFP_MAX_CHANNELS = 4
BPFP_MAX_OUT = 4


def _bpf_planar_wins(x, w_shape, strides):
    return len(w_shape) == 4 and x.ndim == 4 and len(strides) == 2 and \
        int(strides[1]) == 1 and w_shape[0] * w_shape[1] > BPF_MAX_TAPS and \
        w_shape[2] <= BPFP_MAX_CHANNELS and w_shape[3] <= BPFP_MAX_OUT and \
        x.shape[2] - w_shape[1] + 1 >= 64 // max(1, x.itemsize)


def _aligned_scratch(n, dtype):
    """The thread's scratch of n elements starting on a 64-byte boundary (the C code keeps
    vectors in it)."""
    dtype = np.dtype(dtype)
    buf = K.thread_scratch(n + 64 // dtype.itemsize, dtype, 1)[0]
    skip = (-buf.ctypes.data % 64) // dtype.itemsize
    return buf[skip:skip + n]


def conv_backprop_filter_planar(x, dy, w_shape, strides, dilations, pads):
    """The filter gradient (w_shape, x's dtype) or None; dy (N, OH, OW, O) of x's dtype."""
    if x.ndim != 4 or len(w_shape) != 4 or len(strides) != 2 or len(dilations) != 2 or \
            len(pads) != 2 or not native.usable(x, dy):
        return None
    n, h, wd, cin = x.shape
    kh, kw, wc, cout = (int(v) for v in w_shape)
    sh, sw, dh, dw, pt, pl = _flat(strides, dilations, pads)
    if wc != cin or not 1 <= cin <= BPFP_MAX_CHANNELS or not 1 <= cout <= BPFP_MAX_OUT or \
            min(kh, kw, sh, dh, dw) < 1 or sw != 1 or \
            any(int(a) < 0 or int(b) < 0 for a, b in pads):
        return None
    oh, ow = K.out_sizes((h, wd), (kh, kw), strides, dilations, pads)
    if dy.shape != (n, oh, ow, cout) or dy.size == 0:
        return None
    fn = _fn("conv_direct_bpf_planar", x.dtype)
    if fn is None:
        return None
    lanes = 64 // x.itemsize
    owr = -(-ow // lanes) * lanes
    hx, wx = (oh - 1) * sh + (kh - 1) * dh + 1, owr + (kw - 1) * dw
    xplane, yplane = _odd_lines(hx * wx, lanes), _odd_lines(oh * owr, lanes)
    ranges = _ranges(n, oh * owr * kh * kw * cin * cout)
    partial = np.zeros((len(ranges), kh * kw * cin * cout))
    scratch = cin * xplane + cout * yplane + kh * kw * cin * cout * lanes
    xp, gp = native.addr(x), native.addr(dy)

    def work(i, buf):
        n0, n1 = ranges[i]
        fn(xp, gp, native.addr(buf), native.addr(partial[i]), n0, n1, h, wd, cin, oh, ow,
           cout, kh, kw, sh, dh, dw, pt, pl, hx, wx, owr, xplane, yplane)

    K.run_tasks(list(range(len(ranges))), work, x.nbytes + dy.nbytes,
                lambda: _aligned_scratch(scratch, x.dtype))
    return K.sum_in_order(partial).reshape(w_shape).astype(x.dtype)


def _pool_tiling_call(name, src, out, x_shape, kh, kw):
    """Runs avg_pool(_grad)_tiling over image chunks, or returns None where it cannot."""
    if not native.usable(src, out):
        return None
    fn = _fn(name, src.dtype)
    if fn is None:
        return None
    n, h, wd, c = x_shape
    ho, wo = h // kh, wd // kw
    sp, op = native.addr(src), native.addr(out)
    ranges = _ranges(n, h * wd * c)
    if len(ranges) == 1:   # (most: a call costs less than the tasks' bookkeeping)
        fn(sp, op, 0, n, h, wd, c, ho, wo, kh, kw)
    else:
        K.run_tasks(ranges, lambda r, _: fn(sp, op, r[0], r[1], h, wd, c, ho, wo, kh, kw),
                    src.nbytes + out.nbytes)
    return out


def _tiling_ok(x_shape, kh, kw):
    return len(x_shape) == 4 and min(x_shape) >= 1 and kh >= 1 and kw >= 1 and \
        x_shape[1] >= kh and x_shape[2] >= kw


# Average pooling whose windows tile the image (stride = window, no pads): AveragePooling2D
# (2) of the Siamese model. The NumPy path adds strided views of C-element runs (2 ns an
# element at C = 4); one C loop, the same operations in the same order (bit-exact).
# Measured (float32, one thread, process time, medians of 11 alternating, the NumPy path ->
# this, ms; ~0.015 of each is the Python call): 2x2 on (16, 24, 24, 4): avg_pool 0.079 ->
# 0.032, grad 0.092 -> 0.029; (16, 8, 8, 16): 0.028 -> 0.018, 0.029 -> 0.020; (16, 25, 23, 3)
# 0.074 -> 0.029, 0.079 -> 0.032; ResNet-20's AveragePooling2D(8) on (64, 8, 8, 64): 0.29 ->
# 0.039, grad 0.27 -> 0.057.
def avg_pool_tiling(x, kh, kw):
    """The means of the kh x kw windows tiling x (N, H, W, C) (a remainder of rows and
    columns left out), or None."""
    if type(x) is not np.ndarray or not _tiling_ok(x.shape, kh, kw):
        return None
    out = np.empty((x.shape[0], x.shape[1] // kh, x.shape[2] // kw, x.shape[3]), x.dtype)
    return _pool_tiling_call("avg_pool_tiling", x, out, x.shape, kh, kw)


def avg_pool_grad_tiling(g, x_shape, kh, kw):
    """The gradient of avg_pool_tiling in x (x_shape) for the output gradient g, or None."""
    x_shape = tuple(int(v) for v in x_shape)
    if type(g) is not np.ndarray or not _tiling_ok(x_shape, kh, kw) or \
            g.shape != (x_shape[0], x_shape[1] // kh, x_shape[2] // kw, x_shape[3]):
        return None
    return _pool_tiling_call("avg_pool_grad_tiling", g, np.empty(x_shape, g.dtype), x_shape,
                             kh, kw)
