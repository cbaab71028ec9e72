"""Special functions, segment ops, misc math and nan/inf handling."""

TOLERANCE = {"default": (1e-5, 1e-6)}


def program(tf, np):
    x = tf.constant([0.1, 0.5, 1.0, 2.5, 4.0])
    s = tf.constant([-2.0, -0.5, 0.0, 0.5, 2.0])
    data = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    seg = tf.constant([0, 0, 1, 3])
    return {
        "erf": lambda: tf.math.erf(s), "erfc": lambda: tf.math.erfc(s),
        "lgamma": lambda: tf.math.lgamma(x), "digamma": lambda: tf.math.digamma(x),
        "atan2": lambda: tf.math.atan2(s, x), "trig": lambda: tf.stack(
            [tf.sin(s), tf.cos(s), tf.tan(s), tf.math.asin(s / 2), tf.math.acos(s / 2),
             tf.math.atan(s), tf.math.sinh(s), tf.math.cosh(s), tf.math.asinh(s)]),
        "xlogy": lambda: tf.math.xlogy(tf.constant([0.0, 1.0, 2.0]), tf.constant([0.0, 2.0, 3.0])),
        "log_sigmoid": lambda: tf.math.log_sigmoid(s * 20),
        "is_nan_inf": lambda: tf.stack([tf.math.is_nan(tf.math.log(s)),
                                        tf.math.is_inf(tf.math.log(s)),
                                        tf.math.is_finite(tf.math.log(s))]),
        "log_neg": lambda: tf.math.log(s),
        "div_zero": lambda: s / 0.0,
        "int_div_zero_floor": lambda: tf.math.floordiv(tf.constant([3, -3]), tf.constant([2, 2])),
        "segment_sum": lambda: tf.math.segment_sum(data, seg),
        "segment_mean": lambda: tf.math.segment_mean(data, seg),
        "segment_max": lambda: tf.math.segment_max(data, seg),
        "unsorted_sum": lambda: tf.math.unsorted_segment_sum(data, [2, 0, 2, 1], 4),
        "unsorted_max": lambda: tf.math.unsorted_segment_max(data, [2, 0, 2, 1], 3),
        "bincount": lambda: tf.math.bincount(tf.constant([1, 1, 3, 0])),
        "polyval": lambda: tf.math.polyval([1.0, 2.0, 3.0], x),
        "reduce_euclid": lambda: tf.math.reduce_euclidean_norm(data, axis=1),
        "confusion": lambda: tf.math.confusion_matrix([0, 1, 2, 1], [0, 2, 2, 1]),
        "sort_nan": lambda: tf.sort(tf.constant([3.0, np.nan, 1.0])),
        "max_nan": lambda: tf.reduce_max(tf.constant([3.0, np.nan, 1.0])),
        "maximum_nan": lambda: tf.maximum(tf.constant([np.nan, 1.0]), tf.constant([0.0, np.nan])),
        "argmax_nan": lambda: tf.argmax(tf.constant([3.0, np.nan, 1.0])),
        "round_int": lambda: tf.round(tf.constant([1, 2])),
        "abs_int_min": lambda: tf.abs(tf.constant([-128], tf.int8)),
        "cast_overflow": lambda: tf.cast(tf.constant([300, -1]), tf.uint8),
        "cast_f_overflow": lambda: tf.cast(tf.constant([1e10]), tf.float16),
        "bool_arith_error": lambda: tf.cast(tf.constant([True, False]), tf.int32) * 3,
        "histogram": lambda: tf.histogram_fixed_width(tf.constant([0.0, 0.5, 1.0, 5.0]),
                                                      [0.0, 2.0], nbins=4),
        "accumulate_n": lambda: tf.math.accumulate_n([x, x]),
        "error_segment_unsorted": lambda: tf.math.segment_sum(data, [1, 0, 0, 0]),
    }
