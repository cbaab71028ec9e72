"""Tests that need a real GPU (CuPy and a device answering): `pytest -m gpu`. Without one they
skip (CI, the development machines). bench/gpu_check.sh runs them on the device machine.

What they check on CuPy: the op table (values and gradients against NumPy and finite
differences), convolution / pooling against the host, Keras fit of the seed MLP and the MNIST
convnet (weights, slots and batches on GPU:0, losses as on the host), mixed_float16 training,
determinism under tf.random.set_seed, memory info, and out-of-memory as
ResourceExhaustedError."""
import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold.backend import gpu as _gpu

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _gpu.usable_gpu_count(),
                       reason=f"no usable GPU: {_gpu.why_no_gpu()}"),
]

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"


def _cupy():
    import cupy
    return cupy


# ---------------------------------------------------------------- placement and discovery
def test_gpu_is_listed_and_the_default_device():
    assert tf.config.list_physical_devices("GPU")
    t = tf.constant([1.0, 2.0])
    assert t.device == GPU and type(t._value) is _cupy().ndarray
    v = tf.Variable(tf.zeros((2, 2)))
    assert v.device == GPU
    with tf.device("/CPU:0"):
        c = tf.constant([1.0])
    assert c.device.endswith("CPU:0") and type(c._value) is np.ndarray
    out = (t * 2.0).numpy()
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, [2.0, 4.0])


# ---------------------------------------------------------------- the op table on CuPy
def _cases():
    try:  # the table needs SciPy for its references; an image without it skips the table
        from tests.core.test_core_op_table import CASES
        from tests.core.test_standin_backend import HOST_LEAKS
    except ImportError as e:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"op table: {e}"))]
    return [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="host kernel"))
            if c.name in HOST_LEAKS else c for c in CASES]


@pytest.mark.parametrize("case", _cases(), ids=str)
def test_op_table_on_cupy(case):
    from tenfold.testing import run_op_case
    with tf.device("/GPU:0"):
        assert run_op_case(case) > 0


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_conv_and_pool_on_cupy_match_the_host(pool, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 14, 14, 3)).astype(dtype)
    w = (0.2 * rng.standard_normal((3, 3, 3, 8))).astype(dtype)

    def run():
        xt, wt = tf.constant(x), tf.constant(w)
        with tf.GradientTape() as tape:
            tape.watch([xt, wt])
            y = tf.nn.relu(tf.nn.conv2d(xt, wt, 1, "SAME"))
            y = (tf.nn.max_pool2d if pool == "max" else tf.nn.avg_pool2d)(y, 2, 2, "VALID")
            loss = tf.reduce_sum(tf.cast(y, "float32") ** 2)
        return [y] + tape.gradient(loss, [xt, wt])

    with tf.device("/CPU:0"):
        want = [t.numpy().astype("float32") for t in run()]
    got = run()
    tol = 1e-4 if dtype == "float32" else 3e-2
    for g, e in zip(got, want):
        assert g.device == GPU
        np.testing.assert_allclose(g.numpy().astype("float32"), e, rtol=tol, atol=tol)


# ---------------------------------------------------------------- Keras on the GPU
def _mnist_like(n, seed=0, image=False):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1) if image else (n, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10)).astype("float32")
    y = np.argmax(x.reshape(n, 784) @ teacher, axis=1)
    return x, keras.utils.to_categorical(y, 10)


def _mlp():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
    m.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def _convnet():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(), keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.mark.parametrize("make,image", [(_mlp, False), (_convnet, True)], ids=["mlp", "convnet"])
def test_keras_fit_on_gpu_matches_the_host(make, image, tmp_path):
    x, y = _mnist_like(1024, image=image)
    with tf.device("/CPU:0"):
        host = make()
        h = host.fit(x, y, batch_size=128, epochs=2, verbose=0).history["loss"]
    model = make()
    d = model.fit(x, y, batch_size=128, epochs=2, verbose=0).history["loss"]
    assert all(w.device == GPU for w in model.weights)
    assert all(v.device == GPU for v in model.optimizer.variables)
    np.testing.assert_allclose(d, h, rtol=2e-3)
    assert d[-1] < d[0]
    pred = model.predict(x[:300], verbose=0)
    assert type(pred) is np.ndarray and pred.shape == (300, 10)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x[:300], verbose=0), pred, rtol=1e-5, atol=1e-6)


def test_mixed_float16_training_on_gpu():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        x, y = _mnist_like(1024)
        model = _mlp()
        hist = model.fit(x, y, batch_size=128, epochs=3, verbose=0).history["loss"]
        assert all(w.dtype == "float32" and w.device == GPU for w in model.weights)
        out = model.layers[0](tf.constant(x[:4]))
        assert out.dtype == tf.float16 and out.device == GPU
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(hist).all() and hist[-1] < hist[0]


def test_determinism_under_set_seed_on_gpu():
    def run():
        tf.random.set_seed(3)
        a = tf.random.normal((1000,)).numpy()
        d = tf.nn.dropout(tf.ones((64, 64)), 0.5, seed=1).numpy()
        x, y = _mnist_like(512, image=True)
        loss = _convnet().fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"]
        return a, d, loss

    first, second = run(), run()
    for p, q in zip(first, second):
        np.testing.assert_array_equal(p, q)


def test_memory_info_and_out_of_memory_error():
    dev = tf.config.list_physical_devices("GPU")[0]
    x = tf.ones((1024, 1024))
    info = tf.config.experimental.get_memory_info("GPU:0")
    assert info["current"] >= x._value.nbytes and info["peak"] >= info["current"]
    tf.config.set_logical_device_configuration(
        dev, [tf.config.LogicalDeviceConfiguration(memory_limit=256)])
    try:
        with pytest.raises(tf.errors.ResourceExhaustedError) as e:
            tf.tile(x, [32, 32])  # 4 GiB > 256 MB
    finally:
        tf.config.set_logical_device_configuration(dev, [tf.config.LogicalDeviceConfiguration()])
    msg = str(e.value)
    assert "tile" in msg and "[1024, 1024]" in msg and "bytes" in msg
    assert "smaller batch" in msg and "cupy" not in type(e.value).__module__
    tf.config.experimental.reset_memory_stats("GPU:0")


def test_fused_adam_matches_the_host_update():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((300, 7)).astype("float32")
    grads = [rng.standard_normal((300, 7)).astype("float32") for _ in range(5)]

    def run():
        v = keras.Variable(w0)
        opt = keras.optimizers.Adam(0.01)
        for g in grads:
            opt.apply_gradients([(tf.constant(g), v)])
        return v.numpy()

    with tf.device("/CPU:0"):
        want = run()
    np.testing.assert_allclose(run(), want, rtol=1e-5, atol=1e-6)
