"""Convolution and pooling kernels written against an array namespace `xp` (CuPy on a GPU).

The NumPy kernels (`tenfold/backend/kernels.py`) are CPU-shaped: strided views
(`as_strided`), chunks sized for L2, Python threads, `out=` GEMMs into reused buffers. None
of that carries over to a GPU. These kernels use only what every NumPy-compatible namespace
has (basic slicing, `concatenate`, `matmul`, `reshape`, `zeros`), with the same names,
arguments and conventions as `kernels.py` (channels-last, TF's (*kernel, in, out) filters,
pads already resolved), so a backend hands them its `xp` and is done:

- convolution: im2col (one strided slice per kernel offset, concatenated on the channel
  axis, offset-major) + one GEMM (cuBLAS on CuPy, tensor cores for float16);
- input gradient: one GEMM to offset-major columns, then col2im as one strided `+=` per
  kernel offset;
- filter gradient: one GEMM of the im2col columns with dy;
- pooling: one strided slice per window offset (max / sum), gradients routed to each
  window's first maximum (TensorFlow's tie rule) or spread evenly.

They run on NumPy arrays too, which is how CI checks them against `kernels.py`
(tests/core/test_xp_kernels.py); half types compute in float32, as there.
"""
import itertools
import math

import numpy as np


def _xp(a):
    from tenfold.backend import xp_of
    return xp_of(a)


def compute_dtype(dtype):
    dtype = np.dtype(dtype)
    if (dtype.kind == "f" and dtype.itemsize >= 4) or dtype.kind in "iu":
        return dtype
    return np.dtype(np.float32)


def gemm_dtype(x):
    """The dtype a convolution GEMM runs in: on NumPy, half types in float32 (no fast half
    GEMM); on a device, float16 as is (cuBLAS accumulates in float32 and uses tensor cores)."""
    if x.dtype == np.float16 and type(x) is not np.ndarray:
        return x.dtype
    return compute_dtype(x.dtype)


def out_sizes(in_sizes, ksize, strides, dilations, pads):
    return tuple(max(0, (n + a + b - (k - 1) * d - 1) // s + 1)
                 for n, k, s, d, (a, b) in zip(in_sizes, ksize, strides, dilations, pads))


def _offsets(ksize):
    return itertools.product(*[range(k) for k in ksize])


def _view(xpad, k, out_sp, strides, dilations):
    """The (N, *out_sp, C) slice of padded x that kernel offset k reads."""
    sl = tuple(slice(ki * d, ki * d + (o - 1) * s + 1, s) if o > 0 else slice(0, 0)
               for ki, o, s, d in zip(k, out_sp, strides, dilations))
    return xpad[(slice(None),) + sl + (slice(None),)]


def _interior(pads, shape):
    return (slice(None),) + tuple(slice(a, a + n) for (a, _), n in zip(pads, shape[1:-1])) + \
        (slice(None),)


def _pad(x, pads, value=0):
    if not any(a or b for a, b in pads):
        return x
    xp = _xp(x)
    shape = (x.shape[0],) + tuple(n + a + b for n, (a, b) in zip(x.shape[1:-1], pads)) + \
        (x.shape[-1],)
    out = xp.full(shape, value, dtype=x.dtype)
    out[_interior(pads, x.shape)] = x
    return out


def _unpad(xpad, pads, shape):
    if not any(a or b for a, b in pads):
        return xpad
    return _xp(xpad).ascontiguousarray(xpad[_interior(pads, shape)])


def _im2col(xpad, ksize, out_sp, strides, dilations):
    """(N * prod(out_sp), prod(ksize) * C) columns, offset-major (matches w.reshape(-1, O))."""
    xp = _xp(xpad)
    views = [_view(xpad, k, out_sp, strides, dilations) for k in _offsets(ksize)]
    cols = views[0] if len(views) == 1 else xp.concatenate(views, axis=-1)
    return cols.reshape(-1, cols.shape[-1])


def _conv1(x, w, strides, dilations, pads):
    ksize = w.shape[:-2]
    out_sp = out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    cols = _im2col(_pad(x, pads), ksize, out_sp, strides, dilations)
    y = cols @ w.reshape(-1, w.shape[-1])
    return y.reshape((x.shape[0],) + out_sp + (w.shape[-1],))


def conv_bias_act(x, w, b, strides, dilations, pads, groups=1, relu=False):
    """relu?(conv(x, w) + b); b may be None."""
    xp = _xp(x)
    dt = x.dtype
    ct = gemm_dtype(x)
    x = x.astype(ct, copy=False)
    w = w.astype(ct, copy=False)
    if groups == 1:
        y = _conv1(x, w, strides, dilations, pads)
    else:
        cg, og = w.shape[-2], w.shape[-1] // groups
        y = xp.concatenate([_conv1(x[..., g * cg:(g + 1) * cg], w[..., g * og:(g + 1) * og],
                                   strides, dilations, pads) for g in range(groups)], axis=-1)
    if b is not None:
        y = y + b.astype(ct, copy=False)
    if relu:
        y = xp.maximum(y, 0)
    return y.astype(dt, copy=False)


def conv(x, w, strides, dilations, pads, groups=1):
    return conv_bias_act(x, w, None, strides, dilations, pads, groups)


def _bpi1(dy, w, x_shape, strides, dilations, pads):
    xp = _xp(dy)
    ksize = w.shape[:-2]
    cin, cout = w.shape[-2], w.shape[-1]
    out_sp = dy.shape[1:-1]
    cols = dy.reshape(-1, cout) @ w.reshape(-1, cout).T        # (N*P, K*Cin)
    cols = cols.reshape(dy.shape[:-1] + (-1, cin))
    padded = (x_shape[0],) + tuple(n + a + b for n, (a, b) in zip(x_shape[1:-1], pads)) + (cin,)
    dxp = xp.zeros(padded, dy.dtype)
    for i, k in enumerate(_offsets(ksize)):
        view = _view(dxp, k, out_sp, strides, dilations)
        view += cols[..., i, :]
    return _unpad(dxp, pads, tuple(x_shape[:-1]) + (cin,))


def conv_backprop_input(dy, w, x_shape, strides, dilations, pads, groups=1, into=None,
                        **_ignored):
    xp = _xp(dy)
    dt = dy.dtype
    ct = gemm_dtype(dy)
    dy = dy.astype(ct, copy=False)
    w = w.astype(ct, copy=False)
    if groups == 1:
        dx = _bpi1(dy, w, x_shape, strides, dilations, pads)
    else:
        cg, og = w.shape[-2], w.shape[-1] // groups
        sub = tuple(x_shape[:-1]) + (cg,)
        dx = xp.concatenate([_bpi1(dy[..., g * og:(g + 1) * og], w[..., g * og:(g + 1) * og],
                                   sub, strides, dilations, pads) for g in range(groups)],
                            axis=-1)
    dx = dx.astype(dt, copy=False)
    if into is not None:
        into[...] = dx
        return into
    return dx


def conv_backprop_filter(x, dy, w_shape, strides, dilations, pads, groups=1):
    xp = _xp(x)
    dt = x.dtype
    ct = gemm_dtype(x)
    x = x.astype(ct, copy=False)
    dy = dy.astype(ct, copy=False)
    ksize = tuple(w_shape[:-2])
    cg, cout = w_shape[-2], w_shape[-1]
    out_sp = dy.shape[1:-1]
    xpad = _pad(x, pads)
    parts = []
    og = cout // groups
    for g in range(groups):
        xs = xpad if groups == 1 else xpad[..., g * cg:(g + 1) * cg]
        cols = _im2col(xs, ksize, out_sp, strides, dilations)
        d = dy.reshape(-1, cout)[:, g * og:(g + 1) * og]
        parts.append((cols.T @ d).reshape(ksize + (cg, og)))
    dw = parts[0] if groups == 1 else xp.concatenate(parts, axis=-1)
    return dw.astype(dt, copy=False)


def depthwise_conv(x, w, strides, dilations, pads):
    """x (N, *S, C), w (*K, C, M) -> (N, *out, C * M)."""
    xp = _xp(x)
    dt = x.dtype
    ct = compute_dtype(dt)
    x = x.astype(ct, copy=False)
    w = w.astype(ct, copy=False)
    ksize = w.shape[:-2]
    c, m = w.shape[-2], w.shape[-1]
    out_sp = out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    xpad = _pad(x, pads)
    y = xp.zeros((x.shape[0],) + out_sp + (c, m), ct)
    for k in _offsets(ksize):
        y += _view(xpad, k, out_sp, strides, dilations)[..., None] * w[k]
    return y.reshape(y.shape[:-2] + (c * m,)).astype(dt, copy=False)


def depthwise_backprop_input(dy, w, x_shape, strides, dilations, pads):
    xp = _xp(dy)
    dt = dy.dtype
    ct = compute_dtype(dt)
    ksize = w.shape[:-2]
    c, m = w.shape[-2], w.shape[-1]
    dy = dy.astype(ct, copy=False).reshape(dy.shape[:-1] + (c, m))
    w = w.astype(ct, copy=False)
    out_sp = dy.shape[1:-2]
    padded = (x_shape[0],) + tuple(n + a + b for n, (a, b) in zip(x_shape[1:-1], pads)) + (c,)
    dxp = xp.zeros(padded, ct)
    for k in _offsets(ksize):
        view = _view(dxp, k, out_sp, strides, dilations)
        view += (dy * w[k]).sum(axis=-1)
    return _unpad(dxp, pads, tuple(x_shape)).astype(dt, copy=False)


def depthwise_backprop_filter(x, dy, w_shape, strides, dilations, pads):
    xp = _xp(x)
    dt = x.dtype
    ct = compute_dtype(dt)
    ksize = tuple(w_shape[:-2])
    c, m = w_shape[-2], w_shape[-1]
    x = x.astype(ct, copy=False)
    dy = dy.astype(ct, copy=False).reshape(dy.shape[:-1] + (c, m))
    out_sp = dy.shape[1:-2]
    xpad = _pad(x, pads)
    dw = xp.zeros(ksize + (c, m), ct)
    for k in _offsets(ksize):
        v = _view(xpad, k, out_sp, strides, dilations).reshape(-1, c)
        dw[k] = (v[:, :, None] * dy.reshape(-1, c, m)).sum(axis=0)
    return dw.astype(dt, copy=False)


def relu_backprop(g, y):
    return g * (y > 0)


def bias_backprop(dz):
    ct = compute_dtype(dz.dtype)
    return dz.reshape(-1, dz.shape[-1]).astype(ct, copy=False).sum(axis=0).astype(
        dz.dtype, copy=False)


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def max_pool(x, ksize, strides, dilations, pads):
    xp = _xp(x)
    dt = x.dtype
    ct = compute_dtype(dt)
    x = x.astype(ct, copy=False)
    out_sp = out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    xpad = _pad(x, pads, _lowest(ct))
    out = None
    for k in _offsets(ksize):
        v = _view(xpad, k, out_sp, strides, dilations)
        out = v.copy() if out is None else xp.maximum(out, v)
    return out.astype(dt, copy=False)


def _first_max_masks(xpad, out, ksize, strides, dilations):
    """(offset, mask) pairs: mask marks the windows whose first maximum is at that offset."""
    out_sp = out.shape[1:-1]
    taken = None
    for k in _offsets(ksize):
        e = _view(xpad, k, out_sp, strides, dilations) == out
        if taken is None:
            taken = e
        else:
            e = e & ~taken
            taken = taken | e
        yield k, e


def max_pool_grad(x, out, g, ksize, strides, dilations, pads):
    xp = _xp(x)
    dt = x.dtype
    ct = compute_dtype(dt)
    x, out, g = (a.astype(ct, copy=False) for a in (x, out, g))
    xpad = _pad(x, pads, _lowest(ct))
    dxp = xp.zeros(xpad.shape, ct)
    for k, e in _first_max_masks(xpad, out, ksize, strides, dilations):
        view = _view(dxp, k, out.shape[1:-1], strides, dilations)
        view += g * e
    return _unpad(dxp, pads, x.shape).astype(dt, copy=False)


def max_pool_grad_grad(x, out, gg, ksize, strides, dilations, pads):
    xp = _xp(x)
    dt = x.dtype
    ct = compute_dtype(dt)
    x, out, gg = (a.astype(ct, copy=False) for a in (x, out, gg))
    xpad = _pad(x, pads, _lowest(ct))
    gpad = _pad(gg, pads)
    res = xp.zeros(out.shape, ct)
    for k, e in _first_max_masks(xpad, out, ksize, strides, dilations):
        res += _view(gpad, k, out.shape[1:-1], strides, dilations) * e
    return res.astype(dt, copy=False)


def _avg_counts(xp, in_sp, ksize, strides, dilations, pads, out_sp, dtype):
    """Real (unpadded) elements per window, (1, *out_sp, 1) on the device, or a number."""
    if not any(a or b for a, b in pads):
        return float(math.prod(ksize))
    counts = np.ones((), dtype)
    for n, k, s, d, (a, _), o in zip(in_sp, ksize, strides, dilations, pads, out_sp):
        pos = np.arange(o)[:, None] * s - a + np.arange(k)[None, :] * d
        counts = np.multiply.outer(counts, ((pos >= 0) & (pos < n)).sum(axis=1).astype(dtype))
    counts = counts.reshape((1,) + tuple(out_sp) + (1,))
    return counts if xp is np else _device_copy(xp, counts)


def _device_copy(xp, host):
    """A host table (built from static shapes) on the device of namespace xp."""
    from tenfold.backend import backends
    for b in backends():
        if b.xp is xp:
            return b.from_host(host)
    return xp.asarray(host)


def avg_pool(x, ksize, strides, dilations, pads):
    xp = _xp(x)
    dt = x.dtype
    ct = compute_dtype(dt)
    x = x.astype(ct, copy=False)
    out_sp = out_sizes(x.shape[1:-1], ksize, strides, dilations, pads)
    xpad = _pad(x, pads)
    out = None
    for k in _offsets(ksize):
        v = _view(xpad, k, out_sp, strides, dilations)
        out = v.copy() if out is None else out + v
    out = out / _avg_counts(xp, x.shape[1:-1], ksize, strides, dilations, pads, out_sp, ct)
    return out.astype(dt, copy=False)


def avg_pool_grad(g, x_shape, ksize, strides, dilations, pads):
    xp = _xp(g)
    dt = g.dtype
    ct = compute_dtype(dt)
    g = g.astype(ct, copy=False)
    out_sp = g.shape[1:-1]
    gs = g / _avg_counts(xp, x_shape[1:-1], ksize, strides, dilations, pads, out_sp, ct)
    padded = (g.shape[0],) + tuple(n + a + b for n, (a, b) in zip(x_shape[1:-1], pads)) + \
        (x_shape[-1],)
    dxp = xp.zeros(padded, ct)
    for k in _offsets(ksize):
        view = _view(dxp, k, out_sp, strides, dilations)
        view += gs
    return _unpad(dxp, pads, tuple(x_shape)).astype(dt, copy=False)


class XpKernels:
    """The kernel table of a device backend built on these functions (`backend.kernels`);
    a backend adds what needs its own library (scatter-add, fused optimizer updates)."""

    conv = staticmethod(conv)
    conv_bias_act = staticmethod(conv_bias_act)
    conv_backprop_input = staticmethod(conv_backprop_input)
    conv_backprop_filter = staticmethod(conv_backprop_filter)
    depthwise_conv = staticmethod(depthwise_conv)
    depthwise_backprop_input = staticmethod(depthwise_backprop_input)
    depthwise_backprop_filter = staticmethod(depthwise_backprop_filter)
    relu_backprop = staticmethod(relu_backprop)
    bias_backprop = staticmethod(bias_backprop)
    max_pool = staticmethod(max_pool)
    max_pool_grad = staticmethod(max_pool_grad)
    max_pool_grad_grad = staticmethod(max_pool_grad_grad)
    avg_pool = staticmethod(avg_pool)
    avg_pool_grad = staticmethod(avg_pool_grad)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"{type(self).__name__} has no kernel {name!r}: add it to "
            f"tenfold/backend/xp_kernels.py (namespace-generic) or to the backend's table")
