"""tf.IndexedSlices as TensorFlow 2 makes and uses it: `tape.gradient` of a gather along axis 0
returns one (repeated ids kept), anything that consumes it makes it dense."""
import numpy as np
import pytest

import tenfold as tf


def _var():
    return tf.Variable(np.arange(12, dtype="float32").reshape(4, 3))


def test_gather_on_a_variable_gives_indexed_slices():
    v = _var()
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.gather(v, [[0, 2], [2, 2]]) * 2.0)
    g = tape.gradient(y, v)
    assert isinstance(g, tf.IndexedSlices)
    np.testing.assert_array_equal(g.indices.numpy(), [0, 2, 2, 2])
    assert g.values.shape == (4, 3) and g.dtype == tf.float32
    assert g.shape == tf.TensorShape([4, 3])
    dense = tf.convert_to_tensor(g)
    np.testing.assert_allclose(dense.numpy(), [[2] * 3, [0] * 3, [6] * 3, [0] * 3])
    np.testing.assert_allclose(np.asarray(g), dense.numpy())
    np.testing.assert_allclose(tf.reduce_sum(g).numpy(), 24.0)   # ops make it dense


def test_watched_constant_and_embedding_also_get_indexed_slices():
    c = tf.constant(np.ones((4, 3), "float32"))
    with tf.GradientTape() as tape:
        tape.watch(c)
        y = tf.reduce_sum(tf.gather(c, [1, 1]))
    assert isinstance(tape.gradient(y, c), tf.IndexedSlices)
    emb = tf.keras.layers.Embedding(5, 2)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(emb(np.array([[1, 1, 3]])))
    g = tape.gradient(y, emb.trainable_weights)[0]
    assert isinstance(g, tf.IndexedSlices)
    np.testing.assert_array_equal(g.indices.numpy(), [1, 1, 3])


@pytest.mark.parametrize("build,kind", [
    (lambda v: tf.reduce_sum(tf.gather(v, [0, 2])) + tf.reduce_sum(v), "dense"),   # mixed
    (lambda v: tf.reduce_sum(tf.gather(v * 1.0, [0, 2])), "dense"),  # through another op
    (lambda v: tf.reduce_sum(tf.gather(v, [0, 2], axis=1)), "dense"),  # not axis 0
    (lambda v: tf.reduce_sum(tf.gather(v, [1])) + tf.reduce_sum(tf.gather(v, [3, 1])),
     "sparse"),
])
def test_when_tensorflow_gives_sparse_or_dense(build, kind):
    v = _var()
    with tf.GradientTape() as tape:
        y = build(v)
    g = tape.gradient(y, v)
    assert isinstance(g, tf.IndexedSlices) == (kind == "sparse")
    # made dense, it is the gradient: central differences agree
    dense = tf.convert_to_tensor(g).numpy()
    eps = 1e-2
    base = v.numpy().astype("float64")
    num = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        for sign in (1, -1):
            b = base.copy()
            b[idx] += sign * eps
            num[idx] += sign * float(build(tf.constant(b.astype("float32"))).numpy())
    np.testing.assert_allclose(dense, num / (2 * eps), rtol=1e-3, atol=1e-3)
    if kind == "sparse":
        np.testing.assert_array_equal(g.indices.numpy(), [1, 3, 1])   # TensorFlow's order


def test_indexed_slices_constructed_by_hand():
    s = tf.IndexedSlices(values=[[1.0, 2.0], [3.0, 4.0]], indices=[2, 2], dense_shape=[3, 2])
    np.testing.assert_allclose(tf.convert_to_tensor(s).numpy(), [[0, 0], [0, 0], [4, 6]])
    np.testing.assert_allclose((-s).values.numpy(), [[-1, -2], [-3, -4]])
    with pytest.raises(TypeError, match="indices must be int32 or int64"):
        tf.IndexedSlices([[1.0]], [0.5], [1, 1])
    with pytest.raises(ValueError, match="needs dense_shape"):
        tf.IndexedSlices([[1.0]], [0]).to_dense()


def test_gradient_inside_tf_function_is_indexed_slices():
    v = _var()

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.gather(v, [3, 3]))
        g = tape.gradient(y, v)
        return g.values, g.indices

    values, indices = step()
    np.testing.assert_array_equal(indices.numpy(), [3, 3])
    np.testing.assert_allclose(values.numpy(), np.ones((2, 3)))


def test_reads_through_cast_and_identity_stay_sparse_as_in_tensorflow():
    from tenfold import keras
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        emb = keras.layers.Embedding(10, 4)
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.cast(emb(np.array([[1, 1, 3]])), "float32"))
        g = tape.gradient(y, emb.trainable_weights)[0]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(g, tf.IndexedSlices) and g.dtype == tf.float32
    np.testing.assert_array_equal(g.indices.numpy(), [1, 1, 3])
    v = _var()
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.gather(tf.identity(v), [0, 0]))
    g = tape.gradient(y, v)
    assert isinstance(g, tf.IndexedSlices)
    np.testing.assert_allclose(tf.convert_to_tensor(g).numpy()[0], [2.0, 2.0, 2.0])
