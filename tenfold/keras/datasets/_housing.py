"""The shared split of Keras's two house-price datasets: shuffle with `seed`, cut at
`1 - test_split`."""
import numpy as np

from tenfold.keras.datasets import _files


def check_split(test_split):
    if not (0 <= test_split < 1):
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 "
                         "and 1 (exclusive of 1).")


def load_xy(path, origin, sha256):
    fpath = _files.fetch(path, origin, file_hash=sha256, local_names=(path,))
    return _files.load_npz(fpath, ("x", "y"))


def split(x, y, test_split, seed):
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
