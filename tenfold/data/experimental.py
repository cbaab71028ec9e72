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
