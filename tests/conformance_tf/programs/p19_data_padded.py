"""tf.data: padded_batch, generators, shuffle with seed (element sets), rebatch pipelines."""


def _elems(ds, limit=50):
    out = []
    for i, e in enumerate(ds):
        if i >= limit:
            break
        out.append(e)
    return out


def program(tf, np):
    D = tf.data.Dataset

    def gen():
        for i in range(1, 5):
            yield np.arange(i, dtype=np.int32), np.float32(i) / 2

    sig = (tf.TensorSpec(shape=(None,), dtype=tf.int32), tf.TensorSpec(shape=(), dtype=tf.float32))
    ragged = D.from_generator(gen, output_signature=sig)
    return {
        "gen": lambda: _elems(ragged),
        "padded": lambda: _elems(ragged.padded_batch(3)),
        "padded_shape": lambda: _elems(ragged.padded_batch(2, padded_shapes=([5], []))),
        "padded_value": lambda: _elems(ragged.padded_batch(
            2, padding_values=(np.int32(-1), np.float32(9.0)))),
        "padded_drop": lambda: _elems(ragged.padded_batch(3, drop_remainder=True)),
        "padded_map": lambda: _elems(D.range(1, 5).map(lambda n: tf.range(n)).padded_batch(2)),
        "padded_spec": lambda: ragged.padded_batch(2).element_spec[0].shape.as_list(),
        "gen_spec": lambda: ragged.element_spec[0].shape.as_list(),
        "gen_types": lambda: _elems(D.from_generator(
            lambda: iter([[1, 2], [3, 4]]), output_types=tf.int64, output_shapes=[2])),
        "shuffle_set": lambda: np.sort(np.array([e.numpy() for e in
                                                 D.range(20).shuffle(5, seed=3)])),
        "shuffle_batch_sizes": lambda: [int(b.shape[0]) for b in
                                        D.range(10).shuffle(10).batch(4)],
        "pipeline": lambda: _elems(
            D.from_tensor_slices((np.arange(10, dtype=np.float32), np.arange(10) % 2))
            .filter(lambda a, b: b == 0)
            .map(lambda a, b: (a * a, b))
            .batch(2)
            .map(lambda a, b: tf.reduce_sum(a))),
        "flat_map": lambda: _elems(D.range(3).flat_map(lambda v: D.range(v))),
        "interleave": lambda: _elems(D.range(1, 4).interleave(
            lambda v: D.from_tensors(v).repeat(v), cycle_length=2, block_length=1)),
        "map_to_tuple_unbatch": lambda: _elems(D.range(4).batch(2).map(
            lambda v: (v, -v)).unbatch()),
        "window_free_rebatch": lambda: _elems(D.range(6).batch(4).unbatch().batch(3)),
        "scan": lambda: _elems(D.range(5).scan(np.int64(0), lambda s, v: (s + v, s * 10))),
        "take_while": lambda: _elems(D.range(10).take_while(lambda v: v < 4)),
        "unique": lambda: _elems(D.from_tensor_slices([1, 2, 1, 3, 2]).unique()),
        "error_padded_small": lambda: _elems(ragged.padded_batch(2, padded_shapes=([2], []))),
        "error_batch_ragged": lambda: _elems(ragged.batch(2)),
    }
