"""`keras.ops.linalg`: norms and matrix decompositions (delegating to `tenfold.ops.linalg_ops`
where it has them; NumPy otherwise, without gradients)."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as m
from tenfold.keras.ops._dtypes import tensor, to_float

_wrap = Tensor._wrap


class _NoLinalg:
    pass


def _linalg():
    try:
        from tenfold.ops import linalg_ops
        return linalg_ops
    except ImportError:  # an older core without linalg_ops: NumPy fallbacks below
        return _NoLinalg


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (axis int or None on a vector) and matrix norms (2 axes), as np.linalg."""
    x = to_float(x)
    nd = x._value.ndim
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
            return m.reduce_sum(m.cast(m.not_equal(x, 0.0), x._value.dtype), axis=ax,
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
    v = x._value
    if ord == "nuc" or ord in (2, -2):
        moved = np.moveaxis(v, (r, c), (-2, -1))
        s = np.linalg.svd(moved, compute_uv=False)
        out = s.sum(-1) if ord == "nuc" else (s.max(-1) if ord == 2 else s.min(-1))
        if keepdims:
            out = np.expand_dims(np.expand_dims(out, min(r, c)), max(r, c))
        return _wrap(np.asarray(out, v.dtype))
    raise ValueError(f"Invalid `ord` argument for matrix norm. Received: ord={ord}")


def _np1(fn, x, *args, **kw):
    x = to_float(x)
    return _wrap(np.asarray(fn(x._value, *args, **kw)).astype(x._value.dtype))


def inv(x):
    L = _linalg()
    return L.inv(to_float(x)) if hasattr(L, "inv") else _np1(np.linalg.inv, x)


def det(x):
    L = _linalg()
    return L.det(to_float(x)) if hasattr(L, "det") else _np1(np.linalg.det, x)


def cholesky(x, upper=False):
    L = _linalg()
    out = L.cholesky(to_float(x)) if hasattr(L, "cholesky") else _np1(np.linalg.cholesky, x)
    if upper:
        from tenfold.keras.ops.numpy import swapaxes
        out = swapaxes(out, -1, -2)
    return out


def solve(a, b):
    L = _linalg()
    a_, b_ = to_float(a), to_float(b)
    return L.solve(a_, b_) if hasattr(L, "solve") else \
        _wrap(np.linalg.solve(a_._value, b_._value))


def solve_triangular(a, b, lower=False):
    L = _linalg()
    a_, b_ = to_float(a), to_float(b)
    if hasattr(L, "triangular_solve"):
        return L.triangular_solve(a_, b_, lower=lower)
    import scipy.linalg as sl
    return _wrap(sl.solve_triangular(a_._value, b_._value, lower=lower).astype(a_._value.dtype))


def qr(x, mode="reduced"):
    if mode not in ("reduced", "complete"):
        raise ValueError(f"`mode` argument value not supported. Expected one of {{'reduced', "
                         f"'complete'}}. Received: mode={mode}")
    L = _linalg()
    x = to_float(x)
    if hasattr(L, "qr"):
        return tuple(L.qr(x, full_matrices=(mode == "complete")))
    q, r = np.linalg.qr(x._value, mode=mode)
    return _wrap(q), _wrap(r)


def svd(x, full_matrices=True, compute_uv=True):
    x = to_float(x)
    if not compute_uv:
        return _wrap(np.linalg.svd(x._value, full_matrices=full_matrices,
                                   compute_uv=False).astype(x._value.dtype))
    u, s, vh = np.linalg.svd(x._value, full_matrices=full_matrices)
    dt = x._value.dtype
    return _wrap(u.astype(dt)), _wrap(s.astype(dt)), _wrap(vh.astype(dt))


def eig(x):
    x = to_float(x)
    w, v = np.linalg.eig(x._value)
    return _wrap(w), _wrap(v)


def eigh(x):
    x = to_float(x)
    w, v = np.linalg.eigh(x._value)
    return _wrap(w.astype(x._value.dtype)), _wrap(v.astype(x._value.dtype))


def lstsq(a, b, rcond=None):
    a_, b_ = to_float(a), to_float(b)
    sol = np.linalg.lstsq(a_._value, b_._value, rcond=rcond)[0]
    return _wrap(sol.astype(a_._value.dtype))


def lu_factor(x):
    try:
        import scipy.linalg as sl
    except ImportError:  # pragma: no cover
        raise ImportError("keras.ops.lu_factor needs scipy") from None
    x = to_float(x)
    lu, piv = sl.lu_factor(x._value)
    return _wrap(lu), _wrap(piv.astype(np.int32))


_ = tensor
