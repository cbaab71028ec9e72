"""Reuters newswire topics (Keras's `keras.datasets.reuters`): 11,228 newswires as lists of
word indices, labelled over 46 topics."""
import json

import numpy as np

from tenfold.keras.datasets import _files

_ORIGIN = _files.KERAS_ORIGIN + "reuters.npz"
_SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
_INDEX_ORIGIN = _files.KERAS_ORIGIN + "reuters_word_index.json"
_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"

_LABELS = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead")


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """`(x_train, y_train), (x_test, y_test)`: object arrays of word-index lists and int
    topic labels. As in Keras: shuffled with `seed`, each newswire starts with `start_char`,
    indices are offset by `index_from`, newswires of `maxlen` words or more are dropped,
    words outside `[skip_top, num_words)` become `oov_char` (dropped if None), and the cut is
    at `1 - test_split` of the whole set."""
    fpath = _files.fetch(path, _ORIGIN, file_hash=_SHA256, local_names=(path,))
    xs, labels = _files.load_npz_objects(fpath, ("x", "y"))
    indices = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(indices)
    xs, labels = xs[indices], labels[indices]
    if start_char is not None:
        xs = [[start_char] + [w + index_from for w in x] for x in xs]
    elif index_from:
        xs = [[w + index_from for w in x] for x in xs]
    else:
        xs = [list(x) for x in xs]
    if maxlen:
        keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
        xs, labels = [xs[i] for i in keep], [labels[i] for i in keep]
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    idx = int(len(xs) * (1 - test_split))
    x_train, y_train = np.array(xs[:idx], dtype="object"), np.array(labels[:idx])
    x_test, y_test = np.array(xs[idx:], dtype="object"), np.array(labels[idx:])
    return (x_train, y_train), (x_test, y_test)


def get_word_index(path="reuters_word_index.json"):
    """The dict mapping each word to its index (before `index_from` is added)."""
    fpath = _files.fetch(path, _INDEX_ORIGIN, file_hash=_INDEX_MD5, local_names=(path,))
    try:
        with open(fpath, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, OSError) as e:
        raise _files.corrupt(fpath, e) from None


def get_label_names():
    """The 46 topic names, in label order."""
    return _LABELS
