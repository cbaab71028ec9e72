"""Turning what `fit` / `evaluate` / `predict` receive into batches.

Arrays (NumPy, tenfold tensors, lists/dicts of them) are converted once, floats cast to floatx
once, and sliced per batch by index (no per-epoch copy of the data). Anything else iterable
(Python generators, `keras.utils.PyDataset` / `Sequence`, `tenfold.data.Dataset`, any
re-iterable object yielding `(x, y)` or `(x, y, sample_weight)`) is consumed batch by batch.
Each batch given to a step function is what Keras gives it: `x` alone when there are no
targets (a tuple `(x,)` only when `x` itself is a tuple or list of inputs), else `(x, y)` or
`(x, y, sample_weight)`, of tenfold Tensors (structures kept).
"""
import math
import types
import warnings

import numpy as np

from tenfold.ops import array_ops as _array_ops
from tenfold.framework.host import from_host

from tenfold.framework.tensor import Tensor
from tenfold.util import nest
from tenfold.framework.host import to_host



def unpack_x_y_sample_weight(data):
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)` -> `(x, y, sample_weight)`."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found a tuple of {len(data)} elements: {data}")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    if y is None:
        return x if not isinstance(x, (tuple, list)) else (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def _floatx():
    from tenfold.keras import backend
    return np.dtype(backend.floatx())


def _to_array(x, name):
    """One input array as NumPy, floats cast to floatx (done once, before training)."""
    if x is None:
        return None
    if isinstance(x, Tensor):
        a = to_host(x) if x.ndim else np.asarray(to_host(x))
        a = np.asarray(a)
    elif isinstance(x, np.ndarray):
        a = x
    elif hasattr(x, "__array__") or isinstance(x, (list, tuple, int, float)):
        a = np.asarray(x)
    else:
        raise TypeError(f"Unrecognized data type for `{name}`: {type(x).__name__}. Pass NumPy "
                        "arrays or tensors (or lists/dicts of them), a tenfold.data.Dataset, "
                        "a keras.utils.PyDataset or a Python generator.")
    if a.dtype.kind == "f" and a.dtype != _floatx():
        a = a.astype(_floatx())
    elif a.dtype == object:
        raise TypeError(f"`{name}` holds Python objects (dtype=object): make every sample the "
                        "same shape and use numeric values.")
    if a.ndim == 0:
        raise ValueError(f"`{name}` must have a batch dimension; got a scalar {a!r}.")
    return a


def is_array_like(x):
    for leaf in nest.flatten(x):
        if leaf is None:
            continue
        if not isinstance(leaf, (np.ndarray, Tensor, list, tuple, int, float, np.generic)) \
                and not (hasattr(leaf, "__array__") and hasattr(leaf, "shape")):
            return False
    return True


def _is_plain_data(x):
    """True for arrays and (nested) lists/dicts of arrays: data that is sliced, not iterated."""
    if x is None:
        return True
    if isinstance(x, (np.ndarray, Tensor)):
        return True
    if isinstance(x, dict):
        return all(_is_plain_data(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return all(_is_plain_data(v) or isinstance(v, (int, float, np.generic, list, tuple))
                   for v in x)
    return hasattr(x, "__array__") and hasattr(x, "shape") and not hasattr(x, "__next__")


def _convert_structure(x, name):
    if x is None:
        return None
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, (int, float, np.generic, bool))
                                                  for v in x):
        return _to_array(x, name)
    if isinstance(x, (list, tuple)) and x and all(
            isinstance(v, (list, tuple)) and v and not isinstance(v[0], (np.ndarray, Tensor))
            for v in x):
        return _to_array(x, name)  # nested Python lists: one array
    return nest.map_structure(lambda a: _to_array(a, name), x)


def class_weight_to_sample_weights(y, class_weight):
    y = np.asarray(to_host(y) if isinstance(y, Tensor) else y)
    sw = np.ones((y.shape[0],), dtype=_floatx())
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else np.squeeze(y, axis=-1)
    labels = np.round(y).astype("int64")
    for cls, w in class_weight.items():
        sw[labels == int(cls)] = w
    return sw


def train_validation_split(arrays, validation_split):
    """Splits off the *last* `validation_split` fraction (before any shuffling), as Keras."""
    flat = [a for a in nest.flatten(arrays) if a is not None]
    if not _is_plain_data(arrays):
        raise ValueError("Argument `validation_split` is only supported for tensors or NumPy "
                         "arrays. For datasets and generators pass `validation_data=` instead.")
    if not flat:
        return arrays, arrays
    n = int(np.shape(flat[0])[0]) if not isinstance(flat[0], Tensor) else int(flat[0].shape[0])
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"Training data contains {n} samples, which is not sufficient to split "
                         f"it into a validation and training set as specified by "
                         f"`validation_split={validation_split}`. Either provide more data, or "
                         "a different value for the `validation_split` argument.")

    def part(a, lo, hi):
        if a is None:
            return None
        a = to_host(a) if isinstance(a, Tensor) else np.asarray(a)
        return a[lo:hi]
    x, y, sw = arrays
    train = tuple(nest.map_structure(lambda a: part(a, 0, split_at), t) if t is not None else None
                  for t in (x, y, sw))
    val = tuple(nest.map_structure(lambda a: part(a, split_at, n), t) if t is not None else None
                for t in (x, y, sw))
    return train, val


def _describe_sizes(label, data):
    return ", ".join(str(int(np.shape(a)[0])) for a in nest.flatten(data) if a is not None)


class ArrayAdapter:
    """Batches over in-memory arrays: slices by index, shuffles indices only."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps=None,
                 shuffle=False, class_weight=None):
        self.x = _convert_structure(x, "x")
        self.y = _convert_structure(y, "y")
        self.sample_weight = _convert_structure(sample_weight, "sample_weight")
        sizes = {}
        for label, data in (("x", self.x), ("y", self.y), ("sample_weight", self.sample_weight)):
            for a in nest.flatten(data):
                if a is not None:
                    sizes.setdefault(label, set()).add(int(a.shape[0]))
        all_sizes = set().union(*sizes.values()) if sizes else set()
        if len(all_sizes) > 1:
            parts = [f"'{k}' sizes: {', '.join(str(s) for s in sorted(v))}"
                     for k, v in sizes.items()]
            raise ValueError(
                "Data cardinality is ambiguous: make sure all arrays contain the same number "
                "of samples. " + "; ".join(parts) + ". (x and y must have one entry per "
                "sample: check that you did not pass the test labels with the training "
                "images, or slice them differently.)")
        if not all_sizes:
            raise ValueError("No data provided: `x` is empty or None.")
        self.num_samples = all_sizes.pop()
        if class_weight is not None:
            if self.y is None:
                raise ValueError("`class_weight` needs targets `y`.")
            if self.sample_weight is not None:
                raise ValueError("You cannot specify both `sample_weight` and `class_weight`.")
            if len(nest.flatten(self.y)) > 1:
                raise ValueError("`class_weight` is only supported for models with a single "
                                 "output.")
            self.sample_weight = class_weight_to_sample_weights(nest.flatten(self.y)[0],
                                                                class_weight)
        self.batch_size = int(batch_size) if batch_size else 32
        self.shuffle = shuffle
        self._num_full = int(math.ceil(self.num_samples / self.batch_size))
        self.steps = steps
        self._pos = 0          # next batch index within the current pass (for steps_per_epoch)
        self._order = None
        # Structure templates: single arrays take a fast path.
        self._flat = [nest.flatten(d) if d is not None else None
                      for d in (self.x, self.y, self.sample_weight)]

    def reset(self):
        """Start again from the first batch (Keras resets before each evaluation)."""
        self._pos = 0

    @property
    def num_batches(self):
        return self.steps if self.steps is not None else self._num_full

    def _new_order(self):
        n, bs = self.num_samples, self.batch_size
        if self.shuffle == "batch":
            starts = np.arange(self._num_full) * bs
            np.random.shuffle(starts)
            return ("batch", starts)
        if self.shuffle:
            return ("perm", np.random.permutation(n))
        return None

    def _take(self, lo, hi):
        order = self._order
        if order is None:
            key = slice(lo, hi)
        elif order[0] == "perm":
            key = order[1][lo:hi]
        else:
            key = None

        def pick(a):
            if key is None:
                return a[lo:hi]
            return a[key] if isinstance(key, slice) else np.take(a, key, axis=0)
        out = []
        for data, flat in zip((self.x, self.y, self.sample_weight), self._flat):
            if data is None:
                out.append(None)
            elif type(data) is np.ndarray:
                out.append(from_host(pick(data)))
            else:
                out.append(nest.pack_sequence_as(data, [from_host(pick(a)) for a in flat]))
        return _pack(*out)

    def _batch(self, i):
        n, bs = self.num_samples, self.batch_size
        if self._order is not None and self._order[0] == "batch":
            lo = int(self._order[1][i])
            hi = min(lo + bs, n)
            batch = self._take(lo, hi)
            # shuffle within the batch
            perm = np.random.permutation(hi - lo)
            return nest.map_structure(
                lambda t: _array_ops.gather(t, from_host(perm)) if t is not None else None, batch)
        lo = i * bs
        return self._take(lo, min(lo + bs, n))

    def __iter__(self):
        if self.steps is None:
            self._order = self._new_order()
            for i in range(self._num_full):
                yield self._batch(i)
            return
        for _ in range(self.steps):
            if self._pos == 0 or self._order is None and self.shuffle:
                self._order = self._new_order()
            yield self._batch(self._pos)
            self._pos = (self._pos + 1) % self._num_full

    def peek(self):
        # A whole first batch, so errors found while building show the user's batch shape.
        hi = min(self.num_samples, self.batch_size)
        saved, self._order = self._order, None
        try:
            return self._take(0, hi)
        finally:
            self._order = saved


def _pack(x, y, sw):
    if y is None and sw is None:
        return pack_x_y_sample_weight(x)
    if sw is None:
        return (x, y)
    return (x, y, sw)


def _to_tensor_leaf(v):
    if v is None or isinstance(v, Tensor):
        return v
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "f" and v.dtype != _floatx() and v.dtype != np.float16:
            v = v.astype(_floatx())
        return from_host(v)
    if hasattr(v, "__array__") or isinstance(v, (list, int, float, np.generic)):
        a = np.asarray(v)
        if a.dtype.kind == "f" and a.dtype != _floatx():
            a = a.astype(_floatx())
        return from_host(a)
    return v


def standardize_batch(batch):
    """A batch from an iterable as Tensors: `x` alone (as Keras passes a batch without targets
    to `train_step`), or a tuple `(x,)`, `(x, y)` or `(x, y, sw)`."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or (hasattr(batch, "_fields")):
        if isinstance(batch, dict) or hasattr(batch, "_fields"):
            return nest.map_structure(_to_tensor_leaf, batch)
        return _to_tensor_leaf(batch)
    if len(batch) > 3:
        raise ValueError("Each batch from a dataset or generator must be `x`, `(x, y)` or "
                         f"`(x, y, sample_weight)`; got a tuple of {len(batch)} elements. Wrap "
                         "multiple inputs in a tuple or list: `((x1, x2), y)`.")
    out = []
    for part in batch:
        if part is None:
            out.append(None)
        elif isinstance(part, (list, tuple, dict)):
            out.append(nest.map_structure(_to_tensor_leaf, part))
        else:
            out.append(_to_tensor_leaf(part))
    return tuple(out)


class IterableAdapter:
    """Batches from generators, datasets and PyDatasets."""

    def __init__(self, data, steps=None, class_weight=None):
        self.data = data
        self.steps = steps
        self.class_weight = class_weight
        self._is_sequence = hasattr(data, "__getitem__") and hasattr(data, "__len__") and \
            not hasattr(data, "element_spec") and not isinstance(data, (list, tuple, dict))
        self._single_use = isinstance(data, (types.GeneratorType,)) or (
            hasattr(data, "__next__") and iter(data) is data)
        self._iterator = None
        self._peeked = []
        self._exhausted_warned = False
        self._length = self._infer_length()

    def reset(self):
        """Start again from the first batch (a generator just goes on), as Keras's
        `EpochIterator.reset()` before each evaluation."""
        if not self._single_use:
            self._iterator = None
            self._peeked = []

    def _infer_length(self):
        if self._is_sequence:
            n = getattr(self.data, "num_batches", None)
            return int(n) if n is not None else len(self.data)
        card = getattr(self.data, "cardinality", None)
        if callable(card):
            try:
                c = int(card())
                if c >= 0:
                    return c
            except Exception:  # noqa: BLE001 - unknown cardinality
                pass
        if not self._single_use and hasattr(self.data, "__len__"):
            try:
                return len(self.data)
            except TypeError:
                return None
        return None

    @property
    def num_batches(self):
        if self.steps is not None:
            return self.steps
        return self._length

    def _sequence_iter(self):
        for i in range(len(self.data)):
            yield self.data[i]

    def _fresh_iterator(self):
        if self._is_sequence:
            return self._sequence_iter()
        return iter(self.data)

    def _next_raw(self):
        if self._peeked:
            return self._peeked.pop(0)
        if self._iterator is None:
            self._iterator = self._fresh_iterator()
        return next(self._iterator)

    def _finish(self, b):
        b = standardize_batch(b)
        if self.class_weight is not None and isinstance(b, tuple) and len(b) >= 2:
            sw = class_weight_to_sample_weights(nest.flatten(b[1])[0], self.class_weight)
            b = (b[0], b[1], from_host(sw))
        return b

    def __iter__(self):
        if self.steps is None:
            if not self._single_use:
                if not self._peeked:
                    self._iterator = self._fresh_iterator()
            produced = 0
            while True:
                try:
                    b = self._next_raw()
                except StopIteration:
                    self._iterator = None
                    break
                produced += 1
                yield self._finish(b)
            if produced == 0 and not self._exhausted_warned:
                self._exhausted_warned = True
                warnings.warn("Your input ran out of data; interrupting training. Make sure "
                              "that your dataset or generator can generate at least "
                              "`steps_per_epoch * epochs` batches. You may need to use the "
                              "`.repeat()` function when building your dataset.", stacklevel=3)
                self.ran_out = True
            if self._is_sequence and hasattr(self.data, "on_epoch_end"):
                self.data.on_epoch_end()
            return
        for _ in range(self.steps):
            try:
                b = self._next_raw()
            except StopIteration:
                if self._single_use:
                    warnings.warn("Your input ran out of data; interrupting training. Make sure "
                                  "that your dataset or generator can generate at least "
                                  "`steps_per_epoch * epochs` batches.", stacklevel=3)
                    self.ran_out = True
                    return
                self._iterator = self._fresh_iterator()
                if self._is_sequence and hasattr(self.data, "on_epoch_end"):
                    self.data.on_epoch_end()
                try:
                    b = self._next_raw()
                except StopIteration:
                    return
            yield self._finish(b)

    def peek(self):
        if not self._peeked:
            if self._iterator is None:
                self._iterator = self._fresh_iterator()
            try:
                self._peeked.append(self._next_raw())
            except StopIteration:
                return None
        return self._finish(self._peeked[0])

    ran_out = False


def get_adapter(x, y=None, sample_weight=None, batch_size=None, steps=None, shuffle=False,
                class_weight=None, what="fit"):
    """The right adapter for what the user passed to `fit` / `evaluate` / `predict`."""
    if x is None:
        raise ValueError(f"`{what}()` received no input data: pass `x` (and `y`).")
    if _is_plain_data(x):
        if steps is not None and y is None and sample_weight is None and False:
            pass
        return ArrayAdapter(x, y, sample_weight, batch_size=batch_size, steps=steps,
                            shuffle=shuffle, class_weight=class_weight)
    if y is not None:
        raise ValueError(f"When `x` is a dataset, generator or PyDataset, `y` should not be "
                         f"passed to `{what}()`: the targets come from `x` (it yields "
                         "`(inputs, targets)` batches). Received y of type "
                         f"{type(y).__name__}.")
    if sample_weight is not None:
        raise ValueError("`sample_weight` is not supported when `x` is a dataset, generator or "
                         "PyDataset: yield `(x, y, sample_weight)` batches instead.")
    if not (hasattr(x, "__iter__") or hasattr(x, "__getitem__")):
        raise TypeError(f"Unrecognized data type for `x` in `{what}()`: {type(x).__name__}. "
                        "Pass NumPy arrays or tensors, a tenfold.data.Dataset, a "
                        "keras.utils.PyDataset or a Python generator.")
    return IterableAdapter(x, steps=steps, class_weight=class_weight)


class DeviceBatches:
    """An adapter's batches, one ahead when new tensors go to a device (a GPU): after a step is
    launched, `fetch_ahead()` slices, converts and copies the next batch to the device while the
    device computes (device kernels run asynchronously; the host waits only when it reads a
    result). On the CPU, and for datasets / generators (an extra element taken ahead could be
    lost at a `stop_training` break), it is the adapter's iteration unchanged."""

    def __init__(self, adapter):
        from tenfold.framework import device
        self._it = iter(adapter)
        self.ahead = device.default_device_is_accelerator() and isinstance(adapter, ArrayAdapter)
        self._next = None
        self._has_next = False

    def __iter__(self):
        return self

    def __next__(self):
        if self._has_next:
            self._has_next = False
            item, self._next = self._next, None
            return item
        return next(self._it)

    def fetch_ahead(self):
        if self.ahead and not self._has_next:
            try:
                self._next = next(self._it)
                self._has_next = True
            except StopIteration:
                self.ahead = False
