"""class_weight and sample_weight in fit, weighted_metrics vs metrics, sample weights in
evaluate, and a tf.data dataset yielding (x, y, sample_weight)."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(27)
    x = r.randn(120, 6).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.8).astype("int32")   # imbalanced
    res = {"positives": int(y.sum())}

    def make(seed, n_out=2):
        m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(n_out, activation="softmax")])
        init_weights(m, seed)
        return m

    m1 = make(28)
    m1.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
               metrics=["accuracy"], weighted_metrics=["accuracy"])
    h1 = m1.fit(x, y, class_weight={0: 1.0, 1: 4.0}, epochs=3, batch_size=32, shuffle=False,
                verbose=0)
    res.update(history_dict(h1, "class_weight"))
    res.update(weights_dict(m1, "class_weight_w"))

    m2 = make(28)
    sw = np.where(y == 1, 4.0, 1.0).astype("float32") * (0.5 + r.rand(120)).astype("float32")
    m2.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
               metrics=["accuracy"], weighted_metrics=["accuracy"])
    h2 = m2.fit(x, y, sample_weight=sw, epochs=3, batch_size=32, shuffle=False, verbose=0,
                validation_split=0.25)
    res.update(history_dict(h2, "sample_weight"))
    res.update(weights_dict(m2, "sample_weight_w"))
    res["evaluate_sw"] = m2.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    res["evaluate_nosw"] = m2.evaluate(x, y, verbose=0, return_dict=True)

    # binary model with a dataset of (x, y, w)
    m3 = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1, activation="sigmoid")])
    init_weights(m3, 29)
    m3.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="binary_crossentropy",
               weighted_metrics=["binary_accuracy"])
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype("float32")[:, None], sw)).batch(40)
    h3 = m3.fit(ds, epochs=3, verbose=0)
    res.update(history_dict(h3, "dataset_sw"))
    res.update(weights_dict(m3, "dataset_sw_w"))
    return res
