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
| matmul_bias(a, w, b, shape)   | add(reshape(matmul(a, w), shape), b)  (a Dense bias)      |
| matmul_bias(..., relu=True)   | relu(matmul_bias(a, w, b, shape))     (Dense with ReLU)   |
| softmax_xent_all(lab, x, g)   | softmax(x), softmax_cross_entropy_with_logits(lab, x) and |
|                               | softmax_xent_grad(g, lab, x): one node, three outputs     |
|                               | (graph/loss_fusion.py; sparse_softmax_xent_all likewise)  |

`leaky_relu(x, alpha)` (maximum(multiply(x, alpha), x), 0 < alpha <= 1) and its gradient
`leaky_relu_grad(g, y, alpha)`: called by `tf.nn.leaky_relu` (so by Keras's LeakyReLU), not
a graph rewrite; one blocked pass each, bit for bit the chain's values (`leaky_relu_unfused`).

`argmax_matches(y_true, y_pred, dtype)`: accuracy's per-sample matches, called by Keras's
categorical and sparse categorical accuracy (not a graph rewrite): cast(equal(argmax(y_true),
argmax(y_pred))) for one-hot labels, cast(equal(y_true, cast(argmax(y_pred)))) for class
indices, in one native pass (`argmax_matches_unfused` is the chain).

Training-mode BatchNormalization (`batch_norm_train`, `batch_norm_stats`,
`batch_norm_train_grad`): called by the Keras layer, not a graph rewrite; see its table below.
Likewise `heads_matmul`, MultiHeadAttention's batched products with their results and
gradients in the projections' layouts, and `attention`, its whole softmax(q k^T) v in one
primitive (see their tables below).

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

from tenfold.backend import gemm_native as _gemm
from tenfold.backend import kernels as _kernels
from tenfold.backend import norm_kernels as _norm
from tenfold.backend import row_kernels as _rows
from tenfold.backend import xp_of
from tenfold.ops import recurrent_kernels as _rk
from tenfold.ops.registry import primitive

GRAPH_ONLY = "a graph-only fusion, made after differentiation (the ops it replaces have grads)"
_JIT_DTYPES = _kernels.FLOAT_DTYPES  # Numba has no float16


class _KeptForBackward:
    """Values a fused forward leaves for its backward (batch_norm_train's moments, fused
    attention's probabilities), kept while the key array lives and read back only for the
    same key and companion objects (identity, not values): a stale or foreign entry is never
    read, and a backward that finds none recomputes. Arrays that take no weak references
    (some backends') are not kept."""

    def __init__(self):
        self.memo = {}

    def keep(self, key, companions, value):
        import weakref
        k = id(key)
        try:
            self.memo[k] = (weakref.ref(key, lambda _, k=k: self.memo.pop(k, None)),
                            [weakref.ref(c) for c in companions], value)
        except TypeError:
            pass

    def get(self, key, companions):
        e = self.memo.get(id(key))
        if e is None or e[0]() is not key or len(e[1]) != len(companions) or \
                any(r() is not c for r, c in zip(e[1], companions)):
            return None
        return e[2]

    def forget(self, key):
        self.memo.pop(id(key), None)


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
    if type(g) is np.ndarray and g.shape == y.shape and g.dtype == y.dtype:
        return _relu_grad_out(g, y, np.empty_like(g))
    return np.multiply(g, np.greater(y, y.dtype.type(0)))


def _relu_grad_out(g, y, out):
    # one native pass (kernels.relu_grad: the same values), else the mask and the multiply
    if _kernels.relu_grad(g, y, out):
        return out
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
# matmul_bias: replaces add(reshape(matmul(a, w, transpose_b), shape), b) (or without the
# reshape), a Dense / EinsumDense layer's product and bias, where b's values make up the
# product's N columns (b.shape is shape's tail). The native GEMM adds b to each block of
# rows as it stores it (no pass of its own over the output); else the matmul, then the add
# in place. Either way every element is round(round(a @ w) + b), the chain's value.
# In-process A/B, one thread, process-time medians of 15 alternating runs of 30 (the shared
# 2-core machine under load ~3), OpenBLAS matmul + reshape + add -> matmul_bias native, ms:
# (4096, 32) x (32, 64) + (2, 32): 0.37 -> 0.18; (4096, 64) x (64, 32) + (32,): 0.29 -> 0.18;
# (4096, 32) x (32, 32) + (32,): 0.20 -> 0.10.

def _product_plus_bias(a, w, b, transpose_b, out=None, relu=False):
    """(a @ w) + b as (M, N), into out (M, N) where given: natively in one pass, else the
    product, then the bias added in place (kernels.bias_add, np.add where that declines);
    with `relu`, then max(., 0) (in the bias's pass: kernels.bias_relu)."""
    wv = w.swapaxes(-1, -2) if transpose_b else w
    bf = b.reshape(-1)
    y = _gemm.matmul(a, wv, out=out, bias=bf)
    if y is None:
        y = _kernels.matmul_stack(a, wv, out=out)
        if relu:
            return _kernels.bias_relu(y, bf, y)
        if not _kernels.bias_add(y, bf, y):
            np.add(y, bf, out=y)
    elif relu:
        _kernels.relu(y, y)
    return y


def _matmul_bias_out(a, w, b, out, transpose_b=False, shape=None, relu=False):
    if type(out) is not np.ndarray or not out.flags.c_contiguous:
        out[...] = _matmul_bias_kernel(a, w, b, transpose_b, shape, relu)
        return out
    n = w.shape[0 if transpose_b else 1]
    _product_plus_bias(a, w, b, transpose_b, out.reshape(a.shape[0], n), relu)  # out's view
    return out


def _matmul_bias_kernel(a, w, b, transpose_b=False, shape=None, relu=False):
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return _product_plus_bias(a, w, b, transpose_b, None, relu).reshape(shape)
    from tenfold.ops import math_ops as m
    wv = w.swapaxes(-1, -2) if transpose_b else w
    y = m._mm_kernel(a, wv) + b.reshape(-1)
    if relu:
        y = _kernels.relu(y, y)
    return y.reshape(shape)


def _matmul_bias_grads(g, out, a, w, b, transpose_b=False, shape=None, relu=False):
    """The chain's gradients: matmul's for a and w (g seen as (M, N)), g summed over its
    leading axes for b; with `relu`, g first through the ReLU (relu_grad on the output)."""
    from tenfold.ops import array_ops as arr, math_ops as m
    if relu:
        g = relu_grad(g, out)
    nb = len(b._value.shape)
    g2 = arr.reshape(g, (a._value.shape[0], w._value.shape[0 if transpose_b else 1]))
    da = m._mm_grad_a(g2, None, a, w, False, transpose_b)
    dw = m._mm_grad_b(g2, None, a, w, False, transpose_b)
    db = m._reduce_sum(g, axis=tuple(range(len(shape) - nb)))
    return [da, dw, db]


matmul_bias = primitive("matmul_bias", _matmul_bias_kernel, grads=_matmul_bias_grads,
                        aliasing="fresh", uses_blas=True, out_kernel=_matmul_bias_out)


# ------------------------------------------------------------------------------------------
# leaky_relu: maximum(multiply(x, alpha), x) for 0 < alpha <= 1, in one pass (kernels.
# leaky_relu); its gradient reads the output only (kernels.leaky_relu_backprop), so the
# pre-activation is not kept for the backward pass, and both are elementwise (the executor
# chains them with a bias add before, say)

def _leaky_relu_out(x, out, alpha):
    return _kernels.leaky_relu(x, alpha, out)


def _leaky_relu_bias_out(x, b, out, alpha):
    return _kernels.bias_leaky_relu(x, b, alpha, out)


def _leaky_relu_grad_out(g, y, out, alpha):
    return _kernels.leaky_relu_backprop(g, y, alpha, out)


leaky_relu_grad = primitive(
    "leaky_relu_grad", lambda g, y, alpha: _kernels.leaky_relu_backprop(g, y, alpha),
    # linear in g; piecewise constant in y
    grads=(lambda gg, o, g, y, alpha: leaky_relu_grad(gg, y, alpha=alpha), None),
    aliasing="fresh", out_kernel=_leaky_relu_grad_out, inplace=True)

leaky_relu = primitive(
    "leaky_relu", lambda x, alpha: _kernels.leaky_relu(x, alpha),
    grads=(lambda g, o, x, alpha: leaky_relu_grad(g, o, alpha=alpha),),
    aliasing="fresh", out_kernel=_leaky_relu_out, inplace=True,
    bias_kernel=_leaky_relu_bias_out)


def leaky_relu_unfused(x, alpha):
    """The chain leaky_relu replaces (tenfold ops), for tests."""
    from tenfold.ops import math_ops as m
    return m.maximum(m.multiply(x, alpha), x)


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
# Normalization and softmax in one kernel call each (issue 17). Each replaces a composition
# of ordinary primitives, kept below as its unfused twin (the tests compare the two, and
# check the gradients against finite differences). Large inputs are processed in blocks of
# rows that stay in the core's cache, so the kernel's passes over a block read it from cache:
# one trip through memory for the whole op instead of one per NumPy call.
#
# | fused primitive                          | unfused twin (what ran before)                |
# |------------------------------------------|-----------------------------------------------|
# | softmax_grad(g, y, axis)                 | gy = g * y; gy - y * reduce_sum(gy, axis)     |
# | softmax_xent_grad(g, labels, logits)     | expand_dims(g) * (softmax(logits) *           |
# |                                          |   reduce_sum(labels) - labels)                |
# | sparse_softmax_xent_grad(g, labels, lg)  | expand_dims(g) * (softmax(lg) - one_hot(lab)) |
# | layer_norm(x, gamma, beta, epsilon)      | LayerNormalization's moments, rsqrt, scale    |
# |                                          | and shift over the last axis (9 primitives)   |
# | layer_norm_grad(g, x, gamma, epsilon)    | the tape's backward of those (about 25)       |

_BLOCK_ELEMS = 1 << 15  # 128 KiB of float32 per block: several live buffers fit in L2


def _row_blocks(x2):
    """Slices of rows of the 2-D view `x2` sized to stay in cache (one slice when small)."""
    rows, cols = x2.shape
    step = max(1, _BLOCK_ELEMS // max(cols, 1))
    if step >= rows:
        return (slice(None),)
    return tuple(slice(i, min(i + step, rows)) for i in range(0, rows, step))


def _last_axis_2d(a, axis):
    """a with `axis` moved last, as a 2-D (rows, axis) array (a view when axis is last)."""
    if axis != a.ndim - 1 and axis != -1:
        a = np.moveaxis(a, axis, -1)
    return a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a


def _from_last_axis(out2, shape, axis, ndim):
    """Undoes _last_axis_2d for a freshly made result."""
    if axis in (-1, ndim - 1):
        return out2.reshape(shape)
    moved = list(shape)
    moved.append(moved.pop(axis))
    return np.ascontiguousarray(np.moveaxis(out2.reshape(moved), -1, axis))


_ONES = {}


def _row_sum(x2):
    """Sums of the rows of 2-D x2 as a column, by a matrix-vector product: NumPy's reduction
    over a short last axis costs about 100 ns per row; the GEMV streams."""
    key = (x2.shape[1], x2.dtype)
    ones = _ONES.get(key)
    if ones is None:
        ones = _ONES[key] = np.ones((x2.shape[1], 1), x2.dtype)
    return np.matmul(x2, ones)


def _col_sum(x2):
    """Sums of the columns of 2-D x2 (a vector-matrix product)."""
    key = (x2.shape[0], x2.dtype)
    ones = _ONES.get(key)
    if ones is None:
        ones = _ONES[key] = np.ones((x2.shape[0], 1), x2.dtype)
    return np.matmul(ones[:, 0], x2)


# |x| below this needs no shift by the row maximum before exp (float32 exp overflows at 88.7
# and a row of e^-60 still sums to a normal number), saving NumPy's slow per-row maximum
_NO_SHIFT = 60.0
_NO_SHIFT_SUM = float(np.exp(_NO_SHIFT))


def _each_block(x2, work, nbytes):
    """work(i, rows) for each block of rows of x2 (`_row_blocks`), the blocks shared out to
    the kernel threads when the arrays are big enough (kernels.run_tasks: serial when small
    or when other processes hold the cores). Blocks write disjoint rows, so results do not
    depend on the threads. Two threads cost 10-50% more CPU in all than one (softmax of
    (8192, 64) float32: 1.12 against 0.99 ms; layer_norm_grad of (64, 64, 32): 1.13 against
    0.74 ms), so they pay wherever the second core is free; the wall-clock gain could not be
    timed on the shared machine (load 5 on 2 cores while this was written)."""
    blocks = _row_blocks(x2)
    if len(blocks) == 1:
        work(0, blocks[0])
        return
    _kernels.run_tasks(list(enumerate(blocks)), lambda t, _: work(*t), nbytes,
                       min_bytes=_kernels.BANDWIDTH_MIN_BYTES)


def softmax_rows(x2, out2):
    """Row softmax of the 2-D x2 into out2 (same shape; may be x2 itself), block by block.
    Without the shift, x <= 60 is checked on the row sums (a sum <= e^60 has no element
    above 60; an overflow gives inf) instead of a second pass over the block, and the rows
    are scaled by their sums' reciprocals (a multiply, cheaper than a divide): (8192, 64)
    float32, single-thread CPU, 1.16 ms against 1.19 ms before (NumPy's exp and the row
    scaling take most of it); the blocks then share out to the threads. The shapes that
    row_kernels.softmax_taken names go to the native kernel where it can be had."""
    if _rows.softmax_narrow(x2, out2) or _rows.softmax(x2, out2):
        return out2
    # in place, a row that fails the check would be lost: then always shift (the blocks are
    # fresh views, so this is asked of the arrays, not of each block)
    inplace = out2 is x2 or np.may_share_memory(x2, out2)

    def work(i, r):
        xb, ob = x2[r], out2[r]
        if xb.size and not inplace and -_NO_SHIFT <= np.min(xb):
            np.exp(xb, out=ob)
            s = _row_sum(ob)
            if np.max(s) <= _NO_SHIFT_SUM:  # also False for inf / nan
                np.divide(xb.dtype.type(1), s, out=s)
                np.multiply(ob, s, out=ob)
                return
        mx = np.max(xb, axis=1, keepdims=True)
        np.subtract(xb, mx, out=ob)
        np.exp(ob, out=ob)
        s = _row_sum(ob)
        np.divide(xb.dtype.type(1), s, out=s)
        np.multiply(ob, s, out=ob)

    _each_block(x2, work, x2.nbytes + out2.nbytes)
    return out2


def _softmax_grad_kernel(g, y, axis=-1):
    if type(g) is not np.ndarray or type(y) is not np.ndarray or g.dtype.itemsize < 4 or \
            g.shape != y.shape or g.dtype != y.dtype:
        return _softmax_grad_reference(g, y, axis)
    g2, y2 = _last_axis_2d(g, axis), _last_axis_2d(y, axis)
    out = np.empty(g2.shape, g.dtype)
    if _rows.softmax_grad(g2, y2, out):  # native (backend/row_kernels.py)
        return _from_last_axis(out, g.shape, axis, g.ndim)

    def work(i, r):
        gb, yb, ob = g2[r], y2[r], out[r]
        np.multiply(gb, yb, out=ob)
        s = _row_sum(ob)
        np.subtract(gb, s, out=ob)
        np.multiply(ob, yb, out=ob)

    _each_block(g2, work, 3 * out.nbytes)
    return _from_last_axis(out, g.shape, axis, g.ndim)


def _softmax_grad_reference(g, y, axis):
    """The unfused twin's arithmetic in NumPy (half precision computes in float32)."""
    dt = np.result_type(g.dtype, y.dtype)
    g32, y32 = g.astype(np.float32) if g.dtype.itemsize < 4 else g, \
        y.astype(np.float32) if y.dtype.itemsize < 4 else y
    gy = g32 * y32
    return (gy - y32 * np.sum(gy, axis=axis, keepdims=True)).astype(dt, copy=False)


def _softmax_grad_grads(G, out, g, y, axis=-1):
    """dx = y * (g - s), s = sum(g * y): d/dg = softmax_grad(G, y);
    d/dy = G * (g - s) - g * sum(G * y)."""
    from tenfold.ops import math_ops as m
    s = m._reduce_sum(m._mul(g, y), axis=(axis,), keepdims=True)
    t = m._reduce_sum(m._mul(G, y), axis=(axis,), keepdims=True)
    dy = m._sub(m._mul(G, m._sub(g, s)), m._mul(g, t))
    return [softmax_grad(G, y, axis=axis), dy]


softmax_grad = primitive("softmax_grad", _softmax_grad_kernel, grads=_softmax_grad_grads,
                         aliasing="fresh")


def softmax_grad_unfused(g, y, axis=-1):
    """The twin: softmax's gradient as the tape recorded it before (tenfold ops)."""
    from tenfold.ops import math_ops as m
    gy = m._mul(g, y)
    return m._sub(gy, m._mul(y, m._reduce_sum(gy, axis=(axis,), keepdims=True)))


def _softmax_of(logits, axis):
    x = logits.astype(np.float32) if logits.dtype.itemsize < 4 else logits
    x2 = _last_axis_2d(x, axis)
    out = softmax_rows(x2, np.empty(x2.shape, x.dtype))
    return out, x.dtype


def _narrow_2d(logits):
    """logits as (rows, classes) where the narrow row kernels take them, else None."""
    if type(logits) is not np.ndarray or logits.ndim < 1:
        return None
    x2 = logits.reshape(-1, logits.shape[-1]) if logits.ndim != 2 else logits
    return x2 if _rows.narrow_taken(x2) else None


def _int64_labels(labels):
    return labels.reshape(-1).astype(np.int64, copy=False) if labels.dtype.kind in "iu" \
        else None


def xent_rows(labels, logits):
    """softmax_cross_entropy_with_logits over the last axis by the narrow row kernel
    (row_kernels.xent: float32 logits of <= NARROW_MAX classes), or None (the caller's
    twin runs)."""
    x2 = _narrow_2d(logits)
    if x2 is None or type(labels) is not np.ndarray or labels.shape != logits.shape:
        return None
    loss = np.empty(x2.shape[0], x2.dtype)
    if not _rows.xent(labels.reshape(x2.shape), x2, loss):
        return None
    return loss.reshape(logits.shape[:-1])


def sparse_xent_rows(labels, logits):
    """sparse_softmax_cross_entropy_with_logits by the narrow row kernel, or None (not taken,
    or a label outside [0, classes): the caller's twin then says which)."""
    x2 = _narrow_2d(logits)
    if x2 is None or type(labels) is not np.ndarray or labels.size != x2.shape[0]:
        return None
    loss = np.empty(x2.shape[0], x2.dtype)
    if not _rows.sparse_xent(_int64_labels(labels), x2, loss):
        return None
    return loss.reshape(logits.shape[:-1])


def _softmax_generic(x, axis):
    """softmax in the array namespace of x (other backends; no out= buffers)."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_xent_all_kernel(labels, logits, g=None, axis=-1, softmax=True):
    """(softmax(logits) if `softmax`, softmax_cross_entropy_with_logits(labels, logits),
    softmax_xent_grad(g, labels, logits) if g is given): one pass of the narrow row kernel,
    else each node's own kernel; the values are those of the three nodes either way."""
    from tenfold.ops import nn_ops
    x2 = _narrow_2d(logits)
    if x2 is not None and axis in (-1, logits.ndim - 1) and type(labels) is np.ndarray and \
            labels.shape == logits.shape:
        y = np.empty(x2.shape, x2.dtype) if softmax else None
        loss = np.empty(x2.shape[0], x2.dtype)
        dx = np.empty(x2.shape, x2.dtype) if g is not None else None
        gc = np.ascontiguousarray(g.reshape(-1)) if g is not None else None
        if _rows.xent_all(labels.reshape(x2.shape), x2, gc, y, loss, dx):
            return _xent_all_outputs(logits, y, loss, dx)
    got = [nn_ops._xent_kernel(labels, logits, axis)]
    if softmax:
        got.insert(0, nn_ops._softmax_kernel(logits, axis))
    if g is not None:
        got.append(_softmax_xent_grad_kernel(g, labels, logits, axis))
    return tuple(got)


def _sparse_xent_all_kernel(labels, logits, g=None, softmax=True):
    """_softmax_xent_all_kernel for class-index labels: sparse_softmax_cross_entropy_with_
    logits and sparse_softmax_xent_grad (a label outside [0, classes): their twins raise)."""
    from tenfold.ops import nn_ops
    x2 = _narrow_2d(logits)
    labels64 = _int64_labels(labels) if type(labels) is np.ndarray else None
    if x2 is not None and labels64 is not None and labels64.size == x2.shape[0]:
        y = np.empty(x2.shape, x2.dtype) if softmax else None
        loss = np.empty(x2.shape[0], x2.dtype)
        dx = np.empty(x2.shape, x2.dtype) if g is not None else None
        gc = np.ascontiguousarray(g.reshape(-1)) if g is not None else None
        if _rows.sparse_xent_all(labels64, x2, gc, y, loss, dx):
            return _xent_all_outputs(logits, y, loss, dx)
    got = [nn_ops._sparse_xent_kernel(labels, logits)]
    if softmax:
        got.insert(0, nn_ops._softmax_kernel(logits, -1))
    if g is not None:
        got.append(_sparse_xent_grad_kernel(g, labels, logits))
    return tuple(got)


def _xent_all_outputs(logits, y, loss, dx):
    got = [loss.reshape(logits.shape[:-1])]
    if y is not None:
        got.insert(0, y.reshape(logits.shape))
    if dx is not None:
        got.append(dx.reshape(logits.shape))
    return tuple(got)


# the executor's sibling fusion (graph/loss_fusion.py): after differentiation only
softmax_xent_all = primitive("softmax_xent_all", _softmax_xent_all_kernel, no_grad=GRAPH_ONLY,
                             aliasing="fresh")
sparse_softmax_xent_all = primitive("sparse_softmax_xent_all", _sparse_xent_all_kernel,
                                    no_grad=GRAPH_ONLY, aliasing="fresh")


def _softmax_xent_grad_kernel(g, labels, logits, axis=-1):
    if type(logits) is not np.ndarray:
        x = logits.astype("float32") if logits.dtype.itemsize < 4 else logits
        p = _softmax_generic(x, axis)
        lab = labels.astype(x.dtype)
        p = (p * np.sum(lab, axis=axis, keepdims=True) - lab) * \
            np.expand_dims(g.astype(x.dtype), axis)
        return p.astype(logits.dtype)
    x2 = _narrow_2d(logits)
    if x2 is not None and axis in (-1, logits.ndim - 1) and labels.shape == logits.shape:
        out = np.empty(x2.shape, x2.dtype)
        # (g is often a broadcast constant, 1 / batch: stride 0, made contiguous here)
        if _rows.xent_grad(np.ascontiguousarray(g.reshape(-1)), labels.reshape(x2.shape), x2,
                           out):
            return out.reshape(logits.shape)
    p, dt = _softmax_of(logits, axis)
    l2 = _last_axis_2d(labels.astype(dt, copy=False), axis)
    lsum = _row_sum(l2)
    p *= lsum
    p -= l2
    p *= g.reshape(-1, 1).astype(dt, copy=False)
    return _from_last_axis(p, logits.shape, axis, logits.ndim).astype(logits.dtype, copy=False)


def _xent_grad_grads(G, out, g, labels, logits, axis=-1):
    from tenfold.ops import array_ops as a, math_ops as m, nn_ops as nn
    sm = nn.softmax(logits, axis=axis)
    lsum = m._reduce_sum(labels, axis=(axis,), keepdims=True)
    inner = m._sub(m._mul(sm, lsum), labels)
    dg = m._reduce_sum(m._mul(G, inner), axis=(axis,))
    gx = a.expand_dims(g, axis)
    dlab = m._mul(gx, m._sub(m._reduce_sum(m._mul(G, sm), axis=(axis,), keepdims=True), G))
    dlogits = softmax_grad(m._mul(m._mul(G, gx), lsum), sm, axis=axis)
    return [dg, dlab, dlogits]


softmax_xent_grad = primitive("softmax_xent_grad", _softmax_xent_grad_kernel,
                              grads=_xent_grad_grads, aliasing="fresh")


def softmax_xent_grad_unfused(g, labels, logits, axis=-1):
    """The twin: softmax_cross_entropy_with_logits's logits gradient, composed."""
    from tenfold.ops import array_ops as a, math_ops as m, nn_ops as nn
    sm = nn.softmax(logits, axis=axis)
    lsum = m._reduce_sum(labels, axis=(axis,), keepdims=True)
    return m._mul(a.expand_dims(g, axis), m._sub(m._mul(sm, lsum), labels))


def _sparse_xent_grad_kernel(g, labels, logits):
    if type(logits) is not np.ndarray:
        xp = xp_of(logits)
        x = logits.astype("float32") if logits.dtype.itemsize < 4 else logits
        p = _softmax_generic(x, -1)
        onehot = (xp.arange(x.shape[-1]) == labels[..., None]).astype(x.dtype)
        return ((p - onehot) * g[..., None].astype(x.dtype)).astype(logits.dtype)
    x2 = _narrow_2d(logits)
    if x2 is not None and labels.size == x2.shape[0]:
        out = np.empty(x2.shape, x2.dtype)
        if _rows.sparse_xent_grad(np.ascontiguousarray(g.reshape(-1)), _int64_labels(labels),
                                  x2, out):
            return out.reshape(logits.shape)
    p, dt = _softmax_of(logits, -1)
    rows = np.arange(p.shape[0])
    p[rows, labels.reshape(-1).astype(np.intp)] -= dt.type(1)
    p *= g.reshape(-1, 1).astype(dt, copy=False)
    return p.reshape(logits.shape).astype(logits.dtype, copy=False)


def _sparse_xent_grad_grads(G, out, g, labels, logits):
    from tenfold.ops import array_ops as a, math_ops as m, nn_ops as nn
    sm = nn.softmax(logits)
    oh = a.one_hot(labels, logits._value.shape[-1], dtype=logits.dtype)
    dg = m._reduce_sum(m._mul(G, m._sub(sm, oh)), axis=(-1,))
    dlogits = softmax_grad(m._mul(G, a.expand_dims(g, -1)), sm, axis=-1)
    return [dg, None, dlogits]


sparse_softmax_xent_grad = primitive("sparse_softmax_xent_grad", _sparse_xent_grad_kernel,
                                     grads=_sparse_xent_grad_grads, aliasing="fresh")


def sparse_softmax_xent_grad_unfused(g, labels, logits):
    """The twin: sparse_softmax_cross_entropy_with_logits's logits gradient, composed."""
    from tenfold.ops import array_ops as a, math_ops as m, nn_ops as nn
    sm = nn.softmax(logits)
    oh = a.one_hot(labels, logits._value.shape[-1], dtype=logits.dtype)
    return m._mul(a.expand_dims(g, -1), m._sub(sm, oh))


# ---- Multi-head attention's batched products, in the layouts their neighbours use
#
# MultiHeadAttention projects to (B, T, H, K), multiplies per (batch, head) on (B, H, T, K)
# transposed views, and its output projection wants the context back as (B, T, H, V): with
# plain matmul, the context and the gradients of q, k and v come out as (B, H, ...) arrays
# whose (B, T, H, K) views the projections' GEMMs must copy first (a reshape of a
# non-contiguous view). heads_matmul has matmul's value, optionally swapped to (B, T, H, V)
# (`swap_out`), and its input gradients computed the same way, each written by the GEMMs
# straight into the (B, T, H, K) layout (`swap_grads`) and returned as a transposed view.
#
# | fused primitive                          | unfused twin                                  |
# |------------------------------------------|-----------------------------------------------|
# | heads_matmul(a, b, ta, tb, swap_out)     | transpose(matmul(a, b, ta, tb), (0, 2, 1, 3)) |
# |                                          | when swap_out, else matmul(a, b, ta, tb)      |

_SWAP = (0, 2, 1, 3)


def _heads_matmul_kernel(a, b, transpose_a=False, transpose_b=False, swap_out=False,
                         swap_grads=(False, False)):
    if transpose_a:
        a = a.swapaxes(-1, -2)
    if transpose_b:
        b = b.swapaxes(-1, -2)
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype or \
            a.dtype not in _kernels.FLOAT_DTYPES or a.ndim != 4 or b.ndim != 4 or \
            a.shape[:2] != b.shape[:2]:
        from tenfold.ops import math_ops as m
        y = m._mm_kernel(a, b)
        return xp_of(y).ascontiguousarray(y.transpose(_SWAP)) if swap_out else y
    if not swap_out:
        return _kernels.matmul_stack(a, b)
    out = np.empty((a.shape[0], a.shape[2], a.shape[1], b.shape[3]), a.dtype)
    _kernels.matmul_stack(a, b, out=out.transpose(_SWAP))  # BLAS writes the swapped layout
    return out


def _heads_matmul_grads(g, out, a, b, transpose_a=False, transpose_b=False, swap_out=False,
                        swap_grads=(False, False)):
    """matmul's gradients (math_ops._mm_grad_a / _mm_grad_b), each a heads_matmul whose
    result is swapped when swap_grads says so, then viewed back."""
    from tenfold.ops import array_ops as arr
    if swap_out:
        g = arr.transpose(g, _SWAP)
    ta, tb = transpose_a, transpose_b

    def mm(x, y, tx, ty, swap):
        r = heads_matmul(x, y, transpose_a=tx, transpose_b=ty, swap_out=swap,
                         swap_grads=(swap, swap))
        return arr.transpose(r, _SWAP) if swap else r

    da = mm(g, b, False, not tb, swap_grads[0]) if not ta else \
        mm(b, g, tb, True, swap_grads[0])
    db = mm(a, g, not ta, False, swap_grads[1]) if not tb else \
        mm(g, a, True, ta, swap_grads[1])
    return [da, db]


def _heads_flops(inputs, out, params):
    from tenfold.ops import math_ops as m
    return m.matmul_flops(inputs, out, params)


heads_matmul = primitive("heads_matmul", _heads_matmul_kernel, grads=_heads_matmul_grads,
                         aliasing="fresh", uses_blas=True, flops=_heads_flops)


def heads_matmul_unfused(a, b, transpose_a=False, transpose_b=False, swap_out=False):
    """The twin: matmul, then the (0, 2, 1, 3) transpose when swap_out (tenfold ops)."""
    from tenfold.ops import array_ops as arr, math_ops as m
    y = m.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)
    return arr.transpose(y, _SWAP) if swap_out else y


# ---- Multi-head attention's core in one primitive (called by MultiHeadAttention when there
# is no mask, no dropout on the scores and no request for them, and at most one tape)
#
# | fused primitive            | unfused twin (tenfold ops)                                  |
# |----------------------------|-------------------------------------------------------------|
# | attention(q, k, v)         | heads_matmul(softmax(heads_matmul(qh, kh, transpose_b)),    |
# |   (B, T, H, K) q (scaled), |   vh, swap_out), xh = transpose(x, (0, 2, 1, 3))            |
# |   (B, S, H, K) k,          |                                                             |
# |   (B, S, H, V) v           |                                                             |
# | attention_grad(g, q, k, v) | the tape's gradients of the above, [dq, dk, dv] flat        |
#
# Natively (float32, AVX-512: gemm_native.attention) each (batch, head)'s T x S scores stay
# in cache from q k^T to the product with v, the probabilities written once for the
# backward (which reads them once) instead of the unfused chain's three round trips of the
# scores and probabilities through memory. Elsewhere the kernels run the chain's kernels.

ATTENTION_NO_DOUBLE_BACKWARD = (
    "the one-pass backward of fused attention: no second derivative (MultiHeadAttention "
    "uses the unfused ops under nested tapes)")


def _attention_heads(*arrays):
    return [x.transpose(_SWAP) for x in arrays]


def _attention_probs(qh, kh):
    from tenfold.ops import nn_ops
    return nn_ops._softmax_kernel(_heads_matmul_kernel(qh, kh, transpose_b=True), -1)


# The native forward leaves the probabilities for the backward of the same q, k, v (kept
# while q lives); without them the backward recomputes q k^T and the softmax.
_attention_kept = _KeptForBackward()


def _attention_kernel(q, k, v):
    _attention_kept.forget(q)
    got = _gemm.attention(q, k, v, keep=True)
    if got is not None:
        _attention_kept.keep(q, (k, v), got[1])
        return got[0]
    qh, kh, vh = _attention_heads(q, k, v)
    return _heads_matmul_kernel(_attention_probs(qh, kh), vh, swap_out=True)


def _attention_grad_kernel(g, q, k, v):
    got = _gemm.attention_grad(g, q, k, v, _attention_kept.get(q, (k, v)))
    if got is not None:
        return got
    qh, kh, vh, gh = _attention_heads(q, k, v, g)
    p = _attention_probs(qh, kh)
    ds = _softmax_grad_kernel(_heads_matmul_kernel(gh, vh, transpose_b=True), p, axis=-1)
    grads = (_heads_matmul_kernel(ds, kh, swap_out=True),
             _heads_matmul_kernel(ds, qh, transpose_a=True, swap_out=True),
             _heads_matmul_kernel(p, gh, transpose_a=True, swap_out=True))
    xp = xp_of(q)
    return xp.concatenate([x.reshape(-1) for x in grads])


def _attention_grads(g, out, q, k, v):
    return _split_flat(attention_grad(g, q, k, v), [x._value.shape for x in (q, k, v)])


def _attention_flops(inputs, out, params):
    b, t, h, kd = inputs[0]._value.shape
    s, vd = inputs[1]._value.shape[1], inputs[2]._value.shape[3]
    return 2 * b * h * t * s * (kd + vd) + 5 * b * h * t * s


def _attention_grad_flops(inputs, out, params):
    b, t, h, kd = inputs[1]._value.shape
    s, vd = inputs[2]._value.shape[1], inputs[3]._value.shape[3]
    return 2 * b * h * t * s * (3 * kd + 2 * vd) + 9 * b * h * t * s


def _attention_check(q, k, v):
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4 or k.shape[:3] != v.shape[:3] or \
            q.shape[0] != k.shape[0] or q.shape[2:] != k.shape[2:]:
        raise ValueError(
            "attention: expected q (B, T, H, K), k (B, S, H, K) and v (B, S, H, V), got "
            f"shapes {tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}.")


attention = primitive("attention", _attention_kernel, grads=_attention_grads,
                      check=_attention_check, aliasing="fresh", uses_blas=True,
                      flops=_attention_flops)
attention_grad = primitive("attention_grad", _attention_grad_kernel,
                           no_grad=ATTENTION_NO_DOUBLE_BACKWARD, aliasing="fresh",
                           uses_blas=True, flops=_attention_grad_flops)


def attention_unfused(q, k, v):
    """The twin: MultiHeadAttention's chain on q (scaled), k, v (tenfold ops)."""
    from tenfold.ops import array_ops as arr, nn_ops
    qh, kh, vh = (arr.transpose(x, _SWAP) for x in (q, k, v))
    scores = heads_matmul(qh, kh, transpose_b=True, swap_grads=(True, True))
    return heads_matmul(nn_ops.softmax(scores, axis=-1), vh, swap_out=True,
                        swap_grads=(False, True))


# ---- LayerNormalization over the last axis, with gamma and beta (float32 / float64)

def _ln_stats(xb, cb, epsilon):
    """Centres block xb into cb (x - mean) and returns 1 / sqrt(var + eps) per row."""
    mean = _row_sum(xb)
    mean /= xb.dtype.type(xb.shape[1])
    np.subtract(xb, mean, out=cb)
    var = np.einsum("ij,ij->i", cb, cb)[:, None]
    var /= xb.dtype.type(xb.shape[1])
    var += xb.dtype.type(epsilon)
    np.sqrt(var, out=var)
    return np.divide(xb.dtype.type(1), var, out=var)


def _layer_norm_generic(x, epsilon):
    """(x - mean) and 1 / sqrt(var + eps) over the last axis, in x's array namespace."""
    xc = x - np.mean(x, axis=-1, keepdims=True)
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc, 1 / np.sqrt(var + x.dtype.type(epsilon))


def _as_vector(v, x):
    """gamma / beta as a contiguous (c,) array of x's dtype when it is one (for the native
    kernels; anything else, e.g. a broadcast shape, is passed on as is: the twin takes it)."""
    if type(v) is np.ndarray and v.shape == x.shape[-1:]:
        return np.ascontiguousarray(v, dtype=x.dtype)
    return v


def _layer_norm_kernel(x, gamma, beta, epsilon=1e-3):
    if type(x) is not np.ndarray:
        xc, rstd = _layer_norm_generic(x, epsilon)
        return xc * rstd * gamma + beta
    x2 = x.reshape(-1, x.shape[-1])
    out = np.empty(x2.shape, x.dtype)
    if _rows.layer_norm(x2, _as_vector(gamma, x), _as_vector(beta, x), epsilon, out):
        return out.reshape(x.shape)  # native (backend/row_kernels.py)

    def work(i, r):
        ob = out[r]
        rstd = _ln_stats(x2[r], ob, epsilon)
        ob *= rstd
        ob *= gamma
        ob += beta

    _each_block(x2, work, 2 * x2.nbytes)
    return out.reshape(x.shape)


def _layer_norm_grad_kernel(g, x, gamma, epsilon=1e-3):
    """[dx, dgamma, dbeta] flattened one after another (see _layer_norm_grads).

    With xc = x - mean, r = 1 / sqrt(var + eps), xhat = xc * r, dxhat = g * gamma:
    dx = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), where per row
    mean(dxhat) = (g @ gamma) / c and mean(dxhat * xhat) = r * ((g * xc) @ gamma) / c, and
    dgamma = sum over rows of g * xhat = r @ (g * xc): matrix-vector products (BLAS) on the
    one product g * xc instead of NumPy reductions over rows of 32 ((64, 64, 32) float32,
    single-thread CPU: 1.11 ms against 1.18 ms before; the blocks then share out to the
    threads, each block's dgamma kept apart and summed in block order)."""
    c = x.shape[-1]
    if type(x) is not np.ndarray:
        xp = xp_of(x)
        xc, rstd = _layer_norm_generic(x, epsilon)
        xhat = xc * rstd
        dxh = g * gamma
        dx = rstd * (dxh - np.mean(dxh, axis=-1, keepdims=True) -
                     xhat * np.mean(dxh * xhat, axis=-1, keepdims=True))
        return xp.concatenate([dx.reshape(-1), (g * xhat).reshape(-1, c).sum(axis=0),
                               g.reshape(-1, c).sum(axis=0)])
    x2, g2 = x.reshape(-1, c), g.reshape(-1, c)
    gamma = gamma.astype(x.dtype, copy=False)
    flat = np.empty(x.size + 2 * c, x.dtype)
    dx = flat[:x.size].reshape(x2.shape)
    if _rows.layer_norm_grad(g2, x2, _as_vector(gamma, x), epsilon, dx,
                             flat[x.size:x.size + c], flat[x.size + c:]):
        return flat  # native (backend/row_kernels.py)
    blocks = _row_blocks(x2)
    dgammas = np.empty((len(blocks), c), x.dtype)
    rows = min(x2.shape[0], max(1, _BLOCK_ELEMS // c))
    inv_c = x.dtype.type(1.0 / c)

    def scratch():
        return np.empty((rows, c), x.dtype), np.empty((rows, c), x.dtype)

    def work(i, r, st):
        xb, gb, db = x2[r], g2[r], dx[r]
        n = xb.shape[0]
        cb, gx = st[0][:n], st[1][:n]
        rstd = _ln_stats(xb, cb, epsilon)            # cb = x - mean
        np.multiply(gb, cb, out=gx)
        np.matmul(rstd[:, 0], gx, out=dgammas[i])    # sum of g * xhat
        m1 = np.matmul(gb, gamma)                    # sum of dxhat
        m1 *= inv_c
        k = np.matmul(gx, gamma)                     # sum of dxhat * xc
        k *= inv_c
        k *= rstd[:, 0]
        k *= rstd[:, 0]                              # mean(dxhat * xhat) * r
        np.multiply(gb, gamma, out=db)               # dxhat
        db -= m1[:, None]
        np.multiply(cb, k[:, None], out=gx)
        db -= gx
        db *= rstd

    if len(blocks) == 1:
        work(0, blocks[0], scratch())
    else:
        _kernels.run_tasks(list(enumerate(blocks)), lambda t, st: work(*t, st),
                           3 * x2.nbytes, make_state=scratch,
                           min_bytes=_kernels.BANDWIDTH_MIN_BYTES)
    np.sum(dgammas, axis=0, out=flat[x.size:x.size + c])  # in block order: thread-independent
    flat[x.size + c:] = _col_sum(g2)
    return flat


def _layer_norm_grads(g, out, x, gamma, beta, epsilon=1e-3):
    from tenfold.ops import array_ops as a
    c = x._value.shape[-1]
    n = x._value.size
    flat = layer_norm_grad(g, x, gamma, epsilon=epsilon)
    return [a.reshape(flat[:n], tuple(x._value.shape)), flat[n:n + c], flat[n + c:]]


def _layer_norm_flops(inputs, out, params):
    return 8 * int(out._value.size)


LN_NO_DOUBLE_BACKWARD = (
    "the one-pass backward of layer normalization: no second derivative (layers fall back to "
    "the composed ops when a tape records the gradient computation itself)")

layer_norm = primitive("layer_norm", _layer_norm_kernel, grads=_layer_norm_grads,
                       aliasing="fresh", flops=_layer_norm_flops, tf_name="LayerNorm")
layer_norm_grad = primitive("layer_norm_grad", _layer_norm_grad_kernel,
                            no_grad=LN_NO_DOUBLE_BACKWARD, aliasing="fresh",
                            flops=_layer_norm_flops)


def layer_norm_unfused(x, gamma, beta, epsilon=1e-3):
    """The twin: LayerNormalization's composition over the last axis (tenfold ops)."""
    from tenfold.ops import math_ops as m
    mean = m.reduce_mean(x, axis=[-1], keepdims=True)
    var = m.reduce_mean(m.square(m.subtract(x, mean)), axis=[-1], keepdims=True)
    inv = m.multiply(m.rsqrt(m.add(var, epsilon)), gamma)
    res = m.add(m.negative(m.multiply(mean, inv)), beta)
    return m.add(m.multiply(x, inv), res)


# ------------------------------------------------------------------------------------------
# BatchNormalization in training, channels-last (normalised over every axis but the last):
#
# | fused primitive                         | replaces (keras BatchNormalization.call)       |
# |-----------------------------------------|-------------------------------------------------|
# | batch_norm_train(x, gamma, beta)        | mean = reduce_mean(x); var = reduce_mean(square |
# |                                         | (x - mean)); s = rsqrt(var + eps) * gamma;      |
# |                                         | x * s + (beta - mean * s)  (its unfused twin,  |
# |                                         | still used with masks, other axes, integer or  |
# |                                         | half types)                                    |
# | batch_norm_stats(x, y)                  | [mean; var] of that forward (for the moving    |
# |                                         | averages), kept by the forward, no second pass |
# | batch_norm_train_grad(g, x, y, gamma)   | the tape's backward through the chain above:   |
# |                                         | [dx | dgamma | dbeta] flattened               |
#
# NumPy float32/float64 arrays go to the blocked, threaded kernels of backend/norm_kernels.py
# (two passes over memory forward, two backward; native C loops where they build, at any size,
# else its NumPy twin above _NORM_MIN_ELEMS); other backends' arrays (CuPy, the stand-in)
# to the array-namespace code below: forward, one GEMV for the mean, one pass for x - mean,
# one for the variance (einsum), the scale and shift in place. Backward (both), with xhat =
# (x - mean) * inv: dbeta = sum g, dgamma = inv * (sum g*x - mean * dbeta), dx = g * a + x *
# b + c per channel (a = gamma * inv, b = -a * inv * dgamma / n, c = -a * dbeta / n - b *
# mean).

_bn_kept = _KeptForBackward()   # the moments, under y (see _bn_remember)

# Below this many elements the wide-view kernels' fixed cost (layout, tasks: ~60 us a call)
# outweighs their passes: one thread, process time, median of 300 (us, fwd / bwd, new vs
# the code below): (16, 256) 96/116 vs 36/52; (16, 28, 28, 1) 78/84 vs 30/39; (64, 512)
# 95/112 vs 52/66; (16, 28, 28, 4) 120/159 vs 337/363; (64, 16, 16, 8) 213/304 vs 464/542.
# The native kernels (norm_kernels' end: three C calls, ~30 us fixed) are taken at any size:
# on par with the code below at a few K elements, faster from ~16K (us, forward + ReLU /
# backward through it, old path vs native, busy machine): (16, 256) 59/90 vs 57/94; (8, 8,
# 8, 8) 84/100 vs 67/90; (64, 512) 111/148 vs 79/117; (16, 28, 28, 4) 263/415 vs 145/200;
# (64, 16, 16, 8) 521/743 vs 279/372.
_NORM_MIN_ELEMS = 1 << 15


def _norm_ok(*arrays):
    """Whether the kernels of backend/norm_kernels take these arrays: the native ones (one
    C call per pass, a few us fixed cost) at any size, the NumPy twin above _NORM_MIN_ELEMS."""
    return arrays[0].size > 0 and _norm.fast_ok(*arrays) and \
        (arrays[0].size > _NORM_MIN_ELEMS or _norm.native_ok(*arrays))


def _bn_remember(y, x, mean, var):
    _bn_kept.keep(y, (x,), (mean, var))


def _bn_recall(x, y):
    return _bn_kept.get(y, (x,))


def _bn_rows(x):
    c = x.shape[-1]
    return x.reshape(-1, c), max(1, x.size // max(1, c))


def _bn_moments(x2, n):
    np = xp_of(x2)  # any backend's array namespace (NumPy's on the host)
    ones = np.ones(x2.shape[0], x2.dtype)
    with _kernels.single_threaded_blas():
        mean = (ones @ x2) / x2.dtype.type(n)
    d = np.subtract(x2, mean)
    var = np.einsum("ij,ij->j", d, d) / x2.dtype.type(n)
    return mean, var, d


def _batch_norm_train_kernel(x, gamma, beta, epsilon):
    if _norm_ok(x, gamma, beta):  # NumPy float32/64: the wide-view kernels (norm_kernels)
        y, mean, var = _norm.bn_forward(x, gamma, beta, epsilon)
        _bn_remember(y, x, mean, var)
        return y
    np = xp_of(x)  # any backend's array namespace (NumPy's on the host)
    x = np.ascontiguousarray(x)
    x2, n = _bn_rows(x)
    mean, var, d = _bn_moments(x2, n)
    scale = gamma / np.sqrt(var + x.dtype.type(epsilon))
    np.multiply(x2, scale, out=d)  # x * scale + shift, as Keras and tf.nn.batch_normalization
    d += beta - mean * scale
    y = d.reshape(x.shape)
    _bn_remember(y, x, mean, var)
    return y


def _batch_norm_stats_kernel(x, y):
    np = xp_of(x)  # any backend's array namespace (NumPy's on the host)
    kept = _bn_recall(x, y)
    if kept is None:
        x2, n = _bn_rows(np.ascontiguousarray(x))
        mean, var, _ = _bn_moments(x2, n)
    else:
        mean, var = kept
    return np.stack([mean, var])


def _batch_norm_train_grad_kernel(g, x, y, gamma, epsilon, relu=False):
    np = xp_of(x)  # any backend's array namespace (NumPy's on the host)
    kept = _bn_recall(x, y)   # the forward's x, before a contiguous copy replaces it
    x = np.ascontiguousarray(x)
    g = np.ascontiguousarray(g, dtype=x.dtype)
    x2, n = _bn_rows(x)
    if kept is None:
        mean, var, _ = _bn_moments(x2, n)
    else:
        mean, var = kept
    if _norm_ok(x, g, gamma, mean, var) and (not relu or _norm.fast_ok(x, y)):
        return _norm.bn_backward(g, x, y, gamma, mean, var, epsilon, relu=relu)
    if relu:  # g is the gradient of y = relu(the normalised x): ReLU's mask first
        g = np.multiply(g, np.greater(y, y.dtype.type(0)))
    g2 = g.reshape(x2.shape)
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


# BatchNormalization + ReLU (graph-only, executor._fuse_bn_relu):
#
# | fused primitive                         | replaces                                        |
# |-----------------------------------------|-------------------------------------------------|
# | batch_norm_relu_train(x, gamma, beta)   | relu(batch_norm_train(x, gamma, beta))          |
# | batch_norm_add_relu_train(x, gamma,     | relu(add(batch_norm_train(x, gamma, beta), s))  |
# |   beta, s)                              | (s of y's shape: a residual block's end)       |
# | batch_norm_relu_train_grad(g, x, r,     | batch_norm_train_grad(relu_grad(g, r), x, y,    |
# |   gamma)                                | gamma), r = relu(y [+ s]) the fused output      |
#
# The ReLU is applied while the normalised rows are in cache, the backward masks g in its
# first pass; y (the BatchNormalization output) is never made, so the step keeps one tensor
# less per layer for the backward. batch_norm_stats(x, r) and batch_norm_train_grad(g, x, r,
# gamma) find the moments the fused forward kept under r (y is only their key).

def _batch_norm_relu_train_kernel(x, gamma, beta, epsilon):
    if _norm_ok(x, gamma, beta):
        r, mean, var = _norm.bn_forward(x, gamma, beta, epsilon, relu=True)
        _bn_remember(r, x, mean, var)
        return r
    y = _batch_norm_train_kernel(x, gamma, beta, epsilon)
    np = xp_of(y)
    kept = _bn_recall(x, y)
    r = np.maximum(y, y.dtype.type(0))
    if kept is not None:
        _bn_remember(r, x, *kept)
    return r


def _batch_norm_add_relu_train_kernel(x, gamma, beta, s, epsilon):
    if _norm_ok(x, gamma, beta, s) and s.shape == x.shape:
        r, mean, var = _norm.bn_forward(x, gamma, beta, epsilon, relu=True, residual=s)
        _bn_remember(r, x, mean, var)
        return r
    y = _batch_norm_train_kernel(x, gamma, beta, epsilon)
    np = xp_of(y)
    kept = _bn_recall(x, y)
    r = np.add(y, s)
    r = np.maximum(r, r.dtype.type(0), out=r)
    if kept is not None:
        _bn_remember(r, x, *kept)
    return r


def _batch_norm_relu_train_grad_kernel(g, x, r, gamma, epsilon):
    return _batch_norm_train_grad_kernel(g, x, r, gamma, epsilon, relu=True)


batch_norm_relu_train = primitive("batch_norm_relu_train", _batch_norm_relu_train_kernel,
                                  no_grad=GRAPH_ONLY, aliasing="fresh", flops=_bn_flops,
                                  doc="relu(batch_norm_train(x, gamma, beta)) in one kernel")
batch_norm_relu_train_grad = primitive("batch_norm_relu_train_grad",
                                       _batch_norm_relu_train_grad_kernel, no_grad=GRAPH_ONLY,
                                       aliasing="fresh", flops=_bn_flops)


batch_norm_add_relu_train = primitive(
    "batch_norm_add_relu_train", _batch_norm_add_relu_train_kernel, no_grad=GRAPH_ONLY,
    aliasing="fresh", flops=_bn_flops,
    doc="relu(batch_norm_train(x, gamma, beta) + s) in one kernel (a residual block's end)")


def batch_norm_add_relu_unfused(x, gamma, beta, s, epsilon=1e-3):
    """The twin of batch_norm_add_relu_train: the three primitives it replaces."""
    from tenfold.ops import math_ops, nn_ops
    return nn_ops.relu(math_ops.add(batch_norm_train(x, gamma, beta, epsilon=epsilon), s))


def batch_norm_relu_unfused(x, gamma, beta, epsilon=1e-3):
    """The twin of batch_norm_relu_train: the two primitives it replaces."""
    from tenfold.ops import nn_ops
    return nn_ops.relu(batch_norm_train(x, gamma, beta, epsilon=epsilon))


# ---- Accuracy's matches: the argmaxes, their comparison and the cast in one kernel
#
# Every step of a classifier's `fit` with metrics=["accuracy"] runs this chain on the batch
# (argmax of the labels and of the predictions, equal, cast: four nodes of a few us each,
# two to three times that inside `fit`, where the step's big arrays have pushed the
# interpreter's data out of the caches).

def _argmax_rows(x2):
    """The argmax primitive's kernel on the rows of a 2-D array (NaN never wins)."""
    from tenfold.ops import math_ops as m
    return m.argmax_rows_kernel(x2)


def _argmax_matches_kernel(y_true, y_pred, dtype):
    cols = y_pred.shape[-1]
    p2 = y_pred.reshape(-1, cols)
    sparse = y_true.ndim < y_pred.ndim
    t2 = y_true.reshape(-1) if sparse else y_true.reshape(-1, y_true.shape[-1])
    if type(p2) is np.ndarray and dtype == p2.dtype and cols > 0:
        out = np.empty(p2.shape[0], dtype)
        if _rows.argmax_match(np.ascontiguousarray(t2), np.ascontiguousarray(p2), out):
            return out.reshape(y_pred.shape[:-1])
    p = _argmax_rows(p2)
    t = t2 if sparse else _argmax_rows(t2)
    if sparse:
        p = p.astype(t2.dtype)
    return (t == p).astype(dtype).reshape(y_pred.shape[:-1])


argmax_matches = primitive("argmax_matches", _argmax_matches_kernel,
                           no_grad="not differentiable (a count of equal argmaxes)",
                           aliasing="fresh")


def argmax_matches_unfused(y_true, y_pred, dtype):
    """The twin: one-hot labels (y_true shaped as y_pred) or class indices in y_pred's dtype
    (y_true without y_pred's last axis), as the primitives' chain."""
    from tenfold.ops import math_ops as m
    p = m.argmax(y_pred, axis=-1)
    if y_true.ndim < y_pred.ndim:
        return m.cast(m.equal(y_true, m.cast(p, y_true.dtype)), dtype)
    return m.cast(m.equal(m.argmax(y_true, axis=-1), p), dtype)
