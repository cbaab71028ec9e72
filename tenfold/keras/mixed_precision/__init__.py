"""`keras.mixed_precision`: dtype policies and loss scaling."""
from tenfold.keras.mixed_precision.policy import (  # noqa: F401
    Policy, DTypePolicy, global_policy, set_global_policy, set_dtype_policy, dtype_policy)
