"""TensorFlow-level training (TF guide "Basic training loops" / "Introduction to gradients"):
Variables, GradientTape (persistent, watch, nested for second derivatives), custom_gradient,
tf.data pipelines, tf.function with Python control flow, tf.nn losses."""
from _common import attempt, rng


def program(tf, keras, np):
    r = rng(77)
    res = {}
    # linear regression with plain variables
    TRUE_W, TRUE_B = 3.0, 2.0
    x = tf.constant(r.randn(200).astype("float32"))
    noise = tf.constant(r.randn(200).astype("float32"))
    y = x * TRUE_W + TRUE_B + noise
    w = tf.Variable(5.0)
    b = tf.Variable(0.0)
    losses = []
    for epoch in range(10):
        with tf.GradientTape() as t:
            current_loss = tf.reduce_mean(tf.square(y - (w * x + b)))
        dw, db = t.gradient(current_loss, [w, b])
        w.assign_sub(0.1 * dw)
        b.assign_sub(0.1 * db)
        losses.append(float(current_loss))
    res["linreg/losses"] = np.array(losses)
    res["linreg/wb"] = np.array([w.numpy(), b.numpy()])

    # gradients: persistent tape, watch constants, second derivative, stop_gradient
    x0 = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as g:
        g.watch(x0)
        y0 = x0 * x0
        z0 = y0 * y0
    res["grad/dz_dx"] = g.gradient(z0, x0)
    res["grad/dy_dx"] = g.gradient(y0, x0)
    del g
    v = tf.Variable(1.5)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            yv = v ** 3
        dy = inner.gradient(yv, v)
    res["grad/second"] = outer.gradient(dy, v)
    with tf.GradientTape() as g:
        yv = v * tf.stop_gradient(v) + tf.sin(v) if hasattr(tf, "sin") else v * tf.stop_gradient(v)
    res["grad/stop"] = g.gradient(yv, v)
    wm = tf.Variable(r.randn(3, 2).astype("float32"))
    xm = tf.constant(r.randn(4, 3).astype("float32"))
    with tf.GradientTape() as g:
        out = tf.nn.softmax(tf.matmul(xm, wm))
        l = tf.reduce_sum(out * tf.constant([[1.0, 2.0]]))
    res["grad/matmul_softmax"] = g.gradient(l, wm)
    with tf.GradientTape() as g:
        l = tf.reduce_sum(tf.gather(wm, [0, 0, 2]) ** 2)
    res["grad/gather"] = tf.convert_to_tensor(g.gradient(l, wm))
    with tf.GradientTape() as g:
        g.watch(xm)
        l = tf.reduce_max(xm, axis=1)
    res["grad/unconnected_none"] = g.gradient(l, wm) is None

    @tf.custom_gradient
    def clip_gradient(x):
        def grad(upstream):
            return tf.clip_by_value(upstream, -0.5, 0.5)
        return tf.identity(x), grad

    xt = tf.constant([1.0, 2.0])
    with tf.GradientTape() as g:
        g.watch(xt)
        yc = tf.reduce_sum(clip_gradient(xt) * tf.constant([3.0, 0.1]))
    res["grad/custom"] = g.gradient(yc, xt)

    def custom_on_variable():   # the Variable itself is the input: not a "captured" variable
        xc = tf.Variable([1.0, 2.0])
        with tf.GradientTape() as g:
            yc = tf.reduce_sum(clip_gradient(xc) * tf.constant([3.0, 0.1]))
        return g.gradient(yc, xc)
    res["grad/custom_variable_input"] = attempt(custom_on_variable)

    # tf.data
    ds = tf.data.Dataset.range(10).map(lambda i: i * 2).filter(lambda i: i % 3 != 0)
    res["data/filter_map"] = np.array(list(ds.as_numpy_iterator()))
    ds = tf.data.Dataset.from_tensor_slices({"a": np.arange(6), "b": np.arange(6) * 10.0})
    batches = list(ds.batch(4).as_numpy_iterator())
    res["data/dict_batch_a"] = batches[1]["a"]
    res["data/dict_batch_b"] = batches[0]["b"]
    res["data/repeat_take"] = np.array(list(tf.data.Dataset.range(3).repeat(3).skip(2).take(5)
                                            .as_numpy_iterator()))
    zipped = tf.data.Dataset.zip((tf.data.Dataset.range(3), tf.data.Dataset.range(3, 6)))
    res["data/zip"] = np.array(list(zipped.as_numpy_iterator()))
    res["data/unbatch"] = np.array(list(tf.data.Dataset.from_tensor_slices(
        np.arange(6).reshape(3, 2)).unbatch().as_numpy_iterator()))
    res["data/cardinality"] = int(tf.data.Dataset.range(10).batch(3).cardinality())
    res["data/drop_remainder"] = int(tf.data.Dataset.range(10).batch(3, drop_remainder=True)
                                     .cardinality())
    res["data/element_spec"] = str(tf.data.Dataset.range(3).batch(2).element_spec.shape)

    # tf.function with python control flow and tf.cond / while_loop
    @tf.function
    def collatz(n):
        steps = tf.constant(0)
        while n != 1:
            n = tf.cond(n % 2 == 0, lambda: n // 2, lambda: 3 * n + 1)
            steps += 1
        return steps
    # AutoGraph: a Python `while` on a tensor condition inside tf.function
    res["fn/collatz"] = attempt(lambda: int(collatz(tf.constant(27))))
    res["fn/while_loop"] = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + i),
                                         (tf.constant(0), tf.constant(0)))[1]

    # tf.nn losses
    logits = tf.constant(r.randn(4, 3).astype("float32"))
    labels = tf.constant([0, 2, 1, 1])
    res["nn/sparse_xent"] = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                           logits=logits)
    res["nn/xent"] = tf.nn.softmax_cross_entropy_with_logits(
        labels=tf.one_hot(labels, 3), logits=logits)
    res["nn/sigmoid_xent"] = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.constant([[0.0, 1.0, 1.0]] * 4), logits=logits)
    res["nn/l2_loss"] = tf.nn.l2_loss(logits)
    mean, var = tf.nn.moments(logits, axes=[0])
    res["nn/moments"] = tf.stack([mean, var])
    return res
