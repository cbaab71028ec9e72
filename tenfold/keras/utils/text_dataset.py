"""`keras.utils.text_dataset_from_directory`: a `tf.data.Dataset` of (text, label) batches
from a folder of class-named subfolders of `.txt` files, as Keras 3 builds it: files sorted
by class then name, shuffled with `np.random.RandomState(seed)` (so `file_paths` and the
train/validation split are Keras's), texts as string tensors of the files' bytes."""
import numpy as np

from tenfold.keras.utils.image_dataset import _index_directory, _labels_array, batched_splits

_OP = "text_dataset_from_directory"


def _read(path, max_length):
    with open(path, "rb") as f:
        data = f.read()
    return data if max_length is None else data[:max_length]


def _make_dataset(paths, labels, label_mode, num_classes, max_length, shuffle, buffer_size,
                  seed):
    from tenfold.data import Dataset
    from tenfold.framework.tensor import convert_to_tensor
    def load(path):
        path = path.numpy()
        path = path.decode("utf-8") if isinstance(path, bytes) else str(path)
        return convert_to_tensor(np.array(_read(path, max_length), dtype=object))

    texts = Dataset.from_tensor_slices(np.array(paths, dtype=object)).map(load)
    if label_mode:
        ds = Dataset.zip((texts, Dataset.from_tensor_slices(
            _labels_array(labels, label_mode, num_classes))))
    else:
        ds = texts
    if shuffle:
        ds = ds.shuffle(buffer_size or 1024, seed=seed)
    return ds


def text_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                class_names=None, batch_size=32, max_length=None, shuffle=True,
                                seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """Texts from `directory/<class_name>/*.txt` with integer, one-hot ("categorical") or
    binary labels; `class_names` and `file_paths` attributes; `validation_split` with
    `subset` "training", "validation" or "both" (a seed is needed when shuffling)."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(
                f"{_OP}: `labels` must be 'inferred', None, or a list/tuple of integer labels "
                f"of the same size as the number of text files. Received: labels={labels}")
        if class_names:
            raise ValueError(f'{_OP}: you can only pass `class_names` if labels="inferred". '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError(f'{_OP}: `label_mode` must be one of "int", "categorical", "binary", '
                         f"or None. Received: label_mode={label_mode}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if format != "tf":
        raise ValueError(f'{_OP}: `format` must be "tf" in tenfold (a tf.data.Dataset). '
                         f"Received: format={format}")
    if max_length is not None and (not isinstance(max_length, int) or max_length <= 0):
        raise ValueError(f"{_OP}: `max_length` must be a positive integer (characters kept "
                         f"per text) or None. Received: max_length={max_length}")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"{_OP}: `validation_split` must be between 0 and 1, received: "
                         f"{validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError(f"{_OP}: if `subset` is set, `validation_split` must be set, and "
                         "inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'{_OP}: `subset` must be either "training", "validation" or "both", '
                         f"received: {subset}")
    if validation_split and shuffle and seed is None:
        raise ValueError(f"{_OP}: if using `validation_split` and shuffling the data, you must "
                         "provide a `seed` argument, so that the training and validation "
                         "subsets do not overlap.")
    if seed is None:
        seed = np.random.randint(1e6)
    paths, file_labels, names = _index_directory(directory, labels, (".txt",), class_names,
                                                 follow_links, op=_OP)
    if verbose:
        if file_labels is None:
            print(f"Found {len(paths)} files.")
        else:
            print(f"Found {len(paths)} files belonging to {len(names)} classes.")
    if shuffle:
        np.random.RandomState(seed).shuffle(paths)
        if file_labels is not None:
            np.random.RandomState(seed).shuffle(file_labels)
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f'{_OP}: when passing label_mode="binary", there must be exactly 2 '
                         f"class_names. Received: class_names={names}")
    num_classes = len(names) if names else 0
    buffer_size = batch_size * 8 if batch_size is not None else 1024

    def make(p, lab, shuffled):
        if not p:
            raise ValueError(f"No text files found in directory {directory}. Allowed "
                             "format: .txt")
        return _make_dataset(p, lab, label_mode, num_classes, max_length, shuffled,
                             buffer_size, seed)

    return batched_splits(make, paths, file_labels, validation_split, subset, shuffle,
                          batch_size, names)
