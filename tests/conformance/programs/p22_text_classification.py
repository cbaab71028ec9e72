"""Text classification from token ids (the IMDB tutorial shape): Embedding +
GlobalAveragePooling1D with and without mask_zero, Dense head, trained with momentum SGD
(linear in the gradient; see p28 for Adam on embeddings)."""
from _common import history_dict, init_weights, rng, weights_dict


def program(tf, keras, np):
    r = rng(56)
    L = keras.layers
    vocab, maxlen = 30, 12
    tokens = r.randint(1, vocab, size=(80, maxlen))
    lengths = r.randint(4, maxlen + 1, size=80)
    for i, n in enumerate(lengths):
        tokens[i, n:] = 0
    y = ((tokens % 3 == 0).sum(1) > (tokens % 3 == 1).sum(1)).astype("float32")
    res = {}
    for mask_zero in (False, True):
        key = "masked" if mask_zero else "plain"
        model = keras.Sequential([
            keras.Input(shape=(maxlen,), dtype="int32"),
            L.Embedding(vocab, 8, mask_zero=mask_zero),
            L.GlobalAveragePooling1D(),
            L.Dense(8, activation="relu"),
            L.Dense(1),
        ])
        init_weights(model, 57)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True),
                      metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
        h = model.fit(tokens, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
                      validation_split=0.2)
        res.update(history_dict(h, f"{key}/history"))
        res.update(weights_dict(model, f"{key}/w"))
        res[f"{key}/predict"] = model.predict(tokens[:5], verbose=0)
        emb = model.layers[0]
        out = emb(tokens[:3])
        res[f"{key}/emb_mask"] = (np.asarray(out._keras_mask) if getattr(out, "_keras_mask",
                                  None) is not None else np.array("None"))
        res[f"{key}/compute_mask"] = (np.asarray(emb.compute_mask(tokens[:3]))
                                      if mask_zero else np.array("None"))
    # TextVectorization-free preprocessing: StringLookup-free IntegerLookup-free pipeline via
    # tf.data map + padded_batch
    seqs = [list(range(1, n + 1)) for n in (3, 5, 2, 4)]
    ds = tf.data.Dataset.from_generator(lambda: iter(seqs), output_signature=tf.TensorSpec(
        shape=(None,), dtype=tf.int32)).padded_batch(2)
    res["padded_batches"] = [np.asarray(b).tolist().__repr__() for b in ds]
    return res
