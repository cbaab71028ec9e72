"""Subnormal floats are flushed to zero inside graph programs and optimizer updates, as
TensorFlow's CPU kernels flush them (backend/fpenv.py), and nowhere else: the user's NumPy
code keeps IEEE subnormals."""
import contextlib
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tenfold as tf
from tenfold.backend import fpenv, kernels, native_pool
from tenfold.keras.optimizers import native_updates

TINY = np.float32(1e-39)          # subnormal in float32 (smallest normal ~1.18e-38)
HALF_TINY = TINY * np.float32(0.5)   # made here, outside any flushing block

_token = fpenv.enter()
fpenv.restore(_token)
pytestmark = pytest.mark.skipif(_token is None, reason="no native library (or no mode on this "
                                "CPU): subnormals are NumPy's")


def _numpy_keeps_subnormals():
    return np.float32(TINY) * np.float32(0.5) != 0   # 5e-40 unless flushed


def test_graph_program_flushes_first_call_later_calls_and_replay():
    @tf.function
    def f(a):
        return a * 0.5, tf.sqrt(a)

    x = tf.constant(np.full(4, TINY, np.float32))
    for _ in range(2):   # the tracing call and a compiled run
        half, root = f(x)
        np.testing.assert_array_equal(half.numpy(), 0.0)
        np.testing.assert_array_equal(root.numpy(), 0.0)   # DAZ: sqrt(0)
    with tf.GradientTape() as tape:   # replayed op by op under a tape
        tape.watch(x)
        half, _ = f(x)
    np.testing.assert_array_equal(half.numpy(), 0.0)
    assert _numpy_keeps_subnormals()   # restored after every call


def test_mode_restored_after_an_error_inside_a_program():
    @tf.function
    def f(a):
        return tf.reshape(a, [3])

    f(tf.constant(np.ones(3, np.float32)))
    with pytest.raises(Exception):
        f(tf.constant(np.ones(4, np.float32)))
    assert _numpy_keeps_subnormals()
    assert fpenv.mode() == 0


def test_normal_numbers_are_untouched():
    @tf.function
    def f(a):
        return a * 0.5

    x = np.array([3e-38, 3.0, -2.5e-38, 1e30], np.float32)   # normal, results normal
    np.testing.assert_array_equal(f(tf.constant(x)).numpy(), x * np.float32(0.5))


def test_eager_optimizer_update_flushes_its_slots():
    v = tf.Variable(np.ones(8, np.float32))
    opt = tf.keras.optimizers.RMSprop(learning_rate=0.1)
    opt.apply([tf.constant(np.full(8, 1e-20, np.float32))], [v])   # g*g: 1e-40
    vel = opt.variables[-1].numpy()
    np.testing.assert_array_equal(vel, 0.0)
    assert _numpy_keeps_subnormals()


def test_fit_keeps_optimizer_slots_free_of_subnormals():
    keras = tf.keras
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.RMSprop(), loss="mse")
    x = np.zeros((8, 4), np.float32)
    x[:, 0] = 1.0        # only the first input feeds gradients: the rest stay exactly zero
    y = np.ones((8, 2), np.float32)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    kernel_vel = next(v for v in model.optimizer.variables if "kernel_velocity" in v.path)
    seeded = np.full((4, 2), np.float32(2e-38))    # normal; * rho = 1.8e-38 normal,
    seeded[1:] = np.float32(1.3e-38)               # 1.17e-38: subnormal unless flushed
    kernel_vel.assign(seeded)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    vel = kernel_vel.numpy()
    np.testing.assert_array_equal(vel[1:], 0.0)
    assert np.all(vel[0] > 0)


def test_pool_helpers_take_the_callers_mode(monkeypatch):
    if not native_pool.available():
        pytest.skip("no C pool here")
    monkeypatch.setattr(native_pool, "threads", lambda: 4)   # the tests run one thread
    n = 1 << 20         # 8 pool chunks; 20 regions, so the helpers take some of them
    g = np.zeros(n, np.float32)
    for flush in (True, False):
        for _ in range(20):
            w = np.full(n, TINY, np.float32)
            token = fpenv.enter() if flush else None
            try:
                assert native_updates.sgd([g, w], (0.1, 0.0), False)
            finally:
                fpenv.restore(token)
            # w - g*lr: DAZ reads w as 0 in every chunk, whichever thread ran it
            np.testing.assert_array_equal(w, 0.0 if flush else TINY)


def test_kernel_threads_take_the_callers_mode(monkeypatch):
    monkeypatch.setattr(kernels, "_threads", 2)
    monkeypatch.setattr(kernels, "_busy", lambda: False)
    parts = np.full((8, 1024), TINY, np.float32)
    out = np.empty_like(parts)

    def work(i, _):
        time.sleep(0.002)   # long enough tasks that both threads take some
        np.multiply(parts[i], np.float32(0.5), out=out[i])

    for flush in (True, False):
        with fpenv.flushing() if flush else contextlib.nullcontext():
            kernels.run_tasks(list(range(8)), work, 1 << 30, min_bytes=0)
        np.testing.assert_array_equal(out, 0.0 if flush else HALF_TINY)


def test_flushing_nests_and_restores():
    assert fpenv.mode() == 0
    with fpenv.flushing():
        assert fpenv.mode() != 0
        with fpenv.flushing():
            assert not _numpy_keeps_subnormals()
        assert fpenv.mode() != 0
    assert fpenv.mode() == 0 and _numpy_keeps_subnormals()


def test_env_variable_turns_it_off():
    code = ("import numpy as np, tenfold as tf\n"
            "f = tf.function(lambda a: a * 0.5)\n"
            "x = tf.constant(np.full(2, 1e-39, np.float32))\n"
            "f(x); print(f(x).numpy()[0] > 0)\n")
    env = dict(os.environ, TENFOLD_FLUSH_DENORMALS="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip().endswith("True"), out.stderr[-2000:]


_F32_TINY = np.finfo(np.float32).tiny


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float32, st.integers(1, 40),
                    elements=st.floats(width=32, allow_subnormal=True, allow_nan=False)),
       c=st.floats(width=32, min_value=2.0 ** -20, max_value=2.0 ** 20))
def test_a_program_computes_what_flush_to_zero_arithmetic_gives(x, c):
    """Property: inside a graph program a subnormal input reads as zero and a subnormal
    result is zero; every other element is IEEE's (NumPy's, outside any flushing block)."""
    f = _scale_fn()
    c32 = np.float32(c)
    got = f(tf.constant(x), tf.constant(c32)).numpy()
    with np.errstate(all="ignore"):
        ieee = x * c32
    sub_in = (x != 0) & (np.abs(x) < _F32_TINY)
    assert np.all(got[sub_in] == 0)
    rest = ~sub_in
    sub_out = rest & (ieee != 0) & (np.abs(ieee) < _F32_TINY)
    assert np.all(got[sub_out] == 0)
    # the smallest normal may come from rounding a tiny exact product up: either is right
    edge = rest & (np.abs(ieee) == _F32_TINY)
    assert np.all((got[edge] == ieee[edge]) | (got[edge] == 0))
    normal = rest & ~sub_out & ~edge
    np.testing.assert_array_equal(got[normal], ieee[normal])
    assert _numpy_keeps_subnormals()


_scale = []


def _scale_fn():
    if not _scale:
        _scale.append(tf.function(lambda a, s: a * s, input_signature=[
            tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.float32)]))
    return _scale[0]
