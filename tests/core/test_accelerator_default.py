"""Placement with an accelerator present, proved without a GPU: the CI stand-in backend
(arrays that refuse host conversion, as CuPy's do) registered as this machine's default device,
as GPU:0 is when a usable GPU exists (tenfold/backend/gpu.py). New tensors and variables land
on it, `tf.device('/CPU:0')` pins, `.numpy()` copies to the host; Keras keeps weights and
optimizer slots there, moves each batch there and saves through the host."""
import threading

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.testing.standin_backend import StandinArray, standin_accelerator, STANDIN

DEV = "/job:localhost/replica:0/task:0/device:STANDIN:0"
CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


def test_new_tensors_and_variables_go_to_the_accelerator():
    with standin_accelerator():
        made = {
            "constant": tf.constant([1.0, 2.0]),
            "convert": tf.convert_to_tensor(np.ones(3)),
            "zeros": tf.zeros((2, 2)),
            "ones_like": tf.ones_like(tf.constant([1, 2])),
            "range": tf.range(4),
            "fill": tf.fill((2,), 3.0),
            "random": tf.random.normal((3,), seed=1),
            "variable": tf.Variable([1.0, 2.0]),
            "op result": tf.constant([1.0]) + 1.0,
        }
        for name, t in made.items():
            assert t.device == DEV, name
            assert type(t._value) is StandinArray, name
        v = made["variable"]
        v.assign_add([1.0, 1.0])
        assert v.device == DEV
        out = v.numpy()
        assert type(out) is np.ndarray  # the explicit copy to the host
        np.testing.assert_array_equal(out, [2.0, 3.0])
    assert tf.constant(1.0).device == CPU  # back to the host default after the block


def test_cpu_scope_pins_and_device_scope_nests():
    with standin_accelerator():
        with tf.device("/CPU:0"):
            a = tf.constant([1.0, 2.0])
            v = tf.Variable(np.zeros(2, "float32"))
            with tf.device("/device:STANDIN:0"):
                b = tf.constant([3.0])
            c = tf.constant([4.0])
        d = tf.constant([5.0])
    assert a.device == CPU and type(a._value) is np.ndarray
    assert v.device == CPU and c.device == CPU
    assert b.device == DEV and d.device == DEV


def test_identity_moves_between_host_and_accelerator_with_gradients():
    with standin_accelerator():
        with tf.device("/CPU:0"):
            x = tf.constant([1.0, 2.0])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.identity(x) if False else x * 1.0
            with tf.device("/device:STANDIN:0"):
                z = tf.identity(x)
            loss = tf.reduce_sum(z * z) + tf.reduce_sum(y)
        assert z.device == DEV
        g = tape.gradient(loss, x)
    np.testing.assert_allclose(g.numpy(), [3.0, 5.0])


def test_threads_started_later_use_the_default_device():
    seen = []
    with standin_accelerator():
        t = threading.Thread(target=lambda: seen.append(tf.constant(1.0).device))
        t.start()
        t.join()
    assert seen == [DEV]


def test_random_streams_are_deterministic_on_the_accelerator_and_match_the_host():
    def draw():
        tf.random.set_seed(7)
        return tf.random.normal((4,)).numpy(), tf.random.uniform((3,), seed=2).numpy()

    host = draw()
    with standin_accelerator():
        first, second = draw(), draw()
    for h, a, b in zip(host, first, second):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, h)


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6)).astype("float32")
    y = (x @ rng.standard_normal(6).astype("float32") > 0).astype("int32")
    return x, y


def _model(run_eagerly=False, recorder=None):
    keras.utils.set_random_seed(3)
    layers = [keras.Input((6,))]
    if recorder is not None:
        layers.append(recorder)
    layers += [keras.layers.Dense(16, activation="relu"), keras.layers.Dropout(0.1),
               keras.layers.Dense(2, activation="softmax")]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  run_eagerly=run_eagerly)
    return model


class _RecordInputDevice(keras.layers.Layer):
    """Identity that notes the device of the batches it sees (eager: real values)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.devices = []

    def call(self, x):
        if tf.executing_eagerly():
            self.devices.append(x.device)
        return x


def test_keras_fit_keeps_weights_and_slots_on_the_accelerator_and_moves_batches_there():
    x, y = _data()
    rec = _RecordInputDevice()
    with standin_accelerator():
        model = _model(run_eagerly=True, recorder=rec)
        model.fit(x, y, batch_size=32, epochs=1, shuffle=True, verbose=0)
        assert all(w.device == DEV for w in model.weights)
        assert all(type(v._value) is StandinArray for v in model.optimizer.variables)
    assert rec.devices and set(rec.devices) == {DEV}


@pytest.mark.parametrize("shuffle", [False, True])
def test_compiled_fit_evaluate_predict_on_the_accelerator_match_the_host(shuffle):
    x, y = _data()
    np.random.seed(0)
    host = _model()
    h_hist = host.fit(x, y, batch_size=32, epochs=2, shuffle=shuffle, verbose=0).history
    h_eval = host.evaluate(x, y, verbose=0)
    h_pred = host.predict(x, batch_size=40, verbose=0)
    np.random.seed(0)
    with standin_accelerator():
        dev = _model()
        d_hist = dev.fit(x, y, batch_size=32, epochs=2, shuffle=shuffle, verbose=0).history
        d_eval = dev.evaluate(x, y, verbose=0)
        d_pred = dev.predict(x, batch_size=40, verbose=0)
        assert all(type(w._value) is StandinArray for w in dev.weights)
    np.testing.assert_allclose(d_hist["loss"], h_hist["loss"], rtol=1e-5)
    np.testing.assert_allclose(d_eval, h_eval, rtol=1e-5)
    assert type(d_pred) is np.ndarray and d_pred.shape == (96, 2)
    np.testing.assert_allclose(d_pred, h_pred, rtol=1e-5, atol=1e-6)


def test_saving_goes_through_the_host_and_loading_lands_on_the_accelerator(tmp_path):
    x, y = _data()
    with standin_accelerator():
        model = _model()
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        pred = model.predict(x, verbose=0)
        model.save(tmp_path / "m.keras")
        model.save_weights(tmp_path / "m.weights.h5")
        again = keras.models.load_model(tmp_path / "m.keras")
        assert all(w.device == DEV for w in again.weights)
        np.testing.assert_allclose(again.predict(x, verbose=0), pred, rtol=1e-6)
        fresh = _model()
        fresh.load_weights(tmp_path / "m.weights.h5")
        np.testing.assert_allclose(fresh.predict(x, verbose=0), pred, rtol=1e-6)
    on_host = keras.models.load_model(tmp_path / "m.keras")  # a file holds host arrays
    assert all(type(w._value) is np.ndarray for w in on_host.weights)
    np.testing.assert_allclose(on_host.predict(x, verbose=0), pred, rtol=1e-6)


def test_tf_function_runs_on_the_accelerator():
    with standin_accelerator():
        w = tf.Variable(np.ones((3, 2), "float32"))

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.nn.relu(x @ w) ** 2)
            w.assign_sub(0.1 * tape.gradient(loss, w))
            return loss

        x = tf.constant(np.arange(6, dtype="float32").reshape(2, 3))
        losses = [float(step(x).numpy()) for _ in range(3)]
        assert w.device == DEV
    assert losses[1] < losses[0]
    assert STANDIN.name == "standin"


def test_device_backends_can_wrap_a_compiled_step(monkeypatch):
    # the hook where CUDA graph capture plugs in (docs/gpu.md): the backend gets the plan and
    # its generated run, and what it returns runs the step
    seen = []

    def wrap_plan(plan, run):
        seen.append((plan.backend, plan.options["fusion"], plan.options["inplace"]))

        def wrapped(args):
            seen.append("ran")
            return run(args)
        return wrapped

    monkeypatch.setattr(STANDIN, "wrap_plan", wrap_plan, raising=False)

    @tf.function
    def f(x):
        return tf.nn.relu(x) * 2.0

    with standin_accelerator():
        x = tf.constant([-1.0, 3.0])
        for _ in range(3):  # the first call traces (its result comes from the trace)
            np.testing.assert_array_equal(f(x).numpy(), [0.0, 6.0])
    assert seen[0] == (STANDIN, False, False)  # a device plan: no CPU-only passes
    assert seen.count("ran") == 2
    np.testing.assert_array_equal(f(tf.constant([-1.0, 3.0])).numpy(), [0.0, 6.0])  # host
    assert seen.count("ran") == 2


def test_tf_function_without_inputs_runs_where_its_variables_are():
    with standin_accelerator():
        v = tf.Variable(np.zeros(3, "float32"))

        @tf.function
        def bump():
            v.assign_add(tf.ones(3) * 2.0)
            return tf.reduce_sum(v)

        for _ in range(3):
            total = bump()
        assert v.device == DEV and type(v._value) is StandinArray
    np.testing.assert_array_equal(v.numpy(), [6.0, 6.0, 6.0])
    assert float(total.numpy()) == 18.0
