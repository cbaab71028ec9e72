"""float64 reference convolutions (NHWC, filter (KH, KW, C, O), explicit pads), written as
plain per-tap products for the native-kernel tests to check against."""
import itertools

import numpy as np

from tenfold.backend import kernels as K


def _tap(a, ky, kx, out_sp, strides, dilations):
    """The (N, OH, OW, C) window of padded `a` that tap (ky, kx) reads."""
    (oh, ow), (sh, sw), (dh, dw) = out_sp, strides, dilations
    return a[:, ky * dh:ky * dh + (oh - 1) * sh + 1:sh, kx * dw:kx * dw + (ow - 1) * sw + 1:sw]


def ref_conv(x, w, strides, dilations, pads):
    """The forward cross-correlation."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    xp = np.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),))
    out_sp = K.out_sizes(x.shape[1:3], w.shape[:2], strides, dilations, pads)
    out = np.zeros((x.shape[0],) + tuple(out_sp) + (w.shape[3],))
    for ky, kx in itertools.product(range(w.shape[0]), range(w.shape[1])):
        out += _tap(xp, ky, kx, out_sp, strides, dilations) @ w[ky, kx]
    return out


def ref_filter_grad(x, dy, w_shape, strides, dilations, pads):
    """The gradient in the filter for output gradient dy."""
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    xp = np.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),))
    dwt = np.zeros(w_shape)
    for ky, kx in itertools.product(range(w_shape[0]), range(w_shape[1])):
        v = _tap(xp, ky, kx, dy.shape[1:3], strides, dilations)
        dwt[ky, kx] = np.einsum("nhwc,nhwo->co", v, dy)
    return dwt


def ref_input_grad(dy, w, x_shape, strides, dilations, pads):
    """The gradient in x: dy's every pixel scattered through the filter into a padded dx."""
    dy, w = dy.astype(np.float64), w.astype(np.float64)
    n, h, wd, c = x_shape
    (pt, pb), (pl, pr) = pads
    (sh, sw), (dh, dw) = strides, dilations
    dxp = np.zeros((n, h + pt + pb + (w.shape[0] - 1) * dh + sh,
                    wd + pl + pr + (w.shape[1] - 1) * dw + sw, c))
    for ky, kx in itertools.product(range(w.shape[0]), range(w.shape[1])):
        _tap(dxp, ky, kx, dy.shape[1:3], strides, dilations)[...] += dy @ w[ky, kx].T
    return dxp[:, pt:pt + h, pl:pl + wd]
