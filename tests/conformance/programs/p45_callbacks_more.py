"""More callbacks: the order of callback hooks in fit/evaluate/predict, stopping training
from a callback (model.stop_training), TerminateOnNaN, CSVLogger's file, the logs passed to
batch hooks, initial_epoch, and History.params."""
import os
import tempfile

from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    r = rng(116)
    x = r.randn(40, 3).astype("float32")
    y = r.randn(40, 1).astype("float32")
    res = {}
    events = []

    def record(name):
        def hook(self, *args, logs=None):
            keys = ",".join(sorted(logs)) if isinstance(logs, dict) else "-"
            events.append(f"{name}:{keys}")
        return hook

    hooks = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
             "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
             "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
             "on_predict_batch_begin", "on_predict_batch_end"]
    Tracer = type("Tracer", (keras.callbacks.Callback,), {h: record(h) for h in hooks})

    m = keras.Sequential([keras.Input((3,)), L.Dense(1)])
    init_weights(m, 117)
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    m.fit(x, y, epochs=2, batch_size=20, validation_split=0.5, verbose=0, shuffle=False,
          callbacks=[Tracer()])
    res["fit_events"] = list(events)
    events.clear()
    m.evaluate(x, y, batch_size=20, verbose=0, callbacks=[Tracer()])
    res["evaluate_events"] = list(events)
    events.clear()
    m.predict(x, batch_size=20, verbose=0, callbacks=[Tracer()])
    res["predict_events"] = list(events)

    class StopAt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    m2 = keras.Sequential([keras.Input((3,)), L.Dense(1)])
    init_weights(m2, 118)
    m2.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    h2 = m2.fit(x, y, epochs=10, batch_size=20, verbose=0, shuffle=False,
                callbacks=[StopAt()])
    res.update(history_dict(h2, "stopped"))

    m3 = keras.Sequential([keras.Input((3,)), L.Dense(1)])
    init_weights(m3, 119)
    m3.compile(optimizer=keras.optimizers.SGD(1e3), loss="mse")
    big = (x * 1e3).astype("float32")
    h3 = m3.fit(big, y, epochs=5, batch_size=4, verbose=0, shuffle=False,
                callbacks=[keras.callbacks.TerminateOnNaN()])
    res["nan_epochs"] = len(h3.history["loss"])
    res["nan_last_is_nan"] = bool(np.isnan(h3.history["loss"][-1]) or
                                  np.isinf(h3.history["loss"][-1]))

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "log.csv")
        m4 = keras.Sequential([keras.Input((3,)), L.Dense(1)])
        init_weights(m4, 120)
        m4.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
        m4.fit(x, y, epochs=3, batch_size=20, verbose=0, shuffle=False,
               validation_data=(x[:10], y[:10]),
               callbacks=[keras.callbacks.CSVLogger(path)])
        with open(path) as f:
            lines = f.read().strip().splitlines()
        res["csv_header"] = lines[0]
        res["csv_rows"] = len(lines) - 1
        res["csv_values"] = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])

    m5 = keras.Sequential([keras.Input((3,)), L.Dense(1)])
    init_weights(m5, 121)
    m5.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    h5 = m5.fit(x, y, epochs=4, initial_epoch=2, batch_size=20, verbose=0, shuffle=False)
    res.update(history_dict(h5, "initial_epoch"))
    res["params"] = {k: v for k, v in h5.params.items() if k in ("epochs", "steps", "verbose")}
    res.update(weights_dict(m5, "initial_epoch_w"))
    return res
