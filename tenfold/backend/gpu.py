"""GPU discovery: whether tenfold can compute on a GPU here, and the CuPy backend if so.

A GPU is listed (`tf.config.list_physical_devices('GPU')`) only when tenfold can compute on
it: CuPy importable, the CUDA runtime reporting a device, and a tiny allocation + kernel +
copy back working on it. Anything else (no CuPy, a CuPy built for another CUDA, no driver,
no device, a broken install) gives an empty list and tenfold stays on the CPU, whatever is
installed. `TENFOLD_DISABLE_GPU=1` hides GPUs (as `CUDA_VISIBLE_DEVICES=` hides them from
TensorFlow).

Nothing is imported until asked: without CuPy installed (`importlib.util.find_spec`), no
import is tried at all, so `import tenfold` stays as fast as before.
"""
import importlib
import importlib.util
import logging
import os

_state = {"count": None, "backend": None, "reason": None}


def _disabled():
    return os.environ.get("TENFOLD_DISABLE_GPU", "").lower() not in ("", "0", "false", "no")


def cupy_installed():
    """Whether a `cupy` module could be imported (without importing it)."""
    try:
        return importlib.util.find_spec("cupy") is not None
    except (ImportError, ValueError):  # a half-installed or odd module
        return False


def _probe():
    """The number of GPUs CuPy can compute on (0 with the reason recorded)."""
    if _disabled():
        _state["reason"] = "TENFOLD_DISABLE_GPU is set"
        return 0
    if not cupy_installed():
        _state["reason"] = "CuPy is not installed (pip install tenfold[gpu])"
        return 0
    try:
        cupy = importlib.import_module("cupy")
        n = int(cupy.cuda.runtime.getDeviceCount())
        if n <= 0:
            _state["reason"] = "the CUDA runtime reports no device"
            return 0
        with cupy.cuda.Device(0):
            a = cupy.arange(4, dtype="float32")
            a += 1
            ok = float(cupy.asnumpy(a).sum()) == 10.0
        if not ok:
            _state["reason"] = "a test computation on GPU:0 gave a wrong result"
            return 0
        return n
    except Exception as e:  # noqa: BLE001 - any failure means: no usable GPU
        _state["reason"] = f"CuPy could not use a GPU: {type(e).__name__}: {e}"
        logging.getLogger("tenfold").info("no usable GPU: %s", _state["reason"])
        return 0


def usable_gpu_count():
    """How many GPUs tenfold can compute on (probed once per process)."""
    if _state["count"] is None:
        _state["count"] = _probe()
    return _state["count"]


def why_no_gpu():
    """Why usable_gpu_count() is 0 (None when a GPU is usable)."""
    usable_gpu_count()
    return _state["reason"] if not _state["count"] else None


def cupy_backend():
    """The registered CuPy backend, or None when no GPU is usable."""
    if _state["backend"] is None:
        n = usable_gpu_count()
        if not n:
            return None
        from tenfold import backend
        from tenfold.backend.cupy_backend import CupyBackend
        _state["backend"] = backend.register(CupyBackend(device_count=n))
    return _state["backend"]


def reset_for_tests():
    """Forgets the probe (tests that fake CuPy); unregisters a CuPy backend made here."""
    b = _state["backend"]
    if b is not None:
        from tenfold import backend
        backend.unregister(b)
    _state.update(count=None, backend=None, reason=None)
