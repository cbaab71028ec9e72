"""`tf.config`: devices, threading and debugging switches."""
import types
from collections import namedtuple

PhysicalDevice = namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = namedtuple("LogicalDevice", ["name", "device_type"])

_memory_growth = {}
_state = {"run_functions_eagerly": False, "soft_placement": True, "intra": 0, "inter": 0,
          "visible": None}


def _gpu_count():
    """GPUs tenfold can compute on (tenfold/backend/gpu.py: CuPy importable and a device
    answering); 0 otherwise, whatever is installed."""
    from tenfold.backend import gpu
    return gpu.usable_gpu_count()


def _gpu_backend(device, what):
    """The CuPy backend for a listed GPU PhysicalDevice (or 'GPU:0' string), else ValueError."""
    name = device if isinstance(device, str) else device.name
    from tenfold.backend import gpu
    b = gpu.cupy_backend()
    try:
        dtype, index = _parse_device(name)
    except ValueError:
        dtype, index = None, None
    if dtype != "GPU":
        raise ValueError(f"{what} is only supported for GPU devices, got {name!r}.")
    if b is None or index >= b.device_count:
        why = gpu.why_no_gpu() or "no such index"
        raise ValueError(f"{what}: no GPU device {name!r} here ({why}). "
                         f"tf.config.list_physical_devices('GPU') lists the GPUs tenfold "
                         f"can use.")
    return b


def _parse_device(name):
    from tenfold.framework import device
    return device.parse(name.replace("/physical_device:", "/device:"))


def list_physical_devices(device_type=None):
    """Devices of a type ('CPU' or 'GPU'); the GPU list is empty without CuPy and a GPU."""
    devices = [PhysicalDevice("/physical_device:CPU:0", "CPU")]
    devices += [PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(_gpu_count())]
    from tenfold import backend as _backend  # other registered backends (the CI stand-in)
    for b in _backend.backends():
        if b.device_type not in ("CPU", "GPU") and b.listed:
            devices += [PhysicalDevice(f"/physical_device:{b.device_type}:{i}", b.device_type)
                        for i in range(b.device_count)]
    if device_type is None:
        return devices
    return [d for d in devices if d.device_type == device_type.upper()]


def list_logical_devices(device_type=None):
    out = []
    for d in list_physical_devices(device_type):
        name = d.name.replace("/physical_device:", "/device:")
        configs = _logical_config.get(d.name) if d.device_type == "CPU" else None
        if configs and len(configs) > 1:  # virtual CPUs (tf.distribute replicas), as TF
            base = name.rsplit(":", 1)[0]
            out.extend(LogicalDevice(f"{base}:{i}", "CPU") for i in range(len(configs)))
        else:
            out.append(LogicalDevice(name, d.device_type))
    return out


def get_visible_devices(device_type=None):
    vis = _state["visible"]
    devs = list_physical_devices(device_type)
    return devs if vis is None else [d for d in devs if d in vis]


def set_visible_devices(devices, device_type=None):
    if isinstance(devices, PhysicalDevice):
        devices = [devices]
    _state["visible"] = list(devices) + [d for d in list_physical_devices("CPU")
                                         if d not in devices]
    # hiding every GPU (as `tf.config.set_visible_devices([], 'GPU')`) puts new tensors on
    # the CPU; showing one again brings the default back to GPU:0
    from tenfold.framework import device
    from tenfold.backend import gpu
    b = gpu.cupy_backend() if _gpu_count() else None
    if b is not None:
        shown = any(d.device_type == "GPU" for d in _state["visible"])
        device.set_default_backend(b if shown else None)


def _check_device(device):
    if not isinstance(device, PhysicalDevice):
        raise ValueError(f"Expected a PhysicalDevice from list_physical_devices, got {device!r}")


def set_memory_growth(device, enable):
    """As TensorFlow's: with growth on, GPU memory is taken as needed. CuPy's memory pool
    always grows on demand (it never preallocates the card), so both settings behave as
    growth on; the setting is kept for get_memory_growth."""
    _check_device(device)
    if device.device_type != "GPU":
        raise ValueError("Cannot set memory growth on a non-GPU device")
    if device not in list_physical_devices("GPU"):
        raise ValueError(f"Unrecognized device: {device!r} is not among "
                         f"tf.config.list_physical_devices('GPU') on this machine.")
    _memory_growth[device.name] = bool(enable)


def get_memory_growth(device):
    _check_device(device)
    return _memory_growth.get(device.name, False)


def run_functions_eagerly(run_eagerly):
    from tenfold.graph.function import _config_state
    _state["run_functions_eagerly"] = bool(run_eagerly)
    _config_state["run_functions_eagerly"] = bool(run_eagerly)


def functions_run_eagerly():
    from tenfold.graph.function import _config_state
    return _config_state["run_functions_eagerly"]


def set_soft_device_placement(enabled):
    """Soft placement (on by default, as in TensorFlow 2): a `tf.device` naming a device that
    does not exist runs on the default device instead of raising."""
    from tenfold.framework import device
    _state["soft_placement"] = bool(enabled)
    device.set_soft_device_placement(enabled)


def get_soft_device_placement():
    from tenfold.framework import device
    return device.get_soft_device_placement()


def set_device_policy(device_policy):
    """This thread's policy for op inputs on another device: None (the default, 'silent'),
    'silent', 'warn', 'explicit' (an error) or 'silent_for_int32'."""
    from tenfold.framework import device
    device.set_device_policy(device_policy)


def get_device_policy():
    from tenfold.framework import device
    return device.get_device_policy()


def _set_intra(n):
    """Threads for one op (BLAS matrix products); 0 = all cores (tenfold/graph/threads.py)."""
    _state["intra"] = int(n)
    from tenfold.graph.threads import set_blas_threads
    set_blas_threads(int(n))


def set_logical_device_configuration(device, logical_devices):
    """Virtual devices / memory limits. On a GPU, one LogicalDeviceConfiguration with a
    `memory_limit` (MB, as TensorFlow) caps CuPy's memory pool: allocations beyond it raise
    ResourceExhaustedError. tenfold does not split a GPU into several logical devices."""
    _check_device(device)
    configs = list(logical_devices or [])
    if device.device_type == "GPU":
        b = _gpu_backend(device, "set_logical_device_configuration")
        if len(configs) > 1:
            raise ValueError(f"set_logical_device_configuration: tenfold runs one logical "
                             f"device per GPU; got {len(configs)} configurations for "
                             f"{device.name}. Pass one LogicalDeviceConfiguration("
                             f"memory_limit=...) to cap its memory.")
        limit = getattr(configs[0], "memory_limit", None) if configs else None
        b.set_memory_limit(0 if limit is None else int(limit) * (1 << 20))
    _logical_config[device.name] = configs


def get_logical_device_configuration(device):
    _check_device(device)
    return _logical_config.get(device.name)


class LogicalDeviceConfiguration:
    """`tf.config.LogicalDeviceConfiguration(memory_limit=None, experimental_priority=None)`."""

    def __init__(self, memory_limit=None, experimental_priority=None,
                 experimental_device_ordinal=None):
        self.memory_limit = memory_limit
        self.experimental_priority = experimental_priority
        self.experimental_device_ordinal = experimental_device_ordinal


def get_device_details(device):
    _check_device(device)
    if device.device_type == "GPU":
        try:
            import cupy
            idx = int(device.name.rsplit(":", 1)[1])
            props = cupy.cuda.runtime.getDeviceProperties(idx)
            name = props["name"]
            return {"device_name": name.decode() if isinstance(name, bytes) else name,
                    "compute_capability": (props["major"], props["minor"])}
        except Exception:
            return {}
    return {}


def get_memory_info(device):
    """{'current': bytes in use, 'peak': bytes} for a GPU ('GPU:0'), from CuPy's memory pool:
    'peak' is the pool's reserve since the last reset_memory_stats, an upper bound on the
    bytes in use at any moment (the pool reuses freed blocks before reserving more)."""
    b = _gpu_backend(device, "get_memory_info")
    return b.memory_info()


def reset_memory_stats(device):
    """Restarts the peak of get_memory_info (frees the pool's cached, unused blocks)."""
    _gpu_backend(device, "reset_memory_stats").reset_memory_stats()


_logical_config = {}
_tf32 = [True]
_jit = [False]
_optimizer_options = {}


def enable_tensor_float_32_execution(enabled):
    _tf32[0] = bool(enabled)


def tensor_float_32_execution_enabled():
    return _tf32[0]


optimizer = types.SimpleNamespace(
    set_jit=lambda enabled: _jit.__setitem__(0, enabled),
    get_jit=lambda: _jit[0],
    set_experimental_options=lambda options: _optimizer_options.update(options),
    get_experimental_options=lambda: dict(_optimizer_options),
)

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
    set_device_policy=set_device_policy,
    get_device_policy=get_device_policy,
    enable_op_determinism=lambda: None,
    set_virtual_device_configuration=set_logical_device_configuration,
    get_virtual_device_configuration=get_logical_device_configuration,
    VirtualDeviceConfiguration=LogicalDeviceConfiguration,
    get_device_details=get_device_details,
    get_memory_info=get_memory_info,
    reset_memory_stats=reset_memory_stats,
    get_memory_usage=lambda device: get_memory_info(device)["current"],
    enable_tensor_float_32_execution=enable_tensor_float_32_execution,
    tensor_float_32_execution_enabled=tensor_float_32_execution_enabled,
    set_synchronous_execution=lambda enable: None,
    enable_mlir_bridge=lambda: None,
    disable_mlir_bridge=lambda: None,
)


def experimental_run_functions_eagerly(run_eagerly):
    """Deprecated name of run_functions_eagerly."""
    run_functions_eagerly(run_eagerly)


def experimental_functions_run_eagerly():
    return functions_run_eagerly()


def enable_op_determinism():
    """Kernels here are deterministic already; kept for TensorFlow code that calls it."""
