"""evaluate/predict details: batch sizes that don't divide, steps, return_dict, list order,
predict on a Dataset, predict output shapes/dtypes for several heads, validation_split
taking the last samples, validation_freq."""
from _common import history_dict, init_weights, rng, weights_dict, dtype_name


def program(tf, keras, np):
    r = rng(30)
    x = r.randn(53, 5).astype("float32")
    y = r.randn(53, 2).astype("float32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="elu"),
                              keras.layers.Dense(2)])
    init_weights(model, 31)
    model.compile(optimizer=keras.optimizers.Adagrad(0.1), loss="huber",
                  metrics=["mse", "mae", keras.metrics.CosineSimilarity(name="cos")])
    res = {}
    res["eval_before"] = model.evaluate(x, y, batch_size=10, verbose=0, return_dict=True)
    h = model.fit(x, y, batch_size=10, epochs=4, validation_split=0.3, shuffle=False,
                  validation_freq=2, verbose=0)
    res.update(history_dict(h))
    res.update(weights_dict(model))
    res["eval_list"] = np.array(model.evaluate(x, y, batch_size=7, verbose=0))
    res["eval_steps"] = model.evaluate(x, y, batch_size=10, steps=3, verbose=0,
                                       return_dict=True)
    p = model.predict(x, batch_size=8, verbose=0)
    res["predict"] = p
    res["predict_dtype"] = dtype_name(p)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(16)
    res["predict_ds"] = model.predict(ds, verbose=0)
    res["predict_on_batch"] = model.predict_on_batch(x[:4])
    res["predict_1"] = model.predict(x[:1], verbose=0)
    res["call_numpy_dtype"] = dtype_name(model(x[:2]))
    # float64 input is cast to the layer dtype
    p64 = model.predict(x.astype("float64")[:3], verbose=0)
    res["predict_f64_in"] = p64
    res["predict_f64_dtype"] = dtype_name(p64)

    # two-output functional model: predict returns a list
    inp = keras.Input((5,))
    a = keras.layers.Dense(3, name="a")(inp)
    b = keras.layers.Dense(1, activation="sigmoid", name="b")(inp)
    m2 = keras.Model(inp, [a, b])
    init_weights(m2, 32)
    out = m2.predict(x, batch_size=20, verbose=0)
    res["two_out_type"] = type(out).__name__
    res["two_out_0"] = out[0]
    res["two_out_1"] = out[1]
    m2.compile(optimizer="sgd", loss=["mse", "binary_crossentropy"], loss_weights=[0.5, 2.0],
               metrics=[["mae"], ["accuracy"]])
    yb = (r.rand(53, 1) > 0.5).astype("float32")
    res["two_eval"] = m2.evaluate(x, [y[:, :1].repeat(3, 1), yb], verbose=0, return_dict=True)
    res["two_eval_list"] = np.array(m2.evaluate(x, [y[:, :1].repeat(3, 1), yb], verbose=0))
    h2 = m2.fit(x, [y[:, :1].repeat(3, 1), yb], epochs=2, batch_size=16, shuffle=False,
                verbose=0)
    res.update(history_dict(h2, "two_history"))
    return res
