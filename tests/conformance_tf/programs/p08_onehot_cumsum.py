"""one_hot with on/off values, cumsum / cumprod exclusive / reverse."""


def program(tf, np):
    idx = tf.constant([0, 2, -1, 5])
    x = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    return {
        "one_hot": lambda: tf.one_hot(idx, 4),
        "one_hot_on_off": lambda: tf.one_hot(idx, 3, on_value=5.0, off_value=-1.0),
        "one_hot_int": lambda: tf.one_hot(idx, 3, on_value=1, off_value=0),
        "one_hot_dtype": lambda: tf.one_hot(idx, 3, dtype=tf.int64),
        "one_hot_axis0": lambda: tf.one_hot([1, 0], 3, axis=0),
        "one_hot_2d": lambda: tf.one_hot([[0, 1], [2, 0]], 3),
        "cumsum": lambda: tf.cumsum(x, axis=1),
        "cumsum0": lambda: tf.cumsum(x),
        "cumsum_excl": lambda: tf.cumsum(x, axis=1, exclusive=True),
        "cumsum_rev": lambda: tf.cumsum(x, axis=1, reverse=True),
        "cumsum_both": lambda: tf.math.cumsum(x, axis=-1, exclusive=True, reverse=True),
        "cumsum_int": lambda: tf.cumsum(tf.constant([1, 2, 3])),
        "cumprod": lambda: tf.math.cumprod(x, axis=1),
        "cumprod_excl_rev": lambda: tf.math.cumprod(x, axis=1, exclusive=True, reverse=True),
        "cumlse": lambda: tf.math.cumulative_logsumexp(x, axis=1),
        "error_one_hot_float": lambda: tf.one_hot(tf.constant([1.0]), 3),
    }
