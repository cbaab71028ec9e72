"""StringLookup, IntegerLookup, Hashing, TextVectorization, Discretization and CategoryEncoding
against goldens Keras 3 on
TensorFlow 2.21 made (these layers need TensorFlow, so the numpy-backend oracle cannot run
them): tests/fixtures/preprocessing/make_goldens.py. Outputs, dtypes, vocabularies after
adapt, configs, and .keras files with adapted vocabularies both ways."""
import json
import os
import zipfile

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.keras import layers as L

from preprocessing_goldens import GOLDENS, HERE  # noqa: E402
from preprocessing_goldens import as_numpy as _np, build as _build  # noqa: E402


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_outputs_match_keras_on_tensorflow(name):
    case = GOLDENS[name]
    layer = _build(case)
    y = layer(tf.constant(case["inputs"]))
    assert y.dtype.name == case["output_dtype"]
    got, want = _np(y), case["output"]
    if got.dtype == object:
        assert got.tolist() == want
    else:
        assert got.shape == np.asarray(want).shape
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-6, atol=1e-7)
    if "vocabulary" in case:
        assert layer.get_vocabulary() == case["vocabulary"]
        assert layer.vocabulary_size() == case["vocabulary_size"]


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_config_matches_keras_and_round_trips(name):
    case = GOLDENS[name]
    layer = _build(case)
    cfg = layer.get_config()
    cfg.pop("name")
    want = dict(case["config"])
    assert json.loads(json.dumps(cfg)) == want
    again = type(layer).from_config(layer.get_config())
    if case["adapt"] is None:   # a given vocabulary travels in the config
        np.testing.assert_array_equal(_np(again(tf.constant(case["inputs"]))),
                                      _np(layer(tf.constant(case["inputs"]))))


@pytest.mark.parametrize("fname,inputs,key", [
    ("text_vectorization.keras", [[s] for s in GOLDENS["text_int"]["inputs"]],
     "text_vectorization"),
    ("string_lookup_tf_idf.keras", GOLDENS["string_adapt_int"]["inputs"],
     "string_lookup_tf_idf"),
])
def test_keras_files_with_adapted_vocabularies_load(fname, inputs, key, tmp_path):
    with open(os.path.join(HERE, "keras_files.json")) as f:
        want = json.load(f)[key]
    model = keras.models.load_model(os.path.join(HERE, fname))
    got = _np(model(tf.constant(inputs)))
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-6)
    # and saved again by tenfold: the same archive layout, the same outputs
    path = str(tmp_path / fname)
    model.save(path)
    with zipfile.ZipFile(path) as ours, zipfile.ZipFile(os.path.join(HERE, fname)) as theirs:
        assert sorted(n for n in ours.namelist() if n.startswith("assets/")) == \
            sorted(n for n in theirs.namelist() if n.startswith("assets/"))
        for n in theirs.namelist():
            if n.startswith("assets/"):
                assert ours.read(n) == theirs.read(n)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(_np(again(tf.constant(inputs))), np.asarray(want), rtol=1e-6)


def test_adapted_text_model_trains_saves_and_loads(tmp_path):
    texts = np.array(["good movie", "bad movie", "very good", "very bad film"])
    tv = L.TextVectorization(max_tokens=20, output_sequence_length=4)
    tv.adapt(texts)
    ids = tv(texts)
    model = keras.Sequential([keras.Input((4,), dtype="int64"), L.Embedding(20, 3),
                              L.GlobalAveragePooling1D(), L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(ids, np.array([1, 0, 1, 0], "float32"), epochs=2, verbose=0)
    whole = keras.Sequential([keras.Input((1,), dtype="string"), tv, model])
    path = str(tmp_path / "text.keras")
    whole.save(path)
    loaded = keras.models.load_model(path)
    x = tf.constant([["good film"], ["bad"]])
    np.testing.assert_allclose(loaded(x).numpy(), whole(x).numpy(), rtol=1e-6)
    assert loaded.layers[0].get_vocabulary() == tv.get_vocabulary()


def test_vocabulary_from_a_file_and_with_special_tokens(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("a\nb\nc")
    layer = L.StringLookup(vocabulary=str(path))
    assert layer.get_vocabulary() == ["[UNK]", "a", "b", "c"]
    again = L.StringLookup(vocabulary=layer.get_vocabulary())
    assert again.get_vocabulary() == layer.get_vocabulary()
    assert layer.get_vocabulary(include_special_tokens=False) == ["a", "b", "c"]


@pytest.mark.parametrize("make,match", [
    (lambda: L.StringLookup(vocabulary=["a", "a"]), "repeated tokens"),
    (lambda: L.StringLookup(vocabulary=["a", "[UNK]"]), "reserved token"),
    (lambda: L.StringLookup(output_mode="bag"), "unknown output_mode 'bag'"),
    (lambda: L.StringLookup(vocabulary=["a"], output_mode="tf_idf"), "needs idf_weights"),
    (lambda: L.StringLookup(invert=True, output_mode="multi_hot"), "invert=True needs"),
    (lambda: L.StringLookup(vocabulary=str("/nonexistent/v.txt")), "does not exist"),
    (lambda: L.IntegerLookup(max_tokens=1), "max_tokens must be greater than 1"),
    (lambda: L.Hashing(num_bins=0), "num_bins must be a positive integer"),
    (lambda: L.TextVectorization(split="comma"), "split must be"),
    (lambda: L.TextVectorization(output_mode="count", output_sequence_length=3),
     "output_sequence_length is only used"),
])
def test_bad_arguments_say_what_and_how(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unsupported_options_say_so():
    with pytest.raises(NotImplementedError, match="salt"):
        L.Hashing(num_bins=3, salt=7)
    with pytest.raises(NotImplementedError, match="sparse"):
        L.StringLookup(sparse=True)
    with pytest.raises(NotImplementedError, match="ragged"):
        L.TextVectorization(ragged=True)
    with pytest.raises(ValueError, match="float inputs"):
        L.Hashing(num_bins=3)(tf.constant([1.5]))
