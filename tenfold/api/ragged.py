"""`tf.ragged`: ragged tensors (rows of different lengths); the type is
tenfold/ops/ragged.py."""
from tenfold.ops.ragged import (  # noqa: F401 - the namespace
    RaggedTensor, boolean_mask, constant, constant_value, is_ragged, map_flat_values,
    range, stack_rows as _stack_rows)


def stack(values, axis=0, name=None):
    """Stacks tensors or ragged tensors of different lengths along a new first axis."""
    if axis != 0:
        raise NotImplementedError("tf.ragged.stack supports axis=0 only.")
    if values and all(not isinstance(v, RaggedTensor) for v in values):
        return _stack_rows(values)
    raise NotImplementedError("tf.ragged.stack of ragged tensors is not supported yet.")
