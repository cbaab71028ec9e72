"""TFRecord files and tf.train.Example against TensorFlow-made fixtures
(tests/fixtures/tfrecord/make_fixtures.py, which also checked that TensorFlow reads the files
tenfold writes)."""
import gzip
import json
import pathlib
import shutil
import struct
import zlib

import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import DataLossError, InvalidArgumentError

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tfrecord"
FILES = {"": "examples.tfrecord", "GZIP": "examples.tfrecord.gz", "ZLIB": "examples.tfrecord.zz"}


def _expected():
    with np.load(FIX / "expected.npz", allow_pickle=False) as f:
        raw = {k: f[k] for k in f.files}
    out = {}
    for k in list(raw):
        if k.endswith("/bytes"):
            name = k[:-len("/bytes")]
            data, lengths = raw[k].tobytes(), raw[name + "/lengths"]
            ends = np.cumsum(lengths)
            out[name] = [data[e - n:e] for n, e in zip(lengths, ends)]
        elif not k.endswith("/lengths"):
            out[k] = raw[k]
    return out


EXP = _expected()


def _spec():
    return {
        "image": tf.io.FixedLenFeature([2, 3], tf.float32),
        "label": tf.io.FixedLenFeature([], tf.int64),
        "name": tf.io.FixedLenFeature([], tf.string),
        "tags": tf.io.VarLenFeature(tf.string),
        "scores": tf.io.VarLenFeature(tf.float32),
        "weight": tf.io.FixedLenFeature([1], tf.float32, default_value=[-1.0]),
    }


def _check_parsed(parsed):
    for k in ("image", "label", "weight"):
        np.testing.assert_array_equal(parsed[k].numpy(), EXP[k])
        assert parsed[k].numpy().dtype == EXP[k].dtype
    assert parsed["name"].numpy().tolist() == EXP["name"]
    for k in ("tags", "scores"):
        sp = parsed[k]
        assert isinstance(sp, tf.SparseTensor)
        np.testing.assert_array_equal(sp.indices.numpy(), EXP[f"{k}/indices"])
        np.testing.assert_array_equal(sp.dense_shape.numpy(), EXP[f"{k}/dense_shape"])
    np.testing.assert_array_equal(parsed["scores"].values.numpy(), EXP["scores/values"])
    assert parsed["tags"].values.numpy().tolist() == EXP["tags/values"]


@pytest.mark.parametrize("compression", sorted(FILES))
def test_reads_tensorflow_files(compression):
    ds = tf.data.TFRecordDataset(str(FIX / FILES[compression]), compression_type=compression)
    records = [r.numpy() for r in ds]
    assert records == EXP["serialized"]
    assert ds.element_spec.dtype == tf.string and ds.element_spec.shape == []
    _check_parsed(tf.io.parse_example(tf.constant(records), _spec()))


def test_raw_records_and_several_files():
    ds = tf.data.TFRecordDataset([str(FIX / "raw.tfrecord"), str(FIX / "raw.tfrecord")])
    assert list(ds.as_numpy_iterator()) == EXP["raw"] * 2
    assert list(tf.io.tf_record_iterator(str(FIX / "raw.tfrecord"))) == EXP["raw"]


@pytest.mark.parametrize("compression", sorted(FILES))
def test_writer_matches_tensorflow_bytes(tmp_path, compression):
    path = tmp_path / "out"
    with tf.io.TFRecordWriter(str(path), options=tf.io.TFRecordOptions(compression)) as w:
        for rec in EXP["serialized"]:
            w.write(rec)
    data = path.read_bytes()
    plain = {"": lambda b: b, "GZIP": gzip.decompress, "ZLIB": zlib.decompress}[compression]
    assert plain(data) == (FIX / "examples.tfrecord").read_bytes()
    assert list(tf.data.TFRecordDataset(str(path), compression).as_numpy_iterator()) == \
        EXP["serialized"]


def test_example_protos_serialize_like_tensorflow():
    rows = json.loads((FIX / "examples.json").read_text())
    for row, want in zip(rows, EXP["serialized"]):
        feats = {}
        for k, v in row.items():
            if k in ("image", "scores", "weight"):
                feats[k] = tf.train.Feature(float_list=tf.train.FloatList(value=v))
            elif k == "label":
                feats[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=v))
            else:
                feats[k] = tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[x.encode("latin-1") for x in v]))
        ex = tf.train.Example(features=tf.train.Features(feature=feats))
        assert ex.SerializeToString(deterministic=True) == want
        assert tf.train.Example.FromString(want) == ex


def test_parse_single_example_matches_batch():
    for i, rec in enumerate(EXP["serialized"]):
        one = tf.io.parse_single_example(tf.constant(rec), _spec())
        np.testing.assert_array_equal(one["image"].numpy(), EXP["image"][i])
        assert one["label"].shape == [] and int(one["label"]) == EXP["label"][i]
        rows = EXP["scores/indices"][:, 0] == i
        np.testing.assert_array_equal(one["scores"].values.numpy(), EXP["scores/values"][rows])
        np.testing.assert_array_equal(one["scores"].indices.numpy(),
                                      EXP["scores/indices"][rows][:, 1:])
        assert one["scores"].dense_shape.numpy().tolist() == [int(rows.sum())]


def test_parse_in_dataset_map_and_batch():
    ds = tf.data.TFRecordDataset(str(FIX / "examples.tfrecord")).map(
        lambda r: tf.io.parse_single_example(r, {"image": _spec()["image"],
                                                 "label": _spec()["label"]})).batch(5)
    batch = next(iter(ds))
    np.testing.assert_array_equal(batch["image"].numpy(), EXP["image"])
    np.testing.assert_array_equal(batch["label"].numpy(), EXP["label"])


def test_fixed_len_sequence_feature_pads():
    out = tf.io.parse_example(tf.constant(EXP["serialized"]), {
        "scores": tf.io.FixedLenSequenceFeature([], tf.float32, allow_missing=True,
                                                default_value=9.0)})
    dense = np.full([5, 4], 9.0, np.float32)
    for (b, j), v in zip(EXP["scores/indices"], EXP["scores/values"]):
        dense[b, j] = v
    np.testing.assert_array_equal(out["scores"].numpy(), dense)


def test_bad_crc_names_file_and_record(tmp_path):
    bad = tmp_path / "bad.tfrecord"
    data = bytearray((FIX / "raw.tfrecord").read_bytes())
    # the third record starts after records 0 ("first", 5 bytes) and 1 (empty): 16 + 5 + 16
    data[16 + 5 + 16 + 12 + 7] ^= 0xFF
    bad.write_bytes(bytes(data))
    ds = tf.data.TFRecordDataset(str(bad))
    with pytest.raises(DataLossError, match=r"bad\.tfrecord, record 2 .*CRC"):
        list(ds)


def test_truncated_and_compressed_misread(tmp_path):
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes((FIX / "raw.tfrecord").read_bytes()[:-3])
    with pytest.raises(DataLossError, match=r"cut\.tfrecord, record 3 .*truncated"):
        list(tf.data.TFRecordDataset(str(cut)))
    gz = tmp_path / "x.gz"
    shutil.copy(FIX / "examples.tfrecord.gz", gz)
    with pytest.raises(DataLossError, match="record 0 .*compression_type"):
        list(tf.data.TFRecordDataset(str(gz)))


def test_header_crc_is_checked(tmp_path):
    p = tmp_path / "h.tfrecord"
    data = bytearray((FIX / "raw.tfrecord").read_bytes())
    data[0:8] = struct.pack("<Q", 6)  # length changed, its CRC not
    p.write_bytes(bytes(data))
    with pytest.raises(DataLossError, match="record 0 .*length's CRC"):
        list(tf.data.TFRecordDataset(str(p)))


def test_parse_errors_are_clear():
    rec = EXP["serialized"][0]
    with pytest.raises(InvalidArgumentError, match="Key: label.*Data types don't match"):
        tf.io.parse_single_example(rec, {"label": tf.io.FixedLenFeature([], tf.float32)})
    with pytest.raises(InvalidArgumentError, match="Feature: weight .*required"):
        tf.io.parse_single_example(rec, {"weight": tf.io.FixedLenFeature([1], tf.float32)})
    with pytest.raises(InvalidArgumentError, match="Values size: 6 but output shape: \\[4\\]"):
        tf.io.parse_single_example(rec, {"image": tf.io.FixedLenFeature([4], tf.float32)})
    with pytest.raises(ValueError, match="tf.float32, tf.int64 or tf.string"):
        tf.io.FixedLenFeature([], tf.int32)
    with pytest.raises(InvalidArgumentError, match="not a serialized tf.train.Example"):
        tf.io.parse_single_example(b"\xff\xff\xff", {"a": tf.io.VarLenFeature(tf.int64)})
    with pytest.raises(InvalidArgumentError, match="compression_type"):
        tf.data.TFRecordDataset("x", compression_type="BZ2")


def test_missing_file(tmp_path):
    with pytest.raises(tf.errors.NotFoundError, match="nope"):
        list(tf.data.TFRecordDataset(str(tmp_path / "nope")))


def test_sparse_in_dataset_says_to_densify():
    spec = {"tags": tf.io.VarLenFeature(tf.string)}
    ds = tf.data.TFRecordDataset(str(FIX / "examples.tfrecord"))
    with pytest.raises(TypeError, match="SparseTensor.*tf.sparse.to_dense"):
        next(iter(ds.map(lambda r: tf.io.parse_single_example(r, spec))))
    dense = ds.map(lambda r: tf.sparse.to_dense(
        tf.io.parse_single_example(r, spec)["tags"], default_value=b""))
    assert [list(t) for t in dense.as_numpy_iterator()][:3] == [[], [b"t0"], [b"t0", b"t1"]]


@pytest.mark.parametrize("reads", [2, 3])
def test_num_parallel_reads_interleaves_like_tensorflow(reads):
    files = [str(FIX / f"p{i}.tfrecord") for i in range(4)]
    got = list(tf.data.TFRecordDataset(files, num_parallel_reads=reads).as_numpy_iterator())
    assert got == EXP[f"parallel_{reads}"]
    assert sorted(tf.data.TFRecordDataset(files).as_numpy_iterator()) == sorted(got)


def test_experimental_writer_round_trip(tmp_path):
    path = str(tmp_path / "d.tfrecord.gz")
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(EXP["serialized"]))
    tf.data.experimental.TFRecordWriter(path, "GZIP").write(ds)
    assert list(tf.data.TFRecordDataset(path, "GZIP").as_numpy_iterator()) == EXP["serialized"]
    with pytest.raises(TypeError, match="scalar strings"):
        tf.data.experimental.TFRecordWriter(path).write(tf.data.Dataset.range(3))
