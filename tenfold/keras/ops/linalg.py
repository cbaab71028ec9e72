"""`keras.ops.linalg`: norms and matrix decompositions, on `tenfold.ops.linalg_ops`."""
import numpy as np

from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops import linalg_ops
from tenfold.keras.ops._dtypes import npd, shape_of, to_float

L = linalg_ops


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (axis int or None on a vector) and matrix norms (2 axes), as np.linalg."""
    x = to_float(x)
    nd = x.ndim
    if axis is None:
        if ord is None:
            return m.sqrt(m.reduce_sum(m.square(x), keepdims=keepdims))
        axis = tuple(range(nd))
        if nd > 2:
            raise ValueError(f"norm: ord={ord!r} needs axis when x has rank {nd}")
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, int):
        ax = axis
        ax_abs = m.abs(x)
        if ord is None or ord == 2:
            return m.sqrt(m.reduce_sum(m.square(x), axis=ax, keepdims=keepdims))
        if ord == np.inf or ord == "inf":
            return m.reduce_max(ax_abs, axis=ax, keepdims=keepdims)
        if ord == -np.inf:
            return m.reduce_min(ax_abs, axis=ax, keepdims=keepdims)
        if ord == 0:
            return m.reduce_sum(m.cast(m.not_equal(x, 0.0), npd(x)), axis=ax,
                                keepdims=keepdims)
        if ord == 1:
            return m.reduce_sum(ax_abs, axis=ax, keepdims=keepdims)
        if isinstance(ord, str):
            raise ValueError(f"Invalid `ord` argument for vector norm. Received: ord={ord}")
        p = float(ord)
        return m.pow(m.reduce_sum(m.pow(ax_abs, p), axis=ax, keepdims=keepdims), 1.0 / p)
    r, c = (int(axis[0]) % nd, int(axis[1]) % nd)
    if ord is None or ord == "fro":
        return m.sqrt(m.reduce_sum(m.square(x), axis=[r, c], keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        red, keep_ax = (r, c) if ord in (1, -1) else (c, r)
        s = m.reduce_sum(m.abs(x), axis=red, keepdims=True)
        f = m.reduce_max if ord in (1, np.inf) else m.reduce_min
        out = f(s, axis=keep_ax, keepdims=True)
        if not keepdims:
            from tenfold.ops import array_ops as a
            out = a.squeeze(out, axis=[r, c])
        return out
    if ord == "nuc" or ord in (2, -2):
        rest = [i for i in range(nd) if i not in (r, c)]
        sv = L.svd(a.transpose(x, rest + [r, c]), compute_uv=False)
        if ord == "nuc":
            out = m.reduce_sum(sv, axis=-1)
        else:
            out = (m.reduce_max if ord == 2 else m.reduce_min)(sv, axis=-1)
        if keepdims:
            out = a.expand_dims(a.expand_dims(out, min(r, c)), max(r, c))
        return out
    raise ValueError(f"Invalid `ord` argument for matrix norm. Received: ord={ord}")


def inv(x):
    return L.inv(to_float(x))


def det(x):
    return L.det(to_float(x))


def cholesky(x, upper=False):
    out = L.cholesky(to_float(x))
    if upper:
        out = L.adjoint(out)
    return out


def solve(a, b):
    return L.solve(to_float(a), to_float(b))


def solve_triangular(a, b, lower=False):
    return L.triangular_solve(to_float(a), to_float(b), lower=lower)


def qr(x, mode="reduced"):
    if mode not in ("reduced", "complete"):
        raise ValueError(f"`mode` argument value not supported. Expected one of {{'reduced', "
                         f"'complete'}}. Received: mode={mode}")
    return tuple(L.qr(to_float(x), full_matrices=(mode == "complete")))


def svd(x, full_matrices=True, compute_uv=True):
    """(u, s, vh) as NumPy orders them (TensorFlow's svd gives s, u, v)."""
    x = to_float(x)
    if not compute_uv:
        return L.svd(x, full_matrices=full_matrices, compute_uv=False)
    s, u, v = L.svd(x, full_matrices=full_matrices, compute_uv=True)
    return u, s, L.adjoint(v)


def eig(x):
    return tuple(L.eig(to_float(x)))


def eigh(x):
    return tuple(L.eigh(to_float(x)))


def lstsq(a, b, rcond=None):
    """The least-squares solution through the pseudo-inverse (SVD cut-off as NumPy's)."""
    a_, b_ = to_float(a), to_float(b)
    if rcond is None:
        rcond = np.finfo(npd(a_)).eps * max(shape_of(a_)[-2:])
    vec = b_.ndim == 1
    sol = m.matmul(L.pinv(a_, rcond=rcond), a.reshape(b_, (-1, 1)) if vec else b_)
    return a.reshape(sol, (-1,)) if vec else sol


def lu_factor(x):
    return L.lu_factor(to_float(x))
