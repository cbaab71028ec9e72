"""keras.io "Writing a training loop from scratch" (TensorFlow), eager: GradientTape,
optimizer.apply_gradients, train/val metrics with update_state/result/reset_state, a
regularisation loss from add_loss collected in model.losses."""
from _common import init_weights, rng, weights_dict


def program(tf, keras, np):
    class ActivityRegularizationLayer(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * tf.reduce_sum(inputs))
            return inputs

    inputs = keras.Input(shape=(12,), name="digits")
    x1 = keras.layers.Dense(16, activation="relu")(inputs)
    x2 = keras.layers.Dense(16, activation="relu")(x1)
    x2 = ActivityRegularizationLayer()(x2)
    outputs = keras.layers.Dense(4, name="predictions")(x2)
    model = keras.Model(inputs=inputs, outputs=outputs)
    init_weights(model, 16)

    optimizer = keras.optimizers.SGD(learning_rate=5e-2)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

    r = rng(17)
    x = r.rand(96, 12).astype("float32")
    y = (x[:, :4].argmax(1)).astype("int64")
    train_ds = tf.data.Dataset.from_tensor_slices((x[:64], y[:64])).batch(16)
    val_ds = tf.data.Dataset.from_tensor_slices((x[64:], y[64:])).batch(16)

    res = {}
    losses, accs, val_accs, n_model_losses = [], [], [], []
    for epoch in range(3):
        for step, (xb, yb) in enumerate(train_ds):
            with tf.GradientTape() as tape:
                logits = model(xb, training=True)
                loss_value = loss_fn(yb, logits)
                n_model_losses.append(len(model.losses))
                loss_value += sum(model.losses)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            train_acc_metric.update_state(yb, logits)
            losses.append(float(loss_value))
        accs.append(float(train_acc_metric.result()))
        train_acc_metric.reset_state()
        for xb, yb in val_ds:
            val_acc_metric.update_state(yb, model(xb, training=False))
        val_accs.append(float(val_acc_metric.result()))
        val_acc_metric.reset_state()
    res["losses"] = np.array(losses)
    res["train_acc"] = np.array(accs)
    res["val_acc"] = np.array(val_accs)
    res["n_model_losses"] = np.array(n_model_losses)
    res["iterations"] = int(optimizer.iterations.numpy())
    res["acc_after_reset"] = float(train_acc_metric.result())
    res.update(weights_dict(model))
    res["optimizer_var_count"] = len(optimizer.variables)
    return res
