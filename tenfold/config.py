"""`tf.config`: devices, threading and debugging switches."""
import os
import types
from collections import namedtuple

PhysicalDevice = namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = namedtuple("LogicalDevice", ["name", "device_type"])

_memory_growth = {}
_state = {"run_functions_eagerly": False, "soft_placement": True, "intra": 0, "inter": 0,
          "visible": None}


def _gpu_count():
    if os.environ.get("TENFOLD_DISABLE_GPU"):
        return 0
    try:
        import importlib.util
        if importlib.util.find_spec("cupy") is None:
            return 0
        import cupy
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def list_physical_devices(device_type=None):
    """Devices of a type ('CPU' or 'GPU'); the GPU list is empty without CuPy and a GPU."""
    devices = [PhysicalDevice("/physical_device:CPU:0", "CPU")]
    devices += [PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(_gpu_count())]
    if device_type is None:
        return devices
    return [d for d in devices if d.device_type == device_type.upper()]


def list_logical_devices(device_type=None):
    return [LogicalDevice(d.name.replace("/physical_device:", "/device:"), d.device_type)
            for d in list_physical_devices(device_type)]


def get_visible_devices(device_type=None):
    vis = _state["visible"]
    devs = list_physical_devices(device_type)
    return devs if vis is None else [d for d in devs if d in vis]


def set_visible_devices(devices, device_type=None):
    if isinstance(devices, PhysicalDevice):
        devices = [devices]
    _state["visible"] = list(devices) + [d for d in list_physical_devices("CPU")
                                         if d not in devices]


def _check_device(device):
    if not isinstance(device, PhysicalDevice):
        raise ValueError(f"Expected a PhysicalDevice from list_physical_devices, got {device!r}")


def set_memory_growth(device, enable):
    _check_device(device)
    if device.device_type != "GPU":
        raise ValueError("Cannot set memory growth on a non-GPU device")
    _memory_growth[device.name] = bool(enable)


def get_memory_growth(device):
    _check_device(device)
    return _memory_growth.get(device.name, False)


def run_functions_eagerly(run_eagerly):
    _state["run_functions_eagerly"] = bool(run_eagerly)


def functions_run_eagerly():
    return _state["run_functions_eagerly"]


def set_soft_device_placement(enabled):
    _state["soft_placement"] = bool(enabled)


def get_soft_device_placement():
    return _state["soft_placement"]


def _set_intra(n):
    _state["intra"] = int(n)
    if n:
        try:
            from threadpoolctl import threadpool_limits
            threadpool_limits(int(n))
        except ImportError:
            pass


threading = types.SimpleNamespace(
    set_intra_op_parallelism_threads=_set_intra,
    get_intra_op_parallelism_threads=lambda: _state["intra"],
    set_inter_op_parallelism_threads=lambda n: _state.__setitem__("inter", int(n)),
    get_inter_op_parallelism_threads=lambda: _state["inter"],
)

experimental = types.SimpleNamespace(
    list_physical_devices=list_physical_devices,
    list_logical_devices=list_logical_devices,
    set_memory_growth=set_memory_growth,
    get_memory_growth=get_memory_growth,
    get_visible_devices=get_visible_devices,
    set_visible_devices=set_visible_devices,
    enable_op_determinism=lambda: None,
)


def enable_op_determinism():
    """Kernels here are deterministic already; kept for TensorFlow code that calls it."""
