"""Bad inputs: both frameworks must raise (tenfold: ValueError/TypeError/InvalidArgumentError
with a message naming shapes or dtypes)."""


def program(tf, np):
    c = tf.constant
    a23 = tf.ones([2, 3])
    return {
        "error_add_shapes": lambda: tf.add(a23, tf.ones([3, 2])),
        "error_matmul_inner": lambda: tf.matmul(a23, a23),
        "error_matmul_batch": lambda: tf.matmul(tf.ones([2, 2, 3]), tf.ones([3, 3, 4])),
        "error_reshape_size": lambda: tf.reshape(a23, [4, 2]),
        "error_reshape_two_unknown": lambda: tf.reshape(a23, [-1, -1]),
        "error_concat_rank": lambda: tf.concat([a23, tf.ones([2])], 0),
        "error_concat_dtype": lambda: tf.concat([a23, tf.ones([2, 3], tf.int32)], 0),
        "error_gather_index_oob": lambda: tf.gather(c([1, 2, 3]), [5]),
        "error_gather_float_idx": lambda: tf.gather(c([1, 2, 3]), c([0.0])),
        "error_one_hot_depth": lambda: tf.one_hot([0], -2),
        "error_reduce_axis": lambda: tf.reduce_sum(a23, axis=2),
        "error_transpose_perm": lambda: tf.transpose(a23, [0, 0]),
        "error_expand_dims_axis": lambda: tf.expand_dims(a23, 4),
        "error_squeeze_not_one": lambda: tf.squeeze(a23, axis=1),
        "error_cast_string": lambda: tf.cast(c(["a"]), tf.float32),
        "error_sqrt_int": lambda: tf.sqrt(c([4])),
        "error_exp_int": lambda: tf.exp(c([1])),
        "error_log_int": lambda: tf.math.log(c([1])),
        "error_softmax_int": lambda: tf.nn.softmax(c([1, 2])),
        "error_sigmoid_int": lambda: tf.sigmoid(c([1, 2])),
        "error_slice_size": lambda: tf.slice(a23, [0, 0], [3, 1]),
        "error_broadcast_to": lambda: tf.broadcast_to(a23, [3, 3]),
        "error_tile_len": lambda: tf.tile(a23, [1, 2, 3]),
        "error_split_uneven": lambda: tf.split(tf.ones([5]), 2),
        "error_split_sizes": lambda: tf.split(tf.ones([5]), [2, 2]),
        "error_stack_empty_dtype": lambda: tf.stack([c(1), c(1.0)]),
        "error_where_xy_dtype": lambda: tf.where(c([True]), c([1]), c([1.0])),
        "error_eye_neg": lambda: tf.eye(-1),
        "error_range_zero_delta": lambda: tf.range(0, 5, 0),
        "error_fill_dims": lambda: tf.fill([-1, 2], 0.0),
        "error_zeros_neg": lambda: tf.zeros([-2]),
        "error_variable_none": lambda: tf.Variable(None),
        "error_gradient_non_tensor": lambda: _grad_bad(tf),
        "error_tape_twice": lambda: _tape_twice(tf),
        "error_pad_len": lambda: tf.pad(a23, [[1, 1]]),
        "error_pad_mode": lambda: tf.pad(a23, [[1, 1], [1, 1]], mode="EDGE"),
        "error_boolean_mask_rank": lambda: tf.boolean_mask(tf.ones([2]), [[True, False]]),
        "error_cross_ent_dtype": lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=c([0.0]), logits=c([[1.0, 2.0]])),
        "error_conv_filter_rank": lambda: tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1]),
                                                       1, "SAME"),
        "error_pool_ksize": lambda: tf.nn.max_pool2d(tf.ones([1, 4, 4, 1]), 2, 1, "SOME"),
        "error_top_k_neg": lambda: tf.math.top_k(c([1.0, 2.0]), k=-1),
        "error_argmax_axis": lambda: tf.argmax(a23, axis=5),
        "error_einsum_operands": lambda: tf.einsum("ij,jk->ik", a23),
        "error_linalg_inv_int": lambda: tf.linalg.inv(c([[1, 0], [0, 1]])),
        "error_dataset_batch_zero": lambda: list(tf.data.Dataset.range(3).batch(0)),
    }


def _grad_bad(tf):
    with tf.GradientTape() as t:
        y = tf.constant(1.0)
    return t.gradient(y, [1.0])


def _tape_twice(tf):
    x = tf.Variable(1.0)
    with tf.GradientTape() as t:
        y = x * x
    t.gradient(y, x)
    return t.gradient(y, x)
