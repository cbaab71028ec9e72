"""Neural-network ops (`tf.nn`): activations, softmax family, losses. Convolution and pooling
live in `conv_ops`."""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive
from tenfold.ops._convert import tensor, binary
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops.math_ops import _mul, _sub, _add, _div

_wrap = Tensor._wrap


def _axis1(x, axis, op):
    (ax,) = m.normalize_axis(axis, x._value.ndim, op) or (0,)
    return ax


def _float(x, op):
    x = tensor(x)
    if not (x._value.dtype.kind in "fc" or x.dtype == dtypes.bfloat16):
        raise TypeError(f"{op} expects a floating-point tensor, got {x.dtype.name}")
    return x


# --- softmax family (primitives: composing them is slower and less stable) ---

def _softmax_kernel(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def _softmax_grad(g, out, x, axis):
    gy = _mul(g, out)
    return _sub(gy, _mul(out, m._reduce_sum(gy, axis=(axis,), keepdims=True)))


def _log_softmax_kernel(x, axis):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _log_softmax_grad(g, out, x, axis):
    return _sub(g, _mul(m.exp(out), m._reduce_sum(g, axis=(axis,), keepdims=True)))


_softmax = primitive("softmax", _softmax_kernel, grads=(_softmax_grad,))
_log_softmax = primitive("log_softmax", _log_softmax_kernel, grads=(_log_softmax_grad,))


def softmax(logits, axis=None, name=None):
    x = _float(logits, "softmax")
    if x._value.ndim == 0:
        raise InvalidArgumentError("softmax needs a tensor of rank >= 1, got a scalar")
    return _softmax(x, axis=_axis1(x, -1 if axis is None else axis, "softmax"))


def log_softmax(logits, axis=None, name=None):
    x = _float(logits, "log_softmax")
    if x._value.ndim == 0:
        raise InvalidArgumentError("log_softmax needs a tensor of rank >= 1, got a scalar")
    return _log_softmax(x, axis=_axis1(x, -1 if axis is None else axis, "log_softmax"))


# --- activations ---

def relu(features, name=None):
    return m._relu(tensor(features))


def relu6(features, name=None):
    return m.clip_by_value(relu(features), 0, 6)


def leaky_relu(features, alpha=0.2, name=None):
    x = _float(features, "leaky_relu")
    return m.maximum(x, m.multiply(x, alpha)) if 0 <= alpha <= 1 else \
        m.where(m.greater(x, 0), x, m.multiply(x, alpha))


def elu(features, name=None):
    x = _float(features, "elu")
    return m.where(m.greater(x, 0), x, m.expm1(m.minimum(x, 0)))


def selu(features, name=None):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    x = _float(features, "selu")
    return m.multiply(m.where(m.greater(x, 0), x, m.multiply(m.expm1(m.minimum(x, 0)), alpha)),
                      scale)


def _erf_kernel(x):
    try:
        from scipy.special import erf
        return erf(x).astype(x.dtype, copy=False)
    except ImportError:  # pragma: no cover - scipy is present wherever tests run
        import math
        return np.vectorize(math.erf, otypes=[x.dtype])(x)


_erf = primitive("erf", _erf_kernel,
                 grads=(lambda g, o, x: _mul(g, _mul(m._scalar(2 / np.sqrt(np.pi), x),
                                                     m.exp(m.negative(m.square(x))))),))


def erf(x, name=None):
    return _erf(_float(x, "erf"))


def gelu(features, approximate=False, name=None):
    x = _float(features, "gelu")
    if approximate:
        c = np.sqrt(2 / np.pi)
        inner = m.multiply(m.add(x, m.multiply(m.pow(x, 3), 0.044715)), c)
        return m.multiply(m.multiply(x, 0.5), m.add(m.tanh(inner), 1.0))
    return m.multiply(m.multiply(x, 0.5), m.add(erf(m.multiply(x, 1 / np.sqrt(2))), 1.0))


def silu(features, beta=1.0, name=None):
    x = _float(features, "silu")
    return m.multiply(x, m.sigmoid(m.multiply(x, beta) if beta != 1.0 else x))


swish = silu


def softsign(features, name=None):
    x = _float(features, "softsign")
    return m.divide(x, m.add(m.abs(x), 1.0))


def bias_add(value, bias, data_format=None, name=None):
    value, bias = binary(value, bias, "bias_add")
    if data_format in ("NCHW", "NCW", "NCDHW", "channels_first") and value._value.ndim > 2:
        bias = a.reshape(bias, (-1,) + (1,) * (value._value.ndim - 2))
    elif bias._value.shape[-1:] != value._value.shape[-1:]:
        raise InvalidArgumentError(f"bias_add: bias of shape {list(bias._value.shape)} must match "
                                   f"the last axis of value {list(value._value.shape)}")
    return _add(value, bias)


# --- losses ---

def _xent_kernel(labels, logits, axis):
    ls = _log_softmax_kernel(logits, axis)
    return -np.sum(labels * ls, axis=axis)


def _xent_grad_logits(g, out, labels, logits, axis):
    sm = softmax(logits, axis=axis)
    lsum = m._reduce_sum(labels, axis=(axis,), keepdims=True)
    return _mul(a.expand_dims(g, axis), _sub(_mul(sm, lsum), labels))


def _xent_grad_labels(g, out, labels, logits, axis):
    return _mul(a.expand_dims(g, axis), m.negative(log_softmax(logits, axis=axis)))


_softmax_xent = primitive("softmax_cross_entropy_with_logits", _xent_kernel,
                          grads=(_xent_grad_labels, _xent_grad_logits))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    labels, logits = binary(labels, logits, "softmax_cross_entropy_with_logits")
    if labels._value.shape != logits._value.shape:
        raise InvalidArgumentError(f"softmax_cross_entropy_with_logits: labels shape "
                                   f"{list(labels._value.shape)} must equal logits shape "
                                   f"{list(logits._value.shape)}")
    return _softmax_xent(labels, logits, axis=_axis1(logits, axis, "softmax_cross_entropy"))


def _sparse_xent_kernel(labels, logits):
    n = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        bad = labels[(labels < 0) | (labels >= n)].ravel()[0]
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy_with_logits: received a label "
                                   f"value of {int(bad)} which is outside the valid range of "
                                   f"[0, {n}).")
    ls = _log_softmax_kernel(logits, -1)
    return -np.take_along_axis(ls, labels[..., None].astype(np.intp), -1)[..., 0]


def _sparse_xent_grad(g, out, labels, logits):
    sm = softmax(logits)
    oh = a.one_hot(labels, logits._value.shape[-1], dtype=logits.dtype)
    return _mul(a.expand_dims(g, -1), _sub(sm, oh))


_sparse_xent = primitive("sparse_softmax_cross_entropy_with_logits", _sparse_xent_kernel,
                         grads=(None, _sparse_xent_grad))


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    labels, logits = tensor(labels), _float(logits, "sparse_softmax_cross_entropy_with_logits")
    if labels._value.dtype.kind not in "iu":
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: labels must be integers, "
                        f"got {labels.dtype.name}")
    if labels._value.shape != logits._value.shape[:-1]:
        raise InvalidArgumentError(
            f"sparse_softmax_cross_entropy_with_logits: labels shape "
            f"{list(labels._value.shape)} must equal logits shape without its last axis "
            f"{list(logits._value.shape[:-1])}")
    return _sparse_xent(labels, logits)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    labels, logits = binary(labels, logits, "sigmoid_cross_entropy_with_logits")
    if labels._value.shape != logits._value.shape:
        raise InvalidArgumentError(f"sigmoid_cross_entropy_with_logits: labels shape "
                                   f"{list(labels._value.shape)} must equal logits shape "
                                   f"{list(logits._value.shape)}")
    # max(x, 0) - x * z + log(1 + exp(-|x|)): stable for large |x|
    return m.add(m.subtract(relu(logits), m.multiply(logits, labels)),
                 m.log1p(m.exp(m.negative(m.abs(logits)))))


def weighted_cross_entropy_with_logits(labels, logits, pos_weight, name=None):
    labels, logits = binary(labels, logits, "weighted_cross_entropy_with_logits")
    log_weight = m.add(m.multiply(m.subtract(pos_weight, 1.0), labels), 1.0)
    return m.add(m.multiply(m.subtract(1.0, labels), logits),
                 m.multiply(log_weight, m.add(m.log1p(m.exp(m.negative(m.abs(logits)))),
                                              relu(m.negative(logits)))))


def l2_loss(t, name=None):
    t = _float(t, "l2_loss")
    return m.multiply(m.reduce_sum(m.square(t)), 0.5)


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    x = _float(x, "l2_normalize")
    sq = m.reduce_sum(m.square(x), axis=axis if axis is not None else dim, keepdims=True)
    return m.multiply(x, m.rsqrt(m.maximum(sq, epsilon)))


def moments(x, axes, shift=None, keepdims=False, name=None):
    x = tensor(x)
    mean = m.reduce_mean(x, axis=axes, keepdims=True)
    var = m.reduce_mean(m.squared_difference(x, mean), axis=axes, keepdims=True)
    if not keepdims:
        mean = a.squeeze(mean, axis=axes)
        var = a.squeeze(var, axis=axes)
    return mean, var


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    inv = m.rsqrt(m.add(variance, variance_epsilon))
    if scale is not None:
        inv = m.multiply(inv, scale)
    out = m.multiply(x, inv)
    shift = m.negative(m.multiply(mean, inv))
    if offset is not None:
        shift = m.add(shift, offset)
    return m.add(out, shift)


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zeroes elements with probability `rate` and scales the rest by 1 / (1 - rate)."""
    from tenfold.ops import random_ops
    x = _float(x, "dropout")
    if isinstance(rate, Tensor):
        rate = float(rate)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    if rate == 0:
        return x
    shape = x._value.shape if noise_shape is None else tuple(
        x._value.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep = m.greater_equal(random_ops.uniform(shape, dtype=x.dtype, seed=seed), rate)
    return m.multiply(x, m.cast(keep, x.dtype) * (1.0 / (1.0 - rate)))


def zero_fraction(value, name=None):
    v = tensor(value)
    return m.reduce_mean(m.cast(m.equal(v, 0), dtypes.float32))


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    loss = tensor(per_example_loss)
    if sample_weight is not None:
        loss = m.multiply(loss, sample_weight)
    n = global_batch_size if global_batch_size is not None else max(loss._value.shape[0] if
                                                                    loss._value.ndim else 1, 1)
    return m.divide(m.reduce_sum(loss), float(n))


def softmax_v2(logits, axis=None, name=None):
    return softmax(logits, axis, name)


_ = _div
