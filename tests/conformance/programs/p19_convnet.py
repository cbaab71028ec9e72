"""Convolutional nets: the "simple MNIST convnet" shape on small random images (Conv2D,
MaxPooling2D, Flatten, Dropout, Dense), plus Conv1D, SeparableConv2D, DepthwiseConv2D,
Conv2DTranspose, strides/padding/dilation, pooling variants, in forward and training."""
from _common import error_of, history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(47)
    L = keras.layers
    x = r.rand(40, 12, 12, 1).astype("float32")
    y = (x[:, :6].mean((1, 2, 3)) > x[:, 6:].mean((1, 2, 3))).astype("int32") + \
        (x[:, :, :6].mean((1, 2, 3)) > 0.5).astype("int32")
    model = keras.Sequential([
        keras.Input(shape=(12, 12, 1)),
        L.Conv2D(4, kernel_size=(3, 3), activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Conv2D(6, kernel_size=(3, 3), activation="relu", padding="same"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Flatten(),
        L.Dropout(0.5),
        L.Dense(3, activation="softmax"),
    ])
    init_weights(model, 48)
    res = {"output_shapes": [str(l.output.shape) for l in model.layers],
           "n_params": model.count_params()}
    res["eval_before_compile/error"] = error_of(lambda: model.evaluate(x, y, verbose=0))
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(0.1, momentum=0.9), metrics=["accuracy"])
    res["eval_compiled"] = model.evaluate(x, y, verbose=0)
    res["predict"] = model.predict(x[:5], verbose=0)

    # forward passes of assorted conv layers
    xi = r.randn(2, 9, 9, 3).astype("float32")
    convs = {
        "conv_valid_s2": L.Conv2D(4, 3, strides=2),
        "conv_same_s2": L.Conv2D(4, 3, strides=2, padding="same", use_bias=False),
        "conv_dilated": L.Conv2D(2, 3, dilation_rate=2, activation="tanh"),
        "conv_groups": L.Conv2D(6, 3, groups=3),
        "sep": L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same"),
        "depthwise": L.DepthwiseConv2D(3, depth_multiplier=2, strides=2),
        "transpose": L.Conv2DTranspose(3, 3, strides=2),
        "transpose_same": L.Conv2DTranspose(2, 4, strides=2, padding="same"),
        "maxpool_same": L.MaxPooling2D(3, strides=2, padding="same"),
        "avgpool": L.AveragePooling2D(2),
        "avgpool_same": L.AveragePooling2D(3, strides=2, padding="same"),
        "gap": L.GlobalAveragePooling2D(),
        "gmp_keep": L.GlobalMaxPooling2D(keepdims=True),
        "zeropad": L.ZeroPadding2D(((1, 0), (2, 1))),
        "upsample": L.UpSampling2D(2),
        "upsample_bilinear": L.UpSampling2D(2, interpolation="bilinear"),
        "cropping": L.Cropping2D(((1, 2), (0, 1))),
    }
    for name, layer in convs.items():
        inp = keras.Input((9, 9, 3))
        m = keras.Model(inp, layer(inp))
        if m.weights:
            init_weights(m, 49)
        res[f"fwd/{name}"] = m(xi)
        res[f"shape/{name}"] = str(tuple(m.output.shape))
    x1 = r.randn(3, 10, 2).astype("float32")
    for name, layer in {"conv1d": L.Conv1D(3, 3), "conv1d_causal": L.Conv1D(2, 2,
                        padding="causal", dilation_rate=2), "conv1d_same_s2": L.Conv1D(
                        4, 3, strides=2, padding="same"), "maxpool1d": L.MaxPooling1D(2),
                        "avgpool1d": L.AveragePooling1D(3, strides=1, padding="same"),
                        "gap1d": L.GlobalAveragePooling1D(), "gmp1d": L.GlobalMaxPooling1D()
                        }.items():
        inp = keras.Input((10, 2))
        m = keras.Model(inp, layer(inp))
        if m.weights:
            init_weights(m, 50)
        res[f"fwd/{name}"] = m(x1)

    # train a small all-conv model (deterministic: no dropout)
    m = keras.Sequential([keras.Input((12, 12, 1)), L.Conv2D(3, 3, strides=2, padding="same",
                                                              activation="relu"),
                          L.SeparableConv2D(4, 3, activation="relu"),
                          L.GlobalAveragePooling2D(), L.Dense(3)])
    init_weights(m, 51)
    m.compile(optimizer=keras.optimizers.Adam(0.01),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    h = m.fit(x, y, epochs=3, batch_size=10, shuffle=False, verbose=0)
    res.update(history_dict(h))
    res.update(weights_dict(m))
    return res
