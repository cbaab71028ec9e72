"""Embedding trained with Adam / RMSprop / Adagrad: TensorFlow's gradient of a gather is an
IndexedSlices with one row per lookup, and Keras applies `square(gradient)` to its rows
before they are summed, so repeated ids in a batch update the second moments differently
from the dense sum-then-square rule. Checks tenfold reproduces TensorFlow's numbers."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(67)
    L = keras.layers
    tokens = r.randint(0, 12, size=(48, 6))
    y = (tokens.sum(1) > 33).astype("float32")
    res = {}
    for name, make in {"adam": lambda: keras.optimizers.Adam(0.05),
                       "rmsprop": lambda: keras.optimizers.RMSprop(0.02),
                       "adagrad": lambda: keras.optimizers.Adagrad(0.2)}.items():
        model = keras.Sequential([keras.Input((6,), dtype="int32"), L.Embedding(12, 4),
                                  L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")])
        init_weights(model, 68)
        model.compile(optimizer=make(), loss="binary_crossentropy")
        h = model.fit(tokens, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        res.update(history_dict(h, f"{name}/history"))
        res.update(weights_dict(model, f"{name}/w"))
    # a batch where every id appears once: the two rules agree
    model = keras.Sequential([keras.Input((6,), dtype="int32"), L.Embedding(12, 4),
                              L.GlobalAveragePooling1D(), L.Dense(1)])
    init_weights(model, 69)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    uniq = np.arange(12).reshape(2, 6)
    model.fit(uniq, np.array([[1.0], [0.0]], "float32"), epochs=2, batch_size=2,
              shuffle=False, verbose=0)
    res.update(weights_dict(model, "unique_ids/w"))
    return res
