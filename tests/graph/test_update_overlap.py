"""An optimizer update left running (backend/native_pool.start): a compiled step's UpdatePlan
region runs on the pool's helpers while the Python after it goes on, and is joined before
anything reads what it writes: a later node of the same program (guarded), the program's
end (unless fit's loop keeps it), the next program or region, an error. The numbers are
those of the update run in place, bit for bit; where something could read the weights in
between (per-batch callbacks, constraints, EMA), it is not left running."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.backend import native_pool as NP
from tenfold.graph import executor, threads
from tenfold.keras.optimizers import native_updates as NU

pytestmark = pytest.mark.skipif(not NP.available(),
                                reason="no C pool here (no compiler or TENFOLD_NATIVE=0)")
RNG = np.random.default_rng(12)


@pytest.fixture(autouse=True)
def _two_threads(monkeypatch):
    """Regions on two threads whatever the machine's load; BLAS fixed (its thread count
    changes a product's last bits)."""
    monkeypatch.setattr(NP, "threads", lambda: 2)
    threads.set_blas_threads(1)
    yield
    threads.set_blas_threads(0)
    NP.join()


def _starts(monkeypatch):
    """Counts the regions started (left running)."""
    got = []
    real = NP.start

    def spy(*a, **k):
        ok = real(*a, **k)
        got.append(NP._pending[0] is not None)
        return ok
    monkeypatch.setattr(NP, "start", spy)
    return got


def _never_left_running(monkeypatch):
    monkeypatch.setattr(NU, "may_leave_running", lambda: False)


def _data(n=512):
    x = RNG.standard_normal((n, 300)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[RNG.integers(0, 10, n)]
    return x, y


def _model(optimizer="rmsprop", **dense):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Dense(256, activation="relu", input_shape=(300,),
                                                 **dense),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _fit(model, x, y, **kw):
    hist = model.fit(x, y, batch_size=64, epochs=2, verbose=0, shuffle=False, **kw)
    return [w.copy() for w in model.get_weights()], hist.history


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "sgd"])
def test_fit_leaves_the_update_running_with_the_same_numbers(monkeypatch, optimizer):
    x, y = _data()
    starts = _starts(monkeypatch)
    seen_between = []
    from tenfold.keras.engine import data_adapter
    real_fetch = data_adapter.DeviceBatches.fetch_ahead

    def fetch(self):   # runs in fit's loop right after each step returns
        seen_between.append(NP._pending[0] is not None)
        return real_fetch(self)
    monkeypatch.setattr(data_adapter.DeviceBatches, "fetch_ahead", fetch)
    got_w, got_h = _fit(_model(optimizer), x, y)
    assert starts and all(starts)
    assert any(seen_between)          # still running when the step had returned
    assert NP._pending[0] is None     # joined when fit ended
    monkeypatch.undo()
    threads.set_blas_threads(1)
    monkeypatch.setattr(NP, "threads", lambda: 2)
    _never_left_running(monkeypatch)
    want_w, want_h = _fit(_model(optimizer), x, y)
    for a, b in zip(got_w, want_w):
        np.testing.assert_array_equal(a, b)
    assert got_h == want_h


def test_a_batch_callback_sees_the_updated_weights(monkeypatch):
    """With a per-batch callback the update is joined when its step ends: the callback reads
    the weights the step made."""
    x, y = _data(256)

    class Reader(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen, self.pending = [], []

        def on_train_batch_end(self, batch, logs=None):
            self.pending.append(NP._pending[0] is not None)
            self.seen.append(self.model.get_weights()[0].copy())

    got = Reader()
    _fit(_model(), x, y, callbacks=[got])
    assert not any(got.pending)
    _never_left_running(monkeypatch)
    want = Reader()
    _fit(_model(), x, y, callbacks=[want])
    assert len(got.seen) == len(want.seen) == 8
    for a, b in zip(got.seen, want.seen):
        np.testing.assert_array_equal(a, b)


def test_constraints_and_ema_keep_the_update_in_place(monkeypatch):
    x, y = _data(256)
    starts = _starts(monkeypatch)
    _fit(_model(kernel_constraint=keras.constraints.MaxNorm(1.0)), x, y)
    _fit(_model(keras.optimizers.RMSprop(use_ema=True)), x, y)
    assert starts == []


def _step_fn(model, opt, read):
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = keras.losses.categorical_crossentropy(y, model(x, training=True))
            loss = tf.reduce_mean(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return read(model)
    return step


@pytest.mark.parametrize("read", [
    lambda m: m.trainable_variables[0] * 1.0,            # a later node reads the weight
    lambda m: tf.identity(m.trainable_variables[0]),
    lambda m: m.trainable_variables[0].read_value(),     # the program's output is the weight
])
def test_a_later_node_reads_the_updated_weight(monkeypatch, read):
    """Inside a custom step, a node after apply_gradients that reads a weight waits for the
    update (guarded), and the program's end joins (no fit loop keeps it running)."""
    x, y = _data(64)

    def run():
        model = _model()
        opt = keras.optimizers.RMSprop(0.01)
        step = _step_fn(model, opt, read)
        outs = [np.array(step(x, y)) for _ in range(4)]
        assert NP._pending[0] is None
        return outs, model.get_weights()[0].copy()
    starts = _starts(monkeypatch)
    got, got_w = run()
    assert starts and all(starts)
    np.testing.assert_array_equal(got[-1], got_w)   # the weight after the step
    _never_left_running(monkeypatch)
    want, want_w = run()
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_an_error_after_the_update_joins_it(monkeypatch):
    """A node after the update fails while the program runs (not while it is traced): the
    update is finished before the error reaches the caller, even inside fit's scope."""
    x, y = _data(64)
    model = _model()
    opt = keras.optimizers.RMSprop(0.01)

    @tf.function
    def step(x, y, scale):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        tf.debugging.assert_all_finite(model.trainable_variables[1] * scale, "boom")
        return loss
    step(x, y, tf.constant(np.float32(1.0)))   # traced
    starts = _starts(monkeypatch)
    with executor.keeping_started():
        with pytest.raises(Exception, match="boom"):
            step(x, y, tf.constant(np.float32(np.inf)))
        assert NP._pending[0] is None
    assert starts == [True]


def test_only_the_scopes_own_thread_keeps_it_running(monkeypatch):
    """fit's scope is per thread: a program another thread runs meanwhile joins its update at
    its end (its caller may read the weights right after)."""
    import threading
    x, y = _data(64)
    model = _model()
    step = _step_fn(model, keras.optimizers.RMSprop(0.01), lambda m: tf.constant(0.0))
    step(x, y)
    starts = _starts(monkeypatch)
    seen = []

    def other():
        step(x, y)
        seen.append(NP._pending[0] is None)
    with executor.keeping_started():
        t = threading.Thread(target=other)
        t.start()
        t.join(30)
        step(x, y)                          # this thread's: left running
        seen.append(NP._pending[0] is not None)
    assert seen == [True, True] and starts == [True, True]
    assert NP._pending[0] is None           # the scope's end joined it


def test_a_py_function_after_the_update_sees_it_done(monkeypatch):
    """A py_function after apply_gradients may read any weight from Python: the update is
    joined before it runs."""
    x, y = _data(64)
    model = _model()
    seen = []

    def read():
        seen.append((NP._pending[0] is None, model.get_weights()[0].copy()))
        return np.float32(0.0)
    step = _step_fn(model, keras.optimizers.RMSprop(0.01),
                    lambda m: tf.py_function(read, [], tf.float32))
    step(x, y)
    starts = _starts(monkeypatch)
    step(x, y)
    assert starts == [True] and seen[-1][0]
    np.testing.assert_array_equal(seen[-1][1], model.get_weights()[0])


def test_fit_keeps_it_running_with_tf_distribute_imported_but_unused(monkeypatch):
    import tenfold.distribute  # noqa: F401 - imported, no strategy in scope
    x, y = _data(256)
    seen = []
    from tenfold.keras.engine import data_adapter
    real_fetch = data_adapter.DeviceBatches.fetch_ahead
    monkeypatch.setattr(data_adapter.DeviceBatches, "fetch_ahead",
                        lambda self: seen.append(NP._pending[0] is not None) or real_fetch(self))
    _fit(_model(), x, y)
    assert any(seen)


# ------------------------------------------------------------------------------------------
# graph/update_overlap.py: the nodes the update does not need run after it (while its C work
# does), and only the nodes that may share memory with what it touches are guarded

def _plan_of(fn):
    """The host plan of a tf.function called at least twice (its only program)."""
    programs = list({id(hit[1]): hit[1] for hit in fn._exact.values()}.values())
    assert len(programs) == 1
    plans = list(programs[0].plans.values())
    assert len(plans) == 1
    return plans[0]


def _order(plan):
    """The plan's op names, the update as 'UPDATE'."""
    return ["UPDATE" if getattr(n.op, "may_leave_running", False) else n.op.name
            for n in plan.nodes]


def _no_move(monkeypatch):
    from tenfold.graph import update_overlap
    monkeypatch.setattr(update_overlap, "move_after_update", lambda nodes, kind, values: nodes)


def test_fit_runs_the_metrics_after_the_update_with_the_same_numbers(monkeypatch):
    """The loss tracker's and the accuracy's nodes move after the update; weights and history
    are those of the plan without the move, bit for bit."""
    x, y = _data(256)
    model = _model()
    got_w, got_h = _fit(model, x, y)
    order = _order(_plan_of(model.train_function.functions[0]))
    after = order[order.index("UPDATE") + 1:]
    assert "argmax_matches" in after and after.count("assign_add") == 4
    assert not any(name.startswith("matmul") for name in after)
    _no_move(monkeypatch)
    model = _model()
    want_w, want_h = _fit(model, x, y)
    order = _order(_plan_of(model.train_function.functions[0]))
    assert "argmax_matches" not in order[order.index("UPDATE") + 1:]
    for a, b in zip(got_w, want_w):
        np.testing.assert_array_equal(a, b)
    assert got_h == want_h


def _custom_step(model, opt, extra):
    """A step whose `extra(model, loss)` runs before apply_gradients; it returns extra's
    results."""
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, model(x)))
            out = extra(model, loss)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return out
    return step


def _run_custom(extra, steps=3):
    """(the outputs of each step, the weights after them, the plan's order); the same data
    each time."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 300)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]
    model = _model()
    step = _custom_step(model, keras.optimizers.RMSprop(0.01), extra)
    outs = [[np.array(t) for t in tf.nest.flatten(step(x, y))] for _ in range(steps)]
    return outs, [w.copy() for w in model.get_weights()], _order(_plan_of(step))


def _same_without_the_move(monkeypatch, extra):
    got = _run_custom(extra)
    _no_move(monkeypatch)
    want = _run_custom(extra)
    for a, b in zip(got[0], want[0]):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
    for a, b in zip(got[1], want[1]):
        np.testing.assert_array_equal(a, b)
    return got[2], want[2]


def test_a_read_of_a_weight_the_update_writes_stays_before_it(monkeypatch):
    """The weight's sum, made before apply_gradients and needed by nothing the update reads,
    still reads the weight before the update."""
    def extra(model, loss):
        return tf.reduce_sum(model.trainable_variables[0]) + 0.0
    got, want = _same_without_the_move(monkeypatch, extra)
    at, was = got.index("UPDATE"), want.index("UPDATE")
    assert got[at + 1:] == ["add"]    # only the add of the sum moves
    assert got[:at].count("reduce_sum") == want[:was].count("reduce_sum")


def test_a_metric_on_its_own_variable_moves(monkeypatch):
    """An assign to a variable nothing else touches (a metric's total) runs after the update;
    its value is the same."""
    total = tf.Variable(0.0)

    def extra(model, loss):
        total.assign_add(loss * 2.0)
        return total.read_value()
    got = _run_custom(extra)
    assert got[2].index("assign_add") > got[2].index("UPDATE")
    _no_move(monkeypatch)
    total.assign(0.0)
    want = _run_custom(extra)
    assert want[2].index("assign_add") < want[2].index("UPDATE")
    np.testing.assert_array_equal(got[0], want[0])    # the running totals, step by step
    for a, b in zip(got[1], want[1]):
        np.testing.assert_array_equal(a, b)


def test_an_assign_read_by_a_node_the_update_needs_stays(monkeypatch):
    """A variable assigned before apply_gradients and read by the gradient's computation:
    the assign keeps its place."""
    scale = tf.Variable(1.0)

    def extra(model, loss):
        scale.assign_add(0.5)
        return scale.read_value()

    x, y = _data(64)
    model = _model()
    opt = keras.optimizers.RMSprop(0.01)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            out = extra(model, None)
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, model(x)))
            loss = loss * scale.read_value()
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return out
    step(x, y)   # traced
    step(x, y)
    order = _order(_plan_of(step))
    assert order.index("assign_add") < order.index("UPDATE")


def test_random_draws_and_python_calls_keep_their_place(monkeypatch):
    """A random draw (stateful) does not move, and nothing moves across a py_function: the
    product made before it stays, the one made after it moves."""
    def extra(model, loss):
        early = loss * 5.0
        noise = tf.random.uniform([3], seed=1)
        marker = tf.py_function(lambda: np.float32(1.0), [], tf.float32)
        return early, noise, marker, loss * 3.0
    got, want = _same_without_the_move(monkeypatch, extra)
    at = got.index("UPDATE")
    assert got.index("random_uniform") < at and got.index("py_function") < at
    assert got[:at].count("multiply") == 1 and got[at:].count("multiply") == 1
    assert want[-1] == "UPDATE"   # without the pass: nothing after the update


@pytest.mark.parametrize("read,expect", [
    (lambda m: tf.reshape(m.trainable_variables[0], [-1])[:7],   # a view of a view
     lambda w: w[0].reshape(-1)[:7]),
    (lambda m: tf.transpose(m.trainable_variables[2]), lambda w: w[2].T),
])
def test_a_view_of_the_weight_after_the_update_is_guarded(monkeypatch, read, expect):
    """A view of a weight the update writes, read after it, shares memory with the
    update's work: it is guarded (the program returns the updated weight's values)."""
    x, y = _data(64)
    model = _model()
    step = _step_fn(model, keras.optimizers.RMSprop(0.01), read)
    starts = _starts(monkeypatch)
    for _ in range(3):
        out = np.array(step(x, y))
        np.testing.assert_array_equal(out, expect(model.get_weights()))
    assert starts and all(starts[1:])


def test_two_updates_in_one_step_guard_both(monkeypatch):
    """A step with two optimizers (a GAN's discriminator, then its generator): a view of a
    weight the second update writes, read after it, is guarded too."""
    x, y = _data(64)
    disc, gen = _model(), _model()
    d_opt, g_opt = keras.optimizers.RMSprop(0.01), keras.optimizers.RMSprop(0.01)

    def loss_of(model):
        return tf.reduce_mean(keras.losses.categorical_crossentropy(y, model(x)))

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            d_loss = loss_of(disc)
        d_opt.apply_gradients(zip(tape.gradient(d_loss, disc.trainable_variables),
                                  disc.trainable_variables))
        with tf.GradientTape() as tape:
            g_loss = loss_of(gen)
        g_opt.apply_gradients(zip(tape.gradient(g_loss, gen.trainable_variables),
                                  gen.trainable_variables))
        return gen.trainable_variables[0] * 2.0, tf.reshape(gen.trainable_variables[1], [-1]), \
            tf.transpose(disc.trainable_variables[2])
    starts = _starts(monkeypatch)
    for _ in range(3):
        g_twice, g_view, d_view = (np.array(t) for t in step(x, y))
        np.testing.assert_array_equal(g_twice, gen.get_weights()[0] * np.float32(2.0))
        np.testing.assert_array_equal(g_view, gen.get_weights()[1])
        np.testing.assert_array_equal(d_view, disc.get_weights()[2].T)
    assert starts.count(True) >= 4
