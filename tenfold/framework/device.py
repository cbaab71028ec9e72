"""Devices: the `tf.device` scope, device names, and what happens when an op's inputs live on
different devices.

A tensor's device follows from its array's backend (`tenfold.backend.backend_of`). Creation
ops and conversions inside `with tf.device('/STANDIN:0'):` (or '/GPU:0' once a GPU backend is
registered) put new tensors on that backend; ops run where their inputs are.

Host scalars (0-d arrays: the Python numbers in `x * 2.0`) go to the other inputs' device
freely. Other mixed inputs follow the thread's device policy, as `tf.config.experimental.set_device_policy`
documents: 'silent' (the default, TensorFlow 2's) and 'warn' copy the other inputs to the
op's device (the non-default one), 'explicit' raises an error naming the op and both devices,
'silent_for_int32' copies int32 tensors and raises for the others.

Asking for a device that does not exist: with soft placement on (TensorFlow 2's default,
`tf.config.set_soft_device_placement`) the block runs on the default device; with it off,
`tf.device` raises InvalidArgumentError naming the device and the ones that exist.
"""
import contextlib
import logging
import re

import numpy as np

from tenfold.framework.errors import InvalidArgumentError
from tenfold.framework.state import STATE, DEFAULT_BACKEND

_ndarray = np.ndarray
_POLICIES = (None, "silent", "warn", "explicit", "silent_for_int32")
_soft_placement = [True]


def set_soft_device_placement(enabled):
    _soft_placement[0] = bool(enabled)


def get_soft_device_placement():
    return _soft_placement[0]


def set_device_policy(policy):
    """This thread's policy for inputs on another device (None: the default, 'silent')."""
    if policy not in _POLICIES:
        raise ValueError(f"Not a valid device policy: {policy!r}; expected one of "
                         f"{', '.join(repr(p) for p in _POLICIES)}.")
    STATE.device_policy = policy


def get_device_policy():
    return STATE.device_policy or "silent"


def set_default_backend(backend):
    """Makes `backend` (None: the CPU) the device of new tensors outside tf.device scopes, in
    this thread (unless inside a scope) and in threads started later."""
    if backend is not None and backend.name == "numpy":
        backend = None
    DEFAULT_BACKEND[0] = backend
    if not STATE.device_stack:
        STATE.backend = backend


def default_backend():
    """The backend of new tensors outside tf.device scopes (None: the CPU)."""
    return DEFAULT_BACKEND[0]


def default_device_is_accelerator():
    """Whether new tensors in this thread go to a non-host device (a GPU, the CI stand-in)."""
    return STATE.backend is not None


def activate_default_gpu():
    """Called by `import tenfold`: when a usable GPU exists, GPU:0 becomes the default device
    (as in TensorFlow). Without CuPy installed this only looks for the module (no import)."""
    from tenfold.backend import gpu
    if not gpu.cupy_installed():
        return None
    b = gpu.cupy_backend()
    if b is not None:
        set_default_backend(b)
    return b


def _backend_module():
    from tenfold import backend
    return backend


def device_name_of(array):
    """TensorFlow's full name of the device holding a backend array."""
    if type(array) is _ndarray:
        return "/job:localhost/replica:0/task:0/device:CPU:0"
    return _backend_module().backend_of(array).device_name(0)


def current_device_name(array=None):
    """The device of `array` (the default device when None)."""
    if array is None:
        b = STATE.backend
        return b.device_name(0) if b is not None else device_name_of(np.empty(0))
    return device_name_of(array)


def common_backend(op_name, arrays):
    """The backend an op's input arrays share: None for the default (NumPy) backend.
    Mixed backends follow the device policy: the non-default backend wins (the others are
    copied to it by `placed`), or, under 'explicit', an InvalidArgumentError naming both."""
    found = None
    host = False
    for a in arrays:
        if type(a) is _ndarray:
            if a.ndim:  # host scalars (Python numbers met in `x * 2.0`) follow the others
                host = True
            continue
        b = _backend_module().backend_of(a)
        if b.name == "numpy":
            host = True
        elif found is None:
            found = b
        elif b is not found:
            raise InvalidArgumentError(
                f"{op_name}: inputs are on two non-host devices, {found.device_name(0)} and "
                f"{b.device_name(0)}; copy one of them explicitly (with tf.device(...): "
                f"tf.identity(x)) before combining them.")
    if found is not None and host:
        _mixed(op_name, found, arrays)
    return found


def _mixed(op_name, backend, arrays):
    policy = STATE.device_policy or "silent"
    host = "/job:localhost/replica:0/task:0/device:CPU:0"
    if policy in ("silent", "warn"):
        if policy == "warn":
            logging.getLogger("tenfold").warning(
                "%s: copying inputs from %s to %s", op_name, host, backend.device_name(0))
        return
    if policy == "silent_for_int32" and all(
            a.dtype == np.int32 for a in arrays if type(a) is _ndarray and a.ndim):
        return
    i = next(i for i, a in enumerate(arrays) if type(a) is _ndarray and a.ndim)
    dev = backend.device_name(0)
    raise InvalidArgumentError(
        f"Tensors on conflicting devices: cannot compute {op_name} as input #{i} was expected "
        f"to be on {dev} but is actually on {host} (operation running on {dev}). The device "
        f"policy is {policy!r}, which makes no implicit copies. Copy the tensor explicitly: "
        f"`with tf.device('/{backend.device_type}:0'): x = tf.identity(x)`, or allow copies "
        f"with tf.config.experimental.set_device_policy('silent').")


def placed(op_name, backend, arrays):
    """The arrays with host arrays copied to `backend` (common_backend allowed the copy)."""
    if any(type(a) is _ndarray for a in arrays):
        return [backend.from_host(a) if type(a) is _ndarray else a for a in arrays]
    return arrays


def on_backend(op_name, backend, value):
    """A kernel's result on `backend` (host results, such as shapes, are copied over)."""
    if isinstance(value, (_ndarray, np.generic, int, float, bool)):
        return backend.from_host(np.asarray(value))
    return value


def to_current(array):
    """A new tensor's array on the device of the enclosing tf.device scope (conversions)."""
    b = STATE.backend
    if b is None or type(array) is not _ndarray:
        return array
    return b.from_host(array)


# ---------------------------------------------------------------------------------------
# tf.device

_SPEC = re.compile(r"^(?:/?job:[^/]*)?(?:/replica:\d+)?(?:/task:\d+)?"
                   r"(?:/?(?:device:)?([A-Za-z_]+)(?::(\d+|\*))?)?$")


def parse(device_name):
    """(device type, index) of a device string ('/GPU:0', 'cpu:0', '/device:CPU:0', a full
    '/job:localhost/replica:0/task:0/device:GPU:1'); (None, None) for '' or a job-only name."""
    m = _SPEC.match(device_name.strip())
    if m is None:
        raise ValueError(f"Failed to parse device specification {device_name!r}: expected "
                         f"a name such as '/CPU:0', '/GPU:0' or "
                         f"'/job:localhost/replica:0/task:0/device:CPU:0'.")
    dtype, index = m.group(1), m.group(2)
    if dtype is not None:
        dtype = dtype.upper()
    return dtype, (0 if index in (None, "*") else int(index))


def _resolve(device_name):
    """The backend for a device name, following soft placement for devices that don't exist."""
    dtype, index = parse(device_name)
    if dtype is None:
        return STATE.backend
    backend = _backend_module().for_device_type(dtype)
    if backend is not None and index < backend.device_count:
        return None if backend.name == "numpy" else backend
    if _soft_placement[0]:
        return None  # soft placement: the default device
    known = [b.device_name(i) for b in _backend_module().backends()
             for i in range(b.device_count)]
    raise InvalidArgumentError(
        f"Could not satisfy device specification {device_name!r}: no such device. Known "
        f"devices: {', '.join(known)}. Use one of them, or turn soft placement on with "
        f"tf.config.set_soft_device_placement(True).")


@contextlib.contextmanager
def device(device_name):
    """`with tf.device('/CPU:0'):` — new tensors and creation ops go to that device."""
    if device_name is not None and not isinstance(device_name, str):
        if callable(device_name):
            raise TypeError("tf.device: device functions are not supported in eager mode; "
                            "pass a device name string such as '/CPU:0'.")
        raise TypeError(f"tf.device expects a device name string, got {device_name!r}")
    backend = STATE.backend if device_name is None else _resolve(device_name)
    saved = STATE.backend
    STATE.device_stack.append(device_name)
    STATE.backend = backend
    try:
        yield
    finally:
        STATE.device_stack.pop()
        STATE.backend = saved
