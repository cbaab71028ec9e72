"""argmax / argmin / sort / argsort / top_k."""


def program(tf, np):
    rng = np.random.RandomState(1)
    x = tf.constant(rng.permutation(24).reshape(4, 6).astype(np.float32))
    ties = tf.constant([3, 1, 3, 2, 1, 3])
    return {
        "argmax": lambda: tf.argmax(x),
        "argmax_ax1": lambda: tf.argmax(x, axis=1),
        "argmax_i32": lambda: tf.argmax(x, axis=1, output_type=tf.int32),
        "argmin": lambda: tf.argmin(x, axis=-1),
        "argmax_ties": lambda: tf.argmax(ties),
        "argmin_ties": lambda: tf.math.argmin(ties),
        "sort": lambda: tf.sort(x),
        "sort_desc": lambda: tf.sort(x, axis=0, direction="DESCENDING"),
        "argsort": lambda: tf.argsort(x, axis=-1),
        "argsort_desc": lambda: tf.argsort(x, direction="DESCENDING"),
        "argsort_ties_stable": lambda: tf.argsort(ties, stable=True),
        "argsort_ties_desc_stable": lambda: tf.argsort(ties, direction="DESCENDING", stable=True),
        "top_k_values": lambda: tf.math.top_k(x, k=3).values,
        "top_k_indices": lambda: tf.math.top_k(x, k=3).indices,
        "top_k_ties": lambda: tf.math.top_k(ties, k=4)[1],
        "top_k_default": lambda: tf.math.top_k(x)[0],
        "in_top_k": lambda: tf.math.in_top_k(tf.constant([1, 0, 5, 2]), x, k=2),
        "unique": lambda: tf.unique(ties)[0],
        "unique_idx": lambda: tf.unique(ties)[1],
        "error_top_k": lambda: tf.math.top_k(x, k=7),
        "error_sort_dir": lambda: tf.sort(x, direction="UP"),
    }
