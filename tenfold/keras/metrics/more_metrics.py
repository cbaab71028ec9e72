"""Keras 3 metrics beyond the core set: operating-point metrics (SensitivityAtSpecificity,
SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision), R2Score, correlation
metrics, and intersection-over-union metrics (IoU, BinaryIoU, MeanIoU, OneHotIoU,
OneHotMeanIoU). Same arguments, state variables, defaults and results as Keras 3.
"""
import warnings

import numpy as np

from tenfold.keras.metrics.confusion import (
    TP, FP, TN, FN, _epsilon, update_confusion_matrix_variables)
from tenfold.keras.metrics.metric import Metric, MeanMetricWrapper
from tenfold.keras.losses.loss import squeeze_or_expand_to_same_rank
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.framework.host import eager_values


def _ops():
    from tenfold.keras import ops
    return ops


# ------------------------------------------------------------------ operating points
class SensitivitySpecificityBase(Metric):
    """Counts TP/FP/TN/FN at `num_thresholds` evenly spaced thresholds in [0, 1]; subclasses
    pick the best value of one rate among thresholds where another reaches `value`."""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if num_thresholds <= 0:
            raise ValueError("Argument `num_thresholds` must be an integer > 0. Received: "
                             f"num_thresholds={num_thresholds}")
        self.value = value
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
            self._thresholds_distributed_evenly = False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds = [0.0] + inner + [1.0]
            self._thresholds_distributed_evenly = True
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), "zeros", name="true_positives")
        self.false_positives = self.add_variable((n,), "zeros", name="false_positives")
        self.true_negatives = self.add_variable((n,), "zeros", name="true_negatives")
        self.false_negatives = self.add_variable((n,), "zeros", name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables(
            {TP: self.true_positives, TN: self.true_negatives, FP: self.false_positives,
             FN: self.false_negatives}, y_true, y_pred, self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            class_id=self.class_id, sample_weight=sample_weight)

    def _rates(self):
        ops = _ops()
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        return {"sensitivity": ops.divide_no_nan(tp, ops.add(tp, fn)),
                "specificity": ops.divide_no_nan(tn, ops.add(tn, fp)),
                "precision": ops.divide_no_nan(tp, ops.add(tp, fp))}

    def _best(self, constrained, dependent):
        """max of `dependent` where `constrained >= value` (0 if nowhere)."""
        ops = _ops()
        feasible = ops.greater_equal(constrained, self.value)
        return ops.max(ops.where(feasible, dependent, ops.zeros_like(dependent)))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_id": self.class_id}


def _check_unit(name, v):
    if v < 0 or v > 1:
        raise ValueError(f"Argument `{name}` must be in the range [0, 1]. Received: {name}={v}")


class SensitivityAtSpecificity(SensitivitySpecificityBase):
    """The best sensitivity (recall) where specificity >= `specificity`."""

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("specificity", specificity)
        self.specificity = specificity
        self.num_thresholds = num_thresholds
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._best(r["specificity"], r["sensitivity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "specificity": self.specificity}


class SpecificityAtSensitivity(SensitivitySpecificityBase):
    """The best specificity where sensitivity (recall) >= `sensitivity`."""

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("sensitivity", sensitivity)
        self.sensitivity = sensitivity
        self.num_thresholds = num_thresholds
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._best(r["sensitivity"], r["specificity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "sensitivity": self.sensitivity}


class PrecisionAtRecall(SensitivitySpecificityBase):
    """The best precision where recall >= `recall`."""

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("recall", recall)
        self.recall = recall
        self.num_thresholds = num_thresholds
        super().__init__(recall, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._best(r["sensitivity"], r["precision"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "recall": self.recall}


class RecallAtPrecision(SensitivitySpecificityBase):
    """The best recall where precision >= `precision`."""

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("precision", precision)
        self.precision = precision
        self.num_thresholds = num_thresholds
        super().__init__(precision, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._best(r["precision"], r["sensitivity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "precision": self.precision}


# ------------------------------------------------------------------ regression
class R2Score(Metric):
    """The coefficient of determination, per output column then aggregated
    (`class_aggregation`: "uniform_average", "variance_weighted_average" or None), optionally
    adjusted for `num_regressors`. Expects 2-D `(batch, outputs)` inputs."""

    def __init__(self, class_aggregation="uniform_average", num_regressors=0,
                 name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of "
                             f"{valid}. Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value "
                             f">= 0. Received: num_regressors={num_regressors}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable((), "zeros", name="num_samples")
        self._built = False

    def _build(self, true_shape, pred_shape):
        if len(pred_shape) != 2 or len(true_shape) != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={pred_shape} and "
                             f"y_true.shape={true_shape}.")
        n = pred_shape[-1]
        self.squared_sum = self.add_variable((n,), "zeros", name="squared_sum")
        self.sum = self.add_variable((n,), "zeros", name="sum")
        self.total_mse = self.add_variable((n,), "zeros", name="residual")
        self.count = self.add_variable((n,), "zeros", name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = _ops()
        y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            self._build(tuple(y_true.shape), tuple(y_pred.shape))
        sw = ops.convert_to_tensor(1.0 if sample_weight is None else sample_weight,
                                   dtype=self.dtype)
        if len(sw.shape) == 1:
            sw = ops.expand_dims(sw, 1)
        sw = ops.broadcast_to(sw, ops.shape(y_true))
        wt = ops.multiply(y_true, sw)
        self.sum.assign(ops.add(self.sum, ops.sum(wt, axis=0)))
        self.squared_sum.assign(ops.add(self.squared_sum, ops.sum(ops.multiply(y_true, wt),
                                                                  axis=0)))
        self.total_mse.assign(ops.add(self.total_mse, ops.sum(
            ops.multiply(ops.square(ops.subtract(y_true, y_pred)), sw), axis=0)))
        self.count.assign(ops.add(self.count, ops.sum(sw, axis=0)))
        self.num_samples.assign(ops.add(self.num_samples,
                                        float(np.prod(tuple(y_true.shape)))))

    def result(self):
        ops = _ops()
        mean = ops.divide(self.sum, self.count)
        total = ops.subtract(self.squared_sum, ops.multiply(self.sum, mean))
        raw = ops.subtract(1.0, ops.divide(self.total_mse, total))
        raw = ops.where(ops.isinf(raw), ops.zeros_like(raw), raw)
        if self.class_aggregation == "uniform_average":
            r2 = ops.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            r2 = ops.divide(ops.sum(ops.multiply(total, raw)), ops.sum(total))
        else:
            r2 = raw
        if self.num_regressors != 0:
            p = float(self.num_regressors)
            seen = eager_values(self.num_samples)  # the warnings are eager-only
            if seen is not None and p > float(seen) - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 "
                              "score. Falling back to standard R2 score.", stacklevel=2)
            elif seen is not None and p == float(seen) - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            n = ops.cast(self.num_samples, r2.dtype)
            adjusted = ops.subtract(1.0, ops.divide(ops.multiply(ops.subtract(1.0, r2),
                                                                 ops.subtract(n, 1.0)),
                                                    ops.maximum(ops.subtract(n, p + 1.0), 1.0)))
            r2 = ops.where(ops.less(p, ops.subtract(n, 1.0)), adjusted, r2)
        return r2

    def reset_state(self):
        for v in self.variables:
            v.assign(np.zeros(shape_of(v), npd(v)))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype,
                "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's correlation coefficient between labels and predictions along `axis`."""
    ops = _ops()
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    t = ops.subtract(y_true, ops.mean(y_true, axis=axis, keepdims=True))
    p = ops.subtract(y_pred, ops.mean(y_pred, axis=axis, keepdims=True))
    t = ops.divide(t, ops.std(t, axis=axis, keepdims=True))
    p = ops.divide(p, ops.std(p, axis=axis, keepdims=True))
    return ops.mean(ops.multiply(t, p), axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation coefficient along `axis` (Keras 3's formula)."""
    ops = _ops()
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    t_mean = ops.mean(y_true, axis=axis, keepdims=True)
    p_mean = ops.mean(y_pred, axis=axis, keepdims=True)
    t_var = ops.var(ops.subtract(y_true, t_mean), axis=axis, keepdims=True)
    p_var = ops.var(ops.subtract(y_pred, p_mean), axis=axis, keepdims=True)
    # (Keras 3 centres y_true on the mean of y_pred here; kept for identical numbers.)
    covar = ops.multiply(ops.subtract(y_true, p_mean), ops.subtract(y_pred, p_mean))
    norm = ops.add(ops.add(t_var, p_var), ops.square(ops.subtract(t_mean, p_mean)))
    return ops.mean(ops.divide(ops.multiply(2.0, covar), ops.add(norm, _epsilon())),
                    axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class ConcordanceCorrelation(MeanMetricWrapper):
    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


# ------------------------------------------------------------------ IoU
class _IoUBase(Metric):
    """Accumulates a `num_classes` x `num_classes` confusion matrix (rows: labels, columns:
    predictions). As Keras, the default dtype is int32, so float sample weights truncate."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int32")
        self._direction = "up"
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable((num_classes, num_classes), "zeros",
                                          name="total_confusion_matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = _ops()
        if not self.sparse_y_true:
            y_true = ops.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = ops.argmax(y_pred, axis=self.axis)
        y_true = ops.reshape(ops.convert_to_tensor(y_true, dtype=self.dtype), (-1,))
        y_pred = ops.reshape(ops.convert_to_tensor(y_pred, dtype=self.dtype), (-1,))
        if sample_weight is None:
            sw = ops.ones_like(y_true)
        else:
            if "float" in str(getattr(sample_weight, "dtype", "")) and "int" in self.dtype:
                warnings.warn("You are passing weight as `float`, but dtype is `int`. This may "
                              "result in an incorrect weight due to type casting Consider "
                              "using integer weights.", stacklevel=2)
            sw = ops.convert_to_tensor(sample_weight, dtype=self.dtype)
            sw = ops.broadcast_to(ops.reshape(sw, (-1,)) if len(sw.shape) > 1 else sw,
                                  ops.shape(y_true))
        n = self.num_classes
        ok = ops.logical_and(
            ops.logical_and(ops.greater_equal(y_true, 0), ops.less(y_true, n)),
            ops.logical_and(ops.greater_equal(y_pred, 0), ops.less(y_pred, n)))
        if self.ignore_class is not None:
            ok = ops.logical_and(ok, ops.not_equal(y_true, self.ignore_class))
        zero = ops.zeros_like(y_true)
        y_true = ops.where(ok, y_true, zero)
        y_pred = ops.where(ok, y_pred, zero)
        sw = ops.where(ok, sw, ops.zeros_like(sw))
        flat_index = ops.add(ops.multiply(ops.cast(y_true, "int64"), n),
                             ops.cast(y_pred, "int64"))
        cm = ops.segment_sum(sw, flat_index, num_segments=n * n)
        self.total_cm.assign(ops.add(self.total_cm, ops.reshape(cm, (n, n))))

    def reset_state(self):
        self.total_cm.assign(np.zeros(shape_of(self.total_cm), npd(self.total_cm)))


class IoU(_IoUBase):
    """Intersection over union, averaged over `target_class_ids`."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes=num_classes, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which "
                             f"is [0, {num_classes}).")
        self.target_class_ids = list(target_class_ids)

    def result(self):
        ops = _ops()
        cm = ops.cast(self.total_cm, self.dtype)
        pred_counts = ops.sum(cm, axis=0)
        true_counts = ops.sum(cm, axis=1)
        tp = ops.diagonal(cm)
        denom = ops.subtract(ops.add(pred_counts, true_counts), tp)
        ids = np.asarray(self.target_class_ids, dtype="int32")
        tp = ops.cast(ops.take(tp, ids), "float32")
        denom = ops.cast(ops.take(denom, ids), "float32")
        valid = ops.cast(ops.greater(denom, 1e-9), "float32")
        iou = ops.divide(tp, ops.add(denom, _epsilon()))
        iou = ops.where(ops.cast(valid, "bool"), iou, ops.zeros_like(iou))
        return ops.divide(ops.sum(iou, axis=self.axis), ops.add(ops.sum(valid), _epsilon()))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of a binary task: predictions >= `threshold` are class 1."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name,
                         dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = _ops()
        y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, dtype="float32")
        y_pred = ops.cast(ops.greater_equal(y_pred, self.threshold), self.dtype)
        return super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """IoU averaged over all `num_classes` classes."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=list(range(num_classes)),
                         name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """IoU for one-hot labels (argmax over the class axis)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=target_class_ids,
                         name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "name": self.name, "dtype": self.dtype, "ignore_class": self.ignore_class,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """MeanIoU for one-hot labels (argmax over the class axis)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}
