"""Variables: creation, assign family, properties, arithmetic."""


def program(tf, np):
    def basics():
        v = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="v")
        r = {}
        r["init"] = v.numpy()
        v.assign([[5.0, 6.0], [7.0, 8.0]])
        r["assign"] = v.numpy()
        v.assign_add(tf.ones([2, 2]))
        r["assign_add"] = v.numpy()
        v.assign_sub([[1.0, 1.0], [1.0, 1.0]])
        r["assign_sub"] = v.numpy()
        r["returned"] = v.assign_add(tf.ones([2, 2]) * 2)
        r["name"] = v.name
        r["shape"] = v.shape.as_list()
        r["dtype"] = v.dtype.name
        r["trainable"] = v.trainable
        r["plus"] = v + 1
        r["matmul"] = v @ v
        r["neg"] = -v
        r["slice"] = v[0]
        r["read_value"] = v.read_value()
        r["value"] = v.value()
        r["convert"] = tf.convert_to_tensor(v)
        r["identity"] = tf.identity(v)
        r["np_array"] = np.asarray(v) * 2
        snap = tf.identity(v)
        v.assign(tf.zeros([2, 2]))
        r["snapshot_unchanged"] = snap
        r["scatter"] = v.scatter_nd_update([[0, 1]], [9.0])
        return r

    def dtypes():
        return {"int": tf.Variable(3).dtype.name, "f64": tf.Variable(np.float64(1)).dtype.name,
                "np_f32": tf.Variable(np.ones(2, np.float32)).dtype.name,
                "explicit": tf.Variable(1, dtype=tf.float32).dtype.name,
                "bool": tf.Variable(True).dtype.name,
                "callable": tf.Variable(lambda: tf.ones([2])),
                "int_assign_add": tf.Variable([1, 2]).assign_add([3, 4])}

    def counter():
        c = tf.Variable(0)
        for i in range(5):
            c.assign_add(i)
        return c

    return {
        "basics": basics, "dtypes": dtypes, "counter": counter,
        "error_assign_shape": lambda: tf.Variable([1.0, 2.0]).assign([1.0, 2.0, 3.0]),
        "error_assign_dtype": lambda: tf.Variable([1.0, 2.0]).assign(tf.constant([1, 2])),
        "error_assign_add_shape": lambda: tf.Variable([1.0]).assign_add([1.0, 2.0]),
        "shape_none_assign": lambda: _shape_none(tf),
    }


def _shape_none(tf):
    v = tf.Variable([1.0, 2.0], shape=tf.TensorShape(None))
    v.assign([1.0, 2.0, 3.0])
    return v.numpy()
