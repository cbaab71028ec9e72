"""`keras.config`: global settings (floatx, epsilon, image format, dtype policy, logging,
unsafe deserialization)."""
from tenfold.keras.backend import (  # noqa: F401
    floatx, set_floatx, epsilon, set_epsilon, image_data_format, set_image_data_format, backend)
from tenfold.keras.mixed_precision.policy import dtype_policy, set_dtype_policy  # noqa: F401

_state = {"interactive_logging": True, "traceback_filtering": True}


def enable_unsafe_deserialization():
    """Allows loading Lambda bytecode and other code from files everywhere (never the default)."""
    from tenfold.keras.saving import serialization_lib
    serialization_lib.enable_unsafe_deserialization()


def is_unsafe_deserialization_enabled():
    from tenfold.keras.saving import serialization_lib
    return bool(serialization_lib._global_unsafe[0])


def enable_interactive_logging():
    _state["interactive_logging"] = True


def disable_interactive_logging():
    _state["interactive_logging"] = False


def is_interactive_logging_enabled():
    return _state["interactive_logging"]


def enable_traceback_filtering():
    _state["traceback_filtering"] = True


def disable_traceback_filtering():
    _state["traceback_filtering"] = False


def is_traceback_filtering_enabled():
    return _state["traceback_filtering"]


def max_epochs():
    return None


def set_max_epochs(max_epochs):
    pass
