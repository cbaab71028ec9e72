"""More tape behaviour: None targets, constants, integer targets, jacobian edge cases."""

TOLERANCE = {"default": (1e-5, 1e-6)}


def program(tf, np):
    def unwatched_constant():
        x = tf.constant(2.0)
        with tf.GradientTape() as t:
            y = x * x
        return {"none": t.gradient(y, x) is None}

    def list_targets_sum():
        x = tf.Variable([1.0, 2.0])
        with tf.GradientTape() as t:
            a = x * 2
            b = tf.reduce_sum(x ** 2)
        return t.gradient({"a": a, "b": b}, x)

    def jacobian_unconnected():
        x = tf.Variable([1.0, 2.0])
        u = tf.Variable([3.0])
        with tf.GradientTape(persistent=True) as t:
            y = x * 2
        return {"none": t.jacobian(y, u) is None,
                "zero": t.jacobian(y, u, unconnected_gradients="zero")}

    def jacobian_scalar_target():
        x = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        with tf.GradientTape() as t:
            y = tf.reduce_sum(x ** 2)
        return t.jacobian(y, x)

    def gradient_through_numpy_constant():
        x = tf.Variable(3.0)
        with tf.GradientTape() as t:
            y = x * np.float32(2.0) + np.array(1.0, np.float32)
        return t.gradient(y, x)

    def gradient_f64():
        x = tf.Variable(np.array([1.0, 2.0]))
        with tf.GradientTape() as t:
            y = tf.reduce_sum(tf.exp(x))
        g = t.gradient(y, x)
        return {"g": g, "dtype": g.dtype.name}

    def gradient_mixed_cast():
        x = tf.Variable([1.0, 2.0])
        with tf.GradientTape() as t:
            y = tf.reduce_sum(tf.cast(x, tf.float16) * tf.constant(3.0, tf.float16))
        g = t.gradient(y, x)
        return {"g": g, "dtype": g.dtype.name}

    def second_order_persistent_jac():
        x = tf.Variable([0.5, -0.3])
        with tf.GradientTape(persistent=True) as outer:
            with tf.GradientTape() as inner:
                y = tf.reduce_sum(tf.sigmoid(x) ** 2 * x[::-1])
            g = inner.gradient(y, x)
        return [g, outer.jacobian(g, x)]

    def watch_nested():
        a = tf.constant(1.0)
        b = tf.constant([2.0, 3.0])
        with tf.GradientTape() as t:
            t.watch({"a": a, "l": [b]})
            y = a * tf.reduce_sum(b)
        return t.gradient(y, [a, b])

    def tape_reuse_after_gradient_in_context():
        x = tf.Variable(2.0)
        with tf.GradientTape(persistent=True) as t:
            y = x * x
            g1 = t.gradient(y, x)
            z = y * x
        return [g1, t.gradient(z, x)]

    def var_trainable_toggle():
        v = tf.Variable(1.0)
        w = tf.Variable(2.0, trainable=False)
        with tf.GradientTape() as t:
            t.watch(w)
            y = v * w
        return t.gradient(y, [v, w])

    return {"unwatched_constant": unwatched_constant, "list_targets_sum": list_targets_sum,
            "jacobian_unconnected": jacobian_unconnected,
            "jacobian_scalar_target": jacobian_scalar_target,
            "gradient_through_numpy_constant": gradient_through_numpy_constant,
            "gradient_f64": gradient_f64, "gradient_mixed_cast": gradient_mixed_cast,
            "second_order_persistent_jac": second_order_persistent_jac,
            "watch_nested": watch_nested,
            "tape_reuse_in_context": tape_reuse_after_gradient_in_context,
            "var_trainable_toggle": var_trainable_toggle,
            "error_gradient_twice": lambda: _twice(tf),
            "error_watch_python": lambda: _watch_py(tf)}


def _twice(tf):
    x = tf.Variable(1.0)
    with tf.GradientTape() as t:
        y = x * 3
    t.gradient(y, x)
    return t.jacobian(y, x)


def _watch_py(tf):
    with tf.GradientTape() as t:
        t.watch(3.0)
    return 1
