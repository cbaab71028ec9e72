"""Loss functions (per-sample values) and their `Loss` classes, as Keras 3 defines them.

Probabilities are clipped to [epsilon, 1 - epsilon] (epsilon = 1e-7); `from_logits=True` uses
the stable fused primitives (softmax / sparse softmax / sigmoid cross-entropy with logits).
"""
import warnings

import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops import nn_ops as nn
from tenfold.keras.losses.loss import (
    Loss, squeeze_or_expand_to_same_rank, to_dtype, float_tensor)
from tenfold.keras.ops import _logits
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.framework.host import eager_values, from_host



def _eps():
    from tenfold.keras import backend
    return backend.epsilon()


def _const(v, like):
    return from_host(np.asarray(v, dtype=npd(like)))


def _pair(y_true, y_pred):
    """y_pred as a float tensor, y_true cast to its dtype."""
    y_pred = float_tensor(y_pred)
    y_true = to_dtype(y_true, npd(y_pred))
    return y_true, y_pred


def _check_broadcast(fn, y_true, y_pred):
    st, sp = shape_of(y_true), shape_of(y_pred)
    if st == sp:
        return
    try:
        np.broadcast_shapes(st, sp)
    except ValueError:
        raise ValueError(f"{fn}: y_true and y_pred have incompatible shapes: y_true.shape="
                         f"{st}, y_pred.shape={sp}. They must be equal (or broadcastable); "
                         "check the model's output size against the labels.") from None


def _mean_last(x):
    return m.reduce_mean(x, axis=-1)


# ------------------------------------------------------------------ regression losses

def mean_squared_error(y_true, y_pred):
    """Mean of squared errors over the last axis: `mean(square(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_broadcast("mean_squared_error", y_true, y_pred)
    return _mean_last(m.squared_difference(y_true, y_pred))


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_broadcast("mean_absolute_error", y_true, y_pred)
    return _mean_last(m.abs(m.subtract(y_true, y_pred)))


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_broadcast("mean_absolute_percentage_error", y_true, y_pred)
    diff = m.abs(m.divide(m.subtract(y_true, y_pred),
                          m.maximum(m.abs(y_true), _const(_eps(), y_pred))))
    return m.multiply(_mean_last(diff), 100.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_broadcast("mean_squared_logarithmic_error", y_true, y_pred)
    eps = _const(_eps(), y_pred)
    first = m.log(m.add(m.maximum(y_pred, eps), 1.0))
    second = m.log(m.add(m.maximum(y_true, eps), 1.0))
    return _mean_last(m.square(m.subtract(first, second)))


def _l2_normalize(x, axis):
    sq = m.reduce_sum(m.square(x), axis=axis, keepdims=True)
    return m.multiply(x, m.rsqrt(m.maximum(sq, 1e-12)))


def cosine_similarity(y_true, y_pred, axis=-1):
    """Negative cosine similarity along `axis` (-1: same direction, 1: opposite)."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_broadcast("cosine_similarity", y_true, y_pred)
    return m.negative(m.reduce_sum(m.multiply(_l2_normalize(y_true, axis),
                                              _l2_normalize(y_pred, axis)), axis=axis))


def huber(y_true, y_pred, delta=1.0):
    """Quadratic for |error| <= delta, linear beyond."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_broadcast("huber", y_true, y_pred)
    d = _const(delta, y_pred)
    err = m.subtract(y_pred, y_true)
    abs_err = m.abs(err)
    half = _const(0.5, y_pred)
    quad = m.multiply(half, m.square(err))
    lin = m.subtract(m.multiply(d, abs_err), m.multiply(half, m.square(d)))
    return _mean_last(m.where(m.less_equal(abs_err, d), quad, lin))


def log_cosh(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_broadcast("log_cosh", y_true, y_pred)
    x = m.subtract(y_pred, y_true)
    log2 = _const(np.log(2.0), y_pred)
    return _mean_last(m.subtract(m.add(x, m.softplus(m.multiply(x, -2.0))), log2))


def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred), axis=-1)` with both clipped to [epsilon, 1]."""
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("kl_divergence", y_true, y_pred)
    y_true = m.clip_by_value(y_true, _eps(), 1.0)
    y_pred = m.clip_by_value(y_pred, _eps(), 1.0)
    return m.reduce_sum(m.multiply(y_true, m.log(m.divide(y_true, y_pred))), axis=-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("poisson", y_true, y_pred)
    return _mean_last(m.subtract(y_pred, m.multiply(y_true, m.log(m.add(y_pred, _eps())))))


# ------------------------------------------------------------------ hinge losses

def _hinge_labels(y_true):
    """Labels in {0, 1} become {-1, 1}; other labels are used as they are."""
    is_binary = m.reduce_all(m.logical_or(m.equal(y_true, 0.0), m.equal(y_true, 1.0)))
    return m.where(is_binary, m.subtract(m.multiply(y_true, 2.0), 1.0), y_true)


def hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("hinge", y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return _mean_last(m.maximum(m.subtract(1.0, m.multiply(y_true, y_pred)), 0.0))


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("squared_hinge", y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return _mean_last(m.square(m.maximum(m.subtract(1.0, m.multiply(y_true, y_pred)), 0.0)))


def categorical_hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("categorical_hinge", y_true, y_pred)
    pos = m.reduce_sum(m.multiply(y_true, y_pred), axis=-1)
    neg = m.reduce_max(m.multiply(m.subtract(1.0, y_true), y_pred), axis=-1)
    return m.maximum(m.add(m.subtract(neg, pos), 1.0), 0.0)


# ------------------------------------------------------------------ cross-entropies

def _check_same_shape(fn, y_true, y_pred, sparse_hint=False):
    st, sp = tuple(shape_of(y_true)), tuple(shape_of(y_pred))
    if st == sp:
        return
    msg = (f"{fn}: y_true and y_pred must have the same shape. Received: y_true.shape={st}, "
           f"y_pred.shape={sp}.")
    if sparse_hint and len(sp) >= 1 and sp[-1] > 1 and (
            st == sp[:-1] or st == sp[:-1] + (1,)):
        msg += (f" The labels look like integer class indices: use "
                f"loss='sparse_categorical_crossentropy' (or keras.losses."
                f"SparseCategoricalCrossentropy()), or one-hot encode them with "
                f"keras.utils.to_categorical(y, num_classes={sp[-1]}).")
    elif len(st) == len(sp) and st[:-1] == sp[:-1]:
        msg += (f" The model outputs {sp[-1]} values per sample but the labels have "
                f"{st[-1]}: make the last layer's size match the number of classes.")
    raise ValueError(msg)


def _canon_axis(axis, ndim):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")
    return int(axis) % max(ndim, 1)


def _categorical_crossentropy_op(target, output, from_logits=False, axis=-1):
    """`keras.ops.categorical_crossentropy`: both tensors of one float dtype and shape."""
    _check_same_shape("categorical_crossentropy", target, output, sparse_hint=True)
    if output.ndim < 1:
        raise ValueError("Arguments `target` and `output` must be at least rank 1. Received: "
                         f"target.shape={target.shape}, output.shape={output.shape}")
    output, from_logits = _logits.resolve(output, from_logits, "categorical_crossentropy",
                                          "Softmax")
    if from_logits:
        return nn.softmax_cross_entropy_with_logits(target, output, axis=axis)
    output = m.divide(output, m.reduce_sum(output, axis=axis, keepdims=True))
    eps = _eps()
    output = m.clip_by_value(output, eps, 1.0 - eps)
    return m.negative(m.reduce_sum(m.multiply(target, m.log(output)), axis=axis))


def _sparse_categorical_crossentropy_op(target, output, from_logits=False, axis=-1):
    """`keras.ops.sparse_categorical_crossentropy`: integer targets, class axis `axis`."""
    if npd(target).kind not in "iu":
        target = m.cast(target, np.int32)
    nd = output.ndim
    if nd < 1:
        raise ValueError(f"Argument `output` must be at least rank 1. Received: "
                         f"output.shape={tuple(shape_of(output))}")
    ax = _canon_axis(axis, nd)
    if target.ndim == nd and shape_of(target)[ax] == 1:
        target = a.squeeze(target, axis=ax)
    output, from_logits = _logits.resolve(output, from_logits,
                                          "sparse_categorical_crossentropy", "Softmax")
    if ax != nd - 1:
        perm = [i for i in range(nd) if i != ax] + [ax]
        output = a.transpose(output, perm)
    if tuple(shape_of(target)) != tuple(shape_of(output)[:-1]):
        raise ValueError(
            "sparse_categorical_crossentropy: y_true must hold one class index per sample, "
            f"shaped like y_pred without its class axis. Received: y_true.shape="
            f"{tuple(shape_of(target))}, y_pred.shape={tuple(shape_of(output))}"
            + (". The labels look one-hot encoded: use loss='categorical_crossentropy', or "
               "pass class indices (y.argmax(axis=-1))."
               if tuple(shape_of(target)) == tuple(shape_of(output)) else "."))
    n = shape_of(output)[-1]
    tv = eager_values(target)
    if tv is not None and tv.size and (tv.min() < 0 or tv.max() >= n):
        bad = int(tv[(tv < 0) | (tv >= n)].ravel()[0])
        raise ValueError(f"sparse_categorical_crossentropy: received a label value of {bad} "
                         f"which is outside the valid range of [0, {n}) for a model with {n} "
                         f"outputs per sample. Labels must be class indices 0..{n - 1}; check "
                         "the last layer's size against the number of classes.")
    if not from_logits:
        eps = _eps()
        output = m.log(m.clip_by_value(output, eps, 1.0 - eps))
    return nn.sparse_softmax_cross_entropy_with_logits(target, output)


def _binary_crossentropy_op(target, output, from_logits=False):
    if tuple(shape_of(target)) != tuple(shape_of(output)):
        raise ValueError(f"binary_crossentropy: y_true and y_pred must have the same shape. "
                         f"Received: y_true.shape={tuple(shape_of(target))}, y_pred.shape="
                         f"{tuple(shape_of(output))}.")
    output, from_logits = _logits.resolve(output, from_logits, "binary_crossentropy",
                                          "Sigmoid")
    if from_logits:
        return nn.sigmoid_cross_entropy_with_logits(labels=target, logits=output)
    eps = _eps()
    output = m.clip_by_value(output, eps, 1.0 - eps)
    bce = m.multiply(target, m.log(output))
    bce = m.add(bce, m.multiply(m.subtract(1.0, target), m.log(m.subtract(1.0, output))))
    return m.negative(bce)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy between one-hot (or soft) labels and predicted class probabilities."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")
    y_true, y_pred = _pair(y_true, y_pred)
    if y_pred.ndim and shape_of(y_pred)[-1] == 1:
        warnings.warn("In loss categorical_crossentropy, expected y_pred.shape to be "
                      f"(batch_size, num_classes) with num_classes > 1. Received: y_pred.shape="
                      f"{tuple(shape_of(y_pred))}. Consider using 'binary_crossentropy' if "
                      "you only have 2 classes.", SyntaxWarning, stacklevel=2)
    if label_smoothing:
        _check_same_shape("categorical_crossentropy", y_true, y_pred, sparse_hint=True)
        n = shape_of(y_true)[-1]
        y_true = m.add(m.multiply(y_true, 1.0 - label_smoothing), label_smoothing / n)
    return _categorical_crossentropy_op(y_true, y_pred, from_logits=from_logits, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    y_true, y_pred = _pair(y_true, y_pred)
    _check_same_shape("categorical_focal_crossentropy", y_true, y_pred, sparse_hint=True)
    if label_smoothing:
        n = shape_of(y_true)[-1]
        y_true = m.add(m.multiply(y_true, 1.0 - label_smoothing), label_smoothing / n)
    if from_logits:
        y_pred = nn.softmax(y_pred, axis=axis)
    out = m.divide(y_pred, m.reduce_sum(y_pred, axis=axis, keepdims=True))
    eps = _eps()
    out = m.clip_by_value(out, eps, 1.0 - eps)
    cce = m.multiply(m.negative(y_true), m.log(out))
    factor = m.multiply(m.pow(m.subtract(1.0, out), float(gamma)), alpha)
    return m.reduce_sum(m.multiply(factor, cce), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Cross-entropy between integer class labels and predicted class probabilities."""
    y_pred = float_tensor(y_pred)
    y_true = to_dtype(y_true, npd(y_true) if isinstance(y_true, Tensor) else
                      np.asarray(y_true).dtype)
    nd = y_pred.ndim
    if y_true.ndim == nd and nd and shape_of(y_true)[axis] == 1:
        y_true = a.squeeze(y_true, axis=axis)
    valid = None
    if ignore_class is not None:
        ax = _canon_axis(axis, nd)
        valid = m.not_equal(y_true, to_dtype(ignore_class, npd(y_true)))
        y_true = m.where(valid, y_true, m.zeros_like(y_true))
        y_pred = m.where(a.expand_dims(valid, ax), y_pred, m.zeros_like(y_pred))
    if npd(y_true).kind == "f":
        tv = eager_values(y_true)
        if tv is not None and tv.size and np.any(np.mod(tv, 1) != 0):
            raise ValueError(
                "sparse_categorical_crossentropy: y_true must hold integer class indices, got "
                f"non-integer values (shape {tuple(tv.shape)}). For one-hot or soft labels use "
                "categorical_crossentropy.")
    res = _sparse_categorical_crossentropy_op(y_true, y_pred, from_logits=from_logits,
                                              axis=axis)
    if valid is not None:
        res = m.where(valid, res, m.zeros_like(res))
        res._keras_mask = valid
    return res


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over `axis` of the elementwise binary cross-entropy."""
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = m.add(m.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    return m.reduce_mean(_binary_crossentropy_op(y_true, y_pred, from_logits), axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = m.add(m.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    if from_logits:
        y_pred = m.sigmoid(y_pred)
    bce = _binary_crossentropy_op(y_true, y_pred, False)
    p_t = m.add(m.multiply(y_true, y_pred),
                m.multiply(m.subtract(1.0, y_true), m.subtract(1.0, y_pred)))
    focal = m.multiply(m.pow(m.subtract(1.0, p_t), float(gamma)), bce)
    if apply_class_balancing:
        weight = m.add(m.multiply(y_true, alpha), m.multiply(m.subtract(1.0, y_true), 1 - alpha))
        focal = m.multiply(weight, focal)
    return m.reduce_mean(focal, axis=axis)


def dice(y_true, y_pred, axis=None):
    y_true, y_pred = _pair(y_true, y_pred)
    inter = m.reduce_sum(m.multiply(y_true, y_pred), axis=axis)
    den = m.add(m.add(m.reduce_sum(y_true, axis=axis), m.reduce_sum(y_pred, axis=axis)), _eps())
    return m.subtract(1.0, m.divide(m.multiply(inter, 2.0), den))


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - tp / (tp + alpha * fp + beta * fn), with Keras's roles of y_true and y_pred."""
    y_true, y_pred = _pair(y_true, y_pred)
    inter = m.reduce_sum(m.multiply(y_true, y_pred), axis=axis)
    fp = m.reduce_sum(m.multiply(m.subtract(1.0, y_pred), y_true), axis=axis)
    fn = m.reduce_sum(m.multiply(y_pred, m.subtract(1.0, y_true)), axis=axis)
    den = m.add(m.add(m.add(inter, m.multiply(fp, alpha)), m.multiply(fn, beta)), _eps())
    return m.subtract(1.0, m.divide(inter, den))


# ------------------------------------------------------------------ classes

class LossFunctionWrapper(Loss):
    """A `Loss` from a per-sample function `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        if isinstance(y_true, Tensor) and isinstance(y_pred, Tensor):
            y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config["fn"] = getattr(self.fn, "__name__", str(self.fn))
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" not in config:
            return cls(**config)
        fn = config.pop("fn")
        if isinstance(fn, (str, dict)):
            from tenfold.keras import losses
            fn = losses.get(fn)
        return cls(fn, **config)

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


def _simple(cls_name, fn, default_name):
    """A LossFunctionWrapper subclass whose config is Loss's."""

    def __init__(self, reduction="sum_over_batch_size", name=default_name, dtype=None):
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)

    return type(cls_name, (LossFunctionWrapper,), {"__init__": __init__,
                                                   "get_config": get_config,
                                                   "__doc__": f"Loss class of `{fn.__name__}`."})


MeanSquaredError = _simple("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _simple("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _simple("MeanAbsolutePercentageError",
                                      mean_absolute_percentage_error,
                                      "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _simple("MeanSquaredLogarithmicError",
                                      mean_squared_logarithmic_error,
                                      "mean_squared_logarithmic_error")
LogCosh = _simple("LogCosh", log_cosh, "log_cosh")
Hinge = _simple("Hinge", hinge, "hinge")
SquaredHinge = _simple("SquaredHinge", squared_hinge, "squared_hinge")
CategoricalHinge = _simple("CategoricalHinge", categorical_hinge, "categorical_hinge")
KLDivergence = _simple("KLDivergence", kl_divergence, "kl_divergence")
Poisson = _simple("Poisson", poisson, "poisson")


def _config_with(loss, *names):
    """`Loss.get_config` (without the wrapped function's arguments) plus the attributes
    `names` of `loss`."""
    config = Loss.get_config(loss)
    config.update({k: getattr(loss, k) for k in names})
    return config


class CosineSimilarity(LossFunctionWrapper):
    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype,
                         axis=axis)

    def get_config(self):
        return Loss.get_config(self)


class Huber(LossFunctionWrapper):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)

    def get_config(self):
        return Loss.get_config(self)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy (`from_logits`, `label_smoothing` towards 0.5, `axis`)."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return _config_with(self, "from_logits", "label_smoothing", "axis")


class BinaryFocalCrossentropy(LossFunctionWrapper):
    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, apply_class_balancing=apply_class_balancing, alpha=alpha,
                         gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma

    def get_config(self):
        return _config_with(self, "from_logits", "label_smoothing", "axis", "apply_class_balancing",
                            "alpha", "gamma")


class CategoricalCrossentropy(LossFunctionWrapper):
    """Categorical cross-entropy for one-hot labels (`from_logits`, `label_smoothing`,
    `axis`)."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return _config_with(self, "from_logits", "label_smoothing", "axis")


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self.alpha = alpha
        self.gamma = gamma

    def get_config(self):
        return _config_with(self, "from_logits", "label_smoothing", "axis", "alpha", "gamma")


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels (`from_logits`, `ignore_class`, `axis`)."""

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def call(self, y_true, y_pred):
        # Labels stay class indices: Loss.__call__ made them float, the op casts them back.
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return _config_with(self, "from_logits", "ignore_class")


class Dice(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return _config_with(self, "axis")


class Tversky(LossFunctionWrapper):
    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        super().__init__(tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha,
                         beta=beta, axis=axis)
        self.alpha, self.beta, self.axis = alpha, beta, axis

    def get_config(self):
        return _config_with(self, "alpha", "beta", "axis")
