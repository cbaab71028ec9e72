"""`keras.utils.PyDataset` (and the older `Sequence`): batches by index, for `fit`."""
import math


class PyDataset:
    """Subclass and implement `__len__` (number of batches) and `__getitem__(index)` returning
    a batch `(x, y)` or `(x, y, sample_weight)`; `on_epoch_end` runs after each epoch.

    `workers`, `use_multiprocessing` and `max_queue_size` are accepted for compatibility;
    batches are produced in the training thread."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    @property
    def num_batches(self):
        if hasattr(self, "__len__"):
            return len(self)
        return None

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


Sequence = PyDataset


def _ceil_div(a, b):
    return int(math.ceil(a / b))
