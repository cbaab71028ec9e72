"""Broadcasting arithmetic and result dtypes."""


def program(tf, np):
    c = tf.constant
    a = np.array([[1.0, -2.0, 3.5]], np.float32)
    b = np.array([[2.0], [-0.5]], np.float32)
    ia = np.array([7, -7, 9], np.int32)
    ib = np.array([2, 2, -4], np.int32)
    return {
        "add": lambda: c(a) + c(b),
        "sub": lambda: tf.subtract(c(a), c(b)),
        "mul_scalar": lambda: c(a) * 3,
        "rmul": lambda: 2.0 * c(a),
        "div": lambda: c(a) / c(b),
        "rdiv": lambda: 1.0 / c(b),
        "int_div": lambda: c(ia) / c(ib),
        "int64_div": lambda: c(ia.astype(np.int64)) / c(ib.astype(np.int64)),
        "int_floordiv": lambda: c(ia) // c(ib),
        "int_mod": lambda: c(ia) % c(ib),
        "float_floordiv": lambda: c([7.5, -7.5]) // c([2.0, 2.0]),
        "float_mod": lambda: tf.math.floormod(c([7.5, -7.5]), c([2.0, 2.0])),
        "truncatemod": lambda: tf.truncatemod(c([7.5, -7.5]), c([2.0, 2.0])),
        "pow_int": lambda: c([2, 3]) ** 2,
        "pow_float": lambda: tf.pow(c([2.0, 4.0]), 0.5),
        "neg": lambda: -c(ia),
        "abs": lambda: tf.abs(c(ia)),
        "sign": lambda: tf.sign(c([-2.0, 0.0, 3.0])),
        "sqrt": lambda: tf.sqrt(c([4.0, 2.0])),
        "square_int": lambda: tf.square(c(ia)),
        "exp_log": lambda: tf.math.log(tf.exp(c([0.5, 1.0]))),
        "log1p": lambda: tf.math.log1p(c([1e-6, 1.0])),
        "expm1": lambda: tf.math.expm1(c([1e-6, 1.0])),
        "rsqrt": lambda: tf.math.rsqrt(c([4.0, 0.25])),
        "softplus": lambda: tf.math.softplus(c([-30.0, 0.0, 30.0])),
        "maximum": lambda: tf.maximum(c(a), c(b)),
        "minimum_int": lambda: tf.minimum(c(ia), 0),
        "clip": lambda: tf.clip_by_value(c(a), -1.0, 2.0),
        "clip_int": lambda: tf.clip_by_value(c(ia), -1, 8),
        "round_half_even": lambda: tf.round(c([0.5, 1.5, 2.5, -0.5, -1.5])),
        "floor_ceil": lambda: tf.stack([tf.floor(c([-1.5, 1.5])), tf.math.ceil(c([-1.5, 1.5]))]),
        "cmp": lambda: tf.stack([c(a) < 2.0, c(a) >= 1.0, tf.equal(c(a), 1.0),
                                 tf.not_equal(c(a), 1.0)]),
        "logical": lambda: tf.stack([tf.logical_and(c([True, False]), c([True, True])),
                                     tf.logical_or(c([True, False]), c([False, False])),
                                     tf.logical_not(c([True, False]))]),
        "f64_plus_py": lambda: c([1.0], dtype=tf.float64) + 1,
        "i64_plus_py": lambda: c([1], dtype=tf.int64) + 2,
        "f16_mul": lambda: c([1.5], dtype=tf.float16) * 2.0,
        "np_plus_tensor": lambda: np.float32(2.0) + c([1.0]),
        "bcast_3d": lambda: c(np.ones((2, 1, 3), np.float32)) * c(np.arange(4, dtype=np.float32)
                                                                  .reshape(4, 1)),
        "broadcast_to": lambda: tf.broadcast_to(c([1, 2, 3]), [2, 3]),
        "add_n": lambda: tf.add_n([c([1.0, 2.0]), c([3.0, 4.0]), c([5.0, 6.0])]),
        "squared_difference": lambda: tf.math.squared_difference(c([1.0, 5.0]), c([3.0, 2.0])),
        "divide_no_nan": lambda: tf.math.divide_no_nan(c([1.0, 2.0]), c([0.0, 4.0])),
        "reciprocal": lambda: tf.math.reciprocal(c([2.0, 4.0])),
        "error_bcast": lambda: c(np.ones((2, 3))) + c(np.ones((4, 3))),
        "error_dtype_mix": lambda: c([1.0]) + c([1.0], dtype=tf.float64),
        "error_int_float_tensors": lambda: c([1]) * c([1.0]),
        "error_int32_int64": lambda: c([1]) + c([1], dtype=tf.int64),
    }
