"""keras.io "Transfer learning & fine-tuning": a base model with BatchNormalization frozen
(trainable=False also runs BN in inference mode), a new head trained, then the base unfrozen
and the whole model recompiled and fine-tuned with a low learning rate; the
trainable / non-trainable weight lists at each stage."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    r = rng(99)
    x = r.rand(64, 8, 8, 3).astype("float32")
    y = (x[..., 0].mean((1, 2)) > x[..., 1].mean((1, 2))).astype("float32")[:, None]
    base = keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 3, padding="same", use_bias=False),
                             L.BatchNormalization(), L.Activation("relu"),
                             L.GlobalAveragePooling2D()], name="base")
    init_weights(base, 100)
    base.trainable = False
    res = {"frozen/base_trainable": len(base.trainable_weights),
           "frozen/base_non_trainable": len(base.non_trainable_weights)}
    inputs = keras.Input((8, 8, 3))
    h = L.Rescaling(2.0, offset=-1.0)(inputs)
    h = base(h, training=False)
    outputs = L.Dense(1)(h)
    model = keras.Model(inputs, outputs)
    init_weights(model, 101)
    res["frozen/model_trainable"] = len(model.trainable_weights)
    res["frozen/model_non_trainable"] = len(model.non_trainable_weights)
    bn_before = [w.copy() for w in base.layers[1].get_weights()]
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
    h1 = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    res.update(history_dict(h1, "head"))
    res["head/bn_unchanged"] = all(np.array_equal(a, b) for a, b in
                                   zip(bn_before, base.layers[1].get_weights()))
    base.trainable = True
    res["unfrozen/model_trainable"] = len(model.trainable_weights)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
    h2 = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    res.update(history_dict(h2, "finetune"))
    res.update(weights_dict(model))
    # base called with training=False in the graph: moving statistics stay put
    res["finetune/bn_moving_unchanged"] = bool(np.array_equal(
        bn_before[2], base.layers[1].get_weights()[2]))
    res["predict"] = model.predict(x[:4], verbose=0)
    # a layer frozen after compile takes effect at the next compile only (Keras 3)
    model.layers[-1].trainable = False
    w_before = model.layers[-1].get_weights()[0].copy()
    model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    res["frozen_after_compile_moved"] = not np.array_equal(
        w_before, model.layers[-1].get_weights()[0])
    return res
