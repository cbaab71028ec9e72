"""`keras.losses`: loss classes, per-sample loss functions, and `get` / `serialize` /
`deserialize`.

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    value = loss(y_true, logits, sample_weight=None)       # a scalar tensor
    keras.losses.get("mse")                                 # the function mean_squared_error
"""
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
        cls = type(loss)
        builtin = ALL_OBJECTS_DICT.get(cls.__name__) is cls
        registered = None
        if not builtin:
            from tenfold.keras.saving.object_registration import get_registered_name
            registered = get_registered_name(cls)
        return {"module": "keras.losses" if builtin else cls.__module__,
                "class_name": cls.__name__, "config": loss.get_config(),
                "registered_name": registered}
    if callable(loss):
        name = getattr(loss, "__name__", None)
        if ALL_OBJECTS_DICT.get(name) is loss:
            return {"module": "keras.losses", "class_name": "function", "config": name,
                    "registered_name": "function"}
        from tenfold.keras.saving.object_registration import get_registered_name
        return {"module": getattr(loss, "__module__", None), "class_name": "function",
                "config": get_registered_name(loss), "registered_name": "function"}
    raise ValueError(f"Cannot serialize loss {loss!r}")


def deserialize(config, custom_objects=None):
    """A loss from a config dict or a name."""
    if isinstance(config, str):
        obj = _lookup(config, custom_objects)
        if obj is None:
            raise ValueError(_unknown(config))
        return obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret loss config: {config!r}")
    name = config["class_name"]
    if name == "function":
        return deserialize(config["config"], custom_objects)
    obj = _lookup(config.get("registered_name") or name, custom_objects) or \
        _lookup(name, custom_objects)
    if obj is None:
        raise ValueError(_unknown(name))
    return obj.from_config(dict(config.get("config", {})))


def _lookup(name, custom_objects=None):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    obj = ALL_OBJECTS_DICT.get(name)
    if obj is not None:
        return obj
    from tenfold.keras.saving.object_registration import get_registered_object
    return get_registered_object(name, custom_objects)


def _unknown(name):
    import difflib
    names = sorted(n for n in ALL_OBJECTS_DICT if n[0].islower())
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (f"Could not interpret loss identifier: '{name}'.{hint} Known losses include "
            "'mse', 'mae', 'binary_crossentropy', 'categorical_crossentropy', "
            "'sparse_categorical_crossentropy', 'huber', 'kld', 'hinge' and the classes in "
            "keras.losses.")


def get(identifier):
    """A loss from a name ('mse', 'categorical_crossentropy', 'Huber', ...), a config dict, a
    Loss object or a callable. Names of functions give the function (as Keras does)."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        obj = _lookup(identifier)
        if obj is None:
            raise ValueError(_unknown(identifier))
        if isinstance(obj, type):
            return obj()
        return obj
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
