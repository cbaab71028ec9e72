"""Recurrent layers: LSTM/GRU/SimpleRNN with return_sequences/return_state, masking
(Masking layer and Embedding(mask_zero=True)), Bidirectional, go_backwards, stateful-free
training of a small sequence classifier."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(43)
    L = keras.layers
    x = r.randn(8, 7, 3).astype("float32")
    x[2, 5:] = 0.0   # padded tails for Masking
    x[5, 3:] = 0.0
    res = {}
    layers = {
        "lstm": L.LSTM(4),
        "lstm_seq": L.LSTM(4, return_sequences=True),
        "lstm_state": L.LSTM(4, return_state=True),
        "gru": L.GRU(4),
        "gru_v1": L.GRU(4, reset_after=False, return_sequences=True),
        "gru_back": L.GRU(4, go_backwards=True),
        "rnn": L.SimpleRNN(4, activation="relu", return_sequences=True),
        "bi_lstm": L.Bidirectional(L.LSTM(3, return_sequences=True)),
        "bi_gru_sum": L.Bidirectional(L.GRU(3), merge_mode="sum"),
        "lstm_unit_forget": L.LSTM(4, unit_forget_bias=False, recurrent_activation="hard_sigmoid"),
    }
    for name, layer in layers.items():
        inp = keras.Input((7, 3))
        out = layer(inp)
        m = keras.Model(inp, out)
        init_weights(m, 44)
        res[f"nweights/{name}"] = len(m.weights)
        res[f"shapes/{name}"] = [str(tuple(w.shape)) for w in m.weights]
        o = m(x)
        if isinstance(o, (list, tuple)):
            for i, oi in enumerate(o):
                res[f"out/{name}/{i}"] = oi
        else:
            res[f"out/{name}"] = o
        # masked version
        inp2 = keras.Input((7, 3))
        m2 = keras.Model(inp2, layer(L.Masking(0.0)(inp2)))
        o2 = m2(x)
        res[f"masked/{name}"] = o2[0] if isinstance(o2, (list, tuple)) else o2

    # initial_state and the state outputs
    lstm = L.LSTM(4, return_sequences=True, return_state=True)
    inp = keras.Input((7, 3))
    h0 = keras.Input((4,))
    c0 = keras.Input((4,))
    seq, h, c = lstm(inp, initial_state=[h0, c0])
    m = keras.Model([inp, h0, c0], [seq, h, c])
    init_weights(m, 45)
    outs = m([x, np.ones((8, 4), "float32") * 0.1, -np.ones((8, 4), "float32") * 0.2])
    for i, o in enumerate(outs):
        res[f"init_state/{i}"] = o

    # Embedding(mask_zero) -> LSTM -> Dense, trained
    tokens = r.randint(1, 20, size=(64, 9))
    lengths = r.randint(3, 10, size=64)
    for i, n in enumerate(lengths):
        tokens[i, n:] = 0
    y = (tokens[:, 0] > 10).astype("float32")
    model = keras.Sequential([
        keras.Input((9,), dtype="int32"),
        L.Embedding(20, 6, mask_zero=True),
        L.GRU(5, return_sequences=True),
        L.LSTM(4),
        L.Dense(1, activation="sigmoid"),
    ])
    init_weights(model, 46)
    model.compile(optimizer=keras.optimizers.SGD(0.5, momentum=0.5), loss="binary_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(tokens, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    res.update(history_dict(h))
    res.update(weights_dict(model))
    res["predict"] = model.predict(tokens[:6], verbose=0)
    return res
