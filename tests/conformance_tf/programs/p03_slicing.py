"""Indexing and slicing with [] and tf.slice/strided_slice."""


def program(tf, np):
    x = tf.constant(np.arange(60, dtype=np.float32).reshape(3, 4, 5))
    v = tf.constant(np.arange(10))
    return {
        "int": lambda: x[1],
        "neg_int": lambda: x[-1, -2],
        "scalar": lambda: x[0, 1, 2],
        "range": lambda: x[1:, :2],
        "step": lambda: v[::3],
        "neg_step": lambda: v[::-2],
        "neg_range": lambda: v[-4:-1],
        "rev_range": lambda: v[7:2:-2],
        "out_of_range_clip": lambda: v[5:100],
        "empty": lambda: v[5:2],
        "newaxis": lambda: x[:, tf.newaxis, 0],
        "none": lambda: v[None, :, None],
        "ellipsis": lambda: x[..., 1],
        "ellipsis_mid": lambda: x[0, ..., 2:4],
        "mixed": lambda: x[-1, ::2, tf.newaxis, ::-1],
        "tensor_index": lambda: v[tf.constant(3)],
        "slice": lambda: tf.slice(x, [1, 0, 2], [2, -1, 2]),
        "strided": lambda: tf.strided_slice(v, [1], [9], [3]),
        "reverse": lambda: tf.reverse(x[0], axis=[1]),
        "reverse_2": lambda: tf.reverse(x[0], axis=[0, 1]),
        "bool_in_shape": lambda: tf.shape(x[1:2, ..., tf.newaxis]),
        "variable_slice": lambda: tf.Variable(np.arange(6.0).reshape(2, 3))[:, 1],
        "error_index": lambda: v[10],
        "error_too_many": lambda: v[1, 2],
    }
