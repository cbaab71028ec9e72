"""tenfold/backend/cupy_backend.py and the "GPU present" paths, run without a GPU: a fake
`cupy` module whose arrays are the CI stand-in's (they refuse host conversion as CuPy's do),
whose memory pool records calls, and whose ElementwiseKernel interprets the kernel bodies on
NumPy. It checks the CuPy backend's own code: discovery succeeding and making GPU:0 the
default, the kernel table, cupyx.scatter_add plumbing, the fused Adam / SGD kernels' argument
order and formulas (Keras fit equal to the host), and the memory-config mapping onto the pool.
What it cannot check is CuPy itself (real kernels, cuBLAS, the real pool): tests/gpu does."""
import importlib.machinery
import re
import sys
import types

import numpy as np
import pytest

import tenfold as tf
from tenfold import keras
from tenfold import backend as _backend
from tenfold.backend import gpu as _gpu
from tenfold.framework import device as _device
from tenfold.testing.standin_backend import STANDIN, StandinArray, _StandinNamespace

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"


class _Pool:
    def __init__(self):
        self.calls = []

    def used_bytes(self):
        return 4096

    def total_bytes(self):
        return 8192

    def set_limit(self, size):
        self.calls.append(("set_limit", size))

    def free_all_blocks(self):
        self.calls.append(("free_all_blocks",))


class _ElementwiseKernel:
    """Runs a kernel body of `x op= expr;` / `T y = expr;` / `a ? b : c` statements on NumPy."""

    def __init__(self, in_params, out_params, body, name):
        self.ins = [p.split()[-1] for p in in_params.split(",")]
        self.outs = [p.split()[-1] for p in out_params.split(",")]
        self.body = body
        self.name = name

    def __call__(self, *args):
        assert len(args) == len(self.ins) + len(self.outs), self.name
        unwrap = lambda a: a._a if type(a) is StandinArray else a  # noqa: E731
        env = {"sqrt": np.sqrt}
        env.update({n: unwrap(a) for n, a in zip(self.ins, args)})
        outs = [unwrap(a) for a in args[len(self.ins):]]
        env.update({n: a.copy() for n, a in zip(self.outs, outs)})
        for stmt in self.body.split(";"):
            stmt = re.sub(r"^\s*T\s+", "", stmt.strip())
            if not stmt:
                continue
            stmt = re.sub(r"(\w+) \? \((.*)\) : (\w+)", r"np.where(\1, \2, \3)", stmt)
            exec(stmt, {"np": np}, env)
        for n, a in zip(self.outs, outs):
            a[...] = env[n]


def _fake_modules(pool):
    ns = _StandinNamespace()
    cupy = types.ModuleType("cupy")
    cupy.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    cupy.__getattr__ = lambda name: getattr(ns, name)
    cupy.__version__ = "fake"
    cupy.ndarray = StandinArray

    def asarray(a, dtype=None):
        if type(a) is np.ndarray:  # CuPy copies host arrays to the device
            return StandinArray(np.array(a, dtype=dtype, copy=True))
        return ns.asarray(a, dtype)
    cupy.asarray = asarray
    cupy.asnumpy = lambda a: np.array(a._a, copy=True) if type(a) is StandinArray else \
        np.asarray(a)

    class Device:
        def __init__(self, i=0):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def synchronize(self):
            pass

    class OutOfMemoryError(MemoryError):
        pass
    cupy.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1,
                                      getDeviceProperties=lambda i: {"name": b"Fake GPU",
                                                                     "major": 9, "minor": 0}),
        Device=Device, memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError))
    cupy.get_default_memory_pool = lambda: pool
    cupy.ElementwiseKernel = _ElementwiseKernel
    cupyx = types.ModuleType("cupyx")
    cupyx.__spec__ = importlib.machinery.ModuleSpec("cupyx", None)
    cupyx.scatter_add = lambda a, idx, v: np.add.at(a, idx, v)
    return cupy, cupyx


@pytest.fixture
def fake_gpu(monkeypatch):
    pool = _Pool()
    cupy, cupyx = _fake_modules(pool)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    sys.modules.pop("tenfold.backend.cupy_backend", None)
    _backend.unregister(STANDIN)  # its array type is the fake CuPy's
    _gpu.reset_for_tests()
    b = _device.activate_default_gpu()
    assert b is not None and b.name == "cupy"
    b.pool = pool
    try:
        yield b
    finally:
        _device.set_default_backend(None)
        _gpu.reset_for_tests()
        sys.modules.pop("tenfold.backend.cupy_backend", None)


def test_discovery_lists_the_gpu_and_makes_it_the_default(fake_gpu):
    assert tf.config.list_physical_devices("GPU") == [
        tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")]
    assert _gpu.why_no_gpu() is None and tf.test.is_gpu_available()
    t = tf.constant([1.0, 2.0])
    assert t.device == GPU and type(t._value) is StandinArray
    with tf.device("/CPU:0"):
        assert type(tf.zeros(2)._value) is np.ndarray
    assert tf.config.experimental.get_device_details(
        tf.config.list_physical_devices("GPU")[0])["device_name"] == "Fake GPU"
    np.testing.assert_array_equal((t * 2.0).numpy(), [2.0, 4.0])


def test_hiding_the_gpu_puts_new_tensors_on_the_cpu(fake_gpu):
    gpus = tf.config.list_physical_devices("GPU")
    tf.config.set_visible_devices([], "GPU")
    try:
        assert tf.constant(1.0).device.endswith("CPU:0")
    finally:
        tf.config.set_visible_devices(gpus + tf.config.list_physical_devices("CPU"))
    assert tf.constant(1.0).device == GPU


def test_memory_config_maps_onto_the_pool(fake_gpu):
    gpu0 = tf.config.list_physical_devices("GPU")[0]
    tf.config.experimental.set_memory_growth(gpu0, True)
    assert tf.config.experimental.get_memory_growth(gpu0)
    assert tf.config.experimental.get_memory_info("GPU:0") == {"current": 4096, "peak": 8192}
    tf.config.experimental.reset_memory_stats("GPU:0")
    tf.config.set_logical_device_configuration(
        gpu0, [tf.config.LogicalDeviceConfiguration(memory_limit=256)])
    assert fake_gpu.pool.calls == [("free_all_blocks",), ("set_limit", 256 << 20)]
    with pytest.raises(ValueError, match="one logical device per GPU"):
        tf.config.set_logical_device_configuration(
            gpu0, [tf.config.LogicalDeviceConfiguration(100)] * 2)


def test_bfloat16_cannot_go_to_the_gpu_with_a_clear_error(fake_gpu):
    with pytest.raises(TypeError, match="bfloat16.*CuPy has no bfloat16"):
        fake_gpu.from_host(np.zeros(2, tf.bfloat16.as_numpy_dtype))


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 8, 1)).astype("float32")
    return x, rng.integers(0, 3, 64)


def _model(opt):
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                          keras.layers.Dense(3)])
    m.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


@pytest.mark.parametrize("make_opt", [
    lambda: keras.optimizers.Adam(0.01),
    lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
], ids=["adam", "sgd_momentum", "sgd_nesterov"])
def test_fit_with_the_fused_updates_matches_the_host(fake_gpu, make_opt, monkeypatch):
    x, y = _data()
    with tf.device("/CPU:0"):
        host = _model(make_opt())
        h = host.fit(x, y, batch_size=16, epochs=2, verbose=0).history["loss"]
        hw = [w.numpy() for w in host.weights]
    calls = []
    kernels = fake_gpu.kernels
    for name in ("adam_update", "sgd_momentum_update"):
        fn = getattr(type(kernels), name)
        monkeypatch.setattr(type(kernels), name, staticmethod(
            lambda *a, _fn=fn, _n=name: (calls.append(_n), _fn(*a))[1]))
    dev = _model(make_opt())
    d = dev.fit(x, y, batch_size=16, epochs=2, verbose=0).history["loss"]
    assert calls, "the fused kernel did not run"
    assert all(w.device == GPU for w in dev.weights)
    np.testing.assert_allclose(d, h, rtol=1e-5)
    for a, b in zip(dev.weights, hw):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-4, atol=1e-6)


def test_scatter_add_goes_through_cupyx(fake_gpu):
    params = tf.Variable(np.arange(12, dtype="float32").reshape(4, 3))
    with tf.GradientTape() as tape:
        rows = tf.gather(params, [0, 2, 0])
        loss = tf.reduce_sum(rows * rows)
    g = tape.gradient(loss, params)
    g = tf.convert_to_tensor(g)
    assert g.device == GPU
    want = np.zeros((4, 3), "float32")
    p = np.arange(12, dtype="float32").reshape(4, 3)
    for r in (0, 2, 0):
        want[r] += 2 * p[r]
    np.testing.assert_allclose(g.numpy(), want)
