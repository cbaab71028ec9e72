"""Losses as objects, as functions and by string name: from_logits, label_smoothing,
reductions, sample weights, axis; and in compile (the loss a fit reports)."""
from _common import error_of, history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(38)
    L = keras.losses
    logits = r.randn(6, 4).astype("float32") * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    onehot = np.eye(4, dtype="float32")[r.randint(0, 4, 6)]
    sparse = onehot.argmax(1)
    yb = (r.rand(6, 3) > 0.5).astype("float32")
    pb_logits = r.randn(6, 3).astype("float32")
    pb = 1 / (1 + np.exp(-pb_logits))
    yr = r.randn(6, 3).astype("float32")
    pr = r.randn(6, 3).astype("float32")
    sw = r.rand(6).astype("float32")
    res = {}
    cases = {
        "cce": (L.CategoricalCrossentropy(), onehot, probs),
        "cce_logits": (L.CategoricalCrossentropy(from_logits=True), onehot, logits),
        "cce_smooth": (L.CategoricalCrossentropy(label_smoothing=0.2), onehot, probs),
        "cce_logits_smooth": (L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                              onehot, logits),
        "scce": (L.SparseCategoricalCrossentropy(), sparse, probs),
        "scce_logits": (L.SparseCategoricalCrossentropy(from_logits=True), sparse, logits),
        "bce": (L.BinaryCrossentropy(), yb, pb),
        "bce_logits": (L.BinaryCrossentropy(from_logits=True), yb, pb_logits),
        "bce_smooth": (L.BinaryCrossentropy(label_smoothing=0.2), yb, pb),
        "bce_logits_smooth": (L.BinaryCrossentropy(from_logits=True, label_smoothing=0.3),
                              yb, pb_logits),
        "bfce": (L.BinaryFocalCrossentropy(gamma=2.0), yb, pb),
        "bfce_balanced": (L.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.3,
                                                    from_logits=True), yb, pb_logits),
        "mse": (L.MeanSquaredError(), yr, pr),
        "mae": (L.MeanAbsoluteError(), yr, pr),
        "mape": (L.MeanAbsolutePercentageError(), yr + 3, pr),
        "msle": (L.MeanSquaredLogarithmicError(), np.abs(yr), np.abs(pr)),
        "huber": (L.Huber(delta=0.7), yr, pr),
        "logcosh": (L.LogCosh(), yr, pr),
        "kld": (L.KLDivergence(), probs, np.roll(probs, 1, axis=1)),
        "poisson": (L.Poisson(), np.abs(yr), np.abs(pr) + 0.1),
        "cosine": (L.CosineSimilarity(axis=-1), yr, pr),
        "hinge": (L.Hinge(), yb * 2 - 1, pr),
        "sq_hinge": (L.SquaredHinge(), yb, pr),
        "cat_hinge": (L.CategoricalHinge(), onehot, logits),
        "sum": (L.MeanSquaredError(reduction="sum"), yr, pr),
        "none": (L.MeanSquaredError(reduction=None), yr, pr),
        "sum_over_batch": (L.MeanAbsoluteError(reduction="sum_over_batch_size"), yr, pr),
    }
    for name, (loss, yt, yp) in cases.items():
        res[f"obj/{name}"] = loss(yt, yp)
        res[f"obj_sw/{name}"] = loss(yt, yp, sample_weight=sw)
        res[f"name/{name}"] = loss.name
    res["fn/mse"] = L.mse(yr, pr)
    res["fn/cce"] = L.categorical_crossentropy(onehot, logits, from_logits=True)
    res["fn/scce"] = L.sparse_categorical_crossentropy(sparse, probs)
    res["fn/bce"] = L.binary_crossentropy(yb, pb, label_smoothing=0.1)
    res["fn/huber"] = L.huber(yr, pr)
    res["fn/kld"] = L.kld(probs, np.roll(probs, 1, axis=1))
    res["fn/get"] = L.get("mae")(yr, pr)
    res["sw_col"] = L.MeanSquaredError()(yr, pr, sample_weight=r.rand(6, 1).astype("float32"))
    res["sw_2d/error"] = error_of(lambda: L.MeanSquaredError()(
        yr, pr, sample_weight=r.rand(6, 3).astype("float32")))
    res["config/cce"] = sorted(L.CategoricalCrossentropy(from_logits=True).get_config())
    # losses in compile: the first-epoch loss equals the loss of the initial model
    for loss_arg in ["categorical_crossentropy", L.CategoricalCrossentropy(label_smoothing=0.1),
                     "kl_divergence", "categorical_hinge"]:
        key = loss_arg if isinstance(loss_arg, str) else "cce_smooth_obj"
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="softmax")])
        init_weights(m, 39)
        m.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss_arg)
        h = m.fit(probs, onehot, epochs=2, batch_size=4, shuffle=False, verbose=0)
        res.update(history_dict(h, f"fit/{key}"))
        res.update(weights_dict(m, f"fit_w/{key}"))
    return res
