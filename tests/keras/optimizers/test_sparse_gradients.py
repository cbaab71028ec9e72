"""Optimizers apply the tf.IndexedSlices gradients of Embedding lookups with Keras-on-
TensorFlow's arithmetic, repeated ids included, checked against goldens that Keras 3.15 on
TensorFlow 2.21 made (tests/fixtures/sparse_optim/make_goldens.py)."""
import os
import sys

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "sparse_optim")
GOLDENS = os.path.join(FIXTURES, "goldens.npz")
sys.path.insert(0, FIXTURES)
from sparse_optim_cases import embedding_model, optimizers  # noqa: E402

OPTIMIZERS = optimizers(keras)


@pytest.fixture(scope="module")
def goldens():
    with np.load(GOLDENS) as g:
        return {k: g[k] for k in g.files}


def _tape_steps(goldens, make, wrap=lambda f: f):
    v = tf.Variable(goldens["tape/init"])
    opt = make()

    @wrap
    def step(scale):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(v, goldens["tape/ids"]) * goldens["tape/coef"]
                                 * scale)
        g = tape.gradient(loss, v)
        opt.apply_gradients([(g, v)])
        return g

    grads = [step(tf.constant(1.0 + k)) for k in range(3)]
    return v.numpy(), grads


def test_tape_gradient_is_indexed_slices_as_tensorflow_returns_it(goldens):
    _, grads = _tape_steps(goldens, OPTIMIZERS["sgd"])
    g = grads[0]
    assert isinstance(g, tf.IndexedSlices)
    np.testing.assert_array_equal(g.indices.numpy(), goldens["tape/grad_indices"])
    np.testing.assert_allclose(g.values.numpy(), goldens["tape/grad_values"], rtol=1e-6)
    assert tuple(g.dense_shape.numpy()) == (20, 4) and g.dense_shape.dtype == tf.int32


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_eager_steps_match_keras_on_tensorflow(goldens, name):
    got, _ = _tape_steps(goldens, OPTIMIZERS[name])
    np.testing.assert_allclose(got, goldens[f"tape/{name}"], rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad", "sgd"])
def test_steps_inside_tf_function_match(goldens, name):
    got, _ = _tape_steps(goldens, OPTIMIZERS[name], wrap=tf.function)
    np.testing.assert_allclose(got, goldens[f"tape/{name}"], rtol=2e-6, atol=2e-6)


def _embedding_model():
    return embedding_model(keras)


@pytest.mark.parametrize("run_eagerly", [False, True])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_one_epoch_of_fit_matches_keras_on_tensorflow(goldens, name, run_eagerly):
    model = _embedding_model()
    model.set_weights([goldens[f"init/{i}"] for i in range(3)])
    model.compile(optimizer=OPTIMIZERS[name](), loss="mse", run_eagerly=run_eagerly)
    model.fit(goldens["x"], goldens["y"], batch_size=8, epochs=1, shuffle=False, verbose=0)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, goldens[f"fit/{name}/{i}"], rtol=2e-6, atol=2e-6,
                                   err_msg=f"weight {i}")


@pytest.mark.parametrize("name,moves_untouched_rows", [
    ("sgd", False), ("adagrad", False), ("rmsprop", False), ("adadelta", False),
    ("adam", True), ("sgd_momentum", True)])
def test_rows_never_looked_up(name, moves_untouched_rows):
    """Where TensorFlow's arithmetic touches only the looked-up rows, so does tenfold (rows
    with state from earlier steps keep moving under Adam / momentum, as in TensorFlow)."""
    start = np.arange(40, dtype="float32").reshape(10, 4) / 10
    v = tf.Variable(start)
    opt = OPTIMIZERS[name]()
    after = []
    for ids in ([1, 2, 2], [3, 3, 1]):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(tf.gather(v, ids)))
        opt.apply_gradients([(tape.gradient(loss, v), v)])
        after.append(v.numpy())
    np.testing.assert_array_equal(after[1][4:], start[4:])          # never looked up
    # row 2, looked up only in the first step: does the second step move it?
    assert (not np.array_equal(after[0][2], after[1][2])) == moves_untouched_rows


def test_custom_update_step_receives_indexed_slices():
    seen = []

    class Plain(keras.optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            seen.append(type(gradient).__name__)
            self.assign_sub(variable, keras.ops.multiply(tf.convert_to_tensor(gradient),
                                                         learning_rate))

    v = tf.Variable(np.zeros((5, 2), "float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(v, [0, 0, 3]))
    Plain(learning_rate=0.5).apply_gradients([(tape.gradient(loss, v), v)])
    assert seen == ["IndexedSlices"]
    np.testing.assert_allclose(v.numpy()[:, 0], [-1.0, 0, 0, -0.5, 0])


def test_clipnorm_and_loss_scale_apply_to_sparse_gradients():
    start = np.ones((6, 3), "float32")
    results = []
    for sparse in (True, False):
        v = tf.Variable(start)
        opt = keras.optimizers.SGD(0.1, clipnorm=1.0)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(v, [1, 1, 4]) * 3.0)
        g = tape.gradient(loss, v)
        opt.apply_gradients([(g if sparse else tf.convert_to_tensor(g), v)])
        results.append(v.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


@pytest.mark.parametrize("vocab,n", [(3, 200), (50, 100), (5000, 640), (20, 65)])
def test_scatter_rows_adds_repeats_in_order_like_np_add_at(vocab, n):
    from tenfold.keras.optimizers.optimizer import scatter_rows
    rng = np.random.default_rng(vocab + n)
    idx = rng.integers(0, vocab, n).astype(np.intp)
    vals = rng.standard_normal((n, 5)).astype(np.float32)
    want = rng.standard_normal((vocab, 5)).astype(np.float32)
    got = want.copy()
    np.add.at(want, idx, vals)
    scatter_rows(got, idx, vals)
    np.testing.assert_array_equal(got, want)   # bit for bit: the same order of additions


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("rows,width", [(20000, 16), (50, 3), (7, 1)])
def test_adam_row_path_is_bit_identical_to_the_dense_kernel(rows, width, amsgrad):
    """Adam's sparse path (rows without a gradient decay in blocks, the looked-up rows take
    the full formula) gives the dense kernel's numbers on the summed rows, bit for bit."""
    from tenfold.keras.optimizers.optimizer import Optimizer, SparseRows
    rng = np.random.default_rng(rows)
    init = rng.standard_normal((rows, width)).astype("float32")
    idx = rng.integers(0, rows, 300).astype("int32")
    idx[:20] = idx[20]  # repeats
    results = []
    for sparse_path in (True, False):
        opt = keras.optimizers.Adam(learning_rate=0.01, amsgrad=amsgrad)
        var = keras.Variable(init.copy())
        opt.build([var])
        if not sparse_path:  # the base class's dense kernel on the summed rows
            opt._sparse_kernel = lambda *a, _o=opt: Optimizer._sparse_kernel(_o, *a)
        for step in range(3):
            vals = rng.standard_normal((300, width)).astype("float32") * (step + 1)
            g = SparseRows(vals, idx, (rows, width))
            opt.make_update_fn([var])([g])
        results.append([var.numpy()] + [v.numpy() for v in opt.variables[1:]])
        rng = np.random.default_rng(rows)
        rng.standard_normal((rows, width))
        rng.integers(0, rows, 300)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
