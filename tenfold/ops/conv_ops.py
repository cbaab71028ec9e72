"""Convolution and pooling (`tf.nn.conv2d`, `tf.nn.max_pool2d`, ...): primitives and public ops.

Kernels (`tenfold/backend/kernels.py`) work channels-last, (N, *spatial, C), with TensorFlow's
filter layout (*kernel, in, out), so NHWC needs no transposes; channels-first inputs are
transposed around the call. The primitives come in closed families, so every gradient is again
made of primitives and higher derivatives work:

    conv(x, w)                   y = x (*) w              grads: conv_backprop_input, _filter
    conv_backprop_input(dy, w)   adjoint in x (the transposed convolution)
    conv_backprop_filter(x, dy)  adjoint in w
    depthwise_conv{,_backprop_input,_backprop_filter}     the same for depthwise filters
    max_pool(x) -> max_pool_grad(x, y, g) -> max_pool_grad_grad(x, y, gg) (its adjoint in g)
    avg_pool(x) <-> avg_pool_grad(g)                      (each the other's adjoint)

Padding follows TensorFlow: VALID uses no padding; SAME gives ceil(n / stride) outputs and puts
the odd extra padding element at the end; explicit padding lists give ((before, after), ...).

    >>> import tenfold as tf
    >>> x = tf.ones([1, 5, 5, 1]); w = tf.ones([3, 3, 1, 1])
    >>> tf.nn.conv2d(x, w, strides=2, padding="SAME")[0, :, :, 0].numpy().tolist()
    [[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]
"""
import weakref

import numpy as np

from tenfold.backend import kernels as K
from tenfold.backend import dispatching as _bk, kernels_of
from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.tensor_shape import TensorShape
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops import registry
from tenfold.ops.registry import primitive
from tenfold.ops._convert import tensor, binary
from tenfold.ops import array_ops as _a
from tenfold.ops import math_ops as _math

__all__ = [
    "conv1d", "conv2d", "conv3d", "convolution", "conv1d_transpose", "conv2d_transpose",
    "conv3d_transpose", "conv_transpose", "atrous_conv2d", "depthwise_conv2d",
    "depthwise_conv2d_backprop_input", "depthwise_conv2d_backprop_filter", "separable_conv2d",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "avg_pool", "pool", "max_pool_with_argmax",
]
# Not in tf.nn (so not in __all__): fused_conv, relu?(conv + bias) in one pass, for layers.


# ------------------------------------------------------------------------------------------
# primitives

def _p(strides, dilations, pads):
    return {"strides": strides, "dilations": dilations, "pads": pads}


def _shape(t):
    return tuple(int(d) for d in t._value.shape)


def _conv_grad_x(g, out, x, w, strides, dilations, pads, groups):
    return _conv_bpi(g, w, x_shape=_shape(x), groups=groups, **_p(strides, dilations, pads))


def _conv_grad_w(g, out, x, w, strides, dilations, pads, groups):
    return _conv_bpf(x, g, w_shape=_shape(w), groups=groups, **_p(strides, dilations, pads))


def _bpi_grad_dy(g, out, dy, w, x_shape, strides, dilations, pads, groups):
    return _conv(g, w, groups=groups, **_p(strides, dilations, pads))


def _bpi_grad_w(g, out, dy, w, x_shape, strides, dilations, pads, groups):
    return _conv_bpf(g, dy, w_shape=_shape(w), groups=groups, **_p(strides, dilations, pads))


def _bpf_grad_x(g, out, x, dy, w_shape, strides, dilations, pads, groups):
    return _conv_bpi(dy, g, x_shape=_shape(x), groups=groups, **_p(strides, dilations, pads))


def _bpf_grad_dy(g, out, x, dy, w_shape, strides, dilations, pads, groups):
    return _conv(x, g, groups=groups, **_p(strides, dilations, pads))


def conv_flops(inputs, out, params):
    """2 * multiply-adds: per output element, one per filter tap and input channel (the
    adjoints count per input element); depthwise convolutions have one channel per tap."""
    if len(inputs) < 2:
        from tenfold.ops.registry import elementwise_flops
        return elementwise_flops(inputs, out, params)
    kern = inputs[1]._value
    osize = int(out._value.size)
    taps = int(np.prod(kern.shape[:-2]))
    if params.get("depthwise"):
        return 2 * osize * taps
    if params.get("adjoint"):
        return 2 * int(inputs[0]._value.size) * taps * int(kern.shape[-2])
    return 2 * osize * taps * int(kern.shape[-2])


def _conv_flops_as(**kind):
    def flops(inputs, out, params):
        return conv_flops(inputs, out, {**params, **kind})
    return flops


# The convolutions' kernels (NumPy, native and CuPy) always return a newly allocated array
# (or a view of one they allocated: an unpadded interior): "fresh", so the executor may let
# a later node write over a dead conv output instead of allocating (the DCGAN's 25 MB
# LeakyReLU gradient after each Conv2DTranspose).
_conv = primitive("conv", _bk("conv"), grads=(_conv_grad_x, _conv_grad_w),
                  doc="N-d convolution, channels-last; filter (*kernel, in // groups, out)",
                  uses_blas=True, flops=conv_flops, aliasing="fresh")
def _conv_bpi_jit(dy, w, x_shape, strides, dilations, pads, groups=1):
    """conv_backprop_input with one full-width GEMM and a compiled col2im where it applies."""
    return K.conv_backprop_input(dy, w, x_shape, strides, dilations, pads, groups,
                                 col2im=_jit_kernels().col2im_add)


_conv_bpi = primitive("conv_backprop_input", _bk("conv_backprop_input"),
                      jit_kernel=(_conv_bpi_jit, None),
                      grads=(_bpi_grad_dy, _bpi_grad_w),
                      doc="adjoint of conv in x: the transposed convolution", uses_blas=True,
                      flops=_conv_flops_as(adjoint=True), aliasing="fresh")
_conv_bpf = primitive("conv_backprop_filter", _bk("conv_backprop_filter"),
                      grads=(_bpf_grad_x, _bpf_grad_dy), doc="adjoint of conv in the filter",
                      uses_blas=True, flops=_conv_flops_as(adjoint=True), aliasing="fresh")


def _dw_grad_x(g, out, x, w, strides, dilations, pads):
    return _dw_bpi(g, w, x_shape=_shape(x), **_p(strides, dilations, pads))


def _dw_grad_w(g, out, x, w, strides, dilations, pads):
    return _dw_bpf(x, g, w_shape=_shape(w), **_p(strides, dilations, pads))


def _dwbpi_grad_dy(g, out, dy, w, x_shape, strides, dilations, pads):
    return _dw(g, w, **_p(strides, dilations, pads))


def _dwbpi_grad_w(g, out, dy, w, x_shape, strides, dilations, pads):
    return _dw_bpf(g, dy, w_shape=_shape(w), **_p(strides, dilations, pads))


def _dwbpf_grad_x(g, out, x, dy, w_shape, strides, dilations, pads):
    return _dw_bpi(dy, g, x_shape=_shape(x), **_p(strides, dilations, pads))


def _dwbpf_grad_dy(g, out, x, dy, w_shape, strides, dilations, pads):
    return _dw(x, g, **_p(strides, dilations, pads))


_dw = primitive("depthwise_conv", _bk("depthwise_conv"), grads=(_dw_grad_x, _dw_grad_w),
                doc="depthwise convolution, filter (*kernel, C, multiplier)",
                flops=_conv_flops_as(depthwise=True), aliasing="fresh")
_dw_bpi = primitive("depthwise_conv_backprop_input", _bk("depthwise_backprop_input"),
                    grads=(_dwbpi_grad_dy, _dwbpi_grad_w), flops=_conv_flops_as(depthwise=True),
                    aliasing="fresh")
_dw_bpf = primitive("depthwise_conv_backprop_filter", _bk("depthwise_backprop_filter"),
                    grads=(_dwbpf_grad_x, _dwbpf_grad_dy), flops=_conv_flops_as(depthwise=True),
                    aliasing="fresh")

# --- fused conv + bias + ReLU (what TF's grappler turns Conv2D+BiasAdd+Relu into) ---

_relu_bp = primitive("relu_backprop", _bk("relu_backprop"),
                     grads=(lambda gg, out, g, y: _relu_bp(gg, y),
                            lambda gg, out, g, y: _a.zeros_like(y)),
                     doc="g where y > 0 else 0")
_bias_bp = primitive("bias_backprop", _bk("bias_backprop"),
                     grads=(lambda gg, out, dz: _a.broadcast_to(gg, dz._value.shape),),
                     doc="sum over all axes but the last")

# The three gradient rules of conv_bias_act all start from dz = relu_backprop(g, y): computed
# once per backward step and shared (keyed on the very g and y objects and on the recorders
# active, so an outer tape always sees the dz it recorded).
_dz_memo = [None]


def _fused_dz(g, out, relu):
    if not relu:
        return g
    rec = tuple(map(id, registry.observers))
    c = _dz_memo[0]
    if c is not None and c[0]() is g and c[1]() is out and c[2] == rec:
        return c[3]
    dz = _math.relu_mask_after_pool(g, out) if _math.pooled_grads else None
    if dz is None:
        dz = _relu_bp(g, out)
    _dz_memo[0] = (weakref.ref(g), weakref.ref(out), rec, dz)
    return dz


def _fused_gx(g, out, x, w, b, strides, dilations, pads, groups, relu):
    return _conv_bpi(_fused_dz(g, out, relu), w, x_shape=_shape(x), groups=groups,
                     **_p(strides, dilations, pads))


def _fused_gw(g, out, x, w, b, strides, dilations, pads, groups, relu):
    return _conv_bpf(x, _fused_dz(g, out, relu), w_shape=_shape(w), groups=groups,
                     **_p(strides, dilations, pads))


def _fused_gb(g, out, x, w, b, strides, dilations, pads, groups, relu):
    return _bias_bp(_fused_dz(g, out, relu))


_conv_bias_act = primitive("conv_bias_act", _bk("conv_bias_act"),
                           grads=(_fused_gx, _fused_gw, _fused_gb),
                           doc="relu?(conv(x, w) + b), computed chunk by chunk in cache",
                           flops=conv_flops, aliasing="fresh")


def _zeros_rule(i):
    return lambda g, out, *inputs, **params: _a.zeros_like(inputs[i])


# 2x2 stride-2 max pooling under a recorder (tape or tf.function tracer) keeps each window's
# argmax, keyed on the output array, so its gradient is a scatter instead of re-finding the
# maxima (TF's MaxPoolWithArgmax / PyTorch's indices, kept out of sight). The entry goes away
# with the output array.
_argmax = {}


def remember_argmax(out, idx):
    key = id(out)
    _argmax[key] = (weakref.ref(out, lambda _, key=key: _argmax.pop(key, None)), idx)


def max_pool_kernel(x, ksize, strides, dilations, pads, keep_argmax=False, jit=False):
    if type(x) is not np.ndarray:  # another backend: its own kernel (no kept argmax)
        return kernels_of(x).max_pool(x, ksize, strides, dilations, pads)
    if keep_argmax and K.is_2x2(x, ksize, strides, dilations, pads):
        out, idx = K.max_pool_2x2_argmax(x, _jit_kernels() if jit else None)
        remember_argmax(out, idx)
        return out
    return K.max_pool(x, ksize, strides, dilations, pads)


def conv_bias_act_pool(x, w, b, pads, relu, jit=False):
    """Graph-only fusion (tenfold/graph/executor.py): (y, out) for y = conv_bias_act(x, w, b)
    of a stride-1 conv and out = 2x2 stride-2 max pooling of y, pooled chunk by chunk while
    the conv's output is in cache. y itself is never made: the y returned is a read-only
    stand-in with its shape (zero strides) for gradient kernels that need only its shape,
    which read the kept argmax instead (_no_stand_in guards their other paths)."""
    out, idx = K.conv_bias_act_pool(x, w, b, pads, relu, _jit_kernels() if jit else None)
    remember_argmax(out, idx)
    y_shape = (x.shape[0],) + K.out_sizes(x.shape[1:-1], w.shape[:2], (1, 1), (1, 1), pads) + \
        (w.shape[-1],)
    return np.broadcast_to(np.zeros((), out.dtype), y_shape), out


def _no_stand_in(y):
    if y.ndim and y.size > 1 and not any(y.strides):
        raise RuntimeError("internal error: a fused conv + max pool lost its argmax")


def pooled_argmax(out, g):
    """The argmax kept for the output array `out` of 2x2 max pooling, when the gradient g can
    use it (same dtype), else None."""
    entry = _argmax.get(id(out))
    if entry is not None and entry[0]() is out and g.dtype == out.dtype:
        return entry[1]
    return None


def _max_pool_grad_kernel(x, out, g, ksize, strides, dilations, pads):
    if type(x) is not np.ndarray:  # another backend: its own kernel
        return kernels_of(x).max_pool_grad(x, out, g, ksize, strides, dilations, pads)
    idx = pooled_argmax(out, g)
    if idx is not None:
        return K.max_pool_2x2_grad_from_argmax(idx, g, x.shape)
    _no_stand_in(x)
    return K.max_pool_grad(x, out, g, ksize, strides, dilations, pads)


# Graph-only fusions (tenfold/graph/executor.py) of a stride-1 conv's gradients with the 2x2
# stride-2 max pooling after it: dz = max_pool_grad(y, out, g) is zero where pooling dropped
# a last odd row or column of y, so the conv's gradients are computed on the rows and columns
# pooling covers (conv2 of the MNIST convnet: 100 of 121 positions, 17% fewer FLOPs), and the
# filter gradient of a small first layer never makes dz at all. The covered part of dz is
# made once from the kept argmax and shared by the input and filter gradients.
_covered_dz = [None]


def _pooled_dz(out, g):
    """dz on the covered (N, 2*Ho, 2*Wo, C) part, from the kept argmax (or None)."""
    memo = _covered_dz[0]
    if memo is not None and memo[0]() is g and memo[1]() is out:
        _covered_dz[0] = None  # at most the input and the filter gradient ask
        return memo[2]
    idx = pooled_argmax(out, g)
    if idx is None:
        return None
    n, ho, wo, c = out.shape
    dz = K.max_pool_2x2_grad_from_argmax(idx, g, (n, 2 * ho, 2 * wo, c))
    _covered_dz[0] = (weakref.ref(g), weakref.ref(out), dz)
    return dz


def _covered_input(out, ksize, pads):
    """How much of the (unpadded) input the covered part of y reads, or None when padding
    is involved (then the plain path runs)."""
    if any(a or b for a, b in pads):
        return None
    return (2 * out.shape[1] + ksize[0] - 1, 2 * out.shape[2] + ksize[1] - 1)


def _plain_dz(y, out, g):
    return _max_pool_grad_kernel(y, out, g, (2, 2), (2, 2), (1, 1), ((0, 0), (0, 0)))


def _jit_kernels():
    from tenfold import jit
    return jit.kernels()


def conv_backprop_input_pooled(y, out, g, w, x_shape, pads, jit=False):
    """conv_backprop_input(max_pool_grad(y, out, g), w, x_shape) of a stride-1 conv: the
    native kernel where it applies; else, with jit (a graph compiled with jit_compile), one
    full-width GEMM and a Numba scatter, or the NumPy kernels."""
    idx = pooled_argmax(out, g) if g.dtype == y.dtype else None
    if idx is not None:   # natively, reading g through the argmax: no unpooled dz made
        dx = K.conv_backprop_input_routed(g, idx, w, tuple(x_shape), pads)
        if dx is not None:
            return dx
    cover = _covered_input(out, w.shape[:2], pads)
    dz = _pooled_dz(out, g) if cover is not None and g.dtype == y.dtype else None
    if dz is None:
        return K.conv_backprop_input(_plain_dz(y, out, g), w, x_shape, (1, 1), (1, 1), pads)
    # natively, straight into the whole input's shape: dz's missing last rows and columns
    # are the convolution's zero padding, so the uncovered edge comes out zero (the MNIST
    # convnet's 3x3 32->64 13x13 b128: 2.3 ms against 3.7 through `into` below)
    dx = K.conv_backprop_input_covered(dz, w, tuple(x_shape), pads)
    if dx is not None:
        return dx
    crop = (x_shape[0],) + cover + (x_shape[3],)
    if crop == tuple(x_shape) or K.compute_dtype(dz.dtype) != dz.dtype:
        dxc = K.conv_backprop_input(dz, w, crop, (1, 1), (1, 1), pads)
        if crop == tuple(x_shape):
            return dxc
        dx = np.zeros(x_shape, dxc.dtype)
        dx[:, :cover[0], :cover[1]] = dxc
        return dx
    dx = np.zeros(x_shape, dz.dtype)  # the uncovered edge of the input gets no gradient
    K.conv_backprop_input(dz, w, crop, (1, 1), (1, 1), pads, into=dx[:, :cover[0], :cover[1]],
                          col2im=_jit_kernels().col2im_add if jit else None)
    return dx


def conv_backprop_filter_pooled(x, y, out, g, w_shape, pads, with_bias=False, jit=False):
    """conv_backprop_filter(x, max_pool_grad(y, out, g), w_shape) of a stride-1 conv; with
    with_bias, (dw, db) where db is the bias gradient, the sum of the routed gradient."""
    small = w_shape[0] * w_shape[1] * w_shape[2] <= POOLED_FILTER_MAX
    idx = pooled_argmax(out, g) if g.dtype == x.dtype else None
    if small and idx is not None:
        return K.conv_backprop_filter_pooled(x, g, idx, y.shape, w_shape, pads, with_bias,
                                             _jit_kernels() if jit else None)
    if idx is not None:
        got = K.conv_backprop_filter_routed(x, g, idx, w_shape, pads, with_bias)
        if got is not None:
            return got
    cover = _covered_input(out, w_shape[:2], pads)
    dz = _pooled_dz(out, g) if cover is not None and idx is not None else None
    if dz is None:
        dz = _plain_dz(y, out, g)
        dw = K.conv_backprop_filter(x, dz, w_shape, (1, 1), (1, 1), pads)
    else:
        dw = K.conv_backprop_filter(x[:, :cover[0], :cover[1]], dz, w_shape, (1, 1), (1, 1),
                                    pads)
    return (dw, K.bias_backprop(dz)) if with_bias else dw


POOLED_FILTER_MAX = 36   # kh * kw * C_in up to which the pooled filter gradient pays


def _max_pool_grad_rule(g, out, x, ksize, strides, dilations, pads, keep_argmax=False):
    params = dict(ksize=ksize, **_p(strides, dilations, pads))
    dx = _max_pool_grad(x, out, g, **params)
    key = id(dx)
    ref = weakref.ref(dx, lambda _, key=key: _math.pooled_grads.pop(key, None))

    def masked(gx, y):
        # see math_ops.pooled_grads: mask the pooled gradient g by out > 0, then route it
        if ref() is not gx or y is not x:
            return None
        return _max_pool_grad(x, out, _relu_bp(g, out), **params)
    _math.pooled_grads[key] = masked
    return dx


def _mpg_grad_g(gg, out, x, y, g, ksize, strides, dilations, pads):
    return _max_pool_gg(x, y, gg, ksize=ksize, **_p(strides, dilations, pads))


def _mpgg_grad_gg(g, out, x, y, gg, ksize, strides, dilations, pads):
    return _max_pool_grad(x, y, g, ksize=ksize, **_p(strides, dilations, pads))


def _max_pool_jit(x, ksize, strides, dilations, pads, keep_argmax=False):
    """2x2 stride-2 max pooling with its argmax in one compiled pass where it applies."""
    return max_pool_kernel(x, ksize, strides, dilations, pads, keep_argmax, jit=True)


_max_pool = primitive("max_pool", max_pool_kernel, grads=(_max_pool_grad_rule,),
                      jit_kernel=(_max_pool_jit, None))
_max_pool_grad = primitive("max_pool_grad", _max_pool_grad_kernel,
                           grads=(_zeros_rule(0), _zeros_rule(1), _mpg_grad_g),
                           doc="routes g to each window's first maximum", pool_route=(0, 2))
_max_pool_gg = primitive("max_pool_grad_grad", _bk("max_pool_grad_grad"),
                         grads=(_zeros_rule(0), _zeros_rule(1), _mpgg_grad_gg))


def _avg_pool_grad_rule(g, out, x, ksize, strides, dilations, pads):
    return _avg_pool_grad(g, x_shape=_shape(x), ksize=ksize, **_p(strides, dilations, pads))


def _apg_grad(gg, out, g, x_shape, ksize, strides, dilations, pads):
    return _avg_pool(gg, ksize=ksize, **_p(strides, dilations, pads))


_avg_pool = primitive("avg_pool", _bk("avg_pool"), grads=(_avg_pool_grad_rule,))
_avg_pool_grad = primitive("avg_pool_grad", _bk("avg_pool_grad"), grads=(_apg_grad,))


# ------------------------------------------------------------------------------------------
# argument handling

_LAYOUTS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}
_DIMS = {1: "(batch, width, channels)", 2: "(batch, height, width, channels)",
         3: "(batch, depth, height, width, channels)"}
_CONV_DTYPES = ("float16", "bfloat16", "float32", "float64", "int32")
_AVG_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _channels_first(data_format, nd, op):
    if data_format is None or data_format == "channels_last":
        return False
    if data_format == "channels_first":
        return True
    last, first = _LAYOUTS.get(nd, ("N" + "S" * nd + "C", "NC" + "S" * nd))
    df = str(data_format).upper()
    if df == last or (df.startswith("N") and df.endswith("C") and len(df) == nd + 2):
        return False
    if df == first or (df.startswith("NC") and len(df) == nd + 2):
        return True
    raise ValueError(f"{op}: data_format must be {last!r} (channels last) or {first!r} "
                     f"(channels first), got {data_format!r}")


def _ints(v, what, op):
    if isinstance(v, Tensor):
        v = v.numpy()  # a scalar string tensor gives bytes: refused below
        v = v.tolist() if isinstance(v, np.ndarray) else v
    elif isinstance(v, TensorShape):
        v = v.as_list()
    elif isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (int, np.integer)):
        return (int(v),)
    try:
        return tuple(int(i) for i in v)
    except (TypeError, ValueError):
        raise ValueError(f"{op}: {what} must be an int or a list of ints, got {v!r}") from None


def _spatial(value, nd, what, op, cf, default=1):
    """Per-spatial-dim ints from TF's forms: int, [v], [v1..vnd] or the full [1, ..., 1]."""
    if value is None:
        return (default,) * nd
    v = _ints(value, what, op)
    if len(v) == 1:
        v = v * nd
    elif len(v) == nd + 2 and nd > 0:
        outer = (v[0], v[1]) if cf else (v[0], v[-1])
        if outer != (1, 1):
            raise InvalidArgumentError(
                f"{op}: {what} {list(v)} must be 1 in the batch and channel dimensions (only "
                "the spatial dimensions can be strided, dilated or pooled)")
        v = v[2:] if cf else v[1:-1]
    elif len(v) != nd:
        raise ValueError(f"{op}: {what} must be an int or a list of 1, {nd} or {nd + 2} ints, "
                         f"got {list(v)}")
    if any(i < 1 for i in v):
        raise ValueError(f"{op}: {what} must be positive, got {list(v)}")
    return v


def _padding(padding, nd, op, cf, explicit=True):
    """'SAME', 'VALID' or explicit spatial ((before, after), ...)."""
    if isinstance(padding, str):
        p = padding.upper()
        if p in ("SAME", "VALID"):
            return p
    elif explicit and isinstance(padding, (list, tuple, np.ndarray)):
        try:
            pairs = [tuple(int(a) for a in pr) for pr in padding]
        except (TypeError, ValueError):
            pairs = None
        if pairs is not None and all(len(pr) == 2 for pr in pairs) and \
                len(pairs) in (nd, nd + 2):
            if len(pairs) == nd + 2:
                outer = (pairs[0], pairs[1]) if cf else (pairs[0], pairs[-1])
                if outer != ((0, 0), (0, 0)):
                    raise InvalidArgumentError(
                        f"{op}: explicit padding {pairs} must be [0, 0] in the batch and channel "
                        "dimensions")
                pairs = pairs[2:] if cf else pairs[1:-1]
            if any(a < 0 or b < 0 for a, b in pairs):
                raise ValueError(f"{op}: explicit padding must be non-negative, got {pairs}")
            return tuple(pairs)
        raise ValueError(f"{op}: explicit padding must be a list of {nd + 2} [before, after] "
                         f"pairs (one per dimension, [0, 0] for batch and channels), got "
                         f"{padding!r}")
    more = " or a list of explicit [before, after] pairs" if explicit else ""
    raise ValueError(f"{op}: padding must be 'SAME' or 'VALID'{more}, got {padding!r}")


def _resolve(in_sp, ksize, strides, dilations, padding, op):
    """(pads, output sizes) from a padding spec, with TensorFlow's rules and errors."""
    pads, out = [], []
    for n, k, s, d, i in zip(in_sp, ksize, strides, dilations, range(len(in_sp))):
        eff = (k - 1) * d + 1
        if padding == "SAME":
            o = -(-n // s)
            total = max((o - 1) * s + eff - n, 0)
            pads.append((total // 2, total - total // 2))
        else:
            a, b = (0, 0) if padding == "VALID" else padding[i]
            num = n + a + b - eff + s
            o = num // s if num >= 0 else -(-num // s)  # C++ division truncates toward zero
            if o < 0:
                raise InvalidArgumentError(
                    f"{op}: computed output size would be negative: {o} [input_size: {n}, "
                    f"effective_filter_size: {eff}, stride: {s}] in spatial dimension {i}. The "
                    f"window is larger than the (padded) input: use padding='SAME' or a smaller "
                    f"window.")
            pads.append((a, b))
        out.append(o)
    return tuple(pads), tuple(out)


def _check_dtype(x, op, allowed):
    if x.dtype.name not in allowed:
        raise TypeError(f"{op} does not support {x.dtype.name} inputs; expected one of "
                        f"{', '.join(allowed)}. Use tf.cast(x, tf.float32) first.")


def _check_rank(t, rank, op, what, layout):
    r = t._value.ndim
    if r != rank:
        hint = ""
        if what == "input" and r == rank - 1:
            hint = " If this is a single example, add a batch axis with tf.expand_dims(x, 0)."
        raise InvalidArgumentError(f"{op}: {what} must be a rank-{rank} tensor {layout}, got "
                                   f"rank {r} with shape {list(t._value.shape)}.{hint}")


def _check_filter_size(w, op, what="filters"):
    """TensorFlow refuses an empty filter (a zero-size kernel window or channel count)."""
    if 0 in w._value.shape:
        raise InvalidArgumentError(f"{op}: {what} must not have zero elements (every dimension "
                                   f"non-zero), got shape {list(w._value.shape)}")


def _to_last(x, nd):
    return _a.transpose(x, (0,) + tuple(range(2, nd + 2)) + (1,))


def _to_first(y, nd):
    return _a.transpose(y, (0, nd + 1) + tuple(range(1, nd + 1)))


def _filter_layout(nd, transpose=False):
    io = "out_channels, in_channels" if transpose else "in_channels, out_channels"
    dims = {1: ["width"], 2: ["height", "width"], 3: ["depth", "height", "width"]}
    return "[" + ", ".join(dims.get(nd, ["k"] * nd)) + f", {io}]"


# ------------------------------------------------------------------------------------------
# convolution

def _conv_args(op, input, filters, strides, padding, data_format, dilations, nd):
    """Checked channels-last (x, w), whether the caller's layout is channels-first, params."""
    x, w = binary(input, filters, op)
    _check_dtype(x, op, _CONV_DTYPES)
    cf = _channels_first(data_format, nd, op)
    _check_rank(x, nd + 2, op, "input", _DIMS.get(nd, f"with {nd} spatial dims"))
    _check_rank(w, nd + 2, op, "filters", _filter_layout(nd))
    _check_filter_size(w, op)
    strides = _spatial(strides, nd, "strides", op, cf)
    dilations = _spatial(dilations, nd, "dilations", op, cf)
    pad_spec = _padding(padding, nd, op, cf)
    if cf:
        x = _to_last(x, nd)
    xs, ws = _shape(x), _shape(w)
    c, cin, cout = xs[-1], ws[-2], ws[-1]
    if cin == 0 or c % cin or (c // cin > 1 and cout % (c // cin)):
        raise InvalidArgumentError(
            f"{op}: input has {c} channels but filter expects {cin} (input shape "
            f"{list(_shape(tensor(input)))}, filter shape {list(ws)} laid out as "
            f"{_filter_layout(nd)}). The filter's in_channels (filters.shape[-2]) must equal "
            f"the input's channel count" + (" (data_format is channels-first: channels are "
                                            "axis 1)" if cf else "") + ".")
    pads, _ = _resolve(xs[1:-1], ws[:-2], strides, dilations, pad_spec, op)
    return x, w, cf, dict(strides=strides, dilations=dilations, pads=pads, groups=c // cin)


def _convolution(op, input, filters, strides, padding, data_format, dilations, nd):
    x, w, cf, p = _conv_args(op, input, filters, strides, padding, data_format, dilations, nd)
    y = _conv(x, w, **p)
    return _to_first(y, nd) if cf else y


def fused_conv(input, filters, bias=None, strides=1, padding="VALID", data_format=None,
               dilations=None, activation=None, name=None):
    """activation(conv(input, filters) + bias) for N-d inputs, in one pass: the bias and ReLU
    are applied to each chunk of the convolution's output while it is in cache, and the
    backward pass computes the ReLU mask once for all three gradients. `activation` is None
    or 'relu'. Same arguments and numbers as conv + tf.nn.bias_add + tf.nn.relu (for layers:
    Keras Conv1D/2D/3D with use_bias and activation in (None, 'linear', 'relu'))."""
    op = "fused_conv"
    act = None if activation in (None, "linear") else str(activation)
    if act not in (None, "relu"):
        raise ValueError(f"{op}: activation must be None, 'linear' or 'relu', got "
                         f"{activation!r}; apply other activations after conv + bias_add.")
    nd = tensor(filters)._value.ndim - 2
    x, w, cf, p = _conv_args(op, input, filters, strides, padding, data_format, dilations, nd)
    cout = _shape(w)[-1]
    if bias is None:
        b = Tensor._wrap(np.zeros(cout, x._value.dtype))
    else:
        _, b = binary(x, bias, op)
        if _shape(b) != (cout,):
            raise InvalidArgumentError(f"{op}: bias must have shape [{cout}] (the filter's "
                                       f"out_channels), got {list(_shape(b))}")
    y = _conv_bias_act(x, w, b, relu=act == "relu", **p)
    return _to_first(y, nd) if cf else y


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):
    """1-D convolution: input [batch, width, in], filters [width, in, out]."""
    return _convolution("conv1d", input, filters, stride, padding, data_format, dilations, 1)


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """2-D convolution: input [batch, h, w, in], filters [h, w, in, out] (as `tf.nn.conv2d`)."""
    return _convolution("conv2d", input, filters, strides, padding, data_format, dilations, 2)


def conv3d(input, filters, strides, padding, data_format="NDHWC", dilations=None, name=None):
    return _convolution("conv3d", input, filters, strides, padding, data_format, dilations, 3)


def convolution(input, filters, strides=None, padding="VALID", data_format=None,
                dilations=None, name=None):
    """N-d convolution; the number of spatial dims comes from the filters' rank."""
    w = tensor(filters)
    nd = w._value.ndim - 2
    if nd < 1:
        raise InvalidArgumentError(f"convolution: filters must have rank >= 3, got shape "
                                   f"{list(w._value.shape)}")
    return _convolution("convolution", input, filters, strides, padding, data_format,
                        dilations, nd)


def atrous_conv2d(value, filters, rate, padding, name=None):
    return _convolution("atrous_conv2d", value, filters, 1, padding, "NHWC", rate, 2)


def _conv_transpose(op, input, filters, output_shape, strides, padding, data_format,
                    dilations, nd):
    x, w = binary(input, filters, op)
    _check_dtype(x, op, _CONV_DTYPES)
    cf = _channels_first(data_format, nd, op)
    _check_rank(x, nd + 2, op, "input", _DIMS.get(nd, f"with {nd} spatial dims"))
    _check_rank(w, nd + 2, op, "filters", _filter_layout(nd, transpose=True))
    _check_filter_size(w, op)
    strides = _spatial(strides, nd, "strides", op, cf)
    dilations = _spatial(dilations, nd, "dilations", op, cf)
    pad_spec = _padding(padding, nd, op, cf)
    if cf:
        x = _to_last(x, nd)
    xs, ws = _shape(x), _shape(w)
    if ws[-1] != xs[-1]:
        raise InvalidArgumentError(
            f"{op}: input has {xs[-1]} channels but filter expects {ws[-1]} (filter shape "
            f"{list(ws)} laid out as {_filter_layout(nd, transpose=True)}: the last axis must "
            f"equal the input's channel count).")
    shp = _ints(output_shape, "output_shape", op)
    if len(shp) == nd + 2:
        shp = (shp[0],) + shp[2:] + (shp[1],) if cf else shp
    elif len(shp) == nd:
        shp = (xs[0],) + shp + (ws[-2],)
    else:
        raise ValueError(f"{op}: output_shape must have {nd + 2} entries, got {list(shp)}")
    if shp[0] != xs[0] or shp[-1] != ws[-2] or any(d < 0 for d in shp):
        raise InvalidArgumentError(
            f"{op}: output_shape {list(shp)} (channels-last) must have batch {xs[0]} (the "
            f"input's) and {ws[-2]} channels (filters.shape[-2]).")
    pads, fwd = _resolve(shp[1:-1], ws[:-2], strides, dilations, pad_spec, op)
    if fwd != xs[1:-1]:
        raise InvalidArgumentError(
            f"{op}: output_shape {list(shp)} does not match the input: a convolution of spatial "
            f"size {list(shp[1:-1])} with a {list(ws[:-2])} filter, strides {list(strides)} and "
            f"padding {padding!r} has spatial size {list(fwd)}, but the input's is "
            f"{list(xs[1:-1])}.")
    y = _conv_bpi(x, w, x_shape=tuple(shp), strides=strides, dilations=dilations, pads=pads,
                  groups=1)
    return _to_first(y, nd) if cf else y


def conv1d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NWC",
                     dilations=None, name=None):
    return _conv_transpose("conv1d_transpose", input, filters, output_shape, strides, padding,
                           data_format, dilations, 1)


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",
                     dilations=None, name=None):
    """Transposed 2-D convolution (the gradient of conv2d in its input); filters are
    [h, w, out_channels, in_channels]."""
    return _conv_transpose("conv2d_transpose", input, filters, output_shape, strides, padding,
                           data_format, dilations, 2)


def conv3d_transpose(input, filters, output_shape, strides, padding="SAME",
                     data_format="NDHWC", dilations=None, name=None):
    return _conv_transpose("conv3d_transpose", input, filters, output_shape, strides, padding,
                           data_format, dilations, 3)


def conv_transpose(input, filters, output_shape, strides, padding="SAME", data_format=None,
                   dilations=None, name=None):
    nd = tensor(filters)._value.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"nn.conv_transpose: filters must have rank 3, 4 or 5 (1 to 3 spatial "
                         f"dims), got rank {nd + 2}")
    return _conv_transpose("conv_transpose", input, filters, output_shape, strides, padding,
                           data_format, dilations, nd)


# --- depthwise / separable ---

def _depthwise_args(op, input, filter, strides, padding, data_format, dilations):
    x, w = binary(input, filter, op)
    _check_dtype(x, op, _AVG_DTYPES)
    cf = _channels_first(data_format, 2, op)
    _check_rank(x, 4, op, "input", _DIMS[2])
    _check_rank(w, 4, op, "filter", "[height, width, in_channels, channel_multiplier]")
    _check_filter_size(w, op, "filter")
    strides = _spatial(strides, 2, "strides", op, cf)
    dilations = _spatial(dilations, 2, "dilations", op, cf)
    pad_spec = _padding(padding, 2, op, cf)
    if cf:
        x = _to_last(x, 2)
    c, ws = _shape(x)[-1], _shape(w)
    if ws[-2] != c:
        raise InvalidArgumentError(
            f"{op}: input has {c} channels but filter expects {ws[-2]} (filter shape "
            f"{list(ws)} is [height, width, in_channels, channel_multiplier]).")
    pads, _ = _resolve(_shape(x)[1:-1], ws[:2], strides, dilations, pad_spec, op)
    return x, w, cf, _p(strides, dilations, pads)


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None,
                     name=None):
    """Depthwise 2-D convolution: filter [h, w, in, multiplier] -> in * multiplier channels."""
    x, w, cf, p = _depthwise_args("depthwise_conv2d", input, filter, strides, padding,
                                  data_format, dilations)
    y = _dw(x, w, **p)
    return _to_first(y, 2) if cf else y


def depthwise_conv2d_backprop_input(input_sizes, filter, out_backprop, strides, padding,
                                    data_format="NHWC", dilations=None, name=None):
    op = "depthwise_conv2d_backprop_input"
    cf = _channels_first(data_format, 2, op)
    shp = _ints(input_sizes, "input_sizes", op)
    if len(shp) != 4:
        raise ValueError(f"{op}: input_sizes must have 4 entries, got {list(shp)}")
    if cf:
        shp = (shp[0], shp[2], shp[3], shp[1])
    dy, w = binary(out_backprop, filter, op)
    if cf:
        dy = _to_last(dy, 2)
    strides = _spatial(strides, 2, "strides", op, cf)
    dilations = _spatial(dilations, 2, "dilations", op, cf)
    pads, out_sp = _resolve(shp[1:3], _shape(w)[:2], strides, dilations,
                            _padding(padding, 2, op, cf), op)
    if _shape(dy) != (shp[0],) + out_sp + (_shape(w)[2] * _shape(w)[3],):
        raise InvalidArgumentError(f"{op}: out_backprop has shape {list(_shape(dy))}, expected "
                                   f"{[shp[0], *out_sp, _shape(w)[2] * _shape(w)[3]]}")
    y = _dw_bpi(dy, w, x_shape=shp, **_p(strides, dilations, pads))
    return _to_first(y, 2) if cf else y


def depthwise_conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding,
                                     data_format="NHWC", dilations=None, name=None):
    op = "depthwise_conv2d_backprop_filter"
    cf = _channels_first(data_format, 2, op)
    fs = _ints(filter_sizes, "filter_sizes", op)
    x, dy = binary(input, out_backprop, op)
    if cf:
        x, dy = _to_last(x, 2), _to_last(dy, 2)
    strides = _spatial(strides, 2, "strides", op, cf)
    dilations = _spatial(dilations, 2, "dilations", op, cf)
    pads, out_sp = _resolve(_shape(x)[1:3], fs[:2], strides, dilations,
                            _padding(padding, 2, op, cf), op)
    if len(fs) != 4 or _shape(dy) != (_shape(x)[0],) + out_sp + (fs[2] * fs[3],):
        raise InvalidArgumentError(f"{op}: out_backprop shape {list(_shape(dy))} and "
                                   f"filter_sizes {list(fs)} do not match the input")
    return _dw_bpf(x, dy, w_shape=fs, **_p(strides, dilations, pads))


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding,
                     data_format=None, dilations=None, name=None):
    """Depthwise convolution followed by a 1x1 convolution mixing channels."""
    op = "separable_conv2d"
    x, w, cf, p = _depthwise_args(op, input, depthwise_filter, strides, padding, data_format,
                                  dilations)
    pw = tensor(pointwise_filter, dtype=x.dtype) if not isinstance(pointwise_filter, Tensor) \
        else pointwise_filter
    _, pw = binary(x, pw, op)
    _check_rank(pw, 4, op, "pointwise_filter", "[1, 1, in_channels * multiplier, out]")
    ws, ps = _shape(w), _shape(pw)
    if ps[:2] != (1, 1) or ps[2] != ws[2] * ws[3]:
        raise InvalidArgumentError(
            f"{op}: pointwise_filter must have shape [1, 1, {ws[2] * ws[3]}, out_channels] "
            f"(in_channels * channel_multiplier = {ws[2]} * {ws[3]}), got {list(ps)}")
    y = _dw(x, w, **p)
    y = _conv(y, pw, strides=(1, 1), dilations=(1, 1), pads=((0, 0), (0, 0)), groups=1)
    return _to_first(y, 2) if cf else y


# ------------------------------------------------------------------------------------------
# pooling

def _pool(op, kind, input, ksize, strides, padding, data_format, nd, dilations=None,
          explicit=False):
    x = tensor(input)
    if kind == "MAX":
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise TypeError(f"{op} does not support {x.dtype.name} inputs")
    else:
        _check_dtype(x, op, _AVG_DTYPES)
    cf = _channels_first(data_format, nd, op)
    _check_rank(x, nd + 2, op, "input", _DIMS.get(nd, f"with {nd} spatial dims"))
    ksize = _spatial(ksize, nd, "ksize", op, cf)
    strides = _spatial(strides, nd, "strides", op, cf)
    dilations = _spatial(dilations, nd, "dilations", op, cf)
    pad_spec = _padding(padding, nd, op, cf, explicit)
    if cf:
        x = _to_last(x, nd)
    pads, _ = _resolve(_shape(x)[1:-1], ksize, strides, dilations, pad_spec, op)
    if kind == "MAX":
        y = _max_pool(x, ksize=ksize, keep_argmax=bool(registry.observers),
                      **_p(strides, dilations, pads))
    else:
        y = _avg_pool(x, ksize=ksize, **_p(strides, dilations, pads))
    return _to_first(y, nd) if cf else y


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    return _pool("max_pool1d", "MAX", input, ksize, strides, padding, data_format, 1,
                 explicit=True)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """2-D max pooling (as `tf.nn.max_pool2d`); its gradient goes to each window's first max."""
    return _pool("max_pool2d", "MAX", input, ksize, strides, padding, data_format, 2,
                 explicit=True)


def max_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):
    return _pool("max_pool3d", "MAX", input, ksize, strides, padding, data_format, 3)


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    return _pool("avg_pool1d", "AVG", input, ksize, strides, padding, data_format, 1)


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """2-D average pooling; with SAME padding each window averages only its real elements."""
    return _pool("avg_pool2d", "AVG", input, ksize, strides, padding, data_format, 2)


def avg_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):
    return _pool("avg_pool3d", "AVG", input, ksize, strides, padding, data_format, 3)


def _rank_nd(input, op):
    nd = tensor(input)._value.ndim - 2
    if nd < 1:
        raise InvalidArgumentError(f"{op}: input must have rank >= 3 (batch, spatial..., "
                                   f"channels), got shape {list(tensor(input)._value.shape)}")
    return nd


def max_pool(input, ksize, strides, padding, data_format=None, name=None):
    """N-d max pooling; N from the input's rank."""
    return _pool("max_pool", "MAX", input, ksize, strides, padding, data_format,
                 _rank_nd(input, "max_pool"), explicit=True)


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):
    return _pool("avg_pool", "AVG", input, ksize, strides, padding, data_format,
                 _rank_nd(input, "avg_pool"))


def pool(input, window_shape, pooling_type, strides=None, padding="VALID", data_format=None,
         dilations=None, name=None):
    """`tf.nn.pool`: N-d 'MAX' or 'AVG' pooling, optionally dilated."""
    op = "pool"
    kind = str(pooling_type).upper()
    if kind not in ("MAX", "AVG"):
        raise ValueError(f"pool: pooling_type must be 'MAX' or 'AVG', got {pooling_type!r}")
    nd = len(_ints(window_shape, "window_shape", op))
    if nd < 1:
        raise ValueError("pool: window_shape must have at least one entry")
    st = _spatial(strides, nd, "strides", op, False)
    dl = _spatial(dilations, nd, "dilations", op, False)
    if any(s > 1 for s in st) and any(d > 1 for d in dl):
        raise ValueError(f"pool: strides > 1 not supported in conjunction with dilations > 1 "
                         f"(got strides {list(st)}, dilations {list(dl)})")
    if any(d > 1 for d in dl) and isinstance(padding, str) and padding.upper() == "SAME":
        raise ValueError(f"pool: pooling with 'SAME' padding is not implemented for dilations "
                         f"> 1 (as in TensorFlow), got dilations {list(dl)}; use 'VALID'")
    if tensor(input)._value.ndim != nd + 2:
        raise InvalidArgumentError(
            f"pool: input must have rank {nd + 2} for a {nd}-d window {list(window_shape)}, "
            f"got shape {list(tensor(input)._value.shape)}")
    return _pool(op, kind, input, window_shape, st, padding, data_format, nd, dilations=dl)


def max_pool_with_argmax(input, ksize, strides, padding, data_format="NHWC",
                         output_dtype=dtypes.int64, include_batch_in_index=False, name=None):
    """Max pooling and the flat index of each window's (first) maximum: ((b * h + y) * w + x)
    * c + channel, without the batch term unless include_batch_in_index."""
    op = "max_pool_with_argmax"
    if data_format not in ("NHWC", None):
        raise ValueError(f"{op}: only data_format='NHWC' is supported, got {data_format!r}")
    y = max_pool2d(input, ksize, strides, padding)
    x = tensor(input)
    n, h, w, c = _shape(x)
    ks = _spatial(ksize, 2, "ksize", op, False)
    st = _spatial(strides, 2, "strides", op, False)
    pads, out_sp = _resolve((h, w), ks, st, (1, 1), _padding(padding, 2, op, False), op)
    xv = K.pad(x._value, pads, K._lowest(x._value.dtype))
    idx = np.zeros(_shape(y), np.int64)
    oy = np.arange(out_sp[0]).reshape(1, -1, 1, 1) * st[0] - pads[0][0]
    ox = np.arange(out_sp[1]).reshape(1, 1, -1, 1) * st[1] - pads[1][0]
    ch = np.arange(c).reshape(1, 1, 1, -1)
    for (i, j), e in K._first_max_masks(xv, y._value, ks, st, (1, 1)):
        idx += e * ((oy + i) * w + ox + j) * c + e * ch
    if include_batch_in_index:
        idx += np.arange(n).reshape(-1, 1, 1, 1) * (h * w * c)
    return y, Tensor._wrap(idx.astype(dtypes.as_dtype(output_dtype)._np))
