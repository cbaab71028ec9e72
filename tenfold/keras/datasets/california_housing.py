"""California house prices (Keras's `keras.datasets.california_housing`)."""
from tenfold.keras.datasets import _files, _housing

_ORIGIN = _files.KERAS_ORIGIN + "california_housing.npz"
_SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """`(x_train, y_train), (x_test, y_test)`: 8 features per block group (median income,
    house age, rooms, bedrooms, population, occupancy, latitude, longitude) and the median
    house value in dollars; `version="small"` keeps the first 600 of the 20,640 samples.
    Shuffled with `seed` and split at `1 - test_split`, as Keras does."""
    _housing.check_split(test_split)
    if version not in ("small", "large"):  # checked before the file is looked for
        raise ValueError("Argument `version` must be one of 'small', 'large'. "
                         f"Received: version={version}")
    x, y = _housing.load_xy(path, _ORIGIN, _SHA256)
    if version == "small":
        x, y = x[:600], y[:600]
    return _housing.split(x, y, test_split, seed)
