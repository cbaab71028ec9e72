"""Layer and model API odds and ends: compute_output_shape, count_params, set_weights /
get_weights on layers, layer.trainable and model.trainable, weight names, keras.Variable and
tf.Variable naming, to_json / model_from_json round trip, output dtype for float64 input,
layer.input / layer.output, Lambda with output_shape, the `built` flags."""
import json

from _common import attempt, error_of, init_weights, rng


def program(tf, keras, np):
    L = keras.layers
    r = rng(127)
    res = {}
    d = L.Dense(4, name="d")
    res["d_built_before"] = d.built
    res["d_shape"] = str(d.compute_output_shape((None, 3)))
    res["conv_shape"] = str(L.Conv2D(5, 3, strides=2, padding="same").compute_output_shape(
        (None, 9, 9, 2)))
    res["lstm_shape"] = str(L.LSTM(3, return_sequences=True).compute_output_shape(
        (None, 7, 2)))
    res["reshape_shape"] = str(L.Reshape((-1, 2)).compute_output_shape((None, 6)))
    d.build((None, 3))
    res["d_built_after"] = d.built
    res["d_params"] = d.count_params()
    res["d_weight_names"] = [w.name for w in d.weights]
    res["d_weight_paths"] = [w.path for w in d.weights]
    d.set_weights([np.ones((3, 4), "float32"), np.arange(4, dtype="float32")])
    res["d_out_f64"] = d(np.ones((2, 3)))
    res["d_out_dtype"] = str(d(np.ones((2, 3))).dtype)
    d.trainable = False
    res["d_trainable_w"] = len(d.trainable_weights)
    res["d_non_trainable_w"] = len(d.non_trainable_weights)
    v = keras.Variable(np.zeros((2,)), name="kv", dtype="float32")
    res["kvar_name"] = v.name
    res["kvar_path"] = v.path
    res["kvar_trainable"] = v.trainable
    tv = tf.Variable(np.zeros(2, "float32"), name="tv")
    res["tfvar_name"] = tv.name
    res["tfvar_trainable"] = tv.trainable

    inp = keras.Input((6,), name="x")
    h = L.Dense(3, name="hidden")(inp)
    lam = L.Lambda(lambda t: keras.ops.concatenate([t, t * 2], axis=-1), name="lam")(h)
    out = L.Dense(1, name="out")(lam)
    model = keras.Model(inp, out, name="m")
    init_weights(model, 128)
    res["hidden_input"] = str(model.get_layer("hidden").input.shape)
    res["hidden_output"] = str(model.get_layer("hidden").output.shape)
    res["lam_output"] = str(model.get_layer("lam").output.shape)
    res["model_trainable_before"] = len(model.trainable_weights)
    model.trainable = False
    res["model_trainable_after"] = len(model.trainable_weights)
    res["layers_trainable_flags"] = [l.trainable for l in model.layers]
    model.trainable = True
    # the Lambda's function closes over `keras` (a module): Keras serializes such closures
    def lambda_json():
        js = json.loads(model.to_json())
        return [l["class_name"] for l in js["config"]["layers"]]
    res["lambda_to_json"] = attempt(lambda_json)
    res["lambda_clone/error"] = error_of(lambda: keras.models.clone_model(model))
    plain = keras.Sequential([keras.Input((6,)), L.Dense(3), L.Dense(2)])
    init_weights(plain, 129)
    js = json.loads(plain.to_json())
    res["json_keys"] = sorted(js)
    res["json_class"] = js["class_name"]
    res["json_layer_classes"] = [l["class_name"] for l in js["config"]["layers"]]
    clone = keras.models.model_from_json(plain.to_json())
    clone.set_weights(plain.get_weights())
    x = r.randn(3, 6).astype("float32")
    res["json_roundtrip_diff"] = np.abs(np.asarray(clone(x)) - np.asarray(plain(x))).max()
    res["predict_on_f64"] = str(plain.predict(x.astype("float64"), verbose=0).dtype)
    res["set_weights_bad/error"] = error_of(lambda: plain.set_weights(plain.get_weights()[:1]))
    res["dense_kwargs_bad/error"] = error_of(lambda: L.Dense(3, kernel_initialiser="zeros"))
    return res
