"""The native bias add and bias + LeakyReLU (backend/native/activations.c via
kernels.bias_add / bias_leaky_relu): bit for bit NumPy's add then kernels.leaky_relu (the
twin, TENFOLD_NATIVE=0) and a float64 reference rounded once per step; in place; any thread
count; arrays the kernels do not take go to NumPy. Also the threaded native LeakyReLU and
its gradient against one thread."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold.backend import kernels as K
from tenfold.backend import native
from tenfold.backend import numpy_out
from tests.core.native_twins import numpy_twin

DTYPES = [np.float32, np.float64]
SHAPES = [(0, 5), (1, 2), (3, 2), (1, 7), (7, 13), (2, 3, 5, 129), (300, 64), (5, 3, 1000),
          (2049, 33), (3, 100003)]

needs_native = pytest.mark.skipif(native.load("activations") is None,
                                  reason="native activations unavailable")


@pytest.fixture(autouse=True, scope="module")
def _native_for_every_size():
    """The kernels on the small edge shapes too (in use, arrays below _NATIVE_BIAS_MIN go to
    NumPy's add: test_small_arrays_go_to_numpys_add)."""
    saved = K._NATIVE_BIAS_MIN
    K._NATIVE_BIAS_MIN = 0
    yield
    K._NATIVE_BIAS_MIN = saved


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    b = rng.standard_normal(shape[-1]).astype(dtype)
    flat = x.reshape(-1)
    special = [np.nan, -0.0, np.inf, -np.inf, 0.0, 1e-30, -1e-30]
    flat[:len(special)] = special[:flat.size]
    if b.size > 2:
        b[:3] = [0.0, -0.0, np.nan]
    return x, b


def _ref(x, b, alpha):
    """The two steps in float64 each rounded to x's dtype (exact: one rounding per op)."""
    t = (x.astype(np.float64) + b).astype(x.dtype)
    a = x.dtype.type(alpha)
    return np.maximum(np.multiply(t, a), t)


def _bias_add(x, b):
    out = np.empty_like(x)
    return numpy_out.add_out(x, b, out)


def _bias_leaky(x, b, alpha=0.2):
    return K.bias_leaky_relu(x, b, alpha, np.empty_like(x))


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_native_equals_the_twin_and_the_reference(monkeypatch, dtype, shape):
    x, b = _data(shape, dtype)
    assert K.bias_add(x, b, np.empty_like(x))   # the native kernel takes these arrays
    y = _bias_add(x, b)
    np.testing.assert_array_equal(y, numpy_twin(monkeypatch, _bias_add, x, b))
    np.testing.assert_array_equal(y, (x.astype(np.float64) + b).astype(dtype))
    np.testing.assert_array_equal(numpy_out.add_out(b, x, np.empty_like(x)), y)  # b first
    for alpha in (0.2, 1.0, 0.01):
        z = _bias_leaky(x, b, alpha)
        np.testing.assert_array_equal(z, numpy_twin(monkeypatch, _bias_leaky, x, b, alpha))
        np.testing.assert_array_equal(z, _ref(x, b, alpha))


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place_over_x(dtype):
    x, b = _data((64, 7, 7, 33), dtype, 1)
    want_add, want = _bias_add(x, b), _bias_leaky(x, b)
    xc = x.copy()
    np.testing.assert_array_equal(numpy_out.add_out(xc, b, xc), want_add)
    xc = x.copy()
    np.testing.assert_array_equal(K.bias_leaky_relu(xc, b, 0.2, xc), want)


def test_arrays_the_kernels_do_not_take_go_to_numpy():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 30, 8)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    cases = [
        (x[:, ::2], b),                                  # not contiguous
        (x, rng.standard_normal(8)),                     # mixed dtypes
        (x, rng.standard_normal((30, 8)).astype(np.float32)),   # not a vector
        (x, rng.standard_normal(1).astype(np.float32)),  # broadcast of one
        (x.astype(np.float16), b.astype(np.float16)),    # no native half kernels
        (x[..., :1].copy(), b[:1].copy()),                # a bias of one: NumPy's scalar add
        (x[..., 0].copy(), b[:1].copy()),                 # last axis of one
    ]
    for xi, bi in cases:
        want = np.add(xi, bi)
        np.testing.assert_array_equal(numpy_out.add_out(xi, bi, np.empty_like(want)), want)
        t = want.astype(xi.dtype)
        np.testing.assert_array_equal(
            K.bias_leaky_relu(xi, bi, 0.2, np.empty_like(t)),
            np.maximum(np.multiply(t, t.dtype.type(0.2)), t))
    # b inside out (never from the executor, but the kernel must not read what it writes)
    buf = rng.standard_normal((5, 8)).astype(np.float32)
    xs = rng.standard_normal((5, 8)).astype(np.float32)
    want = xs + buf[2]
    np.testing.assert_array_equal(numpy_out.add_out(xs, buf[2], buf), want)
    # scalars and 1-D + 1-D stay NumPy's
    np.testing.assert_array_equal(numpy_out.add_out(b, b, np.empty_like(b)), b + b)
    np.testing.assert_array_equal(numpy_out.add_out(x, 2.0, np.empty_like(x)), x + 2.0)


def _threaded(monkeypatch):
    monkeypatch.setattr(K, "_busy", lambda: False)
    monkeypatch.setattr(K, "_threads", 2)
    monkeypatch.setattr(K, "_NATIVE_CHUNK", 1000)   # many chunks for small arrays
    monkeypatch.setattr(K, "BANDWIDTH_MIN_BYTES", 1)
    calls = []   # the chunks of each parallel region: on the C pool, else the Python threads
    real = K.run_tasks
    monkeypatch.setattr(K, "run_tasks", lambda *a, **k: calls.append(len(a[0])) or real(*a, **k))
    from tenfold.backend import native_pool
    real_pool = native_pool.run

    def pool_run(fn, rows, doubles=()):
        got = real_pool(fn, rows, doubles)
        if got:
            calls.append(len(rows))
        return got
    monkeypatch.setattr(native_pool, "run", pool_run)
    return calls


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_threads(monkeypatch, dtype):
    x, b = _data((37, 11, 13, 129), dtype, 3)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)

    def run():
        y = K.leaky_relu(x, 0.2)
        return [_bias_add(x, b), _bias_leaky(x, b), y, K.leaky_relu_backprop(g, y, 0.2)]

    monkeypatch.setattr(K, "_threads", 1)
    serial = run()
    calls = _threaded(monkeypatch)
    for a, s in zip(run(), serial):
        np.testing.assert_array_equal(a, s)
    if K._blas.available():   # (else kernels never thread)
        assert len(calls) == 4 and min(calls) > 2   # every kernel ran in chunks on threads


@needs_native
@settings(max_examples=40, deadline=None)
@given(lead=st.lists(st.integers(1, 9), min_size=1, max_size=3), c=st.integers(2, 40),
       dtype=st.sampled_from(DTYPES), alpha=st.sampled_from([0.2, 0.5, 1.0]),
       seed=st.integers(0, 2 ** 16))
def test_property_equals_the_reference(lead, c, dtype, alpha, seed):
    x, b = _data(tuple(lead) + (c,), dtype, seed)
    assert K.bias_add(x, b, np.empty_like(x))
    np.testing.assert_array_equal(_bias_leaky(x, b, alpha), _ref(x, b, alpha))
    np.testing.assert_array_equal(_bias_add(x, b), (x.astype(np.float64) + b).astype(dtype))


def test_small_arrays_go_to_numpys_add(monkeypatch):
    monkeypatch.setattr(K, "_NATIVE_BIAS_MIN", 1 << 14)
    x, b = _data((128, 10), np.float32)
    out = np.empty_like(x)
    assert not K.bias_add(x, b, out)         # NumPy's add runs (cheaper than the call here)
    np.testing.assert_array_equal(K.bias_relu(x, b, out), np.maximum(x + b, np.float32(0)))
    x, b = _data((128, 512), np.float32)
    if native.load("activations") is not None:
        assert K.bias_add(x, b, np.empty_like(x))


def _relu_ref(x, b):
    """add then np.maximum(., 0), each rounded to x's dtype (NaN stays NaN)."""
    t = (x.astype(np.float64) + b).astype(x.dtype)
    return np.maximum(t, x.dtype.type(0))


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_bias_relu_and_relu_grad_equal_the_twins(monkeypatch, dtype, shape):
    x, b = _data(shape, dtype)
    y = K.bias_relu(x, b, np.empty_like(x))
    np.testing.assert_array_equal(y, _relu_ref(x, b))
    np.testing.assert_array_equal(np.signbit(y), np.signbit(_relu_ref(x, b)))
    np.testing.assert_array_equal(
        y, numpy_twin(monkeypatch, K.bias_relu, x, b, np.empty_like(x)))
    g = np.random.default_rng(9).standard_normal(shape).astype(dtype)
    flat, k = g.reshape(-1), min(3, g.size)
    flat[g.size - k:] = [np.nan, np.inf, -np.inf][:k]   # times a 0 of the mask: NaN
    out = np.empty_like(g)
    with np.errstate(invalid="ignore"):
        assert K.relu_grad(g, y, out)
        want = np.multiply(g, y > 0)
    np.testing.assert_array_equal(out, want)
    # in place over x, over g
    xc = x.copy()
    np.testing.assert_array_equal(K.bias_relu(xc, b, xc), y)
    gc = g.copy()
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(K.relu_grad(gc, y, gc) and gc, want)


@needs_native
def test_relu_grad_declines_what_it_does_not_take():
    g = np.ones((4, 5), np.float32)
    assert not K.relu_grad(g, np.ones((4, 5), np.float64), np.empty_like(g))
    assert not K.relu_grad(g, np.ones((5,), np.float32), np.empty_like(g))   # broadcast
    assert not K.relu_grad(g[:, ::2], np.ones((4, 3), np.float32), np.empty((4, 3), np.float32))
