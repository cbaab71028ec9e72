"""concat / stack / split / unstack / tile / pad / reshape / transpose / squeeze."""


def program(tf, np):
    a = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    b = tf.constant(np.arange(6, 12, dtype=np.float32).reshape(2, 3))
    x = tf.constant(np.arange(24).reshape(2, 3, 4))
    pads = [[1, 2], [2, 1]]
    return {
        "concat0": lambda: tf.concat([a, b], 0),
        "concat_neg": lambda: tf.concat([a, b], axis=-1),
        "concat_one": lambda: tf.concat([a], 0),
        "stack": lambda: tf.stack([a, b]),
        "stack_axis": lambda: tf.stack([a, b], axis=-1),
        "stack_scalars": lambda: tf.stack([1.0, 2.0, 3.0]),
        "split_n": lambda: tf.split(x, 2, axis=0)[1],
        "split_sizes": lambda: [t.shape.as_list() for t in tf.split(x, [1, -1, 2], axis=2)],
        "split_sizes_val": lambda: tf.split(x, [1, 1, 2], axis=2)[2],
        "unstack": lambda: tf.unstack(x, axis=1)[2],
        "unstack_len": lambda: len(tf.unstack(x)),
        "tile": lambda: tf.tile(a, [2, 3]),
        "tile_1d": lambda: tf.tile(tf.constant([1, 2]), [3]),
        "pad_const": lambda: tf.pad(a, pads),
        "pad_value": lambda: tf.pad(a, pads, constant_values=-1.0),
        "pad_reflect": lambda: tf.pad(a, [[1, 1], [2, 2]], mode="REFLECT"),
        "pad_symmetric": lambda: tf.pad(a, [[1, 1], [3, 2]], mode="SYMMETRIC"),
        "pad_lower": lambda: tf.pad(a, [[0, 1], [1, 0]], mode="reflect"),
        "reshape": lambda: tf.reshape(x, [4, -1]),
        "reshape_scalar": lambda: tf.reshape(tf.constant([5]), []),
        "transpose": lambda: tf.transpose(x),
        "transpose_perm": lambda: tf.transpose(x, [1, 0, 2]),
        "expand": lambda: tf.expand_dims(a, -1).shape.as_list(),
        "expand0": lambda: tf.expand_dims(a, 0),
        "squeeze": lambda: tf.squeeze(tf.zeros([1, 2, 1, 3])).shape.as_list(),
        "squeeze_axis": lambda: tf.squeeze(tf.zeros([1, 2, 1, 3]), axis=[2]).shape.as_list(),
        "repeat": lambda: tf.repeat(a, 2, axis=1),
        "repeat_list": lambda: tf.repeat(tf.constant([1, 2, 3]), [1, 0, 2]),
        "roll": lambda: tf.roll(a, shift=1, axis=1),
        "meshgrid": lambda: tf.meshgrid(tf.range(3), tf.range(2))[0],
        "error_concat": lambda: tf.concat([a, tf.zeros([3, 2])], 0),
        "error_stack": lambda: tf.stack([a, tf.zeros([3, 2])]),
        "error_split": lambda: tf.split(x, 3, axis=2),
        "error_reshape": lambda: tf.reshape(x, [5, -1]),
        "error_squeeze": lambda: tf.squeeze(a, axis=0),
        "error_pad_reflect": lambda: tf.pad(a, [[2, 2], [0, 0]], mode="REFLECT"),
        "error_transpose": lambda: tf.transpose(x, [0, 1]),
        "error_tile": lambda: tf.tile(a, [2]),
    }
