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
