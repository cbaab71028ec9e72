"""tf.io.serialize_tensor / parse_tensor and the image codecs against TensorFlow-made
fixtures (tests/fixtures/tf_io/make_fixtures.py)."""
import pathlib

import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import InvalidArgumentError

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tf_io"


def _serialized():
    with np.load(FIX / "serialized.npz", allow_pickle=False) as f:
        raw = {k: f[k] for k in f.files}
    cases = {}
    for key in raw:
        name, part = key.split("/")
        cases.setdefault(name, {})[part] = raw[key]
    for c in cases.values():
        if "lengths" in c:
            data, ends = c["value"].tobytes(), np.cumsum(c["lengths"])
            c["value"] = np.array([data[e - n:e] for n, e in zip(c["lengths"], ends)],
                                  dtype=object)
    return cases


CASES = _serialized()


@pytest.mark.parametrize("name", sorted(CASES))
def test_serialize_tensor_matches_tensorflow(name):
    case = CASES[name]
    value, tf_bytes = case["value"], case["bytes"].tobytes()
    t = tf.constant(value)
    assert tf.io.serialize_tensor(t).numpy() == tf_bytes
    back = tf.io.parse_tensor(tf_bytes, t.dtype)
    assert back.shape == list(value.shape) and back.dtype == t.dtype
    if value.dtype == object:
        assert back.numpy().tolist() == value.tolist()
    else:
        np.testing.assert_array_equal(back.numpy(), value)


def test_parse_tensor_type_mismatch():
    data = CASES["f32"]["bytes"].tobytes()
    with pytest.raises(InvalidArgumentError, match="Type mismatch.*float.*int32"):
        tf.io.parse_tensor(data, tf.int32)


def test_png_and_jpeg_decode_like_tensorflow():
    with np.load(FIX / "decoded.npz") as f:
        want = {k: f[k] for k in f.files}
    png = tf.io.read_file(str(FIX / "image.png"))
    jpg = tf.io.read_file(str(FIX / "image.jpg"))
    np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), want["png"])
    np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), want["source"])
    np.testing.assert_allclose(tf.io.decode_image(png, dtype=tf.float32).numpy(),
                               want["image_float"], atol=1e-7)
    # JPEG: Pillow's libjpeg decodes with the accurate integer DCT, TensorFlow by default
    # with the fast one: the pixels agree to a few levels (measured: max 3, mean < 1)
    got = tf.io.decode_jpeg(jpg).numpy().astype(int)
    assert got.shape == want["jpeg"].shape
    assert np.abs(got - want["jpeg"]).max() <= 4
    assert np.abs(got - want["jpeg"]).mean() < 1.0
    gray = tf.io.decode_jpeg(jpg, channels=1).numpy().astype(int)
    assert gray.shape == want["jpeg_gray"].shape
    assert np.abs(gray - want["jpeg_gray"]).max() <= 4
    # our PNG encoder writes what TensorFlow decodes to the same pixels (lossless)
    np.testing.assert_array_equal(tf.io.decode_png(tf.io.encode_png(want["source"])).numpy(),
                                  want["source"])


def _codecs():
    with np.load(FIX / "codecs.npz") as f:
        return {k: f[k] for k in f.files}


CODECS = _codecs()


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "int64", "float16"])
@pytest.mark.parametrize("order", ["le", "be"])
def test_decode_raw_matches_tensorflow(dtype, order):
    raw = [bytes(row) for row in CODECS["raw_input"]]
    got = tf.io.decode_raw(tf.constant(raw), getattr(tf, dtype), little_endian=order == "le")
    want = CODECS[f"raw_{dtype}_{order}"]
    assert got.dtype.name == dtype and got.shape == list(want.shape)
    np.testing.assert_array_equal(got.numpy().view(np.uint8), want.view(np.uint8))


def test_decode_raw_fixed_length_and_errors():
    got = tf.io.decode_raw(tf.constant([b"\x01\x02\x03", b"\x04"]), tf.uint8, fixed_length=2)
    np.testing.assert_array_equal(got.numpy(), CODECS["raw_fixed"])
    with pytest.raises(InvalidArgumentError, match="same size.*element 1 has size 1 != 3"):
        tf.io.decode_raw(tf.constant([b"abc", b"d"]), tf.uint8)
    with pytest.raises(InvalidArgumentError, match="length 3 that is not a multiple of 4"):
        tf.io.decode_raw(b"abc", tf.float32)


@pytest.mark.parametrize("pad", [False, True])
def test_base64_matches_tensorflow(pad):
    inputs = [b"", b"a", b"ab", b"abc", b"\xfb\xff\xfe", bytes(range(40))]
    data, lengths = CODECS[f"b64_pad_{pad}/bytes"].tobytes(), CODECS[f"b64_pad_{pad}/lengths"]
    ends = np.cumsum(lengths)
    want = [data[e - n:e] for n, e in zip(lengths, ends)]
    got = tf.io.encode_base64(tf.constant(inputs), pad=pad).numpy().tolist()
    assert got == want
    assert tf.io.decode_base64(tf.constant(want)).numpy().tolist() == inputs


def test_decode_compressed_and_matching_files(tmp_path):
    import gzip
    import zlib
    payload = b"tenfold " * 10
    assert tf.io.decode_compressed(zlib.compress(payload), "ZLIB").numpy() == payload
    assert tf.io.decode_compressed(tf.constant([gzip.compress(payload)]),
                                   "GZIP").numpy().tolist() == [payload]
    with pytest.raises(InvalidArgumentError, match="damaged"):
        tf.io.decode_compressed(b"not zlib", "ZLIB")
    for n in ("b.txt", "a.txt", "c.csv"):
        (tmp_path / n).write_text("x")
    got = tf.io.matching_files(str(tmp_path / "*.txt")).numpy().tolist()
    assert got == [str(tmp_path / "a.txt").encode(), str(tmp_path / "b.txt").encode()]
