"""Boston house prices (Keras's `keras.datasets.boston_housing`).

Keras's own warning applies: the dataset has an ethical problem (its variable "B"), and
`california_housing` is the suggested replacement outside discussions of that problem.
"""
from tenfold.keras.datasets import _files, _housing

_ORIGIN = _files.KERAS_ORIGIN + "boston_housing.npz"
_SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """`(x_train, y_train), (x_test, y_test)`: 13 float64 features per house and the median
    value in k$, shuffled with `seed` and split as Keras splits them (404 / 102 samples)."""
    _housing.check_split(test_split)
    x, y = _housing.load_xy(path, _ORIGIN, _SHA256)
    return _housing.split(x, y, test_split, seed)
