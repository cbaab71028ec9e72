"""Merging and reshaping layers in functional graphs: Add, Subtract, Multiply, Average,
Maximum, Minimum, Concatenate(axis), Dot(axes, normalize), Reshape(-1), Permute,
RepeatVector, Flatten, Lambda, Cropping1D, UpSampling1D, ZeroPadding1D; plus their output
shapes on symbolic inputs."""
from _common import init_weights, rng


def program(tf, keras, np):
    L = keras.layers
    r = rng(70)
    a = r.randn(3, 4).astype("float32")
    b = r.randn(3, 4).astype("float32")
    c = r.randn(3, 4).astype("float32")
    res = {}
    for name, layer in {"add": L.Add(), "sub": L.Subtract(), "mul": L.Multiply(),
                        "avg": L.Average(), "max": L.Maximum(), "min": L.Minimum(),
                        "concat": L.Concatenate(), "concat0": L.Concatenate(axis=0),
                        "dot": L.Dot(axes=1), "dot_norm": L.Dot(axes=-1, normalize=True)
                        }.items():
        inputs = [a, b] if name in ("sub", "dot", "dot_norm") else [a, b, c]
        res[f"eager/{name}"] = layer(inputs)
        syms = [keras.Input((4,)) for _ in inputs]
        res[f"symbolic_shape/{name}"] = str(tuple(layer(syms).shape))
    res["fn/add"] = L.add([a, b])
    res["fn/concatenate"] = L.concatenate([a, b], axis=-1)
    x3 = r.randn(2, 3, 4).astype("float32")
    y3 = r.randn(2, 5, 4).astype("float32")
    res["dot3d"] = L.Dot(axes=(2, 2))([x3, y3])
    res["dot3d_shape"] = str(tuple(L.Dot(axes=(2, 2))([keras.Input((3, 4)),
                                                        keras.Input((5, 4))]).shape))
    for name, layer in {"reshape": L.Reshape((4, 3)), "reshape_neg": L.Reshape((-1, 2)),
                        "permute": L.Permute((2, 1)), "flatten": L.Flatten(),
                        "crop1d": L.Cropping1D((1, 0)), "up1d": L.UpSampling1D(2),
                        "pad1d": L.ZeroPadding1D(2),
                        "lambda": L.Lambda(lambda t: t[:, ::-1] * 2.0)}.items():
        res[f"reshape/{name}"] = layer(x3)
        res[f"reshape_shape/{name}"] = str(tuple(layer(keras.Input((3, 4))).shape))
    res["repeat"] = L.RepeatVector(3)(a)
    res["repeat_shape"] = str(tuple(L.RepeatVector(3)(keras.Input((4,))).shape))

    # a small functional graph combining them, trained one step
    i1, i2 = keras.Input((4,), name="i1"), keras.Input((4,), name="i2")
    h1 = L.Dense(4, name="h1")(i1)
    h2 = L.Dense(4, name="h2")(i2)
    merged = L.Concatenate()([L.Add()([h1, h2]), L.Multiply()([h1, h2]),
                              L.Dot(axes=1, normalize=True)([h1, h2])])
    out = L.Dense(1, name="out")(L.Reshape((9,))(L.RepeatVector(1)(merged)))
    m = keras.Model([i1, i2], out)
    init_weights(m, 71)
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    res["train_loss"] = m.train_on_batch([a, b], c[:, :1])
    res["after"] = m.predict([a, b], verbose=0)
    res["graph_layers"] = [type(l).__name__ for l in m.layers]
    return res
