"""CIFAR-10 small colour images (Keras's `keras.datasets.cifar10`)."""
import os
import pickle
import tarfile
import zlib

import numpy as np

from tenfold.keras.datasets import _files

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
_FOLDER = "cifar-10-batches-py"
_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _reader(source, _FOLDER=_FOLDER):
    """A function `read(member) -> bytes` over an extracted folder or the .tar.gz itself
    (`_FOLDER`: the folder inside the archive, cifar-10-batches-py or cifar-100-python)."""
    if os.path.isdir(source):
        base = os.path.join(source, _FOLDER) if os.path.isdir(
            os.path.join(source, _FOLDER)) else source

        def read(name):
            p = os.path.join(base, name)
            if not os.path.exists(p):
                raise _files.corrupt(source, f"{name} is missing")
            with open(p, "rb") as f:
                return f.read()
        return read, None
    try:
        tar = tarfile.open(source, "r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise _files.corrupt(source, e) from None

    def read(name):
        try:
            f = tar.extractfile(f"{_FOLDER}/{name}")
            if f is None:
                raise KeyError(name)
            return f.read()
        except KeyError:
            raise _files.corrupt(source, f"{_FOLDER}/{name} is missing") from None
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            raise _files.corrupt(source, e) from None
    return read, tar


def load_batch(data, source="CIFAR batch", label_key="labels"):
    """(images (N, 3, 32, 32) uint8, labels list) from one pickled CIFAR batch."""
    try:
        d = _files.safe_unpickle(data, encoding="bytes")
        d = {(k.decode("utf8") if isinstance(k, bytes) else k): v for k, v in d.items()}
        images = np.asarray(d["data"], dtype=np.uint8)
        labels = d[label_key]
        return images.reshape(images.shape[0], 3, 32, 32), labels
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError,
            AttributeError) as e:
        raise _files.corrupt(source, e) from None


def _image_data_format():
    try:
        from tenfold.keras import backend
        return backend.image_data_format()
    except (ImportError, AttributeError):
        return "channels_last"


def load_data():
    """Loads CIFAR-10: `(x_train, y_train), (x_test, y_test)`: uint8 images (50000, 32, 32, 3)
    and (10000, 32, 32, 3) (channels last; channels first when the Keras image data format
    says so), uint8 labels (50000, 1) and (10000, 1).

    In the folder named by `TENFOLD_DATASETS`, `cifar-10-python.tar.gz` or an extracted
    `cifar-10-batches-py/` folder is used as it is.
    """
    source = _files.find_local(_FOLDER, "cifar-10-python.tar.gz")
    if source is None:
        source = _files.fetch("cifar-10-batches-py-target", _ORIGIN, file_hash=_SHA256,
                              extract=True, local_names=("cifar-10-python.tar.gz", _FOLDER))
    read, handle = _reader(source)
    try:
        parts = [load_batch(read(name), f"{source} ({name})") for name in _BATCHES]
    finally:
        if handle is not None:
            handle.close()
    x_train = np.concatenate([p[0] for p in parts[:5]])
    y_train = np.concatenate([np.asarray(p[1], dtype=np.uint8) for p in parts[:5]])
    x_test = parts[5][0]
    y_test = np.asarray(parts[5][1]).astype(np.uint8)
    y_train = y_train.reshape(len(y_train), 1)
    y_test = y_test.reshape(len(y_test), 1)
    if _image_data_format() == "channels_last":
        x_train = x_train.transpose(0, 2, 3, 1)
        x_test = x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test, y_test)
