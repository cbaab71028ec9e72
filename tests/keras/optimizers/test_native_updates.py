"""The optimizers' one-pass C updates (tenfold/backend/native/optimizers.c, wrapped by
tenfold/keras/optimizers/native_updates.py) give the NumPy bodies' numbers bit for bit:
kernel by kernel on many sizes and special values, in whole training runs (grouped small
variables, big ones, chunks shared out to threads), and for the sparse Adam's rows; arrays
the C loops cannot take go to the NumPy bodies."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tenfold import keras
from tenfold.backend import kernels, native
from tenfold.keras.optimizers import native_updates as nu
from tenfold.keras.optimizers.optimizer import SparseRows, row_groups

needs_native = pytest.mark.skipif(native.load("optimizers") is None,
                                  reason="no native optimizers kernels here")

# name -> (make the optimizer, number of slot arrays)
VARIANTS = {
    "sgd": (lambda: keras.optimizers.SGD(0.1), 0),
    "sgd_momentum": (lambda: keras.optimizers.SGD(0.1, momentum=0.9), 1),
    "sgd_nesterov": (lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), 1),
    "rmsprop": (lambda: keras.optimizers.RMSprop(0.01), 1),
    "rmsprop_momentum": (lambda: keras.optimizers.RMSprop(0.01, momentum=0.5), 2),
    "rmsprop_centered": (lambda: keras.optimizers.RMSprop(0.01, centered=True), 2),
    "rmsprop_centered_momentum":
        (lambda: keras.optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True), 3),
    "adam": (lambda: keras.optimizers.Adam(0.01), 2),
    "adam_amsgrad": (lambda: keras.optimizers.Adam(0.01, amsgrad=True), 3),
    "adamw": (lambda: keras.optimizers.AdamW(0.01), 2),
    "rmsprop_decay": (lambda: keras.optimizers.RMSprop(0.01, weight_decay=0.01), 1),
    "adagrad": (lambda: keras.optimizers.Adagrad(0.01), 1),
    "adadelta": (lambda: keras.optimizers.Adadelta(0.5), 2),
    "adamax": (lambda: keras.optimizers.Adamax(0.01), 2),
    "nadam": (lambda: keras.optimizers.Nadam(0.01), 2),
    "lion": (lambda: keras.optimizers.Lion(0.01), 1),
}
SIMPLE = ("adagrad", "adadelta", "adamax", "nadam", "lion")
# the arrays ([g, w, *slots]) that hold squares or norms: non-negative
NON_NEGATIVE = {"adagrad": (2,), "adadelta": (2, 3), "adamax": (3,), "nadam": (3,)}
# tiny, odd, one and more than one block of kernels.blockwise (65536 float32), big
SIZES = [0, 1, 2, 7, 33, 1000, 65536, 65536 * 2 + 13, 300 * 517]


def _scalars(opt, dtype, t=3):
    if not opt.built:   # Nadam's scalars read its u_product variable
        opt.build([keras.Variable(np.zeros(1, dtype))])
    opt._prepare(float(np.asarray(opt.learning_rate.numpy())))
    opt._step_t = t
    return opt._scalars(np.dtype(dtype))


def _numpy_update(opt, name, arrays, s):
    """The NumPy body on copies (the twin the C kernels must match)."""
    arrays = [a.copy() for a in arrays]
    t1, t2 = np.empty_like(arrays[0]), np.empty_like(arrays[0])
    with np.errstate(all="ignore"):
        if name == "sgd":
            opt._plain_body(*arrays, t1, t2, s)
        elif name.startswith("sgd"):
            opt._momentum_body(*arrays, t1, t2, s)
        else:
            opt._body(*arrays, t1, t2, s)
    return arrays


def _native_update(opt, name, arrays, s):
    if name.startswith("sgd"):
        return nu.sgd(arrays, s, opt.nesterov)
    if name.startswith("rmsprop"):
        return nu.rmsprop(arrays, s, opt.centered, opt.momentum > 0)
    if name in SIMPLE:
        return nu.simple(name, arrays, s)
    return nu.adam(arrays, s)


def _arrays(name, n, dtype, rng, special=False):
    """[g, w, *slots] of n elements; slots that hold squares (v, v_hat) non-negative."""
    n_slots = VARIANTS[name][1]
    out = [rng.standard_normal(n).astype(dtype) for _ in range(2 + n_slots)]
    if name.startswith("adam"):
        out[3] = np.abs(out[3]) * dtype(0.1)
        if name == "adam_amsgrad":   # v_hat ties v and -0 / +0 sometimes
            out[4] = np.abs(out[4]) * dtype(0.1)
            out[4][::3] = out[3][::3]
    elif name.startswith("rmsprop"):
        out[2] = np.abs(out[2]) + dtype(1)   # v - a * a stays positive when centered
    for k in NON_NEGATIVE.get(name, ()):
        out[k] = np.abs(out[k])
        if name == "adamax":   # ties of u * b2 and |g|
            out[k][::4] = np.abs(out[0][::4]) / dtype(0.999)
    if special and n:
        g = out[0]
        tiny = np.finfo(dtype).smallest_subnormal
        vals = np.array([0.0, -0.0, tiny, -tiny, 1e30, -1e-30, 1.0, np.nan], dtype)
        g[:min(n, 8)] = vals[:min(n, 8)]
        for a in out[1:]:
            a[n // 2] = -0.0 if name != "adam_amsgrad" else 0.0
    return out


def _assert_same(got, want):
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
        keep = ~np.isnan(b)
        np.testing.assert_array_equal(np.signbit(a[keep]), np.signbit(b[keep]))


@needs_native
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_kernel_matches_numpy_body(name, dtype):
    opt = VARIANTS[name][0]()
    s = _scalars(opt, dtype)
    rng = np.random.default_rng(0)
    for n in SIZES:
        for special in (False, True):
            arrays = _arrays(name, n, dtype, rng, special)
            want = _numpy_update(opt, name, arrays, s)
            with np.errstate(all="ignore"):
                assert _native_update(opt, name, arrays, s) is True
            _assert_same(arrays, want)


@needs_native
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_kernel_on_the_c_pool_matches_numpy_body(monkeypatch, name, dtype):
    """The updates cut into chunks on the C pool (integer arguments, e.g. SGD's nesterov
    flag, travel with the pointers): the NumPy bodies' numbers, bit for bit."""
    if not nu._pool.available():
        pytest.skip("native pool unavailable")
    monkeypatch.setattr(nu, "_POOL_MIN_ELEMENTS", 2)
    monkeypatch.setattr(nu._pool, "threads", lambda: 2)
    opt = VARIANTS[name][0]()
    s = _scalars(opt, dtype)
    rng = np.random.default_rng(1)
    for n in SIZES:
        arrays = _arrays(name, n, dtype, rng, special=True)
        want = _numpy_update(opt, name, arrays, s)
        with np.errstate(all="ignore"):
            assert _native_update(opt, name, arrays, s) is True
        _assert_same(arrays, want)


@needs_native
@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(VARIANTS)), n=st.integers(0, 3000),
       f64=st.booleans(), t=st.integers(1, 50), seed=st.integers(0, 2 ** 16))
def test_kernel_matches_numpy_body_property(name, n, f64, t, seed):
    dtype = np.float64 if f64 else np.float32
    opt = VARIANTS[name][0]()
    s = _scalars(opt, dtype, t)
    arrays = _arrays(name, n, dtype, np.random.default_rng(seed))
    arrays = [a.reshape(-1, 3) if n % 3 == 0 else a for a in arrays]   # any shape, flat C
    want = _numpy_update(opt, name, arrays, s)
    assert _native_update(opt, name, arrays, s) is True
    _assert_same(arrays, want)


@needs_native
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_decay_matches_numpy(dtype):
    rng = np.random.default_rng(3)
    wd, lr = dtype(0.004), dtype(0.01)
    for n in SIZES:
        w = rng.standard_normal(n).astype(dtype)
        w[:3] = [-0.0, np.finfo(dtype).smallest_subnormal, np.nan][:min(n, 3)] if n else []
        t = np.multiply(w, wd)
        np.multiply(t, lr, out=t)
        want = np.subtract(w, t)
        assert nu.weight_decay(w, wd, lr) is True
        _assert_same([w], [want])


class _OwnBodyAdam(keras.optimizers.Adam):
    def _body(self, g, w, m, v, t1, t2, s):
        super()._body(g, w, m, v, t1, t2, s)
        w *= w.dtype.type(0.5)


@needs_native
def test_an_overridden_body_runs_itself():
    """A subclass's own `_body` runs (not the C twin of Adam's), grouped or not."""
    shapes = [(300, 517), (7, 5), (3,)]
    ws = [keras.Variable(np.ones(sh, np.float32)) for sh in shapes]
    opt = _OwnBodyAdam(0.01)
    opt.apply_gradients([(np.ones(sh, np.float32), w) for sh, w in zip(shapes, ws)])
    for w in ws:
        assert float(w.numpy().max()) < 0.5


@needs_native
def test_arrays_the_kernels_cannot_take_go_to_numpy(monkeypatch):
    rng = np.random.default_rng(1)
    s = _scalars(keras.optimizers.Adam(0.01), np.float32)
    g, w, m, v = (rng.standard_normal(64).astype(np.float32) for _ in range(4))
    assert nu.adam([g[::2], w[::2], m[::2], v[::2]], s) is False      # strided
    assert nu.adam([g, w, m.astype(np.float64), v], s) is False       # mixed dtypes
    assert nu.adam([g[:32], w, m, v], s) is False                     # sizes differ
    assert nu.adam([g.reshape(8, 8), w, m, v], s) is False            # shapes differ
    assert nu.adam([g.astype(np.float16), w, m, v], s) is False       # another dtype
    assert nu.adam([g, w, w, v], s) is False                          # aliased slots
    buf = np.zeros(100, np.float32)
    assert nu.adam([g, buf[:64], buf[36:], v], s) is False            # overlapping
    ro = w.copy()
    ro.flags.writeable = False
    assert nu.adam([g, ro, m, v], s) is False                         # read-only weights
    assert nu.sgd([g, w, m, v], (s[0], s[1]), False) is False         # wrong arity
    assert nu.rmsprop([g, w, v], (s[0],) * 5, True, False) is False   # slot missing
    assert nu.simple("adamax", [g, w, m], s) is False                 # slot missing
    assert nu.simple("lion", [g, w, m], s) is False                   # scalar missing
    assert nu.adam([g, w, m, v], s) is True
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert nu.adam([g, w, m, v], s) is False


# ------------------------------------------------------------------------------------------
# whole training runs: native against TENFOLD_NATIVE=0

# a big variable (threads, chunks), small ones (one flat group), an odd 3-D one, a scalar
SHAPES = [(300, 517), (7, 5), (32,), (3, 100, 180), (16, 8), ()]


def _train(make, dtype, steps=4):
    rng = np.random.default_rng(1)
    variables = [keras.Variable(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    opt = make()
    for k in range(steps):
        grads = [rng.standard_normal(s).astype(dtype) * (k + 1) for s in SHAPES]
        opt.apply_gradients(zip(grads, variables))
    return [np.asarray(v.numpy()) for v in variables] + \
        [np.asarray(v.numpy()) for v in opt.variables]


@needs_native
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_training_matches_numpy(monkeypatch, name, dtype, threads):
    make = VARIANTS[name][0]
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        want = _train(make, dtype)
    calls = []
    for fn in ("adam", "rmsprop", "sgd", "simple"):
        real = getattr(nu, fn)
        monkeypatch.setattr(nu, fn, lambda *a, _real=real, **k: calls.append(_real(*a, **k))
                            or calls[-1])
    real_plan = nu.UpdatePlan.run   # a step's updates as one plan (test_update_plan)
    monkeypatch.setattr(nu.UpdatePlan, "run", lambda *a, **k: calls.append(real_plan(*a, **k))
                        or calls[-1])
    monkeypatch.setattr(kernels, "_threads", threads)
    monkeypatch.setattr(kernels, "_busy", lambda: False)
    monkeypatch.setattr(kernels, "BANDWIDTH_MIN_BYTES", 0)   # chunks shared out
    monkeypatch.setattr(nu, "_CHUNK_BYTES", 1 << 12)         # many, a partial last one
    got = _train(make, dtype)
    assert calls and all(calls)   # every dense update ran native (groups and big ones)
    _assert_same(got, want)


# ------------------------------------------------------------------------------------------
# sparse (IndexedSlices) Adam: the summed rows' update

def _sparse_run(shape, ids_per_step, dtype, steps=4, id_range=None):
    rng = np.random.default_rng(4)
    v = keras.Variable(rng.standard_normal(shape).astype(dtype))
    opt = keras.optimizers.Adam(0.01)
    opt.build([v])
    r = np.random.default_rng(5)
    for _ in range(steps):
        idx = r.integers(0, id_range or shape[0], ids_per_step)
        rows = r.standard_normal((ids_per_step,) + shape[1:]).astype(dtype)
        rows[::5] = -0.0
        opt._backend_update_step([SparseRows(rows, idx, shape)], [v], 0.01)
        opt.iterations.assign_add(1)
    return [np.asarray(x.numpy()) for x in [v] + list(opt.variables)]


@needs_native
@pytest.mark.parametrize("threads", [1, 2, "pool"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,n_ids,id_range", [
    ((203, 9), 150, None), ((1, 4), 3, None), ((50, 1), 0, None), ((64, 3, 2), 500, 5),
    ((2000, 32), 300, None), ((0, 8), 0, None)])
def test_sparse_adam_matches_numpy(monkeypatch, shape, n_ids, id_range, dtype, threads):
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        want = _sparse_run(shape, n_ids, dtype, id_range=id_range)
    calls = []
    real = nu.adam_sparse
    monkeypatch.setattr(nu, "adam_sparse", lambda *a: calls.append(real(*a)) or calls[-1])
    if threads == "pool":   # the C pool's chunks (the others: the kernel threads')
        monkeypatch.setattr(nu, "_POOL_MIN_ELEMENTS", 0)
        monkeypatch.setattr(nu._pool, "threads", lambda: 2)
        threads = 2
    else:
        monkeypatch.setattr(nu._pool, "threads", lambda: 1)
    monkeypatch.setattr(kernels, "_threads", threads)
    monkeypatch.setattr(kernels, "_busy", lambda: False)
    monkeypatch.setattr(kernels, "BANDWIDTH_MIN_BYTES", 0)
    monkeypatch.setattr(nu, "_CHUNK_BYTES", 1 << 8)
    got = _sparse_run(shape, n_ids, dtype, id_range=id_range)
    assert calls and all(calls)
    _assert_same(got, want)


@needs_native
def test_sparse_adam_declines_what_it_cannot_take():
    w, m, v = (np.zeros((4, 2), np.float32) for _ in range(3))
    s = _scalars(keras.optimizers.Adam(0.01), np.float32)
    rows = np.ones((3, 2), np.float32)

    def groups(ids, dtype=np.int64):
        return tuple(a.astype(dtype) for a in row_groups(np.array(ids)))
    for ids in ([-1, 2, 2], [1, 4, 1]):   # ids outside the rows: NumPy's business
        assert nu.adam_sparse(w, m, v, groups(ids), rows, s) is False
    assert nu.adam_sparse(w, m, v, groups([1, 3, 1], np.int32), rows, s) is False
    assert nu.adam_sparse(w, m, v, groups([1, 3, 1]), rows[:2], s) is False
    assert nu.adam_sparse(w, m, v, groups([1, 3, 1]), rows.astype(np.float64), s) is False
    assert nu.adam_sparse(w, m, v, groups([1, 3, 1]), np.ones((3, 3), np.float32), s) is False
    assert nu.adam_sparse(w, m, w, groups([1, 3, 1]), rows, s) is False
    assert nu.adam_sparse(w, m, v, groups([1, 3, 1]), rows, s) is True


@needs_native
def test_sparse_adam_kernel_survives_garbage_groups():
    """The C loop uses an id, a group bound or a position only where it points inside the
    arrays: garbage groups (unsorted, out of range) change numbers, never other memory
    (checked under AddressSanitizer with a C harness too)."""
    fn = nu._fn("adam_sparse", np.dtype(np.float32))
    rng = np.random.default_rng(7)
    guard = np.full(64, 7.0, np.float32)
    w, m, v = (np.zeros((5, 3), np.float32) for _ in range(3))
    values = rng.standard_normal((4, 3)).astype(np.float32)
    gs, sq = np.empty(3, np.float32), np.empty(3, np.float32)
    for _ in range(200):
        uniq = rng.integers(-3, 8, 3)
        bounds = rng.integers(-5, 9, 4)
        order = rng.integers(-5, 9, 4)
        fn(native.addr(w), native.addr(m), native.addr(v), 0, 5, 3, native.addr(uniq), native.addr(bounds),
           0, 3, native.addr(order), 4, native.addr(values), native.addr(gs), native.addr(sq),
           0.1, 0.1, 0.01, 1e-7)
    assert (guard == 7.0).all()
