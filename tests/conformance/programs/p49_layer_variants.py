"""Layer variants in forward passes: channels_first convolutions/pooling/upsampling/Flatten,
Bidirectional merge modes and return_state, MultiHeadAttention over other attention_axes,
LayerNormalization without center/scale, TimeDistributed(Conv2D), Conv1DTranspose,
SeparableConv1D, DepthwiseConv1D, UnitNormalization, PReLU/ELU/ReLU options,
Embedding with an explicit initializer, RepeatVector + LSTM decoder."""
from _common import init_weights, rng


def program(tf, keras, np):
    L = keras.layers
    r = rng(130)
    res = {}
    xcf = r.randn(2, 3, 8, 8).astype("float32")
    # (TensorFlow's CPU kernels have no channels_first convolution or pooling)
    for name, layer in {
            "gap_cf": L.GlobalAveragePooling2D(data_format="channels_first"),
            "upsample_cf": L.UpSampling2D(2, data_format="channels_first"),
            "flatten_cf": L.Flatten(data_format="channels_first"),
            "zeropad_cf": L.ZeroPadding2D(1, data_format="channels_first"),
            "crop_cf": L.Cropping2D(((1, 0), (2, 1)), data_format="channels_first"),
    }.items():
        inp = keras.Input((3, 8, 8))
        m = keras.Model(inp, layer(inp))
        if m.weights:
            init_weights(m, 131)
        res[f"cf/{name}"] = m(xcf)
    seq = r.randn(3, 5, 4).astype("float32")
    for mode in ("concat", "sum", "ave", "mul", None):
        inp = keras.Input((5, 4))
        out = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode=mode)(inp)
        m = keras.Model(inp, out)
        init_weights(m, 132)
        o = m(seq)
        for i, oi in enumerate(o if isinstance(o, (list, tuple)) else [o]):
            res[f"bidi/{mode}/{i}"] = oi
    inp = keras.Input((5, 4))
    outs = L.Bidirectional(L.LSTM(2, return_state=True))(inp)
    m = keras.Model(inp, outs)
    init_weights(m, 133)
    for i, o in enumerate(m(seq)):
        res[f"bidi_state/{i}"] = o
    x4 = r.randn(2, 3, 4, 6).astype("float32")
    inp = keras.Input((3, 4, 6))
    mha = L.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=(1, 2))
    m = keras.Model(inp, mha(inp, inp))
    init_weights(m, 134)
    res["mha_axes"] = m(x4)
    res["mha_axes_shapes"] = [str(tuple(w.shape)) for w in m.weights]
    ln = L.LayerNormalization(center=False, scale=False, epsilon=1e-3)
    res["ln_plain"] = ln(seq)
    res["ln_plain_weights"] = len(ln.weights)
    res["unitnorm"] = L.UnitNormalization()(seq)
    vids = r.randn(2, 3, 6, 6, 2).astype("float32")
    inp = keras.Input((3, 6, 6, 2))
    m = keras.Model(inp, L.TimeDistributed(L.Conv2D(2, 3))(inp))
    init_weights(m, 135)
    res["td_conv"] = m(vids)
    s1 = r.randn(2, 7, 3).astype("float32")
    for name, layer in {"conv1dT": L.Conv1DTranspose(2, 3, strides=2),
                        "sep1d": L.SeparableConv1D(4, 3, depth_multiplier=2),
                        "dw1d": L.DepthwiseConv1D(3, depth_multiplier=2),
                        "prelu": L.PReLU(), "elu": L.ELU(alpha=0.5),
                        "relu_opts": L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2),
                        "leaky": L.LeakyReLU(negative_slope=0.2)}.items():
        inp = keras.Input((7, 3))
        m = keras.Model(inp, layer(inp))
        if m.weights:
            init_weights(m, 136)
        res[f"misc/{name}"] = m(s1)
    emb = L.Embedding(5, 3, embeddings_initializer=keras.initializers.Constant(0.5))
    res["emb_const"] = emb(np.array([[0, 4]]))
    inp = keras.Input((4,))
    dec = L.LSTM(3, return_sequences=True)(L.RepeatVector(5)(L.Dense(2)(inp)))
    m = keras.Model(inp, L.TimeDistributed(L.Dense(1))(dec))
    init_weights(m, 137)
    res["repeat_decoder"] = m(r.randn(2, 4).astype("float32"))
    return res
