"""`keras.optimizers`: SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Ftrl, Lion,
the `Optimizer` base, learning-rate `schedules`, and `get` / `serialize` / `deserialize`.

    opt = keras.optimizers.Adam(learning_rate=1e-3)
    opt.apply_gradients(zip(grads, model.trainable_variables))
"""
from tenfold.keras.optimizers import schedules  # noqa: F401
from tenfold.keras.optimizers.optimizer import Optimizer  # noqa: F401
from tenfold.keras.optimizers.optimizers import (  # noqa: F401
    SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Ftrl, Lion)

BaseOptimizer = Optimizer

ALL_OBJECTS = (Optimizer, SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Ftrl,
               Lion)
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}


def __getattr__(name):
    if name == "LossScaleOptimizer":
        from tenfold.keras.mixed_precision import LossScaleOptimizer
        return LossScaleOptimizer
    if name == "legacy":
        import types
        return types.SimpleNamespace(**{c.__name__: c for c in ALL_OBJECTS},
                                     Optimizer=Optimizer)
    raise AttributeError(f"module 'tenfold.keras.optimizers' has no attribute {name!r}")


def serialize(optimizer):
    """Keras 3's config dict for an optimizer."""
    if optimizer is None:
        return None
    cls = type(optimizer)
    builtin = cls.__name__.lower() in ALL_OBJECTS_DICT and \
        ALL_OBJECTS_DICT[cls.__name__.lower()] is cls
    registered = None
    if not builtin:
        from tenfold.keras.saving.object_registration import get_registered_name
        registered = get_registered_name(cls)
    return {"module": "keras.optimizers" if builtin else cls.__module__,
            "class_name": cls.__name__, "config": optimizer.get_config(),
            "registered_name": registered}


def deserialize(config, custom_objects=None, use_legacy_format=False):
    """An optimizer from a config dict (`{'class_name': 'Adam', 'config': {...}}`)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret optimizer config: {config!r}")
    name = config["class_name"]
    cls = _lookup(name, custom_objects, config.get("registered_name"))
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: '{name}'. Known "
                         f"optimizers: {', '.join(c.__name__ for c in ALL_OBJECTS[1:])}.")
    return cls.from_config(dict(config.get("config", {})))


def _lookup(name, custom_objects=None, registered_name=None):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    cls = ALL_OBJECTS_DICT.get(str(name).lower())
    if cls is not None:
        return cls
    if name == "LossScaleOptimizer":
        from tenfold.keras.mixed_precision import LossScaleOptimizer
        return LossScaleOptimizer
    from tenfold.keras.saving.object_registration import get_registered_object
    return get_registered_object(registered_name or name, custom_objects)


def get(identifier):
    """An optimizer from a name ('adam', 'sgd', ...), a config dict or an instance."""
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _lookup(identifier)
        if cls is None:
            from tenfold.keras.engine.name_checks import closest
            names = sorted(n for n in ALL_OBJECTS_DICT if n != "optimizer")
            raise ValueError(f"Could not interpret optimizer identifier: '{identifier}'."
                             f"{closest(identifier, names)} Use one of: {', '.join(names)}.")
        return cls()
    if hasattr(identifier, "apply_gradients"):
        return identifier
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
