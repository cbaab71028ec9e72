"""The from-scratch training loop of p24 with the step compiled by tf.function."""

TOLERANCE = {"default": (2e-4, 2e-5)}


def program(tf, np):
    rng = np.random.RandomState(12)
    X = rng.randn(24, 3).astype(np.float32)
    Y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    w = tf.Variable(np.zeros((3, 1), np.float32))
    b = tf.Variable(0.0)
    m = [tf.Variable(tf.zeros_like(w)), tf.Variable(0.0)]
    step_count = tf.Variable(0, dtype=tf.int64)

    @tf.function
    def train_step(xb, yb, lr):
        with tf.GradientTape() as tape:
            pred = tf.matmul(xb, w) + b
            loss = tf.reduce_mean(tf.square(pred - yb))
        gw, gb = tape.gradient(loss, [w, b])
        m[0].assign(0.9 * m[0] + gw)
        m[1].assign(0.9 * m[1] + gb)
        w.assign_sub(lr * m[0])
        b.assign_sub(lr * m[1])
        step_count.assign_add(1)
        return loss

    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(6).repeat(4)
    losses = [train_step(xb, yb, tf.constant(0.05)) for xb, yb in ds]

    @tf.function
    def evaluate(x):
        return tf.reduce_mean(tf.abs(tf.matmul(x, w) + b - Y))
    return {"losses": tf.stack(losses), "w": w, "b": b, "steps": step_count,
            "mae": evaluate(tf.constant(X))}
