"""Ops composed from primitives: tensordot, einsum, norms."""
import numpy as np

from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops._convert import tensor, binary
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a


def tensordot(a_, b, axes, name=None):
    """Contracts `axes` of a with axes of b (an int N: last N of a with first N of b)."""
    x, y = binary(a_, b, "tensordot")
    xs, ys = list(x._value.shape), list(y._value.shape)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        ax_a, ax_b = list(range(len(xs) - n, len(xs))), list(range(n))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    ax_a = [i % len(xs) for i in ax_a]
    ax_b = [i % len(ys) for i in ax_b]
    if [xs[i] for i in ax_a] != [ys[i] for i in ax_b]:
        raise InvalidArgumentError(f"tensordot: contracted axes of a {xs} (axes {ax_a}) and b "
                                   f"{ys} (axes {ax_b}) have different sizes")
    free_a = [i for i in range(len(xs)) if i not in ax_a]
    free_b = [i for i in range(len(ys)) if i not in ax_b]
    k = int(np.prod([xs[i] for i in ax_a])) if ax_a else 1
    xa = a.reshape(a.transpose(x, free_a + ax_a), (-1, k))
    yb = a.reshape(a.transpose(y, ax_b + free_b), (k, -1))
    out = m.matmul(xa, yb)
    return a.reshape(out, [xs[i] for i in free_a] + [ys[i] for i in free_b])


def einsum(equation, *inputs, **kwargs):
    """Einstein summation, built from transposes, reshapes, matmul and reduce_sum."""
    eq = equation.replace(" ", "")
    ins = [tensor(t) for t in inputs]
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs = eq
        letters = "".join(c for c in lhs if c.isalpha())
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    terms = lhs.split(",")
    if len(terms) != len(ins):
        raise ValueError(f"einsum: equation {equation!r} names {len(terms)} inputs but "
                         f"{len(ins)} were given")
    if "." in eq:
        raise NotImplementedError("einsum: ellipsis ('...') is not supported yet; "
                                  "write the axes out")
    for t, x in zip(terms, ins):
        if len(t) != x._value.ndim:
            raise InvalidArgumentError(f"einsum: term {t!r} has {len(t)} indices but the input "
                                       f"has shape {list(x._value.shape)}")
    # reduce duplicate indices inside a term (diagonals) and indices appearing nowhere else
    cur, cur_t = ins[0], terms[0]
    cur, cur_t = _reduce_own(cur, cur_t, terms[1:], out)
    for t, x in zip(terms[1:], ins[1:]):
        x, t = _reduce_own(x, t, [cur_t], out)
        cur, cur_t = _pair(cur, cur_t, x, t, out, [])
    # final: sum remaining indices not in out, transpose to out order
    extra = [i for i, c in enumerate(cur_t) if c not in out]
    if extra:
        cur = m.reduce_sum(cur, axis=extra)
        cur_t = "".join(c for c in cur_t if c in out)
    if cur_t != out:
        cur = a.transpose(cur, [cur_t.index(c) for c in out])
    return cur


def _reduce_own(x, t, others, out):
    if len(set(t)) != len(t):
        raise NotImplementedError("einsum: repeated indices within one input (diagonals) are "
                                  "not supported yet")
    keep = set(out).union(*[set(o) for o in others]) if others else set(out)
    drop = [i for i, c in enumerate(t) if c not in keep]
    if drop:
        x = m.reduce_sum(x, axis=drop)
        t = "".join(c for c in t if c in keep)
    return x, t


def _pair(x, tx, y, ty, out, rest):
    """Contracts two operands: batch = in both and out; contract = in both, not in out."""
    batch = [c for c in tx if c in ty and c in out]
    contract = [c for c in tx if c in ty and c not in out]
    fx = [c for c in tx if c not in ty]
    fy = [c for c in ty if c not in tx]
    sx = dict(zip(tx, x._value.shape))
    sy = dict(zip(ty, y._value.shape))
    for c in batch + contract:
        if sx[c] != sy[c] and sx[c] != 1 and sy[c] != 1:
            raise InvalidArgumentError(f"einsum: index {c!r} has size {sx[c]} in one input and "
                                       f"{sy[c]} in another")
    xp = a.transpose(x, [tx.index(c) for c in batch + fx + contract])
    yp = a.transpose(y, [ty.index(c) for c in batch + contract + fy])
    B = [sx[c] for c in batch]
    nx = int(np.prod([sx[c] for c in fx])) if fx else 1
    ny = int(np.prod([sy[c] for c in fy])) if fy else 1
    k = int(np.prod([sx[c] for c in contract])) if contract else 1
    xr = a.reshape(xp, B + [nx, k])
    yr = a.reshape(yp, B + [k, ny])
    r = m.matmul(xr, yr)
    r = a.reshape(r, B + [sx[c] for c in fx] + [sy[c] for c in fy])
    return r, "".join(batch + fx + fy)


def norm(tensor_, ord="euclidean", axis=None, keepdims=None, name=None):
    """Vector or matrix norm (`tf.norm`): euclidean/2, 1, inf, 'fro' over `axis`."""
    x = tensor(tensor_)
    kd = bool(keepdims)
    if ord in ("euclidean", 2, 2.0) and (axis is None or isinstance(axis, int) or
                                         (ord == "euclidean")):
        return m.sqrt(m.reduce_sum(m.square(m.abs(x) if x.dtype.is_complex else x),
                                   axis=axis, keepdims=kd))
    if ord == "fro":
        return m.sqrt(m.reduce_sum(m.square(x), axis=axis if axis is not None else [-2, -1],
                                   keepdims=kd))
    if ord in (1, 1.0):
        if axis is None or isinstance(axis, int):
            return m.reduce_sum(m.abs(x), axis=axis, keepdims=kd)
        r, c = axis
        return m.reduce_max(m.reduce_sum(m.abs(x), axis=r, keepdims=True), axis=[r, c],
                            keepdims=kd)
    if ord in (np.inf, "inf"):
        if axis is None or isinstance(axis, int):
            return m.reduce_max(m.abs(x), axis=axis, keepdims=kd)
        r, c = axis
        return m.reduce_max(m.reduce_sum(m.abs(x), axis=c, keepdims=True), axis=[r, c],
                            keepdims=kd)
    if isinstance(ord, (int, float)) and ord > 0 and (axis is None or isinstance(axis, int)):
        return m.pow(m.reduce_sum(m.pow(m.abs(x), float(ord)), axis=axis, keepdims=kd),
                     1.0 / ord)
    raise ValueError(f"norm: ord={ord!r} with axis={axis!r} is not supported; use 'euclidean', "
                     f"'fro', 1, 2, np.inf or a positive p for vector norms")
