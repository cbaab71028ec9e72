"""`keras.mixed_precision`: dtype policies and loss scaling.

    keras.mixed_precision.set_global_policy("mixed_float16")   # float16 compute, float32 weights
"""
from tenfold.keras.mixed_precision.policy import (  # noqa: F401
    Policy, DTypePolicy, global_policy, set_global_policy, set_dtype_policy, dtype_policy)


def __getattr__(name):
    if name == "LossScaleOptimizer":
        from tenfold.keras.mixed_precision.loss_scale_optimizer import LossScaleOptimizer
        return LossScaleOptimizer
    if name == "experimental":  # tf.keras 2.3's spelling
        import types
        from tenfold.keras.mixed_precision.loss_scale_optimizer import LossScaleOptimizer
        return types.SimpleNamespace(Policy=Policy, set_policy=set_global_policy,
                                     global_policy=global_policy,
                                     LossScaleOptimizer=LossScaleOptimizer)
    raise AttributeError(f"module 'tenfold.keras.mixed_precision' has no attribute {name!r}")
