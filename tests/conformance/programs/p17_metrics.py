"""Metrics objects: AUC (ROC/PR, thresholds), Precision/Recall (thresholds, top_k, class_id),
TopK, accuracy variants, Mean/Sum with weights, update/result/reset, and in compile."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(40)
    M = keras.metrics
    yb = (r.rand(50, 1) > 0.6).astype("float32")
    pb = np.clip(yb * 0.3 + r.rand(50, 1) * 0.7, 0, 1).astype("float32")
    sw = r.rand(50).astype("float32")
    logits = r.randn(50, 5).astype("float32")
    probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype("float32")
    ys = r.randint(0, 5, 50)
    yoh = np.eye(5, dtype="float32")[ys]
    res = {}
    cases = {
        "auc": (M.AUC(), yb, pb),
        "auc_pr": (M.AUC(curve="PR", num_thresholds=50), yb, pb),
        "auc_interp": (M.AUC(summation_method="minoring", num_thresholds=20), yb, pb),
        "auc_logits": (M.AUC(from_logits=True), yb, (pb - 0.5) * 4),
        "precision": (M.Precision(), yb, pb),
        "precision_t": (M.Precision(thresholds=0.7), yb, pb),
        "recall": (M.Recall(), yb, pb),
        "recall_multi_t": (M.Recall(thresholds=[0.3, 0.5, 0.8]), yb, pb),
        "precision_topk": (M.Precision(top_k=2), yoh, probs),
        "recall_class": (M.Recall(class_id=1), yoh, probs),
        "binary_acc": (M.BinaryAccuracy(), yb, pb),
        "binary_acc_t": (M.BinaryAccuracy(threshold=0.7), yb, pb),
        "acc": (M.Accuracy(), ys, probs.argmax(1)),
        "cat_acc": (M.CategoricalAccuracy(), yoh, probs),
        "sparse_cat_acc": (M.SparseCategoricalAccuracy(), ys, probs),
        "topk": (M.TopKCategoricalAccuracy(k=2), yoh, probs),
        "sparse_topk": (M.SparseTopKCategoricalAccuracy(k=3), ys, probs),
        "mse": (M.MeanSquaredError(), yoh, probs),
        "rmse": (M.RootMeanSquaredError(), yoh, probs),
        "mae": (M.MeanAbsoluteError(), yoh, probs),
        "cos": (M.CosineSimilarity(), yoh, probs),
        "cce": (M.CategoricalCrossentropy(), yoh, probs),
        "bce": (M.BinaryCrossentropy(), yb, pb),
        "kld": (M.KLDivergence(), yoh, probs),
        "tp": (M.TruePositives(), yb, pb),
        "fp": (M.FalsePositives(thresholds=[0.2, 0.6]), yb, pb),
        "tn": (M.TrueNegatives(), yb, pb),
        "fn": (M.FalseNegatives(), yb, pb),
        "p_at_r": (M.PrecisionAtRecall(0.5), yb, pb),
        "r_at_p": (M.RecallAtPrecision(0.6), yb, pb),
        "sens_at_spec": (M.SensitivityAtSpecificity(0.5), yb, pb),
        "spec_at_sens": (M.SpecificityAtSensitivity(0.5), yb, pb),
        "miou": (M.MeanIoU(num_classes=5), ys, probs.argmax(1)),
        "f1": (M.F1Score(average="macro", threshold=0.3), yoh, probs),
    }
    def snap(v):   # result() may be the state variable itself (Keras): copy it now
        return np.array(v)

    for name, (m, yt, yp) in cases.items():
        m.update_state(yt[:25], yp[:25])
        res[f"half/{name}"] = snap(m.result())
        m.update_state(yt[25:], yp[25:])
        res[f"full/{name}"] = snap(m.result())
        m.reset_state()
        res[f"reset/{name}"] = snap(m.result())
        m.update_state(yt, yp, sample_weight=sw)
        res[f"weighted/{name}"] = snap(m.result())
        res[f"name/{name}"] = m.name
        res[f"nvars/{name}"] = len(m.variables)
    mean = M.Mean()
    mean.update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 0.0, 2.0])
    res["mean"] = mean.result()
    s = M.Sum()
    s.update_state(np.arange(6.0).reshape(2, 3))
    res["sum"] = s.result()
    res["auc_config_keys"] = sorted(M.AUC().get_config())
    res["auc_thresholds"] = np.array(M.AUC(num_thresholds=5).thresholds)

    # in compile: string names and objects, history keys/values
    x = r.randn(60, 4).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("float32")[:, None]
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    init_weights(m, 41)
    m.compile(optimizer=keras.optimizers.SGD(0.3), loss="binary_crossentropy",
              metrics=["accuracy", M.AUC(name="auc"), M.Precision(), M.Recall(name="rec"),
                       "mse", M.BinaryCrossentropy(name="bce_m")])
    h = m.fit(x, y, epochs=3, batch_size=20, shuffle=False, verbose=0, validation_split=0.2)
    res.update(history_dict(h, "fit"))
    res.update(weights_dict(m, "fit_w"))
    res["fit_metric_names"] = [mm.name for mm in m.metrics]
    yc = (x[:, :3].argmax(1)).astype("int32")
    m2 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    init_weights(m2, 42)
    m2.compile(optimizer=keras.optimizers.SGD(0.3),
               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
               metrics=["accuracy", M.SparseTopKCategoricalAccuracy(k=2, name="top2"),
                        "sparse_categorical_crossentropy"])
    h2 = m2.fit(x, yc, epochs=2, batch_size=20, shuffle=False, verbose=0)
    res.update(history_dict(h2, "fit2"))
    return res
