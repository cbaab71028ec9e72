"""`keras.dtype_policies`: the dtype policy classes under Keras 3's names."""
from tenfold.keras.mixed_precision.policy import (  # noqa: F401
    Policy as DTypePolicy, Policy as FloatDTypePolicy, get)


def serialize(policy):
    return {"module": "keras", "class_name": "DTypePolicy",
            "config": {"name": policy.name}, "registered_name": None}


def deserialize(config, custom_objects=None):
    return get(config)
