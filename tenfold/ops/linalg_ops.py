"""Linear algebra (`tf.linalg`): decompositions and solvers as primitives with gradients,
everything else (diagonals, bands, traces, least squares, ...) composed.

Decompositions with several outputs (eigh, svd) are one primitive returning the outputs
packed into one array, unpacked with slicing, so the tape and the tracer see one op.
"""
import builtins

import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import NOT_DIFFERENTIABLE, primitive
from tenfold.ops import _checks
from tenfold.ops._convert import tensor, binary
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a

_wrap = Tensor._wrap


def _square_check(x, op, at_least=2):
    x = tensor(x)
    s = x._value.shape
    if x._value.ndim < at_least or s[-1] != s[-2]:
        raise InvalidArgumentError(f"{op} expects square matrices of shape [..., N, N], got "
                                   f"shape {list(s)}")
    if x._value.dtype.kind not in "fc":
        raise TypeError(f"{op} expects a float or complex tensor, got {x.dtype.name}")
    return x


def _mt(x):
    """The transpose of the last two axes (the adjoint for complex inputs)."""
    nd = x._value.ndim
    t = a._transpose(x, perm=tuple(range(nd - 2)) + (nd - 1, nd - 2))
    return m.conj(t)


def _mm(x, y, ta=False, tb=False):
    return m._matmul(x, y, transpose_a=ta, transpose_b=tb)


def _expand2(t):
    return a._reshape(t, shape=t._value.shape + (1, 1))


def _linalg_kernel(fn, what):
    def kernel(*xs, **kw):
        try:
            return fn(*xs, **kw)
        except np.linalg.LinAlgError as e:
            raise InvalidArgumentError(f"{what}: {e}") from None
    return kernel


# --- inverse, determinant ---------------------------------------------------------------

_inv = primitive(
    "matrix_inverse", _linalg_kernel(np.linalg.inv, "matrix_inverse: input is not invertible"),
    grads=(lambda g, o, x: m._neg(_mm(_mm(o, g, ta=True), o, tb=True)),))


def inv(input, adjoint=False, name=None):
    """The inverse of each square matrix (InvalidArgumentError if one is singular)."""
    x = _square_check(input, "linalg.inv")
    if adjoint:
        x = _mt(x)
    return _inv(x)


def _det_grad(g, out, x):
    return m._mul(_expand2(m._mul(g, out)), _mt(_inv(x)))


_det = primitive("matrix_determinant", np.linalg.det, grads=(_det_grad,))


def det(input, name=None):
    return _det(_square_check(input, "linalg.det"))


_slogdet_sign = primitive("log_matrix_determinant_sign", lambda x: np.linalg.slogdet(x)[0], no_grad="gradient not implemented yet (TensorFlow has one)")
_log_abs_det = primitive(
    "log_matrix_determinant", lambda x: np.linalg.slogdet(x)[1].astype(x.real.dtype),
    grads=(lambda g, o, x: m._mul(_expand2(g), _mt(_inv(x))),))


def slogdet(input, name=None):
    """(sign, log|det|) of each square matrix."""
    x = _square_check(input, "linalg.slogdet")
    return _slogdet_sign(x), _log_abs_det(x)


def logdet(matrix, name=None):
    """log(det(matrix)) for Hermitian positive-definite matrices (via Cholesky)."""
    ch = cholesky(matrix)
    return m.multiply(2.0, m.reduce_sum(m.log(m.real(diag_part(ch))), axis=-1))


# --- Cholesky, triangular and general solves ----------------------------------------------

def _cholesky_grad(g, L, x):
    n = L._value.shape[-1]
    eye = _wrap(np.eye(n, dtype=L._value.dtype))
    l_inv = _tri_solve(L, a._broadcast_to(eye, shape=L._value.shape), lower=True, adjoint=False)
    middle = _mm(L, g, ta=True)
    middle = m._sub(middle, m._mul(m._scalar(0.5, middle), m._mul(middle, eye)))
    middle = band_part(middle, -1, 0)
    grad_a = _mm(_mm(l_inv, middle, ta=True), l_inv)
    grad_a = m._add(grad_a, _mt(grad_a))
    return m._mul(grad_a, m._scalar(0.5, grad_a))


_cholesky = primitive(
    "cholesky", _linalg_kernel(np.linalg.cholesky, "Cholesky decomposition was not successful. "
                               "The input might not be valid (symmetric positive-definite)"),
    grads=(_cholesky_grad,))


def cholesky(input, name=None):
    """The lower-triangular L with L @ L^H = input (input Hermitian positive-definite)."""
    return _cholesky(_square_check(input, "linalg.cholesky"))


def _tri_kernel(mat, rhs, lower, adjoint):
    t = np.tril(mat) if lower else np.triu(mat)
    if adjoint:
        t = np.conj(np.swapaxes(t, -1, -2))
    try:
        return np.linalg.solve(t, rhs)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("triangular_solve: the matrix is singular (a zero on its "
                                   "diagonal)") from None


def _tri_grad_mat(g, c, mat, rhs, lower, adjoint):
    grad_b = _tri_solve(mat, g, lower=lower, adjoint=not adjoint)
    grad_a = m._neg(_mm(c, grad_b, tb=True)) if adjoint else m._neg(_mm(grad_b, c, tb=True))
    return band_part(grad_a, -1, 0) if lower else band_part(grad_a, 0, -1)


def _tri_grad_rhs(g, c, mat, rhs, lower, adjoint):
    return _tri_solve(mat, g, lower=lower, adjoint=not adjoint)


_tri_solve = primitive("matrix_triangular_solve", _tri_kernel,
                       grads=(_tri_grad_mat, _tri_grad_rhs))


def _solve_args(matrix, rhs, op):
    mat, r = binary(matrix, rhs, op)
    _square_check(mat, op)
    if r._value.ndim < 2 or r._value.shape[-2] != mat._value.shape[-1]:
        raise InvalidArgumentError(f"{op}: rhs must have shape [..., {mat._value.shape[-1]}, K] "
                                   f"for a matrix of shape {list(mat._value.shape)}, got "
                                   f"{list(r._value.shape)}")
    return mat, r


def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    """Solves matrix @ x = rhs for triangular matrix (only its lower/upper part is read)."""
    mat, r = _solve_args(matrix, rhs, "linalg.triangular_solve")
    return _tri_solve(mat, r, lower=bool(lower), adjoint=bool(adjoint))


def _solve_kernel(mat, rhs, adjoint):
    if adjoint:
        mat = np.conj(np.swapaxes(mat, -1, -2))
    try:
        return np.linalg.solve(mat, rhs)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("linalg.solve: input matrix is not invertible.") from None


def _solve_grad_mat(g, c, mat, rhs, adjoint):
    grad_b = _solve(mat, g, adjoint=not adjoint)
    return m._neg(_mm(c, grad_b, tb=True)) if adjoint else m._neg(_mm(grad_b, c, tb=True))


_solve = primitive("matrix_solve", _solve_kernel,
                   grads=(_solve_grad_mat,
                          lambda g, c, mat, rhs, adjoint: _solve(mat, g, adjoint=not adjoint)))


def solve(matrix, rhs, adjoint=False, name=None):
    """Solves matrix @ x = rhs (rhs is [..., N, K])."""
    mat, r = _solve_args(matrix, rhs, "linalg.solve")
    return _solve(mat, r, adjoint=bool(adjoint))


def cholesky_solve(chol, rhs, name=None):
    """Solves A x = rhs given chol = cholesky(A)."""
    y = triangular_solve(chol, rhs, lower=True, adjoint=False)
    return triangular_solve(chol, y, lower=True, adjoint=True)


def lstsq(matrix, rhs, l2_regularizer=0.0, fast=True, name=None):
    """Least-squares solutions of matrix @ x = rhs (regularized normal equations)."""
    mat, r = binary(matrix, rhs, "linalg.lstsq")
    mm_, nn_ = _checks.matrices(mat, "linalg.lstsq", "matrix", float_only=True)
    _checks.matrices(r, "linalg.lstsq", "rhs")
    reg = float(l2_regularizer)
    if mm_ >= nn_:
        gram = m.matmul(mat, mat, adjoint_a=True)
        if reg:
            gram = m.add(gram, m.multiply(reg, a.eye(nn_, dtype=mat.dtype)))
        return solve(gram, m.matmul(mat, r, adjoint_a=True))
    gram = m.matmul(mat, mat, adjoint_b=True)
    if reg:
        gram = m.add(gram, m.multiply(reg, a.eye(mm_, dtype=mat.dtype)))
    return m.matmul(mat, solve(gram, r), adjoint_a=True)


# --- eigen and singular value decompositions ---------------------------------------------

def _eigh_kernel(x):
    e, v = np.linalg.eigh(x)
    e = e.astype(v.dtype)
    return np.concatenate([e[..., None, :], v], axis=-2)


def _eigh_grad(g, packed, x):
    ge = a._strided_slice(g, key=(Ellipsis, 0, builtins.slice(None)))
    gv = a._strided_slice(g, key=(Ellipsis, builtins.slice(1, None), builtins.slice(None)))
    e = a._strided_slice(packed, key=(Ellipsis, 0, builtins.slice(None)))
    v = a._strided_slice(packed, key=(Ellipsis, builtins.slice(1, None), builtins.slice(None)))
    n = e._value.shape[-1]
    eye = _wrap(np.eye(n, dtype=x._value.dtype))
    diff = m._sub(a.expand_dims(e, -2), a.expand_dims(e, -1))
    safe = m._select(m._equal(diff, m._zeros_like(diff)), m._ones_like(diff), diff)
    f = m._mul(m._reciprocal(safe), m._sub(m._ones_like(diff), eye))
    inner = m._add(m._mul(a.expand_dims(ge, -2), eye), m._mul(f, _mm(v, gv, ta=True)))
    grad_a = _mm(v, _mm(inner, v, tb=True))
    # numpy's eigh reads the lower triangle: fold the gradient onto it
    grad_a = band_part(m._add(grad_a, _mt(grad_a)), -1, 0)
    return m._sub(grad_a, m._mul(m._scalar(0.5, grad_a), m._mul(grad_a, eye)))


_eigh = primitive("self_adjoint_eig", _linalg_kernel(_eigh_kernel, "linalg.eigh"),
                  grads=(_eigh_grad,))


def eigh(tensor_, name=None):
    """Eigenvalues (ascending) and eigenvectors of Hermitian matrices (lower triangle read)."""
    x = _square_check(tensor_, "linalg.eigh")
    packed = _eigh(x)
    e = a._strided_slice(packed, key=(Ellipsis, 0, builtins.slice(None)))
    if x._value.dtype.kind == "c":
        e = m.real(e)
    v = a._strided_slice(packed, key=(Ellipsis, builtins.slice(1, None), builtins.slice(None)))
    return e, v


def eigvalsh(tensor_, name=None):
    return eigh(tensor_)[0]


_eig_vals = primitive("eig_values", lambda x: np.linalg.eigvals(x).astype(
    np.complex128 if x.dtype in (np.float64, np.complex128) else np.complex64), no_grad="gradient not implemented yet (TensorFlow has one)")
_eig_vecs = primitive("eig_vectors", lambda x: np.linalg.eig(x)[1].astype(
    np.complex128 if x.dtype in (np.float64, np.complex128) else np.complex64), no_grad="gradient not implemented yet (TensorFlow has one)")


def eig(tensor_, name=None):
    x = _square_check(tensor_, "linalg.eig")
    return _eig_vals(x), _eig_vecs(x)


def eigvals(tensor_, name=None):
    return _eig_vals(_square_check(tensor_, "linalg.eig"))


def _nan_where_not_finite(kernel):
    """LAPACK's SVD (gesdd) never returns on a matrix holding inf: such matrices give NaN
    results instead, and the rest of the batch is computed as usual."""
    def run(x, **kw):
        if x.dtype.kind not in "fc" or x.size == 0:
            return kernel(x, **kw)
        bad = ~np.isfinite(x).all(axis=(-2, -1))
        if not bad.any():
            return kernel(x, **kw)
        out = kernel(np.where(bad[..., None, None], np.zeros((), x.dtype), x), **kw)
        out = np.array(out, copy=True)
        out[bad] = np.nan
        return out
    return run


def _svd_kernel(x, full_matrices):
    u, s, vh = np.linalg.svd(x, full_matrices=full_matrices)
    v = np.conj(np.swapaxes(vh, -1, -2))
    k = builtins.max(u.shape[-1], v.shape[-1])
    pad = lambda t: np.pad(t, [(0, 0)] * (t.ndim - 1) + [(0, k - t.shape[-1])])  # noqa: E731
    return np.concatenate([pad(s.astype(u.dtype)[..., None, :]), pad(u), pad(v)], axis=-2)


_svd_kernel = _nan_where_not_finite(_svd_kernel)


def _svd_grad(g, packed, x, full_matrices):
    mm_, nn_ = x._value.shape[-2:]
    kk = builtins.min(mm_, nn_)
    gv = g._value
    if np.any(gv[..., 1:, :]):  # gradients through u or v were requested
        raise NotImplementedError("linalg.svd: gradients through the singular vectors are not "
                                  "implemented; only through the singular values.")
    gs = a._strided_slice(g, key=(Ellipsis, 0, builtins.slice(0, kk)))
    u = a._strided_slice(packed, key=(Ellipsis, builtins.slice(1, 1 + mm_),
                                      builtins.slice(0, kk)))
    v = a._strided_slice(packed, key=(Ellipsis, builtins.slice(1 + mm_, 1 + mm_ + nn_),
                                      builtins.slice(0, kk)))
    return _mm(m._mul(u, a.expand_dims(gs, -2)), v, tb=True)


_svd = primitive("svd", _linalg_kernel(_svd_kernel, "linalg.svd"), grads=(_svd_grad,))


def svd(tensor_, full_matrices=False, compute_uv=True, name=None):
    """Singular values (descending) and, with compute_uv, u and v (x = u diag(s) v^H)."""
    x = tensor(tensor_)
    if x._value.ndim < 2:
        raise InvalidArgumentError(f"linalg.svd expects matrices [..., M, N], got shape "
                                   f"{list(x._value.shape)}")
    mm_, nn_ = x._value.shape[-2:]
    kk = builtins.min(mm_, nn_)
    packed = _svd(x, full_matrices=bool(full_matrices))
    s = a._strided_slice(packed, key=(Ellipsis, 0, builtins.slice(0, kk)))
    if x._value.dtype.kind == "c":
        s = m.real(s)
    if not compute_uv:
        return s
    cu = mm_ if full_matrices else kk
    cv = nn_ if full_matrices else kk
    u = a._strided_slice(packed, key=(Ellipsis, builtins.slice(1, 1 + mm_),
                                      builtins.slice(0, cu)))
    v = a._strided_slice(packed, key=(Ellipsis, builtins.slice(1 + mm_, 1 + mm_ + nn_),
                                      builtins.slice(0, cv)))
    return s, u, v


def _qr_kernel(x, full_matrices, part):
    q, r = np.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return q if part == "q" else r


_qr = primitive("qr", _linalg_kernel(_qr_kernel, "linalg.qr"), no_grad="gradient not implemented yet (TensorFlow has one)")


def qr(input, full_matrices=False, name=None):
    """The QR decomposition (q orthonormal columns, r upper triangular); not differentiable."""
    x = tensor(input)
    if x._value.ndim < 2:
        raise InvalidArgumentError(f"linalg.qr expects matrices, got shape "
                                   f"{list(x._value.shape)}")
    from collections import namedtuple
    return namedtuple("Qr", ["q", "r"])(_qr(x, full_matrices=bool(full_matrices), part="q"),
                                        _qr(x, full_matrices=bool(full_matrices), part="r"))


_pinv = primitive("pinv", _nan_where_not_finite(
    lambda x, rcond: np.linalg.pinv(x, rcond=rcond).astype(x.dtype)),
    no_grad="gradient not implemented yet (TensorFlow has one)")


def pinv(a_, rcond=None, validate_args=False, name=None):
    x = tensor(a_)
    _checks.matrices(x, "linalg.pinv", "a", float_only=True)
    if rcond is None:
        rcond = 10. * builtins.max(x._value.shape[-2:]) * np.finfo(x._value.dtype).eps
    return _pinv(x, rcond=_checks.finite_number(rcond, "linalg.pinv", "rcond"))


def _lu_kernel(x, part):
    try:
        import scipy.linalg as sl
    except ImportError:  # pragma: no cover - scipy ships with the test extra
        raise InvalidArgumentError("linalg.lu_factor needs scipy (pip install scipy)") from None
    lu, piv = sl.lu_factor(x)
    return lu if part == "lu" else piv.astype(np.int32)


# No gradient: the pivots are a discrete choice (and integers); Keras's lu_factor is not
# differentiable on its NumPy backend either.
_lu = primitive("lu_factor", _linalg_kernel(_lu_kernel, "linalg.lu_factor"),
                no_grad=NOT_DIFFERENTIABLE)


def lu_factor(input, name=None):
    """LAPACK-style LU factorisation of square matrices: (lu, pivots), as scipy's lu_factor."""
    x = _square_check(input, "linalg.lu_factor")
    return _lu(x, part="lu"), _lu(x, part="piv")


def matrix_rank(a_, tol=None, validate_args=False, name=None):
    x = tensor(a_)
    _checks.matrices(x, "linalg.matrix_rank", "a", float_only=True)
    s = svd(x, compute_uv=False)
    if tol is None:
        tol = m.multiply(m.reduce_max(s, axis=-1, keepdims=True),
                         float(builtins.max(x._value.shape[-2:]) * np.finfo(x._value.dtype).eps))
    return m.reduce_sum(m.cast(m.greater(s, tol), dtypes.int32), axis=-1)


def expm(input, name=None):
    """Matrix exponential by scaling and squaring with a Taylor series (differentiable)."""
    x = _square_check(input, "linalg.expm")
    nrm = float(np.max(np.sum(np.abs(x._value), axis=-1))) if x._value.size else 0.0
    # a non-finite norm (inf/nan entries) leaves nothing to scale: the series gives nan
    k = builtins.max(0, int(np.ceil(np.log2(nrm))) + 1) if 0.5 < nrm < np.inf else 0
    y = m.multiply(x, 1.0 / (2 ** k))
    n = x._value.shape[-1]
    eye = a._broadcast_to(_wrap(np.eye(n, dtype=x._value.dtype)), shape=x._value.shape)
    out, term = eye, eye
    for i in range(1, 19):
        term = m.multiply(m.matmul(term, y), 1.0 / i)
        out = m.add(out, term)
    for _ in range(k):
        out = m.matmul(out, out)
    return out


# --- diagonals, bands, traces (composed) ---------------------------------------------------

def diag_part(input, name=None, k=0, padding_value=0, align="RIGHT_LEFT"):
    """The main diagonal of each matrix: [..., min(M, N)]."""
    x = tensor(input)
    if x._value.ndim < 2:
        raise InvalidArgumentError(f"linalg.diag_part expects rank >= 2, got shape "
                                   f"{list(x._value.shape)}")
    if k != 0:
        raise NotImplementedError("linalg.diag_part: only k=0 (the main diagonal) is supported")
    mm_, nn_ = x._value.shape[-2:]
    kk = builtins.min(mm_, nn_)
    eye = _wrap(np.eye(mm_, nn_, dtype=x._value.dtype if x._value.dtype != np.bool_ else np.int8))
    if x._value.dtype == np.bool_:
        x = m.cast(x, dtypes.int8)
    picked = m._reduce_sum(m._mul(x, eye), axis=(x._value.ndim - 1,), keepdims=False)
    out = a._strided_slice(picked, key=(Ellipsis, builtins.slice(0, kk)))
    return m.cast(out, dtypes.bool) if tensor(input)._value.dtype == np.bool_ else out


matrix_diag_part = diag_part


def _diag_embed(d, rows, cols):
    kk = d._value.shape[-1]
    eye = _wrap(np.eye(rows, kk, dtype=d._value.dtype))
    out = m._mul(a.expand_dims(d, -2), eye)
    if cols > kk:
        pad = [[0, 0]] * (out._value.ndim - 1) + [[0, cols - kk]]
        out = a.pad(out, pad)
    elif cols < kk:
        out = a._strided_slice(out, key=(Ellipsis, builtins.slice(0, cols)))
    return out


def diag(diagonal, name=None, k=0, num_rows=-1, num_cols=-1, padding_value=0,
         align="RIGHT_LEFT"):
    """Matrices with `diagonal` on the main diagonal: [..., N] -> [..., N, N]."""
    d = tensor(diagonal)
    if k != 0:
        raise NotImplementedError("linalg.diag: only k=0 (the main diagonal) is supported")
    if d._value.ndim < 1:
        raise InvalidArgumentError("linalg.diag expects rank >= 1")
    n = d._value.shape[-1]
    num_rows = _checks.scalar_int(num_rows, "linalg.diag", "num_rows")
    num_cols = _checks.scalar_int(num_cols, "linalg.diag", "num_cols")
    for arg, v in (("num_rows", num_rows), ("num_cols", num_cols)):
        if v != -1 and v < n:
            raise InvalidArgumentError(f"linalg.diag: {arg}={v} must be -1 or at least the "
                                       f"diagonal's length {n}")
    rows = n if num_rows == -1 else num_rows
    cols = n if num_cols == -1 else num_cols
    if num_rows != -1 and num_cols == -1:
        cols = rows
    if num_cols != -1 and num_rows == -1:
        rows = cols
    _checks.check_alloc("linalg.diag", d._value.shape[:-1] + (rows, cols), d._value.dtype)
    out = _diag_embed(d, rows, cols)
    if padding_value:
        mask = _wrap(np.eye(rows, cols, dtype=bool))
        out = m.where(mask, out, m.add(m.zeros_like(out), padding_value))
    return out


matrix_diag = diag


def set_diag(input, diagonal, name=None, k=0, align="RIGHT_LEFT"):
    x, d = binary(input, diagonal, "linalg.set_diag")
    if k != 0:
        raise NotImplementedError("linalg.set_diag: only k=0 is supported")
    mm_, nn_ = _checks.matrices(x, "linalg.set_diag")
    if d._value.shape != x._value.shape[:-2] + (builtins.min(mm_, nn_),):
        raise InvalidArgumentError(f"linalg.set_diag: diagonal must have shape "
                                   f"{list(x._value.shape[:-2]) + [builtins.min(mm_, nn_)]}, "
                                   f"got {list(d._value.shape)}")
    mask = _wrap(np.eye(mm_, nn_, dtype=bool))
    return m._select(mask, _diag_embed(d, mm_, nn_), x)


matrix_set_diag = set_diag


def band_part(input, num_lower, num_upper, name=None):
    """Keeps entries with -num_lower <= j - i <= num_upper (negative: keep that whole side)."""
    x = tensor(input)
    mm_, nn_ = _checks.matrices(x, "linalg.band_part")
    lo = _checks.scalar_int(num_lower, "linalg.band_part", "num_lower")
    up = _checks.scalar_int(num_upper, "linalg.band_part", "num_upper")
    i = np.arange(mm_)[:, None]
    j = np.arange(nn_)[None, :]
    keep = np.ones((mm_, nn_), bool)
    if lo >= 0:
        keep &= (i - j) <= lo
    if up >= 0:
        keep &= (j - i) <= up
    return m._select(_wrap(keep), x, m._zeros_like(x))


matrix_band_part = band_part


def trace(x, name=None):
    return m.reduce_sum(diag_part(x), axis=-1)


def matrix_transpose(a_, name=None, conjugate=False):
    return a.matrix_transpose(a_, conjugate=conjugate)


def adjoint(matrix, name=None):
    return a.matrix_transpose(matrix, conjugate=True)


def matvec(a_, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False,
           name=None):
    """Matrix times vector: [..., M, N] @ [..., N] -> [..., M]."""
    out = m.matmul(a_, a.expand_dims(b, -1), transpose_a=transpose_a, adjoint_a=adjoint_a)
    return a.squeeze(out, -1)


def cross(a_, b, name=None):
    x, y = binary(a_, b, "linalg.cross")
    if x._value.shape[-1:] != (3,) or y._value.shape[-1:] != (3,):
        raise InvalidArgumentError(f"linalg.cross expects vectors of 3 elements on the last "
                                   f"axis, got shapes {list(x._value.shape)} and "
                                   f"{list(y._value.shape)}")
    x0, x1, x2 = a.unstack(x, axis=-1)
    y0, y1, y2 = a.unstack(y, axis=-1)
    return a.stack([m.subtract(m.multiply(x1, y2), m.multiply(x2, y1)),
                    m.subtract(m.multiply(x2, y0), m.multiply(x0, y2)),
                    m.subtract(m.multiply(x0, y1), m.multiply(x1, y0))], axis=-1)


def global_norm(t_list, name=None):
    """sqrt(sum of squares of every entry of every tensor in t_list); None entries skipped."""
    t_list = _checks.tensor_list(t_list, "linalg.global_norm", "t_list")
    ts = [tensor(t.values if hasattr(t, "dense_shape") else t) for t in t_list if t is not None]
    if not ts:
        return _wrap(np.asarray(0.0, np.float32))
    sums = [m.reduce_sum(m.square(t)) for t in ts]
    dt = sums[0].dtype
    return m.sqrt(m.add_n([m.cast(s, dt) for s in sums]))


def normalize(tensor_, ord="euclidean", axis=None, name=None):
    from tenfold.ops.composite import norm
    x = tensor(tensor_)
    nrm = norm(x, ord=ord, axis=axis, keepdims=True)
    return m.divide(x, nrm), nrm


def tridiagonal_solve(*args, **kwargs):
    raise NotImplementedError("linalg.tridiagonal_solve is not implemented in tenfold; build "
                              "the dense matrix and use tf.linalg.solve.")
