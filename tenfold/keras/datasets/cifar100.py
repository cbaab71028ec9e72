"""CIFAR-100 small colour images in 100 classes (Keras's `keras.datasets.cifar100`)."""
import numpy as np

from tenfold.keras.datasets import _files
from tenfold.keras.datasets.cifar10 import _image_data_format, _reader, load_batch

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
_SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
_FOLDER = "cifar-100-python"


def load_data(label_mode="fine"):
    """Loads CIFAR-100: `(x_train, y_train), (x_test, y_test)`: uint8 images (50000, 32, 32,
    3) and (10000, 32, 32, 3) (channels last unless the Keras image data format says
    channels first), labels (50000, 1) and (10000, 1): the 100 fine classes
    (`label_mode="fine"`) or the 20 coarse superclasses (`"coarse"`), as Keras gives them.

    Found, in order: `cifar-100-python.tar.gz` or an extracted `cifar-100-python/` in the
    folder named by `TENFOLD_DATASETS`; Keras's cache (`~/.keras/datasets/
    cifar-100-python-target/`); tenfold's cache; a download.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`. '
                         f"Received: label_mode={label_mode}.")
    source = _files.find_local(_FOLDER, "cifar-100-python.tar.gz")
    if source is None:
        source = _files.fetch("cifar-100-python-target", _ORIGIN, file_hash=_SHA256,
                              extract=True, local_names=("cifar-100-python.tar.gz", _FOLDER))
    read, handle = _reader(source, _FOLDER)
    key = f"{label_mode}_labels"
    try:
        x_train, y_train = load_batch(read("train"), f"{source} (train)", label_key=key)
        x_test, y_test = load_batch(read("test"), f"{source} (test)", label_key=key)
    finally:
        if handle is not None:
            handle.close()
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    if _image_data_format() == "channels_last":
        x_train = x_train.transpose(0, 2, 3, 1)
        x_test = x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test, y_test)
