"""tf.random: shapes, dtypes and statistics (values are not comparable across frameworks)."""

TOLERANCE = {"default": (0, 0.05), "stats": (0, 0.08)}


def program(tf, np):
    tf.random.set_seed(7)
    n = tf.random.normal([4000], mean=1.0, stddev=2.0)
    u = tf.random.uniform([4000], minval=-1.0, maxval=3.0)
    t = tf.random.truncated_normal([4000])
    i = tf.random.uniform([4000], minval=0, maxval=5, dtype=tf.int32)
    cat = tf.random.categorical(tf.math.log([[0.2, 0.8]]), 4000)
    return {
        "shapes": [n.shape.as_list(), tf.random.normal([2, 3]).shape.as_list(),
                   cat.shape.as_list()],
        "dtypes": [n.dtype.name, i.dtype.name, cat.dtype.name,
                   tf.random.normal([2], dtype=tf.float64).dtype.name,
                   tf.random.uniform([2], dtype=tf.float16).dtype.name],
        "stats/normal": [tf.reduce_mean(n) / 2, tf.math.reduce_std(n) / 4],
        "stats/uniform": [tf.reduce_min(u) > -1.0, tf.reduce_max(u) < 3.0,
                          tf.reduce_mean(u) / 2],
        "stats/truncated": [tf.reduce_max(tf.abs(t)) <= 2.0, tf.math.reduce_std(t)],
        "stats/int": [tf.reduce_min(i), tf.reduce_max(i)],
        "stats/categorical": tf.reduce_mean(tf.cast(cat, tf.float32)),
        "shuffle_sorted": tf.sort(tf.random.shuffle(tf.range(10))),
        "shuffle_shape": tf.random.shuffle(tf.ones([5, 2])).shape.as_list(),
        "stateless_shape": tf.random.stateless_normal([3, 2], seed=[1, 2]).shape.as_list(),
        "error_uniform_int_no_max": lambda: tf.random.uniform([2], dtype=tf.int32),
    }
