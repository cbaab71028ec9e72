"""Reductions with axes and keepdims."""


def program(tf, np):
    rng = np.random.RandomState(0)
    x = tf.constant(rng.randn(3, 4, 2).astype(np.float32))
    i = tf.constant(rng.randint(-5, 5, (3, 4)).astype(np.int32))
    b = tf.constant(rng.rand(3, 4) > 0.5)
    out = {}
    for name, fn in [("sum", tf.reduce_sum), ("mean", tf.reduce_mean), ("max", tf.reduce_max),
                     ("min", tf.reduce_min), ("prod", tf.reduce_prod),
                     ("lse", tf.reduce_logsumexp), ("var", tf.math.reduce_variance),
                     ("std", tf.math.reduce_std)]:
        out[name + "/all"] = (lambda fn=fn: fn(x))
        out[name + "/ax0"] = (lambda fn=fn: fn(x, axis=0))
        out[name + "/ax_neg"] = (lambda fn=fn: fn(x, axis=-1, keepdims=True))
        out[name + "/ax_list"] = (lambda fn=fn: fn(x, axis=[0, 2]))
        out[name + "/ax_tuple_keep"] = (lambda fn=fn: fn(x, axis=(1,), keepdims=True))
    out["int_sum"] = lambda: tf.reduce_sum(i, axis=1)
    out["int_mean"] = lambda: tf.reduce_mean(i, axis=0)
    out["int_max"] = lambda: tf.reduce_max(i)
    out["int_prod"] = lambda: tf.reduce_prod(i[:, :2], axis=1)
    out["any"] = lambda: tf.reduce_any(b, axis=0)
    out["all"] = lambda: tf.reduce_all(b, axis=1, keepdims=True)
    out["count_nonzero"] = lambda: tf.math.count_nonzero(i, axis=0)
    out["norm_default"] = lambda: tf.norm(x)
    out["norm_axis"] = lambda: tf.norm(x, axis=1)
    out["norm_ord1"] = lambda: tf.norm(x, ord=1, axis=-1)
    out["norm_inf"] = lambda: tf.norm(x, ord=np.inf, axis=0)
    out["l2_normalize"] = lambda: tf.math.l2_normalize(x, axis=-1)
    out["empty_sum"] = lambda: tf.reduce_sum(tf.zeros([0, 3]), axis=0)
    out["empty_max"] = lambda: tf.reduce_max(tf.zeros([0, 3]), axis=0)
    out["empty_mean"] = lambda: tf.reduce_mean(tf.zeros([0, 3]), axis=0)
    out["error_axis"] = lambda: tf.reduce_sum(x, axis=3)
    out["error_axis_neg"] = lambda: tf.reduce_mean(x, axis=-4)
    return out
