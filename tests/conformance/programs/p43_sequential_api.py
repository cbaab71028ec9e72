"""Sequential/functional model API details (keras.io "The Sequential model"): add / pop,
layers, inputs / outputs, input_shape / output_shape, get_layer by name and index, a
feature-extraction model built from `layer.output`s, model.build(), a model used as a layer,
weights of Sequential built lazily from data."""
from _common import error_of, init_weights, rng


def program(tf, keras, np):
    L = keras.layers
    r = rng(109)
    x = r.randn(4, 6).astype("float32")
    res = {}
    model = keras.Sequential(name="seq")
    model.add(keras.Input(shape=(6,)))
    model.add(L.Dense(5, activation="relu", name="d1"))
    model.add(L.Dense(4, activation="relu", name="d2"))
    model.add(L.Dense(3, name="d3"))
    res["n_layers"] = len(model.layers)
    res["layer_names"] = [l.name for l in model.layers]
    model.pop()
    res["after_pop"] = [l.name for l in model.layers]
    model.add(L.Dense(2, name="d4"))
    init_weights(model, 110)
    res["input_shape"] = str(model.input_shape)
    res["output_shape"] = str(model.output_shape)
    res["inputs"] = [str(tuple(t.shape)) for t in model.inputs]
    res["outputs"] = [str(tuple(t.shape)) for t in model.outputs]
    res["get_layer_name"] = model.get_layer("d2").name
    res["get_layer_index"] = model.get_layer(index=0).name
    res["get_layer_missing/error"] = error_of(lambda: model.get_layer("nope"))
    extractor = keras.Model(inputs=model.inputs, outputs=[l.output for l in model.layers])
    feats = extractor(x)
    res["n_features"] = len(feats)
    for i, f in enumerate(feats):
        res[f"feature/{i}"] = f
    mid = keras.Model(inputs=model.inputs, outputs=model.get_layer("d2").output)
    res["mid"] = mid(x)
    res["seq_out"] = model(x)

    lazy = keras.Sequential([L.Dense(3, name="lazy1"), L.Dense(2, name="lazy2")])
    res["lazy_built_before"] = lazy.built
    res["lazy_weights_before"] = len(lazy.weights)
    lazy.build((None, 6))
    res["lazy_built_after"] = lazy.built
    res["lazy_weights_after"] = len(lazy.weights)
    res["lazy_output_shape"] = str(lazy.output_shape)
    lazy2 = keras.Sequential([L.Dense(3), L.Dense(2)])
    lazy2(x)
    res["lazy2_weights"] = len(lazy2.weights)
    res["lazy2_input_shape"] = str(lazy2.layers[0].input.shape) if hasattr(
        lazy2.layers[0], "input") else "none"

    # model as a layer, twice (shared weights)
    inp1, inp2 = keras.Input((6,)), keras.Input((6,))
    combo = keras.Model([inp1, inp2], L.Concatenate()([model(inp1), model(inp2)]))
    res["combo"] = combo([x, x[::-1]])
    res["combo_weights"] = len(combo.weights)
    res["combo_layers"] = [type(l).__name__ for l in combo.layers]
    res["trainable_variables"] = len(combo.trainable_variables)
    return res
