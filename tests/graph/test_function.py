"""tf.function against eager execution: a table of ops (traced on one value, run on another,
so constants baked in at trace time would show), training steps, retracing rules, signatures,
variables, the tensor-dependent-if error."""
import warnings

import numpy as np
import pytest

import tenfold as tf
from tenfold.framework.errors import OperatorNotAllowedInGraphError

RNG = np.random.default_rng(7)


def rnd(*shape, dtype=np.float32, positive=False):
    a = RNG.standard_normal(shape).astype(dtype)
    return np.abs(a) + 0.5 if positive else a


def ints(*shape, hi=5):
    return RNG.integers(0, hi, size=shape).astype(np.int32)


# name -> (function of tensors, argument factory). Each argument factory gives fresh values.
OPS = {
    "add": (lambda x, y: x + y, lambda: (rnd(3, 4), rnd(4))),
    "sub_mul_div": (lambda x, y: (x - y) * y / (y * y + 1.0), lambda: (rnd(3, 4), rnd(3, 4))),
    "pow": (lambda x, y: tf.pow(x, y), lambda: (rnd(5, positive=True), rnd(5))),
    "max_min": (lambda x, y: tf.maximum(x, y) - tf.minimum(x, 0.5), lambda: (rnd(6), rnd(6))),
    "unary": (lambda x: tf.exp(x) + tf.math.log(tf.abs(x) + 1.0) + tf.sqrt(tf.abs(x)) +
              tf.tanh(x) + tf.sigmoid(x) + tf.square(x) - tf.negative(x),
              lambda: (rnd(4, 3),)),
    "relu_softmax": (lambda x: tf.nn.softmax(tf.nn.relu(x)) + tf.nn.log_softmax(x, axis=0),
                     lambda: (rnd(4, 5),)),
    "matmul": (lambda a, b: tf.matmul(a, b, transpose_b=True) @ tf.ones((4, 2)),
               lambda: (rnd(3, 5), rnd(4, 5))),
    "reductions": (lambda x: tf.stack([tf.reduce_sum(x), tf.reduce_mean(x), tf.reduce_max(x),
                                       tf.reduce_min(x), tf.reduce_prod(x[:2, :2])]),
                   lambda: (rnd(3, 4),)),
    "reduce_axis": (lambda x: tf.reduce_sum(x, axis=1, keepdims=True) * tf.reduce_mean(x, 0),
                    lambda: (rnd(3, 4),)),
    "argmax_cast": (lambda x: tf.cast(tf.argmax(x, axis=1), tf.float32) + 0.0,
                    lambda: (rnd(5, 4),)),
    "where": (lambda x, y: tf.where(x > y, x, y * 2.0), lambda: (rnd(7), rnd(7))),
    "shape_ops": (lambda x: tf.transpose(tf.reshape(tf.expand_dims(x, 0), (1, 6, 2)),
                                         (2, 1, 0)) * 3.0, lambda: (rnd(3, 4),)),
    "concat_split": (lambda x, y: tf.split(tf.concat([x, y], axis=1), 2, axis=1)[1] * 2.0,
                     lambda: (rnd(2, 3), rnd(2, 3))),
    "slicing": (lambda x: x[1:, ::2] + x[0, 1], lambda: (rnd(4, 5),)),
    "gather": (lambda x, i: tf.gather(x, i) * 2.0, lambda: (rnd(6, 3), ints(4, hi=6))),
    "gather_nd": (lambda x, i: tf.gather_nd(x, i), lambda: (rnd(4, 3), ints(5, 2, hi=3))),
    "one_hot": (lambda i: tf.one_hot(i, 6) * 2.0, lambda: (ints(5, hi=6),)),
    "tile_pad": (lambda x: tf.pad(tf.tile(x, [2, 1]), [[1, 0], [0, 2]]), lambda: (rnd(2, 3),)),
    "cumsum": (lambda x: tf.cumsum(x, axis=1), lambda: (rnd(3, 4),)),
    "clip": (lambda x: tf.clip_by_value(x, -0.5, 0.5), lambda: (rnd(10),)),
    "zeros_ones_like": (lambda x: tf.zeros_like(x) + tf.ones_like(x) * x,
                        lambda: (rnd(3),)),
    "xent": (lambda l, z: tf.nn.softmax_cross_entropy_with_logits(l, z),
             lambda: (np.eye(4, dtype=np.float32)[ints(3, hi=4)], rnd(3, 4))),
    "sparse_xent": (lambda l, z: tf.nn.sparse_softmax_cross_entropy_with_logits(l, z),
                    lambda: (ints(3, hi=4), rnd(3, 4))),
    "sigmoid_xent": (lambda l, z: tf.nn.sigmoid_cross_entropy_with_logits(labels=l, logits=z),
                     lambda: (rnd(5, positive=True) / 3.0, rnd(5))),
    "moments": (lambda x: tf.stack(tf.nn.moments(x, axes=[0])), lambda: (rnd(6, 3),)),
    "einsum": (lambda a, b: tf.einsum("ij,jk->ik", a, b), lambda: (rnd(2, 3), rnd(3, 4))),
    "reverse_broadcast": (lambda x: tf.reverse(tf.broadcast_to(x, (3, 4)), [1]),
                          lambda: (rnd(4),)),
    "sort": (lambda x: tf.sort(x) * 1.0, lambda: (rnd(8),)),
    "shape_tensor": (lambda x: tf.cast(tf.shape(x), tf.float32) * tf.reduce_sum(x),
                     lambda: (rnd(2, 3),)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_table_graph_matches_eager(name):
    fn, make = OPS[name]
    graph_fn = tf.function(fn)
    first = [tf.constant(a) for a in make()]
    second = [tf.constant(a) for a in make()]
    for args in (first, second, first):
        want = fn(*args)
        got = graph_fn(*args)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)
    assert graph_fn.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("name", ["add", "unary", "matmul", "reductions", "slicing", "xent"])
def test_op_table_gradients_inside_graph(name):
    fn, make = OPS[name]

    def grads(*xs):
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            y = tf.reduce_sum(fn(*xs) * 1.5)
        return tape.gradient(y, list(xs))

    graph_grads = tf.function(grads)
    for _ in range(2):
        args = [tf.constant(a) for a in make()]
        for g_eager, g_graph in zip(grads(*args), graph_grads(*args)):
            if g_eager is None:
                assert g_graph is None
                continue
            np.testing.assert_allclose(np.asarray(g_graph), np.asarray(g_eager), rtol=1e-6,
                                       atol=1e-6)


def test_tape_outside_the_function_sees_its_ops():
    w = tf.Variable([[1.0, -2.0], [0.5, 3.0]])

    @tf.function
    def f(x):
        return tf.reduce_sum(tf.nn.relu(tf.matmul(x, w)) ** 2)

    x = tf.constant(rnd(3, 2))
    f(x)  # traced
    for _ in range(2):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        gx, gw = tape.gradient(y, [x, w])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y2 = tf.reduce_sum(tf.nn.relu(tf.matmul(x, w)) ** 2)
        ex, ew = tape.gradient(y2, [x, w])
        np.testing.assert_allclose(gx.numpy(), ex.numpy(), rtol=1e-6)
        np.testing.assert_allclose(gw.numpy(), ew.numpy(), rtol=1e-6)


def _sgd_model():
    rng = np.random.default_rng(3)
    w = tf.Variable(rng.standard_normal((5, 4)).astype(np.float32))
    b = tf.Variable(np.zeros(4, np.float32))
    w2 = tf.Variable(rng.standard_normal((4, 1)).astype(np.float32))
    return w, b, w2


def _train_step(variables, x, y, lr=0.05):
    w, b, w2 = variables
    with tf.GradientTape() as tape:
        h = tf.nn.relu(tf.matmul(x, w) + b)
        out = tf.matmul(h, w2)
        loss = tf.reduce_mean(tf.square(out - y))
    grads = tape.gradient(loss, [w, b, w2])
    for v, g in zip([w, b, w2], grads):
        v.assign_sub(lr * g)
    return loss


def test_training_step_graph_equals_eager():
    rng = np.random.default_rng(0)
    batches = [(tf.constant(rng.standard_normal((8, 5)).astype(np.float32)),
                tf.constant(rng.standard_normal((8, 1)).astype(np.float32))) for _ in range(6)]
    ve = _sgd_model()
    vg = _sgd_model()
    step = tf.function(lambda x, y: _train_step(vg, x, y))
    for x, y in batches:
        le = _train_step(ve, x, y)
        lg = step(x, y)
        assert float(le) == float(lg)
    for a, b in zip(ve, vg):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert step.experimental_get_tracing_count() == 1


def test_keras_optimizer_update_inside_graph():
    from tenfold import keras
    rng = np.random.default_rng(1)
    data = [(rng.standard_normal((4, 3)).astype(np.float32),
             rng.standard_normal((4, 2)).astype(np.float32)) for _ in range(4)]

    def make():
        w = tf.Variable(np.ones((3, 2), np.float32) * 0.1)
        return w, keras.optimizers.Adam(learning_rate=0.01)

    def step(w, opt, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return loss

    we, oe = make()
    wg, og = make()
    gstep = tf.function(lambda x, y: step(wg, og, x, y))
    for x, y in data:
        le = step(we, oe, tf.constant(x), tf.constant(y))
        lg = gstep(tf.constant(x), tf.constant(y))
        assert float(le) == float(lg)
    np.testing.assert_array_equal(we.numpy(), wg.numpy())
    assert int(oe.iterations.numpy()) == int(og.iterations.numpy()) == 4


def test_assignments_run_in_program_order():
    v = tf.Variable(1.0)

    @tf.function
    def f(x):
        a = v * 1.0          # read before
        v.assign(v * x)
        b = v * 1.0          # read after the assign
        v.assign_add(1.0)
        v.assign_sub(0.5)
        return a, b, v.read_value()

    for x in (2.0, 3.0):
        start = float(v.numpy())
        a, b, c = f(tf.constant(x))
        assert float(a) == start
        assert float(b) == start * x
        assert float(c) == start * x + 0.5
    assert f.experimental_get_tracing_count() == 1


def test_retracing_rules():
    calls = []

    @tf.function
    def f(x, n=1):
        calls.append(1)
        return x * n

    f(tf.ones((2, 3)))
    f(tf.zeros((2, 3)))          # same signature: no trace
    assert f.experimental_get_tracing_count() == 1 and len(calls) == 1
    f(tf.ones((4, 3)))           # new shape
    assert f.experimental_get_tracing_count() == 2
    f(tf.ones((2, 3), dtype=tf.float64))  # new dtype
    assert f.experimental_get_tracing_count() == 3
    f(tf.ones((2, 3)), n=2)      # new Python value
    assert f.experimental_get_tracing_count() == 4
    f(tf.ones((2, 3)), n=2)
    assert f.experimental_get_tracing_count() == 4
    np.testing.assert_array_equal(f(np.ones((2, 3), np.float32), n=3).numpy(), 3.0)


def test_input_signature_with_none_dims_traces_once():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        return tf.reduce_sum(x, axis=1) * 2.0

    for n in (1, 4, 7, 4):
        x = rnd(n, 3)
        np.testing.assert_allclose(f(tf.constant(x)).numpy(), x.sum(1) * 2.0, rtol=1e-6)
    assert f.experimental_get_tracing_count() == 1


def test_input_signature_mismatch_names_argument_and_spec():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(images):
        return images

    with pytest.raises(TypeError, match=r"argument 'images'.*TensorSpec\(shape=\(None, 3\)"):
        f(tf.ones((2, 4)))
    with pytest.raises(TypeError, match="images"):
        f(tf.ones((2, 3), tf.float64))


def test_reduce_retracing_generalises_shapes():
    @tf.function(reduce_retracing=True)
    def f(x):
        return x + 1.0

    for n in (2, 3, 4, 5, 6, 7, 8):
        f(tf.ones((n, 2)))
    assert f.experimental_get_tracing_count() == 2


def test_retracing_warning_says_what_changed():
    @tf.function
    def f(x):
        return x * 2.0

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for n in range(1, 8):
            f(tf.ones((n, 10)))
    msgs = [str(m.message) for m in w if issubclass(m.category, tf.graph.RetracingWarning)]
    assert msgs, "no retracing warning"
    assert "argument 'x' changed shape from (6, 10) to (7, 10)" in msgs[-1]
    assert "tf.TensorSpec([None, 10])" in msgs[-1] and "reduce_retracing=True" in msgs[-1]


def test_tensor_dependent_if_raises_with_advice():
    @tf.function(autograph=False)  # with AutoGraph the `if` becomes a tf.cond
    def f(x):
        if tf.reduce_sum(x) > 0:
            return x
        return -x

    with pytest.raises(OperatorNotAllowedInGraphError, match=r"tf\.cond.*run_functions_eagerly"):
        f(tf.ones(3))
    with pytest.raises(TypeError):  # a TypeError, as TensorFlow's
        f(tf.ones(3))

    @tf.function
    def g(x):
        return float(x) + x.numpy()

    with pytest.raises(OperatorNotAllowedInGraphError):
        g(tf.constant(1.0))


def test_python_control_flow_on_static_values_is_fine():
    @tf.function
    def f(x, training):
        if training:               # a Python bool: part of the signature
            x = x * 2.0
        for _ in range(3):         # unrolled at trace time
            x = x + 1.0
        if x.shape[0] > 1:         # static shapes are known
            x = x * 10.0
        return x

    np.testing.assert_array_equal(f(tf.ones(2), True).numpy(), [50.0, 50.0])
    np.testing.assert_array_equal(f(tf.ones(2), False).numpy(), [40.0, 40.0])


def test_run_functions_eagerly():
    seen = []

    @tf.function
    def f(x):
        seen.append(float(x))   # fine eagerly
        return x + 1.0

    tf.config.run_functions_eagerly(True)
    try:
        assert float(f(tf.constant(1.0))) == 2.0
        assert float(f(tf.constant(2.0))) == 3.0
    finally:
        tf.config.run_functions_eagerly(False)
    assert seen == [1.0, 2.0]
    assert f.experimental_get_tracing_count() == 0


def test_get_concrete_function_does_not_run():
    v = tf.Variable(0.0)

    @tf.function
    def f(x):
        v.assign_add(tf.reduce_sum(x))
        return x * 2.0

    cf = f.get_concrete_function(tf.TensorSpec([2], tf.float32))
    assert float(v.numpy()) == 0.0          # tracing did not change the variable
    assert f.experimental_get_tracing_count() == 1
    assert [s.shape.as_list() for s in cf.inputs] == [[2]]
    assert cf.structured_outputs.shape.as_list() == [2]
    np.testing.assert_array_equal(cf(tf.constant([1.0, 2.0])).numpy(), [2.0, 4.0])
    assert float(v.numpy()) == 3.0
    f(tf.constant([1.0, 1.0]))              # same signature as the concrete function
    assert f.experimental_get_tracing_count() == 1
    assert float(v.numpy()) == 5.0
    with pytest.raises(ValueError):
        cf(tf.constant([1.0, 2.0, 3.0]))


def test_methods_nested_functions_and_structures():
    class Model:
        def __init__(self):
            self.w = tf.Variable(2.0)

        @tf.function
        def __call__(self, inputs):
            return {"out": inner(inputs["a"]) * self.w, "pair": (inputs["b"], 3)}

    @tf.function
    def inner(x):
        return x + 1.0

    m1, m2 = Model(), Model()
    m2.w.assign(5.0)
    r1 = m1({"a": tf.constant(1.0), "b": tf.constant([1, 2])})
    r2 = m2({"a": tf.constant(1.0), "b": tf.constant([1, 2])})
    assert float(r1["out"]) == 4.0 and float(r2["out"]) == 10.0
    assert r1["pair"][1] == 3
    np.testing.assert_array_equal(r1["pair"][0].numpy(), [1, 2])
    assert inner.experimental_get_tracing_count() == 0  # inlined into the callers' traces


def test_returning_variables_and_constants():
    v = tf.Variable([1.0, 2.0])

    @tf.function
    def f(x):
        return v, tf.constant(7.0), x, None

    a, b, c, d = f(tf.constant(1.0))
    v.assign([3.0, 4.0])
    np.testing.assert_array_equal(a.numpy(), [1.0, 2.0])  # a snapshot
    a, b, c, d = f(tf.constant(2.0))
    np.testing.assert_array_equal(a.numpy(), [3.0, 4.0])
    assert float(b) == 7.0 and float(c) == 2.0 and d is None


def test_random_ops_draw_fresh_values_each_run():
    @tf.function
    def f(x):
        return x + tf.random.uniform((1000,))

    a = f(tf.zeros(1000)).numpy()
    b = f(tf.zeros(1000)).numpy()
    assert not np.array_equal(a, b)


def test_jit_compile_and_autograph_are_accepted():
    @tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
    def f(x):
        return x * 2.0

    assert float(f(tf.constant(2.0))) == 4.0


def test_kernel_errors_name_the_op():
    @tf.function
    def f(p, i):
        return tf.gather(p, i)

    f(tf.ones((3, 2)), tf.constant([0, 1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="gather"):
        f(tf.ones((3, 2)), tf.constant([0, 5]))


def test_methods_do_not_keep_instances_alive():
    import gc
    import weakref

    class M:
        @tf.function
        def f(self, x):
            return x * 2.0

    m = M()
    assert float(m.f(tf.constant(1.0))) == 2.0
    r = weakref.ref(m)
    del m
    gc.collect()
    assert r() is None


def test_tape_outside_links_through_the_first_traced_call():
    """A tape recording around the call that traces the function sees its ops (also when one
    tensor is passed twice); later calls replay on the caller's tensors."""
    import tenfold as tf

    @tf.function
    def square(x):
        return x * x

    @tf.function
    def product(a, b):
        return a * b

    x = tf.constant(3.0)
    for _ in range(2):  # first call traces, second call runs the graph
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = square(x) + product(x, x)
        assert float(tape.gradient(y, x)) == 12.0
