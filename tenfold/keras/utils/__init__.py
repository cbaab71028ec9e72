"""`keras.utils`: data helpers, the progress bar, seeding and model plotting."""
from tenfold.keras.utils.numerical_utils import to_categorical, normalize  # noqa: F401
from tenfold.keras.utils.rng_utils import set_random_seed  # noqa: F401
from tenfold.keras.utils.progbar import Progbar  # noqa: F401
from tenfold.keras.utils.py_dataset import PyDataset, Sequence  # noqa: F401
from tenfold.keras.utils.model_visualization import plot_model, model_to_dot  # noqa: F401
from tenfold.keras.utils.sequence_utils import (  # noqa: F401
    pad_sequences, timeseries_dataset_from_array)
from tenfold.keras.engine.data_adapter import (  # noqa: F401
    unpack_x_y_sample_weight, pack_x_y_sample_weight)

# From the data engineer's modules (absent until they land).
try:
    from tenfold.keras.utils.file_utils import get_file  # noqa: F401
except ImportError:
    pass
try:
    from tenfold.keras.utils.image_dataset import image_dataset_from_directory  # noqa: F401
except ImportError:
    pass
from tenfold.keras.utils.text_dataset import text_dataset_from_directory  # noqa: F401,E402
try:
    from tenfold.keras.utils.dataset_utils import split_dataset  # noqa: F401
except ImportError:
    pass
from tenfold.keras.utils.text_dataset import text_dataset_from_directory  # noqa: F401
# Pillow is imported only when one of these runs (an optional dependency).
from tenfold.keras.utils.image_utils import (  # noqa: F401
    load_img, img_to_array, array_to_img, save_img)
from tenfold.keras.utils.history_plot import plot_history  # noqa: F401


def get_custom_objects():
    from tenfold.keras.saving import get_custom_objects as _g
    return _g()


def register_keras_serializable(package="Custom", name=None):
    from tenfold.keras.saving import register_keras_serializable as _r
    return _r(package=package, name=name)


def custom_object_scope(*args):
    from tenfold.keras.saving import custom_object_scope as _c
    return _c(*args)


CustomObjectScope = custom_object_scope


def serialize_keras_object(obj):
    from tenfold.keras.saving.serialization_lib import serialize_keras_object as _s
    return _s(obj)


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    from tenfold.keras.saving.serialization_lib import deserialize_keras_object as _d
    return _d(config, custom_objects=custom_objects, safe_mode=safe_mode, **kwargs)


def get_registered_name(obj):
    from tenfold.keras.saving import get_registered_name as _g
    return _g(obj)


def get_registered_object(name, custom_objects=None, module_objects=None):
    from tenfold.keras.saving import get_registered_object as _g
    return _g(name, custom_objects=custom_objects, module_objects=module_objects)


def clear_session(free_memory=True):
    from tenfold.keras.backend import clear_session as _c
    return _c(free_memory=free_memory)


def is_keras_tensor(x):
    from tenfold.keras.engine.keras_tensor import KerasTensor
    return isinstance(x, KerasTensor)


def standardize_dtype(dtype):
    from tenfold.keras.ops._dtypes import standardize_dtype as _s
    return _s(dtype)
