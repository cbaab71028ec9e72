"""`keras.preprocessing` (also `tf.keras.preprocessing`): the names tutorials import from it,
`keras.preprocessing.image.load_img`, `keras.preprocessing.sequence.pad_sequences`, the
`*_dataset_from_directory` helpers. Each is the same function as in `keras.utils`."""
from tenfold.keras.preprocessing import image, sequence  # noqa: F401
from tenfold.keras.utils.image_dataset import image_dataset_from_directory  # noqa: F401
from tenfold.keras.utils.text_dataset import text_dataset_from_directory  # noqa: F401
from tenfold.keras.utils.sequence_utils import timeseries_dataset_from_array  # noqa: F401
