"""The CuPy backend's kernel table (tenfold/backend/xp_kernels.py `XpKernels`, which
`cupy_backend._CupyKernels` extends) run end to end without a GPU: the CI stand-in backend
with that table in place of its own, through the public ops, their gradients, tf.function
and a Keras convnet fit, against the host."""
import re

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.backend.xp_kernels import XpKernels
from tenfold.testing import run_op_case
from tenfold.testing.standin_backend import STANDIN, StandinArray, standin_accelerator, \
    standin_device

from tests.core.test_core_op_table import CASES

DEV = "/job:localhost/replica:0/task:0/device:STANDIN:0"


class _StandinXpKernels(XpKernels):
    """XpKernels plus the stand-in's scatter-add (CuPy's is cupyx.scatter_add)."""

    @staticmethod
    def scatter_add(target, indices, updates):
        def dev(k):
            if type(k) is np.ndarray:
                return STANDIN.from_host(k)
            if type(k) is tuple:
                return tuple(dev(i) for i in k)
            return k
        np.add.at(target, dev(indices), updates)
        return target


@pytest.fixture
def xp_table(monkeypatch):
    monkeypatch.setattr(STANDIN, "kernels", _StandinXpKernels())
    yield


_PATTERN = "conv|pool|depthwise|gather|scatter|segment|relu|bias|embedding"


@pytest.mark.parametrize("case", [c for c in CASES if re.search(_PATTERN, c.name)], ids=str)
def test_op_table_cases_on_the_device_kernel_table(case, xp_table):
    with standin_device(policy="silent"):
        assert run_op_case(case) > 0


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_convolution_pooling_values_and_gradients(pool, padding, xp_table):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 9, 9, 3)).astype("float32")
    w = rng.standard_normal((3, 3, 3, 4)).astype("float32")
    dw_f = rng.standard_normal((3, 3, 3, 2)).astype("float32")

    def run():
        xt, wt, dt = tf.constant(x), tf.constant(w), tf.constant(dw_f)
        with tf.GradientTape() as tape:
            tape.watch([xt, wt, dt])
            y = tf.nn.relu(tf.nn.conv2d(xt, wt, 2 if padding == "VALID" else 1, padding))
            y = (tf.nn.max_pool2d if pool == "max" else tf.nn.avg_pool2d)(y, 3, 2, padding)
            d = tf.nn.depthwise_conv2d(xt, dt, [1, 1, 1, 1], padding)
            loss = tf.reduce_sum(y * y) + tf.reduce_sum(d * d)
        return [y, d] + tape.gradient(loss, [xt, wt, dt])

    want = [t.numpy() for t in run()]
    with standin_device(policy="silent"):
        got = run()
    for g, e in zip(got, want):
        assert g.device == DEV
        np.testing.assert_allclose(g.numpy(), e, rtol=2e-4, atol=2e-4)


def _convnet():
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.25),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_convnet_fit_on_the_device_kernel_table_matches_the_host(xp_table):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, 64)
    host = _convnet()
    h = host.fit(x, y, batch_size=32, epochs=2, verbose=0).history["loss"]
    hp = host.predict(x, verbose=0)
    with standin_accelerator():
        dev = _convnet()
        d = dev.fit(x, y, batch_size=32, epochs=2, verbose=0).history["loss"]
        dp = dev.predict(x, verbose=0)
        assert all(type(w._value) is StandinArray for w in dev.weights)
    np.testing.assert_allclose(d, h, rtol=1e-4)
    np.testing.assert_allclose(dp, hp, rtol=1e-4, atol=1e-5)
