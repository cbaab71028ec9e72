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
