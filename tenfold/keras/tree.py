"""`keras.tree`: nested-structure utilities (lists, tuples, dicts), as Keras 3 names them."""
from tenfold.util.nest import (  # noqa: F401
    flatten, map_structure, pack_sequence_as, assert_same_structure, is_nested)


def traverse(func, structure, top_down=True):
    """Applies func to every node; a non-None result replaces the subtree (top-down)."""
    if top_down:
        r = func(structure)
        if r is not None:
            return r
    if is_nested(structure):
        if isinstance(structure, dict):
            out = {k: traverse(func, v, top_down) for k, v in structure.items()}
        else:
            out = type(structure)(traverse(func, v, top_down) for v in structure) \
                if not hasattr(structure, "_fields") else \
                type(structure)(*[traverse(func, v, top_down) for v in structure])
    else:
        out = structure
    if not top_down:
        r = func(out)
        return out if r is None else r
    return out


def lists_to_tuples(structure):
    if isinstance(structure, (list, tuple)) and not hasattr(structure, "_fields"):
        return tuple(lists_to_tuples(x) for x in structure)
    if isinstance(structure, dict):
        return {k: lists_to_tuples(v) for k, v in structure.items()}
    return structure
