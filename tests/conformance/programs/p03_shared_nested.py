"""Shared layers and nested models: a siamese encoder used twice, a Sequential inside a
functional model, get_weights order, trainable flags (keras.io "Functional API": shared layers,
"all models are callable")."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(4)
    a = r.rand(64, 8).astype("float32")
    b = r.rand(64, 8).astype("float32")
    y = (np.abs(a - b).sum(1) < 2.6).astype("float32")

    encoder = keras.Sequential([
        keras.Input(shape=(8,)),
        keras.layers.Dense(12, activation="relu"),
        keras.layers.Dense(6),
    ], name="encoder")
    in_a = keras.Input(shape=(8,), name="a")
    in_b = keras.Input(shape=(8,), name="b")
    ea, eb = encoder(in_a), encoder(in_b)
    diff = keras.layers.Subtract()([ea, eb])
    diff = keras.layers.Lambda(lambda t: keras.ops.abs(t), name="absdiff")(diff)
    shared_head = keras.layers.Dense(4, activation="tanh", name="shared_head")
    h = keras.layers.Add()([shared_head(diff), shared_head(keras.layers.Multiply()([ea, eb]))])
    out = keras.layers.Dense(1, activation="sigmoid", name="score")(h)
    model = keras.Model([in_a, in_b], out)
    init_weights(model, 5)
    res = {"n_weights": len(model.weights), "n_params": model.count_params(),
           "shapes": np.array([str(tuple(w.shape)) for w in model.get_weights()]),
           "layer_names": [l.name for l in model.layers],
           "encoder_weight_count": len(encoder.weights)}
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5), loss="binary_crossentropy",
                  metrics=["binary_accuracy"])
    hist = model.fit([a, b], y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    res.update(history_dict(hist))
    res.update(weights_dict(model))
    # freeze the encoder: its weights must not move, the rest must
    encoder.trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    before = [w.copy() for w in encoder.get_weights()]
    hist2 = model.fit([a, b], y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    res["frozen_unchanged"] = all(np.array_equal(x, z)
                                  for x, z in zip(before, encoder.get_weights()))
    res["n_trainable"] = len(model.trainable_weights)
    res["n_non_trainable"] = len(model.non_trainable_weights)
    res.update(history_dict(hist2, "history2"))
    res.update(weights_dict(model, "w2"))
    res["encoder_direct"] = encoder(a[:4])
    res["predict"] = model.predict([a[:5], b[:5]], verbose=0)
    return res
