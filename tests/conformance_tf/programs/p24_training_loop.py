"""A from-scratch training loop: MLP with variables, GradientTape and manual SGD/momentum."""

TOLERANCE = {"default": (2e-4, 2e-5)}


def program(tf, np):
    rng = np.random.RandomState(11)
    X = rng.randn(32, 4).astype(np.float32)
    Y = (X @ rng.randn(4, 3) > 0).argmax(1).astype(np.int32)
    W1 = tf.Variable(rng.randn(4, 8).astype(np.float32) * 0.5)
    b1 = tf.Variable(np.zeros(8, np.float32))
    W2 = tf.Variable(rng.randn(8, 3).astype(np.float32) * 0.5)
    b2 = tf.Variable(np.zeros(3, np.float32))
    params = [W1, b1, W2, b2]
    vel = [tf.Variable(tf.zeros_like(p)) for p in params]
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8)
    losses, accs = [], []
    for epoch in range(3):
        for xb, yb in ds:
            with tf.GradientTape() as tape:
                h = tf.nn.relu(tf.matmul(xb, W1) + b1)
                logits = tf.matmul(h, W2) + b2
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits))
                loss += 1e-3 * tf.add_n([tf.nn.l2_loss(W1), tf.nn.l2_loss(W2)])
            grads = tape.gradient(loss, params)
            grads, gnorm = tf.clip_by_global_norm(grads, 1.0)
            for p, v, g in zip(params, vel, grads):
                v.assign(0.9 * v - 0.1 * g)
                p.assign_add(v)
            losses.append(loss)
        pred = tf.argmax(tf.matmul(tf.nn.relu(tf.matmul(X, W1) + b1), W2) + b2, axis=1,
                         output_type=tf.int32)
        accs.append(tf.reduce_mean(tf.cast(tf.equal(pred, Y), tf.float32)))
    return {"losses": tf.stack(losses), "accs": tf.stack(accs), "W1": W1, "b2": b2,
            "gnorm": gnorm, "clip_norm": tf.clip_by_norm(tf.constant([3.0, 4.0]), 1.0)}
