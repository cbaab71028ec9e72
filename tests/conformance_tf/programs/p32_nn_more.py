"""More tf.nn / tf.math corner cases with losses, int reductions and dtypes."""

# float16: TensorFlow rounds log_softmax at each step, tenfold once (both within 3 ulps)
TOLERANCE = {"default": (1e-5, 1e-6), "log_softmax_f16": (2e-3, 1e-3),
             "softmax_ce_f16": (2e-3, 1e-3)}


def program(tf, np):
    logits = tf.constant([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3]])
    return {
        "reduce_mean_uint8": lambda: tf.reduce_mean(tf.constant([250, 10], tf.uint8)),
        "reduce_sum_uint8": lambda: tf.reduce_sum(tf.constant([250, 10], tf.uint8)),
        "reduce_sum_bool_cast": lambda: tf.reduce_sum(tf.cast(tf.constant([True, True]),
                                                              tf.int32)),
        "reduce_prod_int": lambda: tf.reduce_prod(tf.constant([[2, 3], [4, 5]]), axis=0),
        "softmax_f64": lambda: tf.nn.softmax(tf.cast(logits, tf.float64)),
        "log_softmax_f16": lambda: tf.nn.log_softmax(tf.cast(logits, tf.float16)),
        "sparse_ce_f64": lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(
            [0, 2], tf.cast(logits, tf.float64)),
        "softmax_ce_f16": lambda: tf.nn.softmax_cross_entropy_with_logits(
            tf.one_hot([0, 2], 3, dtype=tf.float16), tf.cast(logits, tf.float16)),
        "sigmoid_ce_extreme": lambda: tf.nn.sigmoid_cross_entropy_with_logits(
            tf.constant([1.0, 0.0, 1.0]), tf.constant([-100.0, 100.0, 0.0])),
        "moments_int_error_like": lambda: tf.nn.moments(tf.constant([[1.0, 2.0], [3.0, 5.0]]),
                                                        axes=[1]),
        "relu_int": lambda: tf.nn.relu(tf.constant([-2, 3])),
        "relu6_int": lambda: tf.nn.relu6(tf.constant([-2, 3, 9])),
        "leaky_relu_int_err": lambda: tf.nn.leaky_relu(tf.constant([-2.0, 3.0]), alpha=2.0),
        "l2_loss_f64": lambda: tf.nn.l2_loss(tf.constant([1.0, 2.0], tf.float64)),
        "log_poisson": lambda: tf.nn.log_poisson_loss(tf.constant([1.0, 2.0]),
                                                      tf.constant([0.5, 0.1])),
        "compute_average_loss": lambda: tf.nn.compute_average_loss(tf.constant([1.0, 2.0, 6.0])),
        "scale_reg": lambda: tf.nn.scale_regularization_loss(tf.constant(3.0)),
        "zero_fraction": lambda: tf.math.zero_fraction(tf.constant([0.0, 1.0, 0.0, 2.0])),
        "softmax_empty_axis": lambda: tf.nn.softmax(tf.zeros([2, 0])),
        "error_sparse_ce_oob": lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(
            [0, 3], logits),
        "error_variance_int": lambda: tf.math.reduce_variance(tf.constant([1, 2])),
        "error_softmax_ce_dtype": lambda: tf.nn.softmax_cross_entropy_with_logits(
            tf.constant([[1, 0, 0]]), logits[:1]),
    }
