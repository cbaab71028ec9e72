"""`keras.utils.split_dataset`: a left and a right `tf.data.Dataset` from a dataset or arrays."""
import random

import numpy as np


def _elements(dataset):
    """The dataset's samples as a list of NumPy structures, and its batch size (or None)."""
    from tenfold.data import DatasetV2
    if isinstance(dataset, DatasetV2):
        size = getattr(dataset, "_batch_size", None)
        ds = dataset.unbatch() if size is not None else dataset
        return list(ds.as_numpy_iterator()), (None if size is None else int(size))
    if isinstance(dataset, np.ndarray):
        return list(dataset), None
    if isinstance(dataset, (list, tuple)):
        if not dataset:
            raise ValueError("split_dataset: received an empty list of arrays.")
        arrays = [np.asarray(a) for a in dataset]
        n = len(arrays[0])
        for i, a in enumerate(arrays):
            if len(a) != n:
                raise ValueError(f"split_dataset: the arrays have different lengths: "
                                 f"{n} and {len(a)} (array {i}).")
        return [tuple(a[i] for a in arrays) for i in range(n)], None
    raise TypeError("The `dataset` argument must be either a `tf.data.Dataset` object, or a "
                    f"list/tuple of arrays. Received: dataset={dataset!r} of type "
                    f"{type(dataset)}")


def _sizes(left, right, total):
    for name, v in (("left_size", left), ("right_size", right)):
        if v is not None and type(v) not in (int, float):
            raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None, "
                            f"Received: type({name})={type(v)}.")
    if left == 0 and right == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the "
                         "split sizes must be non-zero.")
    for name, v in (("left_size", left), ("right_size", right)):
        if (type(v) is int and not 0 < v < total) or (type(v) is float and not 0 < v < 1):
            raise ValueError(f"`{name}` should be either a positive integer smaller than "
                             f"{total}, or a float within the range `[0, 1]`. Received: "
                             f"{name}={v}")
    if type(left) is type(right) is float and left + right > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must "
                         "be less than or equal to 1.")
    left = round(left * total) if type(left) is float else left
    right = round(right * total) if type(right) is float else right
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the "
                         f"{total}. Received: left_size + right_size = {left + right}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and "
                             f"`right_size`={right}. Resulting {side} side dataset split will "
                             "be empty. Adjust any of the aforementioned parameters")
    return int(left), int(right)


def _to_dataset(samples, batch_size):
    from tenfold.data import Dataset, AUTOTUNE
    first = samples[0]
    if isinstance(first, tuple):
        data = tuple(np.stack([s[i] for s in samples]) for i in range(len(first)))
    elif isinstance(first, dict):
        data = {k: np.stack([s[k] for s in samples]) for k in first}
    else:
        data = np.stack(samples)
    ds = Dataset.from_tensor_slices(data)
    if batch_size is not None:
        ds = ds.batch(batch_size)
    return ds.prefetch(AUTOTUNE)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None,
                  preferred_backend=None):
    """Splits a dataset (or arrays of one length) into a left and a right dataset.

    `left_size` / `right_size`: a fraction in (0, 1) or a number of samples; a missing one
    is the complement of the other. With `shuffle`, the samples are shuffled with `seed`
    first (Python's `random`, as Keras does). A batched dataset is split by samples and
    both halves are batched the same way.

        left, right = keras.utils.split_dataset(np.random.random((1000, 4)), left_size=0.8)
        int(left.cardinality())   # 800
    """
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. "
                         "Received: left_size=None and right_size=None")
    samples, batch_size = _elements(dataset)
    if not samples:
        raise ValueError("split_dataset: the dataset is empty.")
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.seed(seed)
        random.shuffle(samples)
    left, right = _sizes(left_size, right_size, len(samples))
    return _to_dataset(samples[:left], batch_size), _to_dataset(samples[-right:], batch_size)
