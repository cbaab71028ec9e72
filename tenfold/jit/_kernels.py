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
