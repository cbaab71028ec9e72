"""MNIST handwritten digits (Keras's `keras.datasets.mnist`)."""
import os

from tenfold.keras.datasets import _files

_ORIGIN = _files.KERAS_ORIGIN + "mnist.npz"
_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def _locate(path="mnist.npz"):
    return _files.fetch(path, _ORIGIN, file_hash=_SHA256, local_names=(path,))


def load_data(path="mnist.npz"):
    """Loads MNIST: `(x_train, y_train), (x_test, y_test)`, uint8 arrays of shapes
    (60000, 28, 28), (60000,), (10000, 28, 28), (10000,).

    The file is looked for in the folder named by `TENFOLD_DATASETS`, then in Keras's own
    cache (`~/.keras/datasets/mnist.npz`, or under `KERAS_HOME`), then in tenfold's cache
    (`~/.tenfold/datasets`), then downloaded from Keras's address (checked by SHA-256). When
    none of these works (offline, or `TENFOLD_OFFLINE=1`), tenfold's generated
    handwritten-style digits are returned instead (same shapes and dtypes, ten classes),
    with a warning that says so and where to put `mnist.npz`. A damaged file is an error.
    """
    try:
        fpath = _locate(path)
    except _files.DownloadError as e:
        import warnings
        from tenfold.keras.datasets import synthetic_digits
        warnings.warn(
            f"MNIST is not available: {e.reason}. Using tenfold's generated handwritten-style "
            "digits instead (60000 train / 10000 test images, 28x28 uint8, 10 classes; "
            "tenfold.keras.datasets.synthetic_digits). To use the real MNIST, put mnist.npz in "
            "~/.keras/datasets/ or in a folder named by TENFOLD_DATASETS.",
            UserWarning, stacklevel=2)
        return synthetic_digits.load_data()
    return _load(fpath)


def _load(fpath):
    x_train, y_train, x_test, y_test = _files.load_npz(
        fpath, ("x_train", "y_train", "x_test", "y_test"))
    return (x_train, y_train), (x_test, y_test)


def load_data_or_synthetic(verbose=True):
    """Real MNIST when it can be had, else tenfold's generated digits (same shapes, dtypes,
    ten classes). Returns `(data, source)`, `data` as `load_data()` gives it and `source`
    either "mnist" or "synthetic_digits"; prints which was used.

        ((x_train, y_train), (x_test, y_test)), source = mnist.load_data_or_synthetic()
    """
    try:
        fpath = _locate()
        data = _load(fpath)
    except (OSError, ValueError) as e:
        from tenfold.keras.datasets import synthetic_digits
        if verbose:
            print(f"MNIST is not available: {getattr(e, 'reason', e)}.\nUsing tenfold's generated "
                  "digits instead (tenfold.keras.datasets.synthetic_digits: 60000 train / "
                  "10000 test images, 28x28 uint8, 10 classes). Set TENFOLD_DATASETS to a "
                  "folder holding mnist.npz to use the real MNIST.")
        return synthetic_digits.load_data(), "synthetic_digits"
    if verbose:
        print(f"Using MNIST from {os.path.abspath(fpath)}")
    return data, "mnist"

