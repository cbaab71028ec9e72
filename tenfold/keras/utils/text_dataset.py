"""`keras.utils.text_dataset_from_directory`: a `tf.data.Dataset` of (text, label) batches
from a folder of class-named subfolders of `.txt` files, as Keras 3 makes it: texts are
scalar strings (the file's bytes, cut to `max_length` characters if given), labels int32
class indices, float32 one-hot vectors ("categorical") or float32 (n, 1) ("binary"); the
dataset has `class_names`. The files are listed, split and shuffled as for
`image_dataset_from_directory`.
"""
import numpy as np

from tenfold.keras.utils.image_dataset import _index_directory, _labels_array, _split


def _check_args(labels, label_mode, class_names, format, validation_split, subset, shuffle,
                seed):
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(
                "`labels` argument should be a list/tuple of integer labels, of the same size "
                "as the number of text files in the target directory. If you wish to infer "
                'the labels from the subdirectory names in the target directory, pass '
                '`labels="inferred"`. If you wish to get a dataset that only contains text '
                f"samples (no labels), pass `labels=None`. Received: labels={labels}")
        if class_names:
            raise ValueError('You can only pass `class_names` if `labels="inferred"`. '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", "binary", '
                         f"or None. Received: label_mode={label_mode}")
    if format != "tf":
        raise ValueError(f'`format` must be "tf" in tenfold (a tf.data.Dataset). Received: '
                         f"format={format}")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: "
                         f"{validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError('`subset` must be either "training", "validation" or "both", '
                         f"received: {subset}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide "
                         "a `seed` argument, to make sure that there is no overlap between the "
                         "training and validation subset.")


def _read(path, max_length):
    with open(path, "rb") as f:
        data = f.read()
    if max_length is not None:
        # tf.strings.substr(text, 0, max_length): bytes, as TensorFlow counts them
        data = data[:int(max_length)]
    return np.array(data, dtype=object)


def _dataset(paths, labels, label_mode, num_classes, max_length, shuffle, buffer, seed):
    from tenfold.data import Dataset
    texts = Dataset.from_tensor_slices(np.array(paths, dtype=object)).map(
        lambda p: _read(p.numpy(), max_length))
    ds = texts
    if label_mode:
        ds = Dataset.zip((texts, Dataset.from_tensor_slices(
            _labels_array(labels, label_mode, num_classes))))
    if shuffle:
        ds = ds.shuffle(buffer, seed=seed)
    return ds


def text_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                class_names=None, batch_size=32, max_length=None, shuffle=True,
                                seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """A dataset of (text, label) batches from `directory/<class_name>/*.txt`."""
    _check_args(labels, label_mode, class_names, format, validation_split, subset, shuffle,
                seed)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = np.random.randint(1e6)
    paths, file_labels, names = _index_directory(directory, labels, (".txt",), class_names,
                                                 follow_links)
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
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={names}")
    num_classes = len(names) if names else 0
    buffer = batch_size * 8 if batch_size is not None else 1024

    def build(p, lab, shuffled, what=""):
        if not p:
            raise ValueError(f"No {what}text files found in directory {directory}. Allowed "
                             "format: .txt")
        ds = _dataset(p, lab, label_mode, num_classes, max_length, shuffled, buffer, seed)
        if batch_size is not None:
            ds = ds.batch(batch_size)
        ds = ds.prefetch(-1)
        ds.class_names = names
        return ds

    if subset == "both":
        tp, tl = _split(paths, file_labels, validation_split, "training")
        vp, vl = _split(paths, file_labels, validation_split, "validation")
        return [build(tp, tl, shuffle, "training "), build(vp, vl, False, "validation ")]
    p, lab = _split(paths, file_labels, validation_split, subset)
    return build(p, lab, shuffle)
