"""`keras.metrics`: stateful metrics (`update_state` / `result` / `reset_state`), metric
functions, and `get` / `serialize` / `deserialize`.

    acc = keras.metrics.SparseCategoricalAccuracy()
    acc.update_state(labels, probabilities)
    float(acc.result())

`get('accuracy')` gives the `Accuracy` metric (exact match); `compile(metrics=['accuracy'])`
resolves the string by the loss (binary / categorical / sparse categorical), as Keras does.
"""
from tenfold.keras import _identifiers as _ids
from tenfold.keras.metrics.metric import (  # noqa: F401
    Metric, Mean, Sum, MeanMetricWrapper, reduce_to_samplewise_values)
from tenfold.keras.metrics.accuracy import (  # noqa: F401
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    RootMeanSquaredError, CosineSimilarity, LogCoshError, KLDivergence, Poisson, Hinge,
    SquaredHinge, CategoricalHinge, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy)
from tenfold.keras.metrics.confusion import (  # noqa: F401
    TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall, AUC,
    FBetaScore, F1Score)
from tenfold.keras.metrics.more_metrics import (  # noqa: F401
    SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision,
    R2Score, PearsonCorrelation, ConcordanceCorrelation, pearson_correlation,
    concordance_correlation, IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU)
from tenfold.keras.losses import (  # noqa: F401
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, kl_divergence, poisson, hinge, squared_hinge,
    categorical_hinge, binary_crossentropy, categorical_crossentropy,
    sparse_categorical_crossentropy, binary_focal_crossentropy, log_cosh)

# tf.keras 2 aliases
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

ALL_OBJECTS = (
    Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
    SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, RootMeanSquaredError, CosineSimilarity, LogCoshError,
    KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, TruePositives, FalsePositives,
    TrueNegatives, FalseNegatives, Precision, Recall, AUC, FBetaScore, F1Score,
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, mean_squared_error,
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error,
    kl_divergence, poisson, hinge, squared_hinge, categorical_hinge, binary_crossentropy,
    categorical_crossentropy, sparse_categorical_crossentropy, log_cosh,
    SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision,
    R2Score, PearsonCorrelation, ConcordanceCorrelation, IoU, BinaryIoU, MeanIoU, OneHotIoU,
    OneHotMeanIoU, pearson_correlation, concordance_correlation)
ALL_OBJECTS_DICT = {obj.__name__: obj for obj in ALL_OBJECTS}
# As Keras 3: every class also by its snake_case name ("cosine_similarity", "r2_score", ...);
# names of functions (e.g. "mean_squared_error") keep meaning the function.
for _cls in [o for o in ALL_OBJECTS if isinstance(o, type)]:
    from tenfold.keras.layers.layer import to_snake_case as _snake
    ALL_OBJECTS_DICT.setdefault(_snake(_cls.__name__), _cls)
del _cls
ALL_OBJECTS_DICT.update({
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "kld": kl_divergence, "KLD": kl_divergence, "logcosh": log_cosh,
    "kullback_leibler_divergence": kl_divergence,
    "acc": accuracy, "auc": AUC, "precision": Precision, "recall": Recall,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "f1_score": F1Score,
})

# Strings compile(metrics=[...]) resolves by the loss (see `resolve_accuracy`).
_ACCURACY_NAMES = ("accuracy", "acc")
_CROSSENTROPY_NAMES = ("crossentropy", "ce")


def resolve_accuracy(name, loss=None, y_true=None, y_pred=None):
    """The metric function that 'accuracy' / 'acc' means for this loss (Keras's rule):
    binary crossentropy -> binary_accuracy; sparse categorical crossentropy ->
    sparse_categorical_accuracy; categorical crossentropy -> categorical_accuracy; otherwise
    from the shapes: one output unit -> binary_accuracy; labels with a trailing axis of 1 or
    one fewer axis than predictions -> sparse_categorical_accuracy; else categorical."""
    lname = _loss_name(loss)
    if lname is not None:
        if "sparse" in lname and "crossentropy" in lname:
            return sparse_categorical_accuracy
        if "binary" in lname and "crossentropy" in lname:
            return binary_accuracy
        if "categorical" in lname and "crossentropy" in lname:
            return categorical_accuracy
        if lname in ("hinge", "squared_hinge"):
            return binary_accuracy
    if y_pred is not None and y_true is not None:
        tp, pp = tuple(getattr(y_true, "shape", ())), tuple(getattr(y_pred, "shape", ()))
        if pp and pp[-1] == 1:
            return binary_accuracy
        if len(tp) == len(pp) - 1 or (len(tp) == len(pp) and tp and tp[-1] == 1):
            return sparse_categorical_accuracy
        return categorical_accuracy
    return accuracy


def _loss_name(loss):
    if loss is None:
        return None
    if isinstance(loss, str):
        return loss.lower()
    from tenfold.keras.losses import Loss, LossFunctionWrapper
    if isinstance(loss, LossFunctionWrapper):
        return getattr(loss.fn, "__name__", "").lower()
    if isinstance(loss, Loss):
        import re
        return re.sub(r"(?<!^)(?=[A-Z])", "_", type(loss).__name__).lower()
    return getattr(loss, "__name__", "").lower() or None


def serialize(metric):
    if metric is None:
        return None
    if isinstance(metric, Metric):
        return _ids.instance_config(metric, "keras.metrics", ALL_OBJECTS_DICT, _ids.registry_name)
    if callable(metric):
        return {"module": "keras.metrics", "class_name": "function",
                "config": getattr(metric, "__name__", str(metric)),
                "registered_name": "function"}
    raise ValueError(f"Cannot serialize metric {metric!r}")


def deserialize(config, custom_objects=None):
    return _ids.deserialize_named(config, custom_objects, kind="metric", known=ALL_OBJECTS_DICT,
                                  unknown=_unknown)


def _unknown(name):
    return (f"Could not interpret metric identifier: {name}."
            f"{_ids.did_you_mean(name, ALL_OBJECTS_DICT)}")


def get(identifier):
    """A metric from a name ('accuracy', 'mae', 'AUC', ...), a config dict, a Metric or a
    callable. Names of functions give the function, names of classes an instance."""
    return _ids.get_named(identifier, kind="metric", known=ALL_OBJECTS_DICT,
                          deserialize=deserialize, unknown=_unknown)
