"""keras.io "Customizing fit()": the lower-level pattern - compile() with only an optimizer,
own loss_tracker / mae_metric, listed in the `metrics` property so they are reset per epoch;
plus a custom test_step."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    loss_tracker = keras.metrics.Mean(name="loss")
    mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
    loss_fn = keras.losses.MeanSquaredError()

    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = loss_fn(y, y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            loss_tracker.update_state(loss)
            mae_metric.update_state(y, y_pred)
            return {"loss": loss_tracker.result(), "mae": mae_metric.result()}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss_tracker.update_state(loss_fn(y, y_pred))
            mae_metric.update_state(y, y_pred)
            return {"loss": loss_tracker.result(), "mae": mae_metric.result()}

        @property
        def metrics(self):
            return [loss_tracker, mae_metric]

    r = rng(11)
    x = r.random_sample((90, 16)).astype("float32")
    y = (x[:, :4].sum(1, keepdims=True) / 4).astype("float32")
    inputs = keras.Input(shape=(16,))
    h = keras.layers.Dense(8, activation="relu")(inputs)
    outputs = keras.layers.Dense(1)(h)
    model = CustomModel(inputs, outputs)
    init_weights(model, 12)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01))
    hist = model.fit(x, y, epochs=4, batch_size=32, shuffle=False, verbose=0,
                     validation_data=(x[:30], y[:30]))
    res = {**history_dict(hist), **weights_dict(model)}
    res["evaluate"] = model.evaluate(x, y, verbose=0, return_dict=True)
    res["evaluate_list"] = model.evaluate(x, y, verbose=0)
    res["tracker_after"] = loss_tracker.result()
    return res
