"""Gradients TensorFlow returns as `tf.IndexedSlices` instead of dense tensors.

A gather along axis 0 (`tf.gather`, `Embedding`) hands its params an `IndexedSlices` (one row
per looked-up index). As in TensorFlow, a source of `tape.gradient` gets it as is (summed with
others by concatenation), while any rule that consumes it, or a dense gradient added to it,
makes it dense first.
"""
from tenfold.framework.indexed_slices import IndexedSlices
from tenfold.ops import array_ops

# primitive name -> rule(g, out, *inputs, **params) giving the first input's gradient as
# IndexedSlices (or None where the dense rule applies)
SPARSE_RULES = {"gather": array_ops._gather_sparse_grad}


def sparse_rule(prim):
    return SPARSE_RULES.get(prim.name)


# ops whose gradient TensorFlow passes through as IndexedSlices (a variable read in a mixed
# precision layer is a cast; Keras reads through identities)
_PASS_THROUGH = ("cast", "identity")


def pass_through(entry, g, needed):
    """The IndexedSlices gradient of a cast / identity's input (values cast back to the
    input's dtype), or None where the op is not one of those."""
    if entry.prim.name not in _PASS_THROUGH or len(entry.inputs) != 1:
        return None
    x = entry.inputs[0]
    if id(x) not in needed:
        return None
    values = g.values
    if values.dtype != x.dtype:
        from tenfold.ops import math_ops
        values = math_ops.cast(values, x.dtype)
    return IndexedSlices(values, g.indices, g.dense_shape)


def densify(g):
    return g.to_dense() if isinstance(g, IndexedSlices) else g


def accumulate(prev, g, math_ops):
    """prev + g for gradients that may be IndexedSlices: two sparse ones concatenate (the newer
    rows first, as TensorFlow's aggregation orders them), anything else is dense."""
    if prev is None:
        return g
    if isinstance(prev, IndexedSlices) and isinstance(g, IndexedSlices):
        return IndexedSlices(array_ops.concat([g.values, prev.values], 0),
                             array_ops.concat([g.indices, _same_dtype(prev.indices, g.indices)],
                                              0),
                             prev.dense_shape)
    return math_ops.add(densify(prev), densify(g))


def _same_dtype(indices, like):
    if indices.dtype != like.dtype:
        from tenfold.ops import math_ops
        return math_ops.cast(indices, like.dtype)
    return indices


def cast_values(g, dtype):
    from tenfold.ops import math_ops
    return IndexedSlices(math_ops.cast(g.values, dtype), g.indices, g.dense_shape)
