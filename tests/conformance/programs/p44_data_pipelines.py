"""tf.data pipelines into fit/evaluate/predict: batched datasets of tuples and of dicts
(multi-input), repeat() with steps_per_epoch and validation_steps, a map() preprocessing
step, padded_batch for variable-length sequences, cache/prefetch."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    r = rng(111)
    res = {}
    x = r.randn(100, 4).astype("float32")
    y = (x @ np.array([[1.0], [2.0], [-1.0], [0.5]], "float32")).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a * 2.0, b))
    ds = ds.batch(16).cache().prefetch(tf.data.AUTOTUNE)
    m = keras.Sequential([keras.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1)])
    init_weights(m, 112)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    val = tf.data.Dataset.from_tensor_slices((x[:32] * 2, y[:32])).batch(8)
    h = m.fit(ds, epochs=3, validation_data=val, verbose=0)
    res.update(history_dict(h, "tuple"))
    res.update(weights_dict(m, "tuple_w"))
    res["tuple_eval"] = m.evaluate(ds, verbose=0, return_dict=True)
    res["tuple_predict"] = m.predict(ds, verbose=0)[:5]
    res["tuple_predict_shape"] = str(m.predict(ds, verbose=0).shape)

    m2 = keras.Sequential([keras.Input((4,)), L.Dense(1)])
    init_weights(m2, 113)
    m2.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    rep = tf.data.Dataset.from_tensor_slices((x, y)).batch(10).repeat()
    h2 = m2.fit(rep, epochs=3, steps_per_epoch=4, validation_data=rep, validation_steps=2,
                verbose=0)
    res.update(history_dict(h2, "repeat"))
    res.update(weights_dict(m2, "repeat_w"))

    a_in = keras.Input((4,), name="num")
    b_in = keras.Input((3,), name="cat", dtype="int32")
    e = L.Flatten()(L.Embedding(5, 2)(b_in))
    out = L.Dense(1, name="out")(L.Concatenate()([a_in, e]))
    m3 = keras.Model({"num": a_in, "cat": b_in}, out)
    init_weights(m3, 114)
    cats = r.randint(0, 5, size=(100, 3)).astype("int32")
    dd = tf.data.Dataset.from_tensor_slices(({"num": x, "cat": cats}, y)).batch(25)
    m3.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.5), loss="mse")
    h3 = m3.fit(dd, epochs=2, verbose=0)
    res.update(history_dict(h3, "dict"))
    res.update(weights_dict(m3, "dict_w"))
    res["dict_predict"] = m3.predict({"num": x[:3], "cat": cats[:3]}, verbose=0)

    seqs = [r.randint(1, 9, size=n).tolist() for n in (3, 6, 2, 5, 4, 6, 1, 3)]
    labels = np.array([len(s) > 3 for s in seqs], "float32")
    sd = tf.data.Dataset.from_generator(
        lambda: ((np.array(s, "int32"), l) for s, l in zip(seqs, labels)),
        output_signature=(tf.TensorSpec(shape=(None,), dtype=tf.int32),
                          tf.TensorSpec(shape=(), dtype=tf.float32))).padded_batch(4)
    m4 = keras.Sequential([keras.Input((None,), dtype="int32"),
                           L.Embedding(10, 3, mask_zero=True), L.GlobalAveragePooling1D(),
                           L.Dense(1, activation="sigmoid")])
    init_weights(m4, 115)
    m4.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy",
               metrics=["accuracy"])
    h4 = m4.fit(sd, epochs=3, verbose=0)
    res.update(history_dict(h4, "padded"))
    res.update(weights_dict(m4, "padded_w"))
    return res
