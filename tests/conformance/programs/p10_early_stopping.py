"""Callbacks: EarlyStopping(restore_best_weights) on a val_loss that stops improving, History
contents, stopped_epoch, a LambdaCallback and a custom Callback recording the logs it sees."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(20)
    x = r.randn(60, 4).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]]) + 0.1 * r.randn(60, 1)).astype("float32")
    xv = r.randn(20, 4).astype("float32")
    yv = (r.randn(20, 1) * 3).astype("float32")  # unrelated: val loss soon rises

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    init_weights(model, 21)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"])

    seen = {"epoch_end": [], "train_batch_end": [], "test_end": []}

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen["epoch_end"].append(sorted(logs))
            self.model_is_set = self.model is not None

        def on_train_batch_end(self, batch, logs=None):
            seen["train_batch_end"].append(batch)

    epochs_begun = []
    lam = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: epochs_begun.append(e))
    es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True,
                                       verbose=0)
    rec = Recorder()
    hist = model.fit(x, y, validation_data=(xv, yv), epochs=30, batch_size=20, shuffle=False,
                     callbacks=[es, lam, rec], verbose=0)
    res = {**history_dict(hist), **weights_dict(model)}
    res["stopped_epoch"] = es.stopped_epoch
    res["best_epoch"] = getattr(es, "best_epoch", -1)
    res["best"] = float(es.best)
    res["epochs_begun"] = np.array(epochs_begun)
    res["epoch_end_keys"] = seen["epoch_end"][0]
    res["n_batch_end"] = len(seen["train_batch_end"])
    res["batch_indices"] = np.array(seen["train_batch_end"][:3])
    res["history_params"] = {k: v for k, v in hist.params.items()
                             if k in ("epochs", "steps", "verbose")}
    res["model_is_set"] = rec.model_is_set
    res["val_loss_now"] = model.evaluate(xv, yv, verbose=0)[0]

    # mode="max" on a metric, baseline, min_delta; start_from_epoch
    model2 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    init_weights(model2, 22)
    model2.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse",
                   metrics=[keras.metrics.R2Score(name="r2")] if hasattr(keras.metrics, "R2Score")
                   else ["mae"])
    es2 = keras.callbacks.EarlyStopping(monitor="loss", min_delta=0.5, patience=1,
                                        start_from_epoch=2)
    hist2 = model2.fit(x, y, epochs=20, batch_size=30, shuffle=False, verbose=0,
                       callbacks=[es2])
    res.update(history_dict(hist2, "history2"))
    res["stopped_epoch2"] = es2.stopped_epoch
    return res
