"""matmul (transposes, batch broadcasting), einsum, tensordot."""

TOLERANCE = {"default": (1e-5, 1e-5)}


def program(tf, np):
    rng = np.random.RandomState(2)
    a = tf.constant(rng.randn(2, 3).astype(np.float32))
    b = tf.constant(rng.randn(3, 4).astype(np.float32))
    ba = tf.constant(rng.randn(5, 2, 3).astype(np.float32))
    bb = tf.constant(rng.randn(1, 3, 4).astype(np.float32))
    v = tf.constant(rng.randn(3).astype(np.float32))
    ia = tf.constant(rng.randint(-3, 3, (2, 3)).astype(np.int32))
    return {
        "mm": lambda: tf.matmul(a, b),
        "mm_op": lambda: a @ b,
        "mm_ta": lambda: tf.matmul(tf.transpose(a), a, transpose_a=False),
        "mm_ta2": lambda: tf.matmul(b, a, transpose_a=True, transpose_b=True),
        "mm_tb": lambda: tf.matmul(a, a, transpose_b=True),
        "mm_adjoint": lambda: tf.matmul(a, a, adjoint_b=True),
        "mm_batch_bcast": lambda: tf.matmul(ba, bb),
        "mm_batch_2d": lambda: tf.matmul(ba, b),
        "mm_int": lambda: tf.matmul(ia, tf.transpose(ia)),
        "linalg_matmul": lambda: tf.linalg.matmul(a, b),
        "matvec": lambda: tf.linalg.matvec(a, v),
        "einsum_mm": lambda: tf.einsum("ij,jk->ik", a, b),
        "einsum_batch": lambda: tf.einsum("bij,bjk->bik", ba, tf.tile(bb, [5, 1, 1])),
        "einsum_trace": lambda: tf.einsum("ii", tf.matmul(a, a, transpose_b=True)),
        "einsum_diag": lambda: tf.einsum("ii->i", tf.matmul(a, a, transpose_b=True)),
        "einsum_outer": lambda: tf.einsum("i,j->ij", v, v),
        "einsum_dot": lambda: tf.einsum("i,i->", v, v),
        "einsum_transpose": lambda: tf.einsum("ij->ji", a),
        "einsum_sum": lambda: tf.einsum("bij->b", ba),
        "einsum_ellipsis": lambda: tf.einsum("...ij,jk->...ik", ba, b),
        "einsum_attn": lambda: tf.einsum("bqd,bkd->bqk", ba, ba),
        "einsum_implicit": lambda: tf.einsum("ij,jk", a, b),
        "tensordot_int": lambda: tf.tensordot(a, b, 1),
        "tensordot_axes": lambda: tf.tensordot(ba, b, axes=[[2], [0]]),
        "tensordot_0": lambda: tf.tensordot(v, v, axes=0),
        "tensordot_2": lambda: tf.tensordot(ba, ba, axes=[[1, 2], [1, 2]]),
        "error_mm_shape": lambda: tf.matmul(a, a),
        "error_mm_dtype": lambda: tf.matmul(a, tf.cast(b, tf.float64)),
        "error_mm_rank1": lambda: tf.matmul(v, b),
        "error_einsum": lambda: tf.einsum("ij,jk->ik", a, a),
        "error_tensordot": lambda: tf.tensordot(a, a, 1),
    }
