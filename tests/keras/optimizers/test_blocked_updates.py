"""The dense SGD / RMSprop / Adam updates run block by block (kernels.blockwise, blocks shared
out to the kernel threads) on big variables: the numbers must be those of the whole-array
ufunc sequence, bit for bit, in float32 and float64."""
import numpy as np
import pytest

from tenfold import keras
from tenfold.backend import kernels

CONFIGS = [
    ("sgd", lambda: keras.optimizers.SGD(0.1)),
    ("sgd_momentum", lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
    ("sgd_nesterov", lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True)),
    ("rmsprop", lambda: keras.optimizers.RMSprop(0.01)),
    ("rmsprop_centered_momentum",
     lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True)),
    ("adam", lambda: keras.optimizers.Adam(0.01)),
    ("adam_amsgrad", lambda: keras.optimizers.Adam(0.01, amsgrad=True)),
    ("adamw", lambda: keras.optimizers.AdamW(0.01)),
]
# a big variable with a last partial block, a small one (whole-array path), an odd 3-D one
SHAPES = [(300, 517), (7, 5), (3, 100, 180)]


def _run(make, dtype, steps=3):
    rng = np.random.default_rng(1)
    variables = [keras.Variable(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    opt = make()
    for k in range(steps):
        grads = [rng.standard_normal(s).astype(dtype) * (k + 1) for s in SHAPES]
        opt.apply_gradients(zip(grads, variables))
    return [np.asarray(v.numpy()) for v in variables] + \
        [np.asarray(v.numpy()) for v in opt.variables]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,make", CONFIGS, ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("threads", [1, 2])
def test_blocked_update_matches_whole_arrays(monkeypatch, name, make, dtype, threads):
    monkeypatch.setenv("TENFOLD_NATIVE", "0")   # the NumPy twins' blocks (C: test_native_updates)
    with monkeypatch.context() as m:
        m.setattr(kernels, "_BLOCK_BYTES", 1 << 40)   # never blocked: the reference
        want = _run(make, dtype)
    monkeypatch.setattr(kernels, "_BLOCK_BYTES", 1 << 14)   # many blocks, a partial last one
    monkeypatch.setattr(kernels, "_threads", threads)
    monkeypatch.setattr(kernels, "_busy", lambda: False)
    monkeypatch.setattr(kernels, "_MIN_PARALLEL_BYTES", 0)
    got = _run(make, dtype)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_blockwise_declines_small_and_strided():
    a = np.zeros(10, np.float32)
    assert kernels.blockwise(lambda *x: None, [a, a]) is False
    big = np.zeros((4, 1 << 16), np.float32)
    assert kernels.blockwise(lambda *x: None, [big[:, ::2], big[:, 1::2]]) is False


# ------------------------------------------------------------------------------------------
# sparse (IndexedSlices) gradients: rows summed per id with one sort, Adam block by block

from tenfold.keras.optimizers.optimizer import SparseRows, scatter_rows, summed_rows  # noqa


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ids", ["few", "many_repeats", "wide", "int32", "empty"])
def test_summed_rows_matches_scatter(ids, dtype):
    rng = np.random.default_rng(3)
    n_rows = {"few": 50, "many_repeats": 7, "wide": 1 << 40, "int32": 70000, "empty": 5}[ids]
    n = 0 if ids == "empty" else 300
    idx = rng.integers(0, n_rows, n)
    if ids == "int32":
        idx = idx.astype(np.int32)
    if ids == "few":   # one id (padding) far more often than the rounds cover
        idx[::3] = 17
    values = rng.standard_normal((n, 3, 2)).astype(dtype)
    values[::7] = -0.0
    uniq, sums, squares = summed_rows(idx, values)
    np.testing.assert_array_equal(uniq, np.unique(idx))
    pos = np.searchsorted(uniq, idx)
    for got, rows in ((sums, values), (squares, values * values)):
        want = np.zeros((uniq.size, 3, 2), dtype)
        scatter_rows(want, pos.astype(np.intp), rows)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


class _DenseAdam(keras.optimizers.Adam):
    """Takes the generic sparse path: the dense kernel on the summed rows."""

    def _kernel(self, *args):
        return keras.optimizers.Adam._kernel(self, *args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("native", [False, True])
def test_sparse_adam_blocks_match_dense_kernel(monkeypatch, dtype, threads, native):
    if not native:   # the NumPy twin's blocks; else its one C pass (test_native_updates)
        monkeypatch.setenv("TENFOLD_NATIVE", "0")
    monkeypatch.setattr(kernels, "_BLOCK_BYTES", 1 << 10)
    monkeypatch.setattr(kernels, "_threads", threads)
    monkeypatch.setattr(kernels, "_busy", lambda: False)
    monkeypatch.setattr(kernels, "_MIN_PARALLEL_BYTES", 0)
    rng = np.random.default_rng(4)
    shape = (203, 9)
    init = rng.standard_normal(shape).astype(dtype)
    results = []
    for cls in (keras.optimizers.Adam, _DenseAdam):
        v = keras.Variable(init.copy())
        opt = cls(0.01)
        opt.build([v])
        r = np.random.default_rng(5)
        for k in range(4):
            idx = r.integers(0, 203, 150)
            rows = r.standard_normal((150, 9)).astype(dtype)
            opt._backend_update_step([SparseRows(rows, idx, shape)], [v], 0.01)
            opt.iterations.assign_add(1)
        results.append([np.asarray(x.numpy()) for x in [v] + list(opt.variables)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------
# small variables updated together (one flat array per slot)

import tenfold.keras.optimizers.optimizer as _opt_base  # noqa: E402
from tests.keras.optimizers._training import train_with_reassignments  # noqa: E402

SMALL = [(7, 5), (32,), (3, 4, 2), (1,), (300, 517), (16, 8)]


def _run_small(make, dtypes, steps=4):
    return train_with_reassignments(make, SMALL, dtypes, steps)


@pytest.mark.parametrize("dtypes", ["float32", "float64", "mixed"])
@pytest.mark.parametrize("name,make", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_small_variables_together_match_one_by_one(monkeypatch, name, make, dtypes):
    dtypes = {"float32": [np.float32] * 6, "float64": [np.float64] * 6,
              "mixed": [np.float32, np.float64, np.float32, np.float64, np.float32,
                        np.float32]}[dtypes]
    # the group is what the step's native plan leaves (test_update_plan): here it takes all
    monkeypatch.setattr(_opt_base.Optimizer, "_update_planned", lambda self, s, g, v: (g, v))
    with monkeypatch.context() as m:
        m.setattr(_opt_base, "_GROUP_MAX", 0)      # one by one: the reference
        want = _run_small(make, dtypes)
    groups = []
    real = _opt_base._SmallGroup.make.__func__

    def spy(cls, *args):
        g = real(cls, *args)
        groups.append(g)
        return g
    monkeypatch.setattr(_opt_base._SmallGroup, "make", classmethod(spy))
    got = _run_small(make, dtypes)
    assert any(g is not None for g in groups)   # the grouped path ran
    if name != "sgd":                           # rebuilt after the slots' assign
        assert len(groups) >= 2
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
