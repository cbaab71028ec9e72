"""The tf.keras 2 backend functions that `tf.keras.backend` (Keras 3's legacy backend) still
exposes, e.g. `K.mean`, `K.set_value(model.optimizer.learning_rate, 1e-3)`, `K.int_shape`.
Each is a thin name over a tenfold op, with the old argument names and defaults."""
import numpy as np
from tenfold.framework.host import to_host


def _tf():
    import tenfold
    return tenfold


def _floatx():
    from tenfold.keras.backend import floatx
    return floatx()


def _t(x):
    return _tf().convert_to_tensor(x)


def _f(x):
    """x as a tensor; booleans become floatx (as the old backend's reductions did)."""
    x = _t(x)
    return _tf().cast(x, _floatx()) if x.dtype.is_bool else x


# ----------------------------------------------------------------------- values and variables
def variable(value, dtype=None, name=None, constraint=None):
    from tenfold.keras.variables import Variable
    return Variable(np.asarray(value, dtype=dtype or _floatx()) if not hasattr(value, "shape")
                    or isinstance(value, np.ndarray) else value, dtype=dtype or _floatx(),
                    name=name)


def constant(value, dtype=None, shape=None, name=None):
    return _tf().constant(value, dtype=dtype or _floatx(), shape=shape)


def get_value(x):
    return to_host(x)[()] if hasattr(x, "numpy") else np.asarray(x)


def batch_get_value(tensors):
    return [get_value(x) for x in tensors]


def set_value(x, value):
    x.assign(np.asarray(value, dtype=np.dtype(x.dtype.name if hasattr(x.dtype, "name")
                                              else x.dtype)))


def batch_set_value(tuples):
    for x, value in tuples:
        set_value(x, value)


def eval(x):  # noqa: A001 - the old backend's name
    return get_value(x)


def update(x, new_x):
    return x.assign(new_x)


def update_add(x, increment):
    return x.assign_add(increment)


def update_sub(x, decrement):
    return x.assign_sub(decrement)


def moving_average_update(x, value, momentum):
    momentum = _tf().cast(momentum, x.dtype)
    value = _tf().cast(value, x.dtype)
    return x.assign_sub((x - value) * (1 - momentum))


def cast(x, dtype):
    return _tf().cast(x, dtype)


def cast_to_floatx(x):
    return np.asarray(x, dtype=_floatx()) if not hasattr(x, "numpy") else \
        _tf().cast(x, _floatx())


def count_params(x):
    return int(np.prod(tuple(x.shape)))


def int_shape(x):
    try:
        return tuple(None if d is None else int(d) for d in x.shape)
    except (TypeError, ValueError):
        return None


def shape(x):
    return _tf().shape(x)


def ndim(x):
    return len(x.shape)


def dtype(x):
    d = x.dtype
    return d.name if hasattr(d, "name") else str(d)


def is_sparse(tensor):
    return False


def zeros(shape, dtype=None, name=None):
    return variable(np.zeros(shape), dtype=dtype, name=name)


def ones(shape, dtype=None, name=None):
    return variable(np.ones(shape), dtype=dtype, name=name)


def eye(size, dtype=None, name=None):
    return variable(np.eye(size), dtype=dtype, name=name)


def zeros_like(x, dtype=None, name=None):
    return _tf().zeros_like(x, dtype=dtype)


def ones_like(x, dtype=None, name=None):
    return _tf().ones_like(x, dtype=dtype)


# ----------------------------------------------------------------------- math
def _reduction(fn_name):
    def reduce(x, axis=None, keepdims=False):
        return getattr(_tf(), fn_name)(_f(x), axis=axis, keepdims=keepdims)
    reduce.__name__ = fn_name.replace("reduce_", "")
    return reduce


mean = _reduction("reduce_mean")
sum = _reduction("reduce_sum")  # noqa: A001
prod = _reduction("reduce_prod")
max = _reduction("reduce_max")  # noqa: A001
min = _reduction("reduce_min")  # noqa: A001


def std(x, axis=None, keepdims=False):
    return _tf().math.reduce_std(_f(x), axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    return _tf().math.reduce_variance(_f(x), axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    return _tf().reduce_any(_tf().cast(x, "bool"), axis=axis, keepdims=keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    return _tf().reduce_all(_tf().cast(x, "bool"), axis=axis, keepdims=keepdims)


def argmax(x, axis=-1):
    return _tf().argmax(x, axis)


def argmin(x, axis=-1):
    return _tf().argmin(x, axis)


def cumsum(x, axis=0):
    return _tf().cumsum(x, axis=axis)


def cumprod(x, axis=0):
    return _tf().math.cumprod(x, axis=axis)


def logsumexp(x, axis=None, keepdims=False):
    return _tf().reduce_logsumexp(x, axis=axis, keepdims=keepdims)


def _unary(name, tf_name=None):
    def fn(x):
        return getattr(_tf(), tf_name or name)(x)
    fn.__name__ = name
    return fn


square = _unary("square")
abs = _unary("abs")  # noqa: A001
sqrt = _unary("sqrt")
exp = _unary("exp")
log = _unary("log")
sign = _unary("sign")
round = _unary("round")  # noqa: A001
sin = _unary("sin")
cos = _unary("cos")
tanh = _unary("tanh")
sigmoid = _unary("sigmoid")

def softsign(x):
    return _tf().nn.softsign(x) if hasattr(_tf().nn, "softsign") else x / (1 + _tf().abs(x))


def softplus(x):
    return _tf().math.softplus(x)


def pow(x, a):  # noqa: A001
    return _tf().pow(x, a)


def clip(x, min_value, max_value):
    if max_value is not None and min_value is not None and max_value < min_value:
        max_value = min_value
    if max_value is None:
        max_value = np.inf
    if min_value is None:
        min_value = -np.inf
    return _tf().clip_by_value(x, min_value, max_value)


def maximum(x, y):
    return _tf().maximum(x, y)


def minimum(x, y):
    return _tf().minimum(x, y)


def equal(x, y):
    return _tf().equal(x, y)


def not_equal(x, y):
    return _tf().not_equal(x, y)


def greater(x, y):
    return _tf().greater(x, y)


def greater_equal(x, y):
    return _tf().greater_equal(x, y)


def less(x, y):
    return _tf().less(x, y)


def less_equal(x, y):
    return _tf().less_equal(x, y)


def dot(x, y):
    x, y = _t(x), _t(y)
    if len(x.shape) > 2 or len(y.shape) > 2:
        return _tf().tensordot(x, y, axes=[[len(x.shape) - 1], [len(y.shape) - 2]])
    return _tf().matmul(x, y)


def batch_dot(x, y, axes=None):
    """Batched dot product over `axes` (default: last axis of x with the last-but-one of y,
    or the last of each when y is 2-D), as the old backend."""
    x, y = _t(x), _t(y)
    nx, ny = len(x.shape), len(y.shape)
    if axes is None:
        axes = [nx - 1, ny - 2] if ny > 2 else [nx - 1, ny - 1]
    if isinstance(axes, int):
        axes = [axes, axes]
    ax, ay = [a % n for a, n in zip(axes, (nx, ny))]
    letters = "bcdefghijklmnopqrstuvwxyz"
    xs = ["a"] + [letters[i] for i in range(nx - 1)]
    ys = ["a"] + [letters[nx - 1 + i] for i in range(ny - 1)]
    ys[ay] = xs[ax]
    out = [c for i, c in enumerate(xs) if i != ax] + [c for i, c in enumerate(ys)
                                                      if i not in (0, ay)]
    res = _tf().einsum(f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x, y)
    if len(res.shape) == 1:
        res = _tf().expand_dims(res, 1)
    return res


def transpose(x):
    return _tf().transpose(x)


def l2_normalize(x, axis=None):
    return _tf().math.l2_normalize(x, axis=axis)


def bias_add(x, bias, data_format=None):
    return _tf().nn.bias_add(x, bias)


# ----------------------------------------------------------------------- shapes
def reshape(x, shape):
    return _tf().reshape(x, shape)


def permute_dimensions(x, pattern):
    return _tf().transpose(x, perm=pattern)


def expand_dims(x, axis=-1):
    return _tf().expand_dims(x, axis)


def squeeze(x, axis):
    return _tf().squeeze(x, [axis])


def stack(x, axis=0):
    return _tf().stack(x, axis=axis)


def concatenate(tensors, axis=-1):
    if axis < 0:
        axis = axis % len(tensors[0].shape) if len(tensors[0].shape) else 0
    return _tf().concat([_t(t) for t in tensors], axis)


def flatten(x):
    return _tf().reshape(x, [-1])


def batch_flatten(x):
    x = _t(x)
    return _tf().reshape(x, [-1, int(np.prod(tuple(x.shape)[1:]))])


def repeat_elements(x, rep, axis):
    return _tf().repeat(x, rep, axis=axis)


def repeat(x, n):
    x = _tf().expand_dims(x, 1)
    return _tf().tile(x, [1, n, 1])


def tile(x, n):
    return _tf().tile(x, n)


def gather(reference, indices):
    return _tf().gather(reference, indices)


def one_hot(indices, num_classes):
    return _tf().one_hot(indices, depth=num_classes, axis=-1)


def reverse(x, axes):
    if isinstance(axes, int):
        axes = [axes]
    return _tf().reverse(x, axes)


# ----------------------------------------------------------------------- nn
def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    from tenfold.keras import activations
    return activations.relu(x, negative_slope=alpha, max_value=max_value, threshold=threshold)


def elu(x, alpha=1.0):
    from tenfold.keras import activations
    return activations.elu(x, alpha=alpha)


def softmax(x, axis=-1):
    from tenfold.keras import activations
    return activations.softmax(x, axis=axis)


def hard_sigmoid(x):
    x = _t(x)
    return _tf().clip_by_value(0.2 * x + 0.5, 0.0, 1.0)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    from tenfold.keras import ops
    return ops.categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1,
                                   ignore_class=None):
    from tenfold.keras import losses
    return losses.sparse_categorical_crossentropy(target, output, from_logits=from_logits,
                                                  ignore_class=ignore_class, axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    from tenfold.keras import ops
    return ops.binary_crossentropy(target, output, from_logits=from_logits)


def dropout(x, level, noise_shape=None, seed=None):
    return _tf().nn.dropout(x, rate=level, noise_shape=noise_shape, seed=seed)


def in_top_k(predictions, targets, k):
    return _tf().math.in_top_k(targets, predictions, k)


def switch(condition, then_expression, else_expression):
    then_v = then_expression() if callable(then_expression) else then_expression
    else_v = else_expression() if callable(else_expression) else else_expression
    return _tf().where(condition, then_v, else_v)


def map_fn(fn, elems, name=None, dtype=None):
    return _tf().map_fn(fn, elems)


def gradients(loss, variables):
    raise RuntimeError("K.gradients needs graph mode, which TensorFlow 2 and tenfold do not "
                       "have: use `with tf.GradientTape() as tape: ...; "
                       "tape.gradient(loss, variables)`.")


# ----------------------------------------------------------------------- random
def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return _tf().random.normal(shape, mean=mean, stddev=stddev, dtype=dtype or _floatx(),
                               seed=seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return _tf().random.uniform(shape, minval=minval, maxval=maxval, dtype=dtype or _floatx(),
                                seed=seed)


def random_bernoulli(shape, p=0.0, dtype=None, seed=None):
    u = _tf().random.uniform(shape, dtype=dtype or _floatx(), seed=seed)
    return _tf().cast(_tf().less(u, p), dtype or _floatx())


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return _tf().random.truncated_normal(shape, mean=mean, stddev=stddev,
                                         dtype=dtype or _floatx(), seed=seed)


def learning_phase():
    return 0


def set_learning_phase(value):
    raise RuntimeError("set_learning_phase is not available (as in Keras 3): pass "
                       "`training=True/False` when calling layers and models instead.")


__all__ = [n for n in dir() if not n.startswith("_") and n != "np"]
