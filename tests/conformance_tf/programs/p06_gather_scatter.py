"""gather / gather_nd / scatter_nd / boolean_mask / where."""


def program(tf, np):
    x = tf.constant(np.arange(24, dtype=np.float32).reshape(4, 3, 2))
    return {
        "gather": lambda: tf.gather(x, [3, 0, 0]),
        "gather_axis1": lambda: tf.gather(x, [2, 1], axis=1),
        "gather_2d_idx": lambda: tf.gather(x, [[0, 1], [2, 3]]),
        "gather_neg_axis": lambda: tf.gather(x, [1], axis=-1),
        "gather_batch_dims": lambda: tf.gather(x, [[0, 2], [1, 1], [2, 0], [0, 0]], axis=1,
                                               batch_dims=1),
        "gather_nd": lambda: tf.gather_nd(x, [[0, 1], [3, 2]]),
        "gather_nd_full": lambda: tf.gather_nd(x, [[0, 1, 1], [3, 2, 0]]),
        "gather_nd_batch": lambda: tf.gather_nd(x, [[1], [0], [2], [0]], batch_dims=1),
        "scatter_nd": lambda: tf.scatter_nd([[1], [3]], tf.constant([[1.0, 2.0], [3.0, 4.0]]),
                                            [5, 2]),
        "scatter_nd_dup": lambda: tf.scatter_nd([[1], [1], [0]], tf.constant([1, 2, 3]), [3]),
        "scatter_nd_2d": lambda: tf.scatter_nd([[0, 1], [2, 2]], tf.constant([5.0, 6.0]), [3, 3]),
        "tensor_scatter_update": lambda: tf.tensor_scatter_nd_update(
            tf.zeros([4]), [[1], [3]], [9.0, 8.0]),
        "tensor_scatter_add": lambda: tf.tensor_scatter_nd_add(
            tf.ones([2, 2]), [[0, 0], [0, 0]], [1.0, 2.0]),
        "boolean_mask": lambda: tf.boolean_mask(x[:, 0, 0], x[:, 0, 0] > 5),
        "boolean_mask_2d": lambda: tf.boolean_mask(x, [True, False, True, False]),
        "boolean_mask_axis": lambda: tf.boolean_mask(x, [True, False, True], axis=1),
        "where_index": lambda: tf.where(x[:, :, 0] > 7),
        "where_select": lambda: tf.where(x > 10, x, -x),
        "where_bcast": lambda: tf.where(tf.constant([[True], [False], [True], [False]]), 1.0,
                                        x[:, :, 0]),
        "where_1d_cond": lambda: tf.where(tf.constant([True, False, True]),
                                          tf.constant([1, 2, 3]), tf.constant([10, 20, 30])),
        "error_gather_oob": lambda: tf.gather(x, [4]),
        "error_scatter_shape": lambda: tf.scatter_nd([[1]], tf.constant([1.0, 2.0]), [3]),
        "error_mask_shape": lambda: tf.boolean_mask(x, [True, False]),
        "error_where_shapes": lambda: tf.where(tf.constant([True, False]), tf.ones([3]),
                                               tf.zeros([3])),
    }
