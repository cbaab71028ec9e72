"""tf.data.Dataset: sources and transformations against the behaviour TensorFlow documents."""
import collections

import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import InvalidArgumentError, OutOfRangeError

Dataset = tf.data.Dataset


def items(ds):
    return list(ds.as_numpy_iterator())


def arr(ds):
    return np.array(items(ds))


# --- sources ---------------------------------------------------------------------------

def test_from_tensor_slices_tuple_dict_and_tensor_types():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6)
    ds = Dataset.from_tensor_slices((x, y))
    got = list(ds)
    assert len(got) == 6 and isinstance(got[0], tuple)
    assert isinstance(got[0][0], tf.Tensor)
    np.testing.assert_array_equal(got[3][0].numpy(), x[3])
    assert got[3][1].numpy() == 3 and got[3][1].dtype == tf.int64
    d = Dataset.from_tensor_slices({"a": x, "b": y})
    e = next(iter(d))
    assert set(e) == {"a", "b"} and e["a"].shape == (2,)
    # Python lists: TensorFlow's inference (int32, float32); a list is one tensor
    assert Dataset.from_tensor_slices([1, 2, 3]).element_spec == tf.TensorSpec([], tf.int32)
    assert Dataset.from_tensor_slices([[1.0, 2.0]]).element_spec == tf.TensorSpec([2],
                                                                                  tf.float32)
    # tenfold tensors
    t = tf.constant([[1, 2], [3, 4]])
    np.testing.assert_array_equal(arr(Dataset.from_tensor_slices(t)), [[1, 2], [3, 4]])


def test_from_tensor_slices_copies_numpy_input_and_checks_sizes():
    x = np.arange(4)
    ds = Dataset.from_tensor_slices(x)
    x[0] = 100
    assert items(ds)[0] == 0
    with pytest.raises(InvalidArgumentError, match="same size in their first dimension"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))
    with pytest.raises(InvalidArgumentError, match="at least one dimension"):
        Dataset.from_tensor_slices(np.float32(1.0))


def test_from_tensors_range_and_spec():
    ds = Dataset.from_tensors(([1, 2, 3], "a"))
    assert len(ds) == 1
    (v, s), = items(ds)
    np.testing.assert_array_equal(v, [1, 2, 3])
    assert Dataset.range(5).element_spec == tf.TensorSpec([], tf.int64)
    assert items(Dataset.range(2, 10, 3)) == [2, 5, 8]
    assert items(Dataset.range(5, 0, -2)) == [5, 3, 1]
    assert Dataset.range(3, output_type=tf.int32).element_spec.dtype == tf.int32
    assert repr(Dataset.range(3)).startswith("<_RangeDataset element_spec=TensorSpec(shape=()")


def test_as_numpy_iterator_gives_numpy_scalars_and_arrays():
    out = items(Dataset.range(3))
    assert out == [0, 1, 2] and isinstance(out[0], np.int64)
    x = items(Dataset.from_tensor_slices(np.ones((2, 3))))[0]
    assert isinstance(x, np.ndarray) and x.flags.writeable


def test_from_generator_signature_and_legacy_types():
    def gen():
        for i in range(4):
            yield i, [float(i)] * (i + 1)
    sig = (tf.TensorSpec(shape=(), dtype=tf.int64), tf.TensorSpec(shape=(None,),
                                                                   dtype=tf.float32))
    ds = Dataset.from_generator(gen, output_signature=sig)
    assert ds.element_spec == sig
    out = items(ds)
    assert [o[0] for o in out] == [0, 1, 2, 3]
    assert out[2][1].dtype == np.float32 and out[2][1].shape == (3,)
    # it restarts on each iteration
    assert len(items(ds)) == 4
    legacy = Dataset.from_generator(gen, output_types=(tf.int64, tf.float32),
                                    output_shapes=((), (None,)))
    assert legacy.element_spec == sig
    with_args = Dataset.from_generator(lambda n: iter(range(int(n))),
                                       output_signature=tf.TensorSpec((), tf.int32), args=(3,))
    assert items(with_args) == [0, 1, 2]


def test_from_generator_mismatch_errors_name_the_element():
    def bad_shape():
        yield [1.0, 2.0]
        yield [1.0, 2.0, 3.0]
    ds = Dataset.from_generator(bad_shape, output_signature=tf.TensorSpec((2,), tf.float32))
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\).*element 1"):
        items(ds)

    def bad_structure():
        yield 1, 2, 3
    ds = Dataset.from_generator(bad_structure, output_signature=(
        tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.int32)))
    with pytest.raises(TypeError, match="element 0 that does not match the expected structure"):
        items(ds)

    def bad_type():
        yield "text"
    ds = Dataset.from_generator(bad_type, output_signature=tf.TensorSpec((), tf.float32))
    with pytest.raises(TypeError, match="float32"):
        items(ds)
    with pytest.raises(TypeError, match="output_signature"):
        Dataset.from_generator(bad_type)


# --- map / filter ------------------------------------------------------------------------

def test_map_unpacks_tuples_and_passes_dicts_whole():
    ds = Dataset.from_tensor_slices((np.arange(4), np.arange(4) * 10))
    assert [int(v) for v in items(ds.map(lambda a, b: a + b))] == [0, 11, 22, 33]
    d = Dataset.from_tensor_slices({"a": np.arange(3)})
    assert items(d.map(lambda e: e["a"] * 2)) == [0, 2, 4]
    # a list result becomes a tuple, as in tf.data
    out = items(Dataset.range(2).map(lambda x: [x, x + 1]))
    assert isinstance(out[0], tuple) and out[1] == (1, 2)
    # Python numbers are converted with TensorFlow's inference
    assert Dataset.range(2).map(lambda x: 1.5).element_spec == tf.TensorSpec([], tf.float32)


def test_map_receives_tensors_and_infers_spec():
    seen = []

    def f(x):
        seen.append(type(x))
        return tf.cast(tf.reshape(x, (-1,)), tf.float32) / 2
    ds = Dataset.from_tensor_slices(np.ones((5, 2, 3), np.int64)).map(f)
    assert ds.element_spec == tf.TensorSpec([6], tf.float32)
    assert all(t is tf.Tensor for t in seen)
    batched = Dataset.from_tensor_slices(np.ones((5, 3))).batch(2).map(lambda x: x * 2)
    assert batched.element_spec.shape.as_list() == [None, 3]


def test_map_after_batch_runs_once_per_batch():
    calls = []
    ds = Dataset.from_tensor_slices(np.arange(10)).batch(4).map(
        lambda x: calls.append(1) or x)
    calls.clear()
    out = items(ds)
    assert len(calls) == 3 and [len(b) for b in out] == [4, 4, 2]


def test_map_error_names_function_and_element():
    def explode(x):
        if int(x) == 3:
            raise KeyError("boom")
        return x
    with pytest.raises(KeyError) as info:
        items(Dataset.range(6).map(explode))
    text = str(info.value) + " ".join(getattr(info.value, "__notes__", []))
    assert "explode" in text and "element 3" in text


def test_filter_keeps_order_and_requires_scalar_bool():
    ds = Dataset.range(10).filter(lambda x: x % 3 == 0)
    assert items(ds) == [0, 3, 6, 9]
    assert ds.cardinality().numpy() == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(TypeError, match="scalar boolean"):
        items(Dataset.range(3).filter(lambda x: x))
    assert items(Dataset.range(5).filter(lambda x: True)) == [0, 1, 2, 3, 4]


# --- batching ----------------------------------------------------------------------------

def test_batch_shapes_remainder_and_spec(both_paths):
    x = np.arange(20).reshape(10, 2)

    def run():
        ds = Dataset.from_tensor_slices((x, np.arange(10))).batch(4)
        return [(a.shape, b.tolist()) for a, b in ds.as_numpy_iterator()]
    fast, slow = both_paths(run)
    assert fast == slow == [((4, 2), [0, 1, 2, 3]), ((4, 2), [4, 5, 6, 7]), ((2, 2), [8, 9])]
    ds = Dataset.from_tensor_slices(x).batch(4, drop_remainder=True)
    assert [b.shape for b in items(ds)] == [(4, 2), (4, 2)]
    assert ds.element_spec == tf.TensorSpec([4, 2], tf.int64)
    assert Dataset.from_tensor_slices(x).batch(4).element_spec == tf.TensorSpec([None, 2],
                                                                                tf.int64)
    assert len(Dataset.range(10).batch(4)) == 3 and len(ds) == 2
    with pytest.raises(InvalidArgumentError, match="greater than zero"):
        Dataset.range(3).batch(0)


def test_batch_rejects_different_shapes_and_points_at_padded_batch():
    ds = Dataset.range(1, 4).map(lambda n: tf.range(n))
    with pytest.raises(InvalidArgumentError, match="different shapes.*padded_batch"):
        items(ds.batch(3))


def test_padded_batch():
    ds = Dataset.range(1, 5).map(lambda n: tf.fill([n], n))
    out = items(ds.padded_batch(2))
    np.testing.assert_array_equal(out[0], [[1, 0], [2, 2]])
    np.testing.assert_array_equal(out[1], [[3, 3, 3, 0], [4, 4, 4, 4]])
    out = items(ds.padded_batch(2, padded_shapes=[5], padding_values=tf.constant(-1,
                                                                                  tf.int64)))
    np.testing.assert_array_equal(out[0], [[1, -1, -1, -1, -1], [2, 2, -1, -1, -1]])
    assert ds.padded_batch(2, padded_shapes=[5]).element_spec.shape.as_list() == [None, 5]
    with pytest.raises(InvalidArgumentError, match="smaller"):
        items(ds.padded_batch(2, padded_shapes=[3]))
    pairs = Dataset.range(1, 3).map(lambda n: (tf.fill([n], n), n))
    (a, b), = items(pairs.padded_batch(2, padded_shapes=([None], [])))
    np.testing.assert_array_equal(a, [[1, 0], [2, 2]])
    np.testing.assert_array_equal(b, [1, 2])


def test_unbatch_and_rebatch():
    ds = Dataset.from_tensor_slices(np.arange(10)).batch(3)
    assert items(ds.unbatch()) == list(range(10))
    assert [len(b) for b in items(ds.rebatch(4))] == [4, 4, 2]
    pairs = Dataset.from_tensors((np.arange(4), np.arange(4) * 2)).unbatch()
    assert items(pairs) == [(i, 2 * i) for i in range(4)]


# --- reordering, counting ------------------------------------------------------------------

def test_repeat_take_skip_shard_enumerate(both_paths):
    base = np.arange(7)

    def run():
        ds = Dataset.from_tensor_slices(base)
        return (items(ds.repeat(2)), items(ds.take(3)), items(ds.skip(5)),
                items(ds.shard(3, 1)), items(ds.take(-1)), items(ds.skip(-1)),
                items(ds.repeat().take(10)))
    fast, slow = both_paths(run)
    assert fast == slow
    rep, take, skip, shard, take_all, skip_all, inf = fast
    assert rep == list(range(7)) * 2 and take == [0, 1, 2] and skip == [5, 6]
    assert shard == [1, 4] and take_all == list(range(7)) and skip_all == []
    assert inf == list(range(7)) + [0, 1, 2]
    assert items(Dataset.range(3).enumerate(start=5)) == [(5, 0), (6, 1), (7, 2)]
    with pytest.raises(InvalidArgumentError):
        Dataset.range(3).shard(2, 2)


def test_cardinality_and_len():
    r = Dataset.range(10)
    assert r.cardinality().numpy() == 10 and len(r) == 10
    assert tf.data.experimental.cardinality(r.repeat()).numpy() == tf.data.INFINITE_CARDINALITY
    assert r.repeat().take(4).cardinality().numpy() == 4
    assert r.skip(3).cardinality().numpy() == 7 and r.shard(3, 0).cardinality().numpy() == 4
    assert r.repeat(3).cardinality().numpy() == 30
    assert r.batch(3, drop_remainder=True).cardinality().numpy() == 3
    assert r.concatenate(Dataset.range(2)).cardinality().numpy() == 12
    assert Dataset.zip((r, Dataset.range(4))).cardinality().numpy() == 4
    gen = Dataset.from_generator(lambda: iter([1]), output_signature=tf.TensorSpec((), tf.int32))
    assert gen.cardinality().numpy() == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(TypeError, match="infinite"):
        len(r.repeat())
    with pytest.raises(TypeError, match="unknown"):
        len(gen)
    assert tf.data.AUTOTUNE == -1 and tf.data.experimental.AUTOTUNE == -1


def test_zip_and_concatenate():
    a, b = Dataset.range(3), Dataset.range(10, 15)
    assert items(Dataset.zip((a, b))) == [(0, 10), (1, 11), (2, 12)]
    assert items(Dataset.zip(a, b)) == [(0, 10), (1, 11), (2, 12)]
    d = items(Dataset.zip({"x": a, "y": b}))
    assert d[1] == {"x": 1, "y": 11}
    assert items(a.concatenate(b)) == [0, 1, 2, 10, 11, 12, 13, 14]
    with pytest.raises(TypeError, match="incompatible"):
        a.concatenate(Dataset.from_tensor_slices(np.zeros(3, np.float32)))


def test_flat_map_interleave_window():
    ds = Dataset.range(1, 4).flat_map(lambda n: Dataset.from_tensors(n).repeat(n))
    assert items(ds) == [1, 2, 2, 3, 3, 3]
    # the example from tf.data's documentation of interleave
    inter = Dataset.range(1, 6).interleave(
        lambda x: Dataset.from_tensors(x).repeat(6), cycle_length=2, block_length=4)
    assert items(inter) == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
                            3, 3, 4, 4, 5, 5, 5, 5, 5, 5]
    windows = Dataset.range(7).window(3, shift=2, drop_remainder=False)
    assert [items(w) for w in windows] == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6]]
    strided = Dataset.range(7).window(3, shift=1, stride=2, drop_remainder=True)
    assert [items(w) for w in strided] == [[0, 2, 4], [1, 3, 5], [2, 4, 6]]
    pairs = Dataset.zip((Dataset.range(4), Dataset.range(4))).window(2)
    first = next(iter(pairs))
    assert isinstance(first, tuple) and items(first[1]) == [0, 1]
    batched = Dataset.range(5).window(2, drop_remainder=True).flat_map(lambda w: w.batch(2))
    assert [b.tolist() for b in items(batched)] == [[0, 1], [2, 3]]


def test_reduce_get_single_element_and_iterator_protocol():
    assert int(Dataset.range(5).reduce(np.int64(0), lambda s, x: s + x)) == 10
    assert int(Dataset.from_tensors(7).get_single_element()) == 7
    with pytest.raises(InvalidArgumentError):
        Dataset.range(2).get_single_element()
    it = iter(Dataset.range(2))
    assert int(it.get_next()) == 0 and int(next(it)) == 1
    with pytest.raises(OutOfRangeError):
        it.get_next()
    with pytest.raises(StopIteration):
        next(it)
    # iterating again starts over
    ds = Dataset.range(3)
    assert items(ds) == items(ds) == [0, 1, 2]


def test_options_and_apply():
    opts = tf.data.Options()
    opts.deterministic = False
    opts.experimental_distribute.auto_shard_policy = \
        tf.data.experimental.AutoShardPolicy.DATA
    ds = Dataset.range(4).with_options(opts)
    assert ds.options().deterministic is False
    assert ds.map(lambda x: x).options().experimental_deterministic is False
    assert items(ds.apply(lambda d: d.take(2))) == [0, 1]
    with pytest.raises(TypeError):
        Dataset.range(2).with_options({"deterministic": False})


def test_elements_with_namedtuples_and_nested_dicts():
    P = collections.namedtuple("P", "a b")
    ds = Dataset.from_tensor_slices(P(np.arange(3), {"c": np.ones(3), "d": np.zeros(3)}))
    e = next(iter(ds))
    assert isinstance(e, P) and set(e.b) == {"c", "d"}
    out = items(ds.batch(2))
    assert isinstance(out[0], P) and out[0].b["c"].shape == (2,)
    assert items(ds.map(lambda p: p.a)) == [0, 1, 2]


def test_list_files_text_lines_and_sampling(tmp_path):
    for name in ("b.txt", "a.txt", "c.csv"):
        (tmp_path / name).write_text(f"{name}-1\n{name}-2\n")
    files = Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False)
    assert [f.rsplit("/", 1)[-1] for f in items(files)] == ["a.txt", "b.txt"]
    assert sorted(items(Dataset.list_files(str(tmp_path / "*.txt"), seed=1))) == \
        sorted(items(files))
    lines = tf.data.TextLineDataset([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")])
    assert items(lines) == [b"a.txt-1", b"a.txt-2", b"b.txt-1", b"b.txt-2"]
    with pytest.raises(InvalidArgumentError, match="no files matched"):
        Dataset.list_files(str(tmp_path / "*.none"))
    mixed = Dataset.sample_from_datasets([Dataset.range(0, 5), Dataset.range(100, 105)],
                                         seed=3)
    got = items(mixed)
    assert sorted(got) == list(range(5)) + list(range(100, 105))
    assert [g for g in got if g < 100] == list(range(5))
    chosen = Dataset.choose_from_datasets([Dataset.range(3), Dataset.range(10, 13)],
                                          Dataset.from_tensor_slices(np.array([1, 0, 1, 0])))
    assert items(chosen) == [10, 0, 11, 1]


def test_scan_group_by_window_and_buckets():
    running = Dataset.range(5).scan(np.int64(0), lambda s, x: (s + x, s + x))
    assert items(running) == [0, 1, 3, 6, 10]
    grouped = Dataset.range(10).group_by_window(
        key_func=lambda x: x % 2, reduce_func=lambda k, w: w.batch(3), window_size=3)
    assert [b.tolist() for b in items(grouped)] == [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]
    lengths = [1, 5, 2, 6, 3, 1, 7]
    seqs = Dataset.from_generator(lambda: (np.arange(n) + 1 for n in lengths),
                                  output_signature=tf.TensorSpec([None], tf.int64))
    buckets = seqs.bucket_by_sequence_length(lambda s: tf.shape(s)[0], [4], [2, 2])
    shapes = [b.shape for b in items(buckets)]
    # short ones (< 4) batched together, long ones together; padded to the longest
    assert shapes == [(2, 2), (2, 6), (2, 3), (1, 7)]
    bounded = seqs.bucket_by_sequence_length(lambda s: tf.shape(s)[0], [4, 8], [2, 2, 2],
                                             pad_to_bucket_boundary=True)
    assert {b.shape[1] for b in items(bounded)} == {3, 7}
