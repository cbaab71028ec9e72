"""keras.io "Training & evaluation with the built-in methods": custom loss functions and Loss
subclasses (with extra arguments), a custom Metric subclass with state, a layer adding losses,
a keras.utils.PyDataset fed to fit/evaluate/predict, and a Python generator."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    r = rng(93)
    x = r.randn(80, 6).astype("float32")
    ys = (x[:, 0] + x[:, 1] > 0).astype("int32") + (x[:, 2] > 0.5).astype("int32")
    yc = np.eye(3, dtype="float32")[ys]
    res = {}

    def custom_mean_squared_error(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    class CustomMSE(keras.losses.Loss):
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)
            reg = keras.ops.mean(keras.ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = keras.ops.reshape(keras.ops.argmax(y_pred, axis=1), (-1, 1))
            values = keras.ops.cast(y_true, "int32") == keras.ops.cast(y_pred, "int32")
            values = keras.ops.cast(values, "float32")
            if sample_weight is not None:
                sample_weight = keras.ops.cast(sample_weight, "float32")
                values = keras.ops.multiply(values, sample_weight)
            self.true_positives.assign_add(keras.ops.sum(values))

        def result(self):
            return self.true_positives

        def reset_state(self):
            self.true_positives.assign(0.0)

    def make(seed):
        inp = keras.Input((6,))
        h = L.Dense(8, activation="relu")(inp)
        out = L.Dense(3, activation="softmax")(h)
        m = keras.Model(inp, out)
        init_weights(m, seed)
        return m

    m1 = make(94)
    m1.compile(optimizer=keras.optimizers.Adam(0.01), loss=custom_mean_squared_error)
    res.update(history_dict(m1.fit(x, yc, batch_size=16, epochs=2, shuffle=False, verbose=0),
                            "fn_loss"))
    m2 = make(94)
    m2.compile(optimizer=keras.optimizers.Adam(0.01), loss=CustomMSE(0.2))
    res.update(history_dict(m2.fit(x, yc, batch_size=16, epochs=2, shuffle=False, verbose=0),
                            "class_loss"))
    res.update(weights_dict(m2, "class_loss_w"))
    res["class_loss_config"] = sorted(CustomMSE().get_config())
    m3 = make(95)
    m3.compile(optimizer=keras.optimizers.RMSprop(1e-2),
               loss=keras.losses.SparseCategoricalCrossentropy(),
               metrics=[CategoricalTruePositives()])
    h3 = m3.fit(x, ys[:, None], batch_size=16, epochs=3, shuffle=False, verbose=0,
                validation_data=(x[:32], ys[:32, None]))
    res.update(history_dict(h3, "custom_metric"))
    res["custom_metric_eval"] = m3.evaluate(x, ys[:, None], verbose=0, return_dict=True)

    class ActivityRegularizationLayer(L.Layer):
        def call(self, inputs):
            self.add_loss(keras.ops.sum(inputs) * 0.01)
            return inputs

    inp = keras.Input((6,))
    h = ActivityRegularizationLayer()(L.Dense(8, activation="relu")(inp))
    out = L.Dense(3)(h)
    m4 = keras.Model(inp, out)
    init_weights(m4, 96)
    m4.compile(optimizer=keras.optimizers.SGD(0.05),
               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    res.update(history_dict(m4.fit(x, ys, batch_size=20, epochs=3, shuffle=False, verbose=0),
                            "add_loss"))
    res["add_loss_eval"] = m4.evaluate(x, ys, verbose=0)

    class Data(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return int(np.ceil(len(self.x) / self.batch_size))

        def __getitem__(self, idx):
            lo = idx * self.batch_size
            return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]

    m5 = make(97)
    m5.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy",
               metrics=["accuracy"])
    h5 = m5.fit(Data(x, yc, 24), epochs=2, verbose=0, shuffle=False)
    res.update(history_dict(h5, "pydataset"))
    res["pydataset_eval"] = m5.evaluate(Data(x, yc, 32), verbose=0, return_dict=True)
    res["pydataset_predict"] = m5.predict(Data(x, yc, 32), verbose=0)

    def gen():
        for i in range(0, 80, 20):
            yield x[i:i + 20], yc[i:i + 20]
    m6 = make(98)
    m6.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    h6 = m6.fit(gen(), epochs=1, verbose=0)
    res.update(history_dict(h6, "generator"))
    res.update(weights_dict(m6, "generator_w"))
    return res
