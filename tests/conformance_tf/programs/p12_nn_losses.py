"""Cross-entropy losses, moments, batch_normalization."""

TOLERANCE = {"default": (1e-5, 1e-6)}


def program(tf, np):
    rng = np.random.RandomState(5)
    logits = tf.constant(rng.randn(4, 5).astype(np.float32) * 3)
    labels_sparse = tf.constant([0, 4, 2, 2])
    labels = tf.one_hot(labels_sparse, 5) * 0.9 + 0.02
    blog = tf.constant(rng.randn(4, 3).astype(np.float32) * 5)
    blab = tf.constant((rng.rand(4, 3) > 0.5).astype(np.float32))
    x = tf.constant(rng.randn(8, 3, 2).astype(np.float32) * 2 + 1)
    return {
        "softmax_ce": lambda: tf.nn.softmax_cross_entropy_with_logits(labels=labels,
                                                                      logits=logits),
        "softmax_ce_axis0": lambda: tf.nn.softmax_cross_entropy_with_logits(
            labels=tf.transpose(labels), logits=tf.transpose(logits), axis=0),
        "sparse_ce": lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels_sparse, logits=logits),
        "sparse_ce_i64": lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(labels_sparse, tf.int64), logits=logits),
        "sparse_ce_3d": lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.reshape(labels_sparse, [2, 2]), logits=tf.reshape(logits, [2, 2, 5])),
        "sigmoid_ce": lambda: tf.nn.sigmoid_cross_entropy_with_logits(labels=blab, logits=blog),
        "weighted_ce": lambda: tf.nn.weighted_cross_entropy_with_logits(
            labels=blab, logits=blog, pos_weight=2.0),
        "moments_mean": lambda: tf.nn.moments(x, axes=[0])[0],
        "moments_var": lambda: tf.nn.moments(x, axes=[0, 1])[1],
        "moments_keep": lambda: tf.nn.moments(x, axes=[0], keepdims=True)[1],
        "batch_norm": lambda: tf.nn.batch_normalization(
            x, *tf.nn.moments(x, axes=[0]), offset=tf.constant([0.5, -0.5]),
            scale=tf.constant([2.0, 1.0]), variance_epsilon=1e-3),
        "batch_norm_none": lambda: tf.nn.batch_normalization(
            x, tf.constant(1.0), tf.constant(4.0), None, None, 1e-5),
        "normalize_moments": lambda: tf.nn.normalize_moments(
            tf.constant(8.0), tf.reduce_sum(x, 0), tf.reduce_sum(x * x, 0), None)[1],
        "error_sparse_rank": lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant([[0], [1], [2], [3]]), logits=logits),
        "error_softmax_shape": lambda: tf.nn.softmax_cross_entropy_with_logits(
            labels=labels[:, :3], logits=logits),
        "error_sigmoid_shape": lambda: tf.nn.sigmoid_cross_entropy_with_logits(
            labels=blab[:2], logits=blog),
    }
