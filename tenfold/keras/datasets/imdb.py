"""IMDB movie-review sentiment (Keras's `keras.datasets.imdb`): reviews as lists of word
indices, most frequent words first."""
import json

import numpy as np

from tenfold.keras.datasets import _files

_ORIGIN = _files.KERAS_ORIGIN + "imdb.npz"
_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
_INDEX_ORIGIN = _files.KERAS_ORIGIN + "imdb_word_index.json"
_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):
    """Loads IMDB: `(x_train, y_train), (x_test, y_test)`; x are object arrays of lists of
    word indices, y int64 labels (0 negative, 1 positive). As in Keras: the reviews are
    shuffled with `seed`, each starts with `start_char`, words are offset by `index_from`,
    words outside `[skip_top, num_words)` become `oov_char` (dropped if it is None), and
    reviews of `maxlen` words or more are left out.
    """
    if "nb_words" in kwargs:
        import warnings
        warnings.warn("The `nb_words` argument in `load_data` has been renamed `num_words`.",
                      stacklevel=2)
        num_words = kwargs.pop("nb_words")
    if kwargs:
        raise TypeError(f"imdb.load_data: unrecognized keyword arguments: {sorted(kwargs)}.")
    fpath = _files.fetch(path, _ORIGIN, file_hash=_SHA256, local_names=(path,))
    x_train, labels_train, x_test, labels_test = _files.load_npz_objects(
        fpath, ("x_train", "y_train", "x_test", "y_test"))

    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]

    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    elif index_from:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    else:
        x_train = [list(x) for x in x_train]
        x_test = [list(x) for x in x_test]

    if maxlen:
        x_train, labels_train = _shorter_than(maxlen, x_train, labels_train)
        x_test, labels_test = _shorter_than(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"imdb.load_data: no review is shorter than maxlen={maxlen}; "
                             "increase maxlen.")

    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]

    idx = len(x_train)
    x_train, y_train = np.array(xs[:idx], dtype="object"), labels[:idx]
    x_test, y_test = np.array(xs[idx:], dtype="object"), labels[idx:]
    return (x_train, y_train), (x_test, y_test)


def _shorter_than(maxlen, seqs, labels):
    keep = [i for i, s in enumerate(seqs) if len(s) < maxlen]
    return [seqs[i] for i in keep], [labels[i] for i in keep]


def get_word_index(path="imdb_word_index.json"):
    """The dict mapping each word to its index (before `index_from` is added)."""
    fpath = _files.fetch(path, _INDEX_ORIGIN, file_hash=_INDEX_MD5, local_names=(path,))
    try:
        with open(fpath, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, OSError) as e:
        raise _files.corrupt(fpath, e) from None
