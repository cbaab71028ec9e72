"""tf.data: sources and deterministic transformations, compared element by element."""


def _elems(ds, limit=50):
    out = []
    for i, e in enumerate(ds):
        if i >= limit:
            break
        out.append(e)
    return out


def program(tf, np):
    D = tf.data.Dataset
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array([0, 1, 0, 1, 1, 0], np.int64)
    return {
        "range": lambda: _elems(D.range(5)),
        "range_args": lambda: _elems(D.range(2, 11, 3)),
        "slices": lambda: _elems(D.from_tensor_slices(x)),
        "slices_tuple": lambda: _elems(D.from_tensor_slices((x, y))),
        "slices_dict": lambda: _elems(D.from_tensor_slices({"a": x, "b": y})),
        "slices_list_py": lambda: _elems(D.from_tensor_slices([1.5, 2.5])),
        "from_tensors": lambda: _elems(D.from_tensors((x, y))),
        "map": lambda: _elems(D.from_tensor_slices(x).map(lambda e: e * 2 + 1)),
        "map_tuple": lambda: _elems(D.from_tensor_slices((x, y)).map(
            lambda a, b: (tf.reduce_sum(a), b * 10))),
        "map_dict": lambda: _elems(D.from_tensor_slices({"a": x, "b": y}).map(
            lambda d: d["a"] * tf.cast(d["b"], tf.float32))),
        "filter": lambda: _elems(D.range(10).filter(lambda v: v % 3 == 0)),
        "batch": lambda: _elems(D.range(7).batch(3)),
        "batch_drop": lambda: _elems(D.range(7).batch(3, drop_remainder=True)),
        "batch_tuple": lambda: _elems(D.from_tensor_slices((x, y)).batch(4)),
        "unbatch": lambda: _elems(D.from_tensor_slices(x).batch(4).unbatch()),
        "take_skip": lambda: _elems(D.range(10).skip(3).take(4)),
        "take_neg": lambda: _elems(D.range(4).take(-1)),
        "repeat": lambda: _elems(D.range(3).repeat(2)),
        "repeat_batch": lambda: _elems(D.range(5).repeat(2).batch(4)),
        "zip": lambda: _elems(D.zip((D.range(3), D.range(10, 20)))),
        "zip_dict": lambda: _elems(D.zip({"p": D.range(2), "q": D.range(5, 7)})),
        "enumerate": lambda: _elems(D.from_tensor_slices(y).enumerate(start=5)),
        "concatenate": lambda: _elems(D.range(3).concatenate(D.range(7, 9))),
        "shard": lambda: _elems(D.range(10).shard(3, 1)),
        "prefetch_cache": lambda: _elems(D.range(4).map(lambda v: v * v).cache()
                                          .prefetch(tf.data.AUTOTUNE)),
        "as_numpy": lambda: list(D.range(3).map(lambda v: tf.cast(v, tf.float32) / 2)
                                 .as_numpy_iterator()),
        "element_spec_shape": lambda: D.from_tensor_slices(x).batch(4).element_spec
        .shape.as_list(),
        "element_spec_drop": lambda: D.from_tensor_slices(x).batch(4, drop_remainder=True)
        .element_spec.shape.as_list(),
        "element_spec_dtype": lambda: D.from_tensor_slices((x, y)).element_spec[1].dtype.name,
        "cardinality": lambda: [D.range(10).batch(3).cardinality(),
                                D.range(10).filter(lambda v: v > 2).cardinality(),
                                D.range(3).repeat().cardinality(),
                                D.range(10).skip(4).take(3).cardinality()],
        "len": lambda: len(D.range(10).batch(4)),
        "reduce": lambda: D.range(5).reduce(np.int64(0), lambda s, v: s + v),
        "map_py_int": lambda: _elems(D.range(3).map(lambda v: v + 1)),
        "error_zip_len": lambda: _elems(D.zip(D.range(2), D.range(3))),
        "error_slices_mismatch": lambda: D.from_tensor_slices((x, y[:3])),
    }
