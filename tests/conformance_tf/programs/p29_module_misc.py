"""tf.Module tracking, variable slice assignment, tf.nest, identity_n, clip_by_global_norm."""

TOLERANCE = {"default": (1e-5, 1e-6)}


def program(tf, np):
    class Dense(tf.Module):
        def __init__(self, i, o, name=None):
            super().__init__(name=name)
            self.w = tf.Variable(tf.ones([i, o]) * 0.5, name="w")
            self.b = tf.Variable(tf.zeros([o]), name="b")

        def __call__(self, x):
            return tf.nn.relu(x @ self.w + self.b)

    class MLP(tf.Module):
        def __init__(self):
            super().__init__(name="mlp")
            self.layers = [Dense(3, 4, name="d1"), Dense(4, 2, name="d2")]
            self.scale = tf.Variable(2.0, trainable=False, name="scale")

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x * self.scale

    def module():
        m = MLP()
        x = tf.constant([[1.0, -1.0, 2.0]])
        with tf.GradientTape() as t:
            y = tf.reduce_sum(m(x))
        g = t.gradient(y, m.trainable_variables)
        return {"y": y, "n_train": len(m.trainable_variables), "n_all": len(m.variables),
                "shapes": [v.shape.as_list() for v in m.trainable_variables],
                "names": [v.name for v in m.trainable_variables],
                "g": g, "n_sub": len(m.submodules), "mod_name": m.name}

    def slice_assign():
        v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
        v[0, 1].assign(10.0)
        v[1, :2].assign([7.0, 8.0])
        v[:, 2].assign(tf.constant([-1.0, -2.0]))
        return v

    def nest():
        s = {"a": (1, [2, 3]), "b": 4}
        return {"flat": tf.nest.flatten(s),
                "mapped": tf.nest.flatten(tf.nest.map_structure(lambda v: v * 10, s)),
                "packed": tf.nest.flatten(tf.nest.pack_sequence_as(s, [5, 6, 7, 8]))}

    def global_norm_clip():
        a, b = tf.constant([3.0, 4.0]), tf.constant([[12.0]])
        clipped, n = tf.clip_by_global_norm([a, b], 6.5)
        return [clipped[0], clipped[1], n, tf.clip_by_norm(b, 1.0, axes=[1])]

    def name_scope():
        with tf.name_scope("outer"):
            v = tf.Variable(1.0, name="x")
        return v.name

    def ones_like_var():
        return tf.ones_like(tf.Variable([1, 2]))

    def identity_n():
        return tf.identity_n([tf.constant(1), tf.constant([2.0])])

    def sequence_mask():
        return [tf.sequence_mask([1, 3, 0], 4), tf.sequence_mask(tf.constant([2, 1]))]

    def searchsorted():
        return [tf.searchsorted([1.0, 3.0, 5.0], [0.0, 3.0, 6.0]),
                tf.searchsorted([1.0, 3.0, 5.0], [3.0], side="right")]

    def math_ops_misc():
        x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        return {"trace": tf.linalg.trace(x), "cross": tf.linalg.cross([1.0, 0.0, 0.0],
                                                                      [0.0, 1.0, 0.0]),
                "diag3": tf.linalg.diag([[1.0, 2.0]]), "set_diag": tf.linalg.set_diag(
                    x, [9.0, 9.0]), "lu_det": tf.linalg.det(x),
                "expm": tf.linalg.expm(x * 0.1), "pinv": tf.linalg.pinv(x),
                "lstsq": tf.linalg.lstsq(x, tf.constant([[1.0], [2.0]]))}

    return {"module": module, "slice_assign": slice_assign, "nest": nest,
            "global_norm_clip": global_norm_clip, "name_scope": name_scope,
            "ones_like_var": ones_like_var, "identity_n": identity_n,
            "sequence_mask": sequence_mask, "searchsorted": searchsorted,
            "math_ops_misc": math_ops_misc}
