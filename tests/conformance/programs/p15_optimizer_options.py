"""Optimizer options: clipnorm, clipvalue, global_clipnorm, weight_decay on non-AdamW,
exclude_from_weight_decay, the three schedules, EMA, gradient_accumulation_steps, and
apply_gradients used directly on variables."""
from _common import history_dict, init_weights, rng, weights_dict

CASES = {
    "clipnorm": lambda k: k.optimizers.SGD(0.1, clipnorm=0.05),
    "clipvalue": lambda k: k.optimizers.Adam(0.05, clipvalue=0.01),
    "global_clipnorm": lambda k: k.optimizers.RMSprop(0.01, global_clipnorm=0.1),
    "sgd_weight_decay": lambda k: k.optimizers.SGD(0.1, weight_decay=0.1),
    "exp_decay": lambda k: k.optimizers.SGD(k.optimizers.schedules.ExponentialDecay(
        0.2, decay_steps=2, decay_rate=0.7)),
    "piecewise": lambda k: k.optimizers.Adam(k.optimizers.schedules.PiecewiseConstantDecay(
        [3, 6], [0.05, 0.01, 0.002])),
    "cosine": lambda k: k.optimizers.Adam(k.optimizers.schedules.CosineDecay(
        0.05, decay_steps=8, alpha=0.1)),
    "cosine_warmup": lambda k: k.optimizers.SGD(k.optimizers.schedules.CosineDecay(
        0.0, decay_steps=6, warmup_target=0.2, warmup_steps=3)),
    "ema": lambda k: k.optimizers.Adam(0.02, use_ema=True, ema_momentum=0.5,
                                       ema_overwrite_frequency=3),
    "accumulate": lambda k: k.optimizers.SGD(0.1, gradient_accumulation_steps=2),
}


def program(tf, keras, np):
    r = rng(35)
    x = r.randn(48, 4).astype("float32") * 2
    y = (x ** 2 @ r.randn(4, 1)).astype("float32")
    res = {}
    for name, make in CASES.items():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"),
                                  keras.layers.Dense(1)])
        init_weights(model, 36)
        model.compile(optimizer=make(keras), loss="mse")
        h = model.fit(x, y, epochs=3, batch_size=12, shuffle=False, verbose=0)
        res.update(history_dict(h, f"{name}/history"))
        res.update(weights_dict(model, f"{name}/w"))
        res[f"{name}/iterations"] = int(model.optimizer.iterations.numpy())

    # exclude_from_weight_decay on AdamW
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="keep"),
                              keras.layers.Dense(1, name="out")])
    init_weights(model, 37)
    opt = keras.optimizers.AdamW(0.05, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, epochs=2, batch_size=24, shuffle=False, verbose=0)
    res.update(weights_dict(model, "adamw_exclude/w"))

    # schedules called directly
    s = keras.optimizers.schedules.ExponentialDecay(1.0, decay_steps=4, decay_rate=0.5)
    res["sched/exp"] = np.array([float(s(i)) for i in range(6)])
    s = keras.optimizers.schedules.PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.1])
    res["sched/piecewise"] = np.array([float(s(i)) for i in range(6)])
    s = keras.optimizers.schedules.CosineDecay(1.0, decay_steps=5, alpha=0.2)
    res["sched/cosine"] = np.array([float(s(i)) for i in range(7)])
    res["sched/cosine_config"] = sorted(s.get_config())

    # apply_gradients on plain variables
    v = tf.Variable([1.0, -2.0, 3.0])
    w = tf.Variable([[0.5, 0.5]])
    opt = keras.optimizers.Adam(0.1)
    for i in range(3):
        opt.apply_gradients([(tf.constant([0.1, -0.2, 0.3]) * (i + 1), v),
                             (tf.constant([[1.0, -1.0]]), w)])
    res["apply/v"] = v.numpy()
    res["apply/w"] = w.numpy()
    res["apply/iterations"] = int(opt.iterations.numpy())
    # minimize with a loss callable (tf.keras style)
    z = tf.Variable(3.0)
    opt2 = keras.optimizers.SGD(0.1)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = (z - 1.0) ** 2
        opt2.apply_gradients(zip(tape.gradient(loss, [z]), [z]))
    res["apply/z"] = float(z.numpy())
    return res
