"""GradientTape features: persistent, nested, jacobians, custom_gradient, stop_gradient..."""

TOLERANCE = {"default": (1e-4, 1e-5)}


def program(tf, np):
    rng = np.random.RandomState(8)
    xv = rng.randn(3).astype(np.float32)
    W0 = rng.randn(3, 2).astype(np.float32)

    def persistent():
        x = tf.constant(xv)
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = x * x
            z = tf.reduce_sum(y * x)
        return [t.gradient(y, x), t.gradient(z, x), t.gradient(z, y)]

    def second():
        x = tf.Variable(xv)
        with tf.GradientTape() as t2:
            with tf.GradientTape() as t1:
                y = tf.reduce_sum(tf.sin(x) * x ** 3)
            g = t1.gradient(y, x)
        return [g, t2.gradient(g, x)]

    def hessian():
        x = tf.Variable(xv)
        with tf.GradientTape() as t2:
            with tf.GradientTape() as t1:
                y = tf.reduce_sum(tf.tanh(x) * tf.reduce_sum(x ** 2))
            g = t1.gradient(y, x)
        return t2.jacobian(g, x)

    def third():
        x = tf.constant(1.5)
        with tf.GradientTape() as t3:
            t3.watch(x)
            with tf.GradientTape() as t2:
                t2.watch(x)
                with tf.GradientTape() as t1:
                    t1.watch(x)
                    y = tf.exp(x) * x ** 4
                d1 = t1.gradient(y, x)
            d2 = t2.gradient(d1, x)
        return [d1, d2, t3.gradient(d2, x)]

    def jacobian():
        x = tf.Variable(xv)
        W = tf.constant(W0)
        with tf.GradientTape(persistent=True) as t:
            y = tf.nn.softmax(tf.linalg.matvec(W, x, transpose_a=True))
            z = tf.matmul(x[None], W)
        return [t.jacobian(y, x), t.jacobian(z, x), t.jacobian(z, W)]

    def batch_jacobian():
        x = tf.constant(rng.randn(4, 3).astype(np.float32))
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.tanh(tf.matmul(x, tf.constant(W0))) * tf.reduce_sum(x, 1, keepdims=True)
        return t.batch_jacobian(y, x)

    def custom():
        @tf.custom_gradient
        def clip_grad(x):
            def grad(dy):
                return tf.clip_by_value(dy, -0.1, 0.1)
            return tf.identity(x), grad

        @tf.custom_gradient
        def log1pexp(x):
            e = tf.exp(x)

            def grad(dy):
                return dy * (1 - 1 / (1 + e))
            return tf.math.log(1 + e), grad

        x = tf.constant(xv * 10)
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            a = tf.reduce_sum(clip_grad(x) * x)
            b = tf.reduce_sum(log1pexp(x))
        return [a, t.gradient(a, x), b, t.gradient(b, x)]

    def custom_with_var():
        v = tf.Variable(2.0)

        @tf.custom_gradient
        def scale(x):
            def grad(dy, variables=None):
                return dy * v, [tf.reduce_sum(dy * x) * 10.0]
            return x * v, grad

        x = tf.constant(xv)
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.reduce_sum(scale(x))
        return t.gradient(y, [x, v])

    def stop():
        x = tf.Variable(xv)
        with tf.GradientTape() as t:
            y = tf.reduce_sum(x * tf.stop_gradient(x) + tf.stop_gradient(x ** 2))
        return t.gradient(y, x)

    def unconnected():
        x = tf.Variable(xv)
        u = tf.Variable(1.0)
        with tf.GradientTape(persistent=True) as t:
            y = tf.reduce_sum(x * 2)
        return {"none": t.gradient(y, u),
                "zero": t.gradient(y, u, unconnected_gradients=tf.UnconnectedGradients.ZERO),
                "zero_str": t.gradient(y, [x, u], unconnected_gradients="zero")}

    def int_path():
        x = tf.Variable(xv)
        with tf.GradientTape() as t:
            y = tf.reduce_sum(tf.cast(tf.argmax(x), tf.float32) * x)
        return t.gradient(y, x)

    def output_gradients():
        x = tf.Variable(xv)
        with tf.GradientTape() as t:
            y = x ** 2
        return t.gradient(y, x, output_gradients=tf.constant([1.0, -2.0, 0.5]))

    def multi_target():
        x = tf.Variable(xv)
        with tf.GradientTape() as t:
            y1 = tf.reduce_sum(x ** 2)
            y2 = x * 3
        return t.gradient([y1, y2], x)

    def dict_sources():
        a = tf.Variable(1.0)
        b = tf.Variable([1.0, 2.0])
        with tf.GradientTape() as t:
            y = a * tf.reduce_sum(b ** 2)
        g = t.gradient(y, {"a": a, "b": b})
        return {"a": g["a"], "b": g["b"]}

    def no_auto_watch():
        a = tf.Variable(3.0)
        b = tf.Variable(4.0)
        with tf.GradientTape(watch_accessed_variables=False) as t:
            t.watch(a)
            y = a * b
        g = t.gradient(y, [a, b])
        return {"a": g[0], "b_is_none": g[1] is None, "watched": len(t.watched_variables())}

    def assign_in_tape():
        v = tf.Variable(2.0)
        w = tf.Variable(1.0)
        with tf.GradientTape() as t:
            v.assign_add(1.0)
            y = v * w
            w.assign(5.0)
            y = y + v * w
        g = t.gradient(y, [v, w])
        return {"g": g, "v": v, "w": w}

    def trainable_false():
        v = tf.Variable(2.0, trainable=False)
        with tf.GradientTape() as t:
            y = v * v
        return {"none": t.gradient(y, v) is None}

    def watched_order():
        a = tf.Variable(1.0, name="a")
        b = tf.Variable(2.0, name="b")
        with tf.GradientTape() as t:
            y = b * a + a
        return [v.numpy() for v in t.watched_variables()]

    def reset_stop():
        x = tf.Variable(3.0)
        with tf.GradientTape() as t:
            y = x * x
            with t.stop_recording():
                z = y * 5
            w = y + z
        return t.gradient(w, x)

    def int_source():
        x = tf.constant(3)
        with tf.GradientTape() as t:
            t.watch(x)
            y = x * x
        return {"none": t.gradient(y, x) is None}

    return {
        "persistent": persistent, "second": second, "hessian": hessian, "third": third,
        "jacobian": jacobian, "batch_jacobian": batch_jacobian, "custom": custom,
        "custom_with_var": custom_with_var, "stop": stop, "unconnected": unconnected,
        "int_path": int_path, "output_gradients": output_gradients,
        "multi_target": multi_target, "dict_sources": dict_sources,
        "no_auto_watch": no_auto_watch, "assign_in_tape": assign_in_tape,
        "trainable_false": trainable_false, "watched_order": watched_order,
        "stop_recording": reset_stop, "int_source": int_source,
    }
