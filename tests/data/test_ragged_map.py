"""RaggedTensors through tf.data against TensorFlow 2.21: from_tensor_slices of ragged
values (alone or in a structure), map functions taking and returning RaggedTensors, batch /
ragged_batch / unbatch of ragged components. The cases are shared with the golden script
(tests/fixtures/tfgraph/ragged_data_cases.py, make_ragged_data_goldens.py ->
tf_ragged_data.json)."""
import json
import os
import sys

import numpy as np
import pytest

import tenfold as tf

HERE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tfgraph")
sys.path.insert(0, HERE)
import ragged_data_cases as C  # noqa: E402

with open(os.path.join(HERE, "tf_ragged_data.json")) as fh:
    GOLD = json.load(fh)

CASES = C.cases(tf)


def _strip_shapes(d):
    """Element shapes without the static dimensions TensorFlow keeps inside ragged batches
    (tenfold's RaggedTensor has no uniform row length: [2, 2, None] is [2, None, None])."""
    if isinstance(d, dict):
        return {k: _strip_shapes(v) for k, v in d.items() if k != "shape" or "ragged" not in d}
    if isinstance(d, list):
        return [_strip_shapes(v) for v in d]
    return d


@pytest.mark.parametrize("name", sorted(CASES))
def test_ragged_dataset_matches_tensorflow(name):
    ds = CASES[name]
    gold = GOLD[name]
    assert C.describe_spec(tf, ds.element_spec) == gold["spec"]
    got = [C.describe(tf, e) for e in ds]
    assert _strip_shapes(got) == _strip_shapes(gold["elements"])
    for e, g in zip(got, gold["elements"]):   # leading dimensions agree too
        if isinstance(g, dict) and "ragged" in g:
            assert e["shape"][0] == g["shape"][0]


def test_twice_and_in_parallel():
    rt = tf.ragged.constant([[1, 2], [3], [4, 5, 6], [], [7]])
    ds = tf.data.Dataset.from_tensor_slices(rt).ragged_batch(2)
    serial = [r.to_list() for r in ds.map(lambda r: r * 10)]
    parallel = [r.to_list() for r in ds.map(lambda r: r * 10, num_parallel_calls=2)]
    assert serial == parallel == [[[10, 20], [30]], [[40, 50, 60], []], [[70]]]
    assert [r.to_list() for r in ds.map(lambda r: r * 10)] == serial


def test_map_with_tf_function_on_ragged_batches():
    rt = tf.ragged.constant([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]])

    @tf.function
    def mean_per_row(r):
        return tf.reduce_sum(r, axis=1) / tf.cast(r.row_lengths(), tf.float32)

    ds = tf.data.Dataset.from_tensor_slices(rt).ragged_batch(3).map(mean_per_row)
    (out,) = list(ds)
    np.testing.assert_allclose(out.numpy(), [1.5, 3.0, 5.0])


def test_mismatched_rows_are_named():
    rt = tf.ragged.constant([[1, 2], [3]])
    with pytest.raises(ValueError, match="different first dimensions"):
        tf.data.Dataset.from_tensor_slices((rt, tf.constant([1, 2, 3])))
