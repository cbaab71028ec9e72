"""`tf.data.experimental`: the older names that tutorials still use."""
from tenfold.data.dataset import (  # noqa: F401
    AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Optional)
from tenfold.data.options import (  # noqa: F401
    AutoShardPolicy, ExternalStatePolicy, OptimizationOptions, DistributeOptions,
    ThreadingOptions, AutotuneOptions)


def cardinality(dataset):
    """The number of elements of `dataset` (an int64 tensor; -1 infinite, -2 unknown)."""
    return dataset.cardinality()


def assert_cardinality(expected_cardinality):
    return lambda ds: ds.assert_cardinality(expected_cardinality)


def enumerate_dataset(start=0):
    return lambda ds: ds.enumerate(start)


def get_single_element(dataset):
    return dataset.get_single_element()


def sample_from_datasets(datasets, weights=None, seed=None, stop_on_empty_dataset=False):
    from tenfold.data._sources import sample_from_datasets as impl
    return impl(datasets, weights, seed, stop_on_empty_dataset)


def shuffle_and_repeat(buffer_size, count=None, seed=None):
    return lambda ds: ds.shuffle(buffer_size, seed=seed).repeat(count)


def map_and_batch(map_func, batch_size, num_parallel_batches=None, drop_remainder=False,
                  num_parallel_calls=None):
    return lambda ds: ds.map(map_func, num_parallel_calls=num_parallel_calls).batch(
        batch_size, drop_remainder=drop_remainder)


def scan(initial_state, scan_func):
    return lambda ds: ds.scan(initial_state, scan_func)


def group_by_window(key_func, reduce_func, window_size=None, window_size_func=None):
    return lambda ds: ds.group_by_window(key_func, reduce_func, window_size, window_size_func)


def bucket_by_sequence_length(element_length_func, bucket_boundaries, bucket_batch_sizes,
                              padded_shapes=None, padding_values=None,
                              pad_to_bucket_boundary=False, no_padding=False,
                              drop_remainder=False):
    return lambda ds: ds.bucket_by_sequence_length(
        element_length_func, bucket_boundaries, bucket_batch_sizes, padded_shapes,
        padding_values, pad_to_bucket_boundary, no_padding, drop_remainder)


def choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset=True):
    from tenfold.data._sources import choose_from_datasets as impl
    return impl(datasets, choice_dataset, stop_on_empty_dataset)


class TFRecordWriter:
    """Writes a dataset of scalar strings to a TFRecord file
    (`tf.data.experimental.TFRecordWriter(path, compression_type).write(dataset)`)."""

    def __init__(self, filename, compression_type=None):
        self._filename = filename
        self._compression = compression_type

    def write(self, dataset):
        from tenfold.data.tfrecord import TFRecordWriter as _Writer
        spec = dataset.element_spec
        if getattr(spec, "dtype", None) is None or spec.dtype.name != "string" or \
                spec.shape.rank != 0:
            raise TypeError("tf.data.experimental.TFRecordWriter.write expects a dataset of "
                            f"scalar strings (serialized records), got elements {spec}. Map "
                            "them first, e.g. with tf.io.serialize_tensor or "
                            "example.SerializeToString().")
        with _Writer(self._filename, options=self._compression) as w:
            for record in dataset.as_numpy_iterator():
                w.write(record)
