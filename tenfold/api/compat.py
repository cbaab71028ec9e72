"""`tf.compat`: byte/str helpers, and a `v1` namespace whose graph-mode entry points raise
clear errors (tenfold runs TensorFlow 2 code: eager, with tf.function)."""
import logging as _logging
import types as _types

from tenfold.framework.tensor import Tensor as _Tensor


def as_bytes(bytes_or_text, encoding="utf-8"):
    if isinstance(bytes_or_text, bytearray):
        return bytes(bytes_or_text)
    if isinstance(bytes_or_text, str):
        return bytes_or_text.encode(encoding)
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


def as_text(bytes_or_text, encoding="utf-8"):
    if isinstance(bytes_or_text, str):
        return bytes_or_text
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text.decode(encoding)
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


as_str = as_text
as_str_any = lambda value: value.decode() if isinstance(value, bytes) else str(value)  # noqa
path_to_str = lambda path: str(path)  # noqa: E731


def forward_compatible(year, month, day):
    return True


def dimension_value(dimension):
    return getattr(dimension, "value", dimension)


def _graph_only(name, hint):
    def fail(*args, **kwargs):
        raise RuntimeError(f"tf.compat.v1.{name} is TensorFlow 1 graph-mode API, which tenfold "
                           f"does not provide. {hint}")
    fail.__name__ = name
    return fail


_EAGER_HINT = "Run ops eagerly and wrap speed-critical code in @tf.function."


class _ConfigProto:
    """Accepted and ignored (GPU options live in tf.config)."""

    def __init__(self, **kwargs):
        self.gpu_options = _types.SimpleNamespace(allow_growth=False,
                                                  per_process_gpu_memory_fraction=1.0)
        self.allow_soft_placement = kwargs.get("allow_soft_placement", True)
        self.log_device_placement = kwargs.get("log_device_placement", False)
        self.__dict__.update(kwargs)


def _set_random_seed(seed):
    from tenfold.ops.random_ops import set_seed
    set_seed(seed)


_v1_logging = _types.SimpleNamespace(
    DEBUG=_logging.DEBUG, INFO=_logging.INFO, WARN=_logging.WARNING, WARNING=_logging.WARNING,
    ERROR=_logging.ERROR, FATAL=_logging.FATAL,
    set_verbosity=lambda level: _logging.getLogger("tensorflow").setLevel(level),
    get_verbosity=lambda: _logging.getLogger("tensorflow").level,
    info=lambda msg, *a: _logging.getLogger("tensorflow").info(msg, *a),
    warning=lambda msg, *a: _logging.getLogger("tensorflow").warning(msg, *a),
    warn=lambda msg, *a: _logging.getLogger("tensorflow").warning(msg, *a),
    error=lambda msg, *a: _logging.getLogger("tensorflow").error(msg, *a),
    debug=lambda msg, *a: _logging.getLogger("tensorflow").debug(msg, *a),
)

v1 = _types.SimpleNamespace(
    placeholder=_graph_only("placeholder", "Pass tensors to your functions directly, or use "
                            "tf.keras.Input for models."),
    Session=_graph_only("Session", _EAGER_HINT),
    InteractiveSession=_graph_only("InteractiveSession", _EAGER_HINT),
    disable_eager_execution=_graph_only("disable_eager_execution", _EAGER_HINT),
    disable_v2_behavior=_graph_only("disable_v2_behavior", _EAGER_HINT),
    get_variable=_graph_only("get_variable", "Create tf.Variable objects directly."),
    global_variables_initializer=_graph_only("global_variables_initializer",
                                             "Variables are initialized when created."),
    variable_scope=_graph_only("variable_scope", "Use tf.name_scope or Keras layers."),
    enable_eager_execution=lambda *a, **k: None,
    executing_eagerly=lambda: True,
    enable_v2_behavior=lambda: None,
    ConfigProto=_ConfigProto,
    GPUOptions=lambda **kwargs: _types.SimpleNamespace(**kwargs),
    set_random_seed=_set_random_seed,
    logging=_v1_logging,
    Tensor=_Tensor,
)



def __getattr__(name):
    if name == "v2":
        import tenfold
        return tenfold
    raise AttributeError(f"module 'tenfold.compat' has no attribute {name!r}")
