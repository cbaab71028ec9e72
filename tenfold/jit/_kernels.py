"""Numba kernels (one thread: parallel loops lose badly on a busy machine): the built-in optimizers' in-place updates in one pass (imported lazily).

Every expression keeps the dtype of the arrays (the scalars are passed in that dtype) and the
operation order of the NumPy code in `tenfold/keras/optimizers/optimizers.py`; Numba does not
contract a * b + c into a fused multiply-add unless fast-math is on, and it is off here.
"""
import numpy as np
from numba import njit

_OPTS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_OPTS)
def rmsprop_seq(w, v, g, lr, rho, one_m_rho, eps):
    for i in range(w.size):
        vi = v[i] * rho
        t1 = g[i] * g[i]
        t1 = t1 * one_m_rho
        vi = vi + t1
        v[i] = vi
        t1 = np.sqrt(vi + eps)
        t2 = g[i] * lr
        t2 = t2 / t1
        w[i] = w[i] - t2


@njit(**_OPTS)
def adam_seq(w, m, v, g, alpha, c1, c2, eps):
    for i in range(w.size):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * c1
        m[i] = mi
        t1 = gi * gi
        t1 = t1 - v[i]
        t1 = t1 * c2
        vi = v[i] + t1
        v[i] = vi
        t1 = np.sqrt(vi) + eps
        t2 = mi * alpha
        w[i] = w[i] - t2 / t1


@njit(**_OPTS)
def sgd_momentum_seq(w, m, g, lr, mom, nesterov):
    for i in range(w.size):
        t1 = g[i] * lr
        mi = m[i] * mom
        mi = mi - t1
        m[i] = mi
        if nesterov:
            w[i] = w[i] + (mi * mom - t1)
        else:
            w[i] = w[i] + mi


# --- elementwise kernels for graphs compiled with jit_compile (tenfold/graph/executor.py) ---

@njit(**_OPTS)
def bias_relu(x, b, out, zero):
    """out = maximum(x + b, 0) over the rows of 2-D views (b broadcast over the last axis);
    the select keeps NumPy's maximum for NaN (NaN) and signed zeros."""
    rows, cols = x.shape
    for i in range(rows):
        for j in range(cols):
            v = x[i, j] + b[j]
            out[i, j] = v if (v >= zero or v != v) else zero


@njit(**_OPTS)
def relu_grad(g, y, out, zero, one):
    """out = g * (y > 0) on flat arrays, multiplying by 0.0 too (so -0.0 and NaN as NumPy)."""
    for i in range(g.size):
        out[i] = g[i] * (one if y[i] > zero else zero)


@njit(**_OPTS)
def column_sum(x, out):
    """out[j] = sum_i x[i, j], adding rows in order: what NumPy's sum over the leading axes
    of a C-contiguous array with a last axis of 8 or more does (checked by the tests)."""
    rows, cols = x.shape
    for j in range(cols):
        out[j] = 0
    for i in range(rows):
        for j in range(cols):
            out[j] += x[i, j]


# --- convolution-block kernels for graphs compiled with jit_compile (backend/kernels.py) ---

@njit(**_OPTS)
def _nan_max(a, b):
    return a if (a > b or a != a) else b   # np.maximum: NaN wins, ties give b


@njit(**_OPTS)
def pool_2x2_argmax(x, out, idx, relu, zero):
    """2x2 stride-2 max pooling of x (N, H, W, C) into out, with each window's first maximum
    in row-major order in idx (0..3), in one pass: the same decisions, in the same order, as
    kernels._pool_2x2_argmax_into (NaN propagates as in np.maximum). With relu, windows whose
    maximum is not > 0 get idx + 4 (kernels.mask_argmax_by_relu) and out = max(out, 0)."""
    m, ho, wo, c = out.shape
    for n in range(m):
        for i in range(ho):
            for j in range(wo):
                for ch in range(c):
                    a = x[n, 2 * i, 2 * j, ch]
                    b = x[n, 2 * i, 2 * j + 1, ch]
                    cc = x[n, 2 * i + 1, 2 * j, ch]
                    d = x[n, 2 * i + 1, 2 * j + 1, ch]
                    rt = b > a
                    rb = d > cc
                    top = _nan_max(a, b)
                    bottom = _nan_max(cc, d)
                    bt = bottom > top
                    v = _nan_max(top, bottom)
                    q = (2 + (1 if rb else 0)) if bt else (1 if rt else 0)
                    if relu and not v > zero:
                        q += 4
                        if v == v:
                            v = zero
                    out[n, i, j, ch] = v
                    idx[n, i, j, ch] = q


@njit(**_OPTS)
def col2im_add(h, dx, kh, kw):
    """dx[n, i + ki, j + kj, :] += h[n, i, j, (ki * kw + kj) * C : ... + C] for a stride-1,
    undilated convolution: the input gradient's scatter from (rows, K*C) columns, one pass."""
    m, ho, wo, _ = h.shape
    c = dx.shape[3]
    for n in range(m):
        for i in range(ho):
            for j in range(wo):
                for ki in range(kh):
                    for kj in range(kw):
                        base = (ki * kw + kj) * c
                        for ch in range(c):
                            dx[n, i + ki, j + kj, ch] += h[n, i, j, base + ch]


@njit(**_OPTS)
def split_by_argmax(t, idx, g, zero):
    """g[q, r, c] = t[r, c] where idx[r, c] == q, else 0, for q in 0..3 (offsets >= 4, the
    windows a ReLU zeroes, go nowhere): kernels.conv_backprop_filter_pooled's four masked
    copies of the pooled gradient in one pass."""
    rows, c = t.shape
    for r in range(rows):
        for j in range(c):
            q = idx[r, j]
            v = t[r, j]
            for k in range(4):
                g[k, r, j] = v if q == k else zero
