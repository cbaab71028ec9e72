"""Preprocessing layers in a model: Normalization.adapt (array and Dataset), invert,
Rescaling with offset, CategoryEncoding, Discretization, Resizing/CenterCrop, and a
regression model using a Normalization layer as its first layer (the "basic regression"
tutorial)."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(61)
    L = keras.layers
    res = {}
    x = (r.randn(100, 3) * [1.0, 10.0, 0.1] + [0.0, 50.0, -2.0]).astype("float32")
    norm = L.Normalization()
    norm.adapt(x)
    res["norm/mean"] = np.asarray(norm.mean)
    res["norm/variance"] = np.asarray(norm.variance)
    res["norm/out"] = norm(x[:4])
    res["norm/nweights"] = len(norm.weights)
    norm_ds = L.Normalization(axis=-1)
    norm_ds.adapt(tf.data.Dataset.from_tensor_slices(x).batch(32))
    res["norm_ds/out"] = norm_ds(x[:4])
    inv = L.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True)
    res["norm/invert"] = inv(np.array([[1.0, 1.0]], "float32"))
    res["rescaling"] = L.Rescaling(1 / 127.5, offset=-1)(np.array([[0.0, 127.5, 255.0]]))
    if hasattr(L, "CategoryEncoding"):
        res["cat_enc_onehot"] = L.CategoryEncoding(num_tokens=4, output_mode="one_hot")(
            np.array([3, 2, 0, 1]))
        res["cat_enc_count"] = L.CategoryEncoding(num_tokens=4, output_mode="count")(
            np.array([[0, 1, 1], [3, 3, 2]]))
    if hasattr(L, "Discretization"):
        res["discretization"] = L.Discretization(bin_boundaries=[0.0, 1.0, 2.0])(
            np.array([[-1.5, 0.5, 1.0, 2.5]]))
    img = r.rand(2, 8, 10, 3).astype("float32")
    if hasattr(L, "Resizing"):
        res["resizing"] = L.Resizing(4, 5)(img)
        res["center_crop"] = L.CenterCrop(4, 6)(img)

    # basic regression with normalisation
    y = (x[:, :1] * 2 + x[:, 1:2] * 0.1 - x[:, 2:] * 5).astype("float32")
    normalizer = L.Normalization(axis=-1)
    normalizer.adapt(x)
    model = keras.Sequential([keras.Input((3,)), normalizer, L.Dense(16, activation="relu"),
                              L.Dense(1)])
    init_weights(model, 62)
    normalizer.adapt(x)   # init_weights overwrote the adapted statistics
    model.compile(loss="mean_absolute_error", optimizer=keras.optimizers.Adam(0.01))
    h = model.fit(x, y, validation_split=0.2, epochs=4, batch_size=16, shuffle=False, verbose=0)
    res.update(history_dict(h))
    res.update(weights_dict(model))
    res["n_trainable"] = len(model.trainable_weights)
    res["evaluate"] = model.evaluate(x, y, verbose=0)
    return res
