"""The executor's classifier-head pass (graph/loss_fusion.py): softmax, softmax cross-entropy
and its gradient on the same logits become one softmax_xent_all node, with each value the
unfused node's bit for bit (native narrow kernel or not); where moving them would change a
value (the upstream gradient made after them, a variable's logits) the nodes stay."""
import numpy as np
import pytest

import tenfold as tf
from tenfold.backend import row_kernels
from tenfold.ops import fused_ops as F
from tenfold.ops import nn_ops

RNG = np.random.default_rng(5)


def _plan_names(fn):
    prog = list(fn._exact.values())[0][1]
    return [n.op.name for n in prog.plan().nodes]


def _head(labels, logits, softmax=True, scale=None):
    """The three nodes of a classifier's step: softmax output, loss, the loss's gradient."""
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = tf.nn.softmax_cross_entropy_with_logits(labels, logits)
        total = tf.reduce_sum(loss) / 7.0
    grad = tape.gradient(total, logits)
    out = [loss, grad]
    if softmax:
        out.insert(0, tf.nn.softmax(logits))
    return out


def _labels(rows, cols, soft=False):
    if soft:
        p = RNG.random((rows, cols)).astype(np.float32)
        return p / p.sum(-1, keepdims=True)
    return np.eye(cols, dtype=np.float32)[RNG.integers(0, cols, rows)]


@pytest.mark.parametrize("native", ["1", "0"])
@pytest.mark.parametrize("rows,cols,soft,softmax", [
    (128, 10, False, True), (37, 3, True, True), (5, 32, False, False), (8000, 10, True, True),
    (16, 1, False, True), (9, 40, False, True)])
def test_fused_plan_gives_the_nodes_numbers(monkeypatch, native, rows, cols, soft, softmax):
    monkeypatch.setenv("TENFOLD_NATIVE", native)
    labels = tf.constant(_labels(rows, cols, soft))
    logits = RNG.standard_normal((rows, cols)).astype(np.float32) * 4
    logits[0, 0] = 30.0    # a large logit (not so large that eager, which keeps subnormals, differs)
    logits = tf.constant(logits)

    def f(lab, lg):
        return _head(lab, lg, softmax)
    fused = tf.function(f)
    got = fused(labels, logits)
    names = _plan_names(fused)
    assert "softmax_xent_all" in names
    assert "softmax_xent_grad" not in names and "softmax_cross_entropy_with_logits" not in names
    with tf.graph.optimizations(fusion=False):
        plain = tf.function(f)
        want = plain(labels, logits)
        assert "softmax_xent_all" not in _plan_names(plain)
    eager = f(labels, logits)
    for g, w, e in zip(got, want, eager):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
        np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_the_kernel_equals_each_nodes_kernel_on_hard_values():
    x = RNG.standard_normal((50, 10)).astype(np.float32)
    x[1] = np.nan
    x[2, 3] = np.inf
    x[3] = -np.inf
    x[4, :5] = 1e30
    labels = _labels(50, 10, soft=True)
    labels[5] = 0.0
    g = RNG.standard_normal(50).astype(np.float32)
    y, loss, dx = F._softmax_xent_all_kernel(labels, x, g, axis=-1, softmax=True)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(y, nn_ops._softmax_kernel(x, -1))
        np.testing.assert_array_equal(loss, nn_ops._xent_kernel(labels, x, -1))
        np.testing.assert_array_equal(dx, F._softmax_xent_grad_kernel(g, labels, x, -1))


def test_native_pass_is_what_runs_and_declines_what_it_cannot_take():
    x = RNG.standard_normal((64, 10)).astype(np.float32)
    labels = _labels(64, 10)
    g = np.full(64, 1 / 64, np.float32)
    y, loss, dx = (np.empty((64, 10), np.float32), np.empty(64, np.float32),
                   np.empty((64, 10), np.float32))
    if not row_kernels.xent_all(labels, x, g, y, loss, dx):
        pytest.skip("no AVX-512 narrow rows kernels here")
    assert not row_kernels.xent_all(labels, x, g.astype(np.float64), y, loss, dx)
    assert not row_kernels.xent_all(labels[:, :9], x, g, y, loss, dx)
    assert not row_kernels.xent_all(labels, np.ones((64, 40), np.float32), g, None, None, None)
    # only some of the outputs
    loss2 = np.empty(64, np.float32)
    assert row_kernels.xent_all(labels, x, None, None, loss2, None)
    np.testing.assert_array_equal(loss2, loss)


def test_an_upstream_gradient_made_after_the_softmax_keeps_the_nodes():
    """g depends on the softmax output, so the gradient cannot move before the softmax."""
    labels = tf.constant(_labels(12, 4))
    logits = tf.constant(RNG.standard_normal((12, 4)).astype(np.float32))

    def f(lab, lg):
        with tf.GradientTape() as tape:
            tape.watch(lg)
            loss = tf.nn.softmax_cross_entropy_with_logits(lab, lg)
        s = tf.nn.softmax(lg)
        g = tape.gradient(loss, lg, output_gradients=tf.reduce_sum(s * s, -1))
        return s, loss, g
    fused = tf.function(f)
    got = fused(labels, logits)
    assert "softmax_xent_all" not in _plan_names(fused)
    eager = f(labels, logits)
    for a, b in zip(got, eager):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_logits_read_from_a_variable_keep_the_nodes():
    v = tf.Variable(RNG.standard_normal((6, 3)).astype(np.float32))
    labels = tf.constant(_labels(6, 3))

    @tf.function
    def f(lab):
        with tf.GradientTape() as tape:
            loss = tf.nn.softmax_cross_entropy_with_logits(lab, v)
        return loss, tape.gradient(loss, v), tf.nn.softmax(v)
    f(labels)
    assert "softmax_xent_all" not in _plan_names(f)


def _fit_fused_and_not(loss, y, optimizer):
    """A small Keras classifier trained twice from one seed, with the executor's fusions and
    without: (weights, history, the compiled step's op names) for each."""
    keras = tf.keras
    x = RNG.random((256, 20)).astype(np.float32)

    def train(fusion):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(5, activation="softmax")])
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        with tf.graph.optimizations(fusion=fusion):
            hist = model.fit(x, y, batch_size=64, epochs=2, verbose=0, shuffle=False)
            names = _plan_names(model.train_function.functions[0])
        return [w.numpy() for w in model.weights], hist.history, names
    return train(True), train(False)


def test_a_keras_classifier_fits_to_the_unfused_numbers():
    (wa, ha, names), (wb, hb, plain) = _fit_fused_and_not(
        "categorical_crossentropy", _labels(256, 5), "rmsprop")
    assert "softmax_xent_all" in names and "argmax_matches" in names
    assert "softmax_xent_all" not in plain
    assert ha == hb
    for a, b in zip(wa, wb):
        np.testing.assert_array_equal(a, b)


# ---- class-index labels

def _sparse_head(labels, logits, softmax=True):
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        total = tf.reduce_sum(loss) / 3.0
    out = [loss, tape.gradient(total, logits)]
    if softmax:
        out.insert(0, tf.nn.softmax(logits))
    return out


@pytest.mark.parametrize("native", ["1", "0"])
@pytest.mark.parametrize("rows,cols,label_dtype,softmax", [
    (128, 10, np.int64, True), (33, 7, np.int32, True), (6000, 12, np.int64, False)])
def test_sparse_fused_plan_gives_the_nodes_numbers(monkeypatch, native, rows, cols,
                                                   label_dtype, softmax):
    monkeypatch.setenv("TENFOLD_NATIVE", native)
    labels = tf.constant(RNG.integers(0, cols, rows).astype(label_dtype))
    logits = tf.constant(RNG.standard_normal((rows, cols)).astype(np.float32) * 3)

    def f(lab, lg):
        return _sparse_head(lab, lg, softmax)
    fused = tf.function(f)
    got = fused(labels, logits)
    names = _plan_names(fused)
    assert "sparse_softmax_xent_all" in names and "sparse_softmax_xent_grad" not in names
    assert "softmax" not in names   # (where there is one) it goes into the node too
    with tf.graph.optimizations(fusion=False):
        want = tf.function(f)(labels, logits)
    for g, w, e in zip(got, want, f(labels, logits)):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
        np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_sparse_fused_node_reports_a_bad_label_as_the_op_does():
    logits = tf.constant(RNG.standard_normal((8, 4)).astype(np.float32))
    labels = tf.constant(np.array([0, 1, 2, 3, 4, 0, 1, 2], np.int64))
    fused = tf.function(lambda lab, lg: _sparse_head(lab, lg))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label value of 4.*\[0, 4\)"):
        fused(labels, logits)


def test_a_keras_sparse_classifier_fits_to_the_unfused_numbers():
    (wa, ha, names), (wb, hb, _) = _fit_fused_and_not(
        "sparse_categorical_crossentropy", RNG.integers(0, 5, 256), "adam")
    # Keras casts the labels after the model's output: the loss and its gradient fuse
    assert "sparse_softmax_xent_all" in names and "argmax_matches" in names
    assert ha == hb
    for a, b in zip(wa, wb):
        np.testing.assert_array_equal(a, b)
