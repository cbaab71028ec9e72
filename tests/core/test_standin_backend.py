"""The backend seam, proved on the CI stand-in backend (arrays that refuse implicit host
conversion, as CuPy's do): the whole op table (values and gradients) runs on it, and any op
that leaks a host conversion fails here."""
import numpy as np
import pytest

import tenfold as tf
from tenfold.testing import run_op_case
from tenfold.testing.standin_backend import StandinArray, standin_device, STANDIN

from tests.core.test_core_op_table import CASES

STANDIN_NAME = "/job:localhost/replica:0/task:0/device:STANDIN:0"


# Ops whose kernels still read device arrays on the host (SciPy, np.asarray): each fails on a
# real GPU too. Strict, so fixing one flips its test to a pass
# (then delete it here).
HOST_LEAKS = {
    'digamma',  # its gradient, trigamma, runs SciPy on the host (needs a per-backend kernel)
}


def _run_on_standin(case):
    # TensorFlow 2's default device policy ('silent'): host constants an op makes are copied
    # to the device, as TensorFlow copies them; a device array read on the host (np.asarray,
    # float(), a NumPy array mixed into a device computation) still fails, as on CuPy
    with standin_device(policy="silent"):
        return run_op_case(case)


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="kernel leaks a host array"))
    if c.name in HOST_LEAKS else c for c in CASES], ids=str)
def test_op_on_standin(case):
    assert _run_on_standin(case) > 0


def test_standin_arrays_refuse_implicit_conversion():
    with standin_device():
        t = tf.constant([1.0, 2.0])
    assert isinstance(t._value, StandinArray)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(t._value)
    with pytest.raises(TypeError, match="Unsupported type"):
        np.add(t._value, np.ones(2, np.float32))
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])  # the explicit transfer works
    assert t.device == STANDIN_NAME
    assert tf.constant(1.0).device == "/job:localhost/replica:0/task:0/device:CPU:0"


def test_ops_run_where_their_inputs_are():
    with standin_device():
        x = tf.constant([[1.0, -2.0], [3.0, 4.0]])
    y = tf.nn.relu(tf.matmul(x, x)) + 1.0  # outside the scope: still on the stand-in
    assert y.device == STANDIN_NAME
    xn = x.numpy()
    np.testing.assert_allclose(y.numpy(), np.maximum(xn @ xn, 0) + 1)


def test_mixed_devices_under_explicit_policy_name_the_op_and_both_devices():
    with standin_device():
        a = tf.constant([1.0, 2.0])
        b_host = None
    b_host = tf.constant([3.0, 4.0])
    with standin_device(policy="explicit"):
        with pytest.raises(tf.errors.InvalidArgumentError) as e:
            tf.add(a, b_host)
    msg = str(e.value)
    assert "add" in msg and STANDIN_NAME in msg and "device:CPU:0" in msg
    assert "tf.identity" in msg


def test_silent_policy_copies_as_tensorflow_does():
    with standin_device():
        a = tf.constant([1.0, 2.0])
    b = tf.constant([3.0, 4.0])
    assert tf.config.experimental.get_device_policy() == "silent"
    for out in (a + b, b + a):
        assert out.device == STANDIN_NAME
        np.testing.assert_array_equal(out.numpy(), [4.0, 6.0])


def test_identity_under_device_scope_is_the_explicit_copy_and_carries_gradients():
    STANDIN.__class__  # registered by standin_device below
    with standin_device():
        pass
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        with tf.device("/device:STANDIN:0"):
            y = tf.identity(x)
        assert y.device == STANDIN_NAME
        z = tf.reduce_sum(y * y)
    g = tape.gradient(z, x)
    assert g.device.endswith("CPU:0")
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    with tf.device("/CPU:0"):
        back = tf.identity(y)
    assert back.device.endswith("CPU:0") and type(back._value) is np.ndarray


def test_missing_device_soft_placement():
    # TensorFlow 2 has soft placement on by default: a device that does not exist is ignored
    assert tf.config.get_soft_device_placement() is True
    with tf.device("/GPU:3"):
        t = tf.constant([1.0])
    assert t.device.endswith("CPU:0")
    tf.config.set_soft_device_placement(False)
    try:
        with pytest.raises(tf.errors.InvalidArgumentError, match="GPU:3"):
            with tf.device("/GPU:3"):
                pass
    finally:
        tf.config.set_soft_device_placement(True)


def test_device_policy_rejects_unknown_names():
    with pytest.raises(ValueError, match="device policy"):
        tf.config.experimental.set_device_policy("sometimes")


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_convolution_and_pooling_run_on_the_backends_kernels(pool):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 6, 3)).astype("float32")
    w = rng.standard_normal((3, 3, 3, 4)).astype("float32")

    def run():
        xt, wt = tf.constant(x), tf.constant(w)
        with tf.GradientTape() as tape:
            tape.watch([xt, wt])
            y = tf.nn.relu(tf.nn.conv2d(xt, wt, 1, "SAME"))
            y = (tf.nn.max_pool2d if pool == "max" else tf.nn.avg_pool2d)(y, 2, 2, "VALID")
            dw = tf.nn.depthwise_conv2d(xt, tf.ones((3, 3, 3, 1)), [1, 1, 1, 1], "SAME")
            loss = tf.reduce_sum(y * y) + tf.reduce_sum(dw)
        gx, gw = tape.gradient(loss, [xt, wt])
        return y, gx, gw

    want = [t.numpy() for t in run()]
    with standin_device(policy="silent"):
        got = run()
    for g, e in zip(got, want):
        assert g.device == STANDIN_NAME
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-5, atol=1e-5)


def test_warn_and_int32_policies():
    with standin_device():
        a = tf.constant([1.0, 2.0])
        i = tf.constant([1, 2])
    host_f, host_i = tf.constant([3.0, 4.0]), tf.constant([3, 4])
    tf.config.experimental.set_device_policy("warn")
    try:
        assert (a + host_f).device == STANDIN_NAME  # copied (and logged)
    finally:
        tf.config.experimental.set_device_policy(None)
    tf.config.experimental.set_device_policy("silent_for_int32")
    try:
        np.testing.assert_array_equal((i + host_i).numpy(), [4, 6])
        with pytest.raises(tf.errors.InvalidArgumentError, match="conflicting devices"):
            a + host_f
    finally:
        tf.config.experimental.set_device_policy(None)


def test_device_policy_is_per_thread():
    import threading
    seen = []
    tf.config.experimental.set_device_policy("explicit")
    try:
        t = threading.Thread(target=lambda: seen.append(
            tf.config.experimental.get_device_policy()))
        t.start()
        t.join()
    finally:
        tf.config.experimental.set_device_policy(None)
    assert seen == ["silent"]  # TensorFlow: a new thread starts with the default policy


def test_the_test_device_is_not_listed_as_hardware():
    with standin_device():
        pass
    assert all(d.device_type in ("CPU", "GPU") for d in tf.config.list_physical_devices())
