"""GradientTape on elementwise, reductions, broadcasting."""

TOLERANCE = {"default": (1e-4, 1e-5)}


def program(tf, np):
    rng = np.random.RandomState(7)
    x = tf.Variable(rng.randn(3, 4).astype(np.float32))
    b = tf.Variable(rng.randn(4).astype(np.float32))
    c = tf.constant(rng.rand(3, 4).astype(np.float32) + 0.5)

    def grads(f, srcs):
        with tf.GradientTape() as t:
            y = f()
        return t.gradient(y, srcs)

    return {
        "bcast_add": lambda: grads(lambda: tf.reduce_sum((x + b) ** 2), [x, b]),
        "mul_div": lambda: grads(lambda: tf.reduce_sum(x * b / c), [x, b]),
        "exp_log": lambda: grads(lambda: tf.reduce_mean(tf.exp(x) + tf.math.log(c * b ** 2)),
                                 [x, b]),
        "sqrt_pow": lambda: grads(lambda: tf.reduce_sum(tf.sqrt(c * x ** 2 + 1.0) +
                                                        tf.pow(c, b)), [x, b]),
        "max_reduce": lambda: grads(lambda: tf.reduce_max(x, axis=1), [x]),
        "min_reduce": lambda: grads(lambda: tf.reduce_min(x), [x]),
        "maximum": lambda: grads(lambda: tf.reduce_sum(tf.maximum(x, b)), [x, b]),
        "abs_sign": lambda: grads(lambda: tf.reduce_sum(tf.abs(x) * tf.sign(b)), [x, b]),
        "tanh_sigmoid": lambda: grads(lambda: tf.reduce_sum(tf.tanh(x) * tf.sigmoid(b)), [x, b]),
        "relu_family": lambda: grads(lambda: tf.reduce_sum(tf.nn.relu(x) + tf.nn.elu(x) +
                                                           tf.nn.selu(x) + tf.nn.gelu(x) +
                                                           tf.nn.leaky_relu(x, 0.2) +
                                                           tf.nn.relu6(3 * x) +
                                                           tf.nn.softplus(x) + tf.nn.silu(x)),
                                     [x]),
        "prod": lambda: grads(lambda: tf.reduce_prod(b), [b]),
        "logsumexp": lambda: grads(lambda: tf.reduce_logsumexp(x, axis=0), [x]),
        "std_var": lambda: grads(lambda: tf.math.reduce_std(x) + tf.math.reduce_variance(b),
                                 [x, b]),
        "norm": lambda: grads(lambda: tf.norm(x) + tf.norm(b, ord=1), [x, b]),
        "clip": lambda: grads(lambda: tf.reduce_sum(tf.clip_by_value(x, -0.5, 0.5)), [x]),
        "where": lambda: grads(lambda: tf.reduce_sum(tf.where(x > 0, x * 2, x * b)), [x, b]),
        "square_diff": lambda: grads(lambda: tf.reduce_sum(tf.math.squared_difference(x, b)),
                                     [x, b]),
        "softmax": lambda: grads(lambda: tf.reduce_sum(tf.nn.softmax(x) * c), [x]),
        "log_softmax": lambda: grads(lambda: tf.reduce_sum(tf.nn.log_softmax(x) * c), [x]),
        "cumsum": lambda: grads(lambda: tf.reduce_sum(tf.cumsum(x, axis=1, exclusive=True) * c),
                                [x]),
        "cumprod": lambda: grads(lambda: tf.reduce_sum(tf.math.cumprod(b)), [b]),
        "divide_no_nan": lambda: grads(lambda: tf.reduce_sum(
            tf.math.divide_no_nan(b, tf.constant([0.0, 1.0, 2.0, 0.0]))), [b]),
        "constant_source": lambda: grads(lambda: tf.reduce_sum(c * 3.0), [c]),
        "l2_loss": lambda: grads(lambda: tf.nn.l2_loss(x), [x]),
        "int_cast": lambda: grads(lambda: tf.reduce_sum(tf.cast(tf.cast(x, tf.int32),
                                                                tf.float32) * b), [x, b]),
        "f64_cast": lambda: grads(lambda: tf.reduce_sum(tf.cast(x, tf.float64) ** 2), [x]),
    }
