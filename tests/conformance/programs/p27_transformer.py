"""A Transformer block (keras.io "Text classification with Transformer"): token + position
embeddings, MultiHeadAttention with a causal mask and attention scores, LayerNormalization,
residuals, GlobalAveragePooling1D; Attention/AdditiveAttention layers; trained a few steps."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    L = keras.layers
    r = rng(63)
    res = {}

    class TransformerBlock(L.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, **kwargs):
            super().__init__(**kwargs)
            self.att = L.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([L.Dense(ff_dim, activation="relu"),
                                         L.Dense(embed_dim)])
            self.layernorm1 = L.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = L.LayerNormalization(epsilon=1e-6)
            self.dropout1 = L.Dropout(0.1)
            self.dropout2 = L.Dropout(0.1)

        def call(self, inputs, training=False):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output, training=False)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output, training=False)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(L.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_emb = L.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = L.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = keras.ops.shape(x)[-1]
            positions = keras.ops.arange(start=0, stop=maxlen, step=1)
            return self.token_emb(x) + self.pos_emb(positions)

    maxlen, vocab, dim = 10, 25, 8
    inputs = keras.Input(shape=(maxlen,))
    x = TokenAndPositionEmbedding(maxlen, vocab, dim)(inputs)
    x = TransformerBlock(dim, 2, 16)(x)
    x = L.GlobalAveragePooling1D()(x)
    outputs = L.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    init_weights(model, 64)
    res["weight_shapes"] = [str(tuple(w.shape)) for w in model.weights]
    res["weight_names"] = [w.name for w in model.weights]
    tokens = r.randint(0, vocab, size=(48, maxlen))
    y = (tokens[:, :3].sum(1) > 36).astype("int32")
    res["forward"] = model(tokens[:4])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(tokens, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    res.update(history_dict(h))
    res.update(weights_dict(model))

    # MHA details: causal mask, attention scores, attention_mask, value != key
    q = r.randn(2, 4, 6).astype("float32")
    v = r.randn(2, 5, 6).astype("float32")
    mha = L.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=3, output_shape=7)
    inp_q, inp_v = keras.Input((4, 6)), keras.Input((5, 6))
    mm = keras.Model([inp_q, inp_v], mha(inp_q, inp_v))
    init_weights(mm, 65)
    res["mha/out"] = mm([q, v])
    res["mha/shapes"] = [str(tuple(w.shape)) for w in mha.weights]
    out, scores = mha(q, v, return_attention_scores=True)
    res["mha/scores"] = scores
    mask = np.tril(np.ones((4, 5), bool))[None].repeat(2, 0)
    res["mha/masked"] = mha(q, v, attention_mask=mask)
    mha2 = L.MultiHeadAttention(num_heads=2, key_dim=3)
    m2 = keras.Model(inp_q, mha2(inp_q, inp_q, use_causal_mask=True))
    init_weights(m2, 66)
    res["mha/causal"] = m2(q)
    att = L.Attention(use_scale=True, score_mode="dot")
    att.build([(None, 4, 6), (None, 5, 6)])
    if att.weights:
        att.set_weights([np.array(0.7, "float32")] * len(att.weights))
    res["attention"] = att([q, v])
    res["attention_causal"] = L.Attention()([q, q], use_causal_mask=True)
    add_att = L.AdditiveAttention()
    add_att([q, v, v])
    add_att.set_weights([np.linspace(-1, 1, 6).astype("float32")])
    res["additive"] = add_att([q, v, v])
    res["additive_nweights"] = len(add_att.weights)
    return res
