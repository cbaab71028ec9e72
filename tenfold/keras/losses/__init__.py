"""`keras.losses`: loss classes, per-sample loss functions, and `get` / `serialize` /
`deserialize`.

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    value = loss(y_true, logits, sample_weight=None)       # a scalar tensor
    keras.losses.get("mse")                                 # the function mean_squared_error
"""
from tenfold.keras import _identifiers as _ids
from tenfold.keras.losses.loss import Loss, reduce_weighted_values  # noqa: F401
from tenfold.keras.losses.losses import (  # noqa: F401
    LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge,
    CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy, BinaryFocalCrossentropy,
    CategoricalCrossentropy, CategoricalFocalCrossentropy, SparseCategoricalCrossentropy, Dice,
    Tversky,
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, kl_divergence, poisson,
    hinge, squared_hinge, categorical_hinge, binary_crossentropy, binary_focal_crossentropy,
    categorical_crossentropy, categorical_focal_crossentropy, sparse_categorical_crossentropy,
    dice, tversky)

# tf.keras 2 aliases
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh
huber_loss = huber
Reduction = type("Reduction", (), {"NONE": "none", "SUM": "sum", "AUTO": "sum_over_batch_size",
                                   "SUM_OVER_BATCH_SIZE": "sum_over_batch_size"})

ALL_OBJECTS = (
    Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge,
    CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy, BinaryFocalCrossentropy,
    CategoricalCrossentropy, CategoricalFocalCrossentropy, SparseCategoricalCrossentropy, Dice,
    Tversky,
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, kl_divergence, poisson,
    hinge, squared_hinge, categorical_hinge, binary_crossentropy, binary_focal_crossentropy,
    categorical_crossentropy, categorical_focal_crossentropy, sparse_categorical_crossentropy,
    dice, tversky)
ALL_OBJECTS_DICT = {obj.__name__: obj for obj in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "kld": kl_divergence, "KLD": kl_divergence,
    "kullback_leibler_divergence": kl_divergence, "logcosh": log_cosh, "huber_loss": huber,
})


def serialize(loss):
    """Keras 3's config dict for a loss object (or the function's name for a function)."""
    if loss is None:
        return None
    if isinstance(loss, Loss):
        return _ids.instance_config(loss, "keras.losses", ALL_OBJECTS_DICT, _ids.registry_name)
    if callable(loss):
        name = getattr(loss, "__name__", None)
        if ALL_OBJECTS_DICT.get(name) is loss:
            return {"module": "keras.losses", "class_name": "function", "config": name,
                    "registered_name": "function"}
        return {"module": getattr(loss, "__module__", None), "class_name": "function",
                "config": _ids.registry_name(loss), "registered_name": "function"}
    raise ValueError(f"Cannot serialize loss {loss!r}")


def deserialize(config, custom_objects=None):
    """A loss from a config dict or a name."""
    return _ids.deserialize_named(config, custom_objects, kind="loss", known=ALL_OBJECTS_DICT,
                                  unknown=_unknown)


def _unknown(name):
    return (f"Could not interpret loss identifier: '{name}'."
            f"{_ids.did_you_mean(name, ALL_OBJECTS_DICT)} Known losses include "
            "'mse', 'mae', 'binary_crossentropy', 'categorical_crossentropy', "
            "'sparse_categorical_crossentropy', 'huber', 'kld', 'hinge' and the classes in "
            "keras.losses.")


def get(identifier):
    """A loss from a name ('mse', 'categorical_crossentropy', 'Huber', ...), a config dict, a
    Loss object or a callable. Names of functions give the function (as Keras does)."""
    return _ids.get_named(identifier, kind="loss", known=ALL_OBJECTS_DICT,
                          deserialize=deserialize, unknown=_unknown)
