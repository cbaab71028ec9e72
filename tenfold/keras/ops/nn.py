"""`keras.ops.nn`: activations, softmax family, cross-entropies, convolution and pooling,
normalization (Keras 3's names and defaults; `gelu` is approximate by default here, as in
`keras.ops`)."""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops import nn_ops as nn
from tenfold.keras.ops._dtypes import (const, npd, shape_of, size_of, tensor, to_float, promote,
                                     np_dtype, standardize_dtype)
from tenfold.keras.ops import _logits



def relu(x):
    return nn.relu(tensor(x))


def relu6(x):
    x = tensor(x)
    return m.minimum(nn.relu(x), const(np.asarray(6, npd(x))))


def sigmoid(x):
    x = to_float(x)
    return _logits.tag(m.sigmoid(x), x)


def hard_sigmoid(x):
    x = to_float(x)
    return m.divide(relu6(m.add(x, 3.0)), 6.0)


def hard_silu(x):
    x = to_float(x)
    return m.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def softplus(x):
    return m.softplus(to_float(x))


def softsign(x):
    x = to_float(x)
    return m.divide(x, m.add(m.abs(x), 1.0))


def silu(x):
    x = to_float(x)
    return m.multiply(x, m.sigmoid(x))


swish = silu


def log_sigmoid(x):
    x = to_float(x)
    return m.negative(m.softplus(m.negative(x)))


def leaky_relu(x, negative_slope=0.2):
    x = to_float(x)
    return m.where(m.greater_equal(x, 0.0), x, m.multiply(x, negative_slope))


def elu(x, alpha=1.0):
    x = to_float(x)
    return m.where(m.greater(x, 0.0), x, m.multiply(m.expm1(m.minimum(x, 0.0)), alpha))


def selu(x):
    x = to_float(x)
    return nn.selu(x)


def celu(x, alpha=1.0):
    x = to_float(x)
    return m.add(nn.relu(x), m.minimum(m.multiply(m.expm1(m.divide(m.minimum(x, 0.0), alpha)),
                                                  alpha), 0.0))


def gelu(x, approximate=True):
    return nn.gelu(to_float(x), approximate=approximate)


def glu(x, axis=-1):
    x = to_float(x)
    x1, x2 = a.split(x, 2, axis=axis)
    return m.multiply(x1, m.sigmoid(x2))


def tanh_shrink(x):
    x = to_float(x)
    return m.subtract(x, m.tanh(x))


def softmax(x, axis=-1):
    x = to_float(x)
    if axis is None:
        out = a.reshape(nn.softmax(a.reshape(x, (-1,))), shape_of(x))
    elif isinstance(axis, (list, tuple)):
        mx = m.reduce_max(x, axis=list(axis), keepdims=True)
        e = m.exp(m.subtract(x, a.stop_gradient(mx)))
        out = m.divide(e, m.reduce_sum(e, axis=list(axis), keepdims=True))
    else:
        out = nn.softmax(x, axis=axis)
    return _logits.tag(out, x)


def log_softmax(x, axis=-1):
    x = to_float(x)
    if axis is None:
        return a.reshape(nn.log_softmax(a.reshape(x, (-1,))), shape_of(x))
    return nn.log_softmax(x, axis=axis)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    x = tensor(x)
    if npd(x).kind not in "iu":
        x = tensor(x, "int32")
    return a.one_hot(x, int(num_classes), axis=axis, dtype=standardize_dtype(dtype))


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    num_classes = num_classes or kwargs.get("num_tokens")
    x = tensor(inputs)
    oh = one_hot(x, num_classes, axis=-1, dtype=dtype)
    red = -2 if x.ndim > 1 else 0
    out = m.reduce_max(oh, axis=red)
    if axis != -1:
        out = a.transpose(out, _move_last(out.ndim, axis))
    return out


def _move_last(nd, axis):
    axis = axis % nd
    perm = list(range(nd - 1))
    perm.insert(axis, nd - 1)
    return perm


def _crossentropy_operands(target, output):
    # An output that carries its logits (see _logits) keeps its dtype and identity; the
    # target follows it (TensorFlow computes from the logits in their dtype).
    if isinstance(output, Tensor) and _logits.logits_of(output) is not None:
        return tensor(target, output.dtype.name), output
    return promote(target, output, float_only=True)


def binary_crossentropy(target, output, from_logits=False):
    from tenfold.keras.losses.losses import _binary_crossentropy_op
    target, output = _crossentropy_operands(target, output)
    return _binary_crossentropy_op(target, output, from_logits)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    from tenfold.keras.losses.losses import _categorical_crossentropy_op
    target, output = _crossentropy_operands(target, output)
    return _categorical_crossentropy_op(target, output, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    from tenfold.keras.losses.losses import _sparse_categorical_crossentropy_op
    return _sparse_categorical_crossentropy_op(tensor(target), to_float(output),
                                               from_logits=from_logits, axis=axis)


def moments(x, axes, keepdims=False, synchronized=False):
    x = tensor(x)
    orig = x.dtype.name
    cast_back = orig in ("float16", "bfloat16")
    if npd(x).kind in "iub":
        x = to_float(x)
    elif cast_back:
        x = tensor(x, "float32")
    axes = [axes] if isinstance(axes, int) else list(axes)
    mean = m.reduce_mean(x, axis=axes, keepdims=True)
    var = m.reduce_mean(m.square(m.subtract(x, a.stop_gradient(mean))), axis=axes,
                        keepdims=True)
    if not keepdims:
        mean = a.squeeze(mean, axis=axes)
        var = a.squeeze(var, axis=axes)
    if cast_back:
        mean, var = tensor(mean, orig), tensor(var, orig)
    return mean, var


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    x = tensor(x)
    nd = x.ndim
    axis = axis % nd
    shape = [1] * nd
    shape[axis] = shape_of(x)[axis]

    def prep(v):
        if v is None:
            return None
        v = tensor(v, x.dtype.name)
        return a.reshape(v, shape) if v.ndim == 1 else v
    mean, variance, offset, scale = map(prep, (mean, variance, offset, scale))
    inv = m.rsqrt(m.add(variance, epsilon))
    if scale is not None:
        inv = m.multiply(inv, scale)
    res = m.multiply(m.subtract(x, mean), inv)
    if offset is not None:
        res = m.add(res, offset)
    return res


def normalize(x, axis=-1, order=2, epsilon=None):
    from tenfold.keras import backend
    x = to_float(x)
    eps = backend.epsilon() if epsilon is None else epsilon
    if order == 2:
        sq = m.reduce_sum(m.square(x), axis=axis, keepdims=True)
        return m.multiply(x, m.rsqrt(m.maximum(sq, eps)))
    from tenfold.keras.ops.linalg import norm
    n = norm(x, ord=order, axis=axis, keepdims=True)
    return m.divide(x, m.maximum(n, eps))


# ------------------------------------------------------------------ convolution & pooling

def _df(data_format):
    if data_format is None:
        from tenfold.keras import backend
        data_format = backend.image_data_format()
    return data_format


def _conv_ops():
    from tenfold.ops import conv_ops
    return conv_ops


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-d convolution; `kernel` is (spatial..., in_channels / groups, out_channels)."""
    x, w = promote(inputs, kernel)
    return _conv_ops().convolution(x, w, strides=strides, padding=padding.upper(),
                                   data_format=_df(data_format), dilations=dilation_rate)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    x, w = promote(inputs, kernel)
    nd = x.ndim - 2
    cv = _conv_ops()
    if nd == 1:
        cf = _df(data_format) == "channels_first"
        x4 = a.expand_dims(x, 2 if cf else 1)
        w4 = a.expand_dims(w, 0)
        s = strides if isinstance(strides, int) else strides[0]
        d = dilation_rate if isinstance(dilation_rate, int) else dilation_rate[0]
        out = cv.depthwise_conv2d(x4, w4, strides=(1, s), padding=padding.upper(),
                                  data_format=_df(data_format), dilations=(1, d))
        return a.squeeze(out, 2 if cf else 1)
    return cv.depthwise_conv2d(x, w, strides=strides, padding=padding.upper(),
                               data_format=_df(data_format), dilations=dilation_rate)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    dw = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(dw, pointwise_kernel, 1, "valid", data_format, 1)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    x, w = promote(inputs, kernel)
    nd = x.ndim - 2
    df = _df(data_format)
    cf = df == "channels_first"
    sp = shape_of(x)[2:] if cf else shape_of(x)[1:-1]
    st = [strides] * nd if isinstance(strides, int) else list(strides)
    dil = [dilation_rate] * nd if isinstance(dilation_rate, int) else list(dilation_rate)
    ks = shape_of(w)[:nd]
    op = [None] * nd if output_padding is None else (
        [output_padding] * nd if isinstance(output_padding, int) else list(output_padding))
    out_sp = []
    for i in range(nd):
        k = (ks[i] - 1) * dil[i] + 1
        if op[i] is None:
            n = sp[i] * st[i] if padding.lower() == "same" else sp[i] * st[i] + max(k - st[i], 0)
        else:
            pad = (k // 2) * 2 if padding.lower() == "same" else 0
            n = (sp[i] - 1) * st[i] + k - pad + op[i]
        out_sp.append(n)
    cout = shape_of(w)[-2]
    oshape = [shape_of(x)[0]] + ([cout] + out_sp if cf else out_sp + [cout])
    return _conv_ops().conv_transpose(x, w, oshape, strides=st, padding=padding.upper(),
                                      data_format=df, dilations=dil)


def _pool(kind, inputs, pool_size, strides, padding, data_format):
    x = tensor(inputs)
    nd = x.ndim - 2
    ps = [pool_size] * nd if isinstance(pool_size, int) else list(pool_size)
    st = ps if strides is None else ([strides] * nd if isinstance(strides, int)
                                     else list(strides))
    cv = _conv_ops()
    fn = cv.max_pool if kind == "max" else cv.avg_pool
    return fn(x, ps, st, padding.upper(), data_format=_df(data_format))


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("avg", inputs, pool_size, strides, padding, data_format)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None,
                          is_causal=False, **kwargs):
    """softmax(q k^T * scale + bias, masked) v with (batch, seq, heads, dim) inputs."""
    q, k, v = promote(query, key, value, float_only=True)
    d = shape_of(q)[-1]
    scale = (1.0 / np.sqrt(d)) if scale is None else scale
    from tenfold.ops import composite as c
    logits = m.multiply(c.einsum("bqhd,bkhd->bhqk", q, k), float(scale))
    if bias is not None:
        logits = m.add(logits, tensor(bias, logits.dtype.name))
    big_neg = float(np.finfo(np_dtype(logits.dtype.name)).min) * 0.7
    if mask is not None:
        logits = m.where(a.broadcast_to(tensor(mask, "bool"), shape_of(logits)), logits,
                         m.multiply(m.ones_like(logits), big_neg))
    if is_causal:
        tq, tk = shape_of(logits)[-2:]
        cm = const(np.broadcast_to(np.tril(np.ones((tq, tk), bool)), shape_of(logits)))
        logits = m.where(cm, logits, m.multiply(m.ones_like(logits), big_neg))
    w = nn.softmax(logits, axis=-1)
    return c.einsum("bhqk,bkhd->bqhd", w, v)
