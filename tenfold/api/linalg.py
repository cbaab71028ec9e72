"""`tf.linalg`."""
from tenfold.ops.math_ops import matmul  # noqa: F401
from tenfold.ops.array_ops import eye  # noqa: F401
from tenfold.ops.composite import einsum, tensordot, norm  # noqa: F401
from tenfold.ops.nn_ops import l2_normalize  # noqa: F401
from tenfold.ops.linalg_ops import (  # noqa: F401
    adjoint, band_part, cholesky, cholesky_solve, cross, det, diag, diag_part, eig, eigh,
    eigvals, eigvalsh, expm, global_norm, inv, logdet, lstsq, matrix_rank, matrix_transpose,
    matvec, normalize, pinv, qr, set_diag, slogdet, solve, svd, trace, triangular_solve,
    tridiagonal_solve)

matrix_diag = diag
matrix_diag_part = diag_part
matrix_set_diag = set_diag
matrix_band_part = band_part
