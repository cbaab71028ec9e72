"""keras.utils.text_dataset_from_directory against goldens Keras 3 on TensorFlow made
(tests/fixtures/text_dataset/make_goldens.py, on the folder corpus.py builds)."""
import json
import os
import sys

import numpy as np
import pytest

from tenfold import keras

HERE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "text_dataset")
sys.path.insert(0, HERE)
from corpus import build_corpus  # noqa: E402

with open(os.path.join(HERE, "goldens.json")) as _f:
    GOLDENS = json.load(_f)


def _batches(ds):
    out = []
    for x, y in ds:
        out.append([[v.decode("utf-8") for v in x.numpy()], np.asarray(y).tolist()])
    return out


@pytest.fixture
def corpus(tmp_path):
    build_corpus(str(tmp_path))
    return str(tmp_path)


def test_unshuffled_batches_and_class_names(corpus):
    ds = keras.utils.text_dataset_from_directory(corpus, batch_size=4, shuffle=False)
    assert ds.class_names == GOLDENS["plain"]["classes"]
    assert _batches(ds) == GOLDENS["plain"]["batches"]
    x, y = next(iter(ds))
    assert x.dtype == "string" and y.dtype == "int32"


def test_max_length_and_categorical_labels(corpus):
    ds = keras.utils.text_dataset_from_directory(corpus, batch_size=4, shuffle=False,
                                                 max_length=5, label_mode="categorical")
    assert _batches(ds) == GOLDENS["max_length"]["batches"]


def test_seeded_split_is_kerass(corpus):
    tr, va = keras.utils.text_dataset_from_directory(corpus, seed=42, validation_split=0.25,
                                                     subset="both", batch_size=4)
    assert _batches(va) == GOLDENS["split"]["val"]
    train = sorted((t, y) for b in _batches(tr) for t, y in zip(*b))
    assert [list(p) for p in train] == GOLDENS["split"]["train_sorted"]


def test_feeds_text_vectorization_and_fit(corpus):
    ds = keras.utils.text_dataset_from_directory(corpus, batch_size=4, seed=1, verbose=False)
    tv = keras.layers.TextVectorization(output_sequence_length=4)
    tv.adapt(ds.map(lambda x, y: x))
    model = keras.Sequential([keras.layers.Embedding(tv.vocabulary_size(), 3),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(ds.map(lambda x, y: (tv(x), y)), epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(label_mode="sparse"), "label_mode"),
    (dict(validation_split=0.2), "validation_split` must be set|subset"),
    (dict(validation_split=0.2, subset="training"), "provide a `seed`"),
    (dict(max_length=0), "max_length"),
    (dict(labels="folders"), "`labels` must be"),
])
def test_bad_arguments(corpus, kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras.utils.text_dataset_from_directory(corpus, **kwargs)


def test_missing_folder():
    with pytest.raises(ValueError, match="text_dataset_from_directory: .* is not a directory"):
        keras.utils.text_dataset_from_directory("/nonexistent/folder")
