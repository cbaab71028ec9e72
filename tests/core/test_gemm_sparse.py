"""Products a @ b whose a is mostly zeros, multiplying only a's nonzeros (tenfold/backend/
gemm_sparse.py, native/gemm_sparse.c): against float64 on shapes and densities chosen by
Hypothesis (a read in place as itself or as a transposed view, column counts that leave
masked tails, a bias), the dense product's NaN and infinity patterns, the fallbacks (a
dense a, a b that is not finite), the same bits whatever the threads, and the seed MLP's
fit on MNIST-like inputs going through it."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import gemm_native, gemm_sparse as gs
from tenfold.backend import kernels as K
from tenfold.backend import native_pool

pytestmark = pytest.mark.skipif(gs._fn() is None,
                                reason="sparse GEMM not built here (no compiler or no AVX-512)")


@pytest.fixture(autouse=True)
def _fresh_memo():
    gs._dense_seen.clear()
    yield
    gs._dense_seen.clear()


def _sparse(m, k, density, seed=0, transposed=False):
    """An (m, k) float32 a with about `density` nonzeros (as a (k, m) array's transpose when
    `transposed`)."""
    rng = np.random.default_rng(seed)
    shape = (k, m) if transposed else (m, k)
    a = (rng.standard_normal(shape) * (rng.random(shape) < density)).astype(np.float32)
    return a.T if transposed else a


def _bound(a, b):
    """Float32 rounding of each output's chain: k units of rounding of the sum of |terms|."""
    k = a.shape[1]
    return 2 * k * np.finfo(np.float32).eps * (np.abs(a).astype(np.float64) @
                                              np.abs(b).astype(np.float64)) + 1e-30


def _check(got, a, b, bias=None):
    assert got is not None and got.dtype == np.float32 and got.shape == (a.shape[0], b.shape[1])
    want = a.astype(np.float64) @ b.astype(np.float64)
    if bias is not None:
        want = want + bias
    bound = _bound(a, b) + (0 if bias is None else np.abs(want) * np.finfo(np.float32).eps)
    assert (np.abs(got - want) <= bound).all()


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 150), k=st.integers(1, 300),
       n=st.sampled_from([64, 65, 100, 127, 128, 129, 200, 257, 300]),
       density=st.sampled_from([0.0, 0.02, 0.1, 0.2, 0.29]), transposed=st.booleans(),
       bias=st.booleans(), seed=st.integers(0, 3))
def test_matches_the_float64_reference(m, k, n, density, transposed, bias, seed):
    a = _sparse(m, k, density, seed, transposed)
    rng = np.random.default_rng(seed + 10)
    b = rng.standard_normal((k, n)).astype(np.float32)
    bv = rng.standard_normal(n).astype(np.float32) if bias else None
    gs._dense_seen.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gs, "_MIN_MACS", 1)
        got = gs.matmul(a, b, bias=bv)
    nnz = np.count_nonzero(a)
    if nnz > int(gs._MAX_DENSITY * m * k):
        assert got is None   # denser than the list allows (a few rows' chance)
    elif got is not None or (nnz <= 0.5 * gs._MAX_DENSITY * m * k and min(m, k) >= 16):
        # refused only where the eight sampled rows (columns) looked too dense: near the
        # threshold, or a few elements each
        _check(got, a, b, bv)


def test_the_mlp_products_equal_one_chain_in_column_order():
    # each output is one fused multiply-add chain over a's nonzeros in column order: the
    # same numbers as that chain computed here one step at a time in float32 (no FMA in
    # NumPy: a product rounded then added can differ, so the bound is an ulp, not zero)
    a = _sparse(128, 784, 0.19, seed=1)
    b = np.random.default_rng(2).standard_normal((784, 512)).astype(np.float32)
    got = gs.matmul(a, b)
    chain = np.zeros((128, 512), np.float32)
    for p in range(784):
        chain += a[:, p:p + 1] * b[p]
    assert np.abs(got - chain).max() <= 4 * np.finfo(np.float32).eps * np.abs(chain).max()
    _check(got, a, b)


@pytest.mark.parametrize("m, k, n", [(1100, 90, 130), (513, 41, 64), (2000, 300, 257)])
def test_many_rows_pass_in_chunks(monkeypatch, m, k, n):
    # rows go through the reduction's blocks 512 at a time (their partial sums in L2)
    monkeypatch.setattr(gs, "_MIN_MACS", 1)
    a = _sparse(m, k, 0.15, seed=m)
    b = np.random.default_rng(n).standard_normal((k, n)).astype(np.float32)
    bias = np.random.default_rng(k).standard_normal(n).astype(np.float32)
    _check(gs.matmul(a, b, bias=bias), a, b, bias)
    _check(gs.matmul(np.asfortranarray(a), b), a, b)   # the same a, columns contiguous


def test_a_transposed_view_is_read_in_place_and_matches_its_copy():
    x = _sparse(128, 784, 0.19, seed=3)          # a batch of inputs
    dy = np.random.default_rng(4).standard_normal((128, 512)).astype(np.float32)
    got = gs.matmul(x.T, dy)                      # the weight gradient x^T dy
    again = gs.matmul(np.ascontiguousarray(x.T), dy)
    assert np.array_equal(got, again)             # the same lists, the same chains
    _check(got, x.T, dy)


def test_nan_and_inf_in_a_reach_the_outputs_the_dense_product_gives_them():
    a = _sparse(128, 300, 0.1, seed=5)
    a[3, 7] = np.nan
    a[10, 20] = np.inf
    a[11, 21] = -np.inf
    a[12, 0] = -0.0
    b = np.random.default_rng(6).standard_normal((300, 256)).astype(np.float32)
    b[20, :5] = 0.0   # inf * 0 is NaN in the dense product too
    got = gs.matmul(a, b)
    with np.errstate(invalid="ignore"):
        want = a @ b
    assert got is not None
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.isposinf(got), np.isposinf(want))
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    fin = np.isfinite(want)
    assert np.allclose(got[fin], want[fin], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_b_that_is_not_finite_leaves_the_product_to_the_dense_kernel(bad):
    # 0 * inf and 0 * NaN are NaN: the zeros of a would have to be multiplied
    a = _sparse(128, 784, 0.1, seed=7)
    a[:, 5] = 0.0
    b = np.random.default_rng(8).standard_normal((784, 512)).astype(np.float32)
    b[5, 300] = bad
    assert gs.matmul(a, b) is None
    with np.errstate(invalid="ignore"):
        got = K.matmul_stack(a, b)   # the kernels' entry: the dense product's numbers
        want = np.matmul(a, b)
    assert np.isnan(got[:, 300]).all() and np.array_equal(np.isnan(got), np.isnan(want))


def test_a_dense_a_is_left_alone_and_its_call_site_not_sampled_for_a_while(monkeypatch):
    a = np.random.default_rng(9).standard_normal((128, 784)).astype(np.float32)
    b = np.random.default_rng(10).standard_normal((784, 512)).astype(np.float32)
    calls = []
    scratch = gs._scratch

    def counted(*args):   # one per call that lists a (or samples it)
        calls.append(1)
        return scratch(*args)
    monkeypatch.setattr(gs, "_scratch", counted)
    assert gs.matmul(a, b) is None and len(calls) == 1
    for _ in range(gs._DENSE_SKIP):
        assert gs.matmul(a, b) is None
    assert len(calls) == 1               # skipped without a look
    assert gs.matmul(a, b) is None and len(calls) == 2   # then sampled again
    # a sparse a at the same site, once its skips are over, takes the sparse kernel
    for _ in range(gs._DENSE_SKIP):
        gs.matmul(a, b)
    s = _sparse(128, 784, 0.15, seed=11)
    _check(gs.matmul(s, b), s, b)
    assert len(calls) == 3


@pytest.mark.parametrize("density", [0.35, 0.6, 1.0])
def test_denser_than_the_threshold_is_refused(density):
    a = _sparse(128, 784, density, seed=12)
    b = np.ones((784, 128), np.float32)
    assert gs.matmul(a, b) is None


def test_same_bits_whatever_the_threads(monkeypatch):
    a = _sparse(200, 700, 0.2, seed=13)
    b = np.random.default_rng(14).standard_normal((700, 520)).astype(np.float32)
    bias = np.random.default_rng(15).standard_normal(520).astype(np.float32)
    pooled = gs.matmul(a, b, bias=bias)
    monkeypatch.setattr(native_pool, "threads", lambda: 1)
    serial = gs.matmul(a, b, bias=bias)
    assert np.array_equal(pooled, serial)
    _check(serial, a, b, bias)


def test_out_is_written_and_overlaps_are_refused():
    a = _sparse(128, 784, 0.2, seed=16)
    b = np.random.default_rng(17).standard_normal((784, 256)).astype(np.float32)
    out = np.full((128, 300), 7.0, np.float32)
    got = gs.matmul(a, b, out=out[:, :256])
    assert got is not None and np.shares_memory(got, out)
    assert (out[:, 256:] == 7.0).all()           # nothing written past its columns
    _check(out[:, :256], a, b)
    big = np.zeros((784, 784), np.float32)
    assert gs.matmul(a, big[:, :256], out=big[:128, 300:556]) is None


@pytest.mark.parametrize("a, b, why", [
    (np.zeros((128, 784), np.float64), np.zeros((784, 512)), "float64"),
    (np.zeros((128, 784), np.float32), np.zeros((784, 32), np.float32), "few columns"),
    (np.zeros((8, 16), np.float32), np.zeros((16, 128), np.float32), "a small product"),
    (np.zeros((128, 784 * 2), np.float32)[:, ::2], np.zeros((784, 512), np.float32),
     "no unit stride in a"),
    (np.zeros((128, 784), np.float32), np.zeros((512, 784), np.float32).T, "b's columns "
     "strided"),
])
def test_what_it_does_not_take(a, b, why):
    assert gs.matmul(a, b) is None, why


def test_the_kernels_route_a_sparse_dense_layer_through_it(monkeypatch):
    taken = []
    real = gs.matmul

    def spy(*args, **kw):
        got = real(*args, **kw)
        taken.append(got is not None)
        return got
    monkeypatch.setattr(gs, "matmul", spy)
    a = _sparse(128, 784, 0.19, seed=18)
    w = np.random.default_rng(19).standard_normal((784, 512)).astype(np.float32)
    bias = np.random.default_rng(20).standard_normal(512).astype(np.float32)
    y = gemm_native.matmul(a, w, bias=bias)       # the executor's matmul_bias
    assert taken == [True]
    _check(y, a, w, bias)
    g = np.random.default_rng(21).standard_normal((128, 512)).astype(np.float32)
    dw = K.matmul_stack(np.swapaxes(a, 0, 1), g)  # matmul's gradient for the weight
    assert taken == [True, True]
    _check(dw, a.T, g)


def test_the_seed_mlp_fits_mnist_like_inputs_through_it(monkeypatch):
    import tenfold as tf
    taken = []
    real = gs.matmul

    def spy(*args, **kw):
        got = real(*args, **kw)
        if got is not None:
            taken.append(args[0].shape)
        return got
    monkeypatch.setattr(gs, "matmul", spy)
    rng = np.random.default_rng(22)
    # MNIST's look: a digit-sized blob of nonzeros in a border of zeros
    x = np.zeros((1024, 28, 28), np.float32)
    x[:, 6:22, 8:20] = rng.random((1024, 16, 12)) * (rng.random((1024, 16, 12)) < 0.7)
    x = x.reshape(1024, 784)
    y = tf.keras.utils.to_categorical(rng.integers(0, 10, 1024), 10)

    def run():
        tf.keras.utils.set_random_seed(0)
        model = tf.keras.Sequential([tf.keras.layers.Dense(512, activation="relu",
                                                           input_shape=(784,)),
                                     tf.keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
        h = model.fit(x, y, batch_size=128, epochs=2, verbose=0, shuffle=False)
        return h.history["loss"], model.get_weights()
    loss, weights = run()
    assert (128, 784) in taken and (784, 128) in taken   # the forward and the weight grad
    monkeypatch.setattr(gs, "_MAX_DENSITY", 0.0)          # the dense products alone
    taken.clear()
    dense_loss, dense_weights = run()
    assert not taken
    assert np.allclose(loss, dense_loss, rtol=1e-4)
    for w1, w2 in zip(weights, dense_weights):
        assert np.allclose(w1, w2, rtol=1e-3, atol=1e-5)
