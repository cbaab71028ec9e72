"""`keras.preprocessing.sequence`."""
from tenfold.keras.utils.sequence_utils import (  # noqa: F401
    pad_sequences, timeseries_dataset_from_array)
