"""Less common math ops (`tf.math`): special functions (SciPy kernels when SciPy is installed,
NumPy fallbacks otherwise), complex numbers, x*log(y)-style ops, cumulative log-sum-exp.

Split from math_ops so that `import tenfold` compiles less; `math_ops.<name>` still finds them.
"""
import builtins

import numpy as np

from tenfold.backend import xp_of

from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive
from tenfold.ops._convert import binary, tensor
from tenfold.ops.math_ops import (  # noqa: F401
    _add, _cum_axis, _equal, _exp, _float_check, _greater, _less, _log, _mul, _neg, _ones_like,
    _scalar, _select, _square, _sub, _unary, _wrap, _zeros_like, add, add_n, cast, greater,
    greater_equal, log, log1p, multiply, reciprocal, reduce_all, reduce_sum, subtract)


_nextafter = primitive("nextafter", np.nextafter, no_grad="gradient not implemented yet (TensorFlow has one)")


def _x_times(op, x, y, fn):
    """where(x == 0, 0, x * fn(y)), with finite gradients where x == 0."""
    x, y = binary(x, y, op)
    zx = _equal(x, _zeros_like(x))
    safe_y = _select(zx, _ones_like(y), y)
    p = _mul(x, fn(safe_y))
    return _select(zx, _zeros_like(p), p)


def xlogy(x, y, name=None):
    return _x_times("xlogy", x, y, log)


def xlog1py(x, y, name=None):
    return _x_times("xlog1py", x, y, log1p)


def xdivy(x, y, name=None):
    return _x_times("xdivy", x, y, reciprocal)


def nextafter(x1, x2, name=None):
    x1, x2 = binary(x1, x2, "nextafter")
    return _nextafter(x1, x2)


def _special(name, fallback):
    """A kernel from scipy.special when scipy is installed, else a NumPy fallback."""
    def kernel(x):
        try:
            import scipy.special as sp
        except ImportError:  # pragma: no cover - exercised only without scipy
            return fallback(x).astype(x.dtype, copy=False)
        work = x.astype(np.float32) if x.dtype.itemsize < 4 else x
        return getattr(sp, name)(work).astype(x.dtype, copy=False)
    return kernel


def _vectorized(fn):
    import math
    f = getattr(math, fn)
    return lambda x: np.vectorize(f, otypes=[np.float64])(x)


def _digamma_fallback(x):
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    reflect = x < 0.5
    xr = np.where(reflect, 1 - x, x)
    acc = np.zeros_like(x)
    while True:
        small = xr < 6
        if not small.any():
            break
        acc -= np.where(small, 1 / xr, 0)
        xr = np.where(small, xr + 1, xr)
    inv = 1 / xr
    inv2 = inv * inv
    out = acc + np.log(xr) - 0.5 * inv - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252)))
    return np.where(reflect, out - np.pi / np.tan(np.pi * x), out)


def _erfinv_fallback(y):
    y = np.asarray(y, dtype=np.float64)
    erf = np.vectorize(__import__("math").erf)
    x = np.clip(y, -0.999999, 0.999999)
    x = np.sqrt(-np.log((1 - x) / 2)) * np.sign(x) * 0.9  # rough start, refined by Newton
    for _ in range(60):
        x = x - (erf(x) - y) / (2 / np.sqrt(np.pi) * np.exp(-x * x))
    return np.where(np.abs(y) == 1, np.sign(y) * np.inf, x)


_erf = primitive("erf", _special("erf", _vectorized("erf")),
                 grads=(lambda g, o, x: _mul(g, _mul(_scalar(2 / np.sqrt(np.pi), x),
                                                     _exp(_neg(_square(x))))),), tf_op="Erf")


_erfc = primitive("erfc", _special("erfc", _vectorized("erfc")),
                  grads=(lambda g, o, x: _mul(g, _mul(_scalar(-2 / np.sqrt(np.pi), x),
                                                      _exp(_neg(_square(x))))),), tf_op="Erfc")


_erfinv = primitive("erfinv", _special("erfinv", _erfinv_fallback),
                    grads=(lambda g, o, x: _mul(g, _mul(_scalar(np.sqrt(np.pi) / 2, o),
                                                        _exp(_square(o)))),))


_lgamma = primitive("lgamma", _special("gammaln", _vectorized("lgamma")),
                    grads=(lambda g, o, x: _mul(g, _digamma(x)),))


_digamma = primitive("digamma", _special("psi", _digamma_fallback),
                     grads=(lambda g, o, x: _mul(g, _polygamma1(x)),))


def _trigamma_fallback(x):
    x = np.asarray(x, dtype=np.float64)
    acc = np.zeros_like(x)
    xr = x.copy()
    while True:
        small = xr < 6
        if not small.any():
            break
        acc += np.where(small, 1 / (xr * xr), 0)
        xr = np.where(small, xr + 1, xr)
    inv = 1 / xr
    inv2 = inv * inv
    return acc + inv + inv2 / 2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 / 42))


def _trigamma_kernel(x):
    try:
        import scipy.special as sp
        return sp.polygamma(1, x).astype(x.dtype, copy=False)
    except ImportError:  # pragma: no cover
        return _trigamma_fallback(x).astype(x.dtype, copy=False)


_polygamma1 = primitive("trigamma", _trigamma_kernel, quiet=True, no_grad="gradient not implemented yet (TensorFlow has one)")


erf = _unary(_erf)


erfc = _unary(_erfc)


erfinv = _unary(_erfinv)


lgamma = _unary(_lgamma)


digamma = _unary(_digamma)


def _scipy_kernel(name):
    def kernel(*xs):
        try:
            import scipy.special as sp
        except ImportError:
            raise NotImplementedError(f"{name} needs scipy (pip install scipy)") from None
        dt = xs[-1].dtype
        return np.asarray(getattr(sp, name)(*xs)).astype(dt, copy=False)
    return kernel


_igamma = primitive("igamma", _scipy_kernel("gammainc"), quiet=True, no_grad="gradient not implemented yet (TensorFlow has one)")


_igammac = primitive("igammac", _scipy_kernel("gammaincc"), quiet=True, no_grad="gradient not implemented yet (TensorFlow has one)")


_betainc = primitive("betainc", _scipy_kernel("betainc"), quiet=True, no_grad="gradient not implemented yet (TensorFlow has one)")


_zeta = primitive("zeta", _scipy_kernel("zeta"), quiet=True, no_grad="gradient not implemented yet (TensorFlow has one)")


_polygamma = primitive("polygamma", _scipy_kernel("polygamma"), quiet=True, no_grad="gradient not implemented yet (TensorFlow has one)")


_bessel = {n: primitive("bessel_" + n, _scipy_kernel(n),
                        no_grad="gradient not implemented yet (TensorFlow has one)")
           for n in ("i0", "i0e", "i1", "i1e")}


def igamma(a, x, name=None):
    """The regularized lower incomplete gamma function P(a, x)."""
    return _igamma(*binary(a, x, "igamma"))


def igammac(a, x, name=None):
    return _igammac(*binary(a, x, "igammac"))


def betainc(a, b, x, name=None):
    a, b = binary(a, b, "betainc")
    a, x = binary(a, x, "betainc")
    return _betainc(a, b, x)


def zeta(x, q, name=None):
    return _zeta(*binary(x, q, "zeta"))


def polygamma(a, x, name=None):
    return _polygamma(*binary(a, x, "polygamma"))


def bessel_i0(x, name=None):
    return _bessel["i0"](_float_check(x, "bessel_i0"))


def bessel_i0e(x, name=None):
    return _bessel["i0e"](_float_check(x, "bessel_i0e"))


def bessel_i1(x, name=None):
    return _bessel["i1"](_float_check(x, "bessel_i1"))


def bessel_i1e(x, name=None):
    return _bessel["i1e"](_float_check(x, "bessel_i1e"))


def erfcinv(x, name=None):
    return erfinv(subtract(1.0, x))


def lbeta(x, name=None):
    """log(|Beta(x)|) reduced over the last axis: sum(lgamma(x)) - lgamma(sum(x))."""
    x = tensor(x)
    return subtract(reduce_sum(lgamma(x), axis=-1), lgamma(reduce_sum(x, axis=-1)))


def invert_permutation(x, name=None):
    from tenfold.ops import array_ops
    x = tensor(x)
    v = x._value
    if v.dtype.kind not in "iu":
        raise TypeError(f"invert_permutation: x must be int32 or int64, got {x.dtype.name}")
    if v.ndim != 1:
        raise InvalidArgumentError(f"invert_permutation: x must be a vector (rank 1), got "
                                   f"shape {list(v.shape)}")
    if sorted(v.tolist()) != list(builtins.range(v.shape[0])):
        raise InvalidArgumentError(f"invert_permutation: x must be a permutation of "
                                   f"0..n-1, got {v.tolist()[:10]}")
    return cast(array_ops.argsort(x), x.dtype)


def ndtri(x, name=None):
    """The inverse of the standard normal CDF."""
    x = tensor(x)
    return multiply(erfinv(subtract(multiply(x, 2.0), 1.0)), np.sqrt(2.0))


def _complex_of(dt):
    return np.dtype(np.complex128 if dt == np.float64 else np.complex64)


def _real_of(dt):
    return np.dtype(np.float64 if dt == np.complex128 else np.float32)


_real = primitive("real", np.real,
                  grads=(lambda g, o, x: _complex(g, _zeros_like(g)),))


_imag = primitive("imag", np.imag,
                  grads=(lambda g, o, x: _complex(_zeros_like(g), _neg(g)),))


_complex = primitive("complex", lambda re, im: (re + 1j * im).astype(_complex_of(re.dtype)),
                     grads=(lambda g, o, re, im: _real(g), lambda g, o, re, im: _imag(g)))


_angle = primitive("angle", np.angle, no_grad="gradient not implemented yet (TensorFlow has one)")


def real(input, name=None):
    x = tensor(input)
    return _real(x) if x._value.dtype.kind == "c" else x


def imag(input, name=None):
    x = tensor(input)
    if x._value.dtype.kind == "c":
        return _imag(x)
    return _zeros_like(x)


def complex(real, imag, name=None):  # noqa: A001 - TensorFlow's name
    re, im = binary(real, imag, "complex")
    if re._value.dtype not in (np.float32, np.float64):
        raise TypeError(f"complex: real and imag must be float32 or float64, got "
                        f"{re.dtype.name}")
    return _complex(re, im)


def angle(input, name=None):
    x = tensor(input)
    if x._value.dtype.kind != "c":
        return _select(_less(x, _zeros_like(x)), _scalar(np.pi, x) + _zeros_like(x),
                       _zeros_like(x))
    return _angle(x)


def is_non_decreasing(x, name=None):
    x = reshape_flat(tensor(x))
    if x._value.shape[0] < 2:
        return _wrap(np.asarray(True))
    return reduce_all(greater_equal(x[1:], x[:-1]))


def is_strictly_increasing(x, name=None):
    x = reshape_flat(tensor(x))
    if x._value.shape[0] < 2:
        return _wrap(np.asarray(True))
    return reduce_all(greater(x[1:], x[:-1]))


def reshape_flat(x):
    from tenfold.ops import array_ops
    return array_ops.reshape(x, [-1])


def accumulate_n(inputs, shape=None, tensor_dtype=None, name=None):
    return add_n(inputs)


def polyval(coeffs, x, name=None):
    """coeffs[0] * x**(n-1) + ... + coeffs[n-1], by Horner's rule (Python numbers take x's
    dtype)."""
    x = tensor(x)
    if not isinstance(coeffs, (list, tuple)):
        raise TypeError(f"polyval: coeffs must be a list of tensors or numbers, got "
                        f"{type(coeffs).__name__}")
    if not coeffs:
        return _zeros_like(x)
    out = coeffs[0]
    for c in coeffs[1:]:
        out = add(multiply(out, x), c)
    return out if len(coeffs) > 1 else add(_zeros_like(x), out)


def _cumlse_kernel(x, axis=0, reverse=False):
    if reverse:
        x = np.flip(x, axis)
    out = np.logaddexp.accumulate(x, axis=axis) if x.size else x.copy()
    out = np.flip(out, axis) if reverse else out
    return xp_of(out).ascontiguousarray(out)


def _cumlse_grad(g, out, x, axis=0, reverse=False):
    # split g by sign so the logs stay real, as TensorFlow does
    neg_inf = _scalar(-np.inf, g)
    pos = _greater(g, _zeros_like(g))
    neg = _less(g, _zeros_like(g))
    one = _ones_like(g)
    log_gp = _select(pos, _log(_select(pos, g, one)), neg_inf + _zeros_like(g))
    log_gn = _select(neg, _log(_select(neg, _neg(g), one)), neg_inf + _zeros_like(g))
    op = _cumlse(_sub(log_gp, out), axis=axis, reverse=not reverse)
    on = _cumlse(_sub(log_gn, out), axis=axis, reverse=not reverse)
    return _sub(_exp(_add(op, x)), _exp(_add(on, x)))


_cumlse = primitive("cumulative_logsumexp", _cumlse_kernel, grads=(_cumlse_grad,))


def cumulative_logsumexp(x, axis=0, exclusive=False, reverse=False, name=None):
    from tenfold.ops import array_ops
    x = _float_check(x, "cumulative_logsumexp")
    ax = _cum_axis(x, axis, "cumulative_logsumexp")
    out = _cumlse(x, axis=ax, reverse=builtins.bool(reverse))
    if exclusive:
        n = x._value.shape[ax]
        pad_shape = list(x._value.shape)
        pad_shape[ax] = 1
        pad = _wrap(np.full(pad_shape, -np.inf, dtype=x._value.dtype))
        pre = (builtins.slice(None),) * ax
        if reverse:
            out = array_ops.concat([out[pre + (builtins.slice(1, n),)], pad], ax)
        else:
            out = array_ops.concat([pad, out[pre + (builtins.slice(0, n - 1),)]], ax)
    return out
