"""tf.linalg: inv, det, slogdet, cholesky, solve, norm ords, triangular_solve, qr-free."""

TOLERANCE = {"default": (1e-4, 1e-5)}


def program(tf, np):
    rng = np.random.RandomState(3)
    m = rng.randn(3, 3)
    spd = (m @ m.T + 3 * np.eye(3)).astype(np.float32)
    bm = tf.constant(np.stack([spd, spd * 2 + np.eye(3, dtype=np.float32)]))
    A = tf.constant(spd)
    rhs = tf.constant(rng.randn(3, 2).astype(np.float32))
    g = tf.constant(rng.randn(3, 4).astype(np.float32))
    return {
        "inv": lambda: tf.linalg.inv(A),
        "inv_batch": lambda: tf.linalg.inv(bm),
        "det": lambda: tf.linalg.det(A),
        "det_batch": lambda: tf.linalg.det(bm),
        "slogdet": lambda: tf.linalg.slogdet(A)[1],
        "logdet": lambda: tf.linalg.logdet(A),
        "cholesky": lambda: tf.linalg.cholesky(A),
        "cholesky_batch": lambda: tf.linalg.cholesky(bm),
        "solve": lambda: tf.linalg.solve(A, rhs),
        "cholesky_solve": lambda: tf.linalg.cholesky_solve(tf.linalg.cholesky(A), rhs),
        "tri_solve": lambda: tf.linalg.triangular_solve(tf.linalg.cholesky(A), rhs, lower=True),
        "trace": lambda: tf.linalg.trace(bm),
        "diag_part": lambda: tf.linalg.diag_part(A),
        "diag": lambda: tf.linalg.diag(tf.constant([1.0, 2.0])),
        "band_part": lambda: tf.linalg.band_part(A, 0, -1),
        "transpose": lambda: tf.linalg.matrix_transpose(bm),
        "norm_fro": lambda: tf.linalg.norm(g),
        "norm_fro_axes": lambda: tf.norm(g, ord="fro", axis=[0, 1]),
        "norm_1_matrix": lambda: tf.norm(g, ord=1, axis=[-2, -1]),
        "norm_inf_matrix": lambda: tf.norm(g, ord=np.inf, axis=[0, 1]),
        "norm_euclid_vec": lambda: tf.norm(g, ord="euclidean", axis=1),
        "norm_3_vec": lambda: tf.norm(g, ord=3, axis=0),
        "norm_keepdims": lambda: tf.norm(g, axis=1, keepdims=True),
        "eigh_vals": lambda: tf.linalg.eigh(A)[0],
        "svd_vals": lambda: tf.linalg.svd(g, compute_uv=False),
        "global_norm": lambda: tf.linalg.global_norm([g, rhs]),
        "error_inv_nonsquare": lambda: tf.linalg.inv(g),
        "error_cholesky_int": lambda: tf.linalg.cholesky(tf.constant([[1]])),
        "error_solve_shape": lambda: tf.linalg.solve(A, tf.ones([4, 1])),
        "error_norm_ord": lambda: tf.norm(g, ord=0.5),
    }
