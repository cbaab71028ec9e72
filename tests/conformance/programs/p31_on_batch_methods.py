"""train_on_batch / test_on_batch / predict_on_batch with return_dict, reset_metrics,
class_weight and sample_weight on batches, metrics accumulating across calls."""
from _common import init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(74)
    x = r.randn(32, 5).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    init_weights(model, 75)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    res = {}
    outs = []
    for i in range(4):
        outs.append(model.train_on_batch(x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8]))
    res["train_list"] = np.array(outs)
    res["train_dict"] = model.train_on_batch(x[:8], y[:8], return_dict=True)
    res["train_cw"] = model.train_on_batch(x[8:16], y[8:16], class_weight={0: 0.5, 1: 2.0},
                                           return_dict=True)
    res["train_sw"] = model.train_on_batch(x[16:24], y[16:24],
                                           sample_weight=np.linspace(0, 1, 8), return_dict=True)
    model.reset_metrics()
    res["test"] = model.test_on_batch(x, y, return_dict=True)
    res["test_list"] = np.array(model.test_on_batch(x[:10], y[:10]))
    res["predict"] = model.predict_on_batch(x[:3])
    res["predict_type"] = type(res["predict"]).__name__
    res.update(weights_dict(model))
    res["iterations"] = int(model.optimizer.iterations.numpy())
    # loss-only model: scalars, not lists
    m2 = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    init_weights(m2, 76)
    m2.compile(optimizer="sgd", loss="mse")
    res["scalar_train"] = m2.train_on_batch(x, y.astype("float32"))
    res["scalar_train_type"] = type(res["scalar_train"]).__name__
    res["scalar_test"] = m2.test_on_batch(x, y.astype("float32"))
    return res
