"""`tf.strings` (minimal: string tensors hold bytes)."""
from tenfold.ops.string_ops import (  # noqa: F401
    as_string, format, join, length, lower, reduce_join, regex_full_match, regex_replace, split,
    strip, substr, to_number, upper)
