"""A subclassed Model with layers in attributes and a list, `training`-dependent call, built by
calling it; fit/evaluate/predict (keras.io "Making new layers and models via subclassing")."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    class ResidualBlock(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.d1 = keras.layers.Dense(units, activation="relu")
            self.d2 = keras.layers.Dense(units)

        def call(self, x):
            return keras.ops.relu(x + self.d2(self.d1(x)))

    class Net(keras.Model):
        def __init__(self, n_blocks=2, **kwargs):
            super().__init__(**kwargs)
            self.stem = keras.layers.Dense(8, name="stem")
            self.blocks = [ResidualBlock(8, name=f"block{i}") for i in range(n_blocks)]
            self.head = keras.layers.Dense(1, name="head")
            self.noise = keras.layers.GaussianNoise(0.5)

        def call(self, inputs, training=False):
            h = self.stem(inputs)
            h = self.noise(h, training=training and False)  # never active: deterministic
            for b in self.blocks:
                h = b(h)
            return self.head(h)

    r = rng(6)
    x = r.randn(80, 5).astype("float32")
    y = (np.sin(x[:, :1]) + 0.5 * x[:, 1:2] ** 2).astype("float32")
    model = Net(name="net")
    model(x[:2])
    init_weights(model, 7)
    res = {"weight_paths": [w.path for w in model.weights],
           "n_weights": len(model.weights),
           "layer_names": [l.name for l in model.layers],
           "submodule_count": len(model.blocks)}
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse",
                  metrics=[keras.metrics.MeanAbsoluteError(name="mae"),
                           keras.metrics.RootMeanSquaredError()])
    hist = model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0,
                     validation_data=(x[:20], y[:20]))
    res.update(history_dict(hist))
    res.update(weights_dict(model))
    res["evaluate"] = model.evaluate(x, y, verbose=0, return_dict=True)
    res["predict"] = model.predict(x[:9], batch_size=4, verbose=0)
    res["direct_call"] = model(x[:3])
    res["metric_names"] = [m.name for m in model.metrics]
    return res
