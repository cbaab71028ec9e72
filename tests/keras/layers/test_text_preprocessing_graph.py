"""The text and structured preprocessing layers (StringLookup, IntegerLookup, Hashing,
TextVectorization, CategoryEncoding, Discretization) inside tf.function, inside
tf.data.Dataset.map and inside compiled Keras models, against the goldens Keras 3 on
TensorFlow 2.21 made (tests/fixtures/preprocessing/make_goldens.py): as in TensorFlow, the
layers run as graph ops on string tensors, not only eagerly."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.keras import layers as L

from preprocessing_goldens import GOLDENS  # noqa: E402
from preprocessing_goldens import as_numpy as _np, build as _build  # noqa: E402


def _check(y, case):
    assert y.dtype.name == case["output_dtype"]
    got, want = _np(y), case["output"]
    if got.dtype == object:
        assert got.tolist() == want
    else:
        assert got.shape == np.asarray(want).shape
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-6, atol=1e-7)


def _other_inputs(case):
    """A second input of the same shape and dtype (a graph must not return the first's
    result again)."""
    x = case["inputs"]
    return x[::-1] if isinstance(x, list) else x


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_inside_tf_function(name):
    case = GOLDENS[name]
    layer = _build(case)

    @tf.function
    def run(x):
        return layer(x)

    other = _other_inputs(case)
    eager_other = layer(tf.constant(other))
    _check(run(tf.constant(case["inputs"])), case)   # the trace
    np.testing.assert_array_equal(_np(run(tf.constant(other))), _np(eager_other))  # the graph
    _check(run(tf.constant(case["inputs"])), case)
    assert run.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_inside_dataset_map(name):
    case = GOLDENS[name]
    layer = _build(case)
    ds = tf.data.Dataset.from_tensors(tf.constant(case["inputs"]))
    (y,) = list(ds.map(layer))
    _check(y, case)
    (y,) = list(ds.map(tf.function(lambda x: layer(x))))
    _check(y, case)


def test_dataset_map_per_element_and_parallel():
    case = GOLDENS["text_seq_len"]
    layer = _build(case)
    texts = [t[0] if isinstance(t, list) else t for t in case["inputs"]]
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(2)
    serial = np.concatenate([y.numpy() for y in ds.map(layer)])
    parallel = np.concatenate([y.numpy() for y in ds.map(layer, num_parallel_calls=2)])
    np.testing.assert_array_equal(serial, np.asarray(case["output"]))
    np.testing.assert_array_equal(parallel, serial)


def test_graph_traced_before_adapt_reads_the_new_vocabulary():
    lookup = L.StringLookup(vocabulary=["a", "b"])

    @tf.function
    def run(x):
        return lookup(x)

    assert run(tf.constant(["b", "c"])).numpy().tolist() == [2, 0]
    lookup.set_vocabulary(["c", "b"])   # as a TensorFlow table changes under its graph
    assert run(tf.constant(["b", "c"])).numpy().tolist() == [2, 1]
    assert run.experimental_get_tracing_count() == 1


def test_text_model_compiled_fit_on_strings_matches_eager():
    texts = np.array([["good movie"], ["bad movie"], ["very good"], ["very bad film"],
                      ["good"], ["bad film"]])
    labels = np.array([1, 0, 1, 0, 1, 0], "float32")

    def make(run_eagerly):
        keras.utils.set_random_seed(3)
        tv = L.TextVectorization(max_tokens=20, output_sequence_length=4)
        tv.adapt(texts[:, 0])
        inp = keras.Input((1,), dtype="string")
        x = L.Embedding(20, 3)(tv(inp))
        out = L.Dense(1)(L.GlobalAveragePooling1D()(x))
        model = keras.Model(inp, out)
        model.compile(keras.optimizers.SGD(0.1), "mse", run_eagerly=run_eagerly)
        return model

    graph, eager = make(False), make(True)
    h1 = graph.fit(texts, labels, batch_size=2, epochs=3, shuffle=False, verbose=0)
    h2 = eager.fit(texts, labels, batch_size=2, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    for a, b in zip(graph.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert graph.make_train_function() is not None and not graph.run_eagerly
    np.testing.assert_allclose(graph.predict(texts, verbose=0), eager.predict(texts, verbose=0),
                               rtol=1e-5)


def test_string_lookup_feeds_a_compiled_model():
    vocab = ["red", "green", "blue"]
    inp = keras.Input((1,), dtype="string")
    ids = L.StringLookup(vocabulary=vocab, output_mode="one_hot")(inp)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(ids)))
    model.compile("sgd", "mse")
    x = np.array([["red"], ["blue"], ["pink"], ["green"]])
    model.fit(x, np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    got = model.predict(x, verbose=0)
    w, b = model.layers[-1].get_weights()
    onehot = np.eye(4, dtype="float32")[[1, 3, 0, 2]]
    np.testing.assert_allclose(got, onehot @ w + b, rtol=1e-5, atol=1e-6)


def test_callable_standardize_and_split_in_graph():
    def standardize(x):
        return tf.strings.lower(x)

    def split(x):
        return tf.strings.split(x, sep=",")

    tv = L.TextVectorization(standardize=standardize, split=split, output_sequence_length=3)
    tv.adapt(["A,b", "b,c", "B"])

    @tf.function
    def run(x):
        return tv(x)

    eager = tv(tf.constant(["B,A", "c,z,b,a"])).numpy()
    assert run(tf.constant(["b,a", "x"])).numpy().tolist() == tv(
        tf.constant(["b,a", "x"])).numpy().tolist()
    np.testing.assert_array_equal(run(tf.constant(["B,A", "c,z,b,a"])).numpy(), eager)
    vocab = tv.get_vocabulary()
    assert eager.tolist() == [[vocab.index("b"), vocab.index("a"), 0],
                              [vocab.index("c"), 1, vocab.index("b")]]


def test_strings_split_is_a_graph_op_giving_ragged_rows():
    texts = ["a b  c", "", "d e"]

    @tf.function
    def split(x):
        r = tf.strings.split(x)
        return r.flat_values, r.row_lengths()

    for batch in (texts, ["x y", "z", "u v w"]):
        values, lengths = split(tf.constant(batch))
        want = [t.split() for t in batch]
        assert [v.decode() for v in values.numpy()] == [w for row in want for w in row]
        assert lengths.numpy().tolist() == [len(row) for row in want]
    assert split.experimental_get_tracing_count() == 1
    assert tf.strings.split(tf.constant("p,q"), sep=",").numpy().tolist() == [b"p", b"q"]
