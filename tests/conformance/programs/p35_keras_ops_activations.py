"""keras.ops (the Keras 3 backend-agnostic API), activations by name and function, and the
deterministic initializers; results and dtypes."""
from _common import rng, dtype_name


def program(tf, keras, np):
    ops = keras.ops
    r = rng(85)
    a = r.randn(3, 4).astype("float32")
    b = r.randn(4, 2).astype("float32")
    i = np.array([[1, 2], [3, 4]], "int32")
    res = {}
    vals = {
        "matmul": ops.matmul(a, b), "dot": ops.dot(a, b), "mean": ops.mean(a, axis=0),
        "sum_keep": ops.sum(a, axis=1, keepdims=True), "max": ops.max(a), "std": ops.std(a),
        "var": ops.var(a, axis=1), "square": ops.square(a), "sqrt": ops.sqrt(ops.abs(a)),
        "exp": ops.exp(a), "log": ops.log(ops.abs(a) + 1), "clip": ops.clip(a, -0.5, 0.5),
        "where": ops.where(a > 0, a, 0.0), "softmax": ops.softmax(a),
        "log_softmax": ops.log_softmax(a, axis=0), "relu": ops.relu(a),
        "sigmoid": ops.sigmoid(a), "gelu": ops.gelu(a), "gelu_tanh": ops.gelu(a, approximate=False),
        "silu": ops.silu(a), "softplus": ops.softplus(a), "elu": ops.elu(a),
        "selu": ops.selu(a), "leaky": ops.leaky_relu(a, negative_slope=0.3),
        "hard_sigmoid": ops.hard_sigmoid(a), "one_hot": ops.one_hot(np.array([0, 2, 1]), 3),
        "argmax": ops.argmax(a, axis=1), "argsort": ops.argsort(a, axis=-1),
        "concat": ops.concatenate([a, a], axis=0), "stack": ops.stack([a, a], axis=1),
        "transpose": ops.transpose(a), "reshape": ops.reshape(a, (2, -1)),
        "expand": ops.expand_dims(a, 1), "squeeze": ops.squeeze(ops.expand_dims(a, 0)),
        "tile": ops.tile(a, (2, 1)), "take": ops.take(a, np.array([2, 0]), axis=0),
        "take_along": ops.take_along_axis(a, np.argsort(a, axis=1), axis=1),
        "cumsum": ops.cumsum(a, axis=1), "cumprod": ops.cumprod(a[:, :2], axis=0),
        "norm": ops.norm(a), "norm_axis": ops.norm(a, axis=1),
        "logsumexp": ops.logsumexp(a, axis=1), "top_k_values": ops.top_k(a, k=2)[0],
        "top_k_idx": ops.top_k(a, k=2)[1], "einsum": ops.einsum("ij,jk->ik", a, b),
        "int_div": ops.divide(i, 3), "int_floordiv": ops.floor_divide(i, 3),
        "int_mean": ops.mean(i), "int_add_float": ops.add(i, 1.5),
        "cast": ops.cast(a, "int32"), "arange": ops.arange(2, 9, 3),
        "linspace": ops.linspace(0, 1, 5), "eye": ops.eye(3), "tril": ops.tril(ops.ones((3, 3))),
        "pad": ops.pad(a, ((1, 0), (0, 2))), "flip": ops.flip(a, axis=1),
        "sort": ops.sort(a, axis=0), "round": ops.round(a * 3), "sign": ops.sign(a),
        "maximum": ops.maximum(a, 0.1), "power": ops.power(ops.abs(a), 1.5),
        "all": ops.all(a > -3), "any": ops.any(a > 2), "isnan": ops.isnan(ops.log(a)),
        "binary_ce": ops.binary_crossentropy(np.array([0.0, 1.0]), np.array([0.2, 0.7])),
        "cat_ce": ops.categorical_crossentropy(np.eye(3)[[0, 2]], ops.softmax(a[:2, :3])),
        "sparse_ce": ops.sparse_categorical_crossentropy(np.array([1, 0]), a[:2, :3],
                                                         from_logits=True),
        "moments": ops.stack(ops.moments(a, axes=[0])),
        "normalize": ops.normalize(a, axis=-1), "convert": ops.convert_to_tensor([1, 2]),
        "segment_sum": ops.segment_sum(a, np.array([0, 0, 1]), num_segments=2),
        "slice": ops.slice(a, (1, 1), (2, 2)),
        "scatter": ops.scatter(np.array([[0], [2]]), np.array([5.0, 6.0]), (4,)),
        "conv": ops.conv(r.randn(1, 5, 5, 2).astype("float32"),
                         r.randn(3, 3, 2, 1).astype("float32"), padding="same"),
        "max_pool": ops.max_pool(r.randn(1, 4, 4, 1).astype("float32"), 2),
    }
    for k, v in vals.items():
        res[f"val/{k}"] = ops.convert_to_numpy(v)
        res[f"dtype/{k}"] = dtype_name(v)
    res["shape_type"] = type(ops.shape(a)).__name__
    res["is_tensor"] = bool(ops.is_tensor(ops.convert_to_tensor(a)))

    acts = keras.activations
    for name in ["relu", "sigmoid", "softmax", "tanh", "elu", "selu", "softplus", "softsign",
                 "swish", "silu", "gelu", "hard_sigmoid", "exponential", "linear", "mish",
                 "relu6", "leaky_relu", "log_softmax", "hard_silu"]:
        try:
            fn = acts.get(name)
        except Exception as e:  # noqa: BLE001
            res[f"act/{name}"] = f"missing:{type(e).__name__}"
            continue
        res[f"act/{name}"] = fn(tf.constant(a))
    res["act/relu_max"] = acts.relu(tf.constant(a), max_value=0.5, threshold=0.1,
                                    negative_slope=0.2)
    res["act/serialize"] = acts.serialize(acts.relu)
    inits = keras.initializers
    res["init/constant"] = inits.Constant(0.3)((2, 2))
    res["init/identity"] = inits.Identity(gain=2.0)((3, 3))
    res["init/ones"] = inits.get("ones")((2,))
    res["init/zeros_dtype"] = dtype_name(inits.Zeros()((2,)))
    res["init/glorot_limits_ok"] = bool(np.abs(np.asarray(inits.GlorotUniform(seed=1)(
        (50, 30)))).max() <= np.sqrt(6 / 80))
    res["init/he_std"] = float(np.asarray(inits.HeNormal(seed=2)((400, 400))).std())
    res["init/orthogonal_is_orthogonal"] = bool(np.allclose(
        np.asarray(inits.Orthogonal(seed=3)((5, 5))) @ np.asarray(
            inits.Orthogonal(seed=3)((5, 5))).T, np.eye(5), atol=1e-5))
    return res


TOLERANCE = {"res/init/he_std": (0.02, 0), "init/he_std": (0.03, 0)}
