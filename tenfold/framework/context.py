"""Execution context: eager or tracing, name scopes, init_scope."""
import contextlib

from tenfold.framework import tensor as _tensor
from tenfold.framework.state import STATE


def executing_eagerly():
    """False while tf.function traces Python into a graph (in this thread), True otherwise."""
    return STATE.concrete_guard is None


class name_scope:  # noqa: N801 - TensorFlow's name
    """`with tf.name_scope('block'):` — names ops and variables created inside (as a prefix).

    Entering gives the full scope name, ending in '/'.
    """

    def __init__(self, name, default_name=None, values=None):
        if name is None:
            name = default_name
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name_scope: name must be a string, got {name!r}")
        self._name = name or ""
        self._pushed = False

    @property
    def name(self):
        return self._name

    def __enter__(self):
        _name_stack = STATE.name_stack
        if self._name.endswith("/"):  # an absolute scope
            full = self._name
            saved = list(_name_stack)
            _name_stack[:] = [full[:-1]]
            self._saved = saved
        else:
            self._saved = None
            _name_stack.append(self._name)
        self._pushed = True
        return current_name_scope()

    def __exit__(self, *exc):
        _name_stack = STATE.name_stack
        if self._saved is not None:
            _name_stack[:] = self._saved
        else:
            _name_stack.pop()
        return False


def current_name_scope():
    parts = [p for p in STATE.name_stack if p]
    return "/".join(parts) + "/" if parts else ""


@contextlib.contextmanager
def init_scope():
    """Runs the block eagerly and unrecorded: gradient tapes and tracing are paused."""
    saved_obs = list(STATE.observers)
    saved_guard = STATE.concrete_guard
    STATE.observers[:] = []
    STATE.concrete_guard = None
    try:
        yield
    finally:
        STATE.observers[:] = saved_obs
        STATE.concrete_guard = saved_guard


@contextlib.contextmanager
def control_dependencies(control_inputs):
    """Ops run in program order eagerly, so this only accepts and ignores its inputs."""
    yield


def get_static_value(tensor, partial=False):
    """The NumPy value of a tensor (None while tracing, when it isn't known)."""
    if isinstance(tensor, _tensor.Tensor):
        if not executing_eagerly():
            return None
        return tensor.numpy()
    return tensor
