"""Alias of `serialization_lib` (the name some modules import)."""
from tenfold.keras.saving.serialization_lib import *  # noqa: F401,F403
from tenfold.keras.saving.serialization_lib import (  # noqa: F401
    in_safe_mode, SafeModeScope, ObjectSharingScope, UnsafeConfigError, scan_config, func_dump,
    func_load, check_unsafe_allowed, enable_unsafe_deserialization, serialize_keras_object,
    deserialize_keras_object)
