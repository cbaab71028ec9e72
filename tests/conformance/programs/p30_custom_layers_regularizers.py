"""Custom layers (keras.io "Making new layers"): add_weight in build, non-trainable weights,
add_loss in call, a layer with `training`; kernel/bias/activity regularizers and
constraints on built-in layers, and how their losses enter fit."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    ops = keras.ops
    r = rng(72)

    class Linear(L.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True, name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True,
                                     name="b")
            self.total = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name="total")

        def call(self, inputs):
            self.total.assign_add(ops.cast(ops.shape(inputs)[0], "float32"))
            return ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    class ActivityReg(L.Layer):
        def __init__(self, rate=1e-2, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * ops.mean(ops.square(inputs)))
            return inputs

    res = {}
    lin = Linear(3)
    xs = r.randn(5, 4).astype("float32")
    lin(xs)
    res["linear/weight_names"] = [w.name for w in lin.weights]
    res["linear/trainable"] = len(lin.trainable_weights)
    res["linear/non_trainable"] = len(lin.non_trainable_weights)
    res["linear/config_keys"] = sorted(lin.get_config())
    lin(xs)
    res["linear/total"] = lin.total.numpy()

    x = r.randn(64, 4).astype("float32")
    y = (x[:, :1] - 2 * x[:, 1:2]).astype("float32")
    model = keras.Sequential([
        keras.Input((4,)),
        L.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01),
                bias_regularizer=keras.regularizers.L1(0.005),
                kernel_constraint=keras.constraints.MaxNorm(0.8)),
        ActivityReg(0.05),
        L.Dense(4, activity_regularizer=keras.regularizers.L1L2(l1=1e-3, l2=1e-3),
                kernel_constraint=keras.constraints.NonNeg(),
                bias_constraint=keras.constraints.UnitNorm(axis=0)),
        Linear(1, name="final"),
    ])
    init_weights(model, 73)
    model(x[:2])
    res["model/n_losses_after_call"] = len(model.losses)
    res["model/losses_sum"] = float(sum(float(l) for l in model.losses))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mse"])
    h = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    res.update(history_dict(h))   # loss includes the penalties, metric mse does not
    res.update(weights_dict(model))
    res["evaluate"] = model.evaluate(x, y, verbose=0, return_dict=True)

    reg = keras.regularizers
    w = r.randn(3, 3).astype("float32")
    res["reg/l1"] = reg.L1(0.1)(w)
    res["reg/l2"] = reg.L2(0.1)(w)
    res["reg/l1l2"] = reg.L1L2(0.1, 0.2)(w)
    res["reg/ortho"] = reg.OrthogonalRegularizer(0.1)(w)
    res["reg/string"] = reg.get("l2")(w)
    con = keras.constraints
    res["con/maxnorm"] = con.MaxNorm(1.0)(w)
    res["con/minmax"] = con.MinMaxNorm(0.5, 1.0, rate=0.5)(w)
    res["con/unitnorm"] = con.UnitNorm()(w)
    res["con/nonneg"] = con.NonNeg()(w)
    return res
