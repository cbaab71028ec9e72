"""`keras.utils`: data helpers, the progress bar, seeding and model plotting."""
from tenfold.keras.utils.numerical_utils import to_categorical, normalize  # noqa: F401
from tenfold.keras.utils.rng_utils import set_random_seed  # noqa: F401
from tenfold.keras.utils.progbar import Progbar  # noqa: F401
from tenfold.keras.utils.py_dataset import PyDataset, Sequence  # noqa: F401
from tenfold.keras.utils.model_visualization import plot_model, model_to_dot  # noqa: F401
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
try:
    from tenfold.keras.utils.dataset_utils import split_dataset  # noqa: F401
except ImportError:
    pass


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
