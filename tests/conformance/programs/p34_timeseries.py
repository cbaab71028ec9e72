"""Time-series forecasting (TF tutorial shape): windows made with tf.data window-free
slicing, a Conv1D + LSTM model and a SimpleRNN model trained with MAE/Huber; a
TimeDistributed Dense; stacked RNNs with return_sequences."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    r = rng(81)
    t = np.arange(300, dtype="float32")
    series = (np.sin(t / 8) + 0.1 * r.randn(300)).astype("float32")
    win = 12
    X = np.stack([series[i:i + win] for i in range(200)])[..., None]
    Y = series[win:win + 200][:, None]
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(25)
    res = {}
    m1 = keras.Sequential([keras.Input((win, 1)), L.Conv1D(4, 3, activation="relu",
                                                          padding="causal"),
                           L.LSTM(6), L.Dense(1)])
    init_weights(m1, 82)
    m1.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.Huber(),
               metrics=["mae"])
    h1 = m1.fit(ds, epochs=3, verbose=0)
    res.update(history_dict(h1, "conv_lstm"))
    res.update(weights_dict(m1, "conv_lstm_w"))
    m2 = keras.Sequential([keras.Input((win, 1)), L.SimpleRNN(5, return_sequences=True),
                           L.SimpleRNN(5), L.Dense(1), L.Lambda(lambda x: x * 2.0)])
    init_weights(m2, 83)
    m2.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mae")
    h2 = m2.fit(X, Y, epochs=3, batch_size=40, shuffle=False, verbose=0)
    res.update(history_dict(h2, "rnn"))
    res.update(weights_dict(m2, "rnn_w"))
    m3 = keras.Sequential([keras.Input((win, 1)), L.GRU(4, return_sequences=True),
                           L.TimeDistributed(L.Dense(2)), L.Flatten(), L.Dense(1)])
    init_weights(m3, 84)
    m3.compile(optimizer=keras.optimizers.Nadam(0.01), loss="mse")
    h3 = m3.fit(X, Y, epochs=2, batch_size=50, shuffle=False, verbose=0)
    res.update(history_dict(h3, "td"))
    res.update(weights_dict(m3, "td_w"))
    res["td_predict"] = m3.predict(X[:4], verbose=0)
    return res
