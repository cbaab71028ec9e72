"""Fusion-only primitives: the graph optimizer (tenfold/graph/executor.py) puts them in place
of chains of ordinary primitives, after differentiation, so tapes never record them. Each
sits beside the unfused ops it replaces; their numbers are those of the chain.

| fused primitive               | replaces                                                  |
|-------------------------------|-----------------------------------------------------------|
| relu_grad(g, y)               | multiply(g, cast(greater(y, 0)))  (ReLU's backward mask)  |
| bias_relu(x, b)               | relu(add(x, b))                   (jit_compile, Numba)    |
| conv_bias_act_pool(x, w, b)   | max_pool(conv_bias_act(x, w, b))  (2x2/2, kept argmax)    |
| conv_backprop_input_pooled    | conv_backprop_input(max_pool_grad(y, out, g), w)          |
| conv_backprop_filter_pooled   | conv_backprop_filter(x, max_pool_grad(y, out, g))         |

Training-mode BatchNormalization (`batch_norm_train`, `batch_norm_stats`,
`batch_norm_train_grad`): called by the Keras layer, not a graph rewrite; see its table below.

(`conv_bias_act`, conv + bias + ReLU in one pass, is not fusion-only: Keras convolution
layers call it eagerly; it is declared in conv_ops.py.)

Whole-sequence recurrent primitives: not graph rewrites but called by Keras's LSTM, GRU and
SimpleRNN layers (tenfold/keras/layers/rnn.py) when their configuration allows (tanh /
sigmoid, no recurrent dropout in training), so eager, tf.function and the tape all run the
same declaration. Kernels: tenfold/ops/recurrent_kernels.py. Each output is a time-major
workspace (see there); the layers slice the states out of it.

| primitive                        | replaces (the per-step composition in rnn.py)            |
|----------------------------------|-----------------------------------------------------------|
| lstm_sequence(x, w, u, b, h0, c0[, mask]) | for each t: z = x_t @ w + b + h @ u; i, f, o =    |
|                                  | sigmoid, g = tanh; c = f*c + i*g; h = o*tanh(c); masked   |
|                                  | steps keep (h, c)                                         |
| gru_sequence(x, w, u, b, rb, h0[, mask])  | GRUCell steps (reset_after True/False)            |
| simple_rnn_sequence(x, w, u, b, h0[, mask]) | h = tanh(x_t @ w + b + h @ u)                   |
| *_sequence_grad                  | the reverse loop: the tape's backward of the above        |
"""
import numpy as np

from tenfold.backend import kernels as _kernels
from tenfold.ops import recurrent_kernels as _rk
from tenfold.ops.registry import primitive

GRAPH_ONLY = "a graph-only fusion, made after differentiation (the ops it replaces have grads)"
_JIT_DTYPES = _kernels.FLOAT_DTYPES  # Numba has no float16


def _jit_ok():
    from tenfold import jit
    return jit.available()


def _jit_kernels():
    from tenfold import jit
    return jit.kernels()


def _conv_ops():
    from tenfold.ops import conv_ops
    return conv_ops


# ------------------------------------------------------------------------------------------
# relu_grad: replaces multiply(g, cast(greater(y, 0), g.dtype))

def _relu_grad_kernel(g, y):
    return np.multiply(g, np.greater(y, y.dtype.type(0)))


def _relu_grad_out(g, y, out):
    return np.multiply(g, np.greater(y, y.dtype.type(0)), out=out)


def _relu_grad_jit(g, y):
    return _relu_grad_jit_out(g, y, np.empty_like(g))


def _relu_grad_jit_out(g, y, out):
    if g.flags.c_contiguous and y.flags.c_contiguous and out.flags.c_contiguous and \
            g.dtype == y.dtype and g.dtype in _JIT_DTYPES:
        t = g.dtype.type
        _jit_kernels().relu_grad(g.reshape(-1), y.reshape(-1), out.reshape(-1), t(0), t(1))
        return out
    return _relu_grad_out(g, y, out)


# a primitive with a gradient, so graphs that contain it can be replayed under a tape
relu_grad = primitive("relu_grad", _relu_grad_kernel,
                      grads=(lambda g, o, dy, y: relu_grad(g, y), None),
                      aliasing="fresh", out_kernel=_relu_grad_out, inplace=True,
                      jit_kernel=(_relu_grad_jit, _relu_grad_jit_out))


# ------------------------------------------------------------------------------------------
# bias_relu: replaces relu(add(x, b)) (graphs compiled with jit_compile)

def _bias_relu_kernel(x, b):
    return _bias_relu_out(x, b, np.empty_like(x))


def _bias_relu_out(x, b, out):
    if x.flags.c_contiguous and out.flags.c_contiguous and x.dtype in _JIT_DTYPES and \
            b.dtype == x.dtype and _jit_ok():
        c = b.shape[0]
        _jit_kernels().bias_relu(x.reshape(-1, c), b, out.reshape(-1, c), x.dtype.type(0))
        return out
    np.add(x, b, out=out)
    return _kernels.relu(out, out)


bias_relu = primitive("bias_relu", _bias_relu_kernel, no_grad=GRAPH_ONLY, aliasing="fresh",
                      out_kernel=_bias_relu_out, inplace=True)


# ------------------------------------------------------------------------------------------
# conv_bias_act_pool: replaces max_pool(conv_bias_act(x, w, b)) for a stride-1 conv and 2x2
# stride-2 pooling; y (the conv output) is a shape-only stand-in

def _conv_bias_act_pool_kernel(x, w, b, pads, relu, jit=False):
    return _conv_ops().conv_bias_act_pool(x, w, b, pads, relu, jit)


def _conv_flops(inputs, out, params):
    return _conv_ops().conv_flops(inputs, out, params)


def _conv_adjoint_flops(inputs, out, params):
    return _conv_ops().conv_flops(inputs, out, {**params, "adjoint": True})


conv_bias_act_pool = primitive("conv_bias_act_pool", _conv_bias_act_pool_kernel,
                               no_grad=GRAPH_ONLY, flops=_conv_flops)


# ------------------------------------------------------------------------------------------
# a stride-1 conv's gradients through 2x2 max pooling: replace
# conv_backprop_input(max_pool_grad(y, out, g), w) and conv_backprop_filter(x, max_pool_grad(..))
# (see conv_ops.conv_backprop_input_pooled). `pool_route`: (position of y, position of the
# pooled gradient g); y is read only for its shape.

def _conv_bpf_pooled_kernel(x, y, out, g, w_shape, pads, with_bias=False, jit=False):
    return _conv_ops().conv_backprop_filter_pooled(x, y, out, g, w_shape, pads, with_bias, jit)


def _conv_bpi_pooled_kernel(y, out, g, w, x_shape, pads, jit=False):
    return _conv_ops().conv_backprop_input_pooled(y, out, g, w, x_shape, pads, jit)


conv_bpf_pooled = primitive("conv_backprop_filter_pooled", _conv_bpf_pooled_kernel,
                            no_grad=GRAPH_ONLY, pool_route=(1, 3), flops=_conv_adjoint_flops)
conv_bpi_pooled = primitive("conv_backprop_input_pooled", _conv_bpi_pooled_kernel,
                            no_grad=GRAPH_ONLY, pool_route=(0, 2), flops=_conv_adjoint_flops)


def pooled_grad_readers():
    """The unfused readers of dz = max_pool_grad(y, out, g) that the executor rewrites to read
    g instead (conv_backprop_* become the pooled primitives above; sums of dz become sums of
    g): {primitive: position of dz among its inputs}."""
    from tenfold.ops import conv_ops, math_ops
    return {conv_ops._conv_bpf: 1, conv_ops._conv_bpi: 0, conv_ops._bias_bp: 0,
            math_ops._reduce_sum: 0}


# ------------------------------------------------------------------------------------------
# whole-sequence recurrent layers (see the table above). Inputs: x (batch, time, D), w (D, G),
# u (H, G), biases, initial states (batch, H), then optionally a bool mask (batch, time).
# The gradient runs the reverse loop as its own primitive and slices its flat result.

NO_DOUBLE_BACKWARD = ("the reverse loop of a whole-sequence recurrent op: no second derivative "
                      "(use the layer's per-step path, e.g. unroll=True, for higher orders)")


def _split_flat(flat, shapes):
    from tenfold.ops import array_ops
    return [array_ops.reshape(flat[o:o + k], shape) for o, k, shape in _rk.unpack(shapes)]


def _recurrent_flops(gates, backward=False):
    def flops(inputs, out, params):
        x, u = inputs[0 if not backward else 2]._value, inputs[2 if not backward else 4]._value
        n, t, d = x.shape
        h = u.shape[0]
        f = 2 * n * t * (d + h) * gates * h + 8 * n * t * gates * h
        return 3 * f if backward else f
    return flops


def _lstm_grads(g, ws, x, w, u, b, h0, c0, *mask, go_backwards=False):
    flat = lstm_sequence_grad(g, ws, x, w, u, h0, c0, *mask, go_backwards=go_backwards)
    return _split_flat(flat, _rk.lstm_grad_shapes(x._value, w._value, u._value)) + \
        [None] * len(mask)


lstm_sequence = primitive("lstm_sequence", _rk.lstm_forward, grads=_lstm_grads,
                          aliasing="fresh", uses_blas=True, flops=_recurrent_flops(4))
lstm_sequence_grad = primitive("lstm_sequence_grad", _rk.lstm_backward,
                               no_grad=NO_DOUBLE_BACKWARD, aliasing="fresh", uses_blas=True,
                               flops=_recurrent_flops(4, backward=True))


def _gru_grads(g, ws, x, w, u, b, rb, h0, *mask, go_backwards=False, reset_after=True):
    flat = gru_sequence_grad(g, ws, x, w, u, h0, *mask, go_backwards=go_backwards,
                             reset_after=reset_after)
    return _split_flat(flat, _rk.gru_grad_shapes(x._value, w._value, u._value)) + \
        [None] * len(mask)


gru_sequence = primitive("gru_sequence", _rk.gru_forward, grads=_gru_grads,
                         aliasing="fresh", uses_blas=True, flops=_recurrent_flops(3))
gru_sequence_grad = primitive("gru_sequence_grad", _rk.gru_backward,
                              no_grad=NO_DOUBLE_BACKWARD, aliasing="fresh", uses_blas=True,
                              flops=_recurrent_flops(3, backward=True))


def _simple_rnn_grads(g, ws, x, w, u, b, h0, *mask, go_backwards=False):
    flat = simple_rnn_sequence_grad(g, ws, x, w, u, h0, *mask, go_backwards=go_backwards)
    return _split_flat(flat, _rk.simple_rnn_grad_shapes(x._value, w._value, u._value)) + \
        [None] * len(mask)


simple_rnn_sequence = primitive("simple_rnn_sequence", _rk.simple_rnn_forward,
                                grads=_simple_rnn_grads, aliasing="fresh", uses_blas=True,
                                flops=_recurrent_flops(1))
simple_rnn_sequence_grad = primitive("simple_rnn_sequence_grad", _rk.simple_rnn_backward,
                                     no_grad=NO_DOUBLE_BACKWARD, aliasing="fresh",
                                     uses_blas=True, flops=_recurrent_flops(1, backward=True))


# ------------------------------------------------------------------------------------------
# BatchNormalization in training, channels-last (normalised over every axis but the last):
#
# | fused primitive                         | replaces (keras BatchNormalization.call)       |
# |-----------------------------------------|-------------------------------------------------|
# | batch_norm_train(x, gamma, beta)        | mean = reduce_mean(x); var = reduce_mean(square |
# |                                         | (x - mean)); (x - mean) * rsqrt(var + eps) *    |
# |                                         | gamma + beta  (its unfused twin, still used    |
# |                                         | with masks, other axes, integer or half types) |
# | batch_norm_stats(x, y)                  | [mean; var] of that forward (for the moving    |
# |                                         | averages), kept by the forward, no second pass |
# | batch_norm_train_grad(g, x, y, gamma)   | the tape's backward through the chain above:   |
# |                                         | [dx | dgamma | dbeta] flattened               |
#
# Forward: one GEMV for the mean, one pass for x - mean, one for the variance (einsum), the
# scale and shift in place: 5 passes over x instead of the chain's 8 plus allocations.
# Backward, with xhat = (x - mean) * inv: dbeta = sum g, dgamma = inv * (sum g*x - mean *
# dbeta), dx = g * a + x * b + c per channel (a = gamma * inv, b = -a * inv * dgamma / n,
# c = -a * dbeta / n - b * mean): 4 passes instead of about 12.

_bn_memo = {}


def _bn_remember(y, x, mean, var):
    key = id(y)
    import weakref
    _bn_memo[key] = (weakref.ref(y, lambda _, key=key: _bn_memo.pop(key, None)),
                     weakref.ref(x), mean, var)


def _bn_recall(x, y):
    e = _bn_memo.get(id(y))
    if e is not None and e[0]() is y and e[1]() is x:
        return e[2], e[3]
    return None


def _bn_rows(x):
    c = x.shape[-1]
    return x.reshape(-1, c), max(1, x.size // max(1, c))


def _bn_moments(x2, n):
    ones = np.ones(x2.shape[0], x2.dtype)
    with _kernels.single_threaded_blas():
        mean = (ones @ x2) / x2.dtype.type(n)
    d = np.subtract(x2, mean)
    var = np.einsum("ij,ij->j", d, d) / x2.dtype.type(n)
    return mean, var, d


def _batch_norm_train_kernel(x, gamma, beta, epsilon):
    x = np.ascontiguousarray(x)
    x2, n = _bn_rows(x)
    mean, var, d = _bn_moments(x2, n)
    scale = gamma / np.sqrt(var + x.dtype.type(epsilon))
    np.multiply(d, scale, out=d)
    d += beta
    y = d.reshape(x.shape)
    _bn_remember(y, x, mean, var)
    return y


def _batch_norm_stats_kernel(x, y):
    kept = _bn_recall(x, y)
    if kept is None:
        x2, n = _bn_rows(np.ascontiguousarray(x))
        mean, var, _ = _bn_moments(x2, n)
    else:
        mean, var = kept
    return np.stack([mean, var])


def _batch_norm_train_grad_kernel(g, x, y, gamma, epsilon):
    x = np.ascontiguousarray(x)
    g = np.ascontiguousarray(g, dtype=x.dtype)
    x2, n = _bn_rows(x)
    g2 = g.reshape(x2.shape)
    kept = _bn_recall(x, y)
    if kept is None:
        mean, var, _ = _bn_moments(x2, n)
    else:
        mean, var = kept
    t = x.dtype.type
    inv = 1 / np.sqrt(var + t(epsilon))
    ones = np.ones(x2.shape[0], x.dtype)
    with _kernels.single_threaded_blas():
        dbeta = ones @ g2
    dgamma = inv * (np.einsum("ij,ij->j", g2, x2) - mean * dbeta)
    a = gamma * inv
    b = -a * inv * dgamma / t(n)
    c = -a * dbeta / t(n) - b * mean
    flat = np.empty(x.size + 2 * x.shape[-1], x.dtype)
    dx = flat[:x.size].reshape(x2.shape)
    np.multiply(g2, a, out=dx)
    tmp = np.multiply(x2, b)
    dx += tmp
    dx += c
    flat[x.size:x.size + x.shape[-1]] = dgamma
    flat[x.size + x.shape[-1]:] = dbeta
    return flat


def _bn_grads(g, y, x, gamma, beta, epsilon):
    from tenfold.ops import array_ops
    flat = batch_norm_train_grad(g, x, y, gamma, epsilon=epsilon)
    size, c = int(x._value.size), int(x._value.shape[-1])
    dx = array_ops.reshape(flat[:size], tuple(x._value.shape))
    return [dx, flat[size:size + c], flat[size + c:]]


def _bn_flops(inputs, out, params):
    return 8 * int(inputs[0]._value.size)


BN_NO_DOUBLE_BACKWARD = ("the one-pass backward of batch_norm_train: no second derivative "
                         "(the unfused composition, used under nested tapes, has one)")

batch_norm_train = primitive("batch_norm_train", _batch_norm_train_kernel, grads=_bn_grads,
                             aliasing="fresh", flops=_bn_flops,
                             doc="training-mode batch normalization over all axes but the last")
batch_norm_stats = primitive("batch_norm_stats", _batch_norm_stats_kernel,
                             no_grad="moving statistics are read under stop_gradient",
                             aliasing="fresh",
                             doc="[mean; variance] of the batch_norm_train that made y from x")
batch_norm_train_grad = primitive("batch_norm_train_grad", _batch_norm_train_grad_kernel,
                                  no_grad=BN_NO_DOUBLE_BACKWARD, aliasing="fresh",
                                  flops=_bn_flops)
