"""Per-thread execution state: who records ops, what guards Python conversions, which device.

As JAX keeps its trace stack per thread, tenfold keeps everything a `with` block installs in
one `threading.local`: a GradientTape or a tf.function trace started in one thread never sees
ops that another thread runs (tf.data map workers, executor threads, user threads), and a
new thread starts with nothing recording. Blocks that swap state (`init_scope`, the tracer,
`custom_gradient`) save and restore the fields of `STATE`; nothing else is global.

The eager hot path reads one field (`STATE.observers`, empty when nothing records).
"""
import contextlib
import threading


# The device new tensors go to when no tf.device scope says otherwise: None (the CPU, NumPy)
# or a backend (GPU:0 when one is usable, as TensorFlow places ops on GPU:0 by default).
# Process-wide, as TensorFlow's; each thread's STATE.backend starts from it.
DEFAULT_BACKEND = [None]


class _ThreadState(threading.local):
    """Fields start empty in every thread (threading.local runs __init__ once per thread)."""

    def __init__(self):
        self.observers = []        # objects with record(prim, inputs, out, params): tapes, tracers
        self.concrete_guard = None  # set while tracing: Python conversions of tensors are errors
        self.variable_hook = None   # set while tracing: variable reads/assigns become graph ops
        self.tracers = []           # tf.function tracers recording in this thread, outermost first
        self.name_stack = []        # tf.name_scope parts
        self.device_stack = []      # tf.device specs as entered
        self.backend = DEFAULT_BACKEND[0]  # the backend new tensors go to (None: NumPy)
        self.device_policy = None   # tf.config.experimental.set_device_policy (None: default)


STATE = _ThreadState()


@contextlib.contextmanager
def observing(observers):
    """Replaces this thread's recording observers for the block (`[]`: nothing records)."""
    saved = list(STATE.observers)
    STATE.observers[:] = observers
    try:
        yield
    finally:
        STATE.observers[:] = saved
