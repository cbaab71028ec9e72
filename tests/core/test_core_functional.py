"""Higher-order ops, tf.print, Python functions as ops, TensorArray, Module, clipping,
images, strings, sparse, io, tf.test and context helpers."""
import numpy as np
import pytest

import tenfold as tf
from tenfold.testing import gradient_check


def test_map_fn_and_vectorized_map():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = tf.map_fn(lambda r: tf.reduce_sum(r * r), x)
    np.testing.assert_allclose(out.numpy(), [5.0, 25.0, 61.0])
    pair = tf.map_fn(lambda t: (t[0] * 2, t[1] + 1), (x, tf.constant([1, 2, 3])))
    np.testing.assert_allclose(pair[0].numpy(), x.numpy() * 2)
    np.testing.assert_array_equal(pair[1].numpy(), [2, 3, 4])
    np.testing.assert_allclose(tf.vectorized_map(lambda r: r[::-1], x).numpy(),
                               x.numpy()[:, ::-1])
    empty = tf.map_fn(lambda r: r * 2, tf.zeros([0, 2]))
    assert empty.shape == (0, 2)
    gradient_check(lambda t: tf.map_fn(lambda r: tf.tanh(r) * r, t), [np.random.rand(3, 2)])


def test_scan_and_folds():
    x = tf.constant([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(tf.scan(lambda a, v: a + v, x).numpy(), np.cumsum(x.numpy()))
    np.testing.assert_allclose(tf.scan(lambda a, v: a * v, x, initializer=tf.constant(2.0))
                               .numpy(), 2 * np.cumprod(x.numpy()))
    np.testing.assert_allclose(tf.scan(lambda a, v: a + v, x, reverse=True).numpy(),
                               np.cumsum(x.numpy()[::-1])[::-1])
    assert float(tf.foldl(lambda a, v: a - v, x)) == 1 - 2 - 3 - 4
    assert float(tf.foldr(lambda a, v: a - v, x)) == 4 - 3 - 2 - 1
    assert float(tf.foldl(lambda a, v: a + v, x, initializer=10.0)) == 20.0


def test_print(capsys):
    tf.print("loss:", tf.constant(0.5), [1, 2], tf.constant([[1, 2], [3, 4]]))
    tf.print(tf.range(10))
    tf.print("to stdout", output_stream=__import__("sys").stdout, sep="|", end="!\n")
    err = capsys.readouterr()
    assert err.err.splitlines()[0] == "loss: 0.5 [1, 2] [[1 2]"
    assert "[0 1 2 ... 7 8 9]" in err.err
    assert err.out == "to stdout!\n"


def test_python_functions_as_ops():
    x = tf.constant([1.0, 2.0])
    y = tf.numpy_function(lambda a: (a * 10).astype(np.float32), [x], tf.float32)
    np.testing.assert_allclose(y.numpy(), [10.0, 20.0])
    a, b = tf.numpy_function(lambda a: (a + 1, a.astype(np.int64)), [x], [tf.float32, tf.int64])
    assert a.dtype == tf.float32 and b.dtype == tf.int64
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = tf.py_function(lambda t: t * t, [x], tf.float32)
    np.testing.assert_allclose(tape.gradient(z, x).numpy(), [2.0, 4.0])


def test_tensor_array():
    ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    for i in range(3):
        ta = ta.write(i, tf.fill([2], float(i)))
    np.testing.assert_array_equal(ta.stack().numpy(), [[0, 0], [1, 1], [2, 2]])
    assert int(ta.size()) == 3
    np.testing.assert_array_equal(ta.read(1).numpy(), [1, 1])
    fixed = tf.TensorArray(tf.int32, size=2)
    with pytest.raises(tf.errors.InvalidArgumentError):
        fixed.write(2, 1)
    u = tf.TensorArray(tf.float32, size=3).unstack(tf.constant([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(u.gather([2, 0]).numpy(), [3.0, 1.0])


def test_module():
    class Dense(tf.Module):
        def __init__(self, n_in, n_out, name=None):
            super().__init__(name=name)
            self.w = tf.Variable(tf.ones([n_in, n_out]), name="w")
            self.b = tf.Variable(tf.zeros([n_out]), name="b", trainable=False)

        def __call__(self, x):
            return tf.matmul(x, self.w) + self.b

    class MLP(tf.Module):
        def __init__(self):
            super().__init__()
            self.layers = [Dense(2, 3), Dense(3, 1)]

    m = MLP()
    assert m.name == "mlp"
    assert len(m.variables) == 4 and len(m.trainable_variables) == 2
    assert len(m.submodules) == 2
    with pytest.raises(ValueError):
        tf.Module(name="not valid!")


def test_clipping_matches_numpy():
    a, b = np.random.rand(3, 2).astype(np.float32), np.random.rand(4).astype(np.float32)
    clipped, norm = tf.clip_by_global_norm([tf.constant(a), None, tf.constant(b)], 0.5)
    g = np.sqrt((a ** 2).sum() + (b ** 2).sum())
    assert float(norm) == pytest.approx(g, rel=1e-6)
    np.testing.assert_allclose(clipped[0].numpy(), a * 0.5 / max(g, 0.5), rtol=1e-6)
    assert clipped[1] is None
    with pytest.raises(TypeError):
        tf.clip_by_global_norm(tf.constant(a), 1.0)
    np.testing.assert_allclose(tf.clip_by_norm(tf.constant(a), 0.1, axes=[1]).numpy(),
                               a * 0.1 / np.maximum(np.linalg.norm(a, axis=1, keepdims=True),
                                                    0.1), rtol=1e-6)


def test_context_helpers():
    assert tf.executing_eagerly()
    with tf.name_scope("block") as scope:
        assert scope == "block/"
        with tf.name_scope("inner") as s2:
            assert s2 == "block/inner/"
    with tf.init_scope():
        assert tf.executing_eagerly()
    with tf.control_dependencies([tf.no_op()]):
        pass
    np.testing.assert_array_equal(tf.get_static_value(tf.constant([1, 2])), [1, 2])
    assert tf.timestamp().dtype == tf.float64


def test_images_misc():
    img = tf.constant(np.random.rand(4, 6, 3).astype(np.float32))
    np.testing.assert_allclose(tf.image.flip_up_down(img).numpy(), img.numpy()[::-1])
    np.testing.assert_allclose(tf.image.rot90(img).numpy(), np.rot90(img.numpy()))
    assert tf.image.central_crop(img, 0.5).shape == (2, 4, 3)  # TensorFlow rounds the offset
    assert tf.image.resize_with_crop_or_pad(img, 6, 4).shape == (6, 4, 3)
    gray = tf.image.rgb_to_grayscale(img)
    np.testing.assert_allclose(gray.numpy()[..., 0], img.numpy() @ [0.2989, 0.587, 0.114],
                               rtol=1e-5)
    u8 = tf.image.convert_image_dtype(img, tf.uint8)
    assert u8.dtype == tf.uint8
    np.testing.assert_allclose(tf.image.convert_image_dtype(u8, tf.float32).numpy(),
                               img.numpy(), atol=1 / 255)
    big = tf.image.resize(img, [8, 12], antialias=True)
    assert big.shape == (8, 12, 3)
    small = tf.image.resize(tf.ones([8, 8, 1]), [2, 2], antialias=True)
    np.testing.assert_allclose(small.numpy(), 1.0, rtol=1e-6)
    flipped = tf.image.random_flip_left_right(img, seed=1)
    assert flipped.shape == img.shape


def test_strings_sparse_io(tmp_path):
    s = tf.constant(["Hello", "World"])
    np.testing.assert_array_equal(tf.strings.lower(s).numpy(), [b"hello", b"world"])
    np.testing.assert_array_equal(tf.strings.length(s).numpy(), [5, 5])
    assert tf.strings.reduce_join(s, separator=" ").numpy() == b"Hello World"
    np.testing.assert_allclose(tf.strings.to_number(tf.constant(["1.5", "2"])).numpy(),
                               [1.5, 2.0])
    sp = tf.sparse.SparseTensor([[0, 1], [2, 0]], [3.0, 4.0], [3, 2])
    np.testing.assert_array_equal(tf.sparse.to_dense(sp).numpy(), [[0, 3], [0, 0], [4, 0]])
    back = tf.sparse.from_dense(tf.sparse.to_dense(sp))
    np.testing.assert_array_equal(back.indices.numpy(), [[0, 1], [2, 0]])
    path = str(tmp_path / "f.bin")
    tf.io.write_file(path, tf.constant(b"abc"))
    assert tf.io.read_file(path).numpy() == b"abc"
    assert tf.io.gfile.exists(path)
    t = tf.constant([[1.5, 2.0]])
    np.testing.assert_array_equal(tf.io.parse_tensor(tf.io.serialize_tensor(t), tf.float32)
                                  .numpy(), t.numpy())
    with pytest.raises(tf.errors.NotFoundError):
        tf.io.read_file(str(tmp_path / "missing"))


class _Case(tf.test.TestCase):
    def runTest(self):  # noqa: N802
        self.assertAllClose(tf.constant([1.0, 2.0]), [1.0, 2.0 + 1e-8])
        self.assertAllEqual(tf.constant([1, 2]), np.array([1, 2]))
        with self.assertRaises(AssertionError):
            self.assertAllEqual(tf.constant([1, 2]), [1, 3])


def test_tf_test_case():
    r = _Case().run()
    assert r.wasSuccessful(), r.failures + r.errors


def test_segment_and_histogram_helpers():
    v = tf.constant([0.0, 0.1, 0.5, 0.9, 1.0, -1.0, 2.0])
    np.testing.assert_array_equal(tf.histogram_fixed_width(v, [0.0, 1.0], nbins=2).numpy(),
                                  [3, 4])
    cm = tf.math.confusion_matrix([0, 1, 2, 1], [0, 2, 2, 1], num_classes=3)
    np.testing.assert_array_equal(cm.numpy(), [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(tf.math.bincount(tf.constant([1, 1, 2]),
                                                   weights=tf.constant([0.5, 1.0, 2.0]))
                                  .numpy(), [0, 1.5, 2])
