"""`tf.dtypes`."""
from tenfold.framework.dtypes import (  # noqa: F401
    DType, as_dtype, float16, half, bfloat16, float32, float64, double, int8, int16, int32,
    int64, uint8, uint16, uint32, uint64, bool, complex64, complex128, string)
from tenfold.ops.math_ops import cast, saturate_cast, complex  # noqa: F401
