"""tf.RaggedTensor and tf.ragged against TensorFlow 2.21 (goldens:
tests/fixtures/tfgraph/tf_ragged.json, made by make_ragged_goldens.py there)."""
import json
import os

import numpy as np
import pytest

import tenfold as tf

with open(os.path.join(os.path.dirname(__file__), "..", "fixtures", "tfgraph",
                       "tf_ragged.json")) as fh:
    GOLD = json.load(fh)


def desc(x):
    if isinstance(x, tf.RaggedTensor):
        return {"ragged": x.to_list(), "dtype": x.dtype.name, "repr": repr(x),
                "shape": x.shape.as_list(), "ragged_rank": x.ragged_rank}
    return {"dense": x.numpy().tolist(), "dtype": x.dtype.name, "shape": x.shape.as_list()}


def _cases():
    rt = tf.ragged.constant([[1, 2], [3], [], [4, 5, 6]])
    f = tf.ragged.constant([[1.5, 2.], [3.]])
    n = tf.ragged.constant([[[1, 2], [3]], [[4]]])
    u = tf.ragged.constant([[[1, 2]], [[3, 4], [5, 6]]], ragged_rank=1)
    return {
        "rt": lambda: rt, "float": lambda: f, "nested": lambda: n,
        "row_splits": lambda: rt.row_splits, "values": lambda: rt.values,
        "row_lengths": lambda: rt.row_lengths(), "flat_values": lambda: n.flat_values,
        "nested_values": lambda: n.values, "value_rowids": lambda: rt.value_rowids(),
        "bounding_shape": lambda: rt.bounding_shape(),
        "to_tensor": lambda: rt.to_tensor(),
        "to_tensor_default": lambda: rt.to_tensor(default_value=-1),
        "nested_to_tensor": lambda: n.to_tensor(), "uniform_to_tensor": lambda: u.to_tensor(),
        "add_scalar": lambda: rt + 1, "mul_self": lambda: rt * rt, "rmul": lambda: 2 * rt,
        "neg": lambda: -rt, "rsub": lambda: 2 - rt, "float_div": lambda: f / 2.0,
        "nested_add": lambda: n + n, "compare": lambda: rt > 2,
        "map_ones_like": lambda: tf.ragged.map_flat_values(tf.ones_like, rt),
        "map_two_args": lambda: tf.ragged.map_flat_values(tf.add, rt, rt),
        "map_square": lambda: tf.ragged.map_flat_values(tf.square, f),
        "from_row_splits": lambda: tf.RaggedTensor.from_row_splits([1, 2, 3, 4], [0, 2, 2, 4]),
        "from_row_lengths": lambda: tf.RaggedTensor.from_row_lengths([1, 2, 3, 4], [2, 0, 2]),
        "from_value_rowids_nrows": lambda: tf.RaggedTensor.from_value_rowids(
            [1, 2, 3, 4], [0, 0, 2, 2], nrows=4),
        "from_value_rowids": lambda: tf.RaggedTensor.from_value_rowids([1, 2, 3, 4],
                                                                       [0, 0, 2, 2]),
        "from_nested_row_lengths": lambda: tf.RaggedTensor.from_nested_row_lengths(
            [1, 2, 3, 4, 5], [[2, 1], [1, 3, 1]]),
        "from_tensor_lengths": lambda: tf.RaggedTensor.from_tensor([[1, 2, 3], [4, 5, 6]],
                                                                   lengths=[1, 3]),
        "from_tensor_padding": lambda: tf.RaggedTensor.from_tensor([[1, 0, 0], [4, 5, 0]],
                                                                   padding=0),
        "boolean_mask": lambda: tf.ragged.boolean_mask(
            tf.constant([[1, 2, 3], [4, 5, 6]]),
            tf.constant([[True, False, True], [False, False, True]])),
        "index_row": lambda: rt[3], "slice_rows": lambda: rt[1:3], "index_neg": lambda: rt[-1],
        "empty_rows": lambda: tf.ragged.constant([[], []]),
        "dtype_given": lambda: tf.ragged.constant([[1, 2], [3]], dtype=tf.float32),
    }


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_tensorflow(name):
    assert desc(CASES[name]()) == GOLD[name]


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_max", "reduce_min", "reduce_mean",
                                "reduce_prod"])
def test_reductions_match_tensorflow(op):
    fr = tf.ragged.constant([[1., 2.], [3.], [], [4., 5., 6.]])
    ri = tf.ragged.constant([[1, 2], [3], []])
    fn = getattr(tf, op)
    for key, got in ((f"{op}_rows", fn(fr, axis=1)), (f"{op}_all", fn(fr)),
                     (f"{op}_int_rows", fn(ri, axis=-1))):
        want = GOLD[key]
        d = desc(got)
        assert (d["dtype"], d["shape"]) == (want["dtype"], want["shape"]), key
        np.testing.assert_allclose(np.asarray(d["dense"], float),
                                   np.asarray(want["dense"], float), rtol=1e-6)


def test_boolean_reductions_match_tensorflow():
    bo = tf.ragged.constant([[True, False], [], [True]])
    assert desc(tf.reduce_any(bo, axis=1)) == GOLD["reduce_any_rows"]
    assert desc(tf.reduce_all(bo, axis=1)) == GOLD["reduce_all_rows"]
    with pytest.raises(NotImplementedError, match="axis"):
        tf.reduce_sum(tf.ragged.constant([[1, 2], [3]]), axis=0)


def test_uniform_inner_dims_and_nrows():
    u = tf.ragged.constant([[[1, 2]], [[3, 4], [5, 6]]], ragged_rank=1)
    got = desc(u)
    want = GOLD["uniform_inner"]
    del got["repr"], want["repr"]  # TensorFlow prints inner uniform rows NumPy-style
    assert got == want
    rt = tf.ragged.constant([[1, 2], [3], [], [4, 5, 6]])
    assert int(rt.nrows()) == GOLD["nrows"]
    assert isinstance(rt, tf.RaggedTensor) and str(rt) == repr(rt)


def test_errors_are_tensorflow_types():
    rt = tf.ragged.constant([[1, 2], [3], [], [4, 5, 6]])
    got = {}
    for key, fn in {
        "mismatched_rows": lambda: rt + tf.ragged.constant([[1], [2], [3], [4]]),
        "bad_splits": lambda: tf.RaggedTensor.from_row_splits([1, 2, 3], [0, 2, 5]),
        "direct_init": lambda: tf.RaggedTensor(1),
        "to_dense_convert": lambda: tf.convert_to_tensor(rt),
    }.items():
        try:
            fn()
            got[key] = None
        except Exception as e:  # noqa: BLE001 - comparing the type with TensorFlow's
            got[key] = type(e).__name__
    assert got == GOLD["errors"]
    with pytest.raises(ValueError, match="to_tensor"):
        tf.convert_to_tensor(rt)


def test_to_tensor_matches_numpy_padding_random():
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 5, size=7)
    rows = [rng.normal(size=k).astype(np.float32) for k in lengths]
    rt = tf.RaggedTensor.from_row_lengths(np.concatenate(rows), lengths)
    width = lengths.max()
    want = np.full((7, width), 9.0, np.float32)
    for i, r in enumerate(rows):
        want[i, :len(r)] = r
    np.testing.assert_array_equal(rt.to_tensor(9.0).numpy(), want)
    np.testing.assert_array_equal(rt.row_lengths().numpy(), lengths)


def test_gradient_flows_through_flat_values():
    x = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        rt = tf.RaggedTensor.from_row_lengths(x * 1.0, [2, 1])
        loss = tf.reduce_sum((rt * rt).to_tensor())
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [2.0, 4.0, 6.0])


def test_dataset_slices_and_ragged_batch():
    rt = tf.ragged.constant([[1, 2], [3], [], [4, 5, 6]])
    ds = tf.data.Dataset.from_tensor_slices(rt)
    assert [e.numpy().tolist() for e in ds] == GOLD["ds_slices"]
    assert ds.element_spec.shape.as_list() == GOLD["ds_slices_spec_shape"]

    def gen():
        for i in range(5):
            yield list(range(i)), i

    ds2 = tf.data.Dataset.from_generator(gen, output_signature=(
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32))).ragged_batch(2)
    assert [[desc(a), desc(b)] for a, b in ds2] == GOLD["ds_ragged_batch"]
    assert repr(ds2.element_spec) == GOLD["ds_ragged_batch_spec"]
    ds3 = tf.data.Dataset.from_tensor_slices(([[1, 2], [3, 4], [5, 6]], [0, 1, 2])) \
        .ragged_batch(2)
    assert [[desc(a), desc(b)] for a, b in ds3] == GOLD["ds_ragged_batch_dense"]
