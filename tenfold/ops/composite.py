"""Ops composed from primitives: tensordot, einsum, norms."""
import numpy as np

from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops._convert import tensor, binary
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops import _checks


def tensordot(a_, b, axes, name=None):
    """Contracts `axes` of a with axes of b (an int N: last N of a with first N of b)."""
    x, y = binary(a_, b, "tensordot")
    xs, ys = list(x._value.shape), list(y._value.shape)
    if hasattr(axes, "numpy"):
        axes = axes.numpy().tolist()
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if not 0 <= n <= min(len(xs), len(ys)):
            raise InvalidArgumentError(f"tensordot: axes={n} must be in [0, "
                                       f"{min(len(xs), len(ys))}] for shapes {xs} and {ys}")
        ax_a, ax_b = list(range(len(xs) - n, len(xs))), list(range(n))
    else:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"tensordot: axes must be an int or a pair of axis "
                                       f"lists [axes_a, axes_b], got {axes!r}") from None
        ax_a = _checks.int_list(ax_a, "tensordot", "axes[0]")
        ax_b = _checks.int_list(ax_b, "tensordot", "axes[1]")
        if len(ax_a) != len(ax_b):
            raise InvalidArgumentError(f"tensordot: axes[0] {list(ax_a)} and axes[1] "
                                       f"{list(ax_b)} must have the same length")
    if (ax_a and not xs) or (ax_b and not ys):
        raise InvalidArgumentError(f"tensordot: axes {list(ax_a)} / {list(ax_b)} are out of "
                                   f"range for a of shape {list(xs)} and b of shape {list(ys)}")
    ax_a = [_checks.axis(i, len(xs), "tensordot", "axes[0]") for i in ax_a]
    ax_b = [_checks.axis(i, len(ys), "tensordot", "axes[1]") for i in ax_b]
    if len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b):
        raise InvalidArgumentError(f"tensordot: axes {ax_a} / {ax_b} repeat an axis")
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
    """Einstein summation (ellipsis and repeated indices included), built from transposes,
    reshapes, matmul and reduce_sum, so it is fast and differentiable."""
    kwargs.pop("name", None)
    kwargs.pop("optimize", None)
    if kwargs:
        raise TypeError(f"einsum: unexpected arguments {sorted(kwargs)}")
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string such as 'ij,jk->ik', got "
                        f"{type(equation).__name__}")
    eq = equation.replace(" ", "")
    ins = [tensor(t) for t in inputs]
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    terms = lhs.split(",")
    if len(terms) != len(ins):
        raise ValueError(f"einsum: equation {equation!r} names {len(terms)} inputs but "
                         f"{len(ins)} were given")
    terms, out = _expand_ellipsis(terms, out, ins, equation)
    for t, x in zip(terms, ins):
        if len(t) != x._value.ndim:
            raise InvalidArgumentError(f"einsum: term {t!r} of {equation!r} has {len(t)} "
                                       f"indices but the input has shape {list(x._value.shape)}")
    for c in out:
        if not any(c in t for t in terms):
            raise InvalidArgumentError(f"einsum: output index {c!r} of {equation!r} appears in "
                                       f"no input")
    ins = [_diagonals(x, t) for x, t in zip(ins, terms)]
    terms = [t for _, t in ins]
    ins = [x for x, _ in ins]
    cur, cur_t = _reduce_own(ins[0], terms[0], terms[1:], out)
    for i in range(1, len(ins)):
        x, t = _reduce_own(ins[i], terms[i], [cur_t] + terms[i + 1:], out)
        cur, cur_t = _pair(cur, cur_t, x, t, out + "".join(terms[i + 1:]))
    extra = [i for i, c in enumerate(cur_t) if c not in out]
    if extra:
        cur = m.reduce_sum(cur, axis=extra)
        cur_t = "".join(c for c in cur_t if c in out)
    if cur_t != out:
        cur = a.transpose(cur, [cur_t.index(c) for c in out])
    return cur


def _expand_ellipsis(terms, out, ins, equation):
    used = set("".join(terms) + (out or ""))
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    n_ell = 0
    for t, x in zip(terms, ins):
        if "..." in t:
            n_ell = max(n_ell, x._value.ndim - (len(t) - 3))
    ell = "".join(free[:n_ell])
    new_terms = []
    for t, x in zip(terms, ins):
        if "..." in t:
            k = x._value.ndim - (len(t) - 3)
            if k < 0:
                raise InvalidArgumentError(f"einsum: term {t!r} of {equation!r} has more "
                                           f"indices than the input's rank {x._value.ndim}")
            t = t.replace("...", ell[n_ell - k:] if k else "")
        new_terms.append(t)
    if out is None:
        letters = "".join(new_terms)
        single = sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        out = ell + "".join(single)
    else:
        out = out.replace("...", ell)
    return new_terms, out


def _diagonals(x, t):
    """Takes diagonals for indices repeated within one term ('ii->i')."""
    while len(set(t)) != len(t):
        c = next(ch for ch in t if t.count(ch) > 1)
        p = t.index(c)
        q = t.index(c, p + 1)
        n = x._value.shape[p]
        if x._value.shape[q] != n:
            raise InvalidArgumentError(f"einsum: repeated index {c!r} has sizes {n} and "
                                       f"{x._value.shape[q]}")
        rest = [i for i in range(len(t)) if i not in (p, q)]
        xt = a.transpose(x, rest + [p, q])
        eye = a.eye(n, dtype=x.dtype)
        x = m.reduce_sum(m.multiply(xt, eye), axis=-1)
        t = "".join(t[i] for i in rest) + c
    return x, t


def _reduce_own(x, t, others, out):
    keep = set(out).union(*[set(o) for o in others]) if others else set(out)
    drop = [i for i, c in enumerate(t) if c not in keep]
    if drop:
        x = m.reduce_sum(x, axis=drop)
        t = "".join(c for c in t if c in keep)
    return x, t


def _pair(x, tx, y, ty, keep):
    """Contracts two operands: batch = in both and kept; contract = in both, not kept."""
    batch = [c for c in tx if c in ty and c in keep]
    contract = [c for c in tx if c in ty and c not in keep]
    fx = [c for c in tx if c not in ty]
    fy = [c for c in ty if c not in tx]
    sx = dict(zip(tx, x._value.shape))
    sy = dict(zip(ty, y._value.shape))
    for c in batch + contract:
        if sx[c] != sy[c] and sx[c] != 1 and sy[c] != 1:
            raise InvalidArgumentError(f"einsum: index {c!r} has size {sx[c]} in one input and "
                                       f"{sy[c]} in another")
    for c in contract:
        if sx[c] != sy[c]:  # a broadcast contraction: sum the size-1 side's partner first
            if sx[c] == 1:
                x = m.reduce_sum(x, axis=[tx.index(c)], keepdims=True)
                y = m.reduce_sum(y, axis=[ty.index(c)], keepdims=True)
                sy[c] = 1
            else:
                x = m.reduce_sum(x, axis=[tx.index(c)], keepdims=True)
                sx[c] = 1
                y = m.reduce_sum(y, axis=[ty.index(c)], keepdims=True)
    xp = a.transpose(x, [tx.index(c) for c in batch + fx + contract])
    yp = a.transpose(y, [ty.index(c) for c in batch + contract + fy])
    nx = int(np.prod([sx[c] for c in fx])) if fx else 1
    ny = int(np.prod([sy[c] for c in fy])) if fy else 1
    k = int(np.prod([sx[c] for c in contract])) if contract else 1
    xr = a.reshape(xp, [sx[c] for c in batch] + [nx, k])
    yr = a.reshape(yp, [sy[c] for c in batch] + [k, ny])
    r = m.matmul(xr, yr)
    bshape = list(r._value.shape[:-2])
    r = a.reshape(r, bshape + [sx[c] for c in fx] + [sy[c] for c in fy])
    return r, "".join(batch + fx + fy)


def norm(tensor_, ord="euclidean", axis=None, keepdims=None, name=None):
    """Vector or matrix norm (`tf.norm`): euclidean/2, 1, inf, 'fro' over `axis`."""
    x = tensor(tensor_)
    kd = _checks.boolean(keepdims, "norm", "keepdims")
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    is_matrix = isinstance(axis, (list, tuple))
    if is_matrix:
        if len(axis) != 2 or axis[0] % max(x.ndim, 1) == axis[1] % max(x.ndim, 1):
            raise ValueError(f"norm: axis must be None, an int, or a pair of distinct ints, got "
                             f"{axis!r}")
        axis = [int(v) for v in axis]
    if ord in (2, 2.0) and is_matrix:  # spectral norm: the largest singular value
        from tenfold.ops.linalg_ops import svd
        r, c = [v % x.ndim for v in axis]
        perm = [i for i in range(x.ndim) if i not in (r, c)] + [r, c]
        s = m.reduce_max(svd(a.transpose(x, perm), compute_uv=False), axis=-1)
        if kd:
            for ax in sorted((r, c)):
                s = a.expand_dims(s, ax)
        return s
    if ord in ("euclidean", 2, 2.0) and (not is_matrix or ord == "euclidean"):
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
