"""Getting started: a Sequential MLP classifier, compile/fit/evaluate/predict
(keras.io "The Sequential model" + "Training & evaluation with the built-in methods")."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(0)
    x = r.rand(120, 10).astype("float32")
    y = (x[:, :3].sum(1) + 0.3 * r.randn(120) > 1.5).astype("int32") + \
        (x[:, 3] > 0.5).astype("int32")          # 3 classes
    model = keras.Sequential([
        keras.Input(shape=(10,)),
        keras.layers.Dense(16, activation="relu", name="hidden1"),
        keras.layers.Dense(8, activation="tanh", name="hidden2"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ], name="mlp")
    init_weights(model, 1)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=32, epochs=4, shuffle=False, validation_split=0.25,
                     verbose=0)
    ev = model.evaluate(x, y, batch_size=50, verbose=0, return_dict=True)
    ev_list = model.evaluate(x, y, verbose=0)
    pred = model.predict(x[:7], verbose=0)
    out = {
        **history_dict(hist),
        **weights_dict(model),
        "evaluate": ev,
        "evaluate_keys": sorted(ev),
        "evaluate_list": np.asarray(ev_list),
        "predict": pred,
        "predict_dtype": str(pred.dtype),
        "predict_type": type(pred).__name__,
        "metrics_names": list(model.metrics_names),
        "n_params": model.count_params(),
        "layer_names": [l.name for l in model.layers],
        "weight_names": [w.name for w in model.weights],
        "weight_paths": [w.path for w in model.weights],
        "model_name": model.name,
        "optimizer_iterations": int(model.optimizer.iterations.numpy()),
        "call_eager": model(x[:3], training=False),
    }
    return out
