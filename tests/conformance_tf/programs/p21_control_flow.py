"""tf.cond / tf.while_loop eagerly and inside tf.function, with gradients."""

TOLERANCE = {"default": (1e-5, 1e-6)}


def program(tf, np):
    def cond_eager():
        x = tf.constant(3.0)
        return [tf.cond(x > 2, lambda: x * 2, lambda: x - 1),
                tf.cond(x < 2, lambda: x * 2, lambda: x - 1)]

    def cond_fn():
        @tf.function
        def f(x):
            return tf.cond(tf.reduce_mean(x) > 0, lambda: tf.square(x), lambda: tf.abs(x) * 3)
        return [f(tf.constant([1.0, 2.0])), f(tf.constant([-1.0, -2.0]))]

    def cond_grad():
        x = tf.Variable(2.0)
        with tf.GradientTape() as t:
            y = tf.cond(x > 1.0, lambda: x ** 3, lambda: x)
        return t.gradient(y, x)

    def cond_tuple():
        a, b = tf.cond(tf.constant(True), lambda: (tf.constant(1), tf.constant(2.0)),
                       lambda: (tf.constant(3), tf.constant(4.0)))
        return [a, b]

    def while_eager():
        i, s = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + i),
                             (tf.constant(0), tf.constant(0)))
        return [i, s]

    def while_fn():
        @tf.function
        def f(n):
            return tf.while_loop(lambda i, acc: i < n,
                                 lambda i, acc: (i + 1, acc * 1.5),
                                 [tf.constant(0), tf.constant(1.0)])[1]
        return [f(tf.constant(3)), f(tf.constant(6))]

    def while_grad():
        x = tf.Variable(1.2)
        with tf.GradientTape() as t:
            _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x),
                                 (tf.constant(0), tf.constant(1.0)))
        return [y, t.gradient(y, x)]

    def while_fn_grad():
        x = tf.Variable(1.2)

        @tf.function
        def f():
            with tf.GradientTape() as t:
                _, y = tf.while_loop(lambda i, y: i < 4, lambda i, y: (i + 1, y * x + 1.0),
                                     (tf.constant(0), tf.constant(1.0)))
            return y, t.gradient(y, x)
        return list(f())

    def while_max_iter():
        return [tf.while_loop(lambda i: i < 100, lambda i: (i + 1,), (tf.constant(0),),
                              maximum_iterations=9)]

    def while_shape_inv():
        @tf.function
        def f():
            return tf.while_loop(lambda i, a: i < 3,
                                 lambda i, a: (i + 1, tf.concat([a, [tf.cast(i, tf.float32)]],
                                                                0)),
                                 [tf.constant(0), tf.zeros([0])],
                                 shape_invariants=[tf.TensorShape([]),
                                                   tf.TensorShape([None])])[1]
        return f()

    def case_switch():
        x = tf.constant(1)
        return tf.switch_case(x, [lambda: tf.constant(10), lambda: tf.constant(20),
                                  lambda: tf.constant(30)])

    return {
        "cond_eager": cond_eager, "cond_fn": cond_fn, "cond_grad": cond_grad,
        "cond_tuple": cond_tuple, "while_eager": while_eager, "while_fn": while_fn,
        "while_grad": while_grad, "while_fn_grad": while_fn_grad,
        "while_max_iter": while_max_iter, "while_shape_inv": while_shape_inv,
        "case_switch": case_switch,
        "error_cond_structure": lambda: tf.function(lambda p: tf.cond(
            p, lambda: (tf.constant(1), tf.constant(2)), lambda: tf.constant(1)))(
                tf.constant(True)),
    }
