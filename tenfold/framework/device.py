"""Device names and the `tf.device` scope."""
import contextlib

_stack = []


def current_device_name(array=None):
    mod = type(array).__module__ if array is not None else "numpy"
    if mod.startswith("cupy"):
        return "/job:localhost/replica:0/task:0/device:GPU:0"
    return "/job:localhost/replica:0/task:0/device:CPU:0"


@contextlib.contextmanager
def device(device_name):
    """`with tf.device('/CPU:0'):` — accepted; placement follows the backend of the inputs."""
    if device_name is not None and not isinstance(device_name, str):
        raise TypeError(f"tf.device expects a device name string, got {device_name!r}")
    _stack.append(device_name)
    try:
        yield
    finally:
        _stack.pop()
