"""Crossentropy on saturated softmax / sigmoid outputs: Keras computes these losses from the
logits the activation saw (not from probabilities clipped to [1e-7, 1 - 1e-7]), which changes
both the loss and the gradient once predictions saturate - e.g. an over-confident classifier."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    r = rng(91)
    res = {}
    x = (r.randn(48, 5) * 6).astype("float32")
    ys = (r.rand(48) * 3).astype("int32")
    yc = np.eye(3, dtype="float32")[ys]
    yb = (r.rand(48, 1) > 0.5).astype("float32")
    for name, (act, units, loss, y) in {
            "softmax_cce": ("softmax", 3, "categorical_crossentropy", yc),
            "softmax_scce": ("softmax", 3, "sparse_categorical_crossentropy", ys),
            "sigmoid_bce": ("sigmoid", 1, "binary_crossentropy", yb),
            "sigmoid_focal": ("sigmoid", 1, keras.losses.BinaryFocalCrossentropy(gamma=1.5), yb),
            "softmax_layer": (None, 3, "categorical_crossentropy", yc)}.items():
        layers = [keras.Input((5,)), L.Dense(units, activation=act)]
        if act is None:
            layers.append(L.Softmax())
        m = keras.Sequential(layers)
        init_weights(m, 92, scale=8.0)        # large weights: saturated predictions
        m.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss,
                  metrics=[keras.metrics.BinaryCrossentropy(name="bce")] if units == 1 else
                  [keras.metrics.CategoricalCrossentropy(name="cce")] if y is yc else [])
        res[f"{name}/eval_before"] = m.evaluate(x, y, verbose=0, return_dict=True)
        h = m.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
        res.update(history_dict(h, f"{name}/history"))
        res.update(weights_dict(m, f"{name}/w"))
    # the functions directly, eagerly
    logits = np.array([[30.0, 0.0, -30.0], [1.0, 2.0, 3.0]], "float32")
    onehot = np.array([[0, 0, 1], [0, 1, 0]], "float32")
    res["fn/cce_softmax"] = keras.losses.categorical_crossentropy(
        onehot, keras.activations.softmax(tf.constant(logits)))
    res["fn/cce_probs"] = keras.losses.categorical_crossentropy(
        onehot, np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]], "float32"))
    res["fn/bce_sigmoid"] = keras.losses.binary_crossentropy(
        np.array([[0.0], [1.0]], "float32"), keras.ops.sigmoid(np.array([[40.0], [-40.0]],
                                                                         "float32")))
    with tf.GradientTape() as tape:
        z = tf.Variable(logits)
        loss = tf.reduce_sum(keras.losses.categorical_crossentropy(
            onehot, keras.activations.softmax(z)))
    res["fn/grad"] = tape.gradient(loss, z)
    return res
