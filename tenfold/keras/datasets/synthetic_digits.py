"""tenfold's generated handwritten-style digits: MNIST's shapes and dtypes, no download.

Digits are drawn from strokes with random warps, slant, rotation, size, pen thickness and
noise (see `tenfold.datasets_gen.digits`); deterministic for a seed. They are about as hard
as MNIST for small models (softmax regression about 86%, a one-hidden-layer MLP over 90%
after a short training), so they stand in for MNIST in tests, examples and the offline
quick start. 70,000 images take about two seconds to make.

    (x_train, y_train), (x_test, y_test) = synthetic_digits.load_data()
    x_train.shape, x_train.dtype   # (60000, 28, 28) uint8
"""
import functools

from tenfold.datasets_gen.digits import generate_digits


@functools.lru_cache(maxsize=4)
def _cached(num, seed, split):
    x, y = generate_digits(num, seed=seed, split=split)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_data(num_train=60000, num_test=10000, seed=0):
    """`(x_train, y_train), (x_test, y_test)` as MNIST's `load_data()` gives them: uint8
    images (num, 28, 28) with values 0..255 and uint8 labels 0..9. The training images are
    a prefix of those for a larger `num_train` (same seed); the test split does not depend
    on `num_train`."""
    if int(num_train) < 0 or int(num_test) < 0:
        raise ValueError(f"synthetic_digits.load_data: sizes must be >= 0, got "
                         f"num_train={num_train}, num_test={num_test}.")
    x_train, y_train = _cached(int(num_train), int(seed), 0)
    x_test, y_test = _cached(int(num_test), int(seed), 1)
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())
