"""Saving and loading within one framework (keras.io "Save, serialize, and export models"):
model.save(.keras) + load_model gives the same predictions and compile state; save_weights /
load_weights (.weights.h5) into a fresh model; custom objects via register_keras_serializable;
a loaded model keeps training the same way as the original (optimizer state restored)."""
import os
import tempfile

from _common import init_weights, rng


def program(tf, keras, np):
    L = keras.layers
    r = rng(89)
    x = r.randn(32, 4).astype("float32")
    y = (x[:, :1] * x[:, 1:2]).astype("float32")
    res = {}

    @keras.utils.register_keras_serializable(package="conformance")
    class Scale(L.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    def make():
        m = keras.Sequential([keras.Input((4,)), L.Dense(8, activation="relu"),
                              Scale(0.5), L.Dense(1)])
        init_weights(m, 90)
        return m

    m = make()
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    m.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.keras")
        m.save(path)
        loaded = keras.models.load_model(path)
        res["pred_equal"] = float(np.abs(loaded.predict(x, verbose=0) -
                                         m.predict(x, verbose=0)).max())
        res["loaded_layer_types"] = [type(l).__name__ for l in loaded.layers]
        res["loaded_optimizer"] = type(loaded.optimizer).__name__
        res["loaded_opt_iterations"] = int(loaded.optimizer.iterations.numpy())
        res["loaded_eval"] = loaded.evaluate(x, y, verbose=0, return_dict=True)
        h1 = m.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        h2 = loaded.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        res["continue_loss_orig"] = np.array(h1.history["loss"])
        res["continue_loss_loaded"] = np.array(h2.history["loss"])
        wpath = os.path.join(d, "w.weights.h5")
        m.save_weights(wpath)
        fresh = make()
        fresh.load_weights(wpath)
        res["weights_equal"] = all(np.array_equal(a, b) for a, b in
                                   zip(fresh.get_weights(), m.get_weights()))
        res["n_files"] = len(os.listdir(d))
    return res
