"""GPU discovery and the GPU-facing config without a GPU: `list_physical_devices('GPU')` lists
only GPUs tenfold can compute on (CuPy importable and a device answering), `import tenfold`
never imports CuPy where it is absent, memory functions give TensorFlow's clear errors, and
an out-of-memory on a device is a ResourceExhaustedError (proved on the stand-in backend)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tenfold as tf
from tenfold.backend import gpu
from tenfold.testing.standin_backend import StandinArray, standin_accelerator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(code, extra_path=None, env=None):
    path = [ROOT] + ([extra_path] if extra_path else [])
    e = dict(os.environ, PYTHONPATH=os.pathsep.join(path), **(env or {}))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=e, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def _has_cupy():
    return gpu.cupy_installed()


@pytest.mark.skipif(_has_cupy(), reason="CuPy is installed here")
def test_import_tenfold_does_not_import_cupy_and_lists_no_gpu():
    lines = _run("""
        import sys
        import tenfold as tf
        x = tf.constant([1.0])
        print('cupy' in sys.modules, 'tenfold.backend.cupy_backend' in sys.modules)
        print(tf.config.list_physical_devices('GPU'), x.device)
    """)
    assert lines[0] == "False False"
    assert lines[1] == "[] /job:localhost/replica:0/task:0/device:CPU:0"


_FAKE_CUPY = """
class _Runtime:
    @staticmethod
    def getDeviceCount():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

class cuda:
    runtime = _Runtime()
"""


def test_a_cupy_that_cannot_reach_a_device_lists_no_gpu(tmp_path):
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text(_FAKE_CUPY)
    lines = _run("""
        import tenfold as tf
        from tenfold.backend import gpu
        print(tf.config.list_physical_devices('GPU'))
        print(tf.constant(1.0).device)
        print(tf.test.is_gpu_available(), tf.test.gpu_device_name() == '')
        print(gpu.why_no_gpu())
    """, extra_path=str(tmp_path))
    assert lines[0] == "[]"
    assert lines[1].endswith("device:CPU:0")
    assert lines[2] == "False True"
    assert "cudaErrorNoDevice" in lines[3]


def test_a_cupy_reporting_zero_devices_lists_no_gpu(tmp_path):
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text(
        _FAKE_CUPY.replace('raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is '
                           'detected")', "return 0"))
    lines = _run("""
        import tenfold as tf
        print(tf.config.list_physical_devices('GPU'), tf.constant(1.0).device)
    """, extra_path=str(tmp_path))
    assert lines[0] == "[] /job:localhost/replica:0/task:0/device:CPU:0"


def test_disable_switch_hides_gpus_without_importing_cupy(tmp_path):
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text("raise SystemExit('cupy was imported')")
    lines = _run("""
        import sys, tenfold as tf
        print(tf.config.list_physical_devices('GPU'), 'cupy' in sys.modules)
    """, extra_path=str(tmp_path), env={"TENFOLD_DISABLE_GPU": "1"})
    assert lines[0] == "[] False"


@pytest.mark.skipif(_has_cupy(), reason="CuPy is installed here")
def test_memory_functions_without_a_gpu_give_clear_errors():
    fake = tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")
    with pytest.raises(ValueError, match="Unrecognized device"):
        tf.config.experimental.set_memory_growth(fake, True)
    for fn in (tf.config.experimental.get_memory_info, tf.config.experimental.reset_memory_stats):
        with pytest.raises(ValueError, match="no GPU device 'GPU:0'.*list_physical_devices"):
            fn("GPU:0")
    with pytest.raises(ValueError, match="only supported for GPU"):
        tf.config.experimental.get_memory_info("CPU:0")
    with pytest.raises(ValueError, match="no GPU device"):
        tf.config.set_logical_device_configuration(
            fake, [tf.config.LogicalDeviceConfiguration(memory_limit=1024)])


class _FakeCupyOOM(MemoryError):
    """What CuPy raises (cupy.cuda.memory.OutOfMemoryError is a MemoryError), with its text."""

    def __init__(self, size):
        super().__init__(f"Out of memory allocating {size:,} bytes (allocated so far: "
                         f"1,024 bytes).")


def _oom_on_matmul(monkeypatch):
    orig = StandinArray.__array_ufunc__

    def ufunc(self, uf, method, *inputs, **kwargs):
        if uf is np.matmul:
            raise _FakeCupyOOM(8 * 4096 * 4096)
        return orig(self, uf, method, *inputs, **kwargs)
    monkeypatch.setattr(StandinArray, "__array_ufunc__", ufunc)


def test_out_of_device_memory_is_a_resource_exhausted_error_eagerly(monkeypatch):
    with standin_accelerator():
        a = tf.ones((4096, 8))
        b = tf.ones((8, 4096))
        _oom_on_matmul(monkeypatch)
        with pytest.raises(tf.errors.ResourceExhaustedError) as e:
            tf.matmul(a, b)
    msg = str(e.value)
    assert "matmul" in msg and "[4096, 8]" in msg and "[8, 4096]" in msg
    assert "134,217,728 bytes" in msg and "STANDIN:0" in msg
    assert "smaller batch" in msg and "set_memory_growth" in msg
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_out_of_device_memory_inside_tf_function_names_the_op(monkeypatch):
    @tf.function
    def f(a, b):
        return tf.nn.relu(tf.matmul(a, b))

    with standin_accelerator():
        a, b = tf.ones((64, 8)), tf.ones((8, 64))
        f(a, b)  # traced and run once
        _oom_on_matmul(monkeypatch)
        with pytest.raises(tf.errors.ResourceExhaustedError, match=r"matmul.*in graph.*bytes"):
            f(a, b)


def test_out_of_memory_on_the_host_names_the_op_not_a_device(monkeypatch):
    # NumPy's own MemoryError in a kernel is TensorFlow's ResourceExhaustedError naming the op
    # (issue 14; still a MemoryError), and names no device
    import tenfold.ops.math_ops as m
    prim = next(p for p in vars(m).values() if getattr(p, "name", None) == "matmul" and
                hasattr(p, "kernel"))

    def boom(*a, **k):
        raise MemoryError("host")
    monkeypatch.setattr(prim, "kernel", boom)
    with pytest.raises(MemoryError) as e:
        tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)))
    assert isinstance(e.value, tf.errors.ResourceExhaustedError)
    assert str(e.value).startswith("matmul: OOM") and "host" in str(e.value)
    assert "GPU" not in str(e.value)
