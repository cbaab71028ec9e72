"""The same guide's speed-up: a `@tf.function` train_step / test_step, with Adam and a
metric updated inside the function."""
from _common import init_weights, rng, weights_dict


def program(tf, keras, np):
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(12, activation="relu"),
                              keras.layers.Dense(3)])
    init_weights(model, 18)
    optimizer = keras.optimizers.Adam(learning_rate=1e-2)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc = keras.metrics.SparseCategoricalAccuracy()
    val_acc = keras.metrics.SparseCategoricalAccuracy()

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(y, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        train_acc.update_state(y, logits)
        return loss_value

    @tf.function
    def test_step(x, y):
        val_acc.update_state(y, model(x, training=False))

    r = rng(19)
    x = r.randn(80, 10).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")
    losses, accs, vals = [], [], []
    for epoch in range(3):
        for i in range(0, 80, 20):
            losses.append(float(train_step(x[i:i + 20], y[i:i + 20])))
        accs.append(float(train_acc.result()))
        train_acc.reset_state()
        test_step(x[:40], y[:40])
        vals.append(float(val_acc.result()))
        val_acc.reset_state()
    return {"losses": np.array(losses), "train_acc": np.array(accs), "val_acc": np.array(vals),
            "iterations": int(optimizer.iterations.numpy()), **weights_dict(model)}
