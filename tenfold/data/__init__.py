"""`tf.data`: input pipelines.

    ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(1000).batch(128)
    for x, y in ds:
        ...
"""
from tenfold.data.dataset import (  # noqa: F401
    Dataset, DatasetV2, AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Iterator)
from tenfold.data._structure import DatasetSpec  # noqa: F401
from tenfold.data._sources import TextLineDataset, TFRecordDataset  # noqa: F401
from tenfold.data.options import Options, ThreadingOptions  # noqa: F401
from tenfold.data import experimental  # noqa: F401
