"""A step's dense updates as one native_updates.UpdatePlan (one C pool region, rows built
once): the numbers must be the per-variable path's, bit for bit, for every built-in
optimizer that has a C kernel, in float32, float64 and a mix; the plan is rebuilt when a
weight or slot array is replaced, and steps it cannot take (a gradient living in a weight's
memory, a sparse gradient, TENFOLD_NATIVE=0) go to the per-variable path."""
import numpy as np
import pytest

from tenfold import keras
from tenfold.backend import native, native_pool
from tenfold.keras.optimizers import native_updates
from tenfold.keras.optimizers.optimizer import Optimizer, SparseRows
from tenfold.ops.buffers import variable_buffer
from tests.keras.optimizers._training import train_with_reassignments

pytestmark = pytest.mark.skipif(not native_pool.available(),
                                reason="no C pool here (no compiler or TENFOLD_NATIVE=0)")

K = keras.optimizers
CONFIGS = [
    ("sgd", lambda: K.SGD(0.1)),
    ("sgd_momentum", lambda: K.SGD(0.1, momentum=0.9)),
    ("sgd_nesterov", lambda: K.SGD(0.1, momentum=0.9, nesterov=True)),
    ("rmsprop", lambda: K.RMSprop(0.01)),
    ("rmsprop_centered", lambda: K.RMSprop(0.01, centered=True)),
    ("rmsprop_momentum", lambda: K.RMSprop(0.01, momentum=0.5)),
    ("rmsprop_centered_momentum", lambda: K.RMSprop(0.01, momentum=0.5, centered=True)),
    ("adam", lambda: K.Adam(0.01)),
    ("adam_amsgrad", lambda: K.Adam(0.01, amsgrad=True)),
    ("adamw", lambda: K.AdamW(0.01)),
    ("adagrad", lambda: K.Adagrad(0.05)),
    ("adadelta", lambda: K.Adadelta(1.0)),
    ("adamax", lambda: K.Adamax(0.01)),
    ("nadam", lambda: K.Nadam(0.01)),
    ("lion", lambda: K.Lion(0.001)),
]
# big ones cut into parts (one with an odd size), small ones a task each
SHAPES = [(300, 517), (7, 5), (32,), (3, 4, 2), (1,), (257, 255), (0, 4)]
DTYPES = {"float32": [np.float32] * 7, "float64": [np.float64] * 7,
          "mixed": [np.float32, np.float64, np.float32, np.float64, np.float32, np.float32,
                    np.float32]}


def _no_plan(monkeypatch):
    monkeypatch.setattr(Optimizer, "_update_planned", lambda self, s, g, v: (g, v))


def _plan_runs(monkeypatch):
    """[(whether the plan ran, its variables)] for each step the plan was asked to run."""
    ran = []
    real = native_updates.UpdatePlan.run

    def spy(self, grads, tail, defer=False):
        got = real(self, grads, tail, defer)
        ran.append((got, len(self.positions)))
        if got and len(self.rows) > 16:
            ran.append(("many rows", len(self.rows)))
        return got
    monkeypatch.setattr(native_updates.UpdatePlan, "run", spy)
    return ran


def _train(make, dtypes):
    return train_with_reassignments(make, SHAPES, dtypes)


def _with_and_without_plan(monkeypatch, body):
    """(body() without the plan, body() with it, the plan's runs in the latter)."""
    with monkeypatch.context() as m:
        _no_plan(m)
        want = body()
    with monkeypatch.context() as m:
        ran = _plan_runs(m)
        got = body()
    return want, got, ran


def _equal(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtypes", sorted(DTYPES))
@pytest.mark.parametrize("name,make", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_plan_matches_the_per_variable_path(monkeypatch, name, make, dtypes):
    with monkeypatch.context() as m:
        _no_plan(m)
        want = _train(make, DTYPES[dtypes])
    ran = _plan_runs(monkeypatch)
    got = _train(make, DTYPES[dtypes])
    if name == "nadam":   # 9 scalars: more than the pool passes, so no plan is made
        assert ran == []
    else:                 # the plan ran every step, over the variables of the first's dtype
        n_first = DTYPES[dtypes].count(DTYPES[dtypes][0])
        assert ran and all(r == (True, n_first) for r in ran)
    _equal(got, want)


@pytest.mark.parametrize("name,make", [CONFIGS[3], CONFIGS[7]], ids=["rmsprop", "adam"])
def test_plan_matches_numpy_bodies(monkeypatch, name, make):
    with monkeypatch.context() as m:
        m.setenv("TENFOLD_NATIVE", "0")
        want = _train(make, DTYPES["float32"])
    _equal(_train(make, DTYPES["float32"]), want)


def test_plan_rebuilt_when_a_slot_array_is_replaced(monkeypatch):
    v = keras.Variable(np.ones((300, 300), np.float32))
    opt = K.RMSprop(0.01)
    g = np.full((300, 300), 0.5, np.float32)
    opt.apply_gradients([(g, v)])
    plan = next(iter(opt._update_plans.values()))
    assert plan is not None and plan.valid([])   # RMSprop's kernel takes no integers
    velocity = opt._slots["velocity"][0]
    velocity.assign(np.zeros((300, 300), np.float32))   # assign may keep or replace the array
    from tenfold.ops.buffers import assign_buffer
    assign_buffer(velocity, np.zeros((300, 300), np.float32))   # replaced for sure
    assert not plan.valid([])
    opt.apply_gradients([(g, v)])
    new = next(iter(opt._update_plans.values()))
    assert new is not plan and new.valid([])
    want_v = np.float32(0.1) * (g * g)
    np.testing.assert_array_equal(variable_buffer(velocity), want_v)


def test_plan_rebuilt_when_nesterov_changes(monkeypatch):
    """SGD's nesterov is an integer in the plan's rows: turned on between steps, the rows
    are made again (the step is Nesterov's, as the per-variable path's)."""
    def body():
        rng = np.random.default_rng(6)
        v = keras.Variable(rng.standard_normal((300, 300)).astype(np.float32))
        opt = K.SGD(0.1, momentum=0.9)
        for k in range(3):
            if k == 2:
                opt.nesterov = True
            opt.apply_gradients([(rng.standard_normal((300, 300)).astype(np.float32), v)])
        return [np.asarray(v.numpy())] + [np.asarray(x.numpy()) for x in opt.variables]
    want, got, ran = _with_and_without_plan(monkeypatch, body)
    assert ran == [(True, 1)] * 3   # the third step on rows made anew, not declined
    _equal(got, want)


def test_gradient_in_a_weights_memory_goes_one_by_one(monkeypatch):
    """A weight's own array passed as another variable's gradient: the update of that weight
    must come after (the per-variable order), not race with the other's update."""
    def body():
        rng = np.random.default_rng(7)
        a = keras.Variable(rng.standard_normal((256, 300)).astype(np.float32))
        b = keras.Variable(rng.standard_normal((256, 300)).astype(np.float32))
        opt = K.SGD(0.1)
        opt.build([a, b])
        g_b = rng.standard_normal((256, 300)).astype(np.float32)
        for _ in range(2):   # a's gradient is b's array, b updated in the same step
            opt._backend_update_step([variable_buffer(b), g_b], [a, b], 0.1)
        return [np.asarray(a.numpy()), np.asarray(b.numpy())]
    want, got, ran = _with_and_without_plan(monkeypatch, body)
    assert ran and not any(r[0] for r in ran)   # the plan declined every step
    _equal(got, want)


def test_sparse_gradients_stay_on_their_path(monkeypatch):
    def body():
        rng = np.random.default_rng(8)
        emb = keras.Variable(rng.standard_normal((50, 8)).astype(np.float32))
        dense = keras.Variable(rng.standard_normal((300, 300)).astype(np.float32))
        opt = K.Adam(0.01)
        opt.build([emb, dense])
        for k in range(3):
            rows = SparseRows(rng.standard_normal((6, 8)).astype(np.float32),
                              rng.integers(0, 50, 6), (50, 8))
            g = rng.standard_normal((300, 300)).astype(np.float32)
            opt._backend_update_step([rows, g], [emb, dense], 0.01)
            opt.iterations.assign_add(1)
        return [np.asarray(x.numpy()) for x in [emb, dense] + list(opt.variables)]
    want, got, ran = _with_and_without_plan(monkeypatch, body)
    assert ran and all(r == (True, 1) for r in ran)   # the dense one only
    _equal(got, want)


def test_native_off_after_the_plan_was_made(monkeypatch):
    v = keras.Variable(np.ones((300, 300), np.float32))
    opt = K.Adam(0.01)
    g = np.full((300, 300), 0.25, np.float32)
    opt.apply_gradients([(g, v)])
    ran = _plan_runs(monkeypatch)
    monkeypatch.setenv("TENFOLD_NATIVE", "0")
    assert not native.enabled()
    opt.apply_gradients([(g, v)])
    assert ran == [(False, 1)]   # declined: the NumPy body ran
    ref = keras.Variable(np.ones((300, 300), np.float32))
    ref_opt = K.Adam(0.01)
    ref_opt.apply_gradients([(g, ref)])
    ref_opt.apply_gradients([(g, ref)])
    np.testing.assert_array_equal(v.numpy(), ref.numpy())


def test_many_variables_one_region(monkeypatch):
    """More rows than the item-by-item patch takes (ResNet-20 has 82 variables)."""
    shapes = [(3, 3, 4, 4)] * 12 + [(16,)] * 12 + [(300, 300)]

    def body():
        rng = np.random.default_rng(9)
        vs = [keras.Variable(rng.standard_normal(s).astype(np.float32)) for s in shapes]
        opt = K.Adam(0.01)
        for k in range(3):
            opt.apply_gradients(zip([rng.standard_normal(s).astype(np.float32)
                                     for s in shapes], vs))
        return [np.asarray(v.numpy()) for v in vs + list(opt.variables)]
    want, got, ran = _with_and_without_plan(monkeypatch, body)
    # 12 + 12 tasks and the big variable's parts: the column of addresses built at once
    assert any(r[0] == "many rows" and r[1] >= 25 for r in ran)
    assert all(r == (True, len(shapes)) for r in ran if r[0] != "many rows")
    _equal(got, want)
