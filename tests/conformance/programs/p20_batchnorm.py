"""BatchNormalization: training vs inference outputs, moving statistics after fit, momentum /
epsilon / center / scale options, axis=1, trainable=False behaving as inference (Keras 3),
LayerNormalization and GroupNormalization alongside."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(52)
    L = keras.layers
    x = (r.randn(32, 5) * 3 + 1).astype("float32")
    y = (x[:, :2].sum(1, keepdims=True) > 2).astype("float32")
    res = {}
    bn = L.BatchNormalization(momentum=0.9, epsilon=1e-3)
    bn.build((None, 5))
    res["bn/weight_names"] = [w.name for w in bn.weights]
    res["bn/n_trainable"] = len(bn.trainable_weights)
    res["bn/train_out"] = bn(x, training=True)
    res["bn/moving_mean_after_1"] = bn.moving_mean.numpy()
    res["bn/moving_var_after_1"] = bn.moving_variance.numpy()
    res["bn/infer_out"] = bn(x, training=False)
    res["bn/default_out"] = bn(x)
    bn.trainable = False
    res["bn/frozen_train_out"] = bn(x, training=True)
    res["bn/moving_mean_frozen"] = bn.moving_mean.numpy()

    x4 = r.randn(4, 3, 5, 5).astype("float32")
    bn2 = L.BatchNormalization(axis=1, center=False, scale=False)
    res["bn_axis1/train"] = bn2(x4, training=True)
    res["bn_axis1/nweights"] = len(bn2.weights)
    res["bn_axis1/mm"] = bn2.moving_mean.numpy()

    ln = L.LayerNormalization(epsilon=1e-5)
    res["ln"] = ln(x)
    ln2 = L.LayerNormalization(axis=[1, 2], rms_scaling=False)
    res["ln_multi_axis"] = ln2(x4)
    if hasattr(L, "GroupNormalization"):
        gn = L.GroupNormalization(groups=1, axis=1)
        res["gn"] = gn(x4)

    model = keras.Sequential([keras.Input((5,)), L.Dense(8, use_bias=False), L.BatchNormalization(),
                              L.Activation("relu"), L.Dense(1, activation="sigmoid")])
    init_weights(model, 53)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                  validation_data=(x[:16], y[:16]))
    res.update(history_dict(h))
    res.update(weights_dict(model))
    res["predict"] = model.predict(x[:6], verbose=0)
    res["call_training"] = model(x[:6], training=True)
    res["n_non_trainable"] = len(model.non_trainable_weights)
    # a bias just before BatchNormalization gets a zero gradient up to rounding: Adam turns
    # that rounding noise into steps, so only its forward effect is compared (loosely)
    m2 = keras.Sequential([keras.Input((5,)), L.Dense(8), L.BatchNormalization(),
                           L.Dense(1)])
    init_weights(m2, 54)
    m2.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    h2 = m2.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    res.update(history_dict(h2, "with_bias"))
    res.update(weights_dict(m2, "with_bias_w"))
    return res
