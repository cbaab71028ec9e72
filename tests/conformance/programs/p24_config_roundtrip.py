"""get_config / from_config: layer configs (keys and values), Sequential and functional model
configs rebuilt with from_config / clone_model, producing the same outputs after set_weights;
optimizer, loss and metric configs; keras.utils.serialize_keras_object."""
from _common import init_weights, rng


def norm(v):
    """A comparable representation of a config value."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {norm(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(norm(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(round(v, 6))
    return repr(v)


def program(tf, keras, np):
    L = keras.layers
    res = {}
    layers = {
        "dense": L.Dense(3, activation="relu", use_bias=False,
                         kernel_regularizer=keras.regularizers.L2(0.01)),
        "conv2d": L.Conv2D(4, (3, 3), strides=2, padding="same"),
        "lstm": L.LSTM(5, return_sequences=True, dropout=0.1),
        "gru": L.GRU(2),
        "embedding": L.Embedding(10, 4, mask_zero=True),
        "bn": L.BatchNormalization(momentum=0.9),
        "ln": L.LayerNormalization(),
        "dropout": L.Dropout(0.25, seed=3),
        "reshape": L.Reshape((2, -1)),
        "mha": L.MultiHeadAttention(num_heads=2, key_dim=4),
        "bidi": L.Bidirectional(L.LSTM(3)),
        "activation": L.Activation("softmax"),
        "leaky": L.LeakyReLU(negative_slope=0.1),
        "rescaling": L.Rescaling(1 / 255.0),
        "concat": L.Concatenate(axis=1),
        "pool": L.MaxPooling2D(),
        "flatten": L.Flatten(),
    }
    for name, layer in layers.items():
        cfg = layer.get_config()
        res[f"layer_keys/{name}"] = sorted(cfg)
        res[f"layer_cfg/{name}"] = norm({k: v for k, v in cfg.items() if k != "name"})
        clone = type(layer).from_config(cfg)
        res[f"layer_roundtrip/{name}"] = norm(
            {k: v for k, v in clone.get_config().items() if k != "name"}) == res[
            f"layer_cfg/{name}"]

    r = rng(58)
    x = r.randn(4, 6).astype("float32")
    seq = keras.Sequential([keras.Input((6,)), L.Dense(5, activation="tanh"),
                            L.Dense(2)], name="seq_cfg")
    init_weights(seq, 59)
    cfg = seq.get_config()
    res["seq/keys"] = sorted(cfg)
    res["seq/layer_classes"] = [l["class_name"] for l in cfg["layers"]]
    res["seq/layer0_config"] = norm(cfg["layers"][0]["config"])
    res["seq/layer1"] = norm({k: v for k, v in cfg["layers"][1].items() if k != "config"})
    seq2 = keras.Sequential.from_config(cfg)
    seq2.set_weights(seq.get_weights())
    res["seq/same_output"] = np.asarray(seq2(x)) - np.asarray(seq(x))

    inp = keras.Input((6,), name="x")
    a = L.Dense(4, name="a")(inp)
    b = L.Dense(4, name="b")(inp)
    out = L.Add(name="add")([a, b])
    func = keras.Model(inp, out, name="func_cfg")
    init_weights(func, 60)
    fcfg = func.get_config()
    res["func/keys"] = sorted(fcfg)
    res["func/input_layers"] = norm(fcfg["input_layers"])
    res["func/output_layers"] = norm(fcfg["output_layers"])
    res["func/layer_inbound"] = [norm(l["inbound_nodes"]) for l in fcfg["layers"]]
    func2 = keras.Model.from_config(fcfg)
    func2.set_weights(func.get_weights())
    res["func/same_output"] = np.asarray(func2(x)) - np.asarray(func(x))
    clone = keras.models.clone_model(func)
    res["func/clone_nweights"] = len(clone.weights)
    res["func/clone_names"] = [l.name for l in clone.layers]

    opt = keras.optimizers.Adam(learning_rate=0.003, beta_1=0.8, clipnorm=1.0)
    res["opt_cfg"] = norm(opt.get_config())
    opt2 = keras.optimizers.Adam.from_config(opt.get_config())
    res["opt_roundtrip"] = norm(opt2.get_config()) == res["opt_cfg"]
    res["opt_serialized"] = norm(keras.optimizers.serialize(opt))
    res["loss_cfg"] = norm(keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=0.1).get_config())
    res["metric_cfg"] = norm(keras.metrics.AUC(num_thresholds=50).get_config())
    res["serialize_dense"] = norm(keras.utils.serialize_keras_object(L.Dense(2, name="dd")))
    res["initializer_cfg"] = norm(keras.initializers.HeNormal(seed=1).get_config())
    res["regularizer_cfg"] = norm(keras.regularizers.L1L2(l1=0.1, l2=0.2).get_config())
    return res
