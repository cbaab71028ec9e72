"""The narrow row kernels (backend/native/rows.c's *_narrow_f32 via backend/row_kernels.py):
softmax, the dense and sparse softmax cross-entropies and their logits gradients over
float32 logits of at most NARROW_MAX classes, 16 rows per vector. Each against a float64
reference and the NumPy twin (TENFOLD_NATIVE=0), on edge shapes and values; bad labels and
arrays the kernels do not take go to the twin; the results do not depend on the threads;
the ops and a classifier's fit take them."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tenfold as tf
from tenfold.backend import kernels as K
from tenfold.backend import row_kernels as R
from tenfold.framework.errors import InvalidArgumentError
from tenfold.ops import fused_ops as F
from tenfold.ops import nn_ops as N
from tests.core.native_twins import numpy_twin

RNG = np.random.default_rng(5)
SHAPES = [(1, 1), (7, 3), (16, 10), (17, 10), (128, 10), (33, 32), (64, 2), (3, 31)]
RTOL, ATOL = 2e-6, 2e-7

needs_narrow = pytest.mark.skipif(R._narrow_fn("softmax_narrow") is None,
                                  reason="narrow row kernels unavailable (no AVX-512 build)")


def _ref(x):
    """float64 log-softmax and softmax of x, the shift x - max rounded to float32 first (as
    every kernel and twin computes it)."""
    d = (x - x.max(-1, keepdims=True)).astype(np.float64)
    ls = d - np.log(np.exp(d).sum(-1, keepdims=True))
    return ls, np.exp(ls)


def _case(shape, scale=3.0):
    x = (RNG.standard_normal(shape) * scale).astype(np.float32)
    labels = RNG.random(shape).astype(np.float32)
    ids = RNG.integers(0, shape[1], shape[0]).astype(np.int64)
    g = RNG.standard_normal(shape[0]).astype(np.float32)
    return x, labels, ids, g


def _run_all(x, labels, ids, g):
    """The five kernels' results (each asserted taken)."""
    rows, _ = x.shape
    sm, dl, dg = np.empty_like(x), np.empty(rows, np.float32), np.empty_like(x)
    sl, sg = np.empty(rows, np.float32), np.empty_like(x)
    assert R.softmax_narrow(x, sm)
    assert R.xent(labels, x, dl)
    assert R.xent_grad(g, labels, x, dg)
    assert R.sparse_xent(ids, x, sl)
    assert R.sparse_xent_grad(g, ids, x, sg)
    return sm, dl, dg, sl, sg


@needs_narrow
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", [0.01, 3.0, 40.0])
def test_kernels_match_the_float64_reference(shape, scale):
    x, labels, ids, g = _case(shape, scale)
    sm, dl, dg, sl, sg = _run_all(x, labels, ids, g)
    ls, p = _ref(x)
    rows = np.arange(shape[0])
    onehot = np.eye(shape[1])[ids]
    np.testing.assert_allclose(sm, p, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dl, -(labels * ls).sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dg, g[:, None] * (p * labels.astype(np.float64).sum(
        -1, keepdims=True) - labels), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sl, -ls[rows, ids], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sg, (p - onehot) * g[:, None], rtol=1e-5, atol=1e-6)


@needs_narrow
@pytest.mark.parametrize("shape", [(128, 10), (17, 3), (5000, 10)])
def test_ops_match_their_numpy_twins(monkeypatch, shape):
    x, labels, ids, g = _case(shape)
    pairs = [(N._softmax_kernel, (x, -1)), (N._xent_kernel, (labels, x, -1)),
             (F._softmax_xent_grad_kernel, (g, labels, x, -1)),
             (N._sparse_xent_kernel, (ids.astype(np.int32), x)),
             (F._sparse_xent_grad_kernel, (g, ids, x))]
    for fn, args in pairs:
        got = fn(*args)
        twin = numpy_twin(monkeypatch, fn, *args)
        assert got.shape == twin.shape and got.dtype == twin.dtype == np.float32
        np.testing.assert_allclose(got, twin, rtol=1e-5, atol=1e-6, err_msg=fn.__name__)


@needs_narrow
def test_extreme_values_as_the_numpy_twin(monkeypatch):
    rows = [[0.0, -80.0, -160.0, -np.inf],          # underflow and masked entries
            [1.0, np.nan, 2.0, 3.0],                # NaN poisons its row
            [np.inf, 1.0, 2.0, 3.0],                # inf - inf: NaN
            [80.0, 80.0, -80.0, 0.0],               # would overflow unshifted
            [-1e30, -1e30 + 1, 5.0, 5.0],
            [3e38, -3e38, 0.0, 1.0]]
    x = np.array(rows, np.float32)
    labels = np.tile(np.array([[0.1, 0.2, 0.3, 0.4]], np.float32), (len(rows), 1))
    ids = np.array([0, 1, 2, 3, 0, 1], np.int64)
    g = np.ones(len(rows), np.float32)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        got = _run_all(x, labels, ids, g)
        twins = [numpy_twin(monkeypatch, N._softmax_kernel, x, -1),
                 numpy_twin(monkeypatch, N._xent_kernel, labels, x, -1),
                 numpy_twin(monkeypatch, F._softmax_xent_grad_kernel, g, labels, x, -1),
                 numpy_twin(monkeypatch, N._sparse_xent_kernel, ids, x),
                 numpy_twin(monkeypatch, F._sparse_xent_grad_kernel, g, ids, x)]
    for a, b in zip(got, twins):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@needs_narrow
@pytest.mark.parametrize("bad", [-1, 10, 2 ** 40])
def test_bad_labels_write_nothing_and_the_op_says_which(bad):
    x, _, ids, g = _case((40, 10))
    ids[-1] = bad
    loss = np.full(40, 7.0, np.float32)
    grad = np.full(x.shape, 7.0, np.float32)
    assert not R.sparse_xent(ids, x, loss)
    assert not R.sparse_xent_grad(g, ids, x, grad)
    assert (loss == 7.0).all() and (grad == 7.0).all()
    with pytest.raises(InvalidArgumentError, match=f"label value of {bad}"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(ids, x)


@needs_narrow
def test_arrays_the_kernels_do_not_take_go_to_the_twin():
    x, labels, ids, g = _case((8, 10))
    out, loss = np.empty_like(x), np.empty(8, np.float32)
    assert not R.softmax_narrow(np.empty((8, 33), np.float32), np.empty((8, 33), np.float32))
    assert not R.softmax_narrow(x.astype(np.float64), out.astype(np.float64))
    assert not R.softmax_narrow(np.asfortranarray(np.empty((8, 10), np.float32)), out)
    assert not R.softmax_narrow(x, x[:, ::-1])                 # overlapping
    assert not R.xent(labels.astype(np.float64), x, loss)
    assert not R.xent(labels, x, np.empty(7, np.float32))
    assert not R.sparse_xent(ids.astype(np.int32), x, loss)   # the op converts first
    assert not R.xent_grad(g[:7], labels, x, out)
    # the ops then run their twins: float64 logits and 40 classes give the reference
    for dtype, cols in [(np.float64, 10), (np.float32, 40)]:
        x2, lab2, ids2, _ = _case((6, cols))
        x2 = x2.astype(dtype)
        ls, _ = _ref(x2)
        np.testing.assert_allclose(N._xent_kernel(lab2.astype(dtype), x2, -1),
                                   -(lab2 * ls).sum(-1), rtol=1e-5)
        np.testing.assert_allclose(N._sparse_xent_kernel(ids2, x2), -ls[np.arange(6), ids2],
                                   rtol=1e-5)


@needs_narrow
def test_results_do_not_depend_on_threads(monkeypatch):
    x, labels, ids, g = _case((9000, 10))
    monkeypatch.setattr(K, "_threads", 1)
    from tenfold.backend import native_pool
    monkeypatch.setattr(native_pool, "threads", lambda: 1)
    serial = _run_all(x, labels, ids, g)
    monkeypatch.setattr(native_pool, "threads", lambda: 2)
    pooled = []
    real = native_pool.run
    monkeypatch.setattr(native_pool, "run", lambda *a: pooled.append(1) or real(*a))
    for a, b in zip(_run_all(x, labels, ids, g), serial):
        np.testing.assert_array_equal(a, b)
    assert pooled or not native_pool.available()
    ids[4321] = 10                     # a bad label in a pooled block: caught before the run
    assert not R.sparse_xent(ids, x, np.empty(9000, np.float32))


@needs_narrow
def test_a_classifier_fit_takes_the_narrow_kernels(monkeypatch):
    calls = []
    for name in ("softmax_narrow", "xent", "xent_grad"):
        real = getattr(R, name)
        monkeypatch.setattr(R, name, lambda *a, _r=real, _n=name: calls.append(_n) or _r(*a))
    model = tf.keras.Sequential([tf.keras.Input((20,)),
                                 tf.keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    x = RNG.standard_normal((64, 20)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[RNG.integers(0, 10, 64)]
    hist = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert {"softmax_narrow", "xent", "xent_grad"} <= set(calls)
    assert np.isfinite(hist.history["loss"][0])


@needs_narrow
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_property_kernels_match_reference(data):
    rows = data.draw(st.integers(1, 70), label="rows")
    cols = data.draw(st.integers(1, R.NARROW_MAX), label="cols")
    scale = data.draw(st.sampled_from([1e-3, 1.0, 10.0, 60.0]), label="scale")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    r = np.random.default_rng(seed)
    x = (r.standard_normal((rows, cols)) * scale).astype(np.float32)
    labels = r.random((rows, cols)).astype(np.float32)
    ids = r.integers(0, cols, rows).astype(np.int64)
    g = r.standard_normal(rows).astype(np.float32)
    sm, dl, dg, sl, sg = _run_all(x, labels, ids, g)
    ls, p = _ref(x)
    np.testing.assert_allclose(sm, p, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dl, -(labels * ls).sum(-1), rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(sl, -ls[np.arange(rows), ids], rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(sg, (p - np.eye(cols)[ids]) * g[:, None], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(dg, g[:, None] * (p * labels.astype(np.float64).sum(
        -1, keepdims=True) - labels), rtol=1e-5, atol=2e-6)


@needs_narrow
def test_a_broadcast_upstream_gradient_takes_the_kernel(monkeypatch):
    """The loss's mean gives the gradient a broadcast constant (stride 0): still native."""
    x, labels, ids, _ = _case((128, 10))
    g = np.broadcast_to(np.float32(1 / 128), (128,))
    calls = []
    for name in ("xent_grad", "sparse_xent_grad"):
        real = getattr(R, name)
        monkeypatch.setattr(R, name, lambda *a, _r=real: calls.append(_r(*a)) or calls[-1])
    dense = F._softmax_xent_grad_kernel(g, labels, x, -1)
    sparse = F._sparse_xent_grad_kernel(g, ids, x)
    assert calls == [True, True]
    _, p = _ref(x)
    np.testing.assert_allclose(dense, (p * labels.sum(-1, keepdims=True) - labels) / 128,
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sparse, (p - np.eye(10)[ids]) / 128, rtol=1e-5, atol=1e-7)
