"""Accuracy's matches in one kernel (fused_ops.argmax_matches, native/rows.c argmax_match)
against its unfused twin (argmax, equal, cast), with and without the native library, and the
Keras accuracy metrics that call it against Keras itself; div_no_nan as one primitive against
its composition, bit for bit."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tenfold as tf
from tenfold.backend import row_kernels
from tenfold.ops import fused_ops as F
from tenfold.ops import math_ops as M

RNG = np.random.default_rng(11)


def _onehot(idx, n, dtype):
    return np.eye(n, dtype=dtype)[idx]


def _reference(y_true, y_pred, sparse):
    """TensorFlow's argmax rule (NaN never wins, ties to the first) in NumPy."""
    p = np.argmax(np.where(np.isnan(y_pred), -np.inf, y_pred), axis=-1)
    if sparse:
        return (y_true == p.astype(y_true.dtype)).astype(np.float32)
    t = np.argmax(np.where(np.isnan(y_true), -np.inf, y_true), axis=-1)
    return (t == p).astype(np.float32)


def _both(y_true, y_pred, dtype=np.float32):
    fused = F.argmax_matches(tf.constant(y_true), tf.constant(y_pred), dtype=np.dtype(dtype))
    twin = F.argmax_matches_unfused(tf.constant(y_true), tf.constant(y_pred),
                                    np.dtype(dtype))
    return fused.numpy(), twin.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(128, 10), (5, 1), (3, 7, 4), (1, 300)])
def test_one_hot_and_sparse_match_the_twin(dtype, shape):
    y_pred = RNG.standard_normal(shape).astype(dtype)
    idx = RNG.integers(0, shape[-1], shape[:-1])
    for y_true, sparse in [(_onehot(idx, shape[-1], dtype), False), (idx.astype(dtype), True)]:
        fused, twin = _both(y_true, y_pred, dtype)
        assert fused.dtype == twin.dtype == dtype and fused.shape == shape[:-1]
        np.testing.assert_array_equal(fused, twin)
        np.testing.assert_array_equal(fused, _reference(y_true, y_pred, sparse))


def test_nan_ties_and_infinities_follow_the_argmax_rule():
    nan, inf = np.nan, np.inf
    y_pred = np.array([[nan, 1, 0], [nan, nan, nan], [-inf, -inf, -inf], [2, 2, 1],
                       [0, inf, nan], [nan, -inf, -1]], np.float32)
    y_true = np.array([[0, 1, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]],
                      np.float32)
    fused, twin = _both(y_true, y_pred)
    np.testing.assert_array_equal(fused, [1, 1, 1, 0, 1, 1])
    np.testing.assert_array_equal(fused, twin)
    labels = np.array([1, 0, 0, 0, 1, 2], np.float32)
    fused, twin = _both(labels, y_pred)
    np.testing.assert_array_equal(fused, [1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(fused, twin)


def test_the_native_kernel_is_what_runs_and_declines_what_it_cannot_take(monkeypatch):
    y_pred = RNG.standard_normal((64, 10)).astype(np.float32)
    y_true = _onehot(RNG.integers(0, 10, 64), 10, np.float32)
    out = np.empty(64, np.float32)
    if not row_kernels.argmax_match(y_true, y_pred, out):
        pytest.skip("no native rows library here")
    np.testing.assert_array_equal(out, _reference(y_true, y_pred, False))
    # labels of another dtype, a non-contiguous prediction, a wrong output: declined
    assert not row_kernels.argmax_match(y_true.astype(np.float64), y_pred, out)
    assert not row_kernels.argmax_match(y_true, y_pred[:, ::2], out)
    assert not row_kernels.argmax_match(y_true, y_pred, np.empty(63, np.float32))
    assert not row_kernels.argmax_match(np.zeros(63, np.float32), y_pred, out)
    # the primitive then runs its NumPy twin, with the same answers
    calls = []
    monkeypatch.setattr(row_kernels, "argmax_match", lambda *a: calls.append(1) or False)
    fused, twin = _both(y_true, y_pred)
    assert calls and np.array_equal(fused, twin)


def test_without_the_native_library(monkeypatch):
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    y_pred = RNG.standard_normal((32, 5)).astype(np.float32)
    y_true = _onehot(RNG.integers(0, 5, 32), 5, np.float32)
    fused, twin = _both(y_true, y_pred)
    np.testing.assert_array_equal(fused, twin)


@pytest.mark.parametrize("native", ["1", "0"])
def test_an_empty_batch_gives_no_matches(monkeypatch, native):
    monkeypatch.setenv("TENFOLD_NATIVE", native)
    y_pred = np.zeros((0, 3), np.float32)
    for y_true in (np.zeros((0, 3), np.float32), np.zeros(0, np.float32)):
        fused, twin = _both(y_true, y_pred)
        assert fused.shape == twin.shape == (0,)
    assert tf.keras.metrics.categorical_accuracy(y_pred, y_pred).numpy().shape == (0,)
    assert tf.keras.metrics.sparse_categorical_accuracy(
        np.zeros(0, np.int64), y_pred).numpy().shape == (0,)


def test_integer_one_hot_labels_take_the_twin_inside_the_primitive():
    y_pred = RNG.standard_normal((16, 4)).astype(np.float32)
    y_true = _onehot(RNG.integers(0, 4, 16), 4, np.int32)
    fused, twin = _both(y_true, y_pred)
    np.testing.assert_array_equal(fused, twin)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       rows=st.integers(1, 40), cols=st.integers(1, 20), sparse=st.booleans())
def test_property_matches_numpy(data, dtype, rows, cols, sparse):
    floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32),
                       st.sampled_from([0.0, 1.0, -1.0]))   # ties are common
    y_pred = data.draw(hnp.arrays(dtype, (rows, cols), elements=floats))
    if sparse:
        y_true = data.draw(hnp.arrays(dtype, (rows,), elements=st.integers(0, cols)))
    else:
        y_true = data.draw(hnp.arrays(dtype, (rows, cols), elements=floats))
    fused, twin = _both(y_true, y_pred, dtype)
    np.testing.assert_array_equal(fused, twin)
    np.testing.assert_array_equal(fused, _reference(y_true, y_pred, sparse))


@pytest.mark.parametrize("name", ["categorical_accuracy", "sparse_categorical_accuracy"])
def test_accuracy_metrics_match_keras(name):
    keras = pytest.importorskip("keras")
    y_pred = RNG.random((50, 7)).astype(np.float32)
    idx = RNG.integers(0, 7, 50)
    y_true = _onehot(idx, 7, np.float32) if name.startswith("cat") else idx[:, None]
    ours = getattr(tf.keras.metrics, name)(y_true, y_pred).numpy()
    theirs = np.asarray(getattr(keras.metrics, name)(y_true, y_pred))
    np.testing.assert_array_equal(ours, theirs)
    metric = getattr(tf.keras.metrics, name.title().replace("_", ""))()
    ref = getattr(keras.metrics, name.title().replace("_", ""))()
    for lo in (0, 20):
        metric.update_state(y_true[lo:lo + 30], y_pred[lo:lo + 30])
        ref.update_state(y_true[lo:lo + 30], y_pred[lo:lo + 30])
    assert float(metric.result()) == pytest.approx(float(ref.result()), abs=1e-7)


def test_fit_reports_the_accuracy_the_twin_gives():
    """The compiled step's accuracy (the fused node) against the labels' and the model's
    predictions' argmaxes after each epoch's single batch."""
    keras = tf.keras
    x = RNG.standard_normal((64, 12)).astype(np.float32)
    y = _onehot(RNG.integers(0, 3, 64), 3, np.float32)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    before = model.predict(x, verbose=0)
    hist = model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False)
    expected = np.mean(np.argmax(before, -1) == np.argmax(y, -1))
    assert hist.history["accuracy"][0] == pytest.approx(expected, abs=1e-7)


# ---- div_no_nan: one primitive

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_div_no_nan_equals_its_composition(dtype):
    x = RNG.standard_normal((6, 5)).astype(dtype)
    x[0, 0], x[1, 1], x[2, 2] = np.nan, np.inf, -np.inf
    y = np.where(RNG.random((6, 5)) < 0.4, 0, RNG.standard_normal((6, 5))).astype(dtype)
    y[3, 3] = -0.0
    with np.errstate(all="ignore"):
        safe = np.where(y == 0, dtype(1), y)
        expected = np.where(y == 0, dtype(0), x / safe)
        got = tf.math.divide_no_nan(x, y).numpy()
        broadcast = tf.math.divide_no_nan(x, y[0]).numpy()
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(broadcast, np.where(y[0] == 0, dtype(0), x / safe[0]))
    assert not np.signbit(got[y == 0]).any()   # +0 where y is 0, as TensorFlow


def test_div_no_nan_scalars():
    f = np.float32
    assert tf.math.divide_no_nan(f(6), f(4)).numpy() == f(1.5)
    for num in (f(3), f(np.nan), f(np.inf), f(-2)):
        got = tf.math.divide_no_nan(num, f(0)).numpy()
        assert got == 0 and not np.signbit(got) and got.dtype == np.float32
    assert tf.math.divide_no_nan(f(1), f(-0.0)).numpy() == 0
    # integers keep truediv's float result
    assert tf.math.divide_no_nan(tf.constant(3), tf.constant(2)).numpy() == 1.5
    assert tf.math.divide_no_nan(tf.constant(3), tf.constant(0)).numpy() == 0.0


def test_div_no_nan_gradients_are_the_compositions():
    x = tf.Variable(np.array([1.0, -2.0, 3.0, np.nan], np.float64))
    y = tf.Variable(np.array([2.0, 0.0, -4.0, 0.0], np.float64))
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(tf.math.divide_no_nan(x, y) * np.array([1.0, 2.0, 3.0, 4.0]))
    gx, gy = tape.gradient(out, [x, y])
    g = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(gx.numpy(), [0.5, 0.0, -0.75, 0.0])
    np.testing.assert_array_equal(gy.numpy(), [-(g[0] * 0.5) / 2.0, 0.0,
                                               -(g[2] * -0.75) / -4.0, 0.0])
    assert M.div_no_nan is tf.math.divide_no_nan
