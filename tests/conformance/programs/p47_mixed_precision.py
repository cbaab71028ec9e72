"""Mixed precision (keras.io "Mixed precision"): the mixed_float16 policy, layers computing
in float16 with float32 variables, a float32 output activation, the automatic
LossScaleOptimizer in compile, outputs/weights dtypes; trained a few steps (compared with a
float16-appropriate tolerance)."""
from _common import dtype_name, history_dict, init_weights, rng, weights_dict

TOLERANCE = {"default": (2e-2, 2e-3)}


def program(tf, keras, np):
    L = keras.layers
    r = rng(125)
    x = r.randn(64, 8).astype("float32")
    y = (x[:, :3].sum(1) > 0).astype("int32")
    res = {}
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input(shape=(8,))
        d1 = L.Dense(16, activation="relu", name="dense_1")
        h = d1(inputs)
        d2 = L.Dense(3, name="dense_logits")
        logits = d2(h)
        outputs = L.Activation("softmax", dtype="float32", name="predictions")(logits)
        model = keras.Model(inputs, outputs)
        res["policy"] = keras.mixed_precision.global_policy().name
        res["d1_compute"] = d1.compute_dtype
        res["d1_variable"] = d1.variable_dtype
        res["kernel_dtype"] = dtype_name(d1.kernel)
        res["logits_dtype"] = str(logits.dtype)
        res["outputs_dtype"] = str(outputs.dtype)
        init_weights(model, 126)
        model.compile(loss="sparse_categorical_crossentropy",
                      optimizer=keras.optimizers.RMSprop(0.01), metrics=["accuracy"])
        res["optimizer_class"] = type(model.optimizer).__name__
        h = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        res.update(history_dict(h))
        res.update(weights_dict(model))
        p = model.predict(x[:4], verbose=0)
        res["predict"] = p
        res["predict_dtype"] = str(p.dtype)
        res["call_dtype"] = dtype_name(d1(x[:2]))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    res["policy_after"] = keras.mixed_precision.global_policy().name
    return res
