"""keras.io "Understanding masking & padding": mask_zero Embedding, the Masking layer, a
custom layer with supports_masking and one with compute_mask, masks reaching a loss (masked
timesteps excluded), TimeDistributed and GlobalAveragePooling1D with masks."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    ops = keras.ops
    r = rng(102)
    raw = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
    padded = keras.utils.pad_sequences(raw, padding="post")
    res = {"padded": padded, "padded_pre": keras.utils.pad_sequences(raw, maxlen=4)}
    emb = L.Embedding(input_dim=5000, output_dim=4, mask_zero=True)
    res["emb_mask"] = np.asarray(emb.compute_mask(padded))
    masking = L.Masking()
    x = r.rand(3, 6, 2).astype("float32")
    x[0, 3:] = 0
    x[2, 5:] = 0
    res["masking_mask"] = np.asarray(masking.compute_mask(x))

    class MyActivation(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            return ops.relu(inputs)

    class TemporalSplit(L.Layer):
        def call(self, inputs):
            return ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs, mask=None):
            if mask is None:
                return None
            return ops.split(mask, 2, axis=1)

    class TemporalSoftmax(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
            inputs_exp = ops.exp(inputs) * broadcast_float_mask
            inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
            return inputs_exp / inputs_sum

    inputs = keras.Input(shape=(None,), dtype="int32")
    h = L.Embedding(input_dim=10, output_dim=5, mask_zero=True)(inputs)
    h = L.Dense(4)(h)
    h = MyActivation()(h)
    outputs = TemporalSoftmax()(h)
    model = keras.Model(inputs, outputs)
    init_weights(model, 103)
    tokens = r.randint(1, 10, size=(4, 6))
    tokens[0, 4:] = 0
    tokens[2, 2:] = 0
    res["temporal_softmax"] = model(tokens)
    first, second = TemporalSplit()(L.Embedding(10, 3, mask_zero=True)(tokens))
    res["split_mask_0"] = np.asarray(first._keras_mask)
    res["split_mask_1"] = np.asarray(second._keras_mask)

    # masked sequence model trained: loss over timesteps ignores masked steps
    seq_in = keras.Input((6,), dtype="int32")
    e = L.Embedding(10, 4, mask_zero=True)(seq_in)
    s = L.SimpleRNN(3, return_sequences=True)(e)
    td = L.TimeDistributed(L.Dense(2))(s)
    m2 = keras.Model(seq_in, td)
    init_weights(m2, 104)
    y = r.randn(4, 6, 2).astype("float32")
    m2.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    res["masked_seq_eval_before"] = m2.evaluate(tokens, y, verbose=0)
    h2 = m2.fit(tokens, y, epochs=3, batch_size=2, shuffle=False, verbose=0)
    res.update(history_dict(h2, "masked_seq"))
    res.update(weights_dict(m2, "masked_seq_w"))
    res["masked_seq_out"] = m2.predict(tokens, verbose=0)
    # masked pooling
    pool_in = keras.Input((6,), dtype="int32")
    pooled = L.GlobalAveragePooling1D()(L.Embedding(10, 3, mask_zero=True)(pool_in))
    m3 = keras.Model(pool_in, pooled)
    init_weights(m3, 105)
    res["masked_pool"] = m3(tokens)
    return res
