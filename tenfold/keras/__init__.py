"""`tenfold.keras` (also `tf.keras`): the Keras 3 API on tenfold's core.

Submodules load on first use so that `import tenfold` stays fast.
"""
import importlib as _importlib

_SUBMODULES = ("layers", "models", "losses", "metrics", "optimizers", "callbacks",
               "initializers", "regularizers", "constraints", "activations", "datasets",
               "utils", "mixed_precision", "saving", "ops", "random", "backend", "config",
               "dtype_policies", "tree", "preprocessing", "distribution", "export",
               "applications")

_ATTRS = {
    "Input": ("tenfold.keras.layers.input_layer", "Input"),
    "InputSpec": ("tenfold.keras.layers.layer", "InputSpec"),
    "Layer": ("tenfold.keras.layers.layer", "Layer"),
    "Model": ("tenfold.keras.models", "Model"),
    "Sequential": ("tenfold.keras.models", "Sequential"),
    "Variable": ("tenfold.keras.variables", "Variable"),
    "KerasTensor": ("tenfold.keras.engine.keras_tensor", "KerasTensor"),
    "DTypePolicy": ("tenfold.keras.mixed_precision.policy", "Policy"),
    "Operation": ("tenfold.keras.layers.layer", "Layer"),
    "Loss": ("tenfold.keras.losses", "Loss"),
    "Metric": ("tenfold.keras.metrics", "Metric"),
    "Optimizer": ("tenfold.keras.optimizers", "Optimizer"),
    "Initializer": ("tenfold.keras.initializers", "Initializer"),
    "Regularizer": ("tenfold.keras.regularizers", "Regularizer"),
    "Constraint": ("tenfold.keras.constraints", "Constraint"),
    "version": ("tenfold.keras._version", "version"),
    "__version__": ("tenfold.keras._version", "__version__"),
}


def __getattr__(name):
    if name in _SUBMODULES:
        mod = _importlib.import_module(f"tenfold.keras.{name}")
        globals()[name] = mod
        return mod
    if name in _ATTRS:
        mod, attr = _ATTRS[name]
        val = getattr(_importlib.import_module(mod), attr)
        globals()[name] = val
        return val
    raise AttributeError(f"module 'tenfold.keras' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + list(_ATTRS))
