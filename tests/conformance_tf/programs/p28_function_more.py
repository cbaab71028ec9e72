"""tf.function: tracing behaviour, Python side effects, Variables created once, signatures."""


def program(tf, np):
    def retrace_count():
        traces = []

        @tf.function
        def f(x):
            traces.append(1)
            return x + 1
        f(tf.constant(1.0))
        f(tf.constant(2.0))
        f(tf.constant([1.0, 2.0]))
        f(tf.constant(3))
        f(2)
        f(3)
        return len(traces)

    def reduce_retracing():
        traces = []

        @tf.function(reduce_retracing=True)
        def f(x):
            traces.append(1)
            return tf.reduce_sum(x)
        r = [f(tf.ones([n])) for n in (1, 2, 3, 4)]
        return {"r": r}

    def var_in_fn():
        class M(tf.Module):
            def __init__(self):
                super().__init__()
                self.v = None

            @tf.function
            def __call__(self, x):
                if self.v is None:
                    self.v = tf.Variable(tf.ones_like(x) * 2)
                return self.v * x
        m = M()
        return [m(tf.constant([1.0, 2.0])), m(tf.constant([3.0, 4.0])),
                len(m.trainable_variables)]

    def concrete():
        @tf.function
        def f(x):
            return x * 2
        cf = f.get_concrete_function(tf.TensorSpec([None], tf.float32))
        return [cf(tf.constant([1.0, 2.0])), cf.structured_outputs.shape.as_list()]

    def tensor_shape_static():
        shapes = []

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def f(x):
            shapes.append(x.shape.as_list())
            return tf.shape(x)
        out = f(tf.ones([4, 3]))
        return {"static": [-1 if d is None else d for d in shapes[0]], "dynamic": out}

    def numpy_in_fn_error():
        @tf.function
        def f(x):
            return x.numpy()
        return f(tf.constant(1.0))

    def python_list_append():
        @tf.function
        def f(x):
            outs = []
            for i in range(3):
                outs.append(x * i)
            return tf.stack(outs)
        return f(tf.constant([1.0, 2.0]))

    def tensor_array():
        @tf.function
        def f(n):
            ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
            for i in tf.range(n):
                ta = ta.write(i, tf.cast(i, tf.float32) ** 2)
            return ta.stack()
        return f(tf.constant(4))

    def map_fn():
        return tf.map_fn(lambda r: tf.reduce_sum(r) * 2, tf.constant([[1.0, 2.0], [3.0, 4.0]]))

    def vectorized_map():
        return tf.vectorized_map(lambda r: r * tf.reduce_max(r),
                                 tf.constant([[1.0, 2.0], [3.0, 4.0]]))

    def jit_compile():
        @tf.function(jit_compile=True)
        def f(x):
            return tf.nn.softmax(x) * 2
        return f(tf.constant([1.0, 2.0, 3.0]))

    def run_eagerly():
        tf.config.run_functions_eagerly(True)
        try:
            @tf.function
            def f(x):
                return x.numpy() * 2
            return f(tf.constant(3.0))
        finally:
            tf.config.run_functions_eagerly(False)

    return {
        "retrace_count": retrace_count, "reduce_retracing": reduce_retracing,
        "var_in_fn": var_in_fn, "concrete": concrete,
        "tensor_shape_static": tensor_shape_static,
        "error_numpy_in_fn": numpy_in_fn_error, "python_list_append": python_list_append,
        "tensor_array": tensor_array, "map_fn": map_fn, "vectorized_map": vectorized_map,
        "jit_compile": jit_compile, "run_eagerly": run_eagerly,
    }
