"""2-D convolutions with few output channels and many input channels (native/conv_narrow.c):
the DCGAN generator's last Conv2D(1, 7x7, SAME) on 128 channels, a segmentation head.
kernels.py asks these before its scatter forms (_conv_by_scatter and
_backprop_filter_by_scatter: C_out * 8 <= C_in at stride 1), which run a GEMM K * C_out
wide and then K shifted adds or copies. Here the vectors run along the input channels: each
output pixel is one dot product over taps and channels (no intermediate), each tap's filter
gradient one accumulation over the pixels; x is read in place, taps outside it skipped.

Each function returns None where the native kernel does not take the call (no compiler,
TENFOLD_NATIVE=0, no AVX-512 build, a dtype, layout or shape it does not cover); then
kernels.py runs its NumPy path unchanged. Every size the C code uses is checked here first.
The images are cut into fixed chunks (by multiply-adds, not by the thread count) shared out
with kernels.run_tasks; the filter gradient's per-chunk partials are summed in chunk order
(in float64), so no result depends on the thread count.
"""
# Measured: float32, in-process A/B alternating (/work/scratch/narrow/ab.py), NumPy scatter
# form (kernels._conv_by_scatter + epilogue, _backprop_filter_by_scatter) -> native; for the
# input gradient kernels.conv_backprop_input (conv_native's implicit GEMM) -> native.
# OPENBLAS_NUM_THREADS=1 TENFOLD_KERNEL_THREADS=1, process-time medians of 15, with two
# other jobs holding both cores (load 4-5.5: absolute times ~1.5-2x a quiet machine's), ms:
#   DCGAN 7x7 128->1 28x28 SAME b64: fwd 14.9 -> 8.8, filter grad 10.2 -> 8.8 (at a
#     quieter moment 13.4 -> 7.5 and 8.5 -> 7.1, the C calls alone 5.7 and 5.0), input
#     grad 5.2 -> 6.0 and 5.9 -> 5.4 in two runs, then 9.04 -> 8.29 (min of 15, after the
#     implicit GEMM's pixel blocks changed; /work/scratch/o1_ab.py): dispatched
#   3x3 64->1 32x32 SAME b64: fwd 4.4 -> 2.4, filter grad 3.3 -> 2.0, input grad 1.6 -> 1.5
#   5x5 32->2 28x28 SAME b64: fwd 26.6 -> 3.5, filter grad 4.2 -> 2.2
#   3x3 32->4 28x28 b64: fwd 10.2 -> 3.1, filter grad 2.9 -> 2.3; 3x3 16->2: 8.0 -> 1.1,
#     1.4 -> 0.65; 3x3 8->1: 1.0 -> 0.44, 0.66 -> 0.36; 5x5 256->3 16x16 b32: 8.0 -> 5.7,
#     4.2 -> 4.2; 1x1 128->1: 1.37 -> 1.31, 1.22 -> 1.32 (kept NumPy)
# Default threads (2 cores; the same load, so mostly run serially), wall medians of 15:
#   DCGAN fwd 30.7 -> 18.7, filter grad 17.7 -> 13.4; 3x3 64->1 fwd 8.9 -> 6.2, filter grad
#   7.2 -> 5.9; 5x5 32->2 fwd 49.9 -> 7.2, filter grad 8.3 -> 6.7.
# The C kernels alone, one image repeated (in L2), best of 7: DCGAN fwd 1.1-1.3 ms per 16
# images, filter grad 1.05-1.2, input grad 1.0 (about 4 G multiply-add vectors/s, the
# core's peak with two FMA units being ~4.5).

import numpy as np

from tenfold.backend import kernels as K
from tenfold.backend import native

_FAMILY = "conv_narrow"
_SIGNATURES = {   # pointer arguments, then int64 arguments
    "narrow_fwd": (5, 17),
    "narrow_bpf": (3, 16),
    "narrow_bpi": (3, 11),
}
# Output channels these take (blocks of up to 3 share each read of x; more blocks re-read
# it): the forward wins up to 8 (3x3 64->8 28x28 b64 13.0 -> 8.0 ms), the filter gradient
# up to 4, and up to 8 with up to 9 taps (3x3 64->8 8.0 -> 6.7; but 7x7 128->5 b16 9.2 ->
# 10.3); for 1x1 filters (a GEMM for the scatter form) it is a tie (1.22 -> 1.32) and the
# NumPy form stays.
MAX_OUT = 8
MAX_FILTER_OUT_BIG = 4


def _filter_wins(w_shape):
    kh, kw, _, o = w_shape
    return kh * kw > 1 and (o <= MAX_FILTER_OUT_BIG or kh * kw <= 9)


ONE = (1, 1)
_MAX_GEOMETRY = 1 << 30   # strides, dilations, pads, filter sizes: no int64 overflow in C
_TASK_MACS = 1 << 22    # images per task: ~1 ms of work (a call costs ~10 us of Python)
_FILTER_TASK_MACS = 1 << 24
_zeros = {}


def _fn(name, dtype):
    """The ctypes function name_f32/_f64 (argtypes set once), or None without the library
    or without its AVX-512 build."""
    if not native.simd(_FAMILY, "conv_narrow_simd"):
        return None
    return native.kernel(_FAMILY, name, dtype, native.pointers_and_ints(*_SIGNATURES[name]))


def _zero_row(c, dtype):
    """C zeros of dtype, read by the kernels for taps outside x (never written)."""
    key = (c, np.dtype(dtype))
    z = _zeros.get(key)
    if z is None:
        z = np.zeros(c, dtype)
        z.flags.writeable = False
        _zeros[key] = z
    return z


def _geometry(x, w_shape, strides, dilations, pads):
    """(h, w, c, oh, ow, o, kh, kw, sh, sw, dh, dw, pt, pl) of a 2-D, one-group conv these
    kernels take, or None."""
    if x.ndim != 4 or len(w_shape) != 4 or len(strides) != 2 or len(dilations) != 2 or \
            len(pads) != 2:
        return None
    n, h, wd, c = x.shape
    kh, kw, cin, o = (int(s) for s in w_shape)
    if cin != c or min(kh, kw, c, o) < 1 or o > MAX_OUT or n < 1:
        return None
    sh, sw = (int(s) for s in strides)
    dh, dw = (int(d) for d in dilations)
    (pt, pb), (pl, pr) = ((int(a), int(b)) for a, b in pads)
    if min(sh, sw, dh, dw) < 1 or min(pt, pb, pl, pr) < 0 or \
            max(sh, sw, dh, dw, pt, pb, pl, pr, kh, kw) > _MAX_GEOMETRY:
        return None
    oh, ow = K.out_sizes((h, wd), (kh, kw), (sh, sw), (dh, dw), ((pt, pb), (pl, pr)))
    if oh < 1 or ow < 1:
        return None
    return h, wd, c, oh, ow, o, kh, kw, sh, sw, dh, dw, pt, pl


def _ranges(n, macs_per_image, task_macs=_TASK_MACS):
    """Chunks of images by their multiply-adds (fixed by the shapes, not the threads)."""
    return K._image_ranges(n, K._chunk(n, macs_per_image, task_macs))


def conv_bias_act(x, w, b, strides, dilations, pads, relu):
    """relu?(conv(x, w) + b) (b may be None), or None where the kernel does not apply.
    x, w (and b) of one float dtype, the caller's compute dtype."""
    geo = _geometry(x, w.shape, strides, dilations, pads)
    if geo is None:
        return None
    # w and b are copied or read through their own layout below: x alone must be C-ordered
    if not native.usable(x) or type(w) is not np.ndarray or w.dtype != x.dtype or \
            (b is not None and (type(b) is not np.ndarray or b.dtype != x.dtype or
                                b.shape != (w.shape[-1],))):
        return None
    fn = _fn("narrow_fwd", x.dtype)
    if fn is None:
        return None
    h, wd, c, oh, ow, o, kh, kw = geo[:8]
    n = x.shape[0]
    # (C_out, KH, KW, C_in): a filter row's (kx, c) weights for one output channel are one
    # run, as its (kx, c) inputs are in x
    wt = np.ascontiguousarray(w.transpose(3, 0, 1, 2))
    b = None if b is None else np.ascontiguousarray(b)
    out = np.empty((n, oh, ow, o), x.dtype)
    zero = _zero_row(c, x.dtype)
    ptrs = (native.addr(x), native.addr(wt), None if b is None else native.addr(b),
            native.addr(zero), native.addr(out))

    def work(r, _):
        fn(*ptrs, r[0], r[1], *geo, int(bool(relu)))

    K.run_tasks(_ranges(n, oh * ow * o * kh * kw * c), work, x.nbytes + out.nbytes)
    return out


def backprop_filter(x, dy, w_shape, strides, dilations, pads):
    """The filter gradient (w_shape, x's dtype), or None where the kernel does not apply;
    dy (N, OH, OW, O) of x's dtype."""
    geo = _geometry(x, w_shape, strides, dilations, pads)
    if geo is None or not _filter_wins(w_shape) or not native.usable(x, dy):
        return None
    h, wd, c, oh, ow, o, kh, kw = geo[:8]
    n = x.shape[0]
    if dy.shape != (n, oh, ow, o):
        return None
    fn = _fn("narrow_bpf", x.dtype)
    if fn is None:
        return None
    # bigger chunks than the forward's: each has a partial filter to clear and sum, and a
    # kernel call restarts its sweeps (64 one-image chunks: +1 ms on 5); yet 8 at least
    ranges = _ranges(n, oh * ow * o * kh * kw * c, _FILTER_TASK_MACS)
    if len(ranges) < 8 <= n:
        ranges = K._image_ranges(n, -(-n // 8))
    partial = np.zeros((len(ranges), o * kh * kw * c), x.dtype)   # the kernel adds to it
    xp, gp = native.addr(x), native.addr(dy)

    def work(i, _):
        fn(xp, gp, native.addr(partial[i]), *ranges[i], *geo)

    K.run_tasks(list(range(len(ranges))), work, x.nbytes + dy.nbytes)
    total = partial.sum(axis=0, dtype=np.float64)   # row by row, in chunk order
    # (C_out, KH, KW, C_in) -> (KH, KW, C_in, C_out)
    return np.ascontiguousarray(total.reshape(o, kh, kw, c).transpose(1, 2, 3, 0),
                                dtype=x.dtype)


def backprop_input(dy, w, x_shape, strides, dilations, pads):
    """The input gradient dx (x_shape, dy's dtype) of a stride-1, undilated conv with one
    output channel and 1, 3, 5 or 7 filter columns, or None where the kernel does not
    apply. kernels.conv_backprop_input asks it first for one output channel."""
    if dy.ndim != 4 or w.ndim != 4 or len(x_shape) != 4 or \
            tuple(int(s) for s in strides) != (1, 1) or \
            tuple(int(d) for d in dilations) != (1, 1) or len(pads) != 2:
        return None
    n, h, wd, c = (int(s) for s in x_shape)
    kh, kw, cin, o = w.shape
    (pt, pb), (pl, pr) = ((int(a), int(b)) for a, b in pads)
    if o != 1 or cin != c or kw not in (1, 3, 5, 7) or min(n, h, wd, c, kh) < 1 or \
            min(pt, pb, pl, pr) < 0 or max(pt, pb, pl, pr, kh) > _MAX_GEOMETRY or \
            not native.usable(dy) or type(w) is not np.ndarray or w.dtype != dy.dtype:
        return None
    oh, ow = K.out_sizes((h, wd), (kh, kw), ONE, ONE, ((pt, pb), (pl, pr)))
    if dy.shape != (n, oh, ow, 1) or oh < 1 or ow < 1:
        return None
    fn = _fn("narrow_bpi", dy.dtype)
    if fn is None:
        return None
    wt = np.ascontiguousarray(w.reshape(kh, kw, c))
    dx = np.empty((n, h, wd, c), dy.dtype)
    ptrs = native.addr(dy), native.addr(wt), native.addr(dx)

    def work(r, _):
        fn(*ptrs, r[0], r[1], h, wd, c, oh, ow, kh, kw, pt, pl)

    K.run_tasks(_ranges(n, h * wd * kh * kw * c), work, dy.nbytes + dx.nbytes)
    return dx
