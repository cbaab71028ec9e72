"""Fashion-MNIST (Keras's `keras.datasets.fashion_mnist`)."""
import gzip
import os
import zlib

import numpy as np

from tenfold.keras.datasets import _files

_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")
_SUBDIR = os.path.join("datasets", "fashion-mnist")


def _read_idx(path, images):
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise _files.corrupt(path, e) from None
    magic = int.from_bytes(data[:4], "big") if len(data) >= 4 else -1
    want = 2051 if images else 2049
    if magic != want:
        raise _files.corrupt(path, f"not an IDX {'image' if images else 'label'} file: magic "
                                   f"number {magic}, expected {want}")
    count = int.from_bytes(data[4:8], "big")
    offset = 16 if images else 8
    arr = np.frombuffer(data, np.uint8, offset=offset)
    expected = count * (28 * 28 if images else 1)
    if arr.size != expected:
        raise _files.corrupt(path, f"{arr.size} bytes of data where the header announces "
                                   f"{expected}")
    return arr.reshape(count, 28, 28) if images else arr


def load_data():
    """Loads Fashion-MNIST: `(x_train, y_train), (x_test, y_test)`, uint8 arrays of shapes
    (60000, 28, 28), (60000,), (10000, 28, 28), (10000,).

    In the folder named by `TENFOLD_DATASETS` either `fashion_mnist.npz` (MNIST's npz
    layout) or a `fashion-mnist/` folder of the four IDX .gz files is used as it is; else
    the four files are taken from the cache or downloaded from Keras's address.
    """
    npz = _files.find_local("fashion_mnist.npz")
    if npz is not None:
        x_train, y_train, x_test, y_test = _files.load_npz(
            npz, ("x_train", "y_train", "x_test", "y_test"))
        return (x_train, y_train), (x_test, y_test)
    folder = _files.find_local("fashion-mnist")
    if folder is not None and all(os.path.exists(os.path.join(folder, f)) for f in _FILES):
        paths = [os.path.join(folder, f) for f in _FILES]
    else:
        paths = [_files.fetch(f, _files.KERAS_ORIGIN + f, cache_subdir=_SUBDIR,
                              local_names=(os.path.join("fashion-mnist", f),))
                 for f in _FILES]
    y_train = _read_idx(paths[0], images=False)
    x_train = _read_idx(paths[1], images=True)
    y_test = _read_idx(paths[2], images=False)
    x_test = _read_idx(paths[3], images=True)
    return (x_train, y_train), (x_test, y_test)
