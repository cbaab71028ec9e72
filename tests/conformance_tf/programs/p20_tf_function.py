"""tf.function on simple functions: values, retracing, variables, gradients inside."""

TOLERANCE = {"default": (1e-5, 1e-6)}


def program(tf, np):
    def simple():
        @tf.function
        def f(x, y):
            return tf.reduce_sum(x * y) + tf.reduce_max(x)
        a = tf.constant([1.0, 2.0, 3.0])
        return [f(a, a), f(a, 2.0), f(tf.ones([2, 2]), tf.ones([2, 2]))]

    def py_arg():
        @tf.function
        def f(x, n):
            for _ in range(n):
                x = x * 2
            return x
        return [f(tf.constant(1.5), 3), f(tf.constant(1.5), 1)]

    def variable_update():
        v = tf.Variable(1.0)

        @tf.function
        def step(d):
            v.assign_add(d)
            return v * 2
        r = [step(tf.constant(1.0)), step(tf.constant(2.5))]
        return {"r": r, "v": v}

    def training_step():
        w = tf.Variable([[0.5], [-0.5]])
        b = tf.Variable([0.1])
        x = tf.constant([[1.0, 2.0], [3.0, 4.0], [-1.0, 0.5]])
        y = tf.constant([[1.0], [2.0], [0.0]])

        @tf.function
        def step():
            with tf.GradientTape() as t:
                loss = tf.reduce_mean((tf.matmul(x, w) + b - y) ** 2)
            gw, gb = t.gradient(loss, [w, b])
            w.assign_sub(0.1 * gw)
            b.assign_sub(0.1 * gb)
            return loss
        losses = [step() for _ in range(5)]
        return {"losses": losses, "w": w, "b": b}

    def signature():
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def f(x):
            return tf.reduce_sum(x, axis=1) * tf.cast(tf.shape(x)[0], tf.float32)
        return [f(tf.ones([3, 2])), f(tf.ones([1, 2]))]

    def conditional():
        @tf.function
        def f(x):
            if tf.reduce_sum(x) > 0:
                return x * 2
            return -x
        return [f(tf.constant([1.0, 2.0])), f(tf.constant([-3.0, 1.0]))]

    def loop():
        @tf.function
        def f(n):
            s = tf.constant(0)
            i = tf.constant(0)
            while i < n:
                s += i * i
                i += 1
            return s
        return [f(tf.constant(5)), f(tf.constant(0))]

    def for_range():
        @tf.function
        def f(x):
            acc = tf.zeros_like(x)
            for i in tf.range(4):
                acc = acc + x * tf.cast(i, tf.float32)
            return acc
        return f(tf.constant([1.0, -1.0]))

    def nested_call():
        @tf.function
        def inner(x):
            return tf.nn.relu(x) + 1

        @tf.function
        def outer(x):
            return inner(x) * inner(-x)
        return outer(tf.constant([-1.0, 0.5, 2.0]))

    def grad_of_function():
        @tf.function
        def f(x):
            return tf.reduce_sum(tf.sin(x) * x)
        x = tf.Variable([0.5, 1.0])
        with tf.GradientTape() as t:
            y = f(x)
        return [y, t.gradient(y, x)]

    def structured():
        @tf.function
        def f(d):
            return {"s": d["a"] + d["b"], "p": (d["a"] * 2, d["b"] - 1)}
        r = f({"a": tf.constant([1, 2]), "b": tf.constant([3, 4])})
        return {"s": r["s"], "p0": r["p"][0], "p1": r["p"][1]}

    def shape_in_graph():
        @tf.function
        def f(x):
            return tf.reshape(x, [tf.shape(x)[0], -1])
        return f(tf.ones([2, 3, 2]))

    def data_in_function():
        ds = tf.data.Dataset.range(5).map(lambda v: v * 2)

        @tf.function
        def f():
            s = tf.constant(0, tf.int64)
            for e in ds:
                s += e
            return s
        return f()

    return {
        "simple": simple, "py_arg": py_arg, "variable_update": variable_update,
        "training_step": training_step, "signature": signature, "conditional": conditional,
        "loop": loop, "for_range": for_range, "nested_call": nested_call,
        "grad_of_function": grad_of_function, "structured": structured,
        "shape_in_graph": shape_in_graph, "data_in_function": data_in_function,
        "error_signature": lambda: tf.function(
            lambda x: x, input_signature=[tf.TensorSpec([None, 2], tf.float32)])(tf.ones([2, 3])),
    }
