"""`keras.backend`: global settings (floatx, epsilon, image data format) and session helpers."""
import numpy as np

_config = {"floatx": "float32", "epsilon": 1e-7, "image_data_format": "channels_last"}


def floatx():
    return _config["floatx"]


def set_floatx(value):
    if value not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"Unknown floatx type: {value!r}; expected float16, bfloat16, "
                         "float32 or float64")
    _config["floatx"] = str(value)


def epsilon():
    return _config["epsilon"]


def set_epsilon(value):
    _config["epsilon"] = float(value)


def image_data_format():
    return _config["image_data_format"]


def set_image_data_format(data_format):
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_first' or 'channels_last', got "
                         f"{data_format!r}")
    _config["image_data_format"] = data_format


def backend():
    return "tensorflow"


def clear_session(free_memory=True):
    """Resets layer-name counters (so names start at `dense` again) and the global policy."""
    from tenfold.keras.layers import layer
    layer.reset_name_counters()


def is_keras_tensor(x):
    from tenfold.keras.engine.keras_tensor import KerasTensor
    return isinstance(x, KerasTensor)


def standardize_dtype(dtype):
    from tenfold.framework import dtypes
    if dtype is None:
        return floatx()
    if hasattr(dtype, "name") and not isinstance(dtype, str) and hasattr(dtype, "as_numpy_dtype"):
        return dtype.name
    return dtypes.as_dtype(dtype).name


def result_type(*dtypes_):
    return np.result_type(*[standardize_dtype(d) for d in dtypes_]).name


# tf.keras 2's backend functions (K.mean, K.set_value, K.int_shape, ...): see legacy.py.
from tenfold.keras.backend import legacy as _legacy  # noqa: E402
for _n in _legacy.__all__:
    globals().setdefault(_n, getattr(_legacy, _n))
del _n
