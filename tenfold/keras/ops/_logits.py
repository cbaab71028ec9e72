"""The logits behind a softmax / sigmoid output, as Keras 3 keeps them.

Keras's `softmax` and `sigmoid` remember their input on the output (`_keras_logits`), and the
crossentropies (`binary_crossentropy`, `categorical_crossentropy`,
`sparse_categorical_crossentropy`) then compute from those logits instead of from the clipped
probabilities. That changes the numbers wherever a prediction saturates (a loss of 30 instead of
-log(1e-7) = 16.1, a gradient instead of none), so tenfold does the same. Tensors have no
attribute dict, so the link lives in a table keyed by the output's identity and dropped when
the output is garbage collected.
"""
import weakref

_table = {}


def tag(output, logits):
    """Records that `output` = softmax or sigmoid of `logits`; returns `output`."""
    key = id(output)

    def _gone(_ref, key=key):
        _table.pop(key, None)

    try:
        _table[key] = (weakref.ref(output, _gone), logits)
    except TypeError:  # not weak-referenceable: nothing to remember
        pass
    return output


def logits_of(output):
    """The logits `output` was computed from by a tagged softmax / sigmoid, or None."""
    entry = _table.get(id(output))
    if entry is not None and entry[0]() is output:
        return entry[1]
    return None


def resolve(output, from_logits, fn_name, op_name):
    """(tensor, from_logits) to compute a crossentropy with, as Keras's `_get_logits`."""
    logits = logits_of(output)
    if logits is None:
        return output, from_logits
    if from_logits:
        import warnings
        warnings.warn(f'"`{fn_name}` received `from_logits=True`, but the `output` argument '
                      f"was produced by a {op_name} activation and thus does not represent "
                      "logits. Was this intended?", stacklevel=3)
    return logits, True
