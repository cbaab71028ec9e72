"""A convolutional autoencoder (keras.io "Convolutional autoencoder for image denoising"
shape): Conv2D/MaxPooling2D encoder, Conv2DTranspose/UpSampling2D decoder, sigmoid output,
binary crossentropy on images; and a dense VAE-free autoencoder with encoder/decoder models
reused in a combined model."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    r = rng(78)
    imgs = r.rand(24, 8, 8, 1).astype("float32")
    imgs = (imgs > 0.6).astype("float32") * 0.8 + 0.1
    inp = keras.Input(shape=(8, 8, 1))
    x = L.Conv2D(4, (3, 3), activation="relu", padding="same")(inp)
    x = L.MaxPooling2D((2, 2), padding="same")(x)
    x = L.Conv2D(4, (3, 3), activation="relu", padding="same")(x)
    x = L.MaxPooling2D((2, 2), padding="same")(x)
    x = L.Conv2DTranspose(4, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = L.Conv2DTranspose(4, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = L.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    ae = keras.Model(inp, x)
    init_weights(ae, 79)
    ae.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    h = ae.fit(imgs, imgs, epochs=3, batch_size=8, shuffle=False, verbose=0,
               validation_data=(imgs[:8], imgs[:8]))
    res = {**history_dict(h), **weights_dict(ae)}
    res["recon"] = ae.predict(imgs[:2], verbose=0)

    # dense encoder/decoder as separate models composed into one
    flat = imgs.reshape(24, 64)
    enc_in = keras.Input((64,))
    code = L.Dense(6, activation="relu")(enc_in)
    encoder = keras.Model(enc_in, code, name="encoder")
    dec_in = keras.Input((6,))
    decoder = keras.Model(dec_in, L.Dense(64, activation="sigmoid")(
        L.UpSampling1D(1)(L.Reshape((6, 1))(dec_in))[:, :, 0]), name="decoder")
    whole_in = keras.Input((64,))
    auto = keras.Model(whole_in, decoder(encoder(whole_in)), name="autoencoder")
    init_weights(auto, 80)
    auto.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="mse")
    h2 = auto.fit(flat, flat, epochs=3, batch_size=6, shuffle=False, verbose=0)
    res.update(history_dict(h2, "dense_history"))
    res.update(weights_dict(encoder, "encoder_w"))
    res["codes"] = encoder.predict(flat[:3], verbose=0)
    res["layer_names"] = [l.name for l in auto.layers]
    return res
