"""keras.io "Working with RNNs": RNN layer wrapping built-in and custom cells, stacked cells,
nested-state custom cell, return_state with states fed to a second RNN (encoder-decoder),
unroll=True, and the cell weight layout."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    ops = keras.ops
    r = rng(106)
    x = r.randn(5, 7, 3).astype("float32")
    res = {}

    class MinimalRNNCell(L.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            prev_output = states[0]
            h = ops.matmul(inputs, self.kernel)
            output = h + ops.matmul(prev_output, self.recurrent_kernel)
            return output, [output]

    for name, layer in {
            "custom": L.RNN(MinimalRNNCell(4)),
            "custom_seq": L.RNN(MinimalRNNCell(4), return_sequences=True, go_backwards=True),
            "stacked": L.RNN([MinimalRNNCell(3), MinimalRNNCell(4)]),
            "stacked_builtin": L.RNN(L.StackedRNNCells([L.LSTMCell(3), L.GRUCell(2)]),
                                     return_state=True),
            "lstmcell": L.RNN(L.LSTMCell(4), return_sequences=True),
            "unrolled": L.LSTM(3, unroll=True),
            "simple_cell": L.RNN(L.SimpleRNNCell(2, activation="relu")),
    }.items():
        inp = keras.Input((7, 3))
        m = keras.Model(inp, layer(inp))
        init_weights(m, 107)
        out = m(x)
        for i, o in enumerate(out if isinstance(out, (list, tuple)) else [out]):
            res[f"{name}/out{i}"] = o
        res[f"{name}/shapes"] = [str(tuple(w.shape)) for w in m.weights]

    # encoder-decoder: encoder states initialise the decoder
    enc_in = keras.Input((None, 3))
    _, h_state, c_state = L.LSTM(5, return_state=True, name="encoder")(enc_in)
    dec_in = keras.Input((None, 2))
    dec = L.LSTM(5, return_sequences=True, name="decoder")(dec_in,
                                                         initial_state=[h_state, c_state])
    out = L.Dense(2)(dec)
    model = keras.Model([enc_in, dec_in], out)
    init_weights(model, 108)
    xd = r.randn(5, 4, 2).astype("float32")
    yd = r.randn(5, 4, 2).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    h = model.fit([x, xd], yd, epochs=3, batch_size=5, verbose=0, shuffle=False)
    res.update(history_dict(h, "seq2seq"))
    res.update(weights_dict(model, "seq2seq_w"))
    return res
