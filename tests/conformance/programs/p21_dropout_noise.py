"""Dropout and noise layers: identity when training=False / in predict / evaluate, the
inverted-dropout scaling and keep-rate in training, SpatialDropout, GaussianNoise,
GaussianDropout, AlphaDropout shapes; a Dropout model's evaluate equals the same model
without Dropout."""
from _common import init_weights, rng

# random quantities: only their statistics are comparable
TOLERANCE = {"train_keep_rate": (0, 0.03), "gaussian_noise_std": (0, 0.01),
             "gaussian_dropout_mean": (0, 0.02)}


def program(tf, keras, np):
    r = rng(54)
    L = keras.layers
    x = (r.rand(200, 50) + 0.5).astype("float32")
    res = {}
    d = L.Dropout(0.3)
    res["infer_identity"] = bool(np.array_equal(np.asarray(d(x, training=False)), x))
    res["default_identity"] = bool(np.array_equal(np.asarray(d(x)), x))
    out = np.asarray(d(x, training=True))
    kept = out != 0
    res["train_scaled_ok"] = bool(np.allclose(out[kept], x[kept] / 0.7, rtol=1e-6))
    res["train_keep_rate"] = float(kept.mean())
    res["dtype"] = str(out.dtype)
    sd = L.SpatialDropout1D(0.5)
    o = np.asarray(sd(x.reshape(200, 5, 10), training=True))
    res["spatial_whole_channels"] = bool(np.all((o == 0).all(1) | (o != 0).all(1)))
    res["gaussian_noise_infer"] = bool(np.array_equal(
        np.asarray(L.GaussianNoise(1.0)(x, training=False)), x))
    gn = np.asarray(L.GaussianNoise(0.1)(x, training=True)) - x
    res["gaussian_noise_std"] = float(gn.std())
    gd = np.asarray(L.GaussianDropout(0.2)(x, training=True)) / x
    res["gaussian_dropout_mean"] = float(gd.mean())
    res["alpha_dropout_infer"] = bool(np.array_equal(
        np.asarray(L.AlphaDropout(0.2)(x, training=False)), x))
    # noise_shape
    o = np.asarray(L.Dropout(0.5, noise_shape=(200, 1))(x, training=True))
    res["noise_shape_rows"] = bool(np.all((o == 0).all(1) | (o != 0).all(1)))

    xs = r.randn(30, 6).astype("float32")
    ys = r.randn(30, 1).astype("float32")
    with_do = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="relu"),
                                L.Dropout(0.4), L.Dense(1)])
    without = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="relu"), L.Dense(1)])
    init_weights(with_do, 55)
    without.set_weights(with_do.get_weights())
    for m in (with_do, without):
        m.compile(optimizer="sgd", loss="mse")
    res["eval_with_dropout"] = with_do.evaluate(xs, ys, verbose=0)
    res["eval_without"] = without.evaluate(xs, ys, verbose=0)
    res["predict_deterministic"] = bool(np.array_equal(with_do.predict(xs, verbose=0),
                                                       with_do.predict(xs, verbose=0)))
    res["predict"] = with_do.predict(xs[:4], verbose=0)
    res["call_train_differs"] = bool(not np.allclose(np.asarray(with_do(xs, training=True)),
                                                     np.asarray(with_do(xs))))
    return res
