"""`tf.experimental`: switches TensorFlow code calls, and `tf.experimental.numpy`
(`import tenfold.experimental.numpy as tnp`, the NumPy API on tensors)."""

def enable_op_determinism():
    """Kernels here are deterministic already."""


def register_filesystem_plugin(plugin_location):
    raise NotImplementedError("tenfold has no filesystem plugins")


def __getattr__(name):
    # `tf.experimental.numpy` (tenfold/experimental/numpy.py), imported on first use
    if name == "numpy":
        import importlib
        return importlib.import_module("tenfold.experimental.numpy")
    raise AttributeError(f"module 'tenfold.experimental' has no attribute {name!r}")
