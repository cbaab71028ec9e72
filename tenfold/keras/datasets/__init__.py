"""`keras.datasets`: the classic small datasets with Keras's `load_data()`, plus tenfold's
generated digits (`synthetic_digits`) for offline use."""
from tenfold.keras.datasets import (  # noqa: F401
    mnist, fashion_mnist, cifar10, cifar100, imdb, reuters, boston_housing, california_housing,
    synthetic_digits)
