"""Confusion-matrix metrics: TruePositives ... FalseNegatives, Precision, Recall, AUC, F-scores.

Counts are accumulated per threshold (a prediction is positive when `y_pred > threshold`).
AUC's evenly spaced thresholds use bucketing (a scatter-add and a reversed cumulative sum)
instead of comparing every prediction with every threshold, as Keras does.
"""
import numpy as np

from tenfold.framework.tensor import Tensor
from tenfold.ops import math_ops as m
from tenfold.ops import array_ops as a
from tenfold.keras.losses.loss import to_dtype, to_tensor, squeeze_or_expand_to_same_rank
from tenfold.keras.metrics.metric import Metric
from tenfold.util.tensor_meta import npd, shape_of
from tenfold.framework.host import from_host
from tenfold.framework.host import to_host

NEG_INF = -1e10
TP, FP, TN, FN = "tp", "fp", "tn", "fn"


def _epsilon():
    from tenfold.keras import backend
    return backend.epsilon()


def _parse_thresholds(thresholds, default):
    if thresholds is None:
        return [default]
    if isinstance(thresholds, (list, tuple, np.ndarray)):
        t = [float(x) for x in np.asarray(thresholds).ravel()]
    else:
        t = [float(thresholds)]
    for x in t:
        if x != NEG_INF and not 0 <= x <= 1:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {x}")
    return t


def _evenly_spaced(thresholds):
    t = np.asarray(thresholds, dtype=np.float64)
    n = len(t)
    if n < 3:
        return False
    step = 1.0 / (n - 1)
    return bool(np.allclose(t, np.arange(n) * step, atol=_epsilon()))


def _filter_top_k(x, k):
    idx = a.top_k(x, k).indices
    depth = shape_of(x)[-1]
    mask = m.reduce_sum(a.one_hot(idx, depth, dtype=x.dtype), axis=-2)
    return m.add(m.multiply(x, mask), m.multiply(m.subtract(1.0, mask), NEG_INF))


def update_confusion_matrix_variables(variables, y_true, y_pred, thresholds, top_k=None,
                                      class_id=None, sample_weight=None, multi_label=False,
                                      label_weights=None, thresholds_distributed_evenly=False):
    """Adds this batch's weighted TP/FP/TN/FN counts per threshold to `variables` (a dict
    with any of the keys 'tp', 'fp', 'tn', 'fn')."""
    var_dtype = npd(next(iter(variables.values())))
    y_true = to_dtype(y_true, var_dtype)
    y_pred = to_dtype(y_pred, var_dtype)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if tuple(shape_of(y_pred)) != tuple(shape_of(y_true)):
        try:
            np.broadcast_shapes(shape_of(y_pred), shape_of(y_true))
        except ValueError:
            raise ValueError(f"y_true and y_pred must have compatible shapes; got "
                             f"y_true.shape={tuple(shape_of(y_true))}, y_pred.shape="
                             f"{tuple(shape_of(y_pred))}") from None
    if sample_weight is not None:
        sample_weight = a.expand_dims(to_dtype(sample_weight, var_dtype), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight,
                                                          expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: "
                             f"{tuple(shape_of(y_pred))}")
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
    shape = shape_of(y_pred)
    weights = None
    if sample_weight is not None:
        weights = a.broadcast_to(sample_weight, shape)
    if label_weights is not None:
        lw = a.broadcast_to(a.expand_dims(to_dtype(label_weights, var_dtype), 0), shape)
        weights = lw if weights is None else m.multiply(weights, lw)
    if not multi_label:
        y_true = a.reshape(y_true, (-1,))
        y_pred = a.reshape(y_pred, (-1,))
        if weights is not None:
            weights = a.reshape(weights, (-1,))
    nt = len(thresholds)
    if thresholds_distributed_evenly:
        _update_bucketed(variables, y_true, y_pred, thresholds, weights, multi_label)
        return
    # (T, N) or (T, N, L): pred > threshold, label is positive
    th = np.asarray(thresholds, dtype=var_dtype).reshape((nt,) + (1,) * y_pred.ndim)
    pred_pos = m.greater(a.expand_dims(y_pred, 0), from_host(th))
    label_pos = a.expand_dims(m.cast(y_true, np.bool_), 0)
    w = None if weights is None else a.expand_dims(weights, 0)

    def count(label, pred):
        hit = m.cast(m.logical_and(label, pred), var_dtype)
        if w is not None:
            hit = m.multiply(hit, w)
        return m.reduce_sum(hit, axis=1)

    if TP in variables:
        variables[TP].assign_add(count(label_pos, pred_pos))
    if FN in variables or TN in variables:
        pred_neg = m.logical_not(pred_pos)
    if FN in variables:
        variables[FN].assign_add(count(label_pos, pred_neg))
    if FP in variables or TN in variables:
        label_neg = m.logical_not(label_pos)
    if FP in variables:
        variables[FP].assign_add(count(label_neg, pred_pos))
    if TN in variables:
        variables[TN].assign_add(count(label_neg, pred_neg))


def _update_bucketed(variables, y_true, y_pred, thresholds, weights, multi_label):
    nt = len(thresholds)
    dt = npd(y_pred)
    with_eps = thresholds[0] < 0.0 or thresholds[-1] > 1.0
    y_pred = m.clip_by_value(y_pred, 0.0, 1.0)
    y_true = m.cast(m.cast(y_true, np.bool_), dt)
    true_labels = y_true if weights is None else m.multiply(y_true, weights)
    false_labels = m.subtract(1.0, y_true)
    if weights is not None:
        false_labels = m.multiply(false_labels, weights)
    axis = 0 if multi_label else None
    tot_t = m.reduce_sum(true_labels, axis=axis)
    tot_f = m.reduce_sum(false_labels, axis=axis)
    buckets = m.subtract(m.ceil(m.multiply(y_pred, float(nt - 1))), 1.0)
    if not with_eps:
        # predictions of exactly 0 are above no threshold: they fall out of every bucket
        keep = m.cast(m.greater_equal(buckets, 0.0), dt)
        true_labels = m.multiply(true_labels, keep)
        false_labels = m.multiply(false_labels, keep)
    buckets = m.cast(m.maximum(buckets, 0.0), np.int64)
    if multi_label:
        # (N, L): add label index so each label gets its own row of buckets
        n_labels = shape_of(y_pred)[-1]
        offs = from_host((np.arange(n_labels, dtype=np.int64) * nt)[None, :])
        idx = a.reshape(m.add(buckets, offs), (-1, 1))
        size = (n_labels * nt,)
        tp_b = a.reshape(a.scatter_nd(idx, a.reshape(true_labels, (-1,)), size), (n_labels, nt))
        fp_b = a.reshape(a.scatter_nd(idx, a.reshape(false_labels, (-1,)), size),
                         (n_labels, nt))
        tp = a.transpose(m.cumsum(tp_b, axis=1, reverse=True))
        fp = a.transpose(m.cumsum(fp_b, axis=1, reverse=True))
    else:
        idx = a.reshape(buckets, (-1, 1))
        tp = m.cumsum(a.scatter_nd(idx, true_labels, (nt,)), reverse=True)
        fp = m.cumsum(a.scatter_nd(idx, false_labels, (nt,)), reverse=True)
    if TP in variables:
        variables[TP].assign_add(tp)
    if FP in variables:
        variables[FP].assign_add(fp)
    if TN in variables:
        variables[TN].assign_add(m.subtract(tot_f, fp))
    if FN in variables:
        variables[FN].assign_add(m.subtract(tot_t, tp))


class _ConfusionMatrixConditionCount(Metric):
    _cond = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5)
        self._thresholds_distributed_evenly = _evenly_spaced(self.thresholds)
        self.accumulator = self.add_variable(shape=(len(self.thresholds),),
                                             initializer="zeros", name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables(
            {self._cond: self.accumulator}, y_true, y_pred, self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight)

    def result(self):
        if len(self.thresholds) == 1:
            return self.accumulator[0]
        return a.identity(self.accumulator)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    _cond = TP


class FalsePositives(_ConfusionMatrixConditionCount):
    _cond = FP


class TrueNegatives(_ConfusionMatrixConditionCount):
    _cond = TN


class FalseNegatives(_ConfusionMatrixConditionCount):
    _cond = FN


class _PrecisionRecall(Metric):
    _conds = (TP, FP)

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = _parse_thresholds(thresholds, default)
        self._thresholds_distributed_evenly = _evenly_spaced(self.thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), initializer="zeros",
                                                name="true_positives")
        other = "false_positives" if self._conds[1] == FP else "false_negatives"
        setattr(self, other, self.add_variable(shape=(n,), initializer="zeros", name=other))

    def update_state(self, y_true, y_pred, sample_weight=None):
        other = self.false_positives if self._conds[1] == FP else self.false_negatives
        update_confusion_matrix_variables(
            {TP: self.true_positives, self._conds[1]: other}, y_true, y_pred,
            self.thresholds, top_k=self.top_k, class_id=self.class_id,
            sample_weight=sample_weight,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly)

    def result(self):
        other = self.false_positives if self._conds[1] == FP else self.false_negatives
        r = m.div_no_nan(self.true_positives, m.add(self.true_positives, other))
        return r[0] if len(self.thresholds) == 1 else r

    def reset_state(self):
        for v in self.variables:
            v.assign(np.zeros(shape_of(v), npd(v)))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """tp / (tp + fp) at the given thresholds (default 0.5), or among the top-k predictions,
    or for one class."""
    _conds = (TP, FP)


class Recall(_PrecisionRecall):
    """tp / (tp + fn) at the given thresholds (default 0.5)."""
    _conds = (TP, FN)


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from confusion counts at
    `num_thresholds` thresholds (Riemann sums; PR uses Davis & Goadrich interpolation)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self._direction = "up"
        curve = str(curve).upper()
        if curve not in ("ROC", "PR"):
            raise ValueError(f'Invalid `curve` argument value "{curve}". Expected one of: '
                             "['ROC', 'PR']")
        summation_method = str(summation_method).lower()
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f'Invalid `summation_method` argument value "{summation_method}". '
                             "Expected one of: ['interpolation', 'minoring', 'majoring']")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(float(t) for t in thresholds)
            self._thresholds_distributed_evenly = _evenly_spaced([0.0] + thresholds + [1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. Received: "
                                 f"num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1)
                          for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        eps = _epsilon()
        self._thresholds = np.array([0.0 - eps] + thresholds + [1.0 + eps])
        self.curve = curve
        self.summation_method = summation_method
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else \
            from_host(np.asarray(label_weights, dtype=np.dtype(self.dtype)))
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build([None, num_labels])
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found "
                                 f"rank {len(shape)}. Full shape received for `y_pred`: "
                                 f"{tuple(shape)}")
            self._num_labels = shape[1]
            vshape = (self.num_thresholds, self._num_labels)
        else:
            vshape = (self.num_thresholds,)
        self._build_input_shape = shape
        self.true_positives = self.add_variable(shape=vshape, initializer="zeros",
                                                name="true_positives")
        self.false_positives = self.add_variable(shape=vshape, initializer="zeros",
                                                 name="false_positives")
        self.true_negatives = self.add_variable(shape=vshape, initializer="zeros",
                                                name="true_negatives")
        self.false_negatives = self.add_variable(shape=vshape, initializer="zeros",
                                                 name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = to_tensor(y_pred)
        if not self._built:
            self._build(tuple(shape_of(y_pred)))
        if self._from_logits:
            y_pred = m.sigmoid(to_dtype(y_pred, np.dtype(self.dtype)))
        update_confusion_matrix_variables(
            {TP: self.true_positives, TN: self.true_negatives, FP: self.false_positives,
             FN: self.false_negatives}, y_true, y_pred, self._thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)

    def _by_label(self, terms):
        if self.multi_label:
            by_label = m.reduce_sum(terms, axis=0)
            if self.label_weights is None:
                return m.reduce_mean(by_label)
            return m.div_no_nan(m.reduce_sum(m.multiply(by_label, self.label_weights)),
                                m.reduce_sum(self.label_weights))
        return m.reduce_sum(terms)

    def interpolate_pr_auc(self):
        n = self.num_thresholds
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = m.subtract(tp[:n - 1], tp[1:])
        p = m.add(tp, fp)
        dp = m.subtract(p[:n - 1], p[1:])
        slope = m.div_no_nan(dtp, m.maximum(dp, 0.0))
        intercept = m.subtract(tp[1:], m.multiply(slope, p[1:]))
        both = m.logical_and(m.greater(p[:n - 1], 0.0), m.greater(p[1:], 0.0))
        ratio = m.where(both, m.div_no_nan(p[:n - 1], m.maximum(p[1:], 0.0)),
                        a.ones_like(p[1:]))
        inc = m.div_no_nan(m.multiply(slope, m.add(dtp, m.multiply(intercept, m.log(ratio)))),
                           m.maximum(m.add(tp[1:], fn[1:]), 0.0))
        return self._by_label(inc)

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        n = self.num_thresholds
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        recall = m.div_no_nan(tp, m.add(tp, fn))
        if self.curve == "ROC":
            x = m.div_no_nan(fp, m.add(fp, tn))
            y = recall
        else:
            x = recall
            y = m.div_no_nan(tp, m.add(tp, fp))
        if self.summation_method == "interpolation":
            heights = m.divide(m.add(y[:n - 1], y[1:]), 2.0)
        elif self.summation_method == "minoring":
            heights = m.minimum(y[:n - 1], y[1:])
        else:
            heights = m.maximum(y[:n - 1], y[1:])
        return self._by_label(m.multiply(m.subtract(x[:n - 1], x[1:]), heights))

    def reset_state(self):
        if self._built:
            for v in (self.true_positives, self.false_positives, self.true_negatives,
                      self.false_negatives):
                v.assign(np.zeros(shape_of(v), npd(v)))

    def get_config(self):
        label_weights = self.label_weights
        config = {"num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if label_weights is None else
                  to_host(label_weights).tolist(),
                  "from_logits": self._from_logits, "name": self.name, "dtype": self.dtype}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config


class FBetaScore(Metric):
    """F-beta score: (1 + beta^2) * precision * recall / (beta^2 * precision + recall)."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: "
                             f"[None, 'micro', 'macro', 'weighted']. Received: average={average}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError("Invalid `beta` argument value. It should be a Python float > 0. "
                             f"Received: beta={beta} of type '{type(beta)}'")
        if threshold is not None and (not isinstance(threshold, float) or
                                      threshold <= 0.0 or threshold > 1.0):
            raise ValueError("Invalid `threshold` argument value. It should be a Python float "
                             f"in the range ]0, 1]. Received: threshold={threshold}")
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None
        self._built = False
        if average != "micro":
            self.axis = 0

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, "
                             f"output_dim). Received input shapes: y_pred.shape={y_pred_shape} "
                             f"and y_true.shape={y_true_shape}.")
        n = y_pred_shape[-1]
        shape = () if self.average == "micro" else (n,)
        self.true_positives = self.add_variable(shape, "zeros", name="true_positives")
        self.false_positives = self.add_variable(shape, "zeros", name="false_positives")
        self.false_negatives = self.add_variable(shape, "zeros", name="false_negatives")
        self.intermediate_weights = self.add_variable(shape, "zeros",
                                                      name="intermediate_weights")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        dt = np.dtype(self.dtype)
        y_true = to_dtype(y_true, dt)
        y_pred = to_dtype(y_pred, dt)
        if not self._built:
            self._build(tuple(shape_of(y_true)), tuple(shape_of(y_pred)))
        if self.threshold is None:
            mx = m.reduce_max(y_pred, axis=-1, keepdims=True)
            y_pred = m.logical_and(m.greater_equal(y_pred, mx), m.greater(m.abs(y_pred), 1e-9))
        else:
            y_pred = m.greater(y_pred, self.threshold)
        y_pred = m.cast(y_pred, dt)
        sw = None if sample_weight is None else a.expand_dims(to_dtype(sample_weight, dt), 1)

        def red(x):
            if sw is not None:
                x = m.multiply(x, sw)
            return m.reduce_sum(x, axis=self.axis)
        self.true_positives.assign_add(red(m.multiply(y_pred, y_true)))
        self.false_positives.assign_add(red(m.multiply(y_pred, m.subtract(1.0, y_true))))
        self.false_negatives.assign_add(red(m.multiply(m.subtract(1.0, y_pred), y_true)))
        self.intermediate_weights.assign_add(red(y_true))

    def result(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = m.div_no_nan(tp, m.add(m.add(tp, fp), _epsilon()))
        recall = m.div_no_nan(tp, m.add(m.add(tp, fn), _epsilon()))
        b2 = self.beta ** 2
        mul = m.multiply(precision, recall)
        add = m.add(m.multiply(precision, b2), recall)
        f = m.multiply(m.div_no_nan(mul, m.add(add, _epsilon())), 1 + b2)
        if self.average == "weighted":
            w = m.div_no_nan(self.intermediate_weights,
                             m.add(m.reduce_sum(self.intermediate_weights), _epsilon()))
            return m.reduce_sum(m.multiply(f, w))
        if self.average is not None:
            return m.reduce_mean(f)
        return f

    def reset_state(self):
        if self._built:
            for v in self.variables:
                v.assign(np.zeros(shape_of(v), npd(v)))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average,
                "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
