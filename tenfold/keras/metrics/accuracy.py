"""Accuracy metrics and the mean-of-a-function metrics (regression and probabilistic)."""
import numpy as np

from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.ops import fused_ops as _fused
from tenfold.keras import losses as _losses
from tenfold.keras.losses.loss import (
    to_dtype, to_tensor, float_tensor, squeeze_or_expand_to_same_rank)
from tenfold.keras.metrics.metric import Mean, MeanMetricWrapper
from tenfold.util.tensor_meta import npd, shape_of



def _floatx():
    from tenfold.keras import backend
    return np.dtype(backend.floatx())


def _matches(x, y):
    return m.cast(m.equal(x, y), _floatx())


# ------------------------------------------------------------------ functions

def accuracy(y_true, y_pred):
    """1.0 where y_true == y_pred exactly, else 0.0."""
    y_pred = to_tensor(y_pred)
    y_true = to_dtype(y_true, npd(y_pred))
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return _matches(y_true, y_pred)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true."""
    y_pred = to_tensor(y_pred)
    y_true = to_tensor(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    pred = m.greater(y_pred, to_dtype(threshold, npd(y_pred)))
    pred = m.cast(pred, npd(y_true))
    return _matches(y_true, pred)


def _argmax(x):
    return m.argmax(x, axis=-1)


def _same_rows(label_rows, y_pred):
    """Whether the labels' shape (without their class axis, if one-hot) is y_pred's rows:
    then accuracy's argmaxes, comparison and cast run as one kernel (argmax_matches) instead
    of broadcasting."""
    rows = tuple(shape_of(y_pred))[:-1]
    return tuple(label_rows) == rows and None not in rows and shape_of(y_pred)[-1] not in \
        (None, 0)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) == argmax(y_pred) (one-hot labels)."""
    y_pred = to_tensor(y_pred)
    y_true = to_tensor(y_true)
    if y_true.ndim == 0:
        raise ValueError("categorical_accuracy expects one-hot labels of shape (batch, classes); "
                         "got a scalar.")
    if y_true.ndim < y_pred.ndim or (
            shape_of(y_true)[-1] == 1 and shape_of(y_pred)[-1] > 1):
        raise ValueError(
            f"categorical_accuracy expects one-hot labels shaped like the predictions; got "
            f"y_true.shape={tuple(shape_of(y_true))}, y_pred.shape="
            f"{tuple(shape_of(y_pred))}. For integer class labels use "
            "'sparse_categorical_accuracy' (metrics=['accuracy'] picks it with "
            "loss='sparse_categorical_crossentropy').")
    if _same_rows(shape_of(y_true)[:-1], y_pred):
        return _fused.argmax_matches(y_true, y_pred, dtype=_floatx())   # one kernel
    t = _argmax(y_true)
    p = _argmax(y_pred)
    return _matches(t, p)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals argmax(y_pred)."""
    y_pred = to_tensor(y_pred)
    y_true = to_dtype(y_true, npd(y_pred))
    shape = shape_of(y_true)
    reshape = False
    if y_true.ndim == y_pred.ndim and shape[-1] == 1:
        y_true = a.squeeze(y_true, -1)
        reshape = True
    if _same_rows(shape_of(y_true), y_pred):
        matches = _fused.argmax_matches(y_true, y_pred, dtype=_floatx())   # one kernel
    else:
        matches = _matches(y_true, m.cast(_argmax(y_pred), npd(y_true)))
    if reshape:
        matches = a.reshape(matches, shape)
    if matches.ndim > 1 and shape_of(matches)[-1] == 1:
        matches = a.squeeze(matches, -1)
    return matches


def _in_top_k(targets, preds, k):
    pv = preds
    tgt = m.cast(targets, np.int64)
    target_vals = a.take_along_axis(pv, a.expand_dims(tgt, -1), axis=-1)
    greater = m.reduce_sum(m.cast(m.greater(pv, target_vals), np.int32), axis=-1)
    return m.less(greater, int(k))


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_pred = float_tensor(y_pred)
    y_true = _argmax(to_dtype(y_true, npd(y_pred)))
    shape = shape_of(y_true)
    if y_pred.ndim > 2:
        y_pred = a.reshape(y_pred, (-1, shape_of(y_pred)[-1]))
    if y_true.ndim > 1:
        y_true = a.reshape(y_true, (-1,))
    matches = m.cast(_in_top_k(y_true, y_pred, k), _floatx())
    return a.reshape(matches, shape) if len(shape) > 1 else matches


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    y_pred = to_tensor(y_pred)
    y_true = to_dtype(y_true, npd(y_pred) if from_sorted_ids else np.int32)
    shape = shape_of(y_true)
    if y_pred.ndim > 2:
        y_pred = a.reshape(y_pred, (-1, shape_of(y_pred)[-1]))
    if y_true.ndim > 1:
        y_true = a.reshape(y_true, (-1,))
    if from_sorted_ids:
        matches = m.reduce_any(m.equal(a.expand_dims(y_true, 1), y_pred[:, :k]), axis=1)
    else:
        matches = _in_top_k(y_true, y_pred, k)
    matches = m.cast(matches, _floatx())
    return a.reshape(matches, shape) if len(shape) > 1 else matches


# ------------------------------------------------------------------ accuracy classes

class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(fn=accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches binary labels."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(fn=binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches argmax of one-hot labels."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(fn=categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(fn=sparse_categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(fn=top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(fn=sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids
        self._direction = "up"

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


# ------------------------------------------------------------------ loss-function metrics

def _wrapper(cls_name, fn, default_name, params=(), direction="down", hidden=()):
    """A MeanMetricWrapper subclass over loss function `fn` with keyword `params`."""
    names = [p for p, _ in params]
    defaults = dict(params)

    def __init__(self, name=default_name, dtype=None, **kwargs):
        bad = set(kwargs) - set(names)
        if bad:
            raise TypeError(f"{cls_name}.__init__() got unexpected keyword argument(s): "
                            f"{', '.join(sorted(bad))}")
        values = {k: kwargs.get(k, defaults[k]) for k in names}
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **values)
        for k, v in values.items():
            setattr(self, k, v)
        self._direction = direction

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype}
        config.update({k: getattr(self, k) for k in names if k not in hidden})
        return config

    return type(cls_name, (MeanMetricWrapper,),
                {"__init__": __init__, "get_config": get_config,
                 "__doc__": f"Mean of `{fn.__name__}` over the samples seen."})


MeanSquaredError = _wrapper("MeanSquaredError", _losses.mean_squared_error,
                            "mean_squared_error")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", _losses.mean_absolute_error,
                             "mean_absolute_error")
MeanAbsolutePercentageError = _wrapper("MeanAbsolutePercentageError",
                                       _losses.mean_absolute_percentage_error,
                                       "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _wrapper("MeanSquaredLogarithmicError",
                                       _losses.mean_squared_logarithmic_error,
                                       "mean_squared_logarithmic_error")
CosineSimilarity = _wrapper("CosineSimilarity", lambda yt, yp, axis=-1:
                            m.negative(_losses.cosine_similarity(yt, yp, axis=axis)),
                            "cosine_similarity", (("axis", -1),), direction="up",
                            hidden=("axis",))
LogCoshError = _wrapper("LogCoshError", _losses.log_cosh, "logcosh")
KLDivergence = _wrapper("KLDivergence", _losses.kl_divergence, "kl_divergence")
Poisson = _wrapper("Poisson", _losses.poisson, "poisson")
Hinge = _wrapper("Hinge", _losses.hinge, "hinge")
SquaredHinge = _wrapper("SquaredHinge", _losses.squared_hinge, "squared_hinge")
CategoricalHinge = _wrapper("CategoricalHinge", _losses.categorical_hinge, "categorical_hinge")
BinaryCrossentropy = _wrapper("BinaryCrossentropy", _losses.binary_crossentropy,
                              "binary_crossentropy",
                              (("from_logits", False), ("label_smoothing", 0)))
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", _losses.categorical_crossentropy,
                                   "categorical_crossentropy",
                                   (("from_logits", False), ("label_smoothing", 0),
                                    ("axis", -1)))
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy",
                                         _losses.sparse_categorical_crossentropy,
                                         "sparse_categorical_crossentropy",
                                         (("from_logits", False), ("ignore_class", None),
                                          ("axis", -1)))


class RootMeanSquaredError(Mean):
    """sqrt(mean((y_pred - y_true) ** 2)) over all values seen."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = to_dtype(y_pred, np.dtype(self.dtype))
        y_true = to_dtype(y_true, npd(y_pred))
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return super().update_state(m.squared_difference(y_pred, y_true),
                                    sample_weight=sample_weight)

    def result(self):
        return m.sqrt(m.div_no_nan(self.total, self.count))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
