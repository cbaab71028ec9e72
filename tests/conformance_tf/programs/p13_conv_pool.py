"""conv1d / conv2d / depthwise / transpose, pooling with SAME/VALID and strides."""

TOLERANCE = {"default": (1e-4, 1e-5)}


def program(tf, np):
    rng = np.random.RandomState(6)
    x = tf.constant(rng.randn(2, 7, 6, 3).astype(np.float32))
    k = tf.constant(rng.randn(3, 2, 3, 4).astype(np.float32))
    dk = tf.constant(rng.randn(3, 3, 3, 2).astype(np.float32))
    x1 = tf.constant(rng.randn(2, 9, 3).astype(np.float32))
    k1 = tf.constant(rng.randn(3, 3, 5).astype(np.float32))
    out = {}
    for pad in ("SAME", "VALID"):
        for s in (1, 2):
            out[f"conv2d_{pad}_{s}"] = (lambda pad=pad, s=s: tf.nn.conv2d(x, k, s, pad))
            out[f"max_{pad}_{s}"] = (lambda pad=pad, s=s: tf.nn.max_pool2d(x, 3, s, pad))
            out[f"avg_{pad}_{s}"] = (lambda pad=pad, s=s: tf.nn.avg_pool2d(x, (2, 3), s, pad))
            out[f"conv1d_{pad}_{s}"] = (lambda pad=pad, s=s: tf.nn.conv1d(x1, k1, s, pad))
    out["conv2d_strides_list"] = lambda: tf.nn.conv2d(x, k, [1, 2, 3, 1], "SAME")
    out["conv2d_dilation"] = lambda: tf.nn.conv2d(x, k, 1, "SAME", dilations=2)
    out["conv2d_explicit_pad"] = lambda: tf.nn.conv2d(x, k, 1, [[0, 0], [1, 1], [2, 0], [0, 0]])
    out["depthwise"] = lambda: tf.nn.depthwise_conv2d(x, dk, [1, 1, 1, 1], "SAME")
    out["depthwise_s2"] = lambda: tf.nn.depthwise_conv2d(x, dk, [1, 2, 2, 1], "VALID")
    out["conv2d_transpose"] = lambda: tf.nn.conv2d_transpose(
        tf.nn.conv2d(x, k, 2, "SAME"), k, [2, 7, 6, 3], 2, "SAME")
    out["conv2d_transpose_valid"] = lambda: tf.nn.conv2d_transpose(
        tf.nn.conv2d(x, k, 1, "VALID"), k, [2, 7, 6, 3], 1, "VALID")
    out["max_pool_generic"] = lambda: tf.nn.max_pool(x, ksize=2, strides=2, padding="SAME")
    out["avg_pool_generic"] = lambda: tf.nn.avg_pool(x, ksize=[1, 2, 2, 1], strides=[1, 1, 2, 1],
                                                     padding="VALID")
    out["max_pool1d"] = lambda: tf.nn.max_pool1d(x1, 2, 2, "SAME")
    out["avg_pool1d"] = lambda: tf.nn.avg_pool1d(x1, 3, 2, "VALID")
    out["error_conv_channels"] = lambda: tf.nn.conv2d(x, tf.ones([3, 3, 4, 2]), 1, "SAME")
    out["error_padding"] = lambda: tf.nn.conv2d(x, k, 1, "FULL")
    return out
