"""How compile's strings become metrics: 'accuracy'/'acc' resolved from the loss and shapes,
'crossentropy'/'ce', 'mse'/'mae'/'mape' aliases, function metrics, the names in History and
evaluate (with and without validation), and per-output names in a two-output model."""
from _common import history_dict, init_weights, rng


def program(tf, keras, np):
    L = keras.layers
    r = rng(86)
    x = r.randn(40, 3).astype("float32")
    res = {}

    def run(key, y, out_units, activation, loss, metrics):
        m = keras.Sequential([keras.Input((3,)), L.Dense(out_units, activation=activation)])
        init_weights(m, 87)
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=metrics)
        h = m.fit(x, y, epochs=2, batch_size=20, shuffle=False, verbose=0,
                  validation_split=0.5)
        res.update(history_dict(h, key))
        res[f"{key}/evaluate"] = m.evaluate(x, y, verbose=0, return_dict=True)
        res[f"{key}/metrics_names"] = list(m.metrics_names)

    yb = (x[:, :1] > 0).astype("float32")
    ys = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0).astype("int32")
    yc = np.eye(3, dtype="float32")[ys]
    yr = x[:, :2] * 2
    run("binary", yb, 1, "sigmoid", "binary_crossentropy", ["accuracy", "acc", "binary_crossentropy"])
    run("sparse", ys, 3, "softmax", "sparse_categorical_crossentropy", ["acc", "sparse_top_k_categorical_accuracy"])
    run("categorical", yc, 3, "softmax", "categorical_crossentropy",
        ["accuracy", "top_k_categorical_accuracy", keras.metrics.AUC()])
    run("regression", yr, 2, None, "mean_squared_error",
        ["mse", "mae", "mape", "msle", keras.losses.mae, "cosine_similarity"])

    def my_metric(y_true, y_pred):
        return keras.ops.mean(keras.ops.abs(y_true - y_pred) ** 3)
    run("function_metric", yr, 2, None, "mse", [my_metric])

    inp = keras.Input((3,))
    o1 = L.Dense(1, activation="sigmoid", name="bin")(inp)
    o2 = L.Dense(2, name="reg")(inp)
    m = keras.Model(inp, [o1, o2])
    init_weights(m, 88)
    m.compile(optimizer="sgd", loss=["binary_crossentropy", "mse"],
              metrics=[["accuracy"], ["mae", "mse"]])
    h = m.fit(x, [yb, yr], epochs=2, batch_size=20, shuffle=False, verbose=0)
    res.update(history_dict(h, "two_outputs"))
    res["two_outputs/metrics_names"] = list(m.metrics_names)
    return res
