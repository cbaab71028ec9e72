"""Gradients through array ops, matmul/einsum, linalg, losses, conv and pooling."""

TOLERANCE = {"default": (1e-4, 1e-5), "linalg": (1e-3, 1e-4)}


def program(tf, np):
    rng = np.random.RandomState(9)
    x = tf.Variable(rng.randn(4, 3).astype(np.float32))
    w = tf.Variable(rng.randn(3, 5).astype(np.float32))
    m = rng.randn(3, 3)
    A = tf.Variable((m @ m.T + 3 * np.eye(3)).astype(np.float32))
    img = tf.Variable(rng.randn(2, 6, 5, 2).astype(np.float32))
    k = tf.Variable(rng.randn(3, 3, 2, 3).astype(np.float32))
    wt = tf.constant(rng.randn(*[4, 5]).astype(np.float32))

    def grads(f, srcs):
        with tf.GradientTape() as t:
            y = f()
        return t.gradient(y, srcs)

    def S(t):
        return tf.reduce_sum(t * tf.cast(tf.reshape(tf.range(tf.size(t)) % 7, tf.shape(t)),
                                         t.dtype))

    out = {
        "gather": lambda: grads(lambda: S(tf.gather(x, [0, 2, 2, 3])), [x]),
        "gather_axis1": lambda: grads(lambda: S(tf.gather(x, [[2, 0]], axis=1)), [x]),
        "gather_nd": lambda: grads(lambda: S(tf.gather_nd(x, [[0, 1], [3, 2], [0, 1]])), [x]),
        "boolean_mask": lambda: grads(lambda: S(tf.boolean_mask(x, x > 0)), [x]),
        "slice": lambda: grads(lambda: S(x[1:, ::-2]), [x]),
        "concat_stack": lambda: grads(lambda: S(tf.concat([x, x * 2], 1)) +
                                      S(tf.stack([x, x], -1)), [x]),
        "split_unstack": lambda: grads(lambda: S(tf.split(x, [1, 2], 1)[1]) +
                                       S(tf.unstack(x)[2]), [x]),
        "tile_pad": lambda: grads(lambda: S(tf.tile(x, [2, 1])) +
                                  S(tf.pad(x, [[1, 0], [2, 2]], mode="REFLECT")), [x]),
        "pad_sym": lambda: grads(lambda: S(tf.pad(x, [[1, 1], [1, 2]], mode="SYMMETRIC")), [x]),
        "reshape_transpose": lambda: grads(lambda: S(tf.transpose(tf.reshape(x, [2, 6]))), [x]),
        "reverse": lambda: grads(lambda: S(tf.reverse(x, [0])), [x]),
        "sort": lambda: grads(lambda: S(tf.sort(x, axis=1)), [x]),
        "top_k": lambda: grads(lambda: S(tf.math.top_k(x, 2).values), [x]),
        "scatter": lambda: grads(lambda: S(tf.tensor_scatter_nd_update(x, [[1, 1]], [5.0])),
                                 [x]),
        "broadcast_to": lambda: grads(lambda: S(tf.broadcast_to(x[0], [3, 3])), [x]),
        "matmul": lambda: grads(lambda: S(tf.matmul(x, w)), [x, w]),
        "matmul_t": lambda: grads(lambda: S(tf.matmul(w, x, transpose_a=True,
                                                      transpose_b=True)), [x, w]),
        "einsum": lambda: grads(lambda: S(tf.einsum("ij,jk->ik", x, w)) +
                                S(tf.einsum("ij,ij->i", x, x)), [x, w]),
        "tensordot": lambda: grads(lambda: S(tf.tensordot(x, w, 1)), [x, w]),
        "linalg/inv": lambda: grads(lambda: S(tf.linalg.inv(A)), [A]),
        "linalg/det": lambda: grads(lambda: tf.linalg.det(A), [A]),
        "linalg/logdet": lambda: grads(lambda: tf.linalg.logdet(A), [A]),
        "linalg/cholesky": lambda: grads(lambda: S(tf.linalg.cholesky(A)), [A]),
        "linalg/solve": lambda: grads(lambda: S(tf.linalg.solve(A, tf.transpose(x))), [A, x]),
        "softmax_ce": lambda: grads(lambda: tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(tf.nn.softmax(wt), x @ w)), [x, w]),
        "sparse_ce": lambda: grads(lambda: tf.reduce_sum(
            tf.nn.sparse_softmax_cross_entropy_with_logits([1, 0, 4, 2], x @ w)), [x, w]),
        "sigmoid_ce": lambda: grads(lambda: tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(tf.sigmoid(wt), x @ w)), [x, w]),
        "moments_bn": lambda: grads(lambda: S(tf.nn.batch_normalization(
            x, *tf.nn.moments(x, [0]), None, None, 1e-3)), [x]),
        "conv_same": lambda: grads(lambda: S(tf.nn.conv2d(img, k, 1, "SAME")), [img, k]),
        "conv_valid_s2": lambda: grads(lambda: S(tf.nn.conv2d(img, k, 2, "VALID")), [img, k]),
        "conv_same_s2": lambda: grads(lambda: S(tf.nn.conv2d(img, k, 2, "SAME")), [img, k]),
        "depthwise": lambda: grads(lambda: S(tf.nn.depthwise_conv2d(
            img, k[:, :, :, :1], [1, 1, 1, 1], "SAME")), [img]),
        "maxpool": lambda: grads(lambda: S(tf.nn.max_pool2d(img, 2, 2, "SAME")), [img]),
        "maxpool_overlap": lambda: grads(lambda: S(tf.nn.max_pool2d(img, 3, 1, "VALID")), [img]),
        "avgpool": lambda: grads(lambda: S(tf.nn.avg_pool2d(img, 3, 2, "SAME")), [img]),
        "bias_add": lambda: grads(lambda: S(tf.nn.bias_add(x @ w, w[0])), [w]),
        "one_hot_path": lambda: grads(lambda: S(tf.one_hot([0, 2], 3) * x[:2]), [x]),
        "cumsum_rev": lambda: grads(lambda: S(tf.cumsum(x, axis=0, reverse=True)), [x]),
        "where_nan_safe": lambda: grads(lambda: tf.reduce_sum(tf.where(x > 0, tf.sqrt(
            tf.abs(x)), 0.0)), [x]),
        "norm_axis": lambda: grads(lambda: S(tf.norm(x, axis=1)), [x]),
        "l2_normalize": lambda: grads(lambda: S(tf.math.l2_normalize(x, axis=1)), [x]),
    }
    return out
