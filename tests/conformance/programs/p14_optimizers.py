"""Every optimizer over a few epochs (no shuffling) from the same initial weights: the weights,
the loss history and the optimizer's variable count."""
from _common import history_dict, init_weights, rng, weights_dict

OPTIMIZERS = {
    "sgd": lambda k: k.optimizers.SGD(0.05),
    "sgd_momentum": lambda k: k.optimizers.SGD(0.05, momentum=0.9),
    "sgd_nesterov": lambda k: k.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda k: k.optimizers.RMSprop(0.01),
    "rmsprop_centered": lambda k: k.optimizers.RMSprop(0.01, rho=0.8, momentum=0.5,
                                                       centered=True),
    "adam": lambda k: k.optimizers.Adam(0.01),
    "adam_amsgrad": lambda k: k.optimizers.Adam(0.01, beta_1=0.8, amsgrad=True),
    "adamw": lambda k: k.optimizers.AdamW(0.01, weight_decay=0.05),
    "adagrad": lambda k: k.optimizers.Adagrad(0.1),
    "adadelta": lambda k: k.optimizers.Adadelta(1.0),
    "adamax": lambda k: k.optimizers.Adamax(0.02),
    "nadam": lambda k: k.optimizers.Nadam(0.01),
    "ftrl": lambda k: k.optimizers.Ftrl(0.1, l1_regularization_strength=0.01,
                                        l2_regularization_strength=0.01),
    "lion": lambda k: k.optimizers.Lion(0.003),
    "string_adam": lambda k: "adam",
    "string_rmsprop": lambda k: "rmsprop",
}


def program(tf, keras, np):
    r = rng(33)
    x = r.randn(64, 6).astype("float32")
    y = np.tanh(x @ r.randn(6, 2)).astype("float32")
    res = {}
    for name, make_opt in OPTIMIZERS.items():
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                                  keras.layers.Dense(2)])
        init_weights(model, 34)
        opt = make_opt(keras)
        model.compile(optimizer=opt, loss="mse")
        h = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
        res.update(history_dict(h, f"{name}/history"))
        res.update(weights_dict(model, f"{name}/w"))
        res[f"{name}/n_vars"] = len(model.optimizer.variables)
        res[f"{name}/iterations"] = int(model.optimizer.iterations.numpy())
        res[f"{name}/class"] = type(model.optimizer).__name__
        cfg = model.optimizer.get_config()
        res[f"{name}/config_keys"] = sorted(cfg)
        res[f"{name}/config_lr"] = float(cfg["learning_rate"])
    return res
