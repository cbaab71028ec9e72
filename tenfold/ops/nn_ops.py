"""Neural-network ops (`tf.nn`): activations, softmax family, losses. Convolution and pooling
live in `conv_ops`."""
import numpy as np

from tenfold.framework import dtypes
from tenfold.framework.tensor import Tensor
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops.registry import primitive
from tenfold.ops._convert import tensor, binary
from tenfold.ops import _checks
from tenfold.ops import fused_ops as _fused
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

def _precise(x):
    """Half-precision inputs are computed in float32 and rounded once at the end (as
    TensorFlow's kernels do), not rounded at every step."""
    return x.astype(np.float32) if x.dtype.itemsize < 4 else x


def _softmax_kernel(x, axis):
    if x.shape[axis] == 0:  # an empty axis gives an empty result, as TensorFlow
        return x.copy()
    if type(x) is np.ndarray and x.dtype.itemsize >= 4 and axis in (-1, x.ndim - 1):
        # in blocks of rows that stay in cache, without temporaries (fused_ops)
        x2 = x.reshape(-1, x.shape[-1])
        return _fused.softmax_rows(x2, np.empty(x2.shape, x.dtype)).reshape(x.shape)
    xp = _precise(x)
    e = np.exp(xp - np.max(xp, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e.astype(x.dtype, copy=False)


def _softmax_grad(g, out, x, axis):
    # one kernel call (fused_ops.softmax_grad; its unfused twin is softmax_grad_unfused)
    return _fused.softmax_grad(g, out, axis=axis)


def _log_softmax_kernel(x, axis):
    if x.shape[axis] == 0:
        return x.copy()
    xp = _precise(x)
    s = xp - np.max(xp, axis=axis, keepdims=True)
    return (s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))).astype(x.dtype, copy=False)


def _log_softmax_grad(g, out, x, axis):
    return _sub(g, _mul(m.exp(out), m._reduce_sum(g, axis=(axis,), keepdims=True)))


_softmax = primitive("softmax", _softmax_kernel, grads=(_softmax_grad,), aliasing="fresh")
_log_softmax = primitive("log_softmax", _log_softmax_kernel, grads=(_log_softmax_grad,), aliasing="fresh")


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
    """min(max(x, 0), 6); the gradient is 0 at exactly 0 and 6, as TensorFlow's."""
    x = tensor(features)
    return m.minimum(6, m._relu(x))


def crelu(features, axis=-1, name=None):
    x = tensor(features)
    return a.concat([relu(x), relu(m.negative(x))], axis)


def _float_features(features, op):
    x = tensor(features)
    if x._value.dtype.kind in "iu":  # TensorFlow casts integer features to float32
        x = m.cast(x, dtypes.float32)
    return _float(x, op)


def leaky_relu(features, alpha=0.2, name=None):
    """max(alpha * x, x); the gradient at 0 is alpha, as TensorFlow's."""
    x = _float_features(features, "leaky_relu")
    if isinstance(alpha, Tensor):
        alpha = float(alpha)
    if 0 < alpha <= 1:  # one pass, its gradient from the output (fused_ops.leaky_relu)
        return _fused.leaky_relu(x, alpha=float(alpha))
    if alpha <= 1:
        return m.maximum(m.multiply(x, alpha), x)
    return m.where(m.greater(x, 0), x, m.multiply(x, alpha))


def elu(features, name=None):
    x = _float(features, "elu")
    return m.where(m.greater(x, 0), x, m.expm1(m.minimum(x, 0)))


def selu(features, name=None):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    x = _float(features, "selu")
    return m.multiply(m.where(m.greater(x, 0), x, m.multiply(m.expm1(m.minimum(x, 0)), alpha)),
                      scale)


erf = m.erf


def gelu(features, approximate=False, name=None):
    """x * P(X <= x) for X ~ N(0, 1); `approximate=True` uses the tanh formula."""
    x = _float(features, "gelu")
    if approximate:
        inner = m.multiply(m.add(x, m.multiply(m.pow(x, 3), 0.044715)), 0.7978845608028654)
        return m.multiply(m.multiply(x, 0.5), m.add(m.tanh(inner), 1.0))
    return m.multiply(m.multiply(x, 0.5), m.add(m.erf(m.divide(x, 1.4142135623730951)), 1.0))


def silu(features, beta=1.0, name=None):
    x = _float(features, "silu")
    return m.multiply(x, m.sigmoid(m.multiply(x, beta) if beta != 1.0 else x))


swish = silu


def softsign(features, name=None):
    x = _float(features, "softsign")
    return m.divide(x, m.add(m.abs(x), 1.0))


def softplus(features, name=None):
    return m.softplus(features)


def sigmoid(x, name=None):
    return m.sigmoid(x)


def tanh(x, name=None):
    return m.tanh(x)


def log_sigmoid(x, name=None):
    return m.log_sigmoid(x)


def bias_add(value, bias, data_format=None, name=None):
    """value + bias along the channel axis (last, or 1 for channels-first formats)."""
    value, bias = binary(value, bias, "bias_add")
    if bias._value.ndim != 1:
        raise InvalidArgumentError(f"bias_add: bias must be 1-D, got shape "
                                   f"{list(bias._value.shape)}")
    if value._value.ndim < 2:
        raise InvalidArgumentError(f"bias_add: value must be at least 2-D, got shape "
                                   f"{list(value._value.shape)}")
    channels_first = data_format is not None and data_format.startswith("NC")
    c = value._value.shape[1] if channels_first else value._value.shape[-1]
    if bias._value.shape[0] != c:
        raise InvalidArgumentError(
            f"bias_add: bias of shape {list(bias._value.shape)} must match the channel axis "
            f"({'1' if channels_first else 'last'}) of value {list(value._value.shape)}")
    if channels_first:
        bias = a.reshape(bias, (-1,) + (1,) * (value._value.ndim - 2))
    return _add(value, bias)


# --- losses ---

def _xent_kernel(labels, logits, axis):
    if axis in (-1, logits.ndim - 1):
        got = _fused.xent_rows(labels, logits)   # narrow rows natively (a classifier's)
        if got is not None:
            return got
    ls = _log_softmax_kernel(_precise(logits), axis)
    return (-np.sum(_precise(labels) * ls, axis=axis)).astype(logits.dtype, copy=False)


def _xent_grad_logits(g, out, labels, logits, axis):
    # one kernel call (fused_ops.softmax_xent_grad; twin: softmax_xent_grad_unfused)
    return _fused.softmax_xent_grad(g, labels, logits, axis=axis)


def _xent_grad_labels(g, out, labels, logits, axis):
    return _mul(a.expand_dims(g, axis), m.negative(log_softmax(logits, axis=axis)))


_softmax_xent = primitive("softmax_cross_entropy_with_logits", _xent_kernel,
                          grads=(_xent_grad_labels, _xent_grad_logits), aliasing="fresh")


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    logits = tensor(logits)
    labels = tensor(labels)
    if labels._value.dtype != logits._value.dtype:  # TensorFlow casts labels to logits' dtype
        if logits._value.dtype.kind not in "fV":
            raise TypeError(f"softmax_cross_entropy_with_logits: logits must be floating, got "
                            f"{logits.dtype.name} (shape {list(logits._value.shape)})")
        labels = m.cast(labels, logits.dtype)
    if labels._value.shape != logits._value.shape:
        raise InvalidArgumentError(f"softmax_cross_entropy_with_logits: labels shape "
                                   f"{list(labels._value.shape)} must equal logits shape "
                                   f"{list(logits._value.shape)}")
    return _softmax_xent(labels, logits, axis=_axis1(logits, axis, "softmax_cross_entropy"))


def _sparse_xent_kernel(labels, logits):
    got = _fused.sparse_xent_rows(labels, logits)  # narrow rows natively; None: bad labels too
    if got is not None:
        return got
    n = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        bad = labels[(labels < 0) | (labels >= n)].ravel()[0]
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy_with_logits: received a label "
                                   f"value of {int(bad)} which is outside the valid range of "
                                   f"[0, {n}).")
    ls = _log_softmax_kernel(logits, -1)
    return -np.take_along_axis(ls, labels[..., None].astype(np.intp), -1)[..., 0]


def _sparse_xent_grad(g, out, labels, logits):
    # one kernel call (fused_ops.sparse_softmax_xent_grad; twin: ..._unfused)
    return _fused.sparse_softmax_xent_grad(g, labels, logits)


_sparse_xent = primitive("sparse_softmax_cross_entropy_with_logits", _sparse_xent_kernel,
                         grads=(None, _sparse_xent_grad), aliasing="fresh")


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
    if not isinstance(pos_weight, (Tensor, int, float)):
        _, pos_weight = binary(labels, pos_weight, "weighted_cross_entropy_with_logits")
    log_weight = m.add(m.multiply(labels, m.subtract(pos_weight, m._ones_like(labels))
                                  if isinstance(pos_weight, Tensor) else pos_weight - 1.0), 1.0)
    return m.add(m.multiply(m.subtract(1.0, labels), logits),
                 m.multiply(log_weight, m.add(m.log1p(m.exp(m.negative(m.abs(logits)))),
                                              relu(m.negative(logits)))))


def l2_loss(t, name=None):
    t = _float(t, "l2_loss")
    return m.multiply(m.reduce_sum(m.square(t)), 0.5)


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x**2, axis), epsilon))."""
    x = _float(x, "l2_normalize")
    sq = m.reduce_sum(m.square(x), axis=axis if axis is not None else dim, keepdims=True)
    return m.multiply(x, m.rsqrt(m.maximum(sq, epsilon)))


def moments(x, axes, shift=None, keepdims=False, name=None):
    """Mean and variance over `axes` (float16 inputs are computed in float32)."""
    x = tensor(x)
    y = m.cast(x, dtypes.float32) if x.dtype == dtypes.float16 else x
    mean = m.reduce_mean(y, axis=axes, keepdims=True)
    var = m.reduce_mean(m.squared_difference(y, a.stop_gradient(mean)), axis=axes,
                        keepdims=True)
    if not keepdims:
        mean = a.squeeze(mean, axis=axes)
        var = a.squeeze(var, axis=axes)
    if y is not x:
        mean, var = m.cast(mean, x.dtype), m.cast(var, x.dtype)
    return mean, var


def weighted_moments(x, axes, frequency_weights, keepdims=False, name=None):
    x = tensor(x)
    w = m.cast(frequency_weights, x.dtype)
    wsum = m.reduce_sum(m.multiply(w, m._ones_like(x)), axis=axes, keepdims=True)
    mean = m.div_no_nan(m.reduce_sum(m.multiply(x, w), axis=axes, keepdims=True), wsum)
    var = m.div_no_nan(m.reduce_sum(m.multiply(w, m.squared_difference(x, a.stop_gradient(mean))),
                                    axis=axes, keepdims=True), wsum)
    if not keepdims:
        mean, var = a.squeeze(mean, axis=axes), a.squeeze(var, axis=axes)
    return mean, var


def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    divisor = m.reciprocal(tensor(counts))
    mean = m.multiply(mean_ss, divisor)
    if shift is not None:
        mean = m.add(mean, shift)
    var = m.subtract(m.multiply(variance_ss, divisor),
                     m.square(m.multiply(mean_ss, divisor)))
    return mean, var


def fused_batch_norm(x, scale, offset, mean=None, variance=None, epsilon=0.001,
                     data_format="NHWC", is_training=True, name=None,
                     exponential_avg_factor=1.0):
    """Batch normalization over all axes but the channel axis; returns (y, mean, variance)."""
    x = tensor(x)
    nd = x._value.ndim
    if nd not in (4, 5):  # TensorFlow's FusedBatchNorm takes 4-D (or 5-D) inputs
        raise InvalidArgumentError(f"fused_batch_norm: x must be a 4-D or 5-D tensor, got "
                                   f"shape {list(x._value.shape)}")
    if data_format not in ("NHWC", "NCHW", "NDHWC", "NCDHW"):
        raise InvalidArgumentError(f"fused_batch_norm: data_format must be NHWC, NCHW, NDHWC "
                                   f"or NCDHW, got {data_format!r}")
    ch = 1 if data_format.startswith("NC") else nd - 1
    axes = [i for i in range(nd) if i != ch]
    shape = [1] * nd
    shape[ch] = -1
    if is_training:
        bm, bv = moments(x, axes)
        n = x._value.size // max(x._value.shape[ch], 1)
        out_var = m.multiply(bv, n / max(n - 1, 1))  # TensorFlow reports the unbiased variance
    else:
        bm, bv = tensor(mean), tensor(variance)
        out_var = bv
    y = batch_normalization(x, a.reshape(bm, shape), a.reshape(bv, shape),
                            a.reshape(offset, shape), a.reshape(scale, shape), epsilon)
    return y, bm, out_var


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    inv = m.rsqrt(m.add(variance, variance_epsilon))
    if scale is not None:
        inv = m.multiply(inv, scale)
    out = m.multiply(x, inv)
    shift = m.negative(m.multiply(mean, inv))
    if offset is not None:
        shift = m.add(shift, offset)
    return m.add(out, shift)


def dropout(x, rate, noise_shape=None, seed=None, name=None, rng=None):
    """Zeroes elements with probability `rate` and scales the rest by 1 / (1 - rate)."""
    from tenfold.ops import random_ops
    x = _float(x, "dropout")
    if isinstance(rate, Tensor):
        rate = float(rate)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be a scalar tensor or a float in the range "
                         f"[0, 1), got {rate}")
    if rate == 0:
        return x
    if noise_shape is None:
        shape = x._value.shape
    else:
        noise_shape = a._ints(noise_shape, "dropout's noise_shape")
        if len(noise_shape) != x._value.ndim:
            raise InvalidArgumentError(f"dropout: noise_shape {list(noise_shape)} must have "
                                       f"the rank of x {list(x._value.shape)}")
        shape = tuple(x._value.shape[i] if d == -1 else int(d) for i, d in enumerate(noise_shape))
    if rng is None:
        return m.multiply(x, random_ops.dropout_mask(shape, x.dtype, rate, seed))
    keep = m.cast(m.greater_equal(rng(shape, x.dtype), rate), x.dtype)
    return m.multiply(m.multiply(x, 1.0 / (1.0 - rate)), keep)


def stateless_dropout(x, rate, seed, rng_alg=None, noise_shape=None, name=None):
    from tenfold.ops import random_ops
    return dropout(x, rate, noise_shape,
                   rng=lambda shape, dtype: random_ops.stateless_uniform(shape, seed, dtype=dtype))


def embedding_lookup(params, ids, max_norm=None, name=None):
    """Rows of params (a tensor, or a list of shards joined along axis 0) at ids."""
    if isinstance(params, (list, tuple)):
        if not params:
            raise InvalidArgumentError("embedding_lookup: params must be a tensor or a "
                                       "non-empty list of shards, got an empty list")
        params = a.concat(list(params), 0) if len(params) > 1 else params[0]
    ids = tensor(ids)
    out = a.gather(params, ids)
    if max_norm is not None:  # each embedding (the axes after the ids' axes) clipped alone
        from tenfold.ops.functional_ops import clip_by_norm
        axes = list(range(ids._value.ndim, out._value.ndim))
        out = clip_by_norm(out, max_norm, axes=axes if axes else None) if axes else \
            m.multiply(m.sign(out), m.minimum(m.abs(out), m.cast(max_norm, out.dtype)))
    return out


def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    targets, log_input = binary(targets, log_input, "log_poisson_loss")
    result = m.subtract(m.exp(log_input), m.multiply(log_input, targets))
    if compute_full_loss:
        stirling = m.add(m.subtract(m.multiply(targets, m.log(targets)), targets),
                         m.multiply(0.5, m.log(m.multiply(2 * np.pi, targets))))
        keep = m.logical_and(m.greater_equal(targets, 0), m.less_equal(targets, 1))
        result = m.add(result, m.where(keep, m.zeros_like(targets), stirling))
    return result


def _num_replicas_in_sync():
    """tf.distribute's replica count (1 unless a strategy is in use: tenfold/distribute)."""
    import sys
    mod = sys.modules.get("tenfold.distribute.strategy")
    return 1 if mod is None else mod.get_strategy().num_replicas_in_sync


def scale_regularization_loss(regularization_loss):
    """The regularization loss divided by the number of replicas in sync (TF's definition)."""
    loss = m.add_n(regularization_loss) if isinstance(regularization_loss, (list, tuple)) \
        else tensor(regularization_loss)
    n = _num_replicas_in_sync()
    return loss if n == 1 else m.divide(loss, m.cast(n, loss.dtype))


def zero_fraction(value, name=None):
    v = tensor(value)
    return m.reduce_mean(m.cast(m.equal(v, 0), dtypes.float32))


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    loss = tensor(per_example_loss)
    if sample_weight is not None:
        loss = m.multiply(loss, sample_weight)
    # without global_batch_size: this replica's batch times the replicas in sync (as TF)
    n = global_batch_size if global_batch_size is not None else max(loss._value.shape[0] if
                                                                    loss._value.ndim else 1, 1) \
        * _num_replicas_in_sync()
    n = _checks.finite_number(n, "nn.compute_average_loss", "global_batch_size")
    return m.divide(m.reduce_sum(loss), n)


def softmax_v2(logits, axis=None, name=None):
    return softmax(logits, axis, name)


_ = _div


def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    return a.top_k(input, k, sorted, index_type)


def in_top_k(targets, predictions, k, name=None):
    return a.in_top_k(targets, predictions, k)


space_to_depth = a.space_to_depth
depth_to_space = a.depth_to_space
