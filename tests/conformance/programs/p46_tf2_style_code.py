"""TensorFlow 2.x-era code that still runs on tf.keras (Keras 3): a train_step using
self.compiled_loss / self.compiled_metrics, the `tf.keras.backend` functions (K.mean,
K.set_value on the learning rate, K.int_shape, K.epsilon), a custom loss written with K,
`input_shape=` on the first layer, and model.metrics_names."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    K = keras.backend
    L = keras.layers
    r = rng(122)
    x = r.randn(64, 5).astype("float32")
    y = (x[:, :2].sum(1, keepdims=True) > 0).astype("float32")
    res = {}

    class TF2Model(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inp = keras.Input((5,))
    h = L.Dense(6, activation="relu", kernel_regularizer=keras.regularizers.l2(0.01))(inp)
    out = L.Dense(1, activation="sigmoid")(h)
    model = TF2Model(inp, out)
    init_weights(model, 123)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy",
                  metrics=["accuracy"])
    h1 = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    res.update(history_dict(h1, "compiled_api"))
    res.update(weights_dict(model, "compiled_api_w"))

    def focal_ish(y_true, y_pred):
        y_pred = K.clip(y_pred, K.epsilon(), 1 - K.epsilon())
        return -K.mean(y_true * K.square(1 - y_pred) * K.log(y_pred) +
                       (1 - y_true) * K.square(y_pred) * K.log(1 - y_pred), axis=-1)

    seq = keras.Sequential([L.Dense(4, activation="tanh", input_shape=(5,)),
                            L.Dense(1, activation="sigmoid")])
    init_weights(seq, 124)
    seq.compile(optimizer=keras.optimizers.SGD(0.5), loss=focal_ish, metrics=["accuracy"])
    h2 = seq.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    seq.optimizer.learning_rate.assign(0.05)   # (K.set_value fails on it in TF 2.21)
    res["lr_after_set"] = float(K.get_value(seq.optimizer.learning_rate))
    h3 = seq.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    res.update(history_dict(h2, "k_loss_1"))
    res.update(history_dict(h3, "k_loss_2"))
    res.update(weights_dict(seq, "k_loss_w"))
    res["int_shape"] = str(K.int_shape(seq.layers[0].kernel))
    xt = tf.constant(x)
    res["k_mean"] = K.mean(xt, axis=0)
    res["k_sum_keep"] = K.sum(xt, axis=1, keepdims=True)
    res["k_std"] = K.std(xt)
    res["k_concat"] = K.concatenate([xt[:2], xt[:2]], axis=-1)
    res["k_batch_dot"] = K.batch_dot(tf.constant(r.randn(3, 2, 4).astype("float32")),
                                     tf.constant(r.randn(3, 4, 5).astype("float32")))
    res["k_batch_dot_2d"] = K.batch_dot(xt[:3, :4], xt[3:6, :4], axes=1)
    res["metrics_names"] = list(seq.metrics_names)
    res["floatx"] = K.floatx()
    res["image_data_format"] = K.image_data_format()
    return res
