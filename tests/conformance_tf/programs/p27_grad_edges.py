"""Gradients at ties and boundaries: where frameworks differ by convention."""

TOLERANCE = {"default": (1e-5, 1e-6)}


def program(tf, np):
    def g(f, *vals):
        xs = [tf.Variable(v) for v in vals]
        with tf.GradientTape() as t:
            y = f(*xs)
        return t.gradient(y, xs, unconnected_gradients="zero")

    z = [0.0, 1.0, -1.0, 2.0, 0.0]
    return {
        "relu_at_0": lambda: g(lambda x: tf.reduce_sum(tf.nn.relu(x)), z),
        "relu6_at_6": lambda: g(lambda x: tf.reduce_sum(tf.nn.relu6(x * 3)), z),
        "leaky_at_0": lambda: g(lambda x: tf.reduce_sum(tf.nn.leaky_relu(x)), z),
        "elu_at_0": lambda: g(lambda x: tf.reduce_sum(tf.nn.elu(x)), z),
        "abs_at_0": lambda: g(lambda x: tf.reduce_sum(tf.abs(x)), z),
        "sign_grad": lambda: g(lambda x: tf.reduce_sum(tf.sign(x) * x), z),
        "sqrt_at_0": lambda: g(lambda x: tf.reduce_sum(tf.sqrt(tf.abs(x))), z),
        "pow_base_0": lambda: g(lambda x, p: tf.reduce_sum(tf.pow(x, p)), [0.0, 2.0],
                                [2.0, 0.5]),
        "pow_0_0": lambda: g(lambda x, p: tf.reduce_sum(tf.pow(x, p)), [0.0], [0.0]),
        "square_pow_int": lambda: g(lambda x: tf.reduce_sum(x ** 3), z),
        "max_ties": lambda: g(lambda x: tf.reduce_max(x), [1.0, 3.0, 3.0, 2.0]),
        "min_ties_axis": lambda: g(lambda x: tf.reduce_sum(tf.reduce_min(x, axis=1)),
                                   [[1.0, 1.0], [2.0, 0.0]]),
        "maximum_ties": lambda: g(lambda x, y: tf.reduce_sum(tf.maximum(x, y)),
                                  [1.0, 2.0, 3.0], [1.0, 1.0, 4.0]),
        "minimum_ties": lambda: g(lambda x, y: tf.reduce_sum(tf.minimum(x, y)),
                                  [1.0, 2.0, 3.0], [1.0, 1.0, 4.0]),
        "clip_at_bounds": lambda: g(lambda x: tf.reduce_sum(tf.clip_by_value(x, -1.0, 1.0)), z),
        "clip_tensor_bounds": lambda: g(lambda x, lo: tf.reduce_sum(tf.clip_by_value(x, lo, 1.5)),
                                        [0.0, 2.0, -3.0], [0.5, 0.5, -1.0]),
        "norm_at_0": lambda: g(lambda x: tf.norm(x), [0.0, 0.0]),
        "where_nan": lambda: g(lambda x: tf.reduce_sum(tf.where(x > 0, tf.math.log(x), 0.0)), z),
        "max_pool_ties": lambda: g(lambda x: tf.reduce_sum(tf.nn.max_pool2d(x, 2, 2, "VALID")),
                                   np.ones((1, 2, 4, 1), np.float32)),
        "sort_ties": lambda: g(lambda x: tf.reduce_sum(tf.sort(x) * [1.0, 2.0, 3.0, 4.0]),
                               [2.0, 1.0, 2.0, 0.0]),
        "top_k_ties": lambda: g(lambda x: tf.reduce_sum(tf.math.top_k(x, 2).values * [1.0, 5.0]),
                                [2.0, 1.0, 2.0, 0.0]),
        "softmax_ce_labels": lambda: g(lambda lab, lg: tf.reduce_sum(
            tf.nn.softmax_cross_entropy_with_logits(lab, lg)), [[0.2, 0.8]], [[1.0, -1.0]]),
        "sigmoid_ce_labels": lambda: g(lambda lab, lg: tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(lab, lg)), [0.2, 0.8], [1.0, -1.0]),
        "floor_round_zero": lambda: g(lambda x: tf.reduce_sum(tf.floor(x) + tf.round(x) +
                                                              tf.math.ceil(x)), z),
        "mod_grad": lambda: g(lambda x, y: tf.reduce_sum(tf.math.floormod(x, y)),
                              [5.0, -5.0], [3.0, 3.0]),
        "floordiv_grad": lambda: g(lambda x, y: tf.reduce_sum(x // y), [5.0, -5.0], [3.0, 3.0]),
        "atan2_grad": lambda: g(lambda x, y: tf.reduce_sum(tf.math.atan2(x, y)), [1.0, -1.0],
                                [2.0, 0.5]),
        "div_no_nan_grad": lambda: g(lambda x, y: tf.reduce_sum(tf.math.divide_no_nan(x, y)),
                                     [1.0, 2.0], [0.0, 4.0]),
        "logsumexp_inf": lambda: g(lambda x: tf.reduce_logsumexp(x), [0.0, -np.inf, 1.0]),
        "segment_grad": lambda: g(lambda x: tf.reduce_sum(tf.math.segment_max(x, [0, 0, 1]) *
                                                          [1.0, 2.0]), [1.0, 1.0, 3.0]),
        "unsorted_segment_grad": lambda: g(lambda x: tf.reduce_sum(
            tf.math.unsorted_segment_mean(x, [1, 0, 1], 2) * [3.0, 5.0]), [1.0, 2.0, 3.0]),
        "cumprod_zero": lambda: g(lambda x: tf.reduce_sum(tf.math.cumprod(x)), [2.0, 0.0, 3.0]),
        "prod_zero": lambda: g(lambda x: tf.reduce_prod(x), [2.0, 0.0, 3.0]),
        "prod_two_zeros": lambda: g(lambda x: tf.reduce_prod(x), [2.0, 0.0, 0.0]),
        "std_const": lambda: g(lambda x: tf.math.reduce_std(x), [1.0, 1.0, 1.0]),
        "l2norm_zero": lambda: g(lambda x: tf.reduce_sum(tf.math.l2_normalize(x)), [0.0, 0.0]),
        "gelu_exact": lambda: g(lambda x: tf.reduce_sum(tf.nn.gelu(x)), z),
        "softplus_big": lambda: g(lambda x: tf.reduce_sum(tf.nn.softplus(x)), [-100.0, 100.0]),
        "sigmoid_big": lambda: g(lambda x: tf.reduce_sum(tf.sigmoid(x)), [-100.0, 100.0]),
        "log_sigmoid_big": lambda: g(lambda x: tf.reduce_sum(tf.math.log_sigmoid(x)),
                                     [-100.0, 100.0]),
        "erf_grad": lambda: g(lambda x: tf.reduce_sum(tf.math.erf(x)), z),
        "xlogy_zero": lambda: g(lambda x, y: tf.reduce_sum(tf.math.xlogy(x, y)), [0.0, 1.0],
                                [0.0, 2.0]),
    }
