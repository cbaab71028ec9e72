"""keras.io "Customizing what happens in fit()" (TensorFlow): override train_step with
GradientTape, self.compute_loss, metric updates via self.metrics, return the results."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply_gradients(zip(gradients, trainable_vars))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    r = rng(8)
    x = r.random_sample((100, 32)).astype("float32")
    y = r.random_sample((100, 1)).astype("float32")
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    init_weights(model, 9)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    hist = model.fit(x, y, epochs=3, batch_size=20, shuffle=False, verbose=0)
    res = {**history_dict(hist), **weights_dict(model)}
    res["metric_names"] = [m.name for m in model.metrics]
    res["evaluate"] = model.evaluate(x, y, verbose=0, return_dict=True)

    # sample-weight version from the same guide
    class WeightedModel(keras.Model):
        def train_step(self, data):
            if len(data) == 3:
                x, y, sample_weight = data
            else:
                sample_weight = None
                x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            gradients = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model2 = WeightedModel(inputs, outputs)
    init_weights(model2, 10)
    model2.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    sw = r.random_sample((100, 1)).astype("float32")
    hist2 = model2.fit(x, y, sample_weight=sw, epochs=3, batch_size=25, shuffle=False,
                       verbose=0)
    res.update(history_dict(hist2, "weighted_history"))
    res.update(weights_dict(model2, "weighted_w"))
    return res
