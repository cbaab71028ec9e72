"""ReduceLROnPlateau and LearningRateScheduler: the learning rate each epoch (History has a
"learning_rate" entry in Keras 3), the optimizer's final learning rate, the weights."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(23)
    x = r.randn(64, 3).astype("float32")
    y = (x[:, :1] * 2 - x[:, 1:2] + 0.3 * r.randn(64, 1)).astype("float32")

    def make(seed):
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1)])
        init_weights(m, seed)
        return m

    res = {}
    m1 = make(24)
    m1.compile(optimizer=keras.optimizers.SGD(0.2), loss="mse")
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1,
                                                min_delta=0.05, min_lr=0.01, cooldown=1)
    h1 = m1.fit(x, y, epochs=10, batch_size=16, shuffle=False, verbose=0, callbacks=[plateau])
    res.update(history_dict(h1, "plateau"))
    res.update(weights_dict(m1, "plateau_w"))
    res["plateau_final_lr"] = float(np.asarray(m1.optimizer.learning_rate))

    def scheduler(epoch, lr):
        if epoch < 2:
            return lr
        return float(lr * np.exp(-0.5))

    m2 = make(25)
    m2.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mse"])
    sched = keras.callbacks.LearningRateScheduler(scheduler)
    h2 = m2.fit(x, y, epochs=5, batch_size=32, shuffle=False, verbose=0, callbacks=[sched])
    res.update(history_dict(h2, "sched"))
    res.update(weights_dict(m2, "sched_w"))
    res["sched_final_lr"] = float(np.asarray(m2.optimizer.learning_rate))

    # a schedule object as the learning rate: History has no learning_rate entry to set
    m3 = make(26)
    lr = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5,
                                                     staircase=True)
    m3.compile(optimizer=keras.optimizers.SGD(lr, momentum=0.5), loss="mae")
    h3 = m3.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0)
    res.update(history_dict(h3, "decay"))
    res.update(weights_dict(m3, "decay_w"))
    res["decay_lr_now"] = float(np.asarray(m3.optimizer.learning_rate))
    return res
