"""`tf.math`."""
from tenfold.ops.math_ops import (  # noqa: F401
    abs, accumulate_n, acos, acosh, add, add_n, angle, argmax, argmin, asin, asinh, atan, atan2,
    atanh, bessel_i0, bessel_i0e, bessel_i1, bessel_i1e, betainc, ceil, conj, cos, cosh,
    count_nonzero, cumprod, cumsum, cumulative_logsumexp, digamma, divide, divide_no_nan, equal,
    erf, erfc, erfcinv, erfinv, exp, expm1, floor, floordiv, floormod, greater, greater_equal,
    igamma, igammac, imag, invert_permutation, is_finite, is_inf, is_nan, is_non_decreasing,
    is_strictly_increasing, lbeta, less, less_equal, lgamma, log, log1p, log_sigmoid,
    logical_and, logical_not, logical_or, logical_xor, maximum, minimum, mod, multiply,
    multiply_no_nan, ndtri, negative, nextafter, not_equal, polygamma, polyval, pow, real,
    realdiv, reciprocal, reciprocal_no_nan, reduce_all, reduce_any, reduce_euclidean_norm,
    reduce_logsumexp, reduce_max, reduce_mean, reduce_min, reduce_prod, reduce_std, reduce_sum,
    reduce_variance, rint, round, rsqrt, scalar_mul, sigmoid, sign, sin, sinh, softplus,
    softsign, sqrt, square, squared_difference, subtract, tan, tanh, truediv, truncatediv,
    truncatemod, xdivy, xlog1py, xlogy, zeta, complex, div_no_nan, floor_div, saturate_cast,
    cast)
from tenfold.ops.array_ops import top_k, in_top_k  # noqa: F401
from tenfold.ops.nn_ops import softmax, log_softmax, l2_normalize, zero_fraction  # noqa: F401
from tenfold.ops.segment_ops import (  # noqa: F401
    bincount, confusion_matrix, segment_max, segment_mean, segment_min, segment_prod,
    segment_sqrt_n, segment_sum, unsorted_segment_max, unsorted_segment_mean,
    unsorted_segment_min, unsorted_segment_prod, unsorted_segment_sqrt_n, unsorted_segment_sum)

import types as _types

special = _types.SimpleNamespace(
    bessel_i0=bessel_i0, bessel_i0e=bessel_i0e, bessel_i1=bessel_i1, bessel_i1e=bessel_i1e,
    erfcinv=erfcinv, ndtri=ndtri, lgamma=lgamma, digamma=digamma)
